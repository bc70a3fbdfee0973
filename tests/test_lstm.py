import itertools
import math

import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll

VARIANTS = list(itertools.product([False, True], [False, True], [False, True]))


def sig(a):
    return 1 / (1 + math.exp(-a))


@pytest.mark.parametrize("peephole, coupled, bias", VARIANTS)
def test_gradient_check(peephole, coupled, bias):
    cell = ll.LSTMCell(3, 5, peephole=peephole, coupled=coupled, bias=bias, rng=0)
    randomize_params(cell)
    report = ll.check_cell(cell, N=2)
    assert set(report) == {"x", "state.h", "state.c"} | set(cell.params)
    report.assert_ok(1e-7)


@pytest.mark.parametrize("peephole, coupled", [(False, False), (True, False), (False, True),
                                               (True, True)])
def test_hand_computed_step(peephole, coupled):
    # D = H = 1: evaluate the equations with scalars and Python's math module.
    cell = ll.LSTMCell(1, 1, peephole=peephole, coupled=coupled, rng=0)
    names = cell.gates
    wx = dict(zip(names, [0.5, -0.4, 0.9, 0.2]))
    wh = dict(zip(names, [0.3, 0.8, -0.6, 0.1]))
    b = dict(zip(names, [0.1, -0.2, 0.05, 0.3]))
    p = {"i": 0.25, "f": -0.5, "o": 0.75}
    for k, gate in enumerate(names):
        cell.params["W_x"][0, k] = wx[gate]
        cell.params["W_h"][0, k] = wh[gate]
        cell.params["b"][k] = b[gate]
    if peephole:
        for gate in "ifo":
            if f"p_{gate}" in cell.params:
                cell.params[f"p_{gate}"][...] = p[gate]
    x, h_prev, c_prev = 1.5, -0.7, 0.4
    peek = 1.0 if peephole else 0.0

    def pre(gate):
        return wx[gate] * x + wh[gate] * h_prev + b[gate]

    f = sig(pre("f") + peek * p["f"] * c_prev)
    i = 1 - f if coupled else sig(pre("i") + peek * p["i"] * c_prev)
    g = math.tanh(pre("g"))
    c = f * c_prev + i * g
    o = sig(pre("o") + peek * p["o"] * c)
    h = o * math.tanh(c)
    state, cache = cell.forward(np.array([[x]]), ll.LSTMState(np.array([[h_prev]]),
                                                              np.array([[c_prev]])))
    assert state.h[0, 0] == pytest.approx(h, abs=1e-15)
    assert state.c[0, 0] == pytest.approx(c, abs=1e-15)
    assert (cache.i[0, 0], cache.f[0, 0], cache.g[0, 0], cache.o[0, 0]) == pytest.approx(
        (i, f, g, o), abs=1e-15)


def test_shapes_of_variants():
    assert ll.LSTMCell(3, 5, rng=0).params["W_x"].shape == (3, 20)
    coupled = ll.LSTMCell(3, 5, coupled=True, peephole=True, rng=0)
    assert coupled.params["W_h"].shape == (5, 15)
    assert sorted(k for k in coupled.params if k.startswith("p_")) == ["p_f", "p_o"]
    assert coupled.gates == "fgo"


def test_coupled_input_gate_is_one_minus_forget():
    cell = randomize_params(ll.LSTMCell(3, 5, coupled=True, rng=0))
    state, cache = cell.forward(np.ones((2, 3)), cell.initial_state(2))
    assert np.array_equal(cache.i, 1.0 - cache.f)


def test_forget_bias_sets_only_forget_columns():
    cell = ll.LSTMCell(3, 4, forget_bias=1.0, rng=0)
    b = cell.params["b"]
    assert np.all(b[4:8] == 1.0)
    assert np.all(np.abs(np.r_[b[:4], b[8:]]) <= 0.5) and not np.any(b[8:] == 1.0)
    with pytest.raises(ValueError, match="forget_bias: must be 0.0 when bias=False"):
        ll.LSTMCell(3, 4, forget_bias=1.0, bias=False)


def test_forget_gate_one_and_input_zero_keeps_cell():
    # The constant error carousel: with f = 1 and i = 0 the cell passes c through unchanged,
    # and the gradient dc_prev equals dc exactly.
    cell = ll.LSTMCell(2, 3, rng=0)
    cell.params["W_x"][...] = 0.0
    cell.params["W_h"][...] = 0.0
    cell.params["b"][...] = 0.0
    cell.params["b"][3:6] = 1e4   # f = 1
    cell.params["b"][0:3] = -1e4  # i = 0
    c_prev = np.array([[0.3, -2.0, 5.0]])
    state, cache = cell.forward(np.ones((1, 2)), ll.LSTMState(np.zeros((1, 3)), c_prev))
    assert np.array_equal(state.c, c_prev)
    dc = np.array([[1.0, 2.0, 3.0]])
    _, dstate_prev = cell.backward(ll.LSTMState(np.zeros((1, 3)), dc), cache)
    assert np.array_equal(dstate_prev.c, dc)


def test_bare_h_state_is_refused():
    cell = ll.LSTMCell(3, 5, rng=0)
    with pytest.raises(TypeError, match=r"state: expected LSTMState\(h, c\)"):
        cell.forward(np.ones((2, 3)), np.zeros((2, 5)))


def test_peepholes_at_zero_are_the_plain_cell():
    # One set of equations serves both: with p_i = p_f = p_o = 0 every number is identical.
    plain = randomize_params(ll.LSTMCell(3, 5, rng=0))
    peep = ll.LSTMCell(3, 5, peephole=True, rng=0)
    for k in plain.params:
        peep.params[k][...] = plain.params[k]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3))
    state = ll.LSTMState(rng.standard_normal((2, 5)), rng.standard_normal((2, 5)))
    dstate = ll.LSTMState(rng.standard_normal((2, 5)), rng.standard_normal((2, 5)))
    results = []
    for cell in (plain, peep):
        new, cache = cell.forward(x, state)
        dx, dprev = cell.backward(dstate, cache)
        results.append((new, dx, dprev, {k: cell.grads[k] for k in plain.params}))
    (new1, dx1, dprev1, g1), (new2, dx2, dprev2, g2) = results
    assert all(np.array_equal(a, b) for a, b in zip(new1 + dprev1, new2 + dprev2))
    assert np.array_equal(dx1, dx2) and all(np.array_equal(g1[k], g2[k]) for k in g1)
    assert peep.grads["p_o"].any()  # the peepholes still learn from zero


def test_cache_keeps_separate_gate_arrays():
    # No fused gate buffer: each gate is its own (N, H) array, none a view of another.
    cell = ll.LSTMCell(3, 5, rng=0)
    _, cache = cell.forward(np.ones((2, 3)), cell.initial_state(2))
    assert cache._fields == ("x", "h_prev", "c_prev", "i", "f", "g", "o", "c", "tanh_c",
                             "q_prev")  # q_prev: the last step's gates, gate recurrence only
    assert cache.q_prev is None
    arrays = [cache.i, cache.f, cache.g, cache.o, cache.c, cache.tanh_c]
    assert all(a.shape == (2, 5) and a.base is None for a in arrays)
    assert cell.split_gates(np.zeros((2, 20)))[0].shape == (2, 5)
    coupled = ll.LSTMCell(3, 5, coupled=True, rng=0)
    a_i, a_f, a_g, a_o = coupled.split_gates(np.arange(15.0)[None])
    assert a_i is None and a_f[0, 0] == 0 and a_o[0, 0] == 10
    assert np.array_equal(coupled.join_gates(None, a_f, a_g, a_o), np.arange(15.0)[None])


# -- the projection, proj_size = P (Sak et al. 2014; PyTorch's nn.LSTM(proj_size=P)) ------------
@pytest.mark.parametrize("peephole, coupled, bias", VARIANTS)
def test_projection_gradient_check(peephole, coupled, bias):
    cell = randomize_params(ll.LSTMCell(3, 5, proj_size=2, peephole=peephole, coupled=coupled,
                                        bias=bias, rng=0))
    report = ll.check_cell(cell, N=2)
    assert "W_hr" in report
    report.assert_ok(1e-7)


def test_projection_gradient_check_through_time():
    rng = np.random.default_rng(0)
    layer = randomize_params(ll.Recurrent(ll.LSTMCell(3, 5, proj_size=2, rng=0)))
    xs = rng.standard_normal((6, 2, 3))
    state = ll.LSTMState(rng.standard_normal((2, 2)), rng.standard_normal((2, 5)))
    report = ll.check_layer(layer, xs, state, lengths=[6, 4])
    assert {"input0", "input1.h", "input1.c", "W_hr"} <= set(report)
    report.assert_ok(1e-6)


def test_projection_layer_gradient_check_stacked_bidirectional():
    rng = np.random.default_rng(1)
    lstm = randomize_params(ll.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=3, rng=0))
    x = rng.standard_normal((5, 2, 3))
    state = ll.LSTMState(rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 4)))
    out, (h_n, c_n) = lstm.forward(x, state)
    assert out.shape == (5, 2, 6) and h_n.shape == (4, 2, 3) and c_n.shape == (4, 2, 4)
    assert lstm.params["layers.1.fwd.W_x"].shape == (6, 16)  # layer 1 reads dirs * P
    report = ll.check_layer(lstm, x, state)
    assert "layers.1.bwd.W_hr" in report
    report.assert_ok(1e-6)


def test_projection_equations_by_hand():
    cell = randomize_params(ll.LSTMCell(3, 5, proj_size=2, rng=0))
    rng = np.random.default_rng(2)
    x, h_prev, c_prev = (rng.standard_normal(s) for s in ((4, 3), (4, 2), (4, 5)))
    state, cache = cell.forward(x, ll.LSTMState(h_prev, c_prev))
    p = cell.params
    a = x @ p["W_x"] + h_prev @ p["W_h"] + p["b"]
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    s = ll.sigmoid
    c = s(a_f) * c_prev + s(a_i) * np.tanh(a_g)
    assert np.allclose(state.c, c, rtol=0, atol=1e-14)
    assert np.allclose(state.h, (s(a_o) * np.tanh(c)) @ p["W_hr"], rtol=0, atol=1e-14)
    assert cell.output_size == 2 and cell.initial_state(3).h.shape == (3, 2)
    assert repr(cell) == "LSTMCell(3, 5, proj_size=2)"


@pytest.mark.parametrize("proj_size, error, message", [
    (5, ValueError, r"proj_size: expected 0 \(no projection\) or an integer in "
                    r"\[1, hidden_size\) = \[1, 5\), got 5"),
    (7, ValueError, r"\[1, 5\), got 7"),
    (-1, ValueError, r"\[1, 5\), got -1"),
    (2.0, TypeError, "proj_size: expected an integer, got float 2.0"),
    (True, TypeError, "proj_size: expected an integer, got bool True"),
])
def test_bad_proj_size(proj_size, error, message):
    with pytest.raises(error, match=message):
        ll.LSTMCell(3, 5, proj_size=proj_size)
    with pytest.raises(error, match=message):
        ll.LSTM(3, 5, proj_size=proj_size)


def test_projection_state_shapes_are_checked():
    cell = ll.LSTMCell(3, 5, proj_size=2, rng=0)
    with pytest.raises(ValueError, match=r"state.h: expected shape \(N, P\) = \(4, 2\), "
                                         r"got \(4, 5\)"):
        cell.forward(np.ones((4, 3)), ll.LSTMState(np.zeros((4, 5)), np.zeros((4, 5))))
    lstm = ll.LSTM(3, 5, proj_size=2, rng=0)
    with pytest.raises(ValueError, match=r"state.h: expected shape .*= \(1, 4, 2\)"):
        lstm.forward(np.ones((6, 4, 3)), ll.LSTMState(np.zeros((1, 4, 5)), np.zeros((1, 4, 5))))
