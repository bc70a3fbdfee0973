"""LSTM: a search space odyssey, in small: Greff et al.'s eight variants (and a GRU) on two tasks.

Greff et al. (2015) trained the vanilla LSTM and eight variants, each
changing one part of it, on speech, handwriting and music, and found that
most variants perform alike, that coupling the input and forget gates (CIFG)
and removing the peepholes (NP) cost nothing, and that removing the forget
gate (NFG) or the output activation (NOAF) hurts badly. This script repeats
the comparison in miniature, with the ``ll.LSTMCell`` options:

    V     vanilla: peephole=True (Greff et al.'s baseline has peepholes)
    NIG   no input gate          input_gate=False           i = 1
    NFG   no forget gate         forget_gate=False          f = 1
    NOG   no output gate         output_gate=False          o = 1
    NIAF  no input activation    input_activation=False     g = a_g
    NOAF  no output activation   output_activation=False    h = o * c
    NP    no peepholes           peephole=False (lstmlab's default)
    CIFG  coupled gates          coupled=True               i = 1 - f
    FGR   full gate recurrence   gate_recurrence=True       gates read the last gates

Every variant but NP keeps V's peepholes, as in the paper. A GRU is the
tenth model. Each is trained with the same budget and several seeds on

- **chars**: a character language model (``ll.LanguageModel``: embedding,
  one recurrent layer, linear read-out) on docstrings of Python's standard
  library gathered at run time (as ``examples/char_lm.py`` does, fewer
  modules), truncated BPTT with the state carried across chunks of a
  continuous stream; the score is the bits per character on held-out text;
- **adding**: the adding problem (Hochreiter & Schmidhuber 1997; see
  ``examples/adding_problem.py``) with T = 30 steps, many-to-one; the score
  is the test MSE (0.167 = predicting the mean, nothing remembered).

and the figure shows one box per variant and task, like the paper's.

Run::

    python examples/lstm_variants.py            # full run (see below)
    python examples/lstm_variants.py --quick    # seconds, a smoke test

A full run (defaults: 3 seeds, H = 32, float32, Adam lr 1e-2, clipping at
1.0; chars: E = 16, 32 streams x 32 characters, 2,000 steps, 85,341
characters of docstrings; adding: T = 30, batch 32, 800 steps; every model
on the textbook path) took 5.5 minutes on this 2-core machine, shared with
other jobs (load about 3.5), and printed (median, min .. max over the three
seeds; "worse" or "better" only when the variant's runs and V's do not
overlap)::

    chars (held-out bits/char)               adding (test MSE)
    V     2.990  2.988 .. 3.054              0.0008  0.0006 .. 0.0012
    NIG   3.038  3.022 .. 3.146  alike       0.0660  0.0590 .. 0.1598  worse
    NFG   3.349  3.345 .. 3.442  worse       0.0015  0.0009 .. 0.0016  alike
    NOG   3.248  3.220 .. 3.335  worse       0.0007  0.0005 .. 0.0014  alike
    NIAF  3.144  3.094 .. 3.161  worse       0.0011  0.0010 .. 0.0014  alike
    NOAF  2.927  2.906 .. 2.942  better      0.0013  0.0010 .. 0.0018  alike
    NP    2.937  2.930 .. 2.962  better      0.0010  0.0010 .. 0.0013  alike
    CIFG  2.974  2.932 .. 2.975  better      0.0002  0.0002 .. 0.0003  better
    FGR   3.140  3.115 .. 3.505  worse       0.0018  0.0007 .. 0.1812  alike
    GRU   2.950  2.942 .. 2.976  better      0.0004  0.0003 .. 0.0005  better

(figure: out/lstm_variants/lstm_variants.png; ``--replot`` prints and draws
it again from out/lstm_variants/lstm_variants.json without training).

What this reproduced of Greff et al.'s findings:

- **Removing the forget gate hurts** on the continual stream of characters
  (NFG: the worst variant there, 0.36 bits/char above V in the median, no
  overlap). On the adding problem, whose sequences start from a zero state
  and last 30 steps, it hardly matters -- the 1997 LSTM solved that task
  without a forget gate.
- **CIFG and NP cost nothing**: both are at least as good as V on both tasks
  (here even slightly better), so coupling the gates and dropping the
  peepholes simplify the LSTM for free.
- **Most variants are alike** on the adding problem (NFG, NOG, NIAF, NOAF,
  NP and FGR all within a factor of about 2 of V, overlapping).

What it did not reproduce:

- **NOAF did not hurt**: without the output tanh the character model was
  slightly *better* than V, and alike on the adding problem. Greff et al.
  saw it fail on all three of their tasks; our cells are small (H = 32),
  trained briefly, and never meet the long, large-valued cell states where
  an unbounded ``h = o * c`` becomes a problem.
- Removing the output gate (NOG), the input activation (NIAF) and adding
  gate recurrence (FGR) cost a little on the character model (0.15 to 0.26
  bits/char), where Greff et al. found them harmless; NIG failed the adding
  problem (it must write every input into the cell, distractors included),
  which their tasks did not punish as much.
- Everything here is small: one learning rate for all (Greff et al. tuned
  each variant by random search and plot the best 10 % of runs), three
  seeds, two toy tasks, and character models far from converged (2.9 to
  3.4 bits/char; ``examples/char_lm.py`` reaches 2.0 with H = 128 and 4,000
  steps). The numbers are one run of three seeds per variant: another
  machine's differ in the last digits, the adding problem's MSEs vary by a
  factor of 2 to 3 between seeds (see min .. max), and a verdict decided by
  a small margin (NOAF, NP and CIFG "better" on chars) may flip.

References
----------
Greff, K., Srivastava, R. K., Koutník, J., Steunebrink, B. R. & Schmidhuber, J.
(2017). LSTM: a search space odyssey. IEEE TNNLS 28(10). arXiv:1503.04069.
Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory.
"""

# %% Imports and options
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is faster

import argparse
import importlib
import inspect
import json
import sys
import time
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seeds", type=int, default=3, help="runs per variant and task")
parser.add_argument("--hidden", type=int, default=32, help="hidden size H of every model")
parser.add_argument("--char-steps", type=int, default=2000, help="training steps, chars")
parser.add_argument("--add-steps", type=int, default=800, help="training steps, adding")
parser.add_argument("--add-T", type=int, default=30, help="sequence length, adding problem")
parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (both tasks)")
parser.add_argument("--variants", default="V,NIG,NFG,NOG,NIAF,NOAF,NP,CIFG,FGR,GRU",
                    help="comma-separated subset to run")
parser.add_argument("--out", default="out/lstm_variants", help="directory for results, figure")
parser.add_argument("--replot", action="store_true",
                    help="no training: print and draw the results saved in --out by a full run")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("LSTMLAB_QUICK", "") not in ("", "0"),
                    help="a few seconds: tiny models, few steps (also LSTMLAB_QUICK=1)")
# parse_known_args: in a notebook, sys.argv holds the kernel's own "-f <file>" arguments
args, unknown = parser.parse_known_args()
if unknown and "ipykernel" not in sys.modules:  # outside a notebook a typo is an error
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
if args.quick:
    args.seeds, args.hidden, args.char_steps, args.add_steps, args.add_T = 2, 8, 6, 6, 10

try:  # before any training: a missing plotting library must not cost a run
    plot.check_matplotlib()
except ModuleNotFoundError as error:
    sys.exit(f"lstm_variants.py: {error}")

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The variants: each is V with one change, as ``ll.LSTM`` options
#
# ``None`` stands for the GRU. Every variant runs the textbook cells
# (``ll.LSTM`` picks ``Recurrent`` for any non-default option); NP and the GRU
# would run the fused path, so every model asks for the textbook path
# (``fast=False``): all compute the same way, and their times compare.

# %%
ALL_VARIANTS = {
    "V": {"peephole": True},
    "NIG": {"peephole": True, "input_gate": False},
    "NFG": {"peephole": True, "forget_gate": False},
    "NOG": {"peephole": True, "output_gate": False},
    "NIAF": {"peephole": True, "input_activation": False},
    "NOAF": {"peephole": True, "output_activation": False},
    "NP": {},
    "CIFG": {"peephole": True, "coupled": True},
    "FGR": {"peephole": True, "gate_recurrence": True},
    "GRU": None,
}
names = [name.strip() for name in args.variants.split(",")]
unknown = sorted(set(names) - set(ALL_VARIANTS))
if unknown:
    raise SystemExit(f"--variants: unknown {unknown}; choose from {list(ALL_VARIANTS)}")
VARIANTS = {name: ALL_VARIANTS[name] for name in names}


def recurrent_layer(options, D, H, rng, dtype=np.float32):
    """One recurrent layer: an LSTM with the variant's options, or a GRU (options None)."""
    if options is None:
        return ll.GRU(D, H, dtype=dtype, rng=rng, fast=False)
    return ll.LSTM(D, H, dtype=dtype, rng=rng, fast=False, **options)


# %% [markdown]
# ## Task 1, chars: a character model on standard-library docstrings

# %%
MODULES = ("argparse", "collections", "datetime", "functools", "itertools", "json", "os",
           "pathlib", "random", "re", "string", "textwrap", "typing", "unittest.case")


def docstrings(modules=MODULES):
    """The docstrings of ``modules`` and of their public members, in sorted order, once each."""
    seen, parts = set(), []
    for name in modules:
        module = importlib.import_module(name)
        members = [module] + [obj for attr, obj in sorted(vars(module).items())
                              if not attr.startswith("_")
                              and getattr(obj, "__module__", None) == module.__name__
                              and (inspect.isclass(obj) or inspect.isroutine(obj))]
        for obj in members:
            doc = inspect.getdoc(obj)
            if doc and doc not in seen:
                seen.add(doc)
                parts.append(doc)
    return "\n\n".join(parts) + "\n"


text = docstrings()
if args.quick:
    text = text[:6_000]
vocab = ll.data.Vocab(text)
ids = vocab.encode(text)
cut = int(0.9 * len(ids))
train_ids, test_ids = ids[:cut], ids[cut:]  # the held-out text: the last tenth
CHAR = {"E": 16, "N": 32, "T": 32} if not args.quick else {"E": 4, "N": 4, "T": 8}
print(f"chars: {len(text):,} characters of docstrings, {len(vocab)} distinct; train "
      f"{len(train_ids):,}, held out {len(test_ids):,}")


def train_chars(options, seed):
    """Train a character model; return its held-out bits per character."""
    rng = np.random.default_rng(seed)
    cell, options = ("gru", {}) if options is None else ("lstm", options)
    model = ll.LanguageModel(len(vocab), CHAR["E"], args.hidden, cell=cell, dtype=np.float32,
                             rng=rng, fast=False, **options)
    opt = ll.Adam(model.params, model.grads, lr=args.lr)
    batches, step, state = ll.data.bptt_batches(train_ids, CHAR["N"], CHAR["T"]), 0, None
    while step < args.char_steps:
        for x, y in batches:  # one epoch: the streams from their start
            model.zero_grad()
            logits, state = model.forward(x, state)  # the state carries across chunks
            loss, dlogits = ll.cross_entropy(logits, y)
            model.backward(dlogits)
            ll.clip_grad_norm(model, 1.0)
            opt.step()
            step += 1
            if step == args.char_steps or not np.isfinite(loss):
                break
        state = None
        if not np.isfinite(loss):
            return float("nan")
    return ll.bits_per_char(model.evaluate(test_ids, batch_size=8, seq_len=64))


# %% [markdown]
# ## Task 2, adding: remember two marked values across T steps

# %%
ADD = {"N": 32, "test": 512}


def adding_batch(N, T, rng):
    """Inputs (T, N, 2): a value in U(0, 1) and a marker; targets (N, 1): the marked sum."""
    values = rng.random((T, N))
    first = rng.integers(0, T // 2, size=N)  # one marker in each half
    second = rng.integers(T // 2, T, size=N)
    markers = np.zeros((T, N))
    markers[first, np.arange(N)] = markers[second, np.arange(N)] = 1.0
    x = np.stack([values, markers], axis=2).astype(np.float32)
    y = (values * markers).sum(axis=0)[:, None].astype(np.float32)
    return x, y


x_test, y_test = adding_batch(ADD["test"], args.add_T, np.random.default_rng(12345))


def train_adding(options, seed):
    """Train a many-to-one model on fresh batches; return its test MSE."""
    rng = np.random.default_rng(seed)
    model = ll.Model(rnn=recurrent_layer(options, 2, args.hidden, rng),
                     head=ll.Linear(args.hidden, 1, dtype=np.float32, rng=rng))
    opt = ll.Adam(model.params, model.grads, lr=args.lr)
    for _ in range(args.add_steps):
        x, y = adding_batch(ADD["N"], args.add_T, rng)
        model.zero_grad()
        hs, _ = model.rnn.forward(x)
        loss, dpred = ll.mse(model.head.forward(hs[-1]), y)  # read the last step only
        dhs = np.zeros_like(hs)
        dhs[-1] = model.head.backward(dpred)
        model.rnn.backward(dhs)
        ll.clip_grad_norm(model, 1.0)
        opt.step()
        if not np.isfinite(loss):
            return float("nan")
    with ll.no_grad():
        hs, _ = model.rnn.forward(x_test)
        return float(ll.mse(model.head.forward(hs[-1]), y_test)[0])


# %% [markdown]
# ## Every variant, every task, several seeds

# %%
TASKS = {"chars": train_chars, "adding": train_adding}


def run_all():
    """Every task, variant and seed; return the scores, seconds per variant and minutes."""
    results = {task: {name: [] for name in VARIANTS} for task in TASKS}
    seconds = {name: 0.0 for name in VARIANTS}
    start = time.perf_counter()
    progress = ll.Progress(len(TASKS) * len(VARIANTS) * args.seeds, desc="runs")
    for seed in range(args.seeds):
        for task, train in TASKS.items():
            for name, options in VARIANTS.items():
                t0 = time.perf_counter()
                results[task][name].append(train(options, seed))
                seconds[name] += time.perf_counter() - t0
                progress.update(task=task, variant=name, score=results[task][name][-1])
    progress.close()
    return results, seconds, (time.perf_counter() - start) / 60


results_path = out / "lstm_variants.json"
if args.replot:  # the numbers of the last run in --out: no training
    saved = json.loads(results_path.read_text())
    results, seconds, minutes = saved["results"], saved["seconds"], saved["minutes"]
    print(f"read {results_path} (its run: {saved['config']})")
else:
    results, seconds, minutes = run_all()
    config = {k: v for k, v in vars(args).items() if k not in ("out", "replot")}
    results_path.write_text(json.dumps(  # saved before anything is drawn
        {"config": config, "results": results, "seconds": seconds, "minutes": minutes}, indent=1))
runs = sum(len(values) for scores in results.values() for values in scores.values())
print(f"{runs} runs in {minutes:.1f} min; scores saved in {results_path}")

# %% [markdown]
# ## The numbers, and a verdict against V
#
# With a few seeds a test of significance means little; the verdict here is
# plain: a variant is **worse** (better) than V on a task when even its best
# (worst) run is worse (better) than V's worst (best) run, else **alike**.
# Lower is better for both scores.

# %%
units = {"chars": "held-out bits/char", "adding": "test MSE"}


def verdict(values, base):
    """'worse', 'better' or 'alike' than the baseline's runs (lower scores are better)."""
    values, base = np.nan_to_num(values, nan=np.inf), np.nan_to_num(base, nan=np.inf)
    if values.min() > base.max():
        return "worse"
    return "better" if values.max() < base.min() else "alike"


for task, scores in results.items():
    base = np.array(scores["V"], dtype=float) if "V" in scores else None
    print(f"\n{task} ({units[task]}; median, min .. max over seeds)")
    for name, values in scores.items():
        v = np.array(values, dtype=float)
        against = "" if base is None or name == "V" else (
            f"  {np.median(v) / np.median(base):5.2f} x V  {verdict(v, base)}")
        print(f"  {name:5} {np.median(v):8.4f}   {np.nanmin(v):8.4f} .. {np.nanmax(v):8.4f}"
              f"   {seconds[name] / len(v):5.1f} s per seed (both tasks){against}")

# %%
print("figure:", out / "lstm_variants.png")
plot.box_plots({f"{task}: {units[task]}": scores for task, scores in results.items()},
               baseline="V", logy={f"adding: {units['adding']}"},
               title="LSTM variants (Greff et al. 2015, in small): lower is better",
               path=out / "lstm_variants.png")
