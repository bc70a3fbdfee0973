"""Numerical gradient checking: the proof that every backward is right.

The idea fits in three lines. Pick a random tensor G of the output's shape and
define the scalar loss ``L = sum(out * G)``; then ``dL/dout = G``. Run the
analytic backward with G. Then nudge every input and parameter element by
``+-h`` and measure ``(L(+h) - L(-h)) / 2h``, the central difference, whose
error is O(h^2). The two must agree to many digits, in float64.

    numerical_gradient(f, x)      central differences of a scalar function
    rel_error(a, b)               max|a - b| / max(1e-8, |a| + |b|)
    check_cell(cell)              one step of a cell: x, state and every param
    check_layer(layer, *inputs)   anything with forward(*inputs) / backward(*douts)

The checkers return a :class:`GradReport`: one relative error per name.
"""

from __future__ import annotations

import math

import numpy as np

from .init import as_generator
from .modes import no_grad

__all__ = ["numerical_gradient", "rel_error", "GradReport", "check_gradients", "check_cell",
           "check_layer"]


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    ``x`` is perturbed IN PLACE, one element at a time, and restored exactly, so
    ``f`` may read it through a closure (a parameter inside a model) or take it
    as its argument.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray, float64
    h : float
        Step; 1e-5 balances truncation error O(h^2) against round-off O(eps/h).

    Returns
    -------
    grad : ndarray, same shape as ``x``

    Raises
    ------
    TypeError
        If ``x`` is not a float64 ndarray. An integer array cannot hold
        ``x + h`` (the assignment truncates it, and the quotient is garbage);
        in float32 the round-off of ``f``, about 1e-7 relative, divided by
        ``2h`` swamps the answer (2.0027 instead of 2 for ``x**2`` at 1).

    Examples
    --------
    >>> x = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda x: (x ** 2).sum(), x).round(6)
    array([2., 4.])
    >>> numerical_gradient(lambda x: (x ** 2).sum(), np.array([1, 2], dtype=np.int64))
    Traceback (most recent call last):
    ...
    TypeError: x: numerical gradients need a float64 ndarray (x.astype(np.float64)), got dtype int64
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"x: numerical gradients need a float64 ndarray, perturbed in place; "
            f"got {type(x).__name__}"
        )
    if x.dtype != np.float64:
        raise TypeError(
            f"x: numerical gradients need a float64 ndarray (x.astype(np.float64)), "
            f"got dtype {x.dtype}"
        )
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index", "zerosize_ok"], op_flags=[["readwrite"]])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        f_plus = f(x)
        x[idx] = old - h
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a, b):
    """Relative error ``max|a - b| / max(1e-8, |a| + |b|)``, the max taken over elements.

    The denominator is the largest ``|a| + |b|`` over all elements, so tiny
    entries of a large gradient do not dominate, and 1e-8 guards exact zeros.

    Examples
    --------
    >>> rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])) < 1e-9
    True
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


class GradReport(dict):
    """Relative error per checked name, e.g. ``{"x": 3e-11, "W_h": 8e-11}``.

    Attributes
    ----------
    abs_errors : dict[str, float]
        ``max|analytic - numerical|`` per name (filled by :func:`check_gradients`).
    roundoff : float
        ``eps * sum(|out * G|) / h``: the round-off error of a central difference
        of this loss, below which no numerical gradient can be trusted. A
        gradient that is tiny next to it (a peephole whose path is nearly shut)
        has a large relative error for no fault of the backward, so
        :meth:`failures` and :meth:`assert_ok` accept an ``atol`` in its units.

    Examples
    --------
    >>> r = GradReport({"x": 1e-10, "W": 2e-3})
    >>> r.max_error, r.failures(1e-7)
    (0.002, ['W'])
    >>> r.abs_errors["W"] = 1e-14          # W's gradient is ~1e-12: its error is noise
    >>> r.failures(1e-7, atol=1e-12)
    []
    >>> print(r)
    name  rel. error
    x       1.00e-10
    W       2.00e-03
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.abs_errors = {}
        self.roundoff = 0.0

    @property
    def max_error(self):
        """The largest relative error (0.0 when nothing was checked)."""
        return max(self.values(), default=0.0)

    def failures(self, tol, atol=0.0):
        """Names whose relative error is not below ``tol`` and absolute error is above ``atol``."""
        return [name for name, err in self.items()
                if not err < tol and not self.abs_errors.get(name, math.inf) <= atol]

    def assert_ok(self, tol=1e-7, atol=0.0):
        """Raise AssertionError, with the whole report, for any name in :meth:`failures`."""
        bad = self.failures(tol, atol)
        if bad:
            raise AssertionError(
                f"gradient check failed for {bad} (tol {tol:g}, atol {atol:.2e}, "
                f"roundoff {self.roundoff:.2e}):\n{self}"
            )
        return self

    def __str__(self):
        width = max([4] + [len(k) for k in self])
        lines = [f"{'name':<{width}}  rel. error"]
        lines += [f"{k:<{width}}  {v:10.2e}" for k, v in self.items()]
        return "\n".join(lines)


def _flatten(value, prefix):
    """(name, array) pairs of an array or a (named) tuple of arrays; None is skipped."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return [(prefix, value)]
    if isinstance(value, tuple):
        names = getattr(value, "_fields", None) or [str(k) for k in range(len(value))]
        pairs = []
        for name, item in zip(names, value):
            pairs += _flatten(item, f"{prefix}.{name}")
        return pairs
    raise TypeError(f"{prefix}: expected an array or a tuple of arrays, got {type(value).__name__}")


def _random_like(value, rng):
    """A random gradient G with the structure of ``value`` (None stays None)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return rng.standard_normal(value.shape).astype(value.dtype)
    items = [_random_like(v, rng) for v in value]
    return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)


def check_gradients(forward, backward, inputs, names, params=None, grads=None, h=1e-5, seed=0):
    """Compare an analytic backward with central differences.

    The general engine behind :func:`check_cell` and :func:`check_layer`.

    Parameters
    ----------
    forward : callable
        ``forward(*inputs) -> (out, ctx)``; ``out`` an array or a tuple of them.
    backward : callable
        ``backward(dout, ctx) -> dinputs``: a tuple with one entry per input
        (an array, a tuple of arrays for a tuple input, or None for an input that
        takes no gradient, such as integer ids).
    inputs : tuple
        Arguments of ``forward``; float64 arrays or tuples of them are checked.
    names : tuple of str
        A name for each input, for the report.
    params, grads : dict, optional
        The model's parameters and the gradients its backward accumulates into.
    h : float
        Finite-difference step.
    seed : int
        Seed of the random output gradient G.

    Returns
    -------
    GradReport

    Examples
    --------
    y = x * w, checked for the input x and the parameter w:

    >>> x, w, dw = np.array([1.0, -2.0]), np.array([3.0, 0.5]), np.zeros(2)
    >>> def forward(x):
    ...     return x * w, x                      # (out, ctx)
    >>> def backward(dy, x):
    ...     dw[...] += dy * x                    # accumulate like every lstmlab backward
    ...     return (dy * w,)                     # one gradient per input
    >>> report = check_gradients(forward, backward, (x,), ("x",), {"w": w}, {"w": dw})
    >>> sorted(report), report.max_error < 1e-9
    (['w', 'x'], True)
    """
    params = params if params is not None else {}
    grads = grads if grads is not None else {}
    for name, p in params.items():
        if p.dtype != np.float64:
            raise TypeError(
                f"params[{name!r}]: gradient checks need float64 (dtype=np.float64), got {p.dtype}"
            )
    out, ctx = forward(*inputs)
    G = _random_like(out, as_generator(seed))
    G_arrays = [g for _, g in _flatten(G, "out")]

    def loss():
        with no_grad():  # the perturbed forwards are never backpropagated: keep no records
            o = forward(*inputs)[0]
        return sum(float(np.sum(a * g)) for (_, a), g in zip(_flatten(o, "out"), G_arrays))

    for g in grads.values():
        g.fill(0)
    dinputs = backward(G, ctx)
    if len(dinputs) != len(inputs):
        raise ValueError(f"backward returned {len(dinputs)} gradients for {len(inputs)} inputs")

    report = GradReport()
    scale = sum(float(np.sum(np.abs(a * g))) for (_, a), g in zip(_flatten(out, "out"), G_arrays))
    report.roundoff = float(np.finfo(np.float64).eps) * scale / h

    def compare(key, analytic, numerical):
        report[key] = rel_error(analytic, numerical)
        report.abs_errors[key] = float(np.max(np.abs(analytic - numerical), initial=0.0))

    for name, value, dvalue in zip(names, inputs, dinputs):
        if dvalue is None:
            continue
        for (key, x), (_, dx) in zip(_flatten(value, name), _flatten(dvalue, name)):
            if x.dtype != np.float64:
                raise TypeError(f"{key}: gradient checks need float64 inputs, got {x.dtype}")
            compare(key, dx, numerical_gradient(lambda _: loss(), x, h))
    for name, p in params.items():
        compare(name, grads[name], numerical_gradient(lambda _: loss(), p, h))
    return report


def check_cell(cell, N=2, x=None, state=None, seed=0, h=1e-5):
    """Gradient-check one step of a cell: the input, the initial state and every parameter.

    The loss is ``sum(h * G_h)`` (plus ``sum(c * G_c)`` for an LSTM) for a
    random G, so the gradient reaching both halves of the state is exercised.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell (float64)
    N : int
        Batch size of the random input, when ``x`` is not given.
    x : ndarray, shape (N, D), optional
    state : optional
        Initial state; random (not zeros, which would hide terms) when omitted.
    seed : int

    Returns
    -------
    GradReport
        Keys ``x``, ``state`` (or ``state.h``, ``state.c``) and every param name.

    Examples
    --------
    >>> import lstmlab as ll
    >>> report = ll.check_cell(ll.LSTMCell(3, 4, peephole=True, rng=0))
    >>> report.max_error < 1e-7
    True
    """
    rng = as_generator(seed)
    if x is None:
        x = rng.standard_normal((N, cell.input_size))
    if state is None:
        shapes = cell.split_state(cell.initial_state(x.shape[0]))
        state = cell.join_state([rng.standard_normal(s.shape) for s in shapes])
    return check_gradients(
        cell.forward, cell.backward, (x, state), ("x", "state"),
        cell.params, cell.grads, h=h, seed=seed + 1,
    )


def check_layer(layer, *inputs, seed=0, h=1e-5, **kwargs):
    """Gradient-check anything with ``forward(*inputs, **kwargs)`` and ``backward(*douts)``.

    This is the protocol of layers that remember their last forward (Linear,
    Embedding, Recurrent, RNN/LSTM/GRU): ``backward`` takes one gradient per
    output of ``forward`` and returns one gradient per input. Outputs that are
    None (no final state) get no gradient.

    Returns
    -------
    GradReport
        Keys ``input0``, ``input1``, ... and every param name.

    Examples
    --------
    >>> import lstmlab as ll
    >>> class Square:
    ...     params, grads = {}, {}
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x ** 2
    ...     def backward(self, dy):
    ...         return 2 * self.x * dy
    >>> ll.check_layer(Square(), np.array([1.0, -2.0])).max_error < 1e-9
    True
    """

    def forward(*xs):
        return layer.forward(*xs, **kwargs), None

    def backward(dout, _ctx):
        douts = dout if isinstance(dout, tuple) and not hasattr(dout, "_fields") else (dout,)
        dinputs = layer.backward(*douts)
        if len(inputs) == 1:
            return (dinputs,)
        return dinputs

    names = tuple(f"input{k}" for k in range(len(inputs)))
    return check_gradients(
        forward, backward, inputs, names, layer.params, layer.grads, h=h, seed=seed
    )
