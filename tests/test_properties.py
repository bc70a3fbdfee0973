"""Property-based tests (hypothesis): random sizes, options and dtypes."""

import numpy as np
from helpers import randomize_params
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import lstmlab as ll

SETTINGS = settings(max_examples=25, deadline=None)

# Gradient checks pass on the relative error (1e-6: the central difference's truncation
# error is O(h^2) = 1e-10 relative for h = 1e-5), OR on the absolute error when the gradient
# is so small that only round-off is left to measure. The central difference of the loss
# L = sum(out * G) has a round-off error of about eps * sum|out * G| / h (report.roundoff);
# a few steps and layers amplify it by a small factor (below 5 in almost every case). An
# absolute error within 100 of those is as right as any numerical check can tell, however
# tiny the gradient: a peephole whose path is nearly shut (LSTM(1, 1, bias=False)'s p_f,
# gradient ~1e-6) otherwise fails at random on a relative error of noise over noise.
# A wrong backward is still caught: its error is the size of the gradient, not of eps / h.
ROUNDOFF = 100


@st.composite
def cells(draw, dtype=np.float64):
    kind = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    D = draw(st.integers(1, 4))
    H = draw(st.integers(1, 4))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    if kind == "rnn":
        nl = draw(st.sampled_from(["tanh", "relu"]))
        return ll.RNNCell(D, H, nonlinearity=nl, bias=bias, dtype=dtype, rng=seed)
    if kind == "lstm":
        return ll.LSTMCell(D, H, peephole=draw(st.booleans()), coupled=draw(st.booleans()),
                           bias=bias, dtype=dtype, rng=seed)
    return ll.GRUCell(D, H, reset_after=draw(st.booleans()), bias=bias, dtype=dtype, rng=seed)


def random_state(cell, N, rng, scale=1.0):
    arrays = cell.split_state(cell.initial_state(N))
    return cell.join_state([scale * rng.standard_normal(a.shape).astype(a.dtype)
                            for a in arrays])


@SETTINGS
@given(cell=cells(), N=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_gradient_check_any_cell(cell, N, seed):
    # relu's kink makes a difference quotient across it meaningless; the relu cell
    # is gradient-checked at fixed, kink-free points in test_rnn.py instead
    assume(not (isinstance(cell, ll.RNNCell) and cell.nonlinearity == "relu"))
    randomize_params(cell, seed=seed)
    report = ll.check_cell(cell, N=N, seed=seed)
    report.assert_ok(1e-6, atol=ROUNDOFF * report.roundoff)


@SETTINGS
@given(cell=cells(), N=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_batch_equals_examples_one_at_a_time(cell, N, seed):
    rng = np.random.default_rng(seed)
    randomize_params(cell, seed=seed)
    x = rng.standard_normal((N, cell.input_size))
    state = random_state(cell, N, rng)
    dstate = random_state(cell, N, rng)
    new, cache = cell.forward(x, state)
    cell.zero_grad()
    dx, dprev = cell.backward(dstate, cache)
    batch_grads = {k: g.copy() for k, g in cell.grads.items()}
    cell.zero_grad()
    for n in range(N):
        pick = [a[n : n + 1] for a in cell.split_state(state)]
        new_n, cache_n = cell.forward(x[n : n + 1], cell.join_state(pick))
        for a, b in zip(cell.split_state(new_n), cell.split_state(new)):
            np.testing.assert_allclose(a[0], b[n], rtol=1e-12, atol=1e-14)
        dpick = cell.join_state([a[n : n + 1] for a in cell.split_state(dstate)])
        dx_n, _ = cell.backward(dpick, cache_n)
        np.testing.assert_allclose(dx_n[0], dx[n], rtol=1e-12, atol=1e-14)
    for k in batch_grads:
        np.testing.assert_allclose(cell.grads[k], batch_grads[k], rtol=1e-11, atol=1e-13)


@SETTINGS
@given(cell=cells(dtype=np.float32), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 1e2, 1e4]))
def test_no_warning_no_nan_for_huge_inputs_float32(cell, seed, scale):
    # pytest turns floating-point warnings into errors (filterwarnings = error)
    rng = np.random.default_rng(seed)
    with np.errstate(all="raise"):
        x = (scale * rng.standard_normal((2, cell.input_size))).astype(np.float32)
        state = random_state(cell, 2, rng, scale)
        if isinstance(cell, ll.RNNCell) and cell.nonlinearity == "relu":
            state = cell.join_state([np.abs(a) for a in cell.split_state(state)])
        new, cache = cell.forward(x, state)
        dx, dprev = cell.backward(new, cache)
    for a in (*cell.split_state(new), dx, *cell.split_state(dprev)):
        assert a.dtype == np.float32
        assert np.all(np.isfinite(a))


@SETTINGS
@given(cell=cells(), seed=st.integers(0, 2**16))
def test_huge_inputs_float64_stay_finite(cell, seed):
    rng = np.random.default_rng(seed)
    x = 1e4 * rng.standard_normal((2, cell.input_size))
    state = random_state(cell, 2, rng)
    with np.errstate(all="raise"):
        new, cache = cell.forward(x, state)
        dx, dprev = cell.backward(new, cache)
    for a in (*cell.split_state(new), dx, *cell.split_state(dprev)):
        assert np.all(np.isfinite(a))
