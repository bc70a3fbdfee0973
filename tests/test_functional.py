import numpy as np
import pytest

import lstmlab as ll
from lstmlab.gradcheck import numerical_gradient, rel_error

DTYPES = [np.float32, np.float64]
EXTREMES = [-1e4, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1e4]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", [ll.sigmoid, ll.tanh, ll.relu, ll.softmax, ll.log_softmax])
def test_stable_for_large_inputs(fn, dtype):
    # filterwarnings=error turns any overflow warning into a failure
    a = np.array(EXTREMES, dtype=dtype)
    out = fn(a)
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))


def test_values_against_definitions():
    a = np.linspace(-5, 5, 11)
    assert rel_error(ll.sigmoid(a), 1 / (1 + np.exp(-a))) < 1e-15
    assert rel_error(ll.softmax(a), np.exp(a) / np.exp(a).sum()) < 1e-15
    assert rel_error(ll.log_softmax(a), np.log(np.exp(a) / np.exp(a).sum())) < 1e-15
    assert np.array_equal(ll.relu(a), np.where(a > 0, a, 0))


def test_sigmoid_saturates_exactly():
    out = ll.sigmoid(np.array([-1e4, 1e4], dtype=np.float32))
    assert out.tolist() == [0.0, 1.0]


def test_softmax_rows_sum_to_one_and_log_softmax_extreme():
    a = np.array([[1e4, -1e4, 0.0], [3.0, 3.0, 3.0]])
    assert np.allclose(ll.softmax(a).sum(axis=1), 1.0)
    ls = ll.log_softmax(a)
    assert ls[0, 0] == 0.0 and ls[0, 1] == -2e4
    assert np.allclose(ls[1], -np.log(3.0))


def test_softmax_axis():
    a = np.random.default_rng(0).standard_normal((3, 4))
    assert np.allclose(ll.softmax(a, axis=0).sum(axis=0), 1.0)


@pytest.mark.parametrize(
    "fn, dfn",
    [(ll.sigmoid, ll.dsigmoid), (ll.tanh, ll.dtanh), (ll.relu, ll.drelu)],
)
def test_derivatives_from_outputs_match_numerical(fn, dfn):
    a = np.array([-2.0, -0.5, 0.3, 1.7])  # away from relu's kink
    # elementwise functions: the gradient of sum(fn(a)) is the vector of derivatives
    numeric = numerical_gradient(lambda x: float(fn(x.copy()).sum()), a.copy())
    assert rel_error(dfn(fn(a)), numeric) < 1e-9


def test_sigmoid_out_in_place():
    a = np.array([0.0, 2.0])
    out = ll.sigmoid(a, out=a)
    assert out is a and a[0] == 0.5
