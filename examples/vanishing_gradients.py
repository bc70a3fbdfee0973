# %% [markdown]
# # Vanishing and exploding gradients through time, measured; and gradient clipping
#
# Runs top to bottom, as `python examples/vanishing_gradients.py` does. The outputs saved in this
# notebook come from its quick mode (`--quick`, or `LSTMLAB_QUICK=1` in the environment
# Jupyter starts from); the docstring below quotes a full run. To change an option here,
# change its default in the first code cell.

# %%
"""Vanishing and exploding gradients through time, measured; and gradient clipping.

Part 1 is the experiment of Bengio, Simard & Frasconi (1994). Put a loss on
the last step of a length-T sequence and backpropagate through time: how big
is the gradient dL/dh_{T-1-k} that reaches k steps back? For a tanh RNN each
step back multiplies it by the Jacobian ``diag(1 - h_t^2) W_h^T``, so its
norm behaves like s^k, s the scale of W_h: with W_h = s Q (Q orthogonal, so
every singular value of W_h is s) it vanishes geometrically for s = 0.5,
decays more slowly for s = 1 (the tanh' < 1 factors), and explodes for
s = 2. An LSTM with the same scale on every gate block also carries the
gradient back along its additive cell path ``c_t = f * c_{t-1} + i * g``,
where each step multiplies it by the forget gate f instead of by W_h, so how
far it reaches is set by f, i.e. by the forget-gate bias. A second figure
shows that at s = 1 for the biases 0, 1 and 3.
``Recurrent(cell, record_grad_norms=True)`` records the norms.

Part 2 is the exploding case in training (Pascanu, Mikolov & Bengio, 2013).
A tanh RNN with s = 1.5 (where the gradient grows through time) learns to
recall the input it saw ``--lag`` steps ago, twice, from the same initial
weights and the same batches, with plain SGD: once as is, once with
``ll.clip_grad_norm`` rescaling the global gradient to norm 1. The figures
show the loss and the gradient norm (before clipping) at every step.

Run::

    python examples/vanishing_gradients.py          # full run
    python examples/vanishing_gradients.py --quick  # seconds, a smoke test

or open ``examples/vanishing_gradients.ipynb`` (its outputs come from ``--quick``).

A full run on this 2-core machine (seed 0, defaults: T = 100, H = 64; 7
seconds) printed::

    Part 1: norm of dL/dh_(T-1-k) / norm of dL/dh_(T-1), T = 100, H = 64
                                     k=1      k=10      k=25      k=50      k=99
      tanh RNN, s = 0.5            0.485  0.000708  1.31e-08  1.64e-16   5.8e-32
      tanh RNN, s = 1              0.897     0.342    0.0679   0.00427  2.76e-05
      tanh RNN, s = 2               1.14      4.18      45.5  1.65e+03  1.01e+07
      LSTM, s = 0.5, forget bias 1 0.121    0.0144   0.00097   1.4e-05   4.2e-09   mean f = 0.73
      LSTM, s = 1, forget bias 1   0.236     0.072      0.03   0.00952   0.00111   mean f = 0.73
      LSTM, s = 2, forget bias 1   0.438     0.262     0.437      1.51      44.4   mean f = 0.72
      LSTM, s = 1, forget bias 0   0.243   0.00726   6.4e-05  3.06e-08  1.04e-14   mean f = 0.50
      LSTM, s = 1, forget bias 3    0.23    0.0724    0.0823      0.13      8.89   mean f = 0.95

    Part 2: tanh RNN, s = 1.5, recall the input 5 steps back (T = 50); SGD lr 0.05,
    1000 steps; predicting 0 gives MSE 1/3
      no clipping        stopped at step 275 (not finite); largest loss 2.68e+305 x the
                         first; largest finite gradient norm 5.14e+153
      clip_grad_norm(1)  mean loss of the last 50 steps 0.0353; largest loss 1.23 x the
                         first; largest finite gradient norm 40.8

(columns aligned by hand). What it shows: 99 steps back, the tanh RNN keeps
6e-32 of the gradient at s = 0.5 and 3e-5 at s = 1, and multiplies it by 1e7
at s = 2. The LSTM with forget bias 1 (mean f = 0.73) is tamer in both
directions: 4e-9, 1e-3, and 44. Its first step back costs more than the
RNN's (the gradient into h_{t-1} passes through the gates), and the rest is
the forget gate's doing: with bias 0 (f = 0.50) the LSTM loses its gradient
faster than the RNN (1e-14), with bias 3 (f = 0.95) it does not decay at all
over 99 steps. (Part 1 is one float64 forward and backward: its digits
reproduce on any machine, and ``tests/test_claims.py`` recomputes them.)

Training at s = 1.5 without clipping diverges: within a few hundred steps the
loss grows by many orders of magnitude. Whether and when it overflows depends
on the machine's rounding (this machine: at step 275; another reached a loss
of 2.7e17 without overflowing), but over seeds 0-13 the largest loss was
always at least 9e5 times the first. With clipping the same run goes from
the 0.33 of guessing 0 to about 0.035 and its loss never exceeds the start
by much.

References
----------
Bengio, Y., Simard, P. & Frasconi, P. (1994). Learning long-term dependencies
with gradient descent is difficult. IEEE Trans. Neural Networks 5(2).
Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training
recurrent neural networks. ICML.
"""

# Imports and options
import os

# One BLAS thread: the matrices are small, where a second thread only adds hand-offs
# (and a busy machine makes spinning BLAS threads very slow). Override with the variable.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot
from lstmlab.init import orthogonal

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
parser.add_argument("--T", type=int, default=100, help="sequence length of part 1")
parser.add_argument("--hidden", type=int, default=64, help="hidden size H")
parser.add_argument("--input-size", type=int, default=4, help="D of part 1")
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--forget-bias", type=float, default=1.0,
                    help="part 1: the LSTM's initial forget-gate bias")
parser.add_argument("--T-train", type=int, default=50, help="sequence length of part 2")
parser.add_argument("--lag", type=int, default=5, help="part 2: recall the input this far back")
parser.add_argument("--explode-scale", type=float, default=1.5, help="part 2: scale s of W_h")
parser.add_argument("--steps", type=int, default=1000, help="part 2: SGD steps per run")
parser.add_argument("--lr", type=float, default=0.05, help="part 2: SGD learning rate")
parser.add_argument("--clip", type=float, default=1.0, help="part 2: max gradient norm")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/vanishing_gradients", help="directory for results")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("LSTMLAB_QUICK", "") not in ("", "0"),
                    help="a few seconds: small sizes (also LSTMLAB_QUICK=1)")
# parse_known_args: in a notebook, sys.argv holds the kernel's own "-f <file>.json"
args, unknown = parser.parse_known_args()
if unknown and "ipykernel" not in sys.modules:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
if args.quick:
    args.T, args.hidden, args.T_train, args.steps = 30, 16, 20, 30

try:  # before any training: a missing plotting library must not cost a run
    plot.check_matplotlib()
except ModuleNotFoundError as error:
    sys.exit(f"vanishing_gradients.py: {error}")

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
SCALES = (0.5, 1.0, 2.0)


# %% [markdown]
# ## Part 1: the norm of dL/dh_{T-1-k}, k steps back from a loss on the last step
# Every (H, H) block of W_h is `s` times an orthogonal matrix, so all its singular values are
# `s`. `ll.Recurrent(cell, record_grad_norms=True)` records the norm of the gradient that
# reaches every step.

# %%
def scaled_cell(kind, D, H, scale, seed, forget_bias=0.0):
    """A tanh RNN or LSTM cell whose every (H, H) block of W_h is ``scale`` times orthogonal.

    The other weights keep their default initialisation (and an LSTM's
    forget-gate bias is ``forget_bias``).
    """
    if kind == "RNN":
        cell = ll.RNNCell(D, H, rng=seed)
    else:
        cell = ll.LSTMCell(D, H, forget_bias=forget_bias, rng=seed)
    W_h = cell.params["W_h"]  # (H, G*H), updated in place: the cell keeps its array
    W_h[...] = orthogonal(W_h.shape, np.random.default_rng(seed + 1), gain=scale)
    return cell


def gradient_norms(kind, scale, forget_bias=0.0):
    """Forward a random sequence, put a random gradient on h_{T-1}, record the norms.

    Returns
    -------
    norms : ndarray (T,), indexed by time, divided by the norm of dL/dh_{T-1}
    mean_f : float or None, the LSTM's mean forget gate over the sequence
    """
    rng = np.random.default_rng(args.seed)
    T, N, D, H = args.T, args.batch, args.input_size, args.hidden
    xs = rng.standard_normal((T, N, D))  # (T, N, D), the same inputs for every model
    cell = scaled_cell(kind, D, H, scale, args.seed, forget_bias)
    layer = ll.Recurrent(cell, record_grad_norms=True)
    hs, _ = layer.forward(xs)  # (T, N, H)
    dhs = np.zeros_like(hs)
    dhs[-1] = rng.standard_normal((N, H))  # dL/dh_{T-1} = G, i.e. L = sum(h_{T-1} * G)
    layer.backward(dhs)
    norms = layer.grad_norms["h"]
    mean_f = None
    if kind == "LSTM":  # the forget gate multiplies the gradient on the cell path at every step
        state, f_sum = cell.initial_state(N), 0.0
        for t in range(T):
            state, cache = cell.forward(xs[t], state)
            f_sum += cache.f.mean()
        mean_f = f_sum / T
    return norms / norms[-1], mean_f


print(f"Part 1: norm of dL/dh_(T-1-k) / norm of dL/dh_(T-1), T = {args.T}, H = {args.hidden}")
ks = [k for k in (1, 10, 25, 50, args.T - 1) if k < args.T]
print(f"  {'':34}" + "".join(f"{'k=' + str(k):>10}" for k in ks))
table, curves = {}, {}
runs = [("RNN", s, args.forget_bias) for s in SCALES] + [("LSTM", s, args.forget_bias)
                                                         for s in SCALES]
runs += [("LSTM", 1.0, b) for b in (0.0, 3.0) if b != args.forget_bias]
for kind, scale, forget_bias in runs:
    norms, mean_f = gradient_norms(kind, scale, forget_bias)
    label = (f"tanh RNN, s = {scale:g}" if kind == "RNN"
             else f"LSTM, s = {scale:g}, forget bias {forget_bias:g}")
    curves[label] = norms
    table[label] = {k: float(norms[args.T - 1 - k]) for k in ks}
    gate = "" if mean_f is None else f"   mean f = {mean_f:.2f}"
    print(f"  {label:34}" + "".join(f"{table[label][k]:10.3g}" for k in ks) + gate)
np.savez(out / "grad_norms.npz", **curves)

# %% [markdown]
# The tanh RNN: vanishing at s = 0.5, slower decay at s = 1 (tanh' < 1), exploding at s = 2.
# The LSTM's additive cell path multiplies the gradient by the forget gate instead.

# %%
scale_curves = {k: v for k, v in curves.items() if "forget bias" not in k
                or k.endswith(f"forget bias {args.forget_bias:g}")}
plot.grad_norms_through_time(
    scale_curves, path=out / "grad_norms_through_time.png",
    ylabel="|dL/dh_(T-1-k)| / |dL/dh_(T-1)|",
    title=f"Gradient through time, W_h = s x orthogonal (T = {args.T}, H = {args.hidden})")

# %% [markdown]
# At s = 1, the forget-gate bias sets how far an LSTM's gradient reaches.

# %%
bias_curves = {k: v for k, v in curves.items() if k == "tanh RNN, s = 1" or "s = 1," in k}
plot.grad_norms_through_time(
    bias_curves, path=out / "grad_norms_forget_bias.png",
    ylabel="|dL/dh_(T-1-k)| / |dL/dh_(T-1)|",
    title="The forget gate sets how far an LSTM's gradient reaches (s = 1)")


# %% [markdown]
# ## Part 2: training in the exploding regime, with and without clipping
# A tanh RNN with s = 1.5 and a Linear read-out of its last state (`ll.ManyToOne`) learns
# to recall the input it saw `lag` steps ago, with plain SGD, from the same initial weights on
# the same batches: once as is, once with `ll.clip_grad_norm`. Predicting 0 gives MSE 1/3.

# %%
def recall_batch(T, N, lag, rng):
    """Inputs u_t ~ U(-1, 1), shape (T, N, 1); target u_{T-1-lag}, shape (N, 1)."""
    u = rng.uniform(-1.0, 1.0, size=(T, N, 1))
    return u, u[T - 1 - lag].copy()


def global_norm(grads):
    """sqrt of the sum of every squared gradient element (what clip_grad_norm measures)."""
    return math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))


def train_recall(clip):
    """Train the s-scaled tanh RNN + read-out; return its losses and gradient norms.

    ``clip=None`` trains without clipping. If the loss or the gradient stops
    being finite (the weights overflowed), training stops there and says so.
    """
    rng = np.random.default_rng(args.seed)
    cell = scaled_cell("RNN", 1, args.hidden, args.explode_scale, args.seed)
    model = ll.ManyToOne(ll.Recurrent(cell), 1, rng=args.seed)
    opt = ll.SGD(model.params, model.grads, lr=args.lr)
    losses, norms, diverged_at = [], [], None
    label = "no clipping" if clip is None else f"clip at {clip:g}"
    progress = ll.Progress(total=args.steps, desc=f"[{label}]")
    # Without clipping the weights may grow until tanh's input or the loss overflows:
    # we let NumPy produce inf/nan quietly here and stop on the first non-finite value.
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, args.steps + 1):
            x, y = recall_batch(args.T_train, args.batch, args.lag, rng)
            model.zero_grad()
            loss, dy = ll.mse(model.forward(x), y)
            model.backward(dy)
            if clip is None:
                norm = global_norm(model.grads)
            else:
                norm = ll.clip_grad_norm(model, clip, error_if_nonfinite=False)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                diverged_at = step
                break
            losses.append(loss)
            norms.append(norm)
            opt.step()
            progress.update(loss=loss, grad_norm=norm)
    progress.close()
    if diverged_at is not None:
        print(f"[{label}] step {diverged_at}: the loss or the gradient is no longer finite "
              "(the weights overflowed); training stopped")
    return {"loss": losses, "grad_norm": norms, "diverged_at": diverged_at}


print(f"Part 2: tanh RNN, s = {args.explode_scale:g}, recall the input {args.lag} steps back "
      f"(T = {args.T_train}); SGD lr {args.lr:g}, {args.steps} steps; predicting 0 gives MSE 1/3")
training = {"no clipping": train_recall(None),
            f"clip_grad_norm({args.clip:g})": train_recall(args.clip)}
(out / "clipping.json").write_text(json.dumps(training))
for name, r in training.items():
    first, top = r["loss"][0], max(r["loss"])
    status = (f"stopped at step {r['diverged_at']} (not finite)" if r["diverged_at"]
              else f"mean loss of the last 50 steps {np.mean(r['loss'][-50:]):.4g}")
    print(f"  {name:20} {status}; largest loss {top / first:.3g} x the first; largest finite "
          f"gradient norm {max(r['grad_norm']):.3g}")

# %% [markdown]
# The loss: without clipping it grows by orders of magnitude (on some machines until it
# overflows); with clipping it falls below the 1/3 of predicting 0.

# %%
labels = {name: name if r["diverged_at"] is None
          else f"{name} (overflow at step {r['diverged_at']})" for name, r in training.items()}
plot.learning_curves({labels[k]: r["loss"] for k, r in training.items()}, logy=True,
                     smooth=max(1, min(20, args.steps // 20)), ylim=(1e-3, 1e3),
                     baselines={"predict 0": 1 / 3}, ylabel="training MSE",
                     path=out / "clipping_loss.png",
                     title="Exploding gradients: training with and without clipping")

# %%
plot.learning_curves({labels[k]: r["grad_norm"] for k, r in training.items()}, logy=True,
                     baselines={"clip threshold": args.clip},
                     ylabel="gradient norm (before clipping)", path=out / "clipping_grad_norm.png",
                     title="Global gradient norm per step")
