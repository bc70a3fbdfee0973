"""Write tests/data/golden_layers.npz: PyTorch's own numbers for a few layers and cells.

Run once, with torch installed, from the repository root::

    python tests/make_golden.py

and commit the .npz. ``tests/test_interop.py::test_golden`` then checks that
lstmlab reproduces these numbers on machines without torch.

Each case NAME stores its arrays under ``"NAME/<field>"``:

    config                  JSON: {"kind": "LSTM", "kwargs": {...}} (kind: RNN, LSTM, GRU,
                            RNNCell, LSTMCell, GRUCell; kwargs: the torch constructor's)
    x, h0 [, c0] [, lengths]
    sd/<torch name>         torch's weights (its default initialisation, seeded)
    G_out, G_h [, G_c]      the loss is sum(out * G_out) + sum(h_n * G_h) [+ sum(c_n * G_c)]
                            (cells: no out, and h_n, c_n are the new state)
    out, h_n [, c_n]        torch's forward
    grad/x, grad/h0 [, grad/c0], grad/sd/<torch name>     torch's backward
"""

import json
from pathlib import Path

import numpy as np

D, H = 3, 4
CASES = {
    "lstm_2layer_bi": dict(kind="LSTM", kwargs=dict(num_layers=2, bidirectional=True), T=5, N=2),
    "gru_2layer": dict(kind="GRU", kwargs=dict(num_layers=2), T=5, N=2),
    "rnn_relu_batch_first": dict(kind="RNN", kwargs=dict(nonlinearity="relu", batch_first=True),
                                 T=5, N=2),
    "lstm_lengths_bi": dict(kind="LSTM", kwargs=dict(bidirectional=True), T=5, N=3,
                            lengths=[5, 2, 3]),
    "rnn_cell": dict(kind="RNNCell", kwargs=dict(), N=2),
    "lstm_cell": dict(kind="LSTMCell", kwargs=dict(), N=2),
    "gru_cell": dict(kind="GRUCell", kwargs=dict(), N=2),
}
OUT = Path(__file__).parent / "data" / "golden_layers.npz"


def make_case(torch, name, spec, rng):
    kind, kwargs = spec["kind"], spec["kwargs"]
    torch.manual_seed(sum(map(ord, name)))
    module = getattr(torch.nn, kind)(D, H, **kwargs, dtype=torch.float64)
    is_lstm = kind.startswith("LSTM")
    N = spec["N"]
    if kind.endswith("Cell"):
        x = rng.standard_normal((N, D))
        state_shape = (N, H)
    else:
        T = spec["T"]
        x = rng.standard_normal((N, T, D) if kwargs.get("batch_first") else (T, N, D))
        K = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        state_shape = (K, N, H)
    arrays = {"x": x, "h0": rng.standard_normal(state_shape)}
    if is_lstm:
        arrays["c0"] = rng.standard_normal(state_shape)
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    state = (leaves["h0"], leaves["c0"]) if is_lstm else leaves["h0"]

    if kind.endswith("Cell"):
        new = module(leaves["x"], state)
        out, (h_n, c_n) = None, (new if is_lstm else (new, None))
    else:
        inp = leaves["x"]
        if "lengths" in spec:
            arrays["lengths"] = np.array(spec["lengths"], dtype=np.int64)
            inp = torch.nn.utils.rnn.pack_padded_sequence(
                inp, torch.tensor(spec["lengths"]), batch_first=bool(kwargs.get("batch_first")),
                enforce_sorted=False)
        out, s_n = module(inp, state)
        if "lengths" in spec:
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(
                out, batch_first=bool(kwargs.get("batch_first")), total_length=spec["T"])
        h_n, c_n = s_n if is_lstm else (s_n, None)

    loss = 0
    for field, g_name, value in (("out", "G_out", out), ("h_n", "G_h", h_n), ("c_n", "G_c", c_n)):
        if value is None:
            continue
        G = rng.standard_normal(tuple(value.shape))
        arrays[g_name] = G
        arrays[field] = value.detach().numpy()
        loss = loss + (value * torch.tensor(G)).sum()
    loss.backward()

    for key, leaf in leaves.items():
        arrays[f"grad/{key}"] = leaf.grad.numpy()
    for key, p in module.named_parameters():
        arrays[f"sd/{key}"] = p.detach().numpy()
        arrays[f"grad/sd/{key}"] = p.grad.numpy()
    arrays["config"] = np.array(json.dumps({"kind": kind, "kwargs": kwargs}))
    return {f"{name}/{k}": np.asarray(v) for k, v in arrays.items()}


def main():
    import torch

    rng = np.random.default_rng(2024)
    data = {}
    for name, spec in CASES.items():
        data.update(make_case(torch, name, spec, rng))
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **data)
    return OUT


if __name__ == "__main__":
    main()
