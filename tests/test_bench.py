"""The benchmark runs and reports sane figures (no timing assertions: figures come from runs)."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from lstmlab import bench

TINY = ["--sizes", "tiny", "--repeats", "1", "--no-charlm"]
TIMES = ("fwd_ms", "fwd_bwd_ms")
TORCH_TIMES = ("torch_fwd_ms", "torch_fwd_bwd_ms", "fwd_ratio", "fwd_bwd_ratio")

# What each backward reads besides the layer's inputs, by hand from the cells'
# backward formulas: every step's own new values (h_prev and c_prev are the
# previous step's h and c, counted there; the initial state is an input).
BACKWARD_READS = {
    "RNN": ["h"],
    "GRU": ["r", "z", "n", "hn", "h"],
    "LSTM": ["i", "f", "g", "o", "c", "tanh_c", "h"],
}


def finite_positive(x):
    return math.isfinite(x) and x > 0


def check_memory(row):
    itemsize = np.dtype(row["dtype"]).itemsize
    assert row["min_bytes"] == len(BACKWARD_READS[row["model"]]) * row["H"] * itemsize
    assert row["kept_bytes"] >= row["min_bytes"]
    # sane: no more than a few times the minimum (an O(T) or O(N) leak would be far above)
    assert row["kept_bytes"] < 4 * row["min_bytes"]


def test_main_without_torch(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    rows = bench.main(TINY + ["--dtypes", "float32", "float64"])
    assert [(r["model"], r["dtype"]) for r in rows] == [
        (m, d) for m in ("RNN", "LSTM", "GRU") for d in ("float32", "float64")]
    for row in rows:
        assert all(finite_positive(row[k]) for k in TIMES + ("products_ms", "textbook_fwd_bwd_ms"))
        assert not any(k in row for k in TORCH_TIMES)
        assert (row["T"], row["N"], row["D"], row["H"]) == (50, 1, 32, 64)
        check_memory(row)
    out = capsys.readouterr().out
    assert "torch: not found" in out
    assert "torch fwd" not in out and "lstmlab fwd+bwd ms" in out
    assert "products ms" in out and "cells fwd+bwd ms" in out and "chars/s" not in out
    assert "command: python -m lstmlab.bench --sizes tiny" in out


def test_main_with_torch(capsys):
    pytest.importorskip("torch")
    rows = bench.main(TINY + ["--models", "lstm,gru", "rnn", "--dtypes", "float64", "--markdown"])
    assert [r["model"] for r in rows] == ["LSTM", "GRU", "RNN"]
    for row in rows:
        assert all(finite_positive(row[k]) for k in TIMES + TORCH_TIMES)
        assert row["fwd_ratio"] == pytest.approx(row["fwd_ms"] / row["torch_fwd_ms"])
        assert row["max_rel_diff"] < 1e-10  # same weights, same numbers: the wiring is right
        assert row["products_ratio"] == pytest.approx(row["products_ms"] / row["torch_fwd_bwd_ms"])
        check_memory(row)
    out = capsys.readouterr().out
    assert "| model | size | dtype | lstmlab fwd ms | torch fwd ms | ratio |" in out
    assert out.count("| LSTM | tiny | float64 |") == 2  # the time row and the memory row
    assert "- torch: " in out and "threads: 1" in out


@pytest.mark.parametrize("model", ["RNN", "GRU", "LSTM"])
def test_minimum_is_the_hand_count(model):
    H = 7
    for dtype in ("float32", "float64"):
        expected = len(BACKWARD_READS[model]) * H * np.dtype(dtype).itemsize
        assert bench.minimum_bytes(model, H, dtype) == expected
    # The hand list against the code: the step cache holds every listed symbol (h as the
    # next step's h_prev) and nothing else but x, the previous state and aliases (views).
    cell = bench.MODELS[model](3, H, rng=0)._cell
    x = np.ones((2, 3))
    state, _ = cell.forward(x, cell.initial_state(2))
    _, cache = cell.forward(x, state)
    listed = set(BACKWARD_READS[model]) - {"h"}
    assert listed | {"x", "h_prev"} <= set(cache._fields)
    reads = set(BACKWARD_READS[model]) & set(cache._fields)
    arrays = [getattr(cache, name) for name in reads]
    for name in set(cache._fields) - reads - {"x", "h_prev", "c_prev"}:
        extra = getattr(cache, name)
        if extra is None:  # a field of a variant (e.g. gate recurrence): nothing kept here
            continue
        assert any(np.shares_memory(extra, a) for a in arrays), f"{name} is not an alias"


class _Rec:
    def __init__(self, cache):
        self._records = [cache]


class _Layer:
    def __init__(self, params, cache, rec_cache):
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}
        self._records = [cache]
        self.layers = [[_Rec(rec_cache)]]


def test_kept_bytes_counts_each_buffer_once():
    xs = np.zeros((3, 2, 4))
    W = np.zeros((4, 8))
    fused = np.zeros((2, 8))  # gates as views of one array: the whole array is kept
    h = [np.zeros((2, 2)) for _ in range(3)]
    steps = [(xs[t], h[t - 1] if t else h[0][:], fused[:, :2], fused[:, 2:].reshape(2, 3, 2),
              h[t], W[:2]) for t in range(3)]
    layer = _Layer({"W": W}, (3, 2, [None]), (xs, steps, {"again": [fused.T, h[2][::-1]]}))
    assert bench.kept_bytes(layer, xs) == fused.nbytes + sum(a.nbytes for a in h)


def test_kept_bytes_of_a_real_layer_is_at_least_the_minimum():
    T, N, D, H = 6, 3, 4, 5
    for model, cls in bench.MODELS.items():
        layer = cls(D, H, dtype=np.float32, rng=0)
        xs = np.ones((T, N, D), dtype=np.float32)
        layer.forward(xs)
        kept = bench.kept_bytes(layer, xs)
        assert kept >= T * N * bench.minimum_bytes(model, H, np.float32)
        assert kept < 4 * T * N * bench.minimum_bytes(model, H, np.float32)


def test_format_times_columns():
    row = {"model": "GRU", "size": "tiny", "dtype": "float32", "fwd_ms": 1.5, "fwd_bwd_ms": 4.0,
           "torch_fwd_ms": 3.0, "torch_fwd_bwd_ms": 2.0, "fwd_ratio": 0.5, "fwd_bwd_ratio": 2.0}
    md = bench.format_times([row], markdown=True).splitlines()
    assert md[2] == "| GRU | tiny | float32 | 1.50 | 3.00 | 0.50x | 4.00 | 2.00 | 2.00x |"
    assert all(line.count("|") == 10 for line in md)
    plain = bench.format_times([row]).splitlines()
    assert plain[0].split()[:3] == ["model", "size", "dtype"] and plain[2].endswith("2.00x")


def test_rejects_unknown_names():
    with pytest.raises(SystemExit, match="--sizes: unknown 'huge'"):
        bench.parse_args(["--sizes", "huge"])


def test_command_line_sets_the_blas_threads():
    env = {k: v for k, v in os.environ.items() if k not in bench.THREAD_VARS}
    env.pop(bench.REEXEC_MARKER, None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(bench.__file__)))
    out = subprocess.run(
        [sys.executable, "-m", "lstmlab.bench", "--threads", "2", "--no-torch", "--models",
         "RNN", "--sizes", "tiny", "--dtypes", "float64", "--repeats", "1", "--no-charlm"],
        cwd=root, env=env, capture_output=True, text=True, check=True).stdout
    assert "threads: 2" in out and "torch: not used (--no-torch)" in out
    blas = next(line for line in out.splitlines() if line.startswith("numpy:"))
    if "BLAS threads unknown" in blas:
        pytest.skip("this BLAS does not report its thread count")
    assert "BLAS threads 2" in blas.split(", ")


def test_format_times_with_products_and_cells():
    row = {"model": "LSTM", "size": "tiny", "dtype": "float32", "fwd_ms": 1.0, "fwd_bwd_ms": 2.0,
           "torch_fwd_ms": 1.0, "torch_fwd_bwd_ms": 4.0, "fwd_ratio": 1.0, "fwd_bwd_ratio": 0.5,
           "products_ms": 1.0, "products_ratio": 0.25, "textbook_fwd_bwd_ms": 6.0}
    md = bench.format_times([row], markdown=True).splitlines()
    assert md[0].endswith("| products ms | products/torch | cells fwd+bwd ms | cells/fused |")
    assert md[2] == ("| LSTM | tiny | float32 | 1.00 | 1.00 | 1.00x | 2.00 | 4.00 | 0.50x | 1.00 "
                     "| 0.25x | 6.00 | 3.00x |")


@pytest.mark.parametrize("model", ["RNN", "LSTM", "GRU"])
def test_products_only_runs_the_shapes_of_the_fused_path(model, monkeypatch):
    seen = []
    real_dot, real_matmul = np.dot, np.matmul

    def dot(a, b, out=None):
        seen.append((a.shape, b.shape))
        return real_dot(a, b, out=out)

    def matmul(a, b, out=None):
        seen.append((a.shape, b.shape))
        return real_matmul(a, b, out=out)

    run = bench.products_only(model, 3, 2, 4, 5, "float32")
    monkeypatch.setattr(np, "dot", dot)
    monkeypatch.setattr(np, "matmul", matmul)
    run()
    G = bench.GATES[model] * 5
    if model == "LSTM":  # the stacked product per step: [W_x; b; W_h] is (K, G), K = 4 + 1 + 5
        assert seen == ([((G, 10), (10, 2))] * 3 + [((5, G), (G, 2))] * 3
                        + [((G, 6), (6, 10)), ((6, G), (G, 4))])
    else:
        assert seen == ([((G, 4), (4, 6))] + [((G, 5), (5, 2))] * 3 + [((5, G), (G, 2))] * 3
                        + [((G, 6), (6, 4)), ((G, 6), (6, 5)), ((6, G), (G, 4))])


def test_products_only_lstm_with_one_example_is_a_row_vector_times_the_stack(monkeypatch):
    seen = []
    real_dot = np.dot

    def dot(a, b, out=None):
        seen.append((a.shape, b.shape))
        return real_dot(a, b, out=out)

    run = bench.products_only("LSTM", 3, 1, 4, 5, "float32")
    monkeypatch.setattr(np, "dot", dot)
    run()
    assert seen == [((10,), (10, 20))] * 3 + [((5, 20), (20,))] * 3


def test_charlm_workload_row(capsys):
    rows = bench.main(["--models", "RNN", "--sizes", "tiny", "--dtypes", "float32", "--repeats",
                       "1", "--no-cells", "--charlm-steps", "1"])
    work = rows[-1]
    assert work["model"] == "char-LSTM" and (work["E"], work["H"], work["N"], work["T"]) == (
        64, 256, 32, 64)
    assert finite_positive(work["chars_per_s"])
    assert work["chars_per_s"] == pytest.approx(32 * 64 / (work["step_ms"] / 1e3))
    out = capsys.readouterr().out
    assert "char-LSTM E=64 H=256 N=32 T=64" in out and "cells fwd+bwd ms" not in out
    if "torch_chars_per_s" in work:  # the same model, the same first batch: the same loss
        assert work["loss_first"] == pytest.approx(work["torch_loss_first"], rel=1e-5)
        assert "lstmlab/torch" in out


FAKE_TIME_LAYERS = """
import numpy as np


class TimeLSTM:  # the interface of deep-learning-from-scratch-2's, gates f, g, i, o
    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]

    def forward(self, xs):
        Wx, Wh, b = self.params
        N, T, D = xs.shape
        H = Wh.shape[0]
        h, c = np.zeros((N, H), 'f'), np.zeros((N, H), 'f')
        hs = np.empty((N, T, H), 'f')
        sig = lambda a: 1 / (1 + np.exp(-a))
        for t in range(T):
            A = xs[:, t] @ Wx + h @ Wh + b
            f, g, i, o = sig(A[:, :H]), np.tanh(A[:, H:2*H]), sig(A[:, 2*H:3*H]), sig(A[:, 3*H:])
            c = f * c + g * i
            h = o * np.tanh(c)
            hs[:, t] = h
        return hs

    def backward(self, dhs):
        return np.zeros_like(dhs)
"""


def test_dlfs2_row_from_a_common_folder(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--dlfs2: expected the common/ folder"):
        bench.load_dlfs2(tmp_path)
    common = tmp_path / "common"
    common.mkdir()
    (common / "__init__.py").write_text("")
    (common / "time_layers.py").write_text(FAKE_TIME_LAYERS)
    try:
        rows = bench.main(["--models", "LSTM", "RNN", "--sizes", "tiny", "--dtypes", "float32",
                           "float64", "--repeats", "1", "--no-charlm", "--no-cells",
                           "--dlfs2", str(common)])
    finally:
        for name in [m for m in sys.modules if m == "common" or m.startswith("common.")]:
            del sys.modules[name]
        sys.path.remove(str(tmp_path))
    with_dlfs2 = [(r["model"], r["dtype"]) for r in rows if "dlfs2_ratio" in r]
    assert with_dlfs2 == [("LSTM", "float32")]  # dlfs2 is float32 only, and has no RNN
    row = rows[0]
    assert row["dlfs2_max_rel_diff"] < 1e-5  # the gates were reordered right
    assert row["dlfs2_ratio"] == pytest.approx(row["dlfs2_fwd_bwd_ms"] / row["fwd_bwd_ms"])
    assert "dlfs2/lstmlab" in capsys.readouterr().out


def test_header_names_the_blas_kernels(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    info = bench.machine_info([], 1, None)
    if bench._blas_core() is None:
        pytest.skip("not OpenBLAS, or it does not name its kernels")
    assert f"OpenBLAS kernels {bench._blas_core()}" in info["numpy"]
    assert "(OPENBLAS_CORETYPE=Haswell in the environment)" in info["numpy"]
