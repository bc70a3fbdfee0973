import math

import numpy as np
import pytest

import lstmlab as ll


def check_loss_gradient(loss_fn, z, *args, **kwargs):
    """rel_error between a loss's analytic gradient and central differences on its input."""
    _, dz = loss_fn(z, *args, **kwargs)
    numeric = ll.numerical_gradient(lambda z_: loss_fn(z_, *args, **kwargs)[0], z)
    assert np.abs(dz).max() > 0  # something to check
    return ll.rel_error(dz, numeric)


# -- cross_entropy ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (4, 5), (3, 2, 5)])
@pytest.mark.parametrize("ignore_index", [None, 0, -100])
def test_cross_entropy_gradient_check(shape, ignore_index):
    rng = np.random.default_rng(0)
    logits = 2 * rng.standard_normal(shape)
    targets = rng.integers(0, 5, size=shape[:-1])
    if ignore_index is not None and targets.ndim:
        targets.flat[0] = ignore_index  # at least one ignored position
        targets.flat[-1] = 3
    assert check_loss_gradient(ll.cross_entropy, logits, targets,
                               ignore_index=ignore_index) < 1e-7


def test_cross_entropy_hand_computed():
    # uniform logits: every class has p = 1/C, so the loss is log C
    loss, d = ll.cross_entropy(np.zeros((2, 4)), np.array([1, 3]))
    assert loss == pytest.approx(math.log(4), abs=1e-15)
    assert d.tolist() == [[0.125, -0.375, 0.125, 0.125], [0.125, 0.125, 0.125, -0.375]]
    # one row, two classes: -log softmax([1, 3])[0] = log(1 + e^2)
    loss, d = ll.cross_entropy(np.array([1.0, 3.0]), np.array(0))
    assert loss == pytest.approx(math.log1p(math.exp(2)), rel=1e-15)
    s = 1 / (1 + math.exp(-2))
    np.testing.assert_allclose(d, [(1 - s) - 1, s], rtol=1e-15)  # softmax - onehot


def test_cross_entropy_mean_over_counted_targets_only():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4))
    full, _ = ll.cross_entropy(logits[:2], np.array([1, 2]))
    loss, d = ll.cross_entropy(logits, np.array([1, 2, 0]), ignore_index=0)
    assert loss == pytest.approx(full, rel=1e-15)  # the padded row adds nothing, K = 2
    assert not d[2].any()
    # ignore_index is a class index here (0): an ignored 0 is not "class 0"
    assert ll.cross_entropy(logits, np.array([1, 2, 0]))[0] != pytest.approx(loss)


def test_cross_entropy_all_ignored_is_zero_without_warning():
    logits = np.random.default_rng(0).standard_normal((2, 3, 4))
    loss, d = ll.cross_entropy(logits, np.full((2, 3), -100), ignore_index=-100)
    assert loss == 0.0 and d.shape == logits.shape and not d.any()
    loss, d = ll.nll_loss(logits, np.full((2, 3), 7), ignore_index=7)
    assert loss == 0.0 and not d.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stable_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    loss, d = ll.cross_entropy(logits, np.array([1, 2, 0]))  # no warning: they are errors here
    # row 0: -log p = 2e4; row 1: uniform, log 3; row 2: two-way tie, log 2
    expected = (2e4 + math.log(3) + math.log(2)) / 3
    assert loss == pytest.approx(expected, rel=1e-6)
    assert d.dtype == dtype and np.isfinite(d).all()
    np.testing.assert_allclose(d[0], [1 / 3, -1 / 3, 0.0], atol=1e-7)


def test_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    for scale in (1.0, 30.0, 1e4):
        logits = scale * rng.standard_normal((4, 3, 6))  # (T, N, C), classes last
        targets = rng.integers(0, 6, size=(4, 3))
        targets[0, :] = -100
        for ignore in (None, -100):
            loss, d = ll.cross_entropy(logits, targets if ignore else np.abs(targets) % 6,
                                       ignore_index=ignore)
            t = torch.from_numpy(logits.reshape(-1, 6)).requires_grad_()
            tt = torch.from_numpy((targets if ignore else np.abs(targets) % 6).reshape(-1))
            ref = F.cross_entropy(t, tt, reduction="mean", ignore_index=ignore or -100)
            ref.backward()
            assert abs(loss - ref.item()) <= 1e-12 * max(1.0, abs(ref.item()))
            np.testing.assert_allclose(d.reshape(-1, 6), t.grad.numpy(), rtol=0, atol=1e-15)


# -- nll_loss ----------------------------------------------------------------------------------
def test_nll_of_log_softmax_equals_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 2, 5))
    targets = rng.integers(0, 5, size=(3, 2))
    ce, dce = ll.cross_entropy(logits, targets)
    log_p = ll.log_softmax(logits)
    nll, dlog_p = ll.nll_loss(log_p, targets)
    assert nll == pytest.approx(ce, rel=1e-14)
    # chain rule through log_softmax: dz = dlog_p - softmax * sum(dlog_p)
    dz = dlog_p - np.exp(log_p) * dlog_p.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(dz, dce, rtol=0, atol=1e-15)


@pytest.mark.parametrize("ignore_index", [None, 2])
def test_nll_gradient_check(ignore_index):
    rng = np.random.default_rng(0)
    log_probs = rng.standard_normal((4, 3))
    targets = np.array([0, 2, 1, 2])
    assert check_loss_gradient(ll.nll_loss, log_probs, targets,
                               ignore_index=ignore_index) < 1e-9


def test_nll_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    log_probs = ll.log_softmax(rng.standard_normal((6, 4)))
    targets = np.array([0, 3, 1, 1, 2, 0])
    loss, d = ll.nll_loss(log_probs, targets, ignore_index=1)
    t = torch.from_numpy(log_probs).requires_grad_()
    ref = torch.nn.functional.nll_loss(t, torch.from_numpy(targets), ignore_index=1)
    ref.backward()
    assert abs(loss - ref.item()) <= 1e-15
    np.testing.assert_allclose(d, t.grad.numpy(), rtol=0, atol=1e-16)


# -- mse ---------------------------------------------------------------------------------------
def test_mse_hand_computed_and_gradient_check():
    loss, d = ll.mse(np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[1.0, 0.0], [3.0, 4.0]]))
    assert loss == (0 + 4 + 0 + 1) / 4
    assert d.tolist() == [[0.0, 1.0], [0.0, 0.5]]
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    assert check_loss_gradient(ll.mse, pred, target) < 1e-9


def test_mse_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    loss, d = ll.mse(pred, target)
    t = torch.from_numpy(pred).requires_grad_()
    ref = torch.nn.functional.mse_loss(t, torch.from_numpy(target))
    ref.backward()
    assert abs(loss - ref.item()) <= 1e-15
    np.testing.assert_allclose(d, t.grad.numpy(), rtol=0, atol=1e-16)


# -- binary cross-entropy with logits ------------------------------------------------------------
def test_bce_hand_computed_and_gradient_check():
    z, y = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, 0.25])

    def bce(z, y):
        s = 1 / (1 + math.exp(-z))
        return -(y * math.log(s) + (1 - y) * math.log(1 - s))

    loss, d = ll.binary_cross_entropy_with_logits(z, y)
    assert loss == pytest.approx(sum(bce(a, b) for a, b in zip(z, y)) / 3, rel=1e-14)
    rng = np.random.default_rng(0)
    z = 3 * rng.standard_normal((4, 2))
    y = rng.random((4, 2))
    assert check_loss_gradient(ll.binary_cross_entropy_with_logits, z, y) < 1e-9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_stable_for_huge_logits(dtype):
    z = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    loss, d = ll.binary_cross_entropy_with_logits(z, y)
    assert loss == pytest.approx((0 + 0 + 1e4 + 1e4) / 4, rel=1e-7)
    assert d.dtype == dtype
    np.testing.assert_allclose(d, [0.0, 0.0, 0.25, -0.25], atol=1e-7)


def test_bce_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for scale in (1.0, 50.0, 1e4):
        z = scale * rng.standard_normal((5, 3))
        y = rng.random((5, 3))
        loss, d = ll.binary_cross_entropy_with_logits(z, y)
        t = torch.from_numpy(z).requires_grad_()
        ref = torch.nn.functional.binary_cross_entropy_with_logits(t, torch.from_numpy(y))
        ref.backward()
        assert abs(loss - ref.item()) <= 1e-12 * max(1.0, abs(ref.item()))
        np.testing.assert_allclose(d, t.grad.numpy(), rtol=0, atol=1e-16)


# -- dtypes and errors ---------------------------------------------------------------------------
def test_float32_in_float32_out():
    z = np.zeros((2, 3), dtype=np.float32)
    assert ll.cross_entropy(z, np.array([0, 1]))[1].dtype == np.float32
    assert ll.nll_loss(z, np.array([0, 1]))[1].dtype == np.float32
    assert ll.mse(z, z)[1].dtype == np.float32
    assert ll.binary_cross_entropy_with_logits(z, z)[1].dtype == np.float32


def test_class_target_errors():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"\[0, 3\).*e\.g\. 3"):
        ll.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"or ignore_index = -100.*e\.g\. -1"):
        ll.cross_entropy(logits, np.array([-1, -100]), ignore_index=-100)
    with pytest.raises(ValueError, match=r"targets: expected shape \(2,\)"):
        ll.cross_entropy(logits, np.array([[0, 1]]))
    with pytest.raises(TypeError, match="integer"):
        ll.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="integer"):
        ll.nll_loss(logits, np.array([True, False]))
    with pytest.raises(TypeError, match="ignore_index"):
        ll.cross_entropy(logits, np.array([0, 1]), ignore_index=True)
    with pytest.raises(TypeError, match="logits"):
        ll.cross_entropy(np.zeros((2, 3), dtype=int), np.array([0, 1]))
    with pytest.raises(ValueError, match="0-d"):
        ll.cross_entropy(np.array(1.0), np.array(0))


def test_pair_errors():
    with pytest.raises(ValueError, match=r"target: expected shape \(3,\)"):
        ll.mse(np.zeros(3), np.zeros((3, 1)))  # torch would broadcast to (3, 3)
    with pytest.raises(TypeError, match="float64"):
        ll.mse(np.zeros(3), np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="at least one element"):
        ll.mse(np.zeros(0), np.zeros(0))
    with pytest.raises(TypeError, match="floating"):
        ll.binary_cross_entropy_with_logits(np.zeros(2), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ll.binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="nan"):
        ll.binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, np.nan]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_loss_finite_without_warnings_up_to_1e4(dtype):
    # pyproject turns floating-point warnings (overflow, invalid) into errors
    rng = np.random.default_rng(0)
    z = (1e4 * rng.uniform(-1, 1, size=(4, 3, 6))).astype(dtype)
    z[0, 0] = [1e4, -1e4, 1e4, -1e4, 0, 1e4]
    targets = rng.integers(0, 6, size=(4, 3))
    results = [
        ll.cross_entropy(z, targets),
        ll.cross_entropy(z, targets, ignore_index=int(targets[0, 0])),
        ll.nll_loss(ll.log_softmax(z), targets),
        ll.mse(z, -z),
        ll.binary_cross_entropy_with_logits(z, (rng.random(z.shape) < 0.5).astype(dtype)),
    ]
    for loss, grad in results:
        assert math.isfinite(loss) and loss >= 0
        assert grad.dtype == dtype and np.isfinite(grad).all()


def test_masked_logits_of_minus_infinity_are_fine():
    # a common trick: forbid classes with -inf; only the target's log-probability is read
    logits = np.array([[0.0, -np.inf, 0.0], [-np.inf, 1.0, 1.0]])
    loss, d = ll.cross_entropy(logits, np.array([0, 2]))
    assert loss == pytest.approx(math.log(2), abs=1e-15)
    assert d.tolist() == [[-0.25, 0.0, 0.25], [0.0, 0.25, -0.25]]
    loss, d = ll.nll_loss(ll.log_softmax(logits), np.array([0, 2]))
    assert loss == pytest.approx(math.log(2), abs=1e-15)
