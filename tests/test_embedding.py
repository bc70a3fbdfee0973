import numpy as np
import pytest

import lstmlab as ll


def test_forward_is_a_row_lookup():
    emb = ll.Embedding(6, 3, rng=0)
    ids = np.array([[0, 5], [2, 2], [4, 1]])  # (T, N)
    x = emb.forward(ids)
    assert x.shape == (3, 2, 3)
    for t in range(3):
        for n in range(2):
            assert np.array_equal(x[t, n], emb.params["W"][ids[t, n]])
    x[0, 0] = 99.0  # the output is a copy: writing into it does not touch W
    assert not (emb.params["W"] == 99.0).any()


def test_backward_adds_every_repeated_id():
    emb = ll.Embedding(4, 2, rng=0)
    ids = np.array([1, 3, 1, 1])
    dx = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    emb.forward(ids)
    emb.forward(ids)
    assert emb.backward(dx) is None
    expected = np.zeros((4, 2))
    expected[1] = dx[0] + dx[2] + dx[3]
    expected[3] = dx[1]
    assert np.array_equal(emb.grads["W"], expected)
    emb.backward(dx)  # accumulates
    assert np.array_equal(emb.grads["W"], 2 * expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ids_shape, padding_idx", [((64, 32), None), ((7, 5, 3), 2), ((0,), None),
                                                     ((3, 0), 1), ((9,), 0)])
def test_backward_is_the_scatter_add_of_its_docstring(ids_shape, padding_idx, dtype):
    """dW equals np.add.at(dW, ids, dx) (the equation), over the ids that are not padding."""
    rng = np.random.default_rng(3)
    emb = ll.Embedding(6, 4, padding_idx=padding_idx, dtype=dtype, rng=0)
    emb.grads["W"][...] = rng.standard_normal((6, 4))  # backward adds to what is there
    want = emb.grads["W"].copy()
    ids = rng.integers(0, 6, size=ids_shape)
    dx = rng.standard_normal(ids_shape + (4,)).astype(dtype)
    emb.forward(ids)
    emb.backward(dx)
    keep = ids != padding_idx
    np.add.at(want, ids[keep], dx[keep])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(emb.grads["W"], want, rtol=tol, atol=tol)
    if padding_idx is not None:
        assert np.array_equal(emb.grads["W"][padding_idx], want[padding_idx])  # untouched


@pytest.mark.parametrize("ids_shape", [(5,), (4, 3), (2, 3, 2)])
def test_gradient_check(ids_shape):
    emb = ll.Embedding(4, 3, rng=0)
    ids = np.random.default_rng(1).integers(0, 4, size=ids_shape)  # repeats guaranteed
    report = ll.check_layer(emb, ids)
    assert set(report) == {"W"}  # ids take no gradient
    report.assert_ok(1e-7)


def test_padding_row_zero_and_never_learns():
    emb = ll.Embedding(5, 3, padding_idx=2, rng=0)
    assert not emb.params["W"][2].any()
    assert emb.params["W"][[0, 1, 3, 4]].all()
    ids = np.array([[2, 1], [2, 2]])
    assert not emb.forward(ids)[0, 0].any()
    emb.backward(np.ones((2, 2, 3)))
    assert not emb.grads["W"][2].any()
    assert emb.grads["W"][1].tolist() == [1.0, 1.0, 1.0]


def test_padding_gradient_check_of_the_other_rows():
    # The padding row is frozen by definition (its analytic gradient is 0 although the
    # output reads it); every other row must match central differences.
    emb = ll.Embedding(5, 3, padding_idx=2, rng=0)
    ids = np.array([[2, 1, 4], [2, 2, 1]])
    G = np.random.default_rng(1).standard_normal((2, 3, 3))
    emb.forward(ids)
    emb.backward(G)
    numeric = ll.numerical_gradient(lambda W: float(np.sum(emb.forward(ids) * G)),
                                    emb.params["W"])
    rows = [0, 1, 3, 4]
    assert ll.rel_error(emb.grads["W"][rows], numeric[rows]) < 1e-9
    assert numeric[1].any() and numeric[2].any() and not emb.grads["W"][2].any()


def test_padding_gradient_differs_from_plain_lookup():
    # Without padding, the padding id's row WOULD receive a gradient; with it, it does not.
    ids = np.array([0, 0, 1])
    plain, padded = ll.Embedding(3, 2, rng=0), ll.Embedding(3, 2, padding_idx=0, rng=0)
    for emb in (plain, padded):
        emb.forward(ids)
        emb.backward(np.ones((3, 2)))
    assert plain.grads["W"][0].tolist() == [2.0, 2.0]
    assert padded.grads["W"][0].tolist() == [0.0, 0.0]


def test_negative_padding_idx_counts_from_the_end():
    emb = ll.Embedding(5, 2, padding_idx=-1, rng=0)
    assert emb.padding_idx == 4 and not emb.params["W"][4].any()


def test_init_is_standard_normal_and_seeded():
    W = ll.Embedding(1000, 50, rng=0).params["W"]
    assert abs(W.mean()) < 0.01 and abs(W.std() - 1.0) < 0.01
    assert np.array_equal(W, ll.Embedding(1000, 50, rng=0).params["W"])


def test_accepts_lists_and_unsigned_ids_and_float32():
    emb = ll.Embedding(4, 2, dtype=np.float32, rng=0)
    assert emb.forward([[1, 2]]).shape == (1, 2, 2)
    assert emb.forward(np.array([3], dtype=np.uint8)).dtype == np.float32
    emb.backward(np.ones((1, 2), dtype=np.float32))
    assert emb.grads["W"].dtype == np.float32


def test_matches_torch():
    torch = pytest.importorskip("torch")
    emb = ll.Embedding(6, 3, padding_idx=1, rng=0)
    ids = np.random.default_rng(1).integers(0, 6, size=(4, 5))
    dx = np.random.default_rng(2).standard_normal((4, 5, 3))
    ref = torch.nn.Embedding(6, 3, padding_idx=1).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.params["W"]))
    out = ref(torch.from_numpy(ids))
    out.backward(torch.from_numpy(dx))
    assert np.array_equal(emb.forward(ids), out.detach().numpy())
    emb.backward(dx)
    np.testing.assert_allclose(emb.grads["W"], ref.weight.grad.numpy(), rtol=0, atol=1e-14)


def test_errors():
    emb = ll.Embedding(4, 2, rng=0)
    with pytest.raises(RuntimeError, match="no forward left to backpropagate in Embedding"):
        emb.backward(np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"\[0, 4\).*e\.g\. 4"):
        emb.forward(np.array([0, 4]))
    with pytest.raises(ValueError, match=r"e\.g\. -1"):
        emb.forward(np.array([-1, 2]))
    with pytest.raises(TypeError, match="integer"):
        emb.forward(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="integer"):
        emb.forward(np.array([True, False]))
    emb.forward(np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"dx: expected shape \(1, 3, 2\) \(the shape of the "
                                         r"output of the forward being backpropagated\), "
                                         r"got \(3, 2\)"):
        emb.backward(np.ones((3, 2)))
    emb.backward(np.ones((1, 3, 2)))  # the refused gradient consumed nothing
    with pytest.raises(ValueError, match="padding_idx"):
        ll.Embedding(4, 2, padding_idx=4)
    with pytest.raises(TypeError, match="padding_idx"):
        ll.Embedding(4, 2, padding_idx=1.0)
