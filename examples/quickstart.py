"""Quickstart: one LSTM cell stepped through a short sequence, by hand.

Runs in a second. It shows the whole cell protocol of lstmlab:

1. build a cell and its zero initial state;
2. step it through T inputs, keeping each step's cache;
3. backpropagate through time by calling ``backward`` in reverse order;
4. check the analytic gradients against central differences.

Run it with ``python examples/quickstart.py``.
"""

# %%
import argparse

import numpy as np

import lstmlab as ll


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--T", type=int, default=5, help="sequence length")
    parser.add_argument("--hidden", type=int, default=4, help="hidden size H")
    parser.add_argument("--quick", action="store_true", help="same run (it is already quick)")
    args = parser.parse_args(argv)

    # %% 1. A cell: D = 3 inputs, H hidden units, float64, a seeded generator.
    rng = np.random.default_rng(args.seed)
    N, T, D, H = 2, args.T, 3, args.hidden
    cell = ll.LSTMCell(D, H, forget_bias=1.0, rng=rng)
    print(cell, {k: v.shape for k, v in cell.params.items()})
    xs = rng.standard_normal((T, N, D))

    # %% 2. Forward: one cell object serves every step; each step returns its cache.
    state = cell.initial_state(N)
    caches = []
    for t in range(T):
        state, cache = cell.forward(xs[t], state)
        caches.append(cache)
        print(f"t={t}  h[0]={np.array2string(state.h[0], precision=3)}"
              f"  f[0]={np.array2string(cache.f[0], precision=2)}")

    # %% 3. Backward through time: loss = sum(h_T * G), so dL/dh_T = G and dL/dc_T = 0.
    G = rng.standard_normal(state.h.shape)
    dstate = ll.LSTMState(h=G, c=np.zeros_like(state.c))
    cell.zero_grad()
    dxs = np.zeros_like(xs)
    for t in reversed(range(T)):
        dxs[t], dstate = cell.backward(dstate, caches[t])
    print("|dL/dW_h| =", f"{np.linalg.norm(cell.grads['W_h']):.4f}",
          " |dL/dx_0| =", f"{np.linalg.norm(dxs[0]):.4f}")

    # %% 4. Gradient check of one step: every input, state and parameter element.
    report = ll.check_cell(cell, N=N, seed=args.seed)
    print("gradient check of one LSTM step (relative errors):")
    print(report)
    print("OK" if report.max_error < 1e-7 else "FAILED", f"max error {report.max_error:.1e}")
    return report


if __name__ == "__main__":
    main()
