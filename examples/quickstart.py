# %% [markdown]
# # Quickstart: one LSTM cell stepped through a short sequence, by hand
#
# Runs top to bottom in a second, with NumPy alone. Each cell prints what it computed.

# %%
"""Quickstart: one LSTM cell stepped through a short sequence, by hand.

Runs in a second, with NumPy alone. It shows the whole cell protocol of lstmlab:

1. build a cell and its zero initial state;
2. step it through T inputs, keeping each step's cache;
3. backpropagate through time by calling ``backward`` in reverse order;
4. check the analytic gradients against central differences.

Run it with ``python examples/quickstart.py`` (options: ``--seed``, ``--T``,
``--hidden``), or open ``examples/quickstart.ipynb``.
"""

# Imports and options
import argparse
import os
import sys

import numpy as np

import lstmlab as ll

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--T", type=int, default=5, help="sequence length")
parser.add_argument("--hidden", type=int, default=4, help="hidden size H")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("LSTMLAB_QUICK", "") not in ("", "0"),
                    help="the same run (it is already quick; also LSTMLAB_QUICK=1)")
# parse_known_args: in a notebook, sys.argv holds the kernel's own "-f <file>.json"
args, unknown = parser.parse_known_args()
if unknown and "ipykernel" not in sys.modules:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")

# %% [markdown]
# ## 1. A cell
# D = 3 inputs, H hidden units, float64 (the default), weights drawn from a seeded generator.
# The LSTM's four gates are fused in one matrix, in PyTorch's order i, f, g, o:
# `W_x` is (D, 4H), `W_h` is (H, 4H).

# %%
rng = np.random.default_rng(args.seed)
N, T, D, H = 2, args.T, 3, args.hidden
cell = ll.LSTMCell(D, H, forget_bias=1.0, rng=rng)
xs = rng.standard_normal((T, N, D))  # (T, N, D), time-major
print(cell, {k: v.shape for k, v in cell.params.items()})

# %% [markdown]
# ## 2. Forward through time
# One cell object serves every step; each step returns the new state and a cache that holds
# what its backward needs, under the symbols of the equations (`cache.f` is the forget gate).

# %%
state = cell.initial_state(N)  # LSTMState(h, c) of zeros, each (N, H)
caches = []
for t in range(T):
    state, cache = cell.forward(xs[t], state)
    caches.append(cache)
    print(f"t={t}  h[0]={np.array2string(state.h[0], precision=3)}"
          f"  f[0]={np.array2string(cache.f[0], precision=2)}")

# %% [markdown]
# ## 3. Backward through time
# The loss is `sum(h_T * G)`, so dL/dh_T = G and dL/dc_T = 0. Each step's backward takes the
# gradient of its output state and returns the gradient of its input and of the previous
# state; the parameters' gradients accumulate in `cell.grads`.

# %%
G = rng.standard_normal(state.h.shape)
dstate = ll.LSTMState(h=G, c=np.zeros_like(state.c))
cell.zero_grad()
dxs = np.zeros_like(xs)
for t in reversed(range(T)):
    dxs[t], dstate = cell.backward(dstate, caches[t])
print("|dL/dW_h| =", f"{np.linalg.norm(cell.grads['W_h']):.4f}",
      " |dL/dx_0| =", f"{np.linalg.norm(dxs[0]):.4f}")

# %% [markdown]
# ## 4. The gradient check
# Central differences for every element of every input, state and parameter of one step,
# against the analytic backward: relative errors near 1e-10 mean the backward is right.

# %%
report = ll.check_cell(cell, N=N, seed=args.seed)
print("gradient check of one LSTM step (relative errors):")
print(report)
print("OK" if report.max_error < 1e-7 else "FAILED", f"max error {report.max_error:.1e}")
