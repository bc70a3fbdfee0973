# %% [markdown]
# # 02 · Backpropagation through time, and the gradient check
#
# **Learning path:** [01 one cell by hand](01_lstm_cell_by_hand.ipynb) → **02 backpropagation
# through time and the gradient check** → [03 vanishing and exploding
# gradients](03_vanishing_exploding_gradients.ipynb) → [04 a character language
# model](04_char_language_model.ipynb) → [05 sequence to sequence](05_seq2seq.ipynb)
#
# A recurrent network applies **one** cell at every time step. Backpropagation through time
# (BPTT) is ordinary backpropagation on that unrolled graph: call each step's backward in
# reverse order, and give each step the sum of the two gradients that reach its state, the
# one from its own output and the one from the next step. In this notebook you:
#
# 1. unroll an LSTM cell by hand and compare with `ll.Recurrent`;
# 2. write BPTT as a ten-line loop and compare with `Recurrent.backward`;
# 3. check a gradient numerically, element by element, with central differences;
# 4. run the library's checker, `ll.check_layer`, on a sequence and on a stacked,
#    bidirectional layer;
# 5. break a backward on purpose and watch the check catch it.
#
# The derivation is [docs/bptt.md](../docs/bptt.md) (unrolling, BPTT, lengths, truncation);
# the RNN version of the chain rule, node by node, is [docs/rnn.md](../docs/rnn.md). The code
# is [lstmlab/recurrent.py](../lstmlab/recurrent.py) and
# [lstmlab/gradcheck.py](../lstmlab/gradcheck.py).

# %%
import numpy as np

import lstmlab as ll
from lstmlab import plot

plot.check_matplotlib()  # the figures need matplotlib: if it is missing, say so now

np.set_printoptions(precision=3, suppress=True)
T, N, D, H = 8, 2, 3, 4
rng = np.random.default_rng(0)
xs = rng.standard_normal((T, N, D))  # time-major: (T, N, D), like PyTorch's default
cell = ll.LSTMCell(D, H, forget_bias=1.0, rng=0)  # float64: numerical checks need it

# %% [markdown]
# ## 1. Unrolling: one cell, T steps
#
# The forward through time is a loop that carries the state. Each step returns its cache,
# and we keep all of them: the backward will need every step's gates.

# %%
state = cell.initial_state(N)
caches, hs_by_hand = [], []
for t in range(T):
    state, cache = cell.forward(xs[t], state)
    caches.append(cache)
    hs_by_hand.append(state.h)
hs_by_hand = np.stack(hs_by_hand)  # (T, N, H)

layer = ll.Recurrent(cell)  # the same cell object: the same weights
hs, final = layer.forward(xs)
print("hs:", hs.shape, " largest difference from the loop:",
      f"{np.abs(hs - hs_by_hand).max():.1e}")

# %% [markdown]
# `Recurrent` computes the same numbers. (It does the input part of every gate,
# `x W_x + b`, as one matrix product for all T steps before the loop. That groups the same
# sums differently, so in general the last bit may differ;
# [docs/bptt.md](../docs/bptt.md#why-the-input-projection-is-done-for-all-steps-at-once)
# explains why that is exact and why it is faster).
#
# ## 2. BPTT in ten lines
#
# Take the loss `L = sum_t sum(h_t * G_t)` for a random `G`: then `dL/dh_t = G_t` arrives at
# every step from the output. The state `(h_t, c_t)` also feeds step `t+1`, so its total
# gradient is `G_t` (on h) **plus** what step `t+1`'s backward returned. Walk back:

# %%
G = rng.standard_normal((T, N, H))  # dL/dh_t from the loss, at every step

cell.zero_grad()  # gradients ACCUMULATE over the steps: start at zero
dstate = ll.LSTMState(np.zeros((N, H)), np.zeros((N, H)))  # nothing comes after step T-1
dxs_by_hand = np.zeros_like(xs)
for t in reversed(range(T)):
    dstate = ll.LSTMState(dstate.h + G[t], dstate.c)  # from the output, plus from step t+1
    dxs_by_hand[t], dstate = cell.backward(dstate, caches[t])
grads_by_hand = {name: g.copy() for name, g in cell.grads.items()}

cell.zero_grad()
dxs, dstate0 = layer.backward(G)  # Recurrent: backward of its last forward
print("dxs largest difference:", f"{np.abs(dxs - dxs_by_hand).max():.1e}")
for name, grad in cell.grads.items():
    print(f"d{name:4} largest difference: {np.abs(grad - grads_by_hand[name]).max():.1e}")

# %% [markdown]
# One cell object served all T steps, so its weight gradients are **sums** over the steps:
# that is why every backward in lstmlab accumulates (`+=`) into `cell.grads`, and why you
# call `zero_grad()` before a new backward.
#
# `layer.forward` saved what its backward needs as one record, and `layer.backward` used it
# up. A second `backward` now has nothing to backpropagate, and says so instead of
# returning a silently wrong gradient:

# %%
try:
    layer.backward(G)
except RuntimeError as error:
    print("RuntimeError:", error)

# %% [markdown]
# ## 3. A numerical gradient, by hand
#
# Is the backward right? Both answers above came from backward code. An independent check
# uses only forwards: nudge one weight by `±h` and watch the loss,
#
# ```text
# dL/dw  ≈  (L(w + h) - L(w - h)) / 2h          (central difference, error O(h²))
# ```
#
# `ll.numerical_gradient(f, w)` does that for every element of `w`, in place, restoring each
# one. The forwards it runs are evaluations, not training steps, so they run under
# `ll.no_grad()`: nothing is recorded for a backward.

# %%
def loss_of_weights(_):
    with ll.no_grad():
        hs, _state = layer.forward(xs)
    return float(np.sum(hs * G))


W_h = cell.params["W_h"]  # (H, 4H): perturbed in place, element by element
dW_h_numerical = ll.numerical_gradient(loss_of_weights, W_h)
print("analytic  dW_h[0, :6]:", grads_by_hand["W_h"][0, :6])
print("numerical dW_h[0, :6]:", dW_h_numerical[0, :6])
print("relative error:", f"{ll.rel_error(grads_by_hand['W_h'], dW_h_numerical):.1e}")

# %% [markdown]
# The relative error `max|a - b| / max(|a| + |b|)` is around 1e-10: the two agree to about
# ten digits. Why `h = 1e-5`, and why float64? The central difference has two errors: the
# truncation of the Taylor series, which shrinks like `h²`, and the round-off of the two
# losses, about `1e-16 * |L|`, divided by `2h`, which grows as `h` shrinks. Their sum is
# smallest near `h = 1e-5`:

# %%
steps = np.logspace(-12, -1, 23)
errors = []
for h in steps:
    errors.append(ll.rel_error(grads_by_hand["W_h"],
                               ll.numerical_gradient(loss_of_weights, W_h, h=h)))
fig = plot.figure((5.5, 3.5))
ax = fig.add_subplot()
ax.loglog(steps, errors, "o-")
ax.axvline(1e-5, color="0.5", ls="--", lw=1)
ax.set(xlabel="step h", ylabel="relative error of dW_h",
       title="central differences in float64: round-off (left) vs truncation (right)")
ax.title.set_fontsize(9)
ax.grid(alpha=0.3, which="both")
fig

# %% [markdown]
# In float32 the round-off term is 1e-7 instead of 1e-16 and the best you can get is about
# 1e-3, which cannot tell a small bug from noise: gradient checks run in float64.
#
# ## 4. The library's checker: every input, initial state and weight
#
# `ll.check_layer(layer, *inputs)` runs the forward, gives every output a random gradient,
# runs the backward, and compares **every** input gradient and weight gradient with central
# differences. A random initial state makes sure the state gradient is checked too (a zero
# state would hide the `W_h` term at the first step). Through time the tolerance is 1e-6.

# %%
s0 = ll.LSTMState(rng.standard_normal((N, H)), rng.standard_normal((N, H)))
report = ll.check_layer(ll.Recurrent(ll.LSTMCell(D, H, rng=1)), xs, s0)
print(report)
assert report.max_error < 1e-6

# %% [markdown]
# `input0` is `xs`, `input1` the initial state. The same call checks anything with the
# forward/backward protocol, for example a PyTorch-shaped stacked, bidirectional LSTM, with
# sequences of different lengths (padding steps must get exactly zero gradient):

# %%
lstm = ll.LSTM(D, H, num_layers=2, bidirectional=True, rng=2)
report = ll.check_layer(lstm, xs, lengths=[T, T - 3])
print(report)
assert report.max_error < 1e-6

# %% [markdown]
# ## 5. A deliberately broken backward
#
# The check is only worth something if it fails when the backward is wrong. Here is a classic
# mistake: in `c = f * c_prev + i * g`, the gradient reaching `c_prev` is `dc_all * f`, and
# it is easy to forget the factor `f` (the line in
# [lstmlab/lstm.py](../lstmlab/lstm.py) is `dc_prev = dc_all * f`). The subclass below runs
# the correct backward step and then undoes that one factor:

# %%
class ForgetfulLSTMCell(ll.LSTMCell):
    """An LSTM cell whose backward has a bug: dc_prev = dc_all instead of dc_all * f."""

    def backward_step(self, dstate, cache, **options):
        da, (dh_prev, dc_prev) = super().backward_step(dstate, cache, **options)
        return da, ll.LSTMState(dh_prev, dc_prev / cache.f)  # the bug: the factor f is lost


broken = ll.Recurrent(ForgetfulLSTMCell(D, H, rng=1))
report = ll.check_layer(broken, xs, s0)
print(report)
print("failures at 1e-6:", report.failures(1e-6))

# %% [markdown]
# Every entry fails: relative errors near 1, where a correct backward gives 1e-10. Where in
# time is the damage? Compare the gradient of each step's input with its numerical value. The
# last step's `dx` is exact (the bug sits on the path *into* the previous cell, and nothing
# comes after step T-1); every earlier step is wrong, because the wrong `dc` is passed on
# at every step back:

# %%
def dx_error_per_step(layer):
    layer.cell.zero_grad()
    G_all = rng.standard_normal((T, N, H))
    layer.forward(xs, s0)
    dxs, _ = layer.backward(G_all)

    def loss(xs_):
        with ll.no_grad():
            return float(np.sum(layer.forward(xs_, s0)[0] * G_all))

    numerical = ll.numerical_gradient(loss, xs.copy())
    return np.array([ll.rel_error(dxs[t], numerical[t]) for t in range(T)])


errors = {"correct LSTMCell": dx_error_per_step(ll.Recurrent(ll.LSTMCell(D, H, rng=1))),
          "ForgetfulLSTMCell": dx_error_per_step(broken)}
fig = plot.figure((5.5, 3.5))
ax = fig.add_subplot()
for label, values in errors.items():
    ax.semilogy(np.arange(T), np.maximum(values, 1e-16), "o-", label=label)
ax.set(xlabel="time step t", ylabel="relative error of dL/dx_t",
       title="the broken backward is right at the last step only")
ax.legend()
ax.grid(alpha=0.3, which="both")
fig

# %% [markdown]
# This is how every backward in lstmlab is tested (see `tests/test_gradcheck.py`, which also
# tests that the checker catches broken backwards like this one). When you write your own
# layer, give it `params`, `grads`, `forward` and `backward`, and run `ll.check_layer` on it
# with small sizes in float64 before you train anything.
#
# **Next:** [03 vanishing and exploding gradients](03_vanishing_exploding_gradients.ipynb)
# follows the gradient of BPTT as it travels back through many steps.
