import numpy as np
import pytest

from lstmlab import init


def test_same_seed_same_numbers():
    a = init.pytorch_uniform((4, 8), 8, init.as_generator(7))
    b = init.pytorch_uniform((4, 8), 8, init.as_generator(7))
    assert np.array_equal(a, b)


def test_generator_is_used_not_copied():
    rng = np.random.default_rng(0)
    assert init.as_generator(rng) is rng


def test_bad_rng():
    with pytest.raises(TypeError, match="rng: expected None, an int seed or a np.random.Generator"):
        init.as_generator("seed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pytorch_uniform_bounds_and_dtype(dtype):
    w = init.pytorch_uniform((50, 40), 16, init.as_generator(0), dtype)
    assert w.dtype == dtype
    assert np.abs(w).max() <= 0.25
    assert np.abs(w).max() > 0.24  # really spans the interval


def test_xavier_bound():
    w = init.xavier_uniform((30, 70), init.as_generator(0))
    bound = np.sqrt(6 / 100)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_orthogonal_blocks():
    q = init.orthogonal((5, 15), init.as_generator(0), gain=2.0)
    for k in range(3):
        block = q[:, 5 * k : 5 * (k + 1)]
        assert np.allclose(block @ block.T, 4 * np.eye(5))
        assert np.allclose(np.linalg.svd(block, compute_uv=False), 2.0)


def test_reset_parameters_schemes_in_place():
    import lstmlab as ll

    cell = ll.GRUCell(4, 3, rng=0)
    W_x, W_h, b = cell.params["W_x"], cell.params["W_h"], cell.params["b"].copy()
    cell.reset_parameters(W_x="xavier", W_h="orthogonal", rng=1)
    assert cell.params["W_x"] is W_x and cell.params["W_h"] is W_h  # same arrays
    assert np.array_equal(cell.params["b"], b)  # biases kept
    assert np.abs(W_x).max() <= np.sqrt(6 / 7)
    for k in range(3):
        block = W_h[:, 3 * k : 3 * (k + 1)]
        assert np.allclose(block @ block.T, np.eye(3))
    again = ll.GRUCell(4, 3, rng=0).reset_parameters(W_x="xavier", W_h="orthogonal", rng=1)
    assert np.array_equal(again.params["W_h"], W_h)  # same seed, same draw


def test_reset_parameters_bad_scheme():
    import lstmlab as ll

    with pytest.raises(ValueError, match="W_h: expected 'uniform', 'orthogonal' or 'identity'"):
        ll.RNNCell(2, 2).reset_parameters(W_h="zeros")
    with pytest.raises(ValueError, match="W_x: expected 'uniform' or 'xavier'"):
        ll.RNNCell(2, 2).reset_parameters(W_x="he")
