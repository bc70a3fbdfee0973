import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll


@pytest.mark.parametrize("shape", [(3,), (2, 3), (4, 2, 3), (2, 1, 2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_gradient_check_any_leading_shape(shape, bias):
    layer = randomize_params(ll.Linear(3, 5, bias=bias, rng=0))
    x = np.random.default_rng(1).standard_normal(shape)
    report = ll.check_layer(layer, x)
    assert set(report) == {"input0"} | set(layer.params)
    report.assert_ok(1e-7)


def test_forward_is_x_W_plus_b_row_by_row():
    layer = ll.Linear(3, 4, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))  # (T, N, D_in)
    y = layer.forward(x)
    W, b = layer.params["W"], layer.params["b"]
    for t in range(5):
        for n in range(2):
            np.testing.assert_allclose(y[t, n], x[t, n] @ W + b, rtol=0, atol=1e-15)


def test_hand_computed():
    layer = ll.Linear(2, 1, rng=0)
    layer.params["W"][...] = [[2.0], [-1.0]]
    layer.params["b"][...] = [0.5]
    y = layer.forward(np.array([[1.0, 3.0]]))
    assert y.tolist() == [[2.0 - 3.0 + 0.5]]
    dx = layer.backward(np.array([[2.0]]))
    assert dx.tolist() == [[4.0, -2.0]]
    assert layer.grads["W"].tolist() == [[2.0], [6.0]]
    assert layer.grads["b"].tolist() == [2.0]


def test_backward_accumulates():
    layer = ll.Linear(3, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((4, 3))
    dy = np.random.default_rng(2).standard_normal((4, 2))
    layer.forward(x)
    layer.forward(x)
    layer.backward(dy)
    once = {k: g.copy() for k, g in layer.grads.items()}
    layer.backward(dy)
    for k in once:
        np.testing.assert_allclose(layer.grads[k], 2 * once[k], rtol=1e-14)


def test_pytorch_init_bounds_and_no_bias():
    layer = ll.Linear(16, 300, rng=0)
    bound = 1 / np.sqrt(16)
    W, b = layer.params["W"], layer.params["b"]
    assert W.shape == (16, 300) and b.shape == (300,)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert set(ll.Linear(16, 3, bias=False).params) == {"W"}


def test_same_seed_same_weights():
    a, b = ll.Linear(3, 4, rng=7), ll.Linear(3, 4, rng=7)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W"], ll.Linear(3, 4, rng=8).params["W"])


def test_float32():
    layer = ll.Linear(3, 2, dtype=np.float32, rng=0)
    x = np.ones((2, 3), dtype=np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.grads["W"].dtype == np.float32


def test_matches_torch():
    torch = pytest.importorskip("torch")
    layer = ll.Linear(3, 4, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    dy = np.random.default_rng(2).standard_normal((5, 2, 4))
    ref = torch.nn.Linear(3, 4).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.params["W"].T))
        ref.bias.copy_(torch.from_numpy(layer.params["b"]))
    xt = torch.from_numpy(x).requires_grad_()
    yt = ref(xt)
    yt.backward(torch.from_numpy(dy))
    y = layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(layer.grads["W"], ref.weight.grad.numpy().T, rtol=0, atol=1e-13)
    np.testing.assert_allclose(layer.grads["b"], ref.bias.grad.numpy(), rtol=0, atol=1e-13)


def test_errors():
    layer = ll.Linear(3, 2, rng=0)
    with pytest.raises(RuntimeError, match="no forward left to backpropagate in Linear"):
        layer.backward(np.ones((1, 2)))
    with pytest.raises(ValueError, match="D_in = 3"):
        layer.forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match="float32"):
        layer.forward(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="floating"):
        layer.forward(np.ones((2, 3), dtype=int))
    with pytest.raises(ValueError, match="0-d"):
        layer.forward(np.array(1.0))
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"dy: expected shape \(4, 2\) \(the shape of the "
                                         r"output of the forward being backpropagated\), "
                                         r"got \(3, 2\)"):
        layer.backward(np.ones((3, 2)))
    layer.backward(np.ones((4, 2)))  # the refused gradient consumed nothing
    with pytest.raises(ValueError, match="in_features"):
        ll.Linear(0, 2)
    with pytest.raises(TypeError, match="dtype"):
        ll.Linear(2, 2, dtype=np.int64)


def test_repr():
    assert repr(ll.Linear(3, 2)) == "Linear(3, 2)"
    assert repr(ll.Linear(3, 2, bias=False)) == "Linear(3, 2, bias=False)"
