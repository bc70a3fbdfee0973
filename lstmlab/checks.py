"""Input validation shared by every public entry point.

A learner's first mistakes are shape mistakes. These helpers turn them into a
sentence that names the argument, what was expected and what came in, instead
of a traceback from deep inside NumPy or, worse, a silently broadcast answer.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "check_float_array", "check_int_array", "check_shape", "check_positive_int",
    "check_float_dtype",
    "check_range",
]


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"a {type(x).__name__}"


def check_float_array(name, x, ndim=None, dtype=None, dtype_of="the parameters'"):
    """Check that ``x`` is a floating ndarray with ``ndim`` dimensions and ``dtype``.

    ``dtype_of`` says in the message whose dtype ``dtype`` is.

    Raises
    ------
    TypeError
        Not an ndarray, not floating, or a dtype other than ``dtype``.
    ValueError
        The wrong number of dimensions.

    Examples
    --------
    >>> check_float_array("x", np.zeros(3, dtype=int))
    Traceback (most recent call last):
    ...
    TypeError: x: expected a floating-point array, got an array of shape (3,) and dtype int64
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array, got {_describe(x)}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: expected a floating-point array, got {_describe(x)}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name}: expected dtype {np.dtype(dtype)} ({dtype_of} dtype), got {x.dtype}; "
            f"convert with {name}.astype(np.{np.dtype(dtype)})"
        )
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got {_describe(x)}")
    return x


def check_int_array(name, x):
    """Check that ``x`` holds integers (ids, class indices); return it as an ndarray.

    Lists and Python ints are converted; floats and bools are refused, because
    a float id is usually a mix-up of inputs and a bool one of masks.

    Examples
    --------
    >>> check_int_array("ids", [[1, 2]]).shape
    (1, 2)
    >>> check_int_array("ids", np.array([1.0]))
    Traceback (most recent call last):
    ...
    TypeError: ids: expected an integer array, got an array of shape (1,) and dtype float64
    >>> check_int_array("ids", [[1, 2], [3]])
    Traceback (most recent call last):
    ...
    ValueError: ids: expected an integer array, got a ragged list (rows of unequal lengths)
    """
    try:
        arr = np.asarray(x)
    except ValueError as err:  # NumPy >= 1.24 refuses ragged nested sequences
        raise ValueError(
            f"{name}: expected an integer array, got a ragged {type(x).__name__} "
            "(rows of unequal lengths)"
        ) from err
    if arr.size == 0 and not isinstance(x, np.ndarray):
        arr = arr.astype(np.int64)  # np.asarray([]) is float64, but [] holds no float id
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected an integer array, got {_describe(arr)}")
    return arr


def check_shape(name, x, shape, meaning):
    """Check ``x.shape`` against ``shape`` (``None`` entries match anything).

    ``meaning`` spells the expected shape in symbols, e.g. ``"(N, D)"``.

    Examples
    --------
    >>> check_shape("x", np.zeros((2, 5)), (None, 3), "(N, D) with D = 3")
    Traceback (most recent call last):
    ...
    ValueError: x: expected shape (N, D) with D = 3, got (2, 5)
    """
    if len(x.shape) != len(shape) or any(
        want is not None and got != want for got, want in zip(x.shape, shape)
    ):
        raise ValueError(f"{name}: expected shape {meaning}, got {x.shape}")
    return x


def check_positive_int(name, value, minimum=1):
    """Check that ``value`` is an int >= ``minimum`` (bools are refused).

    Examples
    --------
    >>> check_positive_int("hidden_size", 0)
    Traceback (most recent call last):
    ...
    ValueError: hidden_size: expected an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_float_dtype(name, dtype):
    """Check that ``dtype`` names a floating dtype; return it as an ``np.dtype``.

    Examples
    --------
    >>> check_float_dtype("dtype", "float32")
    dtype('float32')
    >>> check_float_dtype("dtype", np.int32)
    Traceback (most recent call last):
    ...
    TypeError: dtype: expected a floating dtype such as np.float64, got int32
    """
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(
            f"{name}: expected a floating dtype such as np.float64, got {dtype!r}"
        ) from err
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"{name}: expected a floating dtype such as np.float64, got {dt}")
    return dt


def check_range(name, value, low=0.0, high=math.inf, high_open=False):
    """A finite real number in [low, high] (or [low, high)); return it as a float.

    Examples
    --------
    >>> check_range("lr", 0.1)
    0.1
    >>> check_range("beta", 1.0, high=1.0, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: beta: expected a value in [0.0, 1.0), got 1.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    value = float(value)
    inside = low <= value < high if high_open else low <= value <= high
    if not (inside and math.isfinite(value)):  # an inf lr or decay turns every weight into nan
        if high == math.inf:
            raise ValueError(f"{name}: expected a finite number >= {low}, got {value}")
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name}: expected a value in [{low}, {high}{bracket}, got {value}")
    return value
