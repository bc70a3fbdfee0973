"""The fast path (lstmlab/fused.py) equals the textbook path (Recurrent over the cells).

float64, to 1e-12: outputs, final states, dx, initial-state gradients and every
weight gradient; with lengths, reverse, stacked and bidirectional layers, N = 1
and N > 1, non-zero initial states. float32 follows float64. The runners keep
Recurrent's record rules (reuse, no_grad, copies) and its anomaly messages.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstmlab as ll
from lstmlab.fused import FusedGRU, FusedLSTM, FusedRNN, fused_supported, make_runner

RTOL = 1e-12

CELLS = {
    "lstm": lambda D, H, **kw: ll.LSTMCell(D, H, **kw),
    "lstm-nobias": lambda D, H, **kw: ll.LSTMCell(D, H, bias=False, **kw),
    "gru": lambda D, H, **kw: ll.GRUCell(D, H, **kw),
    "gru-nobias": lambda D, H, **kw: ll.GRUCell(D, H, bias=False, **kw),
    "rnn-tanh": lambda D, H, **kw: ll.RNNCell(D, H, **kw),
    "rnn-relu": lambda D, H, **kw: ll.RNNCell(D, H, nonlinearity="relu", **kw),
}
LAYERS = {"RNN": ll.RNN, "LSTM": ll.LSTM, "GRU": ll.GRU}


def assert_close(actual, desired, name):
    """Equal to RTOL relative to the largest entry (sums over T*N rows round differently)."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape, name
    assert actual.dtype == desired.dtype, name
    scale = max(float(np.max(np.abs(desired), initial=0.0)), 1e-300)
    err = float(np.max(np.abs(actual - desired), initial=0.0)) / scale
    assert err <= RTOL, f"{name}: relative difference {err:.2e} > {RTOL:.0e}"


def run(runner, cell, xs, state, lengths, dhs, dstate):
    """forward + backward from zero gradients; everything the caller can see, by name."""
    cell.zero_grad()
    hs, final = runner.forward(xs, state, lengths)
    dxs, dstate0 = runner.backward(dhs, dstate)
    out = {"hs": hs, "dxs": dxs}
    out.update({f"state.{k}": a for k, a in enumerate(cell.split_state(final))})
    out.update({f"dstate0.{k}": a for k, a in enumerate(cell.split_state(dstate0))})
    out.update({f"d{name}": g.copy() for name, g in cell.grads.items()})
    return out


def random_state(cell, N, rng):
    return cell.join_state([rng.standard_normal(a.shape) for a in
                            cell.split_state(cell.initial_state(N))])


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("N, lengths", [(1, None), (4, None), (1, [3]), (5, [6, 0, 3, 6, 1]),
                                        (3, [6, 6, 6])],
                         ids=["N1", "N4", "N1-short", "packed", "full-lengths"])
@pytest.mark.parametrize("grads_in", ["both", "dhs", "dstate"])
def test_runner_equals_recurrent(kind, reverse, N, lengths, grads_in):
    T, D, H = 6, 3, 5
    rng = np.random.default_rng(hash((kind, reverse, N, grads_in)) % 2**32)
    cell = CELLS[kind](D, H, rng=rng)
    fast = make_runner(cell, reverse=reverse)
    assert type(fast) in (FusedLSTM, FusedGRU, FusedRNN)
    textbook = ll.Recurrent(cell, reverse=reverse)
    xs = rng.standard_normal((T, N, D))
    state = random_state(cell, N, rng)
    dhs = rng.standard_normal((T, N, H)) if grads_in != "dstate" else None
    dstate = random_state(cell, N, rng) if grads_in != "dhs" else None
    got = run(fast, cell, xs, state, lengths, dhs, dstate)
    want = run(textbook, cell, xs, state, lengths, dhs, dstate)
    assert got.keys() == want.keys()
    for name in want:
        assert_close(got[name], want[name], name)
    if lengths is not None:  # packed semantics: zero outputs and no gradient in padding
        pad = np.arange(T)[:, None] >= np.asarray(lengths)
        assert (got["hs"][pad] == 0).all() and (got["dxs"][pad] == 0).all()


@pytest.mark.parametrize("steps_per_chunk", [1, 2, 3])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("N, lengths", [(1, None), (4, None), (5, [7, 0, 3, 7, 1])],
                         ids=["N1", "N4", "packed"])
@pytest.mark.parametrize("grads_in", ["both", "dstate"])
def test_lstm_backward_in_chunks_equals_recurrent(monkeypatch, steps_per_chunk, reverse, N,
                                                  lengths, grads_in):
    """The LSTM backward works through the record in chunks: any chunk size, same numbers."""
    from lstmlab import fused

    T, D, H = 7, 3, 5
    itemsize = np.dtype(np.float64).itemsize
    monkeypatch.setattr(fused, "_CHUNK_BYTES", steps_per_chunk * 10 * H * N * itemsize)
    rng = np.random.default_rng(steps_per_chunk * 100 + N)
    cell = ll.LSTMCell(D, H, rng=rng)
    xs = rng.standard_normal((T, N, D))
    state = random_state(cell, N, rng)
    dhs = rng.standard_normal((T, N, H)) if grads_in == "both" else None
    dstate = random_state(cell, N, rng)
    got = run(FusedLSTM(cell, reverse=reverse), cell, xs, state, lengths, dhs, dstate)
    want = run(ll.Recurrent(cell, reverse=reverse), cell, xs, state, lengths, dhs, dstate)
    for name in want:
        assert_close(got[name], want[name], name)


@pytest.mark.parametrize("model", sorted(LAYERS))
@pytest.mark.parametrize("options", [
    dict(),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=3, batch_first=True),
    dict(bidirectional=True, bias=False),
], ids=["one", "stacked-bidirectional", "three-batch-first", "bidirectional-nobias"])
@pytest.mark.parametrize("N, lengths", [(1, None), (4, [5, 2, 0, 5]), (3, None)],
                         ids=["N1", "packed", "N3"])
def test_layer_fast_equals_textbook(model, options, N, lengths):
    T, D, H = 5, 3, 4
    fast = LAYERS[model](D, H, rng=7, **options)
    slow = LAYERS[model](D, H, rng=7, fast=False, **options)
    assert type(fast.layers[0][0]).__name__.startswith("Fused")
    assert type(slow.layers[0][0]) is ll.Recurrent
    assert fast.params.keys() == slow.params.keys()
    for key in fast.params:
        assert np.array_equal(fast.params[key], slow.params[key])
    rng = np.random.default_rng(3)
    K = fast.num_layers * fast.num_directions
    x = rng.standard_normal((N, T, D) if fast.batch_first else (T, N, D))
    h0 = rng.standard_normal((K, N, H))
    state = ll.LSTMState(h0, rng.standard_normal((K, N, H))) if model == "LSTM" else h0
    results = []
    for layer in (fast, slow):
        layer.zero_grad()
        out, final = layer.forward(x, state, lengths=lengths)
        G = np.random.default_rng(5).standard_normal(out.shape)
        dfinal = tuple(np.ones_like(a) for a in final) if model == "LSTM" else np.ones_like(final)
        if model == "LSTM":
            dfinal = ll.LSTMState(*dfinal)
        dx, dstate0 = layer.backward(G, dfinal)
        got = {"out": out, "dx": dx}
        for name, value in (("final", final), ("dstate0", dstate0)):
            arrays = value if isinstance(value, tuple) else (value,)
            got.update({f"{name}.{k}": a for k, a in enumerate(arrays)})
        got.update({f"d{k}": g.copy() for k, g in layer.grads.items()})
        results.append(got)
    for name in results[1]:
        assert_close(results[0][name], results[1][name], name)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn-tanh"])
def test_float32_follows_float64(kind):
    T, N, D, H = 7, 3, 4, 6
    cell64 = CELLS[kind](D, H, rng=0)
    cell32 = CELLS[kind](D, H, rng=0, dtype=np.float32)
    for name in cell64.params:
        cell32.params[name][...] = cell64.params[name]
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((T, N, D))
    dhs = rng.standard_normal((T, N, H))
    want = run(make_runner(cell64), cell64, xs, None, [7, 4, 2], dhs, None)
    got = run(make_runner(cell32), cell32, xs.astype(np.float32), None, [7, 4, 2],
              dhs.astype(np.float32), None)
    for name in want:
        assert got[name].dtype == np.float32, name
        scale = np.max(np.abs(want[name]))
        assert np.max(np.abs(got[name] - want[name])) <= 1e-5 * max(scale, 1.0), name


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn-tanh", "rnn-relu"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_gradient_check_through_time(kind, reverse):
    T, N, D, H = 4, 3, 2, 3
    rng = np.random.default_rng(2)
    cell = CELLS[kind](D, H, rng=rng)
    runner = make_runner(cell, reverse=reverse)
    xs = rng.standard_normal((T, N, D))
    s0 = random_state(cell, N, rng)
    ll.check_layer(runner, xs, s0, lengths=[4, 1, 3], seed=3).assert_ok(1e-6)


@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(kind=st.sampled_from(sorted(CELLS)), T=st.integers(1, 5), N=st.integers(1, 4),
       H=st.integers(1, 4), reverse=st.booleans(), seed=st.integers(0, 2**16))
def test_random_sizes_and_lengths(kind, T, N, H, reverse, seed):
    rng = np.random.default_rng(seed)
    D = 2
    cell = CELLS[kind](D, H, rng=rng)
    lengths = rng.integers(0, T + 1, size=N)
    xs = rng.standard_normal((T, N, D))
    state = random_state(cell, N, rng)
    dhs = rng.standard_normal((T, N, H))
    dstate = random_state(cell, N, rng)
    got = run(make_runner(cell, reverse=reverse), cell, xs, state, lengths, dhs, dstate)
    want = run(ll.Recurrent(cell, reverse=reverse), cell, xs, state, lengths, dhs, dstate)
    for name in want:
        assert_close(got[name], want[name], name)


def test_unsupported_options_run_the_textbook_cells():
    for cell in (ll.LSTMCell(2, 3, peephole=True), ll.LSTMCell(2, 3, coupled=True),
                 ll.LSTMCell(2, 3, proj_size=2), ll.GRUCell(2, 3, reset_after=False)):
        assert not fused_supported(cell)
        assert type(make_runner(cell)) is ll.Recurrent
    for cell in (ll.LSTMCell(2, 3, forget_bias=1.0), ll.GRUCell(2, 3), ll.RNNCell(2, 3)):
        assert fused_supported(cell)
        assert type(make_runner(cell, fast=False)) is ll.Recurrent
    with pytest.raises(TypeError, match="cell: expected a LSTMCell"):
        FusedLSTM(ll.LSTMCell(2, 3, peephole=True))
    assert type(ll.LSTM(2, 3, peephole=True).layers[0][0]) is ll.Recurrent
    assert type(ll.GRU(2, 3, reset_after=False).layers[0][0]) is ll.Recurrent


def test_layer_repr_shows_every_non_default_option():
    assert repr(ll.LSTM(3, 5)) == "LSTM(3, 5)"
    assert repr(ll.LSTM(3, 5, peephole=True, forget_bias=1.0)) == \
        "LSTM(3, 5, peephole=True, forget_bias=1.0)"
    assert repr(ll.LSTM(3, 5, coupled=True, proj_size=2, fast=False)) == \
        "LSTM(3, 5, coupled=True, proj_size=2, fast=False)"
    assert repr(ll.GRU(3, 5, reset_after=False, dtype=np.float32)) == \
        "GRU(3, 5, reset_after=False, dtype='float32')"
    assert repr(ll.RNN(3, 5, 2, "relu", fast=False)) == \
        "RNN(3, 5, num_layers=2, nonlinearity='relu', fast=False)"


def test_reuse_gives_exact_gradients_and_records_are_private():
    """Two forwards, two backwards in reverse order; caller arrays changed in between."""
    T, N, D, H = 5, 2, 3, 4
    rng = np.random.default_rng(0)
    cell = ll.LSTMCell(D, H, rng=1)
    runner = make_runner(cell)
    xa, xb = rng.standard_normal((2, T, N, D))
    ga, gb = rng.standard_normal((2, T, N, H))
    want = {}
    for name, x, g in (("a", xa, ga), ("b", xb, gb)):
        want[name] = run(runner, cell, x, None, [5, 3], g, None)
    cell.zero_grad()
    xa_, xb_ = xa.copy(), xb.copy()
    hs_a, _ = runner.forward(xa_, None, [5, 3])
    hs_b, _ = runner.forward(xb_, None, [5, 3])
    xa_[...] = 7.0  # the records hold copies
    xb_[...] = 7.0
    hs_a[...] = 7.0  # and no returned array is a record's buffer
    hs_b[...] = 7.0
    g_b = gb.copy()
    dxb, _ = runner.backward(g_b)
    assert np.array_equal(g_b, gb)  # dhs is not written
    dxa, _ = runner.backward(ga)
    assert_close(dxa, want["a"]["dxs"], "dxs a")
    assert_close(dxb, want["b"]["dxs"], "dxs b")
    for name in cell.grads:
        assert_close(cell.grads[name], want["a"][f"d{name}"] + want["b"][f"d{name}"], name)
    with pytest.raises(RuntimeError, match="backward: no forward left to backpropagate"):
        runner.backward(ga)


def test_caller_state_and_dstate_are_not_written():
    cell = ll.GRUCell(1, 1, rng=0)
    runner = make_runner(cell)
    h0, dh = np.full((1, 1), 0.5), np.full((1, 1), 2.0)
    runner.forward(np.ones((3, 1, 1)), h0)
    runner.backward(np.ones((3, 1, 1)), dh)
    assert h0[0, 0] == 0.5 and dh[0, 0] == 2.0


def test_no_grad_keeps_nothing_and_gives_the_same_numbers():
    cell = ll.LSTMCell(2, 3, rng=0)
    runner = make_runner(cell)
    xs = np.random.default_rng(0).standard_normal((4, 2, 2))
    hs, _ = runner.forward(xs)
    runner.discard_saved()
    with ll.no_grad():
        hs2, _ = runner.forward(xs)
    assert np.array_equal(hs, hs2) and runner._records == []


def test_refused_gradient_consumes_nothing():
    runner = make_runner(ll.LSTMCell(2, 3, rng=0))
    runner.forward(np.ones((4, 2, 2)))
    with pytest.raises(ValueError, match=r"dhs: expected shape \(T, N, H\) = \(4, 2, 3\), the "
                                         r"shape of hs of the forward being backpropagated"):
        runner.backward(np.ones((4, 2, 2)))
    runner.backward(np.ones((4, 2, 3)))  # the record is still there


@pytest.mark.parametrize("T, N", [(0, 2), (3, 0)])
def test_empty_sequences_and_batches(T, N):
    for kind in ("lstm", "gru", "rnn-tanh"):
        cell = CELLS[kind](2, 3, rng=0)
        fast, textbook = make_runner(cell), ll.Recurrent(cell)
        xs = np.ones((T, N, 2))
        got = run(fast, cell, xs, None, None, np.ones((T, N, 3)), None)
        want = run(textbook, cell, xs, None, None, np.ones((T, N, 3)), None)
        for name in want:
            assert np.array_equal(got[name], want[name]), name


def test_anomaly_names_the_step_and_changes_nothing():
    lstm = ll.LSTM(2, 3, num_layers=2, bidirectional=True, rng=0)
    x = np.random.default_rng(1).standard_normal((6, 2, 2))
    out, _ = lstm.forward(x, lengths=[6, 4])
    dx, _ = lstm.backward(np.ones_like(out))
    grads = {k: g.copy() for k, g in lstm.grads.items()}
    lstm.zero_grad()
    with ll.detect_anomaly():
        out2, _ = lstm.forward(x, lengths=[6, 4])
        dx2, _ = lstm.backward(np.ones_like(out))
    assert np.array_equal(out, out2) and np.array_equal(dx, dx2)
    assert all(np.array_equal(grads[k], lstm.grads[k]) for k in grads)
    bad = x.copy()
    bad[3, 1, 0] = np.nan
    with ll.detect_anomaly(), pytest.raises(FloatingPointError,
                                            match=r"^LSTM layers\.0\.fwd: x at t=3 is nan"):
        lstm.forward(bad)
    lstm.discard_saved()
    rnn = ll.RNN(2, 3, nonlinearity="relu", bias=False, rng=0)
    rnn.params["layers.0.fwd.W_x"][...] = 1.0
    rnn.params["layers.0.fwd.W_h"][...] = 4.0 * np.eye(3)  # h grows as 4^t: inf near t = 512
    with ll.detect_anomaly(), np.errstate(over="ignore"):
        with pytest.raises(FloatingPointError, match=r"^RNN layers\.0\.fwd: h at t=51\d is inf"):
            rnn.forward(np.ones((600, 1, 2)))
    assert rnn.layers[0][0]._records == []  # a forward that raises keeps no record


def test_a_dropped_record_hands_its_buffers_back():
    """discard_saved (or a forward never backpropagated) returns the buffers for reuse."""
    cell = ll.LSTMCell(2, 3, rng=0)
    runner = make_runner(cell)
    xs = np.random.default_rng(0).standard_normal((4, 2, 2))
    runner.forward(xs)
    kept = [a for a in runner._records[-1][1].arrays]
    runner.discard_saved()
    runner.forward(xs)
    again = runner._records[-1][1].arrays
    assert all(any(a is b for b in kept) for a in again)  # the same buffers, reused
    want = run(ll.Recurrent(cell), cell, xs, None, None, np.ones((4, 2, 3)), None)
    cell.zero_grad()
    dxs, _ = runner.backward(np.ones((4, 2, 3)))
    assert_close(dxs, want["dxs"], "dxs")


def test_a_copied_layer_computes_with_its_own_buffers():
    import copy

    lstm = ll.LSTM(3, 4, rng=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, _ = lstm.forward(x)
    lstm.backward(np.ones_like(out))
    twin = copy.deepcopy(lstm)
    del lstm  # the original buffers go; the copy's cached step views must not be used
    for _ in range(3):
        out2, _ = twin.forward(x)
        twin.backward(np.ones_like(out2))
        assert np.allclose(out2, out, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N", [1, 2, 5, 32])
def test_whole_rows_moves_runs_of_n_values_exactly(dtype, N):
    """Copies between (T, G, N) and (G, T, N) layouts move each run of N values as one element."""
    from lstmlab.fused import _whole_rows

    big = np.random.default_rng(N).standard_normal((4, 7, N)).astype(dtype)
    A = big[:3, 1:6]  # a view: only its last axis is contiguous
    out = np.empty((5, 3, N), dtype=dtype)
    np.copyto(_whole_rows(out), _whole_rows(A).T)
    assert np.array_equal(out, A.transpose(1, 0, 2))
    assert _whole_rows(A).shape == (3, 5) and np.shares_memory(_whole_rows(A), big)
