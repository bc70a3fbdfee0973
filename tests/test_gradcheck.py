"""The checker is tested too: it must catch a wrong backward."""

import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll
from lstmlab.gradcheck import rel_error


def test_numerical_gradient_of_known_function():
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    grad = ll.numerical_gradient(lambda x: float(np.sum(np.sin(x))), x.copy())
    assert rel_error(grad, np.cos(x)) < 1e-9


def test_numerical_gradient_restores_input():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    ll.numerical_gradient(lambda x: float(np.sum(x ** 3)), x)
    assert np.array_equal(x, before)


def test_rel_error_definition():
    a, b = np.array([1.0, -3.0]), np.array([1.5, -3.0])
    assert rel_error(a, b) == pytest.approx(0.5 / 6.0)
    assert rel_error(np.zeros(2), np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_flipped_sign_in_backward_is_caught(monkeypatch):
    cell = randomize_params(ll.RNNCell(3, 4, rng=0))
    original = ll.RNNCell.backward_step

    def flipped(self, dh, cache, **kw):
        da, dh_prev = original(self, dh, cache, **kw)
        return da, -dh_prev

    monkeypatch.setattr(ll.RNNCell, "backward_step", flipped)
    report = ll.check_cell(cell)
    assert report.failures(1e-7) == ["state"]
    assert report["state"] > 0.5
    with pytest.raises(AssertionError, match="gradient check failed for \\['state'\\]"):
        report.assert_ok()


def test_missing_term_in_lstm_backward_is_caught(monkeypatch):
    # Backpropagate with a wrong output gate (o ~ 0): the paths through o vanish from
    # the backward while the forward still uses them.
    cell = randomize_params(ll.LSTMCell(3, 4, rng=0))
    original = ll.LSTMCell.backward_step

    def missing(self, dstate, cache, **kw):
        dh, dc = dstate
        wrong_cache = cache._replace(o=np.zeros_like(cache.o) + 1e-300)
        return original(self, ll.LSTMState(dh, dc), wrong_cache, **kw)

    monkeypatch.setattr(ll.LSTMCell, "backward_step", missing)
    assert ll.check_cell(cell).max_error > 1e-3


def test_wrong_weight_gradient_is_caught(monkeypatch):
    cell = randomize_params(ll.GRUCell(3, 4, rng=0))
    original = ll.GRUCell.backward_step

    def half(self, dh, cache, **kw):
        out = original(self, dh, cache, **kw)
        self.grads["W_h"] *= 0.5
        return out

    monkeypatch.setattr(ll.GRUCell, "backward_step", half)
    report = ll.check_cell(cell)
    assert report.failures(1e-7) == ["W_h"]


def test_checker_refuses_float32():
    with pytest.raises(TypeError, match="gradient checks need float64"):
        ll.check_cell(ll.RNNCell(3, 4, dtype=np.float32, rng=0))


def test_report_lists_every_name():
    cell = ll.LSTMCell(3, 4, peephole=True, rng=0)
    report = ll.check_cell(cell)
    assert list(report) == ["x", "state.h", "state.c", "W_x", "W_h", "b", "p_i", "p_f", "p_o"]
    text = str(report)
    assert text.splitlines()[0].startswith("name") and "p_o" in text


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32, np.float16, bool])
def test_numerical_gradient_refuses_anything_but_float64(dtype):
    # an int array truncates x + h (the answer came out as [49999, 150000] for [2, 4]);
    # float32 round-off over 2h gave 2.0027 for 2
    x = np.array([1, 2], dtype=dtype)
    before = x.copy()
    expected = f"x: numerical gradients need a float64 .*{np.dtype(dtype)}$"
    with pytest.raises(TypeError, match=expected):
        ll.numerical_gradient(lambda x: float(np.sum(x.astype(np.float64) ** 2)), x)
    assert np.array_equal(x, before)  # refused before any perturbation


def test_numerical_gradient_refuses_a_list():
    with pytest.raises(TypeError, match="float64 ndarray.*got list"):
        ll.numerical_gradient(lambda x: 0.0, [1.0, 2.0])
