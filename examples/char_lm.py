"""A character language model trained on the docstrings of Python's standard library.

Embedding -> LSTM (or ``--cell gru`` / ``rnn``) -> Linear, predicting each
next character. The text needs no download: it is gathered at run time from
the docstrings of a fixed list of standard-library modules (their classes,
functions and methods, in sorted order), so every machine with the same
Python version builds the same text. ``--text FILE`` trains on your own.

What it shows:

- truncated backpropagation through time: the text is cut into N parallel
  streams; each step reads the next T characters of every stream, starting
  from the state the previous chunk ended in (carried across chunks), and
  backpropagates only through those T steps;
- Adam with a cosine learning-rate decay and global gradient-norm clipping;
- the bits per character on held-out text (every 10th paragraph, never
  trained on) next to a unigram model's (letter frequencies counted on the
  same training split): what the LSTM gains by reading context;
- sampling with a temperature (low: safe and repetitive; high: creative and
  misspelt), and a heatmap of the LSTM's input, forget and output gates over
  a held-out passage;
- ``ll.save`` of the weights (plus a small JSON with the vocabulary and the
  sizes); ``--generate`` reloads them and samples without training.

Run::

    python examples/char_lm.py                       # full run (see below)
    python examples/char_lm.py --generate --temperature 0.5 --length 400
    python examples/char_lm.py --quick               # seconds, a smoke test

A full run on this 2-core machine (seed 0, defaults: LSTM with H = 128,
E = 32, float32, 4000 steps of 32 streams x 64 characters, Adam lr 1e-2
cosine-decayed, clipping at 1.0; 4.0 minutes in all) printed::

    text: 883,122 characters from the docstrings of 108 standard-library modules,
    102 distinct; train 794,740, held out 88,380 (gathered in 0.6s)
    unigram baseline (letter frequencies): 4.735 bits/char on the held-out text
    ...
    step  4000/4000 (epoch 10.31)  train 1.900  held-out 1.998 bits/char  ...
    trained 4000 steps x 64 x 32 characters (388 steps per epoch) in 3.9 min:
    34,694 characters/second (forward + backward + update)
    held-out: 1.998 bits/char (LSTM)  vs  4.735 bits/char (unigram)

    --- sample, temperature 0.7 ---   (here with its line breaks and indentation shortened)
    Return the no start will be most and true, newline or a time overred to the
    return values) are lowercase, and function ...

and ``--generate --temperature 0.5 --prime "Return a new "`` then wrote
"Return a new standard time object for custom default of the set to be the
called, and the writements are always the server." The held-out curve was
still falling at the end (2.119 at step 2000, 2.034 at 3000): more steps buy
more. (Python 3.11.7; another version's docstrings give another text.)
"""

# %% Imports
import os

# One BLAS thread: on a busy machine a second, spinning BLAS thread slows
# these mid-sized products down a lot. On an idle machine OPENBLAS_NUM_THREADS=2
# may be a little faster.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import importlib
import inspect
import json
import math
import time
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot

STDLIB_MODULES = (
    "abc", "argparse", "array", "ast", "asyncio.base_events", "asyncio.events", "asyncio.streams",
    "asyncio.tasks", "base64", "bisect", "builtins", "calendar", "cmd", "codecs", "collections",
    "collections.abc", "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime",
    "decimal", "difflib", "dis", "email.message", "email.utils", "enum", "fractions", "ftplib",
    "functools", "getopt", "gettext", "glob", "gzip", "heapq", "hmac", "html.parser",
    "http.client", "http.cookiejar", "http.server", "imaplib", "importlib.metadata", "inspect",
    "io", "ipaddress", "itertools", "json", "locale", "logging", "logging.handlers", "mailbox",
    "math", "mimetypes", "numbers", "operator", "optparse", "os", "pathlib", "pdb", "pickle",
    "pkgutil", "platform", "poplib", "pprint", "pydoc", "queue", "random", "re", "sched",
    "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib", "socket", "socketserver",
    "sqlite3", "statistics", "string", "struct", "subprocess", "sys", "tarfile", "tempfile",
    "textwrap", "threading", "time", "timeit", "tkinter", "tokenize", "trace", "traceback",
    "turtle", "typing", "unittest.case", "unittest.mock", "urllib.parse", "urllib.request", "uuid",
    "warnings", "wave", "weakref", "xml.dom.minidom", "xml.etree.ElementTree", "xmlrpc.client",
    "zipfile",
)

CELLS = {"lstm": ll.LSTM, "gru": ll.GRU, "rnn": ll.RNN}


# %% The text: standard-library docstrings, gathered at run time
def stdlib_docstrings(modules=STDLIB_MODULES):
    """The docstrings of ``modules`` and of their public classes, functions and methods.

    Members are visited in sorted order and each distinct docstring is kept
    once, so the text is the same on every run of the same Python version.
    Modules that fail to import (e.g. tkinter and turtle without Tk) are skipped.

    Returns
    -------
    text : str
    used : list of str, the modules that were imported
    """
    seen, parts, used = set(), [], []

    def add(obj):
        doc = inspect.getdoc(obj)
        if doc and doc not in seen:
            seen.add(doc)
            parts.append(doc)

    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        used.append(name)
        add(module)
        for attr, obj in sorted(vars(module).items()):
            if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue  # private, or imported from elsewhere (counted where it is defined)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                add(obj)
            if inspect.isclass(obj):
                for method_name, method in sorted(vars(obj).items()):
                    if inspect.isroutine(method) and not method_name.startswith("_"):
                        add(method)
    return "\n\n".join(parts) + "\n", used


# %% The model: Embedding -> recurrent layer -> Linear
class CharLM(ll.Model):
    """ids (T, N) -> embed (T, N, E) -> rnn (T, N, H) -> head (T, N, V) logits."""

    def __init__(self, V, E, H, num_layers=1, cell="lstm", dtype=np.float32, rng=None):
        rng = np.random.default_rng(rng)
        options = {"forget_bias": 1.0} if cell == "lstm" else {}
        super().__init__(embed=ll.Embedding(V, E, dtype=dtype, rng=rng),
                         rnn=CELLS[cell](E, H, num_layers, dtype=dtype, rng=rng, **options),
                         head=ll.Linear(H, V, dtype=dtype, rng=rng))
        self.kind = cell

    def forward(self, ids, state=None):
        """Logits (T, N, V) of the next character at every position, and the final state."""
        x = self.embed.forward(ids)  # (T, N, E)
        hs, state = self.rnn.forward(x, state)  # (T, N, H), the state to carry on
        return self.head.forward(hs), state

    def backward(self, dlogits):
        """Backpropagate through this chunk only (truncated BPTT: dstate stays zero)."""
        dhs = self.head.backward(dlogits)  # (T, N, H)
        dx, _ = self.rnn.backward(dhs)  # dstate0, the gradient into the previous chunk, is dropped
        self.embed.backward(dx)


def split_text(text, every=10):
    """Hold out every ``every``-th paragraph (blank-line separated); return (train, test).

    Interleaving keeps the same kind of text on both sides (the last 10% of
    the docstrings would be only tkinter, turtle and xml). A text with fewer
    than ``every`` paragraphs is split at 90% of its length instead.
    """
    paragraphs = text.split("\n\n")
    if len(paragraphs) < every:
        cut = int(0.9 * len(text))
        return text[:cut], text[cut:]
    train = [p for k, p in enumerate(paragraphs) if k % every != every - 1]
    test = [p for k, p in enumerate(paragraphs) if k % every == every - 1]
    return "\n\n".join(train), "\n\n".join(test)


def streams(ids, N):
    """Cut a 1-d id array into N contiguous streams, time-major: shape (L, N)."""
    L = len(ids) // N
    return ids[: L * N].reshape(N, L).T.copy()  # column n is the n-th slice of the text


def held_out_bits(model, data, T):
    """Mean -log2 p(next char) over ``data`` (L, N), reading it chunk by chunk with the state."""
    total, count, state = 0.0, 0, None
    for s in range(0, len(data) - 1, T):
        x, y = data[s : s + T], data[s + 1 : s + T + 1]
        x = x[: len(y)]
        with ll.no_grad():  # evaluation: keep no records for a backward
            logits, state = model.forward(x, state)
        loss, _ = ll.cross_entropy(logits, y)
        total += loss * y.size
        count += y.size
    return total / count / math.log(2)


def unigram_bits(train_ids, test_ids, V):
    """Bits per char of letter frequencies counted on the training split (add-one smoothed)."""
    counts = np.bincount(train_ids, minlength=V) + 1.0
    p = counts / counts.sum()
    return float(-np.mean(np.log2(p[test_ids])))


# %% Sampling with a temperature, and the gates over a passage
def sample(model, chars, prime, length, temperature, rng):
    """Read ``prime``, then draw ``length`` characters from softmax(logits / temperature)."""
    index = {c: k for k, c in enumerate(chars)}
    state, logits = None, None
    for c in prime:
        with ll.no_grad():  # sampling: keep no records for a backward
            logits, state = model.forward(np.array([[index.get(c, 0)]]), state)  # (1, 1, V)
    out = []
    for _ in range(length):
        z = logits[0, 0].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        k = int(rng.choice(len(chars), p=p / p.sum()))
        out.append(chars[k])
        with ll.no_grad():
            logits, state = model.forward(np.array([[k]]), state)
    return "".join(out)


def gate_activations(model, ids):
    """Step the first layer's cell over one passage; return its gates, each (T, H).

    Stepping the cell by hand, as a Recurrent does inside, exposes each step's
    cache: the gate values are fields of it (LSTM: i, f, o; GRU: r, z).
    """
    cell = model.rnn.layers[0][0].cell  # layer 0, forward direction
    with ll.no_grad():
        x = model.embed.forward(ids[:, None])  # (T, 1, E)
    state = cell.initial_state(1)
    fields = {"lstm": ("i", "f", "o"), "gru": ("r", "z"), "rnn": ("h",)}[model.kind]
    gates = {name: [] for name in fields}
    for t in range(len(ids)):
        state, cache = cell.forward(x[t], state)
        for name in fields:
            gates[name].append(getattr(cache, name)[0])
    long_names = {"i": "input gate i", "f": "forget gate f", "o": "output gate o",
                  "r": "reset gate r", "z": "update gate z", "h": "hidden state h"}
    return {long_names[name]: np.array(values) for name, values in gates.items()}  # each (T, H)


def clock(seconds):
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def build(config, rng=None):
    """The model described by ``config`` (what char_lm.json holds)."""
    return CharLM(len(config["chars"]), config["embed"], config["hidden"], config["layers"],
                  config["cell"], np.dtype(config["dtype"]), rng)


# %% Main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", help="train on this UTF-8 file instead of the docstrings")
    parser.add_argument("--cell", default="lstm", choices=list(CELLS))
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
    parser.add_argument("--out", default="out/char_lm", help="directory for figures and model")
    parser.add_argument("--quick", action="store_true", help="a few seconds: tiny model and text")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rng = np.random.default_rng(args.seed)

    if args.generate:
        config = json.loads((out / "char_lm.json").read_text())
        model = build(config)
        ll.load(model, out / "char_lm.npz")
        print(f"loaded {out / 'char_lm.npz'} ({config['cell']}, H = {config['hidden']}); "
              f"temperature {args.temperature}:\n")
        text = sample(model, config["chars"], args.prime, args.length, args.temperature, rng)
        print(args.prime + text)
        return {"sample": text}

    # %% The data: characters -> ids, a train / held-out split
    if args.quick:
        args.hidden, args.embed, args.T, args.batch, args.steps = 32, 8, 16, 8, 20
        args.eval_every, args.length = 10, 40
    run_start = start = time.perf_counter()
    if args.text:
        text, source = Path(args.text).read_text(encoding="utf-8"), args.text
    else:
        text, used = stdlib_docstrings()
        source = f"the docstrings of {len(used)} standard-library modules"
    if args.quick:
        text = text[:20_000]
    chars = sorted(set(text))  # the vocabulary: every character of the text
    V = len(chars)
    index = {c: k for k, c in enumerate(chars)}
    train_text, test_text = split_text(text)
    train_ids = np.array([index[c] for c in train_text])  # integers in [0, V)
    test_ids = np.array([index[c] for c in test_text])
    print(f"text: {len(text):,} characters from {source}, {V} distinct; "
          f"train {len(train_ids):,}, held out {len(test_ids):,} "
          f"(gathered in {time.perf_counter() - start:.1f}s)")
    unigram = unigram_bits(train_ids, test_ids, V)
    print(f"unigram baseline (letter frequencies): {unigram:.3f} bits/char on the held-out text")

    # %% The model and the optimizer
    config = {"chars": chars, "cell": args.cell, "hidden": args.hidden, "embed": args.embed,
              "layers": args.layers, "dtype": args.dtype}
    model = build(config, rng)
    opt = ll.Adam(model.params, model.grads, lr=args.lr)
    schedule = ll.CosineLR(opt, T_max=args.steps)
    print(model)
    print(f"{model.num_params():,} parameters, {args.dtype}")

    # %% Training: truncated BPTT over N streams, the state carried across chunks
    data = streams(train_ids, args.batch)  # (L, N)
    test_data = streams(test_ids, 8)  # (L', 8): 8 streams are enough to evaluate
    chunks_per_epoch = (len(data) - 1) // args.T
    train_bits, test_points = [], []
    state, position, epoch = None, 0, 0
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        if position + args.T + 1 > len(data):  # the end of the streams: a new epoch
            state, position, epoch = None, 0, epoch + 1
        x = data[position : position + args.T]  # (T, N)
        y = data[position + 1 : position + args.T + 1]  # (T, N): the next characters
        position += args.T
        model.zero_grad()
        logits, state = model.forward(x, state)
        loss, dlogits = ll.cross_entropy(logits, y)
        model.backward(dlogits)
        ll.clip_grad_norm(model.grads, args.clip)
        opt.step()
        schedule.step()
        train_bits.append(loss / math.log(2))
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            bits = held_out_bits(model, test_data, args.T)
            model.train()
            test_points.append((step, bits))
            elapsed = time.perf_counter() - start
            eta = elapsed / step * (args.steps - step)
            print(f"step {step:5d}/{args.steps} (epoch {epoch + position / len(data):.2f})"
                  f"  train {np.mean(train_bits[-args.eval_every:]):.3f}"
                  f"  held-out {bits:.3f} bits/char  lr {opt.lr:.2e}"
                  f"  elapsed {clock(elapsed)}  eta {clock(eta)}", flush=True)
    seconds = time.perf_counter() - start
    chars_per_second = args.steps * args.T * args.batch / seconds
    final_bits = test_points[-1][1]
    print(f"\ntrained {args.steps} steps x {args.T} x {args.batch} characters "
          f"({chunks_per_epoch} steps per epoch) in {seconds / 60:.1f} min: "
          f"{chars_per_second:,.0f} characters/second (forward + backward + update)")
    print(f"held-out: {final_bits:.3f} bits/char ({args.cell.upper()})  vs  "
          f"{unigram:.3f} bits/char (unigram)")

    # %% Samples at two temperatures
    samples = {}
    for temperature in sorted({args.temperature, 1.0}):
        samples[temperature] = sample(model, chars, args.prime, args.length, temperature, rng)
        print(f"\n--- sample, temperature {temperature} ---\n{args.prime}{samples[temperature]}")

    # %% Figures: the learning curve, the gates over a held-out passage
    out.mkdir(parents=True, exist_ok=True)
    fig_loss = out / "char_lm_loss.png"
    steps, bits = zip(*test_points)
    plot.learning_curves({"train (batch)": train_bits, "held out": (steps, bits)},
                         baselines={f"unigram {unigram:.2f}": unigram}, ylabel="bits per character",
                         smooth=max(1, min(50, args.steps // 10)), path=fig_loss,
                         title=f"Character LM ({args.cell.upper()}, H = {args.hidden})")
    passage = test_ids[: min(80, len(test_ids))]
    gates = gate_activations(model, passage)
    fig_gates = out / "char_lm_gates.png"
    plot.gate_heatmap(gates, labels=[chars[k] for k in passage], max_units=32, path=fig_gates,
                      title=f"{args.cell.upper()} {'state' if args.cell == 'rnn' else 'gates'} "
                            "over a held-out passage (first 32 units)")

    # %% Save, so that --generate can sample without training
    ll.save(model, out / "char_lm.npz")
    (out / "char_lm.json").write_text(json.dumps(config))
    print(f"\nsaved {out / 'char_lm.npz'}; sample again with: python examples/char_lm.py "
          f"--generate --out {out}")
    print("figures:", fig_loss, fig_gates)
    print(f"whole run: {(time.perf_counter() - run_start) / 60:.1f} min")
    return {"held_out_bits": final_bits, "unigram_bits": unigram, "minutes": seconds / 60,
            "chars_per_second": chars_per_second, "samples": samples, "vocab": V,
            "figures": [str(fig_loss), str(fig_gates)], "model_path": str(out / "char_lm.npz")}


if __name__ == "__main__":
    main()
