"""What to report besides the loss: perplexity, bits per character, accuracy.

A language model's loss is the mean cross-entropy in nats, ``-mean(ln p(next))``.
Two readings of the same number are customary::

    perplexity    = exp(mean_ce)          word models (Penn Treebank: ~80-120 for small LSTMs)
    bits_per_char = mean_ce / ln(2)       character models (English text: ~1.2-2 for small ones)

Perplexity is the size of a uniform choice that would be as surprising:
a model that spreads its bets evenly over V tokens has ``mean_ce = ln V`` and
perplexity V.
"""

from __future__ import annotations

import math

import numpy as np

from .checks import check_int_array
from .recurrent import check_lengths

__all__ = ["perplexity", "bits_per_char", "accuracy"]


def _check_mean_ce(mean_ce):
    if mean_ce is None or isinstance(mean_ce, (str, bytes, bool, np.bool_)):
        raise TypeError(f"mean_ce: expected a number (a loss in nats), got {mean_ce!r}")
    try:
        value = np.asarray(mean_ce, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"mean_ce: expected a number or an array of numbers, got {type(mean_ce).__name__}"
        ) from err
    if not np.isfinite(value).all() or (value < 0).any():
        raise ValueError(
            f"mean_ce: expected a finite mean cross-entropy >= 0 in nats (the loss of "
            f"ll.cross_entropy), got {mean_ce!r}"
        )
    return value


def _scalar_or_array(value):
    return float(value) if value.ndim == 0 else value


def perplexity(mean_ce):
    """Perplexity ``exp(mean_ce)`` of a mean cross-entropy in nats.

    Parameters
    ----------
    mean_ce : float or array_like
        Mean cross-entropy per token in nats, e.g. the loss returned by
        :func:`lstmlab.cross_entropy` (averaged over a whole evaluation set).

    Returns
    -------
    float (or ndarray for an array of losses)

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> round(ll.perplexity(np.log(50)), 6)     # as unsure as a uniform choice among 50 words
    50.0
    >>> ll.perplexity([0.0, np.log(2)]).round(6)
    array([1., 2.])
    """
    return _scalar_or_array(np.exp(_check_mean_ce(mean_ce)))


def bits_per_char(mean_ce):
    """Bits per character (or per token), ``mean_ce / ln 2``, of a mean cross-entropy in nats.

    Parameters
    ----------
    mean_ce : float or array_like
        Mean cross-entropy per character in nats.

    Returns
    -------
    float (or ndarray for an array of losses)

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> ll.bits_per_char(np.log(256))      # a uniform byte: 8 bits
    8.0
    """
    return _scalar_or_array(_check_mean_ce(mean_ce) / math.log(2))


def accuracy(logits_or_pred, targets, ignore_index=None, lengths=None):
    """The fraction of counted positions where the prediction equals the target.

    Parameters
    ----------
    logits_or_pred : ndarray, shape (..., C) floating, or (...) integer
        Scores (the prediction is their argmax over the last axis) or
        predicted class ids of the targets' shape.
    targets : array_like of int, shape (...)
    ignore_index : int, optional
        Targets equal to it (padding) are not counted, as in
        :func:`lstmlab.cross_entropy`.
    lengths : array_like of int, shape (N,), optional
        For time-major targets (T, N): only steps ``t < lengths[n]`` count.

    Returns
    -------
    float in [0, 1]; nan when no position counts (0 / 0).

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> logits = np.array([[[2.0, 0.0], [0.0, 1.0]],
    ...                    [[0.0, 3.0], [1.0, 0.0]]])     # (T, N, C) = (2, 2, 2)
    >>> targets = np.array([[0, 1],
    ...                     [0, 1]])                      # (T, N)
    >>> ll.accuracy(logits, targets)                      # right at t=0, wrong at t=1
    0.5
    >>> ll.accuracy(logits, targets, lengths=[1, 1])      # only t = 0 counts
    1.0
    >>> ll.accuracy(np.array([0, 1, 1]), [0, 0, -100], ignore_index=-100)
    0.5
    """
    targets = check_int_array("targets", targets)
    if not isinstance(logits_or_pred, np.ndarray):
        logits_or_pred = np.asarray(logits_or_pred)
    scores = logits_or_pred
    if np.issubdtype(scores.dtype, np.floating) and scores.shape[:-1] == targets.shape \
            and scores.ndim == targets.ndim + 1:
        pred = scores.argmax(axis=-1)
    elif np.issubdtype(scores.dtype, np.integer) and scores.shape == targets.shape:
        pred = scores
    else:
        raise ValueError(
            f"logits_or_pred: expected scores of shape {targets.shape + ('C',)} (floating) or "
            f"predicted ids of shape {targets.shape} (integer), the targets' shape; got shape "
            f"{scores.shape} and dtype {scores.dtype}"
        )
    counted = np.ones(targets.shape, dtype=bool)
    if ignore_index is not None:
        counted &= targets != ignore_index
    if lengths is not None:
        if targets.ndim != 2:
            raise ValueError(
                f"lengths: apply to time-major targets of shape (T, N), got targets of shape "
                f"{targets.shape}"
            )
        T, N = targets.shape
        counted &= np.arange(T)[:, None] < check_lengths(lengths, N, T)  # (T, N)
    K = int(counted.sum())
    if K == 0:
        return math.nan
    return float((pred == targets)[counted].sum() / K)
