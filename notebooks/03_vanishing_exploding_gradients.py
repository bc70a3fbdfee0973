# %% [markdown]
# # 03 · Vanishing and exploding gradients
#
# **Learning path:** [01 one cell by hand](01_lstm_cell_by_hand.ipynb) → [02 backpropagation
# through time and the gradient check](02_bptt_and_gradient_check.ipynb) → **03 vanishing and
# exploding gradients** → [04 a character language model](04_char_language_model.ipynb) →
# [05 sequence to sequence](05_seq2seq.ipynb)
#
# Put a loss on the **last** step of a sequence and backpropagate through time. How much of
# the gradient reaches the step k steps back? For a tanh RNN each step back multiplies it by
# one Jacobian,
#
# ```text
# dh_{t-1} = (dh_t * (1 - h_t²)) W_h^T
# ```
#
# so k steps back it has been multiplied by k matrices: it shrinks or grows geometrically,
# roughly like `s^k` where `s` is the size (the largest singular value) of `W_h`. The LSTM
# has a second way back, its cell path `c = f * c_prev + i * g`, where each step multiplies
# the gradient by the forget gate `f` and by no matrix at all. In this notebook you measure
# both, see what the forget-gate bias does, and then watch an exploding gradient wreck a
# training run that gradient clipping rescues.
#
# The derivation, with the bound `||dh_{T-k}|| <= s^k ||dh_T||` and why the LSTM escapes it,
# is [docs/gradients.md](../docs/gradients.md). BPTT itself is [docs/bptt.md](../docs/bptt.md)
# and notebook [02](02_bptt_and_gradient_check.ipynb).

# %%
import os

# Small matrices: one BLAS thread is faster, and on a busy machine extra BLAS threads
# that spin waiting for a core slow everything down. Set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import math

import numpy as np

import lstmlab as ll
from lstmlab import plot
from lstmlab.init import orthogonal

plot.check_matplotlib()  # the figures need matplotlib: if it is missing, say so now

QUICK = os.environ.get("LSTMLAB_QUICK", "") not in ("", "0")  # the test suite's smoke run
T, N, D, H = (30, 8, 4, 16) if QUICK else (100, 32, 4, 64)
rng = np.random.default_rng(0)
xs = rng.standard_normal((T, N, D))  # the same inputs for every model

# %% [markdown]
# ## Cells with a chosen scale `s` of `W_h`
#
# To control the experiment we set every (H, H) block of `W_h` to `s` times an orthogonal
# matrix: then **all** its singular values equal `s`. (An LSTM has four such blocks, one per
# gate.) The other weights keep their default initialisation.

# %%
def scaled_cell(kind, scale, forget_bias=1.0, input_size=D, seed=0):
    """A tanh RNN or LSTM cell whose every (H, H) block of W_h is scale * orthogonal."""
    if kind == "RNN":
        cell = ll.RNNCell(input_size, H, rng=seed)
    else:
        cell = ll.LSTMCell(input_size, H, forget_bias=forget_bias, rng=seed)
    W_h = cell.params["W_h"]  # (H, G*H): updated in place, the cell keeps its array
    W_h[...] = orthogonal(W_h.shape, np.random.default_rng(seed + 1), gain=scale)
    return cell


cell = scaled_cell("RNN", 0.5)
print("singular values of W_h:", np.linalg.svd(cell.params["W_h"], compute_uv=False)[:4], "...")

# %% [markdown]
# ## The gradient k steps back
#
# `ll.Recurrent(cell, record_grad_norms=True)` records, during the backward, the norm of the
# gradient reaching every step's output, `||dL/dh_t||` (and for an LSTM `||dL/dc_t||`).
# We put a random gradient on the last output only, and divide by its norm.

# %%
def norms_through_time(cell):
    layer = ll.Recurrent(cell, record_grad_norms=True)
    hs, _ = layer.forward(xs)  # (T, N, H)
    dhs = np.zeros_like(hs)
    dhs[-1] = np.random.default_rng(1).standard_normal((N, H))  # L = sum(h_{T-1} * G)
    layer.backward(dhs)
    return {name: values / layer.grad_norms["h"][-1] for name, values in layer.grad_norms.items()}


curves = {}
for kind in ("RNN", "LSTM"):
    for scale in (0.5, 1.0, 2.0):
        label = f"tanh RNN, s = {scale:g}" if kind == "RNN" else f"LSTM, s = {scale:g}, b_f = 1"
        curves[label] = norms_through_time(scaled_cell(kind, scale))["h"]

ks = [k for k in (1, 10, 25, 50, T - 1) if k < T]
print(f"{'norm of dL/dh_(T-1-k)':24}" + "".join(f"{'k=' + str(k):>10}" for k in ks))
for label, values in curves.items():
    print(f"{label:24}" + "".join(f"{values[T - 1 - k]:10.2g}" for k in ks))
plot.grad_norms_through_time(curves, title="a loss on the last step, k steps back")

# %% [markdown]
# On a log scale a geometric decay is a straight line. The tanh RNN with `s = 0.5` loses
# half or more of its gradient at every step back: after 50 steps nothing usable is left.
# At `s = 1` the tanh derivatives `1 - h²` (below 1) still make it decay, and at `s = 2` it
# explodes. The LSTM's curves are much flatter in both directions: most of its gradient
# travels back along the cell path, multiplied by `f` at each step. Its first step back
# costs more than the RNN's (the gradient into `h` passes through the gates), the rest is
# set by the forget gate.
#
# ## The forget gate decides how far the LSTM's gradient reaches
#
# With the forget-gate bias `b_f` at 0, a fresh cell has `f ≈ sigmoid(0) = 0.5`: it halves
# the cell's gradient at every step, like a bad RNN. With `b_f = 1` (the usual
# initialisation, Jozefowicz et al. 2015) `f ≈ 0.73`, with `b_f = 3` `f ≈ 0.95`. The curves
# below are `||dL/dc_t||`, the gradient on the cell path itself.

# %%
def mean_forget_gate(cell):
    with ll.no_grad():  # an evaluation: look at the gates, keep nothing for a backward
        state, total = cell.initial_state(N), 0.0
        for t in range(T):
            state, cache = cell.forward(xs[t], state)
            total += cache.f.mean()
    return total / T


bias_curves = {}
for forget_bias in (0.0, 1.0, 3.0):
    cell = scaled_cell("LSTM", 1.0, forget_bias=forget_bias)
    label = f"LSTM, s = 1, forget bias {forget_bias:g} (mean f = {mean_forget_gate(cell):.2f})"
    bias_curves[label] = norms_through_time(cell)["c"]
plot.grad_norms_through_time(bias_curves, ylabel="norm of dL/dc",
                             title="the cell path: one factor f per step back")

# %% [markdown]
# The larger `f`, the flatter the line. With bias 0 about 1e-14 of the gradient is left
# after 99 steps, worse than the tanh RNN at the same `s`; with bias 1, about 1e-3; with
# bias 3 it does not decay at all. (The cell's gradient is not *only* a product of `f`s: at
# every step the gradient reaching `h` also flows into `c` through `h = o * tanh(c)`, which
# is why the lines are not perfectly straight.) This is why the forget-gate bias is
# initialised to 1 (or more for long dependencies), and why `ll.LSTMCell` and `ll.LSTM`
# take `forget_bias=`. More in
# [docs/gradients.md](../docs/gradients.md#why-the-lstms-gradient-survives) and
# [docs/variants.md](../docs/variants.md).
#
# ## Exploding gradients in training, and clipping
#
# A vanishing gradient makes learning slow or impossible; an exploding one makes it
# violent: one huge step throws the weights far away, and the next gradients are larger
# still. The usual fix (Pascanu, Mikolov & Bengio 2013) is to **clip the norm**: if the
# global norm of all gradients exceeds a threshold, scale them all down by one factor. The
# direction of the step is kept; only its length is bounded.

# %%
grads = {"W": np.array([[3.0, 4.0]]), "b": np.array([12.0])}  # global norm 13
before = np.concatenate([g.ravel() for g in grads.values()])
total = ll.clip_grad_norm(grads, max_norm=1.0)  # in place; returns the norm before clipping
after = np.concatenate([g.ravel() for g in grads.values()])
print(f"norm before {total:g}, after {np.linalg.norm(after):.6f}")
print("same direction:", np.allclose(after / np.linalg.norm(after), before / total))

# %% [markdown]
# The task: a tanh RNN with `s = 1.5` (a regime where the gradient grows through time)
# reads a sequence of random numbers in (-1, 1) and must output the one it saw 5 steps before
# the end. Predicting 0 gives a mean squared error of 1/3. We train it twice, from the same
# initial weights on the same batches with plain SGD: once as is, once with
# `ll.clip_grad_norm(model.grads, 1.0)` before every step.

# %%
T_train, lag, lr = 50, 5, 0.05
steps = 60 if QUICK else 1000


def train(clip):
    data_rng = np.random.default_rng(0)
    model = ll.Model(rnn=ll.Recurrent(scaled_cell("RNN", 1.5, input_size=1)),
                     head=ll.Linear(H, 1, rng=0))
    opt = ll.SGD(model.params, model.grads, lr=lr)
    losses, norms = [], []
    progress = ll.Progress(total=steps, desc="no clipping" if clip is None else f"clip {clip:g}")
    # Without clipping the weights may grow until the loss overflows: let NumPy make inf/nan
    # quietly and stop at the first non-finite value.
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            u = data_rng.uniform(-1, 1, size=(T_train, N, 1))  # (T, N, 1)
            target = u[T_train - 1 - lag]  # (N, 1)
            model.zero_grad()
            hs, _ = model.rnn.forward(u)
            loss, dy = ll.mse(model.head.forward(hs[-1]), target)
            dhs = np.zeros_like(hs)
            dhs[-1] = model.head.backward(dy)
            model.rnn.backward(dhs)
            if clip is None:  # only measure the global norm (what clip_grad_norm measures)
                norm = math.sqrt(sum(float(np.sum(g * g)) for g in model.grads.values()))
            else:  # returns the norm before clipping
                norm = ll.clip_grad_norm(model.grads, clip, error_if_nonfinite=False)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                progress.write(f"step {step}: loss or gradient not finite; training stopped")
                break
            losses.append(loss)
            norms.append(norm)
            opt.step()
            progress.update(loss=loss, grad_norm=norm)
    progress.close()
    return np.array(losses), np.array(norms)


runs = {"no clipping": train(None), "clip_grad_norm(1.0)": train(1.0)}
for label, (losses, norms) in runs.items():
    print(f"{label:20} steps {len(losses):4d}  last loss {losses[-1]:.3g}"
          f"  largest gradient norm {norms.max():.3g}")

# %%
plot.learning_curves({label: losses for label, (losses, _) in runs.items()}, logy=True,
                     smooth=10, baselines={"predict 0": 1 / 3}, ylabel="MSE", ylim=(1e-3, 1e3),
                     title="tanh RNN, s = 1.5: the same run with and without clipping")

# %%
plot.learning_curves({label: norms for label, (_, norms) in runs.items()}, logy=True,
                     ylabel="global gradient norm (before clipping)", ylim=(0.1, 1e4),
                     title="the gradient norm at every step")

# %% [markdown]
# Without clipping the gradient norm climbs by many orders of magnitude within a few
# hundred steps and the loss follows it up, out of the top of the plot (here the run ended
# in an overflow; on another machine the step can differ, since it depends on rounding).
# With clipping, the same gradients, shortened to length 1 when they are longer, drive the
# loss well below the 1/3 of predicting 0. Note that clipping does not make the gradient
# norms small: they still spike (to tens), but a spike no longer throws the weights away.
#
# Clipping treats the symptom of exploding gradients; for vanishing ones there is no
# clipping. The cure is architectural: the LSTM's and the GRU's additive paths, a good
# forget-gate bias, orthogonal initialisation
# ([docs/gradients.md](../docs/gradients.md#how-to-fight-vanishing-gradients)).
#
# **Next:** [04 a character language model](04_char_language_model.ipynb) trains an LSTM on
# real text, with truncated BPTT and norm clipping.
