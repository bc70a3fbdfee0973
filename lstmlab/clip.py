"""Gradient clipping: the standard answer to exploding gradients in RNNs.

Backpropagation through time multiplies the gradient by the recurrent Jacobian
once per step, so over a long sequence it can grow by orders of magnitude in a
single batch (Pascanu, Mikolov & Bengio, 2013). One such step throws the
weights far away. Clipping bounds the step. Two ways, side by side::

    clip_grad_norm(grads, max_norm)          clip_grad_value(grads, clip_value)
    -------------------------------          ----------------------------------
    one global L2 norm over ALL gradients    each element on its own
    total = sqrt(sum of every g^2)           g = min(max(g, -clip_value), clip_value)
    if total > max_norm:
        g = g * max_norm / (total + 1e-6)
    every element scaled by the same         large elements cut, small ones kept:
    factor: the DIRECTION is kept, only      the direction changes (a gradient
    the length shrinks                       (10, 1) clipped at 1 becomes (1, 1))
    Pascanu et al. 2013; PyTorch's           min-char-rnn; PyTorch's
    clip_grad_norm_                          clip_grad_value_

Norm clipping still moves downhill along the gradient, just a shorter way;
value clipping can point somewhere else, which is why norm clipping is the
usual choice.
"""

from __future__ import annotations

import math

import numpy as np

from .paramdict import check_not_rebound

__all__ = ["clip_grad_norm", "clip_grad_value"]


def _named_arrays(grads, where):
    """(name, array) pairs from a model, a dict of gradients, an iterable of arrays or one array.

    A model (an object with a ``grads`` dict) is first checked for rebound entries.
    """
    if not isinstance(grads, (dict, np.ndarray)) and isinstance(getattr(grads, "grads", None),
                                                                dict):
        check_not_rebound(grads, where)
        grads = grads.grads
    if isinstance(grads, np.ndarray):
        grads = [grads]  # one gradient, as torch accepts one tensor (not its rows)
    if not isinstance(grads, dict) and not hasattr(grads, "__iter__"):
        raise TypeError(
            f"grads: expected a dict of gradient arrays (model.grads) or a list of arrays, "
            f"got {type(grads).__name__}"
        )
    items = grads.items() if isinstance(grads, dict) else enumerate(grads)
    pairs = [(str(name), g) for name, g in items]
    for name, g in pairs:
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            raise TypeError(f"grads[{name}]: expected a floating ndarray, got {type(g).__name__}")
    return pairs


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number > 0, got {value}")
    return float(value)


def clip_grad_norm(grads, max_norm, error_if_nonfinite=True):
    """Scale all gradients together so their global L2 norm is at most ``max_norm``.

    ::

        total = sqrt(sum over every array g of sum(g^2))
        scale = max_norm / (total + 1e-6)
        if scale < 1:   g = g * scale   for every g, in place

    One factor for every element of every gradient: the gradient of the whole
    model keeps its direction, only its length is bounded. (The 1e-6 keeps the
    division safe; it makes the clipped norm a hair below ``max_norm``, and
    applies the factor from ``total > max_norm - 1e-6`` on, as in PyTorch.)

    Parameters
    ----------
    grads : model, dict[str, ndarray], iterable of ndarray, or one ndarray
        ``model`` or ``model.grads``; modified in place. Given the model
        itself, its parts are checked too: a gradient entry rebound in a part
        (so the model's dict holds an array the part no longer fills) raises
        RuntimeError naming the key.
    max_norm : float, > 0
    error_if_nonfinite : bool
        If the total norm is nan or inf, raise ValueError naming the offending
        gradients (the default). With ``False``, return the non-finite total
        so the caller can skip the step (``if not math.isfinite(total):
        continue``). Either way the gradients are left untouched; PyTorch
        (``error_if_nonfinite=False``) would multiply them by nan or 0 instead.

    Returns
    -------
    total : float
        The global norm BEFORE clipping: worth logging, a spike is an explosion.

    Examples
    --------
    >>> import numpy as np
    >>> grads = {"a": np.array([3.0]), "b": np.array([4.0])}
    >>> clip_grad_norm(grads, 1.0)                  # the norm before: 5
    5.0
    >>> [round(float(g[0]), 6) for g in grads.values()]   # same direction, length 1
    [0.6, 0.8]
    """
    pairs = _named_arrays(grads, "clip_grad_norm")
    max_norm = _check_positive("max_norm", max_norm)
    # per-array norms, then the norm of those, as PyTorch; float64 so float32 cannot overflow
    norms = [np.linalg.norm(g.ravel().astype(np.float64, copy=False)) for _, g in pairs]
    total = float(np.linalg.norm(norms)) if norms else 0.0
    if not math.isfinite(total) and error_if_nonfinite:
        bad = [name for name, g in pairs if not np.isfinite(g).all()]
        raise ValueError(
            f"clip_grad_norm: the total gradient norm is {total}; non-finite values in "
            f"{bad or 'none (the sum of squares overflowed)'}. The gradients were left "
            "untouched. Lower the learning rate or look for a division by zero or an "
            "overflow in the forward pass; pass error_if_nonfinite=False to clip anyway."
        )
    scale = max_norm / (total + 1e-6)
    if scale < 1.0 and math.isfinite(total):
        for _, g in pairs:
            g *= scale
    return total


def clip_grad_value(grads, clip_value):
    """Clip every gradient element to [-clip_value, clip_value], in place.

    ::

        g = min(max(g, -clip_value), clip_value)     element by element

    Simple and cheap, as in Karpathy's min-char-rnn, but it changes the
    direction of the gradient: only the large components are cut. Prefer
    :func:`clip_grad_norm`. A nan stays nan (``clip_grad_norm`` detects it).

    Parameters
    ----------
    grads : model, dict[str, ndarray], iterable of ndarray, or one ndarray
        Modified in place; a model is checked for rebound entries first.
    clip_value : float, > 0

    Examples
    --------
    >>> import numpy as np
    >>> grads = {"w": np.array([10.0, 1.0, -0.5])}
    >>> clip_grad_value(grads, 1.0)
    >>> grads["w"].tolist()                         # (10, 1) now points along (1, 1)
    [1.0, 1.0, -0.5]
    """
    pairs = _named_arrays(grads, "clip_grad_value")
    clip_value = _check_positive("clip_value", clip_value)
    for _, g in pairs:
        np.clip(g, -clip_value, clip_value, out=g)
