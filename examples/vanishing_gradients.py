"""Vanishing and exploding gradients through time, measured; and gradient clipping.

Part 1 is the experiment of Bengio, Simard & Frasconi (1994). Put a loss on
the last step of a length-T sequence and backpropagate through time: how big
is the gradient dL/dh_{T-1-k} that reaches k steps back? For a tanh RNN each
step back multiplies it by the Jacobian ``diag(1 - h_t^2) W_h^T``, so its
norm behaves like s^k, s the scale of W_h: with W_h = s Q (Q orthogonal, so
every singular value of W_h is s) it vanishes geometrically for s = 0.5,
decays more slowly for s = 1 (the tanh' < 1 factors), and explodes for
s = 2. An LSTM with the same scale on every gate block sends the gradient
back along its additive cell path ``c_t = f * c_{t-1} + i * g``, multiplied
by the forget gate f instead of by W_h: it decays far more slowly.
``Recurrent(cell, record_grad_norms=True)`` records the norms.

Part 2 is the exploding case in training (Pascanu, Mikolov & Bengio, 2013).
The same tanh RNN with s = 2 learns to recall the input it saw ``--lag``
steps ago, twice, from the same initial weights and the same batches, with
plain SGD: once as is, once with ``ll.clip_grad_norm`` rescaling the global
gradient to norm 1. The figures show the loss and the gradient norm (before
clipping) at every step.

Run::

    python examples/vanishing_gradients.py          # full run
    python examples/vanishing_gradients.py --quick  # seconds, a smoke test

A full run on this 2-core machine (seed 0) printed::

    FULL-RUN RESULTS GO HERE

References
----------
Bengio, Y., Simard, P. & Frasconi, P. (1994). Learning long-term dependencies
with gradient descent is difficult. IEEE Trans. Neural Networks 5(2).
Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training
recurrent neural networks. ICML.
"""

# %% Imports
import os

# One BLAS thread: the matrices are small, where a second thread only adds hand-offs
# (and a busy machine makes spinning BLAS threads very slow). Override with the variable.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import math
import time
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot
from lstmlab.init import orthogonal

SCALES = (0.5, 1.0, 2.0)


def scaled_cell(kind, D, H, scale, seed, forget_bias=0.0):
    """A tanh RNN or LSTM cell whose every (H, H) block of W_h is ``scale`` times orthogonal.

    Each block then has all its singular values equal to ``scale``, the
    largest included. The other weights keep their default initialisation
    (and an LSTM's forget-gate bias is ``forget_bias``).
    """
    if kind == "RNN":
        cell = ll.RNNCell(D, H, rng=seed)
    else:
        cell = ll.LSTMCell(D, H, forget_bias=forget_bias, rng=seed)
    W_h = cell.params["W_h"]  # (H, G*H), updated in place: the cell keeps its array
    W_h[...] = orthogonal(W_h.shape, np.random.default_rng(seed + 1), gain=scale)
    return cell


# %% Part 1: the norm of dL/dh_{T-1-k}, k steps back from a loss on the last step
def gradient_norms(kind, scale, args, forget_bias=0.0):
    """Forward a random sequence, put a random gradient on h_{T-1}, record the norms.

    Returns
    -------
    norms : dict with ``"h"`` (and for the LSTM ``"c"``), arrays (T,) indexed
        by time, each divided by the norm of dL/dh_{T-1}
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
    norms = layer.grad_norms
    mean_f = None
    if kind == "LSTM":  # the forget gate multiplies the gradient on the cell path at every step
        state, f_sum = cell.initial_state(N), 0.0
        for t in range(T):
            state, cache = cell.forward(xs[t], state)
            f_sum += cache.f.mean()
        mean_f = f_sum / T
    return {name: values / norms["h"][-1] for name, values in norms.items()}, mean_f


# %% Part 2: training in the exploding regime, with and without clipping
def recall_batch(T, N, lag, rng):
    """Inputs u_t ~ U(-1, 1), shape (T, N, 1); target u_{T-1-lag}, shape (N, 1).

    Predicting 0 gives MSE = Var(u) = 1/3.
    """
    u = rng.uniform(-1.0, 1.0, size=(T, N, 1))
    return u, u[T - 1 - lag].copy()


def global_norm(grads):
    """sqrt of the sum of every squared gradient element (what clip_grad_norm measures)."""
    return math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))


def train_recall(clip, args):
    """Train the s-scaled tanh RNN + Linear read-out; return losses and gradient norms.

    ``clip=None`` trains without clipping. If the loss stops being finite
    (the weights overflowed), training stops there and says so.
    """
    rng = np.random.default_rng(args.seed)
    cell = scaled_cell("RNN", 1, args.hidden, args.explode_scale, args.seed)
    model = ll.Model(rnn=ll.Recurrent(cell), head=ll.Linear(args.hidden, 1, rng=args.seed))
    opt = ll.SGD(model.params, model.grads, lr=args.lr)
    losses, norms = [], []
    diverged_at = None
    label = "no clipping" if clip is None else f"clip at {clip:g}"
    start = time.perf_counter()
    # Without clipping the weights may grow until tanh's input or the loss overflows:
    # we let NumPy produce inf/nan quietly here and stop on the first non-finite loss.
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, args.steps + 1):
            x, y = recall_batch(args.T_train, args.batch, args.lag, rng)
            model.zero_grad()
            hs, _ = model.rnn.forward(x)  # (T, N, H)
            loss, dy = ll.mse(model.head.forward(hs[-1]), y)
            if not math.isfinite(loss):
                diverged_at = step
                break
            dhs = np.zeros_like(hs)
            dhs[-1] = model.head.backward(dy)
            model.rnn.backward(dhs)
            if clip is None:
                norm = global_norm(model.grads)
            else:
                norm = ll.clip_grad_norm(model.grads, clip, error_if_nonfinite=False)
            losses.append(loss)
            norms.append(norm)
            if not math.isfinite(norm):
                diverged_at = step
                break
            opt.step()
            if step % args.print_every == 0 or step == args.steps:
                elapsed = time.perf_counter() - start
                eta = elapsed / step * (args.steps - step)
                print(f"[{label}] step {step:4d}/{args.steps}  loss {loss:10.4g}"
                      f"  grad norm {norm:10.4g}  elapsed {elapsed:5.1f}s  eta {eta:5.1f}s",
                      flush=True)
    if diverged_at is not None:
        print(f"[{label}] step {diverged_at}: the loss or the gradient is no longer finite "
              "(the weights overflowed); training stopped")
    return {"loss": np.array(losses), "grad_norm": np.array(norms), "diverged_at": diverged_at}


# %% Main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=100, help="sequence length of part 1")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size H")
    parser.add_argument("--input-size", type=int, default=4, help="D of part 1")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--forget-bias", type=float, default=1.0,
                        help="part 1: the LSTM's initial forget-gate bias")
    parser.add_argument("--T-train", type=int, default=50, help="sequence length of part 2")
    parser.add_argument("--lag", type=int, default=5, help="part 2: recall the input this far back")
    parser.add_argument("--explode-scale", type=float, default=2.0, help="part 2: scale s of W_h")
    parser.add_argument("--steps", type=int, default=1000, help="part 2: SGD steps per run")
    parser.add_argument("--lr", type=float, default=0.05, help="part 2: SGD learning rate")
    parser.add_argument("--clip", type=float, default=1.0, help="part 2: max gradient norm")
    parser.add_argument("--print-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/vanishing_gradients", help="directory for figures")
    parser.add_argument("--quick", action="store_true", help="a few seconds: small sizes")
    args = parser.parse_args(argv)
    if args.quick:
        args.T, args.hidden, args.T_train, args.steps, args.print_every = 30, 16, 20, 30, 10
    out = Path(args.out)

    # %% Part 1
    print(f"Part 1: norm of dL/dh_(T-1-k) / norm of dL/dh_(T-1), T = {args.T}, H = {args.hidden}")
    table = {}
    ks = [k for k in (1, 10, 25, 50, args.T - 1) if k < args.T]
    print(f"  {'':34}" + "".join(f"{'k=' + str(k):>10}" for k in ks))

    def measure(kind, scale, forget_bias, curves):
        norms, mean_f = gradient_norms(kind, scale, args, forget_bias)
        if kind == "RNN":
            label = f"tanh RNN, s = {scale:g}"
        else:
            label = f"LSTM, s = {scale:g}, forget bias {forget_bias:g}"
        curves[label] = norms["h"]
        table[label] = {k: float(norms["h"][args.T - 1 - k]) for k in ks}
        gate = "" if mean_f is None else f"   mean f = {mean_f:.2f}"
        print(f"  {label:34}" + "".join(f"{table[label][k]:10.3g}" for k in ks) + gate)

    scale_curves, bias_curves = {}, {}
    for kind in ("RNN", "LSTM"):
        for scale in SCALES:
            measure(kind, scale, args.forget_bias, scale_curves)
    print("  the LSTM at s = 1 with other forget-gate biases:")
    bias_curves["tanh RNN, s = 1"] = scale_curves["tanh RNN, s = 1"]
    for forget_bias in (0.0, args.forget_bias, 3.0):
        label = f"LSTM, s = 1, forget bias {forget_bias:g}"
        if label in scale_curves:
            bias_curves[label] = scale_curves[label]
        else:
            measure("LSTM", 1.0, forget_bias, bias_curves)
    fig1 = out / "grad_norms_through_time.png"
    plot.grad_norms_through_time(
        scale_curves, path=fig1, ylabel="|dL/dh_(T-1-k)| / |dL/dh_(T-1)|",
        title=f"Gradient through time, W_h = s x orthogonal (T = {args.T}, H = {args.hidden})")
    fig1b = out / "grad_norms_forget_bias.png"
    plot.grad_norms_through_time(
        bias_curves, path=fig1b, ylabel="|dL/dh_(T-1-k)| / |dL/dh_(T-1)|",
        title="The forget gate sets how far an LSTM's gradient reaches (s = 1)")

    # %% Part 2
    print(f"\nPart 2: tanh RNN, s = {args.explode_scale:g}, recall the input {args.lag} steps back "
          f"(T = {args.T_train}); SGD lr {args.lr:g}, {args.steps} steps; "
          "predicting 0 gives MSE 1/3")
    runs = {"no clipping": train_recall(None, args),
            f"clip_grad_norm({args.clip:g})": train_recall(args.clip, args)}
    fig2 = out / "clipping_loss.png"
    fig3 = out / "clipping_grad_norm.png"
    smooth = max(1, min(20, args.steps // 20))
    plot.learning_curves({k: r["loss"] for k, r in runs.items()}, logy=True, smooth=smooth,
                         baselines={"predict 0": 1 / 3}, ylabel="training MSE", path=fig2,
                         title="Exploding gradients: training with and without clipping")
    plot.learning_curves({k: r["grad_norm"] for k, r in runs.items()}, logy=True,
                         baselines={"clip threshold": args.clip}, ylabel="gradient norm "
                         "(before clipping)", path=fig3, title="Global gradient norm per step")
    summary = {}
    for name, r in runs.items():
        tail = r["loss"][-50:]
        summary[name] = {
            "final_loss": float(np.mean(tail)) if len(tail) else float("nan"),
            "max_grad_norm": float(np.max(r["grad_norm"])) if len(r["grad_norm"]) else 0.0,
            "diverged_at": r["diverged_at"],
        }
        status = (f"stopped at step {r['diverged_at']} (not finite)" if r["diverged_at"]
                  else f"mean loss of the last 50 steps {summary[name]['final_loss']:.4g}")
        print(f"  {name:20} {status}; largest gradient norm {summary[name]['max_grad_norm']:.3g}")
    figures = [str(fig1), str(fig1b), str(fig2), str(fig3)]
    print("figures:", *figures)
    return {"ratios": table, "training": summary, "figures": figures}


if __name__ == "__main__":
    main()
