"""Switches for a block of code: ``no_grad()`` and ``detect_anomaly()``.

Both are context managers in the spirit of PyTorch's::

    with ll.no_grad():            # evaluation, sampling: forwards keep no record
        logits = model.forward(ids)

    with ll.detect_anomaly():     # every forward and backward result is checked
        ...                       # the first NaN/inf raises FloatingPointError

The switches live in :mod:`contextvars` variables, not in module globals: a
``with`` block affects only the thread (or asyncio task) that runs it, and it
is undone when the block exits, also by an exception. A new thread starts
with the defaults (gradients recorded, no anomaly checks).
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np

__all__ = ["no_grad", "detect_anomaly", "is_grad_enabled", "is_anomaly_enabled",
           "check_finite"]

# Per-thread, per-task switches: each thread and asyncio task sees its own value.
_grad_enabled = contextvars.ContextVar("lstmlab_grad_enabled", default=True)
_anomaly_enabled = contextvars.ContextVar("lstmlab_anomaly_enabled", default=False)


@contextlib.contextmanager
def no_grad():
    """Run forwards that will not be backpropagated: they keep no record.

    Every forward normally pushes what its backward needs on its module's
    record stack (:meth:`lstmlab.Module.save_for_backward`). Inside this
    block nothing is pushed, so evaluation and sampling forwards cost no
    memory and leave nothing behind that a later backward could consume by
    mistake, or that ``zero_grad`` would complain about. The outputs are the
    same numbers. Also usable as a decorator (``@ll.no_grad()``).

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> layer = ll.Linear(3, 2, rng=0)
    >>> with ll.no_grad():
    ...     y = layer.forward(np.ones((4, 3)))
    ...     ll.is_grad_enabled()
    False
    >>> ll.is_grad_enabled()
    True
    >>> layer.backward(np.ones_like(y))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: backward: no forward left to backpropagate in Linear (backward was called ...)
    """
    token = _grad_enabled.set(False)
    try:
        yield
    finally:
        _grad_enabled.reset(token)


@contextlib.contextmanager
def detect_anomaly():
    """Check every forward and backward result for NaN/inf; raise at the first.

    Inside this block the recurrent wrappers check each step's new state in
    forward and the state gradients in backward, and layers such as
    :class:`~lstmlab.Linear` and :class:`~lstmlab.Embedding` check their
    outputs and input gradients. The first non-finite value raises
    :class:`FloatingPointError` naming the part, the tensor, the time step
    and the direction, e.g. ``LSTM layers.0.fwd: c at t=37 is inf in
    forward``. The checks cost a pass over every array, so use it to hunt a
    problem, not for every run.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> layer = ll.Linear(2, 2, rng=0)
    >>> with ll.detect_anomaly():
    ...     layer.forward(np.array([[1.0, np.nan]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FloatingPointError: Linear: y is nan in forward (2 of 2 values are not finite, ...)
    """
    token = _anomaly_enabled.set(True)
    try:
        yield
    finally:
        _anomaly_enabled.reset(token)


def is_grad_enabled():
    """True unless inside ``ll.no_grad()``: whether forwards keep records for backward.

    Examples
    --------
    >>> import lstmlab as ll
    >>> ll.is_grad_enabled()
    True
    """
    return _grad_enabled.get()


def is_anomaly_enabled():
    """True inside ``ll.detect_anomaly()``: whether results are checked for NaN/inf.

    Examples
    --------
    >>> import lstmlab as ll
    >>> ll.is_anomaly_enabled()
    False
    >>> with ll.detect_anomaly():
    ...     ll.is_anomaly_enabled()
    True
    """
    return _anomaly_enabled.get()


def check_finite(where, name, array, direction, t=None):
    """Raise FloatingPointError if ``array`` holds a NaN or an infinity.

    The check itself does not look at :func:`detect_anomaly`; callers that
    check only while it is on test :func:`is_anomaly_enabled` first.

    Parameters
    ----------
    where : str
        The part, e.g. ``"LSTM layers.0.fwd"``.
    name : str
        The tensor, e.g. ``"c"`` or ``"dh"``.
    array : ndarray
    direction : str
        ``"forward"``, ``"backward"`` (or another phase, e.g. an optimizer's ``"step"``).
    t : int, optional
        The time step, in the sequence's original order.

    Returns
    -------
    array : the same array, when every value is finite

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> c = np.array([[0.5, np.inf]])
    >>> ll.check_finite("LSTM layers.0.fwd", "c", c, "forward", t=37)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FloatingPointError: LSTM layers.0.fwd: c at t=37 is inf in forward (1 of 2 values ...)
    """
    finite = np.isfinite(array)
    if finite.all():
        return array
    bad = np.argwhere(~finite)
    first = tuple(int(i) for i in bad[0])
    value = np.asarray(array)[first]
    kind = "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    at = "" if t is None else f" at t={t}"
    raise FloatingPointError(
        f"{where}: {name}{at} is {kind} in {direction} ({len(bad)} of {finite.size} values "
        f"are not finite, the first at index {first})"
    )
