"""The benchmark runs and reports sane figures (no timing assertions: figures come from runs)."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from lstmlab import bench

TINY = ["--sizes", "tiny", "--repeats", "1"]
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
        assert all(finite_positive(row[k]) for k in TIMES)
        assert not any(k in row for k in TORCH_TIMES)
        assert (row["T"], row["N"], row["D"], row["H"]) == (50, 1, 32, 64)
        check_memory(row)
    out = capsys.readouterr().out
    assert "torch: not found" in out
    assert "torch fwd" not in out and "lstmlab fwd+bwd ms" in out
    assert "command: python -m lstmlab.bench --sizes tiny" in out


def test_main_with_torch(capsys):
    pytest.importorskip("torch")
    rows = bench.main(TINY + ["--models", "lstm,gru", "rnn", "--dtypes", "float64", "--markdown"])
    assert [r["model"] for r in rows] == ["LSTM", "GRU", "RNN"]
    for row in rows:
        assert all(finite_positive(row[k]) for k in TIMES + TORCH_TIMES)
        assert row["fwd_ratio"] == pytest.approx(row["fwd_ms"] / row["torch_fwd_ms"])
        assert row["max_rel_diff"] < 1e-10  # same weights, same numbers: the wiring is right
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
         "RNN", "--sizes", "tiny", "--dtypes", "float64", "--repeats", "1"],
        cwd=root, env=env, capture_output=True, text=True, check=True).stdout
    assert "threads: 2" in out and "torch: not used (--no-torch)" in out
    blas = next(line for line in out.splitlines() if line.startswith("numpy:"))
    if "BLAS threads unknown" in blas:
        pytest.skip("this BLAS does not report its thread count")
    assert blas.endswith("BLAS threads 2")
