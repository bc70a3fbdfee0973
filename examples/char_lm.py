# %% [markdown]
# # A character language model trained on the docstrings of Python's standard library
#
# Runs top to bottom, as `python examples/char_lm.py` does. The outputs saved in this
# notebook come from its quick mode (`--quick`, or `LSTMLAB_QUICK=1` in the environment
# Jupyter starts from); the docstring below quotes a full run. To change an option here,
# change its default in the first code cell.

# %%
"""A character language model trained on the docstrings of Python's standard library.

``ll.LanguageModel``: Embedding -> LSTM (or ``--cell gru`` / ``rnn``) ->
Linear, predicting each next character. The text needs no download: it is
the docstrings of a fixed list of standard-library modules
(``ll.corpus.stdlib_docstrings``), so every machine with the same Python
version builds the same text. ``--data FILE`` trains on any UTF-8 text file
of your own instead.

What it shows:

- ``ll.data.Vocab`` (characters <-> ids) and ``ll.data.bptt_batches``:
  truncated backpropagation through time. The text is cut into N parallel
  streams; each step reads the next T characters of every stream, starting
  from the state the previous chunk ended in (carried across chunks), and
  backpropagates only through those T steps;
- Adam with a cosine learning-rate decay and global gradient-norm clipping;
- the bits per character (``ll.bits_per_char``) on held-out text (10% of the
  paragraphs, never trained on) next to a unigram model's (letter
  frequencies counted on the training split): what the LSTM gains by reading
  context;
- ``ll.sample`` with a temperature (low: safe and repetitive; high: creative
  and misspelt), and a heatmap of the LSTM's input, forget and output gates
  over a held-out passage;
- ``ll.save`` of the weights with the vocabulary and the sizes (plain data);
  ``--generate`` reloads them and samples without training.

Run::

    python examples/char_lm.py                        # full run (see below)
    python examples/char_lm.py --data my_text.txt     # your own UTF-8 text
    python examples/char_lm.py --generate --temperature 0.5 --length 400
    python examples/char_lm.py --quick                # seconds, a smoke test

or open ``examples/char_lm.ipynb`` (its outputs come from ``--quick``).

A full run on this 2-core machine (seed 0, defaults: LSTM with H = 128,
E = 32, float32, 4000 steps of 32 streams x 64 characters, Adam lr 1e-2
cosine-decayed, clipping at 1.0; 3.0 minutes of training while other jobs
shared the machine) printed::

    text: 883,122 characters from the docstrings of 108 standard-library modules,
    99 distinct (with <unk>); train 801,023, held out 82,097
    unigram baseline (letter frequencies): 4.752 bits/char on the held-out text
    ...
    trained 4000 steps x 64 x 32 characters (392 steps per epoch) in 3.0 min:
    46,237 characters/second (forward + backward + update)
    held-out: 2.013 bits/char (LSTM)  vs  4.752 bits/char (unigram)
    --- sample, temperature 0.7 ---
    Return the stack to set
    all over the function is given will be
    the list.
    If it is not be a changed by defaults to the first contrangest use If the bluit
    ...

The held-out curve was still falling at the end (2.266 at step 1000, 2.143 at
2000, 2.042 at 3000): more steps buy more. Then ``--generate --temperature
0.5 --prime "Return a new " --length 200`` (``ll.sample`` on the reloaded
model) wrote::

    Return a new set the specified as the space to the parameter that the context
    of the specified simply using reground.

    Return the archive the string size of the same as defaults to set
    the current directory with t

(Python 3.11.7; another version's docstrings give another text. BLAS
rounding makes the last digits vary between machines.)
"""

# Imports and options
import os

# One BLAS thread: on a busy machine a second, spinning BLAS thread slows
# these mid-sized products down a lot. On an idle machine OPENBLAS_NUM_THREADS=2
# may be a little faster.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot
from lstmlab.data import Vocab, bptt_batches

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
parser.add_argument("--data", "--text", dest="data", metavar="FILE",
                    help="train on this UTF-8 text file instead of the docstrings")
parser.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
parser.add_argument("--hidden", type=int, default=128, help="hidden size H")
parser.add_argument("--embed", type=int, default=32, help="embedding size E")
parser.add_argument("--layers", type=int, default=1)
parser.add_argument("--T", type=int, default=64, help="BPTT chunk length")
parser.add_argument("--batch", type=int, default=32, help="N parallel streams")
parser.add_argument("--steps", type=int, default=4000, help="training steps (chunks)")
parser.add_argument("--lr", type=float, default=1e-2, help="Adam lr (cosine-decayed to 0)")
parser.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
parser.add_argument("--eval-every", type=int, default=200)
parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
parser.add_argument("--temperature", type=float, default=0.7)
parser.add_argument("--length", type=int, default=300, help="characters to sample")
parser.add_argument("--prime", default="Return the ", help="text to start sampling from")
parser.add_argument("--generate", action="store_true",
                    help="load the model saved in --out and only sample")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/char_lm", help="directory for the model and figures")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("LSTMLAB_QUICK", "") not in ("", "0"),
                    help="a few seconds: tiny model and text (also LSTMLAB_QUICK=1)")
# parse_known_args: in a notebook, sys.argv holds the kernel's own "-f <file>.json"
args, unknown = parser.parse_known_args()
if unknown and "ipykernel" not in sys.modules:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
if args.quick and not args.generate:
    args.hidden, args.embed, args.T, args.batch, args.steps = 32, 8, 16, 8, 20
    args.eval_every, args.length = 10, 40
out = Path(args.out)
rng = np.random.default_rng(args.seed)

if args.generate:  # sample from the model a previous run saved, then stop
    path = out / "char_lm.npz"
    if not path.is_file():
        sys.exit(f"char_lm.py --generate: no model at {path}; train one first with: "
                 f"python examples/char_lm.py --out {out}  (--quick for a small one)")
    extra = ll.load_extra(path)
    vocab, config = Vocab.from_dict(extra["vocab"]), extra["config"]
    model = ll.LanguageModel(**config)
    ll.load(model, path)
    model.eval()
    ids = ll.sample(model, vocab.encode(args.prime), args.length, args.temperature, rng=rng)
    print(f"loaded {path} ({config['cell']}, H = {config['hidden_size']}); "
          f"temperature {args.temperature}:\n")
    print(args.prime + "".join(vocab.decode(ids)))
    sys.exit(0)

# Before any work: the data file, and the plotting library (a crash after training loses it)
if args.data and not Path(args.data).is_file():
    sys.exit(f"char_lm.py: --data {args.data}: no such file; pass a UTF-8 text file, or leave "
             "--data out to train on Python's own docstrings")
try:
    plot.check_matplotlib()
except ModuleNotFoundError as error:
    sys.exit(f"char_lm.py: {error}")

# %% [markdown]
# ## The text, the vocabulary, a held-out split
# 10% of the paragraphs (blank-line separated) are held out; a text with fewer than 20
# paragraphs gives its last 10% instead. The vocabulary is every character of the training
# split (a held-out character it lacks becomes `<unk>`).

# %%
if args.data:
    try:
        text = Path(args.data).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        sys.exit(f"char_lm.py: --data {args.data} is not UTF-8 text ({err.reason} at byte "
                 f"{err.start}); convert it, e.g. iconv -t UTF-8")
    source = args.data
else:
    docs, used = ll.corpus.stdlib_docstrings()
    text = "\n\n".join(docs) + "\n"
    source = f"the docstrings of {len(used)} standard-library modules"
if args.quick:
    text = text[:20_000]
paragraphs = text.split("\n\n")
if len(paragraphs) >= 20:
    train_paragraphs, held_paragraphs = ll.data.train_val_split(paragraphs, 0.1, rng)
    train_text, held_text = "\n\n".join(train_paragraphs), "\n\n".join(held_paragraphs)
else:
    cut = int(0.9 * len(text))
    train_text, held_text = text[:cut], text[cut:]
if len(held_text) < 2 * 8 * (args.T + 1):
    sys.exit(f"char_lm.py: the text has {len(text):,} characters; it needs at least "
             f"{20 * 8 * (args.T + 1):,} for a held-out split (or a smaller --T)")
vocab = Vocab(train_text)
train_ids, held_ids = vocab.encode(train_text), vocab.encode(held_text)
counts = np.bincount(train_ids, minlength=len(vocab)) + 1.0  # letter frequencies, add-one
unigram = float(-np.mean(np.log2((counts / counts.sum())[held_ids])))
print(f"text: {len(text):,} characters from {source}, {len(vocab)} distinct (with <unk>); "
      f"train {len(train_ids):,}, held out {len(held_ids):,}")
print(f"unigram baseline (letter frequencies): {unigram:.3f} bits/char on the held-out text")

# %% [markdown]
# ## The model and the optimizer
# `ll.LanguageModel` follows the protocol `forward(ids, state) -> (logits, state)` that
# `ll.sample` uses; its backward stops at the chunk's initial state (truncated BPTT).

# %%
config = {"vocab_size": len(vocab), "embed_size": args.embed, "hidden_size": args.hidden,
          "num_layers": args.layers, "cell": args.cell, "dtype": args.dtype}
model = ll.LanguageModel(**config, rng=rng, **({"forget_bias": 1.0} if args.cell == "lstm"
                                               else {}))
opt = ll.Adam(model.params, model.grads, lr=args.lr)
schedule = ll.CosineLR(opt, T_max=args.steps)
print(model.summary())

# %% [markdown]
# ## Training: truncated BPTT over N streams, the state carried across chunks
# Each epoch starts every stream from a zero state; every `--eval-every` steps the model
# reads the held-out text (under `ll.no_grad()`, inside `model.evaluate`).

# %%
batches = bptt_batches(train_ids, args.batch, args.T)
train_bits, held_out = [], []  # per step; (step, bits) per evaluation
progress = ll.Progress(total=args.steps, every=args.eval_every, desc="train")
step = 0
while step < args.steps:
    state = None  # a new epoch: every stream starts again from zeros
    for x, y in batches:  # x, y (T, N): y is the next character of every x
        model.zero_grad()
        logits, state = model.forward(x, state)
        loss, dlogits = ll.cross_entropy(logits, y)
        model.backward(dlogits)
        ll.clip_grad_norm(model, args.clip)
        opt.step()
        schedule.step()
        step += 1
        train_bits.append(ll.bits_per_char(loss))
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            held_out.append((step, ll.bits_per_char(model.evaluate(held_ids, 8, args.T))))
            model.train()
        progress.update(train_bits=float(np.mean(train_bits[-args.eval_every:])),
                        held_out_bits=held_out[-1][1] if held_out else float("nan"),
                        lr=opt.lr)
        if step == args.steps:
            break
progress.close()
seconds = progress.elapsed
final_bits = held_out[-1][1]
print(f"trained {args.steps} steps x {args.T} x {args.batch} characters ({len(batches)} steps "
      f"per epoch) in {seconds / 60:.1f} min: {args.steps * args.T * args.batch / seconds:,.0f} "
      f"characters/second (forward + backward + update)")
print(f"held-out: {final_bits:.3f} bits/char ({args.cell.upper()})  vs  {unigram:.3f} bits/char "
      "(unigram)")

# %% [markdown]
# ## Save, so that `--generate` can sample without training
# The vocabulary and the sizes go into the same file as plain data (never a pickle).

# %%
out.mkdir(parents=True, exist_ok=True)
ll.save(model, out / "char_lm.npz", extra={"vocab": vocab.to_dict(), "config": config})
print(f"saved {out / 'char_lm.npz'}; sample again with: python examples/char_lm.py "
      f"--generate --out {out}")

# %% [markdown]
# ## Samples at two temperatures
# `ll.sample` reads the prime, then draws one character at a time from
# softmax(logits / temperature), carrying the state.

# %%
model.eval()
samples = {}
for temperature in sorted({args.temperature, 1.0}):
    ids = ll.sample(model, vocab.encode(args.prime), args.length, temperature, rng=rng)
    samples[temperature] = "".join(vocab.decode(ids))
    print(f"--- sample, temperature {temperature} ---\n{args.prime}{samples[temperature]}\n")

# %% [markdown]
# ## The learning curve

# %%
plot.learning_curves({"train (batch)": train_bits, "held out": tuple(zip(*held_out))},
                     baselines={f"unigram {unigram:.2f}": unigram}, ylabel="bits per character",
                     smooth=max(1, min(50, args.steps // 10)), path=out / "char_lm_loss.png",
                     title=f"Character LM ({args.cell.upper()}, H = {args.hidden})")


# %% [markdown]
# ## The gates over a held-out passage
# Stepping the first layer's cell by hand, as the layer does inside, exposes every step's
# cache: the gate values are fields of it (LSTM: i, f, o; GRU: r, z).

# %%
def gate_activations(model, ids):
    """Step the first layer's cell over one passage; return its gates, each (T, H)."""
    cell = model.rnn.layers[0][0].cell  # layer 0, forward direction
    with ll.no_grad():
        x = model.embed.forward(ids[:, None])  # (T, 1, E)
    state = cell.initial_state(1)
    fields = {"lstm": ("i", "f", "o"), "gru": ("r", "z"), "rnn": ("h",)}[model.cell]
    gates = {name: [] for name in fields}
    for t in range(len(ids)):
        state, cache = cell.forward(x[t], state)
        for name in fields:
            gates[name].append(getattr(cache, name)[0])
    long_names = {"i": "input gate i", "f": "forget gate f", "o": "output gate o",
                  "r": "reset gate r", "z": "update gate z", "h": "hidden state h"}
    return {long_names[name]: np.array(values) for name, values in gates.items()}  # each (T, H)


passage = held_ids[: min(80, len(held_ids))]
plot.gate_heatmap(gate_activations(model, passage), labels=vocab.decode(passage), max_units=32,
                  path=out / "char_lm_gates.png",
                  title=f"{args.cell.upper()} {'state' if args.cell == 'rnn' else 'gates'} "
                        "over a held-out passage (first 32 units)")
