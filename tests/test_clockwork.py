"""ClockworkRNN: the clocks, the block-triangular weights, exact gradients through time."""

import numpy as np
import pytest

import lstmlab as ll
from lstmlab.functional import tanh


def make(H=6, periods=(1, 2, 3), D=2, seed=0, bias=True):
    return ll.ClockworkRNN(D, H, periods=periods, bias=bias, rng=seed)


def reference(cw, xs, h0):
    """The equations written out unit by unit, with the masked matrix built by hand."""
    T, N, _ = xs.shape
    H = cw.hidden_size
    size = H // len(cw.periods)
    period = [cw.periods[j // size] for j in range(H)]
    W_h = np.array([[cw.params["W_h"][i, j] if period[i] >= period[j] else 0.0
                     for j in range(H)] for i in range(H)])
    h, hs = h0.copy(), []
    for t in range(T):
        a = xs[t] @ cw.params["W_x"] + h @ W_h + (cw.params["b"] if cw.bias else 0.0)
        new = tanh(a)
        h = np.array([[new[n, j] if t % period[j] == 0 else h[n, j] for j in range(H)]
                      for n in range(N)])
        hs.append(h)
    return np.stack(hs), h


def test_forward_matches_the_equations_unit_by_unit():
    cw = make()
    rng = np.random.default_rng(1)
    xs, h0 = rng.standard_normal((7, 3, 2)), rng.standard_normal((3, 6))
    hs, h_T = cw.forward(xs, h0)
    ref_hs, ref_h = reference(cw, xs, h0)
    np.testing.assert_allclose(hs, ref_hs, rtol=0, atol=1e-13)
    np.testing.assert_allclose(h_T, ref_h, rtol=0, atol=1e-13)


def test_idle_modules_keep_their_value_and_slow_modules_ignore_fast_ones():
    cw = make(H=4, periods=(1, 4))
    xs = np.random.default_rng(2).standard_normal((8, 2, 2))
    hs, _ = cw.forward(xs)
    for t in range(1, 8):
        same = np.array_equal(hs[t, :, 2:], hs[t - 1, :, 2:])
        assert same == (t % 4 != 0)
    assert (cw.params["W_h"][:2, 2:] == 0).all()  # fast units never feed the slow ones
    assert (cw.params["W_h"][2:, :2] != 0).all()  # slow units feed the fast ones


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("periods", [(1, 2, 3), (1, 1, 4), (2, 5, 1)])
def test_gradients_through_time(periods, bias):
    cw = make(periods=periods, bias=bias)
    rng = np.random.default_rng(3)
    xs, h0 = rng.standard_normal((9, 2, 2)), rng.standard_normal((2, 6))
    report = ll.check_layer(cw, xs, h0)
    assert set(report) == {"input0", "input1", *cw.params}
    report.assert_ok(1e-6)


def test_gradient_of_w_h_stays_zero_outside_the_mask():
    cw = make()
    xs = np.random.default_rng(4).standard_normal((6, 2, 2))
    hs, _ = cw.forward(xs)
    cw.backward(np.ones_like(hs))
    assert (cw.grads["W_h"][cw.mask == 0] == 0).all()
    assert (cw.grads["W_h"][cw.mask == 1] != 0).any()


def test_final_state_gradient_and_no_aliasing():
    cw = make()
    rng = np.random.default_rng(5)
    xs, h0 = rng.standard_normal((4, 2, 2)), rng.standard_normal((2, 6))
    hs, h_T = cw.forward(xs, h0)
    xs_before, h0_before = xs.copy(), h0.copy()
    xs += 100.0
    h0[...] = 0.0
    h_T[...] = 7.0  # changing what forward returned cannot change the backward
    dxs, dh0 = cw.backward(dstate=np.ones((2, 6)))
    cw2 = make()
    cw2.forward(xs_before, h0_before)
    dxs2, dh02 = cw2.backward(dstate=np.ones((2, 6)))
    np.testing.assert_array_equal(dxs, dxs2)
    np.testing.assert_array_equal(dh0, dh02)
    for k in cw.grads:
        np.testing.assert_array_equal(cw.grads[k], cw2.grads[k])


def test_used_twice_backward_twice_in_reverse_order():
    cw = make()
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((5, 2, 2)), rng.standard_normal((3, 2, 2))
    G_a, G_b = rng.standard_normal((5, 2, 6)), rng.standard_normal((3, 2, 6))

    def loss():
        with ll.no_grad():
            return float((cw.forward(a)[0] * G_a).sum() + (cw.forward(b)[0] * G_b).sum())

    cw.forward(a)
    cw.forward(b)
    cw.backward(G_b)
    cw.backward(G_a)
    W = cw.params["W_x"]
    num = ll.numerical_gradient(lambda _: loss(), W)
    assert ll.rel_error(cw.grads["W_x"], num) < 1e-7
    with pytest.raises(RuntimeError, match="forward"):
        cw.backward(G_a)


def test_float32_follows_float64():
    xs = np.random.default_rng(7).standard_normal((5, 2, 3))
    cw64 = ll.ClockworkRNN(3, 4, periods=(1, 2), rng=0)
    cw32 = ll.ClockworkRNN(3, 4, periods=(1, 2), dtype=np.float32, rng=0)
    hs64, _ = cw64.forward(xs)
    hs32, _ = cw32.forward(xs.astype(np.float32))
    assert hs32.dtype == np.float32
    np.testing.assert_allclose(hs32, hs64, atol=1e-5)


@pytest.mark.parametrize("periods, error, match", [
    ((1, 0), ValueError, "positive integers"),
    ((1, -2), ValueError, "positive integers"),
    ((1, 2.5), TypeError, "positive integers"),
    ((), ValueError, "at least one"),
    (3, TypeError, "sequence"),
    ((True, 2), TypeError, "positive integers"),
])
def test_bad_periods(periods, error, match):
    with pytest.raises(error, match=match):
        ll.ClockworkRNN(2, 4, periods=periods)


def test_hidden_size_must_split_into_modules():
    with pytest.raises(ValueError, match="multiple of len"):
        ll.ClockworkRNN(2, 5, periods=(1, 2))


def test_bad_inputs_name_the_argument():
    cw = make()
    with pytest.raises(ValueError, match="xs"):
        cw.forward(np.zeros((3, 2, 5)))
    with pytest.raises(ValueError, match="state"):
        cw.forward(np.zeros((3, 2, 2)), np.zeros((2, 5)))
    cw.forward(np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="dhs"):
        cw.backward(np.zeros((3, 2, 5)))


def test_repr_shows_the_options():
    assert repr(ll.ClockworkRNN(2, 4, periods=(1, 8), bias=False)) == \
        "ClockworkRNN(2, 4, periods=(1, 8), bias=False)"


def test_detect_anomaly_names_the_step():
    cw = make()
    xs = np.random.default_rng(8).standard_normal((6, 2, 2))
    xs[3, 1, 0] = np.nan
    with ll.detect_anomaly(), pytest.raises(FloatingPointError, match="h at t=3 is nan in forward"):
        cw.forward(xs)
    cw.discard_saved()
