"""ll.Dropout: inverted scaling, train/eval, variational masks, forward records, gradients."""

import numpy as np
import pytest

import lstmlab as ll


def frozen_mask_check(p, x, variational=False, seed=3):
    """Gradient check with the mask frozen: every forward re-seeds the generator."""
    drop = ll.Dropout(p, variational=variational)

    def forward(x):
        drop.rng = np.random.default_rng(seed)  # the same mask at every call
        return drop.forward(x), None

    def backward(dy, _ctx):
        return (drop.backward(dy),)

    return ll.check_gradients(forward, backward, (x,), ("x",), seed=seed)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_gradient_check_float64_frozen_mask(p):
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    frozen_mask_check(p, x).assert_ok(1e-9)
    frozen_mask_check(p, x, variational=True).assert_ok(1e-9)


def test_inverted_scaling_like_pytorch():
    p = 0.3
    x = np.ones((200, 500))
    y = ll.Dropout(p, rng=0).forward(x)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-15)  # PyTorch: x / (1 - p)
    assert abs(kept.mean() - (1 - p)) < 0.005
    assert abs(y.mean() - 1.0) < 0.01  # E[y] = x: evaluation needs no rescaling


def test_backward_uses_the_forward_mask():
    drop = ll.Dropout(0.5, rng=1)
    x = np.random.default_rng(2).standard_normal((3, 7))
    y = drop.forward(x)
    dy = np.random.default_rng(3).standard_normal(y.shape)
    dx = drop.backward(dy)
    mask = np.where(y != 0, 2.0, 0.0)  # x has no exact zeros
    np.testing.assert_array_equal(dx, dy * mask)


def test_eval_is_a_copy_of_the_input_and_backward_passes_through():
    drop = ll.Dropout(0.5, rng=0).eval()
    assert not drop.training
    x = np.arange(6.0).reshape(2, 3)
    y = drop.forward(x)
    np.testing.assert_array_equal(y, x)
    assert y is not x and not np.shares_memory(y, x)
    np.testing.assert_array_equal(drop.backward(np.ones((2, 3))), np.ones((2, 3)))
    assert drop.train().training and drop.train(False) is drop and not drop.training


def test_p_zero_is_identity_and_p_one_zeros_everything():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(ll.Dropout(0.0, rng=0).forward(x), x)
    drop = ll.Dropout(1.0, rng=0)
    assert not drop.forward(x).any()
    assert not drop.backward(np.ones_like(x)).any()


def test_variational_mask_is_shared_over_time_only():
    x = np.ones((6, 40, 30))
    y = ll.Dropout(0.5, variational=True, rng=0).forward(x)
    np.testing.assert_array_equal(y, np.broadcast_to(y[0], y.shape))  # the same at every t
    assert 0 < (y[0] == 0).mean() < 1  # but different across sequences and units
    assert len({tuple(row) for row in y[0]}) > 1


def test_non_variational_mask_differs_over_time():
    y = ll.Dropout(0.5, rng=0).forward(np.ones((6, 4, 10)))
    assert not np.array_equal(y[0], y[1])


def test_variational_needs_a_time_major_3d_input():
    with pytest.raises(ValueError, match=r"x: variational dropout expects a time-major "
                                         r"\(T, N, D\) input.*got shape \(4, 5\)"):
        ll.Dropout(0.5, variational=True).forward(np.ones((4, 5)))


def test_same_seed_same_masks_and_fresh_mask_per_forward():
    x = np.ones((5, 8))
    a, b = ll.Dropout(0.5, rng=7), ll.Dropout(0.5, rng=7)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    assert not np.array_equal(a.forward(x), a.forward(x))


def test_used_k_times_gets_k_backwards_in_reverse_order():
    drop = ll.Dropout(0.5, rng=0)
    x1, x2 = np.ones((3, 4)), np.ones((2, 4))
    y1, y2 = drop.forward(x1), drop.forward(x2)
    dx2 = drop.backward(np.ones((2, 4)))  # the most recent forward first
    dx1 = drop.backward(np.ones((3, 4)))
    np.testing.assert_array_equal(dx2, y2)
    np.testing.assert_array_equal(dx1, y1)
    with pytest.raises(RuntimeError, match="no forward"):
        drop.backward(np.ones((3, 4)))


def test_dy_shape_is_checked_against_the_forward_it_consumes():
    drop = ll.Dropout(0.5, variational=True, rng=0)
    drop.forward(np.ones((3, 2, 4)))
    with pytest.raises(ValueError, match=r"dy: expected shape \(3, 2, 4\).*got \(1, 2, 4\)"):
        drop.backward(np.ones((1, 2, 4)))


def test_no_grad_keeps_no_record():
    drop = ll.Dropout(0.5, rng=0)
    with ll.no_grad():
        y = drop.forward(np.ones((2, 3)))
    assert (y == 0).any() or (y == 2).all()  # still drops in training mode
    with pytest.raises(RuntimeError, match="no forward"):
        drop.backward(np.ones((2, 3)))


def test_dtype_follows_the_input():
    y = ll.Dropout(0.5, rng=0).forward(np.ones((3, 4), dtype=np.float32))
    assert y.dtype == np.float32
    assert set(np.unique(y).tolist()) <= {0.0, 2.0}


def test_model_train_and_eval_reach_the_dropout():
    drop = ll.Dropout(0.5)
    model = ll.Model(drop=drop, head=ll.Linear(2, 2, rng=0))
    assert model.eval() is model and not drop.training
    model.train()
    assert drop.training and model.num_params() == 6


def test_repr():
    assert repr(ll.Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(ll.Dropout(0.5, variational=True)) == "Dropout(p=0.5, variational=True)"


@pytest.mark.parametrize("p, error, match", [
    (-0.1, ValueError, r"p: expected a value in \[0.0, 1.0\], got -0.1"),
    (1.5, ValueError, r"p: expected a value in \[0.0, 1.0\], got 1.5"),
    ("half", TypeError, "p: expected a number"),
])
def test_bad_p(p, error, match):
    with pytest.raises(error, match=match):
        ll.Dropout(p)


def test_bad_inputs():
    with pytest.raises(TypeError, match="x: expected a floating-point array"):
        ll.Dropout(0.5).forward(np.ones(3, dtype=int))
    with pytest.raises(TypeError, match="rng: expected None, an int seed"):
        ll.Dropout(0.5, rng="seed")


def test_matches_torch_dropout_scaling():
    torch = pytest.importorskip("torch")
    x = torch.ones(2000, dtype=torch.float64)
    y = torch.nn.functional.dropout(x, p=0.4, training=True)
    ours = ll.Dropout(0.4, rng=0).forward(np.ones(2000))
    assert set(np.unique(y.numpy()).round(12)) == set(np.unique(ours).round(12))


def test_detect_anomaly_names_the_dropout():
    model = ll.Model(drop=ll.Dropout(0.0))
    with ll.detect_anomaly(), pytest.raises(FloatingPointError, match="Model drop: y is inf"):
        model.drop.forward(np.array([[np.inf, 1.0]]))
    model.drop.discard_saved()
    model.drop.forward(np.ones((1, 2)))
    with ll.detect_anomaly(), pytest.raises(FloatingPointError, match="dx is nan in backward"):
        model.drop.backward(np.array([[np.nan, 1.0]]))
