"""Loss functions. Each returns the loss and its gradient: ``loss, dz = f(z, target)``.

The gradient is the start of every backward pass, so a loss here is a pair:
a Python float to print and plot, and an array of the input's shape and dtype
to hand to the last layer's ``backward``::

    loss, dlogits = cross_entropy(logits, targets)   # softmax + negative log-likelihood
    loss, dlogp   = nll_loss(log_probs, targets)     # when the model ends in log_softmax
    loss, dpred   = mse(pred, target)                # regression
    loss, dlogits = binary_cross_entropy_with_logits(logits, targets)   # yes/no

Every loss is a mean, as PyTorch's default ``reduction="mean"``, and none of
them overflows or warns for inputs up to ``|z| = 1e4`` in float32 or float64.
Classes are on the LAST axis, (..., C), so the logits of every time step of a
(T, N, C) output go in at once; PyTorch puts them on axis 1, so compare with
``F.cross_entropy(logits.reshape(-1, C), targets.reshape(-1))``.
"""

from __future__ import annotations

import numpy as np

from .checks import check_float_array, check_int_array, check_shape
from .functional import log_softmax, sigmoid

__all__ = ["cross_entropy", "nll_loss", "mse", "binary_cross_entropy_with_logits"]


def _check_class_targets(scores, targets, ignore_index, scores_name):
    """Validate (..., C) scores and (...) integer targets; return (targets, mask of counted)."""
    check_float_array(scores_name, scores)
    if scores.ndim == 0:
        raise ValueError(f"{scores_name}: expected shape (..., C), got a 0-d array")
    targets = check_int_array("targets", targets)
    C = scores.shape[-1]
    check_shape("targets", targets, scores.shape[:-1],
                f"{scores.shape[:-1]} ({scores_name}.shape without the class axis C = {C})")
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))
    ):
        raise TypeError(f"ignore_index: expected an int or None, got {ignore_index!r}")
    mask = np.ones(targets.shape, dtype=bool) if ignore_index is None else targets != ignore_index
    bad = mask & ((targets < 0) | (targets >= C))
    if bad.any():
        raise ValueError(
            f"targets: expected class indices in [0, {C}) (C = {scores_name}.shape[-1])"
            + ("" if ignore_index is None else f" or ignore_index = {ignore_index}")
            + f", got {int(bad.sum())} outside, e.g. {targets[bad][0]}"
        )
    return targets, mask


def _picked(scores, targets, mask):
    """The counted entries ``scores[..., targets]``, a 1-d array of length K."""
    safe = np.where(mask, targets, 0)  # ignored positions may hold any int, e.g. -100
    return np.take_along_axis(scores, safe[..., None], axis=-1)[..., 0][mask]


def _counted_onehot(targets, mask, C, dtype):
    """onehot(targets) of shape (..., C), with all-zero rows where ``mask`` is False."""
    return ((np.arange(C) == targets[..., None]) & mask[..., None]).astype(dtype)


def cross_entropy(logits, targets, ignore_index=None):
    """Softmax cross-entropy from logits, averaged over the targets that count.

    Equations, for each counted position n with target class t_n and
    K = the number of counted positions::

        log p_n = log_softmax(z_n) = z_n - max(z_n) - log sum_j exp(z_nj - max(z_n))
        L       = -(1/K) sum_n log p_n[t_n]
        dL/dz_n = (softmax(z_n) - onehot(t_n)) / K        (0 for ignored positions)

    Subtracting the maximum (log-sum-exp) keeps every exponent <= 0, so
    logits of any size neither overflow nor lose the answer.

    Parameters
    ----------
    logits : ndarray, shape (..., C)
        Unnormalised scores, floating.
    targets : int array, shape (...)
        Class indices in [0, C), or ``ignore_index``.
    ignore_index : int, optional
        Targets equal to it (padding) count neither in the sum nor in K and get
        a zero gradient. PyTorch's default is -100; ours is None, nothing ignored.

    Returns
    -------
    loss : float
    dlogits : ndarray, shape and dtype of ``logits``

    Notes
    -----
    Equals ``torch.nn.functional.cross_entropy(..., reduction="mean",
    ignore_index=...)`` with the classes moved to axis 1. When no target counts
    (all are ``ignore_index``, or there are none: N = 0) PyTorch returns nan
    (0/0); we return a loss of 0.0 and a zero gradient, so a batch of pure
    padding changes nothing.

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.array([[0.0, 0.0], [1e4, -1e4]])
    >>> loss, dlogits = cross_entropy(logits, np.array([0, 0]))
    >>> round(loss, 6), dlogits.tolist()      # log 2 / 2, and a certain, right answer
    (0.346574, [[-0.25, 0.25], [0.0, 0.0]])
    """
    targets, mask = _check_class_targets(logits, targets, ignore_index, "logits")
    K = int(mask.sum())
    if K == 0:
        return 0.0, np.zeros_like(logits)
    log_p = log_softmax(logits)  # (..., C)
    loss = -float(np.sum(_picked(log_p, targets, mask))) / K
    onehot = _counted_onehot(targets, mask, logits.shape[-1], logits.dtype)  # (..., C)
    dlogits = (np.exp(log_p) - onehot) * mask[..., None]  # softmax - onehot; 0 if ignored
    dlogits /= K
    return loss, dlogits


def nll_loss(log_probs, targets, ignore_index=None):
    """Negative log-likelihood of log-probabilities, averaged over counted targets.

    For a model that ends in ``log_softmax`` (a tagger), with K counted positions::

        L = -(1/K) sum_n log_probs_n[t_n]
        dL/dlog_probs_n = -onehot(t_n) / K                 (0 for ignored positions)

    ``nll_loss(log_softmax(z), t)`` equals ``cross_entropy(z, t)``; the fused
    :func:`cross_entropy` is the one to use on raw logits.

    Parameters
    ----------
    log_probs : ndarray, shape (..., C)
    targets : int array, shape (...)
    ignore_index : int, optional
        As in :func:`cross_entropy` (no counted target, or N = 0, gives 0.0
        and a zero gradient).

    Returns
    -------
    loss : float
    dlog_probs : ndarray, shape and dtype of ``log_probs``

    Examples
    --------
    >>> import numpy as np
    >>> log_probs = np.log(np.array([[0.5, 0.5], [0.25, 0.75]]))
    >>> loss, d = nll_loss(log_probs, np.array([0, 1]))
    >>> round(loss, 6), d.tolist()                   # -(log 0.5 + log 0.75) / 2
    (0.490415, [[-0.5, 0.0], [0.0, -0.5]])
    """
    targets, mask = _check_class_targets(log_probs, targets, ignore_index, "log_probs")
    K = int(mask.sum())
    if K == 0:
        return 0.0, np.zeros_like(log_probs)
    loss = -float(np.sum(_picked(log_probs, targets, mask))) / K
    onehot = _counted_onehot(targets, mask, log_probs.shape[-1], log_probs.dtype)  # (..., C)
    dlog_probs = np.zeros_like(log_probs)
    dlog_probs[onehot == 1] = -1.0 / K  # (not -onehot / K, which prints -0.0 elsewhere)
    return loss, dlog_probs


def _check_pair(name_a, a, name_b, b):
    """Two floating arrays of the same shape and dtype, with at least one element."""
    check_float_array(name_a, a)
    check_float_array(name_b, b, dtype=a.dtype, dtype_of=f"{name_a}'s")
    check_shape(name_b, b, a.shape, f"{a.shape} (the shape of {name_a})")
    if a.size == 0:
        raise ValueError(f"{name_a}: expected at least one element, got shape {a.shape}")


def mse(pred, target):
    """Mean squared error over all elements, as PyTorch's ``F.mse_loss``.

    With n = the number of elements::

        L = (1/n) sum (pred - target)^2
        dL/dpred = 2 (pred - target) / n

    Parameters
    ----------
    pred, target : ndarray, same shape and dtype
        PyTorch would broadcast different shapes (with a warning); a shape
        mismatch is almost always a bug, so it is an error here. Empty arrays
        are refused with ValueError: the mean of nothing is undefined
        (PyTorch returns nan).

    Returns
    -------
    loss : float
    dpred : ndarray, shape and dtype of ``pred``

    Examples
    --------
    >>> import numpy as np
    >>> loss, dpred = mse(np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    >>> loss, dpred.tolist()
    (2.0, [0.0, 2.0])
    """
    _check_pair("pred", pred, "target", target)
    diff = pred - target
    n = diff.size
    return float(np.sum(diff * diff)) / n, diff * (2.0 / n)


def binary_cross_entropy_with_logits(logits, targets):
    """Mean binary cross-entropy of ``sigmoid(logits)`` against targets in [0, 1].

    The textbook form ``-[y log s + (1 - y) log(1 - s)]`` with s = sigmoid(z)
    takes log(0) as soon as s rounds to 0 or 1 (|z| > 37 in float64). Written
    in z it is stable for any z, as in PyTorch::

        l(z, y) = max(z, 0) - z y + log(1 + exp(-|z|))     every exponent <= 0
        L       = (1/n) sum l
        dL/dz   = (sigmoid(z) - y) / n

    Use it for a yes/no decision from one logit, e.g. many-to-one sentiment.

    Parameters
    ----------
    logits : ndarray, any shape
    targets : ndarray, shape and dtype of ``logits``
        Probabilities in [0, 1] (0/1 labels, or soft labels). Integer or bool
        labels are refused: convert with ``targets.astype(logits.dtype)``.
        Empty arrays are refused with ValueError, as for :func:`mse`.

    Returns
    -------
    loss : float
    dlogits : ndarray, shape and dtype of ``logits``

    Examples
    --------
    >>> import numpy as np
    >>> loss, d = binary_cross_entropy_with_logits(np.array([0.0, 1e4]), np.array([1.0, 1.0]))
    >>> round(loss, 6), d.tolist()                   # log(2) / 2, and 0 for the sure one
    (0.346574, [-0.25, 0.0])
    """
    _check_pair("logits", logits, "targets", targets)
    if not np.all((targets >= 0) & (targets <= 1)):
        raise ValueError("targets: expected probabilities in [0, 1], got values outside (or nan)")
    z, y = logits, targets
    loss_elems = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    n = z.size
    return float(np.sum(loss_elems)) / n, (sigmoid(z) - y) / n
