import math

import numpy as np
import pytest

import lstmlab as ll


def make_grads(scale=1.0, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {k: (scale * rng.standard_normal(s)).astype(dtype)
            for k, s in {"W_x": (3, 8), "W_h": (2, 8), "b": (8,)}.items()}


def global_norm(grads):
    return math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))


def cosine(a, b):
    a = np.concatenate([g.ravel() for g in a.values()])
    b = np.concatenate([g.ravel() for g in b.values()])
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_norm_clipping_by_hand():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0, 0.0]])}
    total = ll.clip_grad_norm(grads, 2.5)
    assert total == 5.0
    scale = 2.5 / (5.0 + 1e-6)
    assert grads["a"].tolist() == [3.0 * scale] and grads["b"].tolist() == [[4.0 * scale, 0.0]]


def test_norm_clipping_keeps_the_direction_and_bounds_the_length():
    grads = make_grads(scale=10.0)
    before = {k: g.copy() for k, g in grads.items()}
    arrays = {k: id(g) for k, g in grads.items()}
    total = ll.clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(global_norm(before), rel=1e-14)
    assert global_norm(grads) == pytest.approx(1.0, abs=1e-6) and global_norm(grads) <= 1.0
    assert cosine(grads, before) == pytest.approx(1.0, abs=1e-14)  # the same direction
    for k in grads:  # one common factor for every element
        np.testing.assert_allclose(grads[k], before[k] * (1.0 / (total + 1e-6)), rtol=1e-15)
    assert {k: id(g) for k, g in grads.items()} == arrays  # in place


def test_value_clipping_can_turn_the_gradient():
    grads = {"w": np.array([10.0, 1.0])}
    ll.clip_grad_value(grads, 1.0)
    assert grads["w"].tolist() == [1.0, 1.0]
    assert cosine(grads, {"w": np.array([10.0, 1.0])}) < 0.8  # 45 degrees vs about 6
    norm_clipped = {"w": np.array([10.0, 1.0])}
    ll.clip_grad_norm(norm_clipped, 1.0)
    assert cosine(norm_clipped, {"w": np.array([10.0, 1.0])}) == pytest.approx(1.0, abs=1e-15)


def test_no_change_below_max_norm():
    grads = make_grads()
    before = {k: g.copy() for k, g in grads.items()}
    total = ll.clip_grad_norm(grads, 1e3)
    assert total == pytest.approx(global_norm(before), rel=1e-14)
    assert all(np.array_equal(grads[k], before[k]) for k in grads)


def test_value_clipping_elementwise_in_place():
    grads = make_grads(scale=3.0)
    before = {k: g.copy() for k, g in grads.items()}
    arrays = {k: id(g) for k, g in grads.items()}
    assert ll.clip_grad_value(grads, 0.5) is None
    for k in grads:
        np.testing.assert_array_equal(grads[k], np.clip(before[k], -0.5, 0.5))
    assert {k: id(g) for k, g in grads.items()} == arrays
    assert any((np.abs(b) > 0.5).any() for b in before.values())  # something was clipped


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_norm_raises_and_leaves_grads_untouched(bad):
    grads = make_grads(scale=10.0)
    grads["W_h"][1, 3] = bad
    before = {k: g.copy() for k, g in grads.items()}
    with pytest.raises(ValueError, match=r"non-finite values in \['W_h'\]"):
        ll.clip_grad_norm(grads, 1.0)
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])
    total = ll.clip_grad_norm(grads, 1.0, error_if_nonfinite=False)
    assert not math.isfinite(total)  # the caller can skip the step
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])


def test_float32_huge_gradients_do_not_overflow_the_norm():
    grads = {"w": np.full(4, 1e30, dtype=np.float32)}  # squares overflow float32
    total = ll.clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(2e30, rel=1e-6)
    assert grads["w"].dtype == np.float32
    np.testing.assert_allclose(grads["w"], 0.5, rtol=1e-6)


def test_accepts_a_list_of_arrays():
    grads = [np.array([3.0]), np.array([4.0])]
    assert ll.clip_grad_norm(grads, 1.0) == 5.0
    assert grads[0][0] == pytest.approx(0.6, abs=1e-6)
    ll.clip_grad_value(grads, 0.1)
    assert grads[1][0] == 0.1


def test_matches_torch():
    torch = pytest.importorskip("torch")
    for scale, max_norm in [(10.0, 1.0), (0.1, 1.0), (3.0, 5.0)]:
        grads = make_grads(scale)
        tparams = []
        for g in grads.values():
            t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
            t.grad = torch.from_numpy(g.copy())
            tparams.append(t)
        total = ll.clip_grad_norm(grads, max_norm)
        ref = torch.nn.utils.clip_grad_norm_(tparams, max_norm)
        assert total == pytest.approx(ref.item(), rel=1e-14)
        for g, t in zip(grads.values(), tparams):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-14, atol=0)
    grads = make_grads(3.0)
    tparams = []
    for g in grads.values():
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        tparams.append(t)
    ll.clip_grad_value(grads, 0.7)
    torch.nn.utils.clip_grad_value_(tparams, 0.7)
    for g, t in zip(grads.values(), tparams):
        np.testing.assert_array_equal(g, t.grad.numpy())


def test_errors():
    with pytest.raises(ValueError, match="max_norm"):
        ll.clip_grad_norm(make_grads(), 0.0)
    with pytest.raises(ValueError, match="clip_value"):
        ll.clip_grad_value(make_grads(), -1.0)
    with pytest.raises(TypeError, match="max_norm"):
        ll.clip_grad_norm(make_grads(), "1")
    with pytest.raises(TypeError, match=r"grads\[w\]"):
        ll.clip_grad_norm({"w": [1.0, 2.0]}, 1.0)


@pytest.mark.parametrize("clip", [lambda g: ll.clip_grad_norm(g, 1e-3),
                                  lambda g: ll.clip_grad_value(g, 1e-3)])
def test_a_model_is_clipped_whole_and_checked_for_rebound_gradients(clip):
    model = ll.Model(rnn=ll.GRU(2, 3, rng=0), head=ll.Linear(3, 2, rng=0))
    for g in model.grads.values():
        g[...] = 1.0
    clip(model)  # the model itself: the same as model.grads
    assert all(np.abs(g).max() <= 1e-3 for g in model.grads.values())
    with pytest.raises(RuntimeError, match="refusing to rebind"):
        model.head.grads["W"] = np.zeros((3, 2))
    # a part whose whole dict was replaced: clipping model.grads would miss what it fills
    model.head.grads = {k: g.copy() for k, g in model.head.grads.items()}
    before = {k: g.copy() for k, g in model.grads.items()}
    with pytest.raises(RuntimeError, match=r"grads\['head.W'\] is not the array part 'head'.*"
                                           r"grads\['W'\]\[\.\.\.\] = new"):
        clip(model)
    assert all(np.array_equal(g, before[k]) for k, g in model.grads.items())
