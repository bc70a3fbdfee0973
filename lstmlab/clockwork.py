"""The Clockwork RNN: hidden modules that tick at different rates (Koutník et al. 2014)."""

from __future__ import annotations

import numpy as np

from .checks import check_float_array, check_float_dtype, check_positive_int, check_shape
from .functional import dtanh, tanh
from .init import as_generator, pytorch_uniform
from .modes import check_finite, is_anomaly_enabled
from .module import Module

__all__ = ["ClockworkRNN"]


def check_periods(periods):
    """Check clock periods: a non-empty sequence of positive integers; return a tuple.

    Examples
    --------
    >>> check_periods([1, 2, 4])
    (1, 2, 4)
    >>> check_periods((1, 0))
    Traceback (most recent call last):
    ...
    ValueError: periods: expected positive integers, got (1, 0)
    """
    try:
        values = tuple(periods)
    except TypeError:
        raise TypeError(
            f"periods: expected a sequence of positive integers, got {type(periods).__name__}"
        ) from None
    if not values:
        raise ValueError("periods: expected at least one period, got an empty sequence")
    for p in values:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(
                f"periods: expected positive integers, got {type(p).__name__} {p!r} in {values}")
    values = tuple(int(p) for p in values)
    if min(values) < 1:
        raise ValueError(f"periods: expected positive integers, got {values}")
    return values


class ClockworkRNN(Module):
    """Clockwork RNN: an Elman RNN whose hidden units form modules with their own clocks.

    The H hidden units are split into ``len(periods)`` modules of equal size.
    Module k has period ``T_k`` and is updated only at the steps t (counted
    from 0) that are multiples of ``T_k``; at the other steps it keeps its
    value. A module reads the input and the modules whose period is at least
    its own (the slow modules feed the fast ones, never the other way), so
    the recurrent matrix is block-triangular. Equations (row vectors)::

        a_t   = x_t W_x + h_{t-1} (W_h * M) + b           (N, H)
        u_t   = [t mod T_k(j) == 0]                       (H,) unit j ticks at step t
        h_t   = where(u_t, tanh(a_t), h_{t-1})

    with ``M[i, j] = 1`` when unit i's module is at least as slow as unit j's
    (``T_k(i) >= T_k(j)``), else 0. ``W_h`` is kept with zeros outside the
    mask, and its gradient is masked, so training never fills them.

    Backward, with dh_t the gradient reaching h_t (from the loss and from step t+1)::

        da_t     = where(u_t, dh_t * (1 - h_t^2), 0)
        dh_{t-1} = da_t (W_h * M)^T + where(u_t, 0, dh_t)     an idle unit passes dh on
        dW_h    += (h_{t-1}^T da_t) * M      dW_x += x_t^T da_t      db += sum da_t

    A module of period 8 changes only every 8th step, so its memory reaches
    8 times further back per tanh, and its gradient flows through idle steps
    unchanged: the slow modules hold the long time scales and the fast ones
    the short ones.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H; H must be a multiple of ``len(periods)``.
    periods : sequence of positive int
        One clock period per module, e.g. the paper's powers of two (1, 2, 4, 8, ...).
    bias : bool
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator

    Attributes
    ----------
    params : dict
        ``W_x`` (D, H), ``W_h`` (H, H) (zero outside the mask), ``b`` (H,).
    mask : ndarray, shape (H, H)
        M, the block-triangular connectivity.
    unit_period : ndarray of int, shape (H,)
        The period of each hidden unit's module.

    References
    ----------
    Koutník, J., Greff, K., Gomez, F. & Schmidhuber, J. (2014). A Clockwork RNN. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> cw = ll.ClockworkRNN(2, 6, periods=(1, 2, 4), rng=0)
    >>> xs = np.random.default_rng(0).standard_normal((5, 3, 2))   # (T, N, D)
    >>> hs, h_T = cw.forward(xs)
    >>> hs.shape, h_T.shape
    ((5, 3, 6), (3, 6))
    >>> bool(np.array_equal(hs[1, :, 2:], hs[0, :, 2:]))   # at t=1 only the period-1 module ticks
    True
    >>> dxs, dh0 = cw.backward(np.ones_like(hs))
    >>> dxs.shape, dh0.shape
    ((5, 3, 2), (3, 6))
    """

    def __init__(self, input_size, hidden_size, periods=(1, 2, 4, 8), *, bias=True,
                 dtype=np.float64, rng=None):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.periods = check_periods(periods)
        K = len(self.periods)
        if self.hidden_size % K:
            raise ValueError(
                f"hidden_size: expected a multiple of len(periods) = {K} (modules of equal "
                f"size), got {self.hidden_size}")
        self._dtype = check_float_dtype("dtype", dtype)
        self.bias = bool(bias)
        rng = as_generator(rng)
        D, H = self.input_size, self.hidden_size
        self.unit_period = np.repeat(self.periods, H // K)  # (H,)
        self.mask = (self.unit_period[:, None] >= self.unit_period[None, :]).astype(dtype)
        self.add_param("W_x", pytorch_uniform((D, H), H, rng, self._dtype))
        self.add_param("W_h", pytorch_uniform((H, H), H, rng, self._dtype) * self.mask)
        if self.bias:
            self.add_param("b", pytorch_uniform((H,), H, rng, self._dtype))

    def initial_state(self, N):
        """Zeros, the state before the first step: h (N, H)."""
        N = check_positive_int("N", N, minimum=0)
        return np.zeros((N, self.hidden_size), dtype=self.dtype)

    def ticks(self, T):
        """Which units update at each step: bool (T, H), ``t mod period == 0``.

        Examples
        --------
        >>> ClockworkRNN(1, 2, periods=(1, 2)).ticks(3).astype(int)
        array([[1, 1],
               [1, 0],
               [1, 1]])
        """
        return np.arange(T)[:, None] % self.unit_period[None, :] == 0

    def forward(self, xs, state=None):
        """Run the clocked modules over all T steps.

        Parameters
        ----------
        xs : ndarray, shape (T, N, D)
        state : ndarray, shape (N, H), optional
            h before step 0; None means zeros.

        Returns
        -------
        hs : ndarray, shape (T, N, H)
        h_T : ndarray, shape (N, H), the state after the last step (a new array)
        """
        check_float_array("xs", xs, ndim=3, dtype=self.dtype)
        check_shape("xs", xs, (None, None, self.input_size),
                    f"(T, N, D) with D = {self.input_size}")
        T, N, D = xs.shape
        H = self.hidden_size
        if state is None:
            h = self.initial_state(N)
        else:
            check_float_array("state", state, ndim=2, dtype=self.dtype)
            h = check_shape("state", state, (N, H), f"(N, H) = ({N}, {H})").copy()
        W_h = self.params["W_h"] * self.mask  # zeros outside the mask, whatever an update wrote
        xw = (xs.reshape(-1, D) @ self.params["W_x"]).reshape(T, N, H)  # (T, N, H)
        if self.bias:
            xw += self.params["b"]
        ticks = self.ticks(T)  # (T, H)
        anomaly = is_anomaly_enabled()
        hs = np.empty((T + 1, N, H), dtype=self.dtype)  # hs[0] = h_{-1}, the initial state
        hs[0] = h
        for t in range(T):
            a = xw[t] + hs[t] @ W_h
            hs[t + 1] = np.where(ticks[t], tanh(a), hs[t])
            if anomaly:
                check_finite(self._where, "h", hs[t + 1], "forward", t=t)
        self.save_for_backward((xs.copy(), hs, ticks, W_h))
        return hs[1:].copy(), hs[T].copy()

    def backward(self, dhs=None, dstate=None):
        """Backpropagation through time; gradients ACCUMULATE into ``grads``.

        Parameters
        ----------
        dhs : ndarray, shape (T, N, H), optional
        dstate : ndarray, shape (N, H), optional
            Gradient of the final state.

        Returns
        -------
        dxs : ndarray, shape (T, N, D)
        dstate0 : ndarray, shape (N, H)
        """
        xs, hs, ticks, W_h = self.saved_for_backward()
        T, N, D = xs.shape
        H = self.hidden_size
        if dhs is not None:
            check_float_array("dhs", dhs, ndim=3, dtype=self.dtype)
            check_shape("dhs", dhs, (T, N, H), f"(T, N, H) = ({T}, {N}, {H}), like hs")
        dh = np.zeros((N, H), dtype=self.dtype)
        if dstate is not None:
            check_float_array("dstate", dstate, ndim=2, dtype=self.dtype)
            dh = check_shape("dstate", dstate, (N, H), f"(N, H) = ({N}, {H})").copy()
        da = np.zeros((T, N, H), dtype=self.dtype)
        anomaly = is_anomaly_enabled()
        for t in reversed(range(T)):
            if dhs is not None:
                dh = dh + dhs[t]
            da[t] = np.where(ticks[t], dh * dtanh(hs[t + 1]), 0.0)
            dh = da[t] @ W_h.T + np.where(ticks[t], 0.0, dh)
            if anomaly:
                check_finite(self._where, "dh", dh, "backward", t=t)
        h_prev = hs[:T].reshape(-1, H)  # (T*N, H)
        da2 = da.reshape(-1, H)
        self.grads["W_h"] += (h_prev.T @ da2) * self.mask
        self.grads["W_x"] += xs.reshape(-1, D).T @ da2
        if self.bias:
            self.grads["b"] += da2.sum(axis=0)
        dxs = (da2 @ self.params["W_x"].T).reshape(T, N, D)
        return dxs, dh

    def __repr__(self):
        extra = "" if self.bias else ", bias=False"
        if self.dtype != np.float64:
            extra += f", dtype={self.dtype.name}"
        return (f"ClockworkRNN({self.input_size}, {self.hidden_size}, "
                f"periods={self.periods}{extra})")
