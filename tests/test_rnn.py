import math

import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_gradient_check(nonlinearity, bias):
    cell = randomize_params(ll.RNNCell(3, 5, nonlinearity=nonlinearity, bias=bias, rng=0))
    report = ll.check_cell(cell, N=2)
    assert set(report) == {"x", "state"} | set(cell.params)
    report.assert_ok(1e-7)


def test_hand_computed_tanh_step():
    cell = ll.RNNCell(1, 1, rng=0)
    cell.params["W_x"][...] = 0.5
    cell.params["W_h"][...] = -0.3
    cell.params["b"][...] = 0.1
    h, _ = cell.forward(np.array([[2.0]]), np.array([[0.4]]))
    assert h[0, 0] == pytest.approx(math.tanh(0.5 * 2.0 - 0.3 * 0.4 + 0.1), abs=1e-15)


def test_relu_step_clips_negative():
    cell = ll.RNNCell(1, 2, nonlinearity="relu", bias=False, rng=0)
    cell.params["W_x"][...] = [[1.0, -1.0]]
    cell.params["W_h"][...] = 0.0
    h, _ = cell.forward(np.array([[3.0]]), cell.initial_state(1))
    assert h.tolist() == [[3.0, 0.0]]


def test_param_shapes_and_init_bound():
    cell = ll.RNNCell(3, 16, rng=0)
    assert {k: v.shape for k, v in cell.params.items()} == {
        "W_x": (3, 16), "W_h": (16, 16), "b": (16,)}
    assert all(np.abs(p).max() <= 0.25 for p in cell.params.values())


def test_bad_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity: expected 'tanh' or 'relu', got 'sigmoid'"):
        ll.RNNCell(3, 5, nonlinearity="sigmoid")
