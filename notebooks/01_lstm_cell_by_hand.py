# %% [markdown]
# # 01 · One LSTM cell, step by hand
#
# **Learning path:** **01 one cell by hand** → [02 backpropagation through time and the
# gradient check](02_bptt_and_gradient_check.ipynb) → [03 vanishing and exploding
# gradients](03_vanishing_exploding_gradients.ipynb) → [04 a character language
# model](04_char_language_model.ipynb) → [05 sequence to sequence](05_seq2seq.ipynb)
#
# An LSTM cell reads an input `x` and the previous state `(h_prev, c_prev)` and produces a
# new state `(h, c)`. In between sit four gates: `i`, `f`, `g`, `o`. In this notebook you
# compute one step with plain NumPy, one equation per line, and compare every intermediate
# value with what `lstmlab.LSTMCell` computed. Then you step the cell through a short
# sequence and look at the gates over time, and finally you do the backward of one step by
# hand too.
#
# The derivation of everything here is [docs/lstm.md](../docs/lstm.md) (forward, then the
# backward node by node); the code is [lstmlab/lstm.py](../lstmlab/lstm.py), with the same
# symbols in the same order. The plain RNN cell, which the LSTM extends, is
# [docs/rnn.md](../docs/rnn.md).
#
# The forward of one step, with one example per **row** (`x @ W_x`, like PyTorch):
#
# ```text
# a = x W_x + h_prev W_h + b        (N, 4H)  all four gates' pre-activations, one product each
# a_i, a_f, a_g, a_o = split(a)     (N, H) each, in PyTorch's order i, f, g, o
# i = sigmoid(a_i)                  input gate: how much of the candidate to write
# f = sigmoid(a_f)                  forget gate: how much of the old cell to keep
# g = tanh(a_g)                     candidate values
# o = sigmoid(a_o)                  output gate: how much of the cell to show
# c = f * c_prev + i * g            the new cell: the additive path
# h = o * tanh(c)                   the new output (and next step's h_prev)
# ```

# %%
import numpy as np

import lstmlab as ll
from lstmlab import plot

plot.check_matplotlib()  # the figures need matplotlib: if it is missing, say so now

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## A cell and its weights
#
# `D` inputs, `H` hidden units, a batch of `N` examples. The four gates' weights are fused
# side by side: `W_x` is (D, 4H), `W_h` is (H, 4H), `b` is (4H,). `forget_bias=1.0` starts
# the forget gate's bias at 1, so a fresh cell keeps most of its memory (see "the forget-gate
# bias" in [docs/variants.md](../docs/variants.md)).

# %%
N, D, H = 2, 3, 4
cell = ll.LSTMCell(D, H, forget_bias=1.0, rng=0)  # float64, seeded: the same numbers every run
print(cell)
for name, value in cell.params.items():
    print(f"{name:4} {value.shape}")
print("the columns of each gate:", {gate: cell.gate_slice(gate) for gate in "ifgo"})
print("b =", cell.params["b"])  # random like the weights, except the forget block: 1

# %% [markdown]
# ## One step, by hand
#
# Take a random input and a non-zero previous state (a zero state would hide the `W_h` and
# `c_prev` terms), and compute the equations above, one per line.

# %%
rng = np.random.default_rng(1)
x = rng.standard_normal((N, D))
h_prev = 0.5 * rng.standard_normal((N, H))
c_prev = rng.standard_normal((N, H))
W_x, W_h, b = cell.params["W_x"], cell.params["W_h"], cell.params["b"]


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


a = x @ W_x + h_prev @ W_h + b  # (N, 4H)
a_i, a_f, a_g, a_o = a[:, 0:H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:4 * H]
i = sigmoid(a_i)
f = sigmoid(a_f)
g = np.tanh(a_g)
o = sigmoid(a_o)
c = f * c_prev + i * g
h = o * np.tanh(c)
print("h =\n", h)

# %% [markdown]
# Now the same step through lstmlab. `cell.forward` returns the new state, an
# `LSTMState(h, c)`, and a **cache**: a named tuple whose fields are the symbols of the
# equations. It is what the backward will need, and it lets you inspect every gate.

# %%
state, cache = cell.forward(x, ll.LSTMState(h_prev, c_prev))
print(cache._fields)
for name, mine in [("i", i), ("f", f), ("g", g), ("o", o), ("c", c), ("tanh_c", np.tanh(c))]:
    theirs = getattr(cache, name)
    print(f"{name:6} largest difference {np.abs(mine - theirs).max():.1e}")
print("h      largest difference", f"{np.abs(h - state.h).max():.1e}")
assert np.allclose(h, state.h, rtol=0, atol=1e-12) and np.allclose(c, state.c, rtol=0, atol=1e-12)

# %% [markdown]
# The differences are zero or a few units in the last place: the cell computes exactly these
# lines (lstmlab's `sigmoid` is written to avoid overflow for very negative inputs, which can
# change the last bit).
#
# ## What the gates did to the first example
#
# `i`, `f`, `o` lie in (0, 1): they are soft switches. `g` lies in (-1, 1): it is the
# content. `c` is the old cell, scaled by `f`, plus the candidate, scaled by `i`. `h` shows
# `tanh(c)` through `o`. The figure below puts the numbers of example 0 side by side.

# %%
fig = plot.figure((8, 3.2))
axes = fig.subplots(1, 2)
units = np.arange(H)
for k, (name, value) in enumerate([("i", i), ("f", f), ("g", g), ("o", o)]):
    axes[0].bar(units + 0.2 * (k - 1.5), value[0], width=0.2, label=name)
axes[0].set(title="gates of example 0", xlabel="unit", xticks=units, ylim=(-1, 1))
axes[0].axhline(0, color="0.5", lw=0.8)
axes[0].legend(ncol=4, fontsize=8)
for k, (name, value) in enumerate([("c_prev", c_prev), ("c", c), ("h", h)]):
    axes[1].bar(units + 0.25 * (k - 1), value[0], width=0.25, label=name)
axes[1].set(title="state of example 0", xlabel="unit", xticks=units)
axes[1].axhline(0, color="0.5", lw=0.8)
axes[1].legend(fontsize=8)
fig

# %% [markdown]
# Read one unit: where `f` is near 1 and `i` near 0, `c` is almost `c_prev` (the cell
# *remembers*); where `f` is small and `i` large, `c` is replaced by `g` (the cell *writes*).
# `h` can never exceed `|tanh(c)| < 1` in size, and `o` decides how much of it is shown.
#
# Two checks you can do by eye, and in code:

# %%
print("c = f * c_prev + i * g:", np.allclose(c, cache.f * cache.c_prev + cache.i * cache.g))
print("|h| <= o:              ", bool((np.abs(h) <= o).all()))
print("gates within (0, 1):   ", all(((v > 0) & (v < 1)).all() for v in (i, f, o)))

# %% [markdown]
# ## Through a sequence: one cell object, many steps
#
# A cell does not remember anything between calls: you carry the state yourself, and each
# step returns its own cache. Stepping through `T` inputs is a loop. We feed a signal that
# is zero except for a few pulses, and keep each step's gates to look at them over time.

# %%
T = 24
xs = np.zeros((T, 1, D))  # (T, N=1, D)
xs[[3, 10, 17], 0, 0] = 3.0  # pulses on input 0
xs[[6, 14], 0, 1] = -3.0  # and on input 1
state = cell.initial_state(1)  # zeros, h and c each (1, H)
gates = {"input gate i": [], "forget gate f": [], "output gate o": [], "cell c": [], "h": []}
for t in range(T):
    state, cache = cell.forward(xs[t], state)
    for key, value in zip(gates, (cache.i, cache.f, cache.o, cache.c, state.h)):
        gates[key].append(value[0])
gates = {key: np.array(values) for key, values in gates.items()}  # each (T, H)
plot.gate_heatmap(gates, labels=["+" if xs[t, 0, 0] else "-" if xs[t, 0, 1] else "·"
                                 for t in range(T)], title="one LSTM cell over 24 steps")

# %% [markdown]
# Each row is a unit, each column a time step (`+` and `-` mark the pulses). The gates are
# in a fixed 0..1 colour scale; `c` and `h` in a symmetric one around 0. An untrained cell
# with random weights already shows the mechanics. Between pulses the input is zero, but the
# bias and `h_prev` are not, so the cell keeps writing the same candidate: `c` builds up step
# by step (unit 2) towards the level where what `f` lets go equals what `i * g` writes. A
# pulse moves every gate for one step: at a `-` pulse unit 2's forget gate drops, its cell
# falls close to zero, and then builds up again. Training (notebook 04) is what makes these
# switches mean something.
#
# ## The backward of one step, by hand
#
# The backward receives `dh = dL/dh` and `dc = dL/dc` and walks the forward's lines in
# reverse, applying the chain rule to each (the seven steps of
# [docs/lstm.md](../docs/lstm.md#backward-node-by-node)). We reuse `x`, `h_prev`, `c_prev`
# and the gates computed by hand above.

# %%
dh = rng.standard_normal((N, H))  # as if L = sum(h * dh) + sum(c * dc)
dc = rng.standard_normal((N, H))

tanh_c = np.tanh(c)
do, dtanh_c = dh * tanh_c, dh * o  # 1. h = o * tanh_c
da_o = do * o * (1 - o)  # 2. o = sigmoid(a_o)
dc_all = dc + dtanh_c * (1 - tanh_c**2)  # 3. c feeds tanh_c and the next step
di, dg, df = dc_all * g, dc_all * i, dc_all * c_prev  # 4. c = f * c_prev + i * g
dc_prev = dc_all * f  # the additive cell path: only a factor f
da_i, da_f, da_g = di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2)  # 5. the nonlinearities
da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # 6. (N, 4H), order i, f, g, o
dh_prev = da @ W_h.T
dx = da @ W_x.T  # 7. a = x W_x + ...
dW_x, dW_h, db = x.T @ da, h_prev.T @ da, da.sum(axis=0)

cell.zero_grad()  # gradients ACCUMULATE (+=) in cell.grads: start from zero
state, cache = cell.forward(x, ll.LSTMState(h_prev, c_prev))
dx_ll, dstate_prev = cell.backward(ll.LSTMState(dh, dc), cache)
for name, mine, theirs in [("dx", dx, dx_ll), ("dh_prev", dh_prev, dstate_prev.h),
                           ("dc_prev", dc_prev, dstate_prev.c), ("dW_x", dW_x, cell.grads["W_x"]),
                           ("dW_h", dW_h, cell.grads["W_h"]), ("db", db, cell.grads["b"])]:
    print(f"{name:8} largest difference {np.abs(mine - theirs).max():.1e}")

# %% [markdown]
# Same numbers. Note `dc_prev = dc_all * f`: the gradient reaching the previous cell is only
# multiplied by the forget gate, no matrix, no squashing derivative. That is the LSTM's
# answer to vanishing gradients, and notebook 03 measures it.
#
# But a backward that agrees with *another* hand-written backward proves little: both could
# share a mistake. The independent proof is a **numerical gradient check**: perturb every
# input and weight by ±h and compare the change of the loss with the backward's answer.
# `ll.check_cell` does that for one step:

# %%
report = ll.check_cell(cell)
print(report)
assert report.max_error < 1e-7

# %% [markdown]
# Every relative error is far below 1e-7: the backward is right. Notebook
# [02](02_bptt_and_gradient_check.ipynb) does this through time, and shows what the check
# prints when a backward is wrong.
#
# **Try it:** set `forget_bias=-3.0` or `3.0` in the first cell and run everything again.
# How do `f` and the decay of `c` after each pulse change?
