"""Activation functions and their derivatives, numerically stable.

Every function keeps the dtype of its input (float32 stays float32) and never
overflows: each is finite, without a floating-point warning, for inputs up to
``|x| = 1e4`` and beyond.

Derivatives are written *from the outputs* where that is the textbook form,
because the backward pass of a recurrent cell keeps the outputs (the gate
values) in its cache, not the pre-activations::

    s = sigmoid(a)   ds/da = s (1 - s)
    t = tanh(a)      dt/da = 1 - t^2
    r = relu(a)      dr/da = 1 if r > 0 else 0
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid",
    "dsigmoid",
    "tanh",
    "dtanh",
    "relu",
    "drelu",
    "softmax",
    "log_softmax",
]


def sigmoid(a, out=None):
    """Logistic sigmoid ``1 / (1 + exp(-a))``, computed through one tanh.

    The identity ``sigmoid(a) = 0.5 * (1 + tanh(a / 2))`` never evaluates
    ``exp`` of a large number, so it cannot overflow, and it costs a single
    transcendental call.

    Parameters
    ----------
    a : ndarray
        Pre-activations, any shape, floating dtype.
    out : ndarray, optional
        Where to write the result (may be ``a`` itself).

    Returns
    -------
    s : ndarray, same shape and dtype as ``a``
        Values in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.array([-1e4, 0.0, 1e4]))
    array([0. , 0.5, 1. ])
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def dsigmoid(s):
    """Derivative of the sigmoid from its output: ``s * (1 - s)``.

    Examples
    --------
    >>> dsigmoid(sigmoid(np.zeros(1)))
    array([0.25])
    """
    return s * (1.0 - s)


def tanh(a, out=None):
    """Hyperbolic tangent (NumPy's, which is stable for any input).

    Examples
    --------
    >>> tanh(np.array([-1e4, 0.0, 1e4]))
    array([-1.,  0.,  1.])
    """
    return np.tanh(a, out=out)


def dtanh(t):
    """Derivative of tanh from its output: ``1 - t**2``.

    Examples
    --------
    >>> dtanh(np.array([0.0, 1.0]))
    array([1., 0.])
    """
    return 1.0 - t * t


def relu(a, out=None):
    """Rectified linear unit ``max(a, 0)``.

    Examples
    --------
    >>> relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    return np.maximum(a, 0.0, out=out)


def drelu(r):
    """Derivative of ReLU from its output: 1 where ``r > 0``, else 0 (dtype of ``r``).

    At exactly 0 the subgradient 0 is used, as PyTorch does.

    Examples
    --------
    >>> drelu(np.array([0.0, 3.0]))
    array([0., 1.])
    """
    return (r > 0).astype(r.dtype)


def log_softmax(a, axis=-1):
    """Log of the softmax along ``axis``, by the log-sum-exp trick.

    ``log_softmax(a) = a - max(a) - log(sum(exp(a - max(a))))``: subtracting the
    maximum makes every exponent <= 0, so nothing overflows, and the largest term
    of the sum is exactly 1, so the log never sees 0.

    Parameters
    ----------
    a : ndarray
        Scores (logits), any shape, floating dtype.
    axis : int
        The axis of the classes.

    Returns
    -------
    ndarray, same shape and dtype as ``a``

    Examples
    --------
    >>> np.exp(log_softmax(np.array([1e4, 1e4]))).tolist()
    [0.5, 0.5]
    """
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(a, axis=-1):
    """Softmax along ``axis``: ``exp(a) / sum(exp(a))``, shifted by the maximum.

    Examples
    --------
    >>> softmax(np.array([0.0, np.log(3.0)])).round(6).tolist()
    [0.25, 0.75]
    """
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
