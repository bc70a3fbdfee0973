import math

import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll


def sig(a):
    return 1 / (1 + math.exp(-a))


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_gradient_check(reset_after, bias):
    cell = randomize_params(ll.GRUCell(3, 5, reset_after=reset_after, bias=bias, rng=0))
    report = ll.check_cell(cell, N=2)
    assert set(report) == {"x", "state"} | set(cell.params)
    report.assert_ok(1e-7)


@pytest.mark.parametrize("reset_after", [True, False])
def test_hand_computed_step(reset_after):
    # D = H = 1: every matrix is a number, so the equations can be evaluated by hand.
    cell = ll.GRUCell(1, 1, reset_after=reset_after, rng=0)
    wx, wh, b = [0.5, -0.4, 0.9], [0.3, 0.8, -0.6], [0.1, -0.2, 0.05]
    cell.params["W_x"][...] = [wx]
    cell.params["W_h"][...] = [wh]
    cell.params["b"][...] = b
    if reset_after:
        cell.params["b_hn"][...] = 0.07
    x, h_prev = 1.5, -0.7
    r = sig(wx[0] * x + wh[0] * h_prev + b[0])
    z = sig(wx[1] * x + wh[1] * h_prev + b[1])
    if reset_after:
        n = math.tanh(wx[2] * x + b[2] + r * (wh[2] * h_prev + 0.07))
    else:
        n = math.tanh(wx[2] * x + (r * h_prev) * wh[2] + b[2])
    expected = (1 - z) * n + z * h_prev
    h, cache = cell.forward(np.array([[x]]), np.array([[h_prev]]))
    assert h[0, 0] == pytest.approx(expected, abs=1e-15)
    assert cache.r[0, 0] == pytest.approx(r, abs=1e-15)
    assert cache.z[0, 0] == pytest.approx(z, abs=1e-15)


def test_param_keys():
    assert sorted(ll.GRUCell(2, 3, rng=0).params) == ["W_h", "W_x", "b", "b_hn"]
    assert sorted(ll.GRUCell(2, 3, reset_after=False, rng=0).params) == ["W_h", "W_x", "b"]
    assert sorted(ll.GRUCell(2, 3, bias=False, rng=0).params) == ["W_h", "W_x"]
    assert ll.GRUCell(2, 3, rng=0).params["W_h"].shape == (3, 9)


def test_opposite_z_convention_by_negating_update_gate():
    # Texts that write h = z * n + (1 - z) * h_prev use z' = 1 - z = sigmoid(-a_z).
    cell = randomize_params(ll.GRUCell(2, 3, rng=0))
    H = 3
    x = np.random.default_rng(1).standard_normal((4, 2))
    h_prev = np.random.default_rng(2).standard_normal((4, 3))
    h, cache = cell.forward(x, h_prev)
    p = cell.params
    a_z = x @ p["W_x"][:, H:2 * H] + h_prev @ p["W_h"][:, H:2 * H] + p["b"][H:2 * H]
    z_other = ll.sigmoid(-a_z)
    assert np.allclose(z_other * cache.n + (1 - z_other) * h_prev, h, atol=1e-14)
