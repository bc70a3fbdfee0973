"""Weight initializers. Every one draws from an explicit ``np.random.Generator``.

There is no hidden global random state in lstmlab: pass ``rng`` (a seed or a
Generator) and the same seed gives the same numbers on every run.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_generator", "uniform", "pytorch_uniform", "xavier_uniform", "orthogonal"]


def as_generator(rng=None):
    """Turn ``rng`` into a ``np.random.Generator``.

    Parameters
    ----------
    rng : None, int or np.random.Generator
        ``None`` gives a fresh, unseeded generator; an int seeds one; a
        Generator is returned as it is (so draws continue from its state).

    Examples
    --------
    >>> a = as_generator(0).random(2)
    >>> b = as_generator(0).random(2)
    >>> bool((a == b).all())
    True
    """
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(
        f"rng: expected None, an int seed or a np.random.Generator, got {type(rng).__name__}"
    )


def uniform(shape, bound, rng, dtype=np.float64):
    """Draw from U(-bound, bound) in the requested dtype.

    Examples
    --------
    >>> w = uniform((2, 3), 0.1, np.random.default_rng(0), np.float32)
    >>> w.dtype, bool((abs(w) <= 0.1).all())
    (dtype('float32'), True)
    """
    return rng.uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def pytorch_uniform(shape, hidden_size, rng, dtype=np.float64):
    """PyTorch's default for recurrent layers: U(-1/sqrt(H), 1/sqrt(H)).

    Every weight and bias of ``nn.RNN``/``nn.LSTM``/``nn.GRU`` is drawn this way.

    Examples
    --------
    >>> w = pytorch_uniform((3, 16), 4, np.random.default_rng(0))
    >>> bool((abs(w) <= 0.5).all())
    True
    """
    return uniform(shape, 1.0 / np.sqrt(hidden_size), rng, dtype)


def xavier_uniform(shape, rng, dtype=np.float64, gain=1.0):
    """Glorot & Bengio (2010): U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    For a fused gate matrix pass the shape of one gate block, or accept that
    fan_out counts all gates.

    Examples
    --------
    >>> w = xavier_uniform((4, 8), np.random.default_rng(0))
    >>> bool((abs(w) <= np.sqrt(6 / 12)).all())
    True
    """
    fan_in, fan_out = shape[0], shape[-1]
    return uniform(shape, gain * np.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


def orthogonal(shape, rng, dtype=np.float64, gain=1.0):
    """Saxe et al. (2014): a (semi-)orthogonal matrix, the usual choice for W_h.

    A fused recurrent matrix of shape (H, k*H) is filled block by block, each
    (H, H) block orthogonal, so every gate starts with singular values all equal
    to ``gain`` -- gradients through time neither shrink nor grow at first.

    Examples
    --------
    >>> q = orthogonal((3, 6), np.random.default_rng(0))
    >>> bool(np.allclose(q[:, :3] @ q[:, :3].T, np.eye(3)))
    True
    """
    rows, cols = shape
    blocks = []
    for start in range(0, cols, rows):
        width = min(rows, cols - start)
        a = rng.standard_normal((rows, rows))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # make the draw uniform over orthogonal matrices
        blocks.append(q[:, :width])
    return (gain * np.concatenate(blocks, axis=1)).astype(dtype, copy=False)
