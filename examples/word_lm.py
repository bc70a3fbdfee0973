# %% [markdown]
# # A word-level LSTM language model: Zaremba et al. (2014)'s small configuration
#
# Runs top to bottom, as `python examples/word_lm.py` does. The outputs saved in this
# notebook come from its quick mode (`--quick`, or `LSTMLAB_QUICK=1` in the environment
# Jupyter starts from); the docstring below quotes a full run. To change an option here,
# change its default in the first code cell.

# %%
"""A word-level LSTM language model: Zaremba et al. (2014)'s small configuration.

``ll.LanguageModel``: Embedding -> 2 LSTM layers of 200 -> Linear over the
vocabulary, trained with truncated BPTT (35 steps, 20 streams), plain SGD at
learning rate 1 halved every epoch after the 4th, global gradient-norm
clipping at 5, weights drawn from U(-0.1, 0.1), 13 epochs: the "small"
model of Zaremba, Sutskever & Vinyals (2014), which reached a test
perplexity of 114.5 on the Penn Treebank. It reports the perplexity
(``ll.perplexity``) on the validation text after every epoch and on the test
text at the end, and writes a few sentences with ``ll.sample``.

The data: ``--data DIR``, a folder in the Penn Treebank layout
(``train.txt``, ``valid.txt``, ``test.txt``, or ``ptb.train.txt`` ...; one
sentence per line, tokens separated by spaces; ``<eos>`` is appended to
every line), read with ``ll.corpus.read_ptb``. Without ``--data`` it builds
a word corpus offline from the docstrings of Python's standard library
(``ll.corpus.stdlib_docstrings``, cut into lowercase sentences with numbers
as ``N`` by ``ll.corpus.word_sentences``; every 10th docstring goes to
validation, the next to test; words seen once in training become
``<unk>``): the same for the same Python version. Nothing downloads.

Run::

    python examples/word_lm.py                       # the docstring corpus (see below)
    python examples/word_lm.py --data path/to/ptb    # the Penn Treebank, or your own
    python examples/word_lm.py --quick               # seconds, a smoke test

or open ``examples/word_lm.ipynb`` (its outputs come from ``--quick``).

A full run on this 2-core machine, shared with other jobs (defaults: seed
0, float32, the docstring corpus of Python 3.11.7; 3.5 minutes of training)
printed::

    the docstrings of 108 standard-library modules: train 119,836 tokens (1.7% <unk>),
    valid 15,735 tokens (4.6% <unk>), test 15,618 tokens (4.5% <unk>); vocabulary 3,971
    (words seen at least 2x in training)
    epoch  1  lr 1  train perplexity   612.80  valid perplexity   301.82
    epoch  4  lr 1  train perplexity   128.43  valid perplexity   144.17
    epoch  5  lr 0.5  train perplexity    82.30  valid perplexity   124.69
    ...
    epoch 13  lr 0.001953  train perplexity    43.90  valid perplexity   108.32
    after 13 epochs (3.5 min): valid perplexity 108.32, test perplexity 137.42
    (a uniform guess: 3,971)

and ``ll.sample`` (temperature 0.8, primed with ``<eos>``) wrote, one sentence
per line::

    if nbytes is not none the source is not specified but the patched size is not
    expressed <eos>
    the sequence is returned as a bytes object <eos>

The corpus is 120,000 words, an eighth of the Penn Treebank's 929,000, so
the model overfits: the training perplexity (44) ends far below the
validation one (108), and the learning-rate decay is what keeps the
validation perplexity falling. Zaremba et al.'s dropout (``--dropout 0.5``,
their medium model's rate) is the remedy they propose. The test docstrings
(every 10th, like the validation ones, but others) happen to be harder than
the validation ones in this small corpus; on the Penn Treebank the two are
close (Zaremba et al. report 120.7 valid and 114.5 test for this
configuration; not measured here: the Penn Treebank is not on this machine).

References
----------
Zaremba, W., Sutskever, I. & Vinyals, O. (2014). Recurrent neural network
regularization. arXiv:1409.2329 (the "small" configuration of its code).
"""

# Imports and options
import os

# One BLAS thread: on a busy machine a second, spinning BLAS thread slows these
# products down. On an idle machine OPENBLAS_NUM_THREADS=2 may be a little faster.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot
from lstmlab.data import Vocab, bptt_batches

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
parser.add_argument("--data", metavar="DIR",
                    help="a Penn-Treebank-layout folder (default: the stdlib's docstrings)")
parser.add_argument("--embed", type=int, default=200, help="embedding size E")
parser.add_argument("--hidden", type=int, default=200, help="hidden size H")
parser.add_argument("--layers", type=int, default=2)
parser.add_argument("--T", type=int, default=35, help="BPTT chunk length (num_steps)")
parser.add_argument("--batch", type=int, default=20, help="N parallel streams")
parser.add_argument("--epochs", type=int, default=13)
parser.add_argument("--lr", type=float, default=1.0, help="SGD learning rate")
parser.add_argument("--decay", type=float, default=0.5, help="lr factor per epoch after ...")
parser.add_argument("--decay-after", type=int, default=4, help="... this many epochs")
parser.add_argument("--clip", type=float, default=5.0, help="max global gradient norm")
parser.add_argument("--init-scale", type=float, default=0.1, help="weights from U(-s, s)")
parser.add_argument("--dropout", type=float, default=0.0,
                    help="non-recurrent dropout (Zaremba et al.'s medium model: 0.5)")
parser.add_argument("--min-freq", type=int, default=None,
                    help="rarer training words become <unk> (default: 1 with --data, else 2)")
parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/word_lm", help="directory for the model and figure")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("LSTMLAB_QUICK", "") not in ("", "0"),
                    help="a few seconds: a tiny model on a slice (also LSTMLAB_QUICK=1)")
# parse_known_args: in a notebook, sys.argv holds the kernel's own "-f <file>.json"
args, unknown = parser.parse_known_args()
if unknown and "ipykernel" not in sys.modules:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
if args.quick:
    args.embed, args.hidden, args.epochs, args.decay_after = 16, 16, 2, 1
min_freq = args.min_freq if args.min_freq is not None else (1 if args.data else 2)

# Before any work: the data files, and the plotting library (a crash after training loses it)
if args.data:
    try:
        splits = ll.corpus.read_ptb(args.data)
    except FileNotFoundError as err:
        sys.exit(f"word_lm.py --data {args.data}: {str(err).removeprefix('directory: ')}")
try:
    plot.check_matplotlib()
except ModuleNotFoundError as error:
    sys.exit(f"word_lm.py: {error}")

rng = np.random.default_rng(args.seed)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The corpus: three token lists with `<eos>` after every sentence
# Without `--data`: the standard library's docstrings, cut into sentences of lowercase words
# (numbers become `N`, as in the Penn Treebank). Whole docstrings go to one split, so no
# validation sentence has a near-copy in training.

# %%
if args.data:
    source = args.data
else:
    docs, used = ll.corpus.stdlib_docstrings()
    if args.quick:
        docs = docs[:600]
    parts = {"train": [], "valid": [], "test": []}
    for k, doc in enumerate(docs):
        split = {8: "valid", 9: "test"}.get(k % 10, "train")
        parts[split] += ll.corpus.word_sentences(doc)
    splits = {name: [w for sentence in sentences for w in sentence + ["<eos>"]]
              for name, sentences in parts.items()}
    source = f"the docstrings of {len(used)} standard-library modules"
if args.quick and args.data:
    splits = {name: tokens[: 20_000 if name == "train" else 4_000]
              for name, tokens in splits.items()}
vocab = Vocab(splits["train"], min_freq=min_freq, specials=("<unk>",))
ids = {name: vocab.encode(tokens) for name, tokens in splits.items()}
unk = {name: float(np.mean(x == vocab.unk_id)) for name, x in ids.items()}
print(f"{source}: " + ", ".join(f"{name} {len(x):,} tokens ({100 * unk[name]:.1f}% <unk>)"
                                for name, x in ids.items())
      + f"; vocabulary {len(vocab):,} (words seen at least {min_freq}x in training)")
print("train begins:", " ".join(splits["train"][:30]))

# %% [markdown]
# ## The model: Zaremba et al.'s small configuration
# Two LSTM layers of 200 units read 200-wide word embeddings; every weight starts in
# U(-0.1, 0.1) (set in place: an optimizer holds these very arrays).

# %%
model = ll.LanguageModel(len(vocab), args.embed, args.hidden, args.layers, cell="lstm",
                         dropout=args.dropout, dtype=args.dtype, rng=rng)
for p in model.params.values():
    p[...] = rng.uniform(-args.init_scale, args.init_scale, p.shape)
opt = ll.SGD(model.params, model.grads, lr=args.lr)
print(model.summary())

# %% [markdown]
# ## Training: truncated BPTT, SGD with a decaying learning rate, clipping at 5
# The loop is the lesson: per epoch, the streams start from a zero state; per chunk,
# forward from the carried state, backward through these 35 steps only, clip, step.
# The loss that is minimised is Zaremba et al.'s: summed over the 35 steps, averaged over
# the 20 streams.
# After every epoch the validation perplexity, exp(mean cross-entropy), with dropout off.

# %%
batches = bptt_batches(ids["train"], args.batch, args.T)
eval_batch = 10  # streams for evaluation: any number gives (nearly) the same perplexity
history = {"epoch": [], "lr": [], "train_ppl": [], "valid_ppl": []}
progress = ll.Progress(total=args.epochs * len(batches), every=len(batches), desc="train")
for epoch in range(1, args.epochs + 1):
    opt.lr = args.lr * args.decay ** max(epoch - args.decay_after, 0)
    model.train()
    state, total, count = None, 0.0, 0
    for x, y in batches:  # (T, N) each
        model.zero_grad()
        logits, state = model.forward(x, state)
        loss, dlogits = ll.cross_entropy(logits, y)  # the mean over the T x N predictions
        # Zaremba et al. minimise the SUM over the T steps of the mean over the batch: T times
        # this loss, so T times its gradient (what lr 1 and clipping at 5 are tuned for)
        model.backward(dlogits * x.shape[0])
        ll.clip_grad_norm(model, args.clip)
        opt.step()
        total, count = total + loss * y.size, count + y.size
        progress.update(epoch=epoch, lr=opt.lr, train_ppl=ll.perplexity(total / count))
    model.eval()
    history["epoch"].append(epoch)
    history["lr"].append(opt.lr)
    history["train_ppl"].append(ll.perplexity(total / count))
    history["valid_ppl"].append(ll.perplexity(model.evaluate(ids["valid"], eval_batch, args.T)))
    progress.write(f"epoch {epoch:2d}  lr {opt.lr:.4g}  train perplexity "
                   f"{history['train_ppl'][-1]:8.2f}  valid perplexity "
                   f"{history['valid_ppl'][-1]:8.2f}")
progress.close()
minutes = progress.elapsed / 60
test_ppl = ll.perplexity(model.evaluate(ids["test"], eval_batch, args.T))
print(f"after {args.epochs} epochs ({minutes:.1f} min): valid perplexity "
      f"{history['valid_ppl'][-1]:.2f}, test perplexity {test_ppl:.2f}  (a uniform guess: "
      f"{len(vocab):,})")

# %% [markdown]
# ## Save the model with its vocabulary, then write a few sentences
# `ll.sample` primes the state on `<eos>` (a sentence has just ended) and draws one word at
# a time.

# %%
ll.save(model, out / "word_lm.npz", extra={
    "vocab": vocab.to_dict(), "embed": args.embed, "hidden": args.hidden, "layers": args.layers,
    "dtype": args.dtype})
(out / "word_lm.json").write_text(json.dumps({**history, "test_ppl": test_ppl,
                                              "minutes": minutes}))
print(f"saved {out / 'word_lm.npz'}")
words = vocab.decode(ll.sample(model, vocab.encode(["<eos>"]), 60, temperature=0.8, rng=rng))
print(" ".join(words).replace(" <eos> ", " <eos>\n"))

# %% [markdown]
# ## Perplexity per epoch

# %%
plot.learning_curves({"train": (history["epoch"], history["train_ppl"]),
                      "valid": (history["epoch"], history["valid_ppl"])},
                     xlabel="epoch", ylabel="perplexity", logy=True, path=out / "word_lm.png",
                     title=f"Word LM ({args.layers} x LSTM {args.hidden}): test perplexity "
                           f"{test_ppl:.1f}")
