"""Generating from a language model: prime the state, then draw one id at a time.

The model protocol (the same as :mod:`lstmlab.decoding`'s)::

    logits, state = model.forward(ids, state)     ids (T, N) int -> logits (T, N, V)

``state=None`` means "start from zeros". Sampling reads the prime in one
forward, then feeds each drawn id back in, carrying the state, so the model
sees the whole history without re-reading it.

Each draw takes the last logits z (V,) and picks id k with probability::

    p = softmax(z / temperature)       restricted to the top_k largest z, if top_k is given

Temperature < 1 sharpens the distribution (safer, more repetitive text),
> 1 flattens it (more surprising, more misspelt); top_k = 1 is greedy. This
is what PyTorch's examples and Keras' ``keras_nlp`` samplers do.
"""

from __future__ import annotations

import math

import numpy as np

from .checks import check_int_array, check_positive_int
from .functional import softmax
from .init import as_generator
from .modes import no_grad

__all__ = ["sample"]


def sample(model, prime_ids, length, temperature=1.0, top_k=None, rng=None):
    """Draw ``length`` ids from ``model`` after reading ``prime_ids``.

    Parameters
    ----------
    model : object with ``forward(ids, state) -> (logits, state)``, or such a function
        ``ids`` of shape (T, N) int, ``logits`` of shape (T, N, V); see the
        module docstring. Put a model with dropout in evaluation mode first
        (``model.eval()``).
    prime_ids : array_like of int, shape (P,), P >= 1
        The start of the text (encode it with the model's
        :class:`lstmlab.data.Vocab`). The first id drawn follows it.
    length : int >= 0
        How many ids to draw.
    temperature : float > 0
        Divides the logits before the softmax.
    top_k : int in [1, V], optional
        Draw only among the ``top_k`` most likely ids (ties with the k-th
        are kept too).
    rng : None, int or np.random.Generator
        The same seed gives the same ids.

    Returns
    -------
    ids : ndarray of int64, shape (length,)
        The drawn ids, without the prime.

    Notes
    -----
    The forwards run under :func:`lstmlab.no_grad`: they keep no record for
    a backward, so sampling in the middle of training leaves the next
    ``zero_grad``/backward undisturbed.

    Examples
    --------
    A toy model that, after id k, finds k + 1 likely (it ignores its state):

    >>> import numpy as np
    >>> import lstmlab as ll
    >>> def count_up(ids, state):                       # (T, N) -> (T, N, V=5)
    ...     return 4.0 * np.eye(5)[(ids + 1) % 5], state
    >>> ll.sample(count_up, [0], 8, top_k=1)             # greedy
    array([1, 2, 3, 4, 0, 1, 2, 3])
    >>> ids = ll.sample(count_up, [0, 1], 8, temperature=2.0, rng=0)
    >>> bool((ids == ll.sample(count_up, [0, 1], 8, temperature=2.0, rng=0)).all())
    True
    """
    step = step_function(model)
    prime = check_int_array("prime_ids", prime_ids)
    if prime.ndim != 1 or len(prime) == 0:
        raise ValueError(
            f"prime_ids: expected a 1-D array of at least one id, got shape {prime.shape}"
        )
    length = check_positive_int("length", length, minimum=0)
    temperature = _check_temperature(temperature)
    if top_k is not None:
        top_k = check_positive_int("top_k", top_k)
    rng = as_generator(rng)
    out = np.empty(length, dtype=np.int64)
    with no_grad():
        logits, state = _forward(step, prime[:, None], None)  # reads the whole prime
        V = logits.shape[2]
        if top_k is not None and top_k > V:
            raise ValueError(
                f"top_k: expected None or an integer in [1, V] = [1, {V}] (V = the logits' "
                f"last axis), got {top_k}"
            )
        for t in range(length):
            out[t] = _draw(logits[-1, 0], temperature, top_k, rng)
            if t + 1 < length:  # the last id needs no forward
                logits, state = _forward(step, out[t : t + 1, None], state)  # ids (1, 1)
    return out


def _draw(z, temperature, top_k, rng):
    """One id from softmax(z / temperature), among the top_k largest z."""
    V = z.shape[0]
    z = z.astype(np.float64) / temperature  # (V,); float64 so p sums to 1 for rng.choice
    if top_k is not None:
        kth_largest = np.partition(z, V - top_k)[V - top_k]
        z[z < kth_largest] = -np.inf
    return rng.choice(V, p=softmax(z))


def _check_temperature(temperature):
    if isinstance(temperature, bool) or not isinstance(
        temperature, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"temperature: expected a number > 0, got {type(temperature).__name__} "
            f"{temperature!r}"
        )
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"temperature: expected a finite number > 0 (1.0 samples the model as it is; "
            f"for greedy decoding use top_k=1), got {temperature}"
        )
    return float(temperature)


def step_function(model, name="model"):
    """The callable ``(ids, state) -> (logits, state)`` of a model: its ``forward``, or itself.

    Shared by :func:`sample` and the decoders of :mod:`lstmlab.decoding`; ``name``
    is the argument named in the TypeError when ``model`` is neither.
    """
    forward = getattr(model, "forward", None)
    step = forward if callable(forward) else model if callable(model) else None
    if step is None:
        raise TypeError(
            f"{name}: expected an object with forward(ids, state) -> (logits, state), or such "
            f"a function, got {type(model).__name__}"
        )
    return step


def _forward(step, ids, state):
    """One call of the model, checked: ``(logits (T, 1, V), state)`` for ``ids`` (T, 1)."""
    T = ids.shape[0]
    try:
        result = step(ids, state)
    except TypeError as err:
        raise TypeError(
            f"model: expected forward(ids, state) -> (logits, state) with ids of shape (T, N), "
            f"but forward(ids of shape {ids.shape}, state) raised TypeError: {err}"
        ) from err
    logits = result[0] if isinstance(result, tuple) and len(result) == 2 else None
    if not (isinstance(logits, np.ndarray) and logits.shape[:2] == (T, 1)
            and logits.ndim == 3 and logits.shape[2] >= 1):
        got = (f"logits of shape {logits.shape}" if isinstance(logits, np.ndarray)
               else f"a {type(result).__name__}" if logits is None
               else f"logits of type {type(logits).__name__}")
        raise TypeError(
            f"model: expected forward(ids of shape {ids.shape}, state) to return "
            f"(logits of shape ({T}, 1, V), state), got {got}"
        )
    if not np.isfinite(logits[-1]).all():
        raise ValueError("model: returned logits with nan or inf; cannot sample from them")
    return result
