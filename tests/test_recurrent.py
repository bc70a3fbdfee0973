import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll
from lstmlab.gradcheck import check_gradients

T, N, D, H = 4, 3, 3, 5
LENGTHS = np.array([4, 0, 2])  # a full length, an empty sequence and a short one

VARIANTS = {
    "rnn-tanh": lambda bias: ll.RNNCell(D, H, bias=bias, rng=0),
    "rnn-relu": lambda bias: ll.RNNCell(D, H, nonlinearity="relu", bias=bias, rng=0),
    "lstm": lambda bias: ll.LSTMCell(D, H, bias=bias, rng=0),
    "lstm-peephole": lambda bias: ll.LSTMCell(D, H, peephole=True, bias=bias, rng=0),
    "lstm-coupled": lambda bias: ll.LSTMCell(D, H, coupled=True, bias=bias, rng=0),
    "lstm-peephole-coupled": lambda bias: ll.LSTMCell(D, H, peephole=True, coupled=True,
                                                      bias=bias, rng=0),
    "gru": lambda bias: ll.GRUCell(D, H, bias=bias, rng=0),
    "gru-reset-before": lambda bias: ll.GRUCell(D, H, reset_after=False, bias=bias, rng=0),
}
CASES = [(name, bias) for name in VARIANTS for bias in (True, False)]


def make_cell(name, bias=True):
    return randomize_params(VARIANTS[name](bias), seed=1)


def random_state(cell, n, rng):
    return cell.join_state([rng.standard_normal(a.shape)
                            for a in cell.split_state(cell.initial_state(n))])


def max_diff(a, b):
    """Largest absolute difference between two states / arrays (tuples allowed)."""
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    return max(float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(a, b))


def grads_copy(cell):
    return {k: v.copy() for k, v in cell.grads.items()}


# -- the wrapper is exactly a loop of cell steps --------------------------------------------
@pytest.mark.parametrize("name, bias", CASES)
@pytest.mark.parametrize("reverse", [False, True])
def test_equals_hand_written_loop(name, bias, reverse):
    cell = make_cell(name, bias)
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((T, N, D))
    s0 = random_state(cell, N, rng)
    dhs = rng.standard_normal((T, N, H))
    dsT = random_state(cell, N, rng)
    order = range(T - 1, -1, -1) if reverse else range(T)

    # the loop, with cell.forward / cell.backward one step at a time
    state, caches, hs_loop = s0, {}, np.zeros((T, N, H))
    for t in order:
        state, caches[t] = cell.forward(xs[t], state)
        hs_loop[t] = cell.split_state(state)[0]
    final_loop = state
    cell.zero_grad()
    ds, dxs_loop = dsT, np.zeros_like(xs)
    for t in reversed(order):
        parts = list(cell.split_state(ds))
        parts[0] = parts[0] + dhs[t]
        dxs_loop[t], ds = cell.backward(cell.join_state(parts), caches[t])
    grads_loop = grads_copy(cell)

    layer = ll.Recurrent(cell, reverse=reverse)
    hs, final = layer.forward(xs, s0)
    assert max_diff(hs, hs_loop) < 1e-12
    assert max_diff(final, final_loop) < 1e-12
    cell.zero_grad()
    dxs, ds0 = layer.backward(dhs, dsT)
    assert max_diff(dxs, dxs_loop) < 1e-12
    assert max_diff(ds0, ds) < 1e-12
    assert grads_loop.keys() == cell.grads.keys()
    for k in grads_loop:
        assert max_diff(cell.grads[k], grads_loop[k]) < 1e-12, k
    assert all(np.abs(g).max() > 0 for g in grads_loop.values())  # every term exercised


# -- gradient checks through time ------------------------------------------------------------
@pytest.mark.parametrize("name, bias", CASES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_gradient_check_through_time(name, bias, reverse, lengths):
    cell = make_cell(name, bias)
    layer = ll.Recurrent(cell, reverse=reverse)
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((T, N, D))
    s0 = random_state(cell, N, rng)
    # the loss reads every output and the final state: dhs and dstate are both random
    report = ll.check_layer(layer, xs, s0, lengths=lengths)
    n_state = len(cell.split_state(s0))
    assert len(report) == 1 + n_state + len(cell.params)
    report.assert_ok(1e-6)


@pytest.mark.parametrize("name", ["rnn-tanh", "lstm-peephole", "gru"])
def test_gradient_check_final_state_only(name):
    # dhs=None: only the final state feeds the loss (an encoder)
    cell = make_cell(name)
    layer = ll.Recurrent(cell)
    rng = np.random.default_rng(4)
    xs, s0 = rng.standard_normal((T, N, D)), random_state(cell, N, rng)

    def forward(xs, s0):
        return layer.forward(xs, s0, lengths=LENGTHS)[1], None

    def backward(dstate, _):
        return layer.backward(None, dstate)

    report = check_gradients(forward, backward, (xs, s0), ("xs", "s0"), cell.params, cell.grads)
    report.assert_ok(1e-6)
    assert np.abs(cell.grads["W_x"]).max() > 0


# -- variable lengths ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rnn-relu", "lstm-peephole", "gru-reset-before"])
@pytest.mark.parametrize("reverse", [False, True])
def test_padding_equals_each_sequence_alone(name, reverse):
    cell = make_cell(name)
    layer = ll.Recurrent(cell, reverse=reverse)
    rng = np.random.default_rng(5)
    lengths = np.array([2, 4, 0, 3])
    n = len(lengths)
    xs, s0 = rng.standard_normal((T, n, D)), random_state(cell, n, rng)
    dhs, dsT = rng.standard_normal((T, n, H)), random_state(cell, n, rng)
    hs, final = layer.forward(xs, s0, lengths=lengths)
    cell.zero_grad()
    dxs, ds0 = layer.backward(dhs, dsT)
    grads_batched = grads_copy(cell)

    cell.zero_grad()
    for k, L in enumerate(lengths):
        one = slice(k, k + 1)
        s0_k = cell.join_state([a[one] for a in cell.split_state(s0)])
        hs_k, final_k = layer.forward(xs[:L, one], s0_k)
        assert max_diff(hs[:L, one], hs_k) < 1e-12
        assert np.all(hs[L:, k] == 0)  # padded outputs are exactly zero
        assert max_diff(tuple(a[one] for a in cell.split_state(final)),
                        tuple(cell.split_state(final_k))) < 1e-12
        dsT_k = cell.join_state([a[one] for a in cell.split_state(dsT)])
        dxs_k, ds0_k = layer.backward(dhs[:L, one], dsT_k)
        assert max_diff(dxs[:L, one], dxs_k) < 1e-12
        assert np.all(dxs[L:, k] == 0)  # no gradient into padding
        assert max_diff(tuple(a[one] for a in cell.split_state(ds0)),
                        tuple(cell.split_state(ds0_k))) < 1e-12
    # the batched parameter gradients are the sum of the per-sequence ones
    for key, g in grads_batched.items():
        assert max_diff(g, cell.grads[key]) < 1e-12, key


def test_length_zero_keeps_initial_state_and_gets_its_gradient_straight_through():
    cell = make_cell("lstm")
    layer = ll.Recurrent(cell)
    rng = np.random.default_rng(6)
    xs, s0 = rng.standard_normal((T, 2, D)), random_state(cell, 2, rng)
    _, final = layer.forward(xs, s0, lengths=[0, 3])
    assert np.array_equal(final.h[0], s0.h[0]) and np.array_equal(final.c[0], s0.c[0])
    dsT = random_state(cell, 2, rng)
    dxs, ds0 = layer.backward(rng.standard_normal((T, 2, H)), dsT)
    assert np.array_equal(ds0.h[0], dsT.h[0]) and np.array_equal(ds0.c[0], dsT.c[0])
    assert np.all(dxs[:, 0] == 0)
    assert np.all(dxs[3:, 1] == 0) and np.all(dxs[:3, 1] != 0)


def test_lengths_all_full_equal_no_lengths():
    cell = make_cell("gru")
    layer = ll.Recurrent(cell)
    xs = np.random.default_rng(7).standard_normal((T, N, D))
    hs_a, s_a = layer.forward(xs)
    hs_b, s_b = layer.forward(xs, lengths=np.full(N, T))
    assert np.array_equal(hs_a, hs_b) and np.array_equal(s_a, s_b)


def test_reverse_runs_each_sequence_from_its_own_last_step():
    # reverse with lengths == forward over each sequence's valid part flipped in time
    cell = make_cell("rnn-tanh")
    rng = np.random.default_rng(8)
    xs = rng.standard_normal((T, 2, D))
    hs, final = ll.Recurrent(cell, reverse=True).forward(xs, lengths=[T, 2])
    fwd = ll.Recurrent(cell)
    hs1, final1 = fwd.forward(xs[:2, 1:][::-1])
    assert max_diff(hs[:2, 1:], hs1[::-1]) < 1e-12
    assert max_diff(final[1:], final1) < 1e-12
    assert max_diff(final[1], hs[0, 1]) == 0  # the reverse final state is the output at t = 0


# -- truncated BPTT --------------------------------------------------------------------------
def test_truncated_bptt_two_chunks_equal_one_long_sequence():
    cell = make_cell("lstm-peephole")
    rng = np.random.default_rng(9)
    xs, s0 = rng.standard_normal((2 * T, N, D)), random_state(cell, N, rng)
    dhs, dsT = rng.standard_normal((2 * T, N, H)), random_state(cell, N, rng)

    long = ll.Recurrent(cell)
    hs, final = long.forward(xs, s0)
    cell.zero_grad()
    dxs, ds0 = long.backward(dhs, dsT)
    grads_long = grads_copy(cell)

    # the stateful pattern with ONE wrapper: each chunk's forward keeps its own record,
    # and the backwards consume them last chunk first
    layer = ll.Recurrent(cell)

    def chunks_forward():
        hs1, s_mid = layer.forward(xs[:T], s0)
        hs2, final2 = layer.forward(xs[T:], s_mid)
        return np.concatenate([hs1, hs2]), final2

    hs12, final2 = chunks_forward()
    assert max_diff(hs12, hs) < 1e-12
    assert max_diff(final2, final) < 1e-12

    cell.zero_grad()
    dxs2, ds_mid = layer.backward(dhs[T:], dsT)
    truncated = grads_copy(cell)
    dxs1, ds0_chunks = layer.backward(dhs[:T], ds_mid)  # passing the gradient on: full BPTT
    assert max_diff(np.concatenate([dxs1, dxs2]), dxs) < 1e-12
    assert max_diff(ds0_chunks, ds0) < 1e-12
    for k in grads_long:
        assert max_diff(cell.grads[k], grads_long[k]) < 1e-12
    # truncation (not passing ds_mid on) gives different, truncated gradients
    chunks_forward()
    cell.zero_grad()
    layer.backward(dhs[T:], dsT)
    layer.backward(dhs[:T])
    assert max_diff(cell.grads["W_h"], grads_long["W_h"]) > 1e-6
    chunks_forward()
    cell.zero_grad()
    layer.backward(dhs[T:], dsT)
    assert max_diff(cell.grads["W_h"], truncated["W_h"]) == 0
    layer.discard_saved()  # chunk 1's record was not backpropagated this time


# -- gradient norms per step -----------------------------------------------------------------
def test_grad_norms_match_hand_computed_rnn():
    cell = make_cell("rnn-tanh")
    layer = ll.Recurrent(cell, record_grad_norms=True)
    rng = np.random.default_rng(10)
    xs, dhs, dhT = (rng.standard_normal((T, N, D)), rng.standard_normal((T, N, H)),
                    rng.standard_normal((N, H)))
    hs, _ = layer.forward(xs)
    layer.backward(dhs, dhT)
    # by hand: dh_t = dhs_t + (dh_{t+1} * (1 - h_{t+1}^2)) W_h^T
    W_h = cell.params["W_h"]
    expected = np.zeros(T)
    dh = dhT + dhs[T - 1]
    for t in range(T - 1, -1, -1):
        expected[t] = np.sqrt((dh ** 2).sum())
        if t:
            dh = dhs[t - 1] + (dh * (1 - hs[t] ** 2)) @ W_h.T
    assert set(layer.grad_norms) == {"h"}
    assert layer.grad_norms["h"].shape == (T,)
    assert np.allclose(layer.grad_norms["h"], expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("reverse", [False, True])
def test_grad_norms_lstm_structure(reverse):
    cell = make_cell("lstm")
    layer = ll.Recurrent(cell, reverse=reverse)
    layer.record_grad_norms = True  # the attribute switches it on too
    rng = np.random.default_rng(11)
    xs = rng.standard_normal((T, N, D))
    dhs, dsT = rng.standard_normal((T, N, H)), random_state(cell, N, rng)
    layer.forward(xs, lengths=[T, 2, 1])
    layer.backward(dhs, dsT)
    norms = layer.grad_norms
    assert set(norms) == {"h", "c"} and norms["c"].shape == (T,)
    # the step processed first by the backward receives dstate (+ dhs on h) directly;
    # with lengths only the valid rows of each step count
    last = 0 if reverse else T - 1
    valid = np.arange(T)[:, None] < np.array([T, 2, 1])
    rows = valid[last]
    assert norms["c"][last] == pytest.approx(np.linalg.norm(dsT.c[rows]), rel=1e-12)
    if not reverse:  # forward: step T-1 is only valid for the first sequence
        assert norms["h"][last] == pytest.approx(
            np.linalg.norm((dsT.h + dhs[last])[rows]), rel=1e-12)
    else:  # reverse: step 0 is the last processed step of every sequence
        assert norms["h"][0] == pytest.approx(np.linalg.norm(dsT.h + dhs[0]), rel=1e-12)
    assert np.all(norms["h"] > 0)


def test_grad_norms_off_by_default():
    layer = ll.Recurrent(make_cell("gru"))
    layer.forward(np.ones((T, N, D)))
    layer.backward(np.ones((T, N, H)))
    assert layer.grad_norms is None


# -- edge sizes, dtype, parameters -----------------------------------------------------------
@pytest.mark.parametrize("name", ["rnn-tanh", "lstm", "gru"])
def test_T_zero_returns_empty_outputs_and_the_initial_state(name):
    cell = make_cell(name)
    layer = ll.Recurrent(cell)
    s0 = random_state(cell, N, np.random.default_rng(12))
    hs, final = layer.forward(np.zeros((0, N, D)), s0, lengths=np.zeros(N, dtype=int))
    assert hs.shape == (0, N, H)
    assert max_diff(final, s0) == 0
    cell.zero_grad()
    dsT = random_state(cell, N, np.random.default_rng(13))
    dxs, ds0 = layer.backward(np.zeros((0, N, H)), dsT)
    assert dxs.shape == (0, N, D)
    assert max_diff(ds0, dsT) == 0
    assert all(not g.any() for g in cell.grads.values())


@pytest.mark.parametrize("name", ["rnn-tanh", "lstm", "gru"])
def test_N_zero(name):
    layer = ll.Recurrent(make_cell(name))
    hs, final = layer.forward(np.zeros((T, 0, D)), lengths=np.zeros(0, dtype=int))
    assert hs.shape == (T, 0, H)
    assert all(a.shape == (0, H) for a in layer.cell.split_state(final))
    dxs, ds0 = layer.backward(np.zeros((T, 0, H)))
    assert dxs.shape == (T, 0, D)


def test_float32_follows_the_cell():
    cell = ll.LSTMCell(D, H, dtype=np.float32, rng=0)
    layer = ll.Recurrent(cell)
    hs, state = layer.forward(np.ones((T, N, D), dtype=np.float32), lengths=[1, 2, 3])
    dxs, ds0 = layer.backward(np.ones_like(hs), state)
    assert hs.dtype == dxs.dtype == ds0.c.dtype == np.float32


def test_params_and_grads_are_the_cells_arrays():
    cell = make_cell("lstm")
    layer = ll.Recurrent(cell)
    assert layer.params is cell.params and layer.grads is cell.grads
    layer.forward(np.ones((T, N, D)))
    layer.backward(np.ones((T, N, H)))
    assert np.abs(cell.grads["W_h"]).max() > 0
    layer.zero_grad()
    assert all(not g.any() for g in cell.grads.values())
    assert layer.input_size == D and layer.hidden_size == H
    assert repr(layer) == "Recurrent(LSTMCell(3, 5))"
    assert repr(ll.Recurrent(cell, reverse=True)).endswith("reverse=True)")


def test_backward_accumulates():
    cell = make_cell("gru")
    layer = ll.Recurrent(cell)
    layer.forward(np.ones((T, N, D)))
    layer.forward(np.ones((T, N, D)))
    layer.backward(np.ones((T, N, H)))
    once = grads_copy(cell)
    layer.backward(np.ones((T, N, H)))
    for k in once:
        assert max_diff(cell.grads[k], 2 * once[k]) < 1e-12


# -- clear errors ----------------------------------------------------------------------------
@pytest.fixture
def lstm_layer():
    return ll.Recurrent(ll.LSTMCell(D, H, rng=0))


def test_error_xs_not_3d(lstm_layer):
    with pytest.raises(ValueError,
                       match=r"xs: expected 3 dimensions, got an array of shape \(3, 3\)"):
        lstm_layer.forward(np.ones((N, D)))


def test_error_xs_wrong_D(lstm_layer):
    with pytest.raises(ValueError,
                       match=r"xs: expected shape \(T, N, D\) with D = 3, got \(4, 3, 2\)"):
        lstm_layer.forward(np.ones((T, N, 2)))


def test_error_xs_dtype(lstm_layer):
    with pytest.raises(TypeError, match="xs: expected dtype float64"):
        lstm_layer.forward(np.ones((T, N, D), dtype=np.float32))
    with pytest.raises(TypeError, match="xs: expected a floating-point array"):
        lstm_layer.forward(np.ones((T, N, D), dtype=int))


def test_error_bad_state(lstm_layer):
    with pytest.raises(TypeError, match=r"state: expected LSTMState\(h, c\)"):
        lstm_layer.forward(np.ones((T, N, D)), np.zeros((N, H)))
    with pytest.raises(ValueError, match=r"state.c: expected shape \(N, H\) = \(3, 5\)"):
        lstm_layer.forward(np.ones((T, N, D)), ll.LSTMState(np.zeros((N, H)), np.zeros((2, H))))


@pytest.mark.parametrize("lengths, error, message", [
    ([4, 2], ValueError, r"lengths: expected shape \(N,\) = \(3,\), got \(2,\)"),
    ([[4, 2, 1]], ValueError, r"lengths: expected shape \(N,\) = \(3,\), got \(1, 3\)"),
    ([4, 5, 1], ValueError, r"lengths: expected integers in \[0, T\] = \[0, 4\], got values "
                            r"from 1 to 5"),
    ([4, -1, 1], ValueError, r"lengths: expected integers in \[0, T\] = \[0, 4\], got values "
                             r"from -1"),
    ([4.0, 2.0, 1.0], TypeError, "lengths: expected integers .* got dtype float64"),
    ([True, False, True], TypeError, "lengths: expected integers .* got dtype bool"),
])
def test_error_lengths(lstm_layer, lengths, error, message):
    with pytest.raises(error, match=message):
        lstm_layer.forward(np.ones((T, N, D)), lengths=lengths)


def test_error_backward_before_forward(lstm_layer):
    with pytest.raises(RuntimeError, match="backward: no forward left to backpropagate in "
                                           "Recurrent"):
        lstm_layer.backward(np.ones((T, N, H)))


def test_error_dhs_and_dstate(lstm_layer):
    lstm_layer.forward(np.ones((T, N, D)))
    with pytest.raises(ValueError, match=r"dhs: expected shape \(T, N, H\) = \(4, 3, 5\), the "
                                         r"shape of hs of the forward being backpropagated, "
                                         r"got \(4, 3, 4\)"):
        lstm_layer.backward(np.ones((T, N, H - 1)))
    with pytest.raises(ValueError, match="dhs: expected 3 dimensions"):
        lstm_layer.backward(np.ones((N, H)))
    with pytest.raises(TypeError, match="dhs: expected dtype float64"):
        lstm_layer.backward(np.ones((T, N, H), dtype=np.float32))
    with pytest.raises(ValueError, match=r"dstate.h: expected shape \(N, H\)"):
        lstm_layer.backward(None, ll.LSTMState(np.ones((1, H)), np.ones((N, H))))
    # a refused gradient consumed nothing: the right one is still accepted, once
    lstm_layer.backward(np.ones((T, N, H)))
    with pytest.raises(RuntimeError, match="no forward left"):
        lstm_layer.backward(np.ones((T, N, H)))


def test_error_not_a_cell():
    with pytest.raises(TypeError, match="cell: expected an RNNCell, LSTMCell or GRUCell, got str"):
        ll.Recurrent("lstm")
