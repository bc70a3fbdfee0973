"""The time-unrolled wrapper: any cell over T steps, and backpropagation through time.

A cell computes one time step. :class:`Recurrent` runs it over a whole
sequence, keeps the per-step caches, and walks them backwards to get the
gradients (BPTT). It adds the three things a sequence needs and a step does
not: the input projection for all steps at once, variable lengths, and the
direction of time.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .cell import Cell
from .checks import check_float_array, check_shape
from .modes import check_finite, is_anomaly_enabled, is_grad_enabled
from .module import Module

__all__ = ["Recurrent"]


class _ForwardCache(NamedTuple):
    """What :meth:`Recurrent.forward` keeps for the backward (one record per forward)."""

    xs: np.ndarray  # (T, N, D) a copy of the inputs, for the one product of backward_project
    caches: list  # T step caches, indexed by time t (not by processing order)
    valid: Optional[np.ndarray]  # (T, N) bool, step t of sequence n is real; None: all are


def check_lengths(lengths, N, T, name="lengths"):
    """Check sequence lengths: N integers in [0, T]; return them as an int array.

    Examples
    --------
    >>> check_lengths([3, 0], N=2, T=3)
    array([3, 0])
    >>> check_lengths([4, 1], N=2, T=3)
    Traceback (most recent call last):
    ...
    ValueError: lengths: expected integers in [0, T] = [0, 3], got values from 1 to 4
    """
    try:
        arr = np.asarray(lengths)
    except ValueError as err:  # NumPy >= 1.24 refuses ragged nested lists
        raise ValueError(
            f"{name}: expected shape (N,) = ({N},) integers, got a ragged {type(lengths).__name__}"
        ) from err
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name}: expected integers (one length per sequence), got dtype {arr.dtype}"
        )
    if arr.shape != (N,):
        raise ValueError(f"{name}: expected shape (N,) = ({N},), got {arr.shape}")
    if N and (arr.min() < 0 or arr.max() > T):
        raise ValueError(
            f"{name}: expected integers in [0, T] = [0, {T}], "
            f"got values from {arr.min()} to {arr.max()}"
        )
    return arr


class Recurrent(Module):
    """Run any cell over a sequence: forward through time and backward through time.

    Equations (one cell applied at every step, m_t[n] = [t < length_n])::

        XW = xs W_x + b                          (T, N, G*H)  one product, all steps
        for t = 0, 1, ..., T-1                   (T-1, ..., 0 when reverse=True)
            s_new, cache_t = cell.step(XW_t, s)
            s     = where(m_t, s_new, s)         a padded step keeps the state
            hs_t  = where(m_t, h_new, 0)         a padded output is zero

    Backward (BPTT), with ds the gradient reaching the state after step t::

        ds_new = where(m_t, ds + [dhs_t on h], 0)       dL/d(step t's output)
        dXW_t, ds_step = cell.backward_step(ds_new, cache_t)
        ds     = ds_step + where(m_t, 0, ds)            padding passes ds through
        dxs    = dXW W_x^T,  dW_x += xs^T dXW,  db += sum dXW   (once, after the loop)
        dW_h  += sum_t h_prev_t^T dXW_t                         (once, after the loop)

    The x-part ``x_t W_x + b`` of every gate does not depend on the state, so
    it is computed for all T steps before the loop, as one (T*N, D) x (D, G*H)
    product, and its gradients after the backward loop, as one more. This is
    exact (the same sums, grouped differently) and it moves a third of the
    work out of the sequential loop. The recurrent weights' gradient is a sum
    over steps too, ``dW_h = sum_t h_prev_t^T dXW_t``, so it is also taken once,
    after the loop, as one (H, T*N) x (T*N, G*H) product
    (``cell.backward_dW_h``); only ``dh_prev = dXW_t W_h^T`` must stay in the loop.

    Variable lengths follow PyTorch's packed sequences: sequence n has
    ``lengths[n]`` real steps, ``0 <= lengths[n] <= T``, in any order. Its
    padded steps leave its state unchanged, their outputs are zeros, the final
    state is its state after its own last real step, and no gradient flows
    into or through padding (``dxs`` is exactly zero there). With
    ``reverse=True`` each sequence runs from its own last real step back to
    step 0; the outputs stay in the original time order.

    Truncated BPTT (the stateful pattern): cut a long sequence into chunks and
    feed them one after the other, passing each call's final state as the
    next call's ``state``. The forward is then identical to one long call.
    Gradients stop at the chunk boundary: ``backward`` returns ``dstate0``,
    the gradient of the chunk's initial state, and it reaches the previous
    chunk only if the caller passes it on, as that chunk's ``dstate`` (which
    requires the previous chunk's record, see below). Usually it is dropped;
    that is the truncation.

    Each forward pushes its caches as one record on the wrapper's record
    stack, and each backward pops the most recent one. So one wrapper used
    k times (two inputs of a Siamese encoder, the chunks above, a decoder
    run one step at a time) gets exact gradients from k backwards in
    reverse order, and a backward with no forward left raises. Under
    ``ll.no_grad()`` nothing is kept. The record holds a copy of ``xs`` and
    of the initial state, and the returned final state is a copy too: the
    caller may change any of them in place without changing the gradients.
    Under ``ll.detect_anomaly()`` every step's new state (forward) and state
    gradient (backward) is checked for NaN/inf.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell
        Used for every step; ``params`` and ``grads`` are the cell's own dicts.
    reverse : bool
        Run from the last step to the first (the backward half of a
        bidirectional layer).
    record_grad_norms : bool
        If True, :meth:`backward` stores ``grad_norms`` (see Attributes).
        Can also be switched on later by setting the attribute.

    Attributes
    ----------
    cell : Cell
    params, grads : dict
        The same dict objects as ``cell.params`` and ``cell.grads``.
    grad_norms : dict of ndarray, shape (T,), or None
        After a backward with ``record_grad_norms``: ``grad_norms["h"][t]`` is
        the Frobenius norm (over the batch and H) of dL/dh_t, the total
        gradient reaching step t's output h_t, from the loss at step t plus
        from step t+1 (zero for padded rows). For an LSTM,
        ``grad_norms["c"][t]`` is the norm of the gradient reaching c_t along
        the cell path from step t+1 (or from ``dstate`` at the last step). Indexed by
        time t in the original order, also when reverse. Watch it shrink
        towards t = 0 to see vanishing gradients.

    References
    ----------
    Werbos, P. J. (1990). Backpropagation through time: what it does and how
    to do it. Proceedings of the IEEE 78(10).
    Williams, R. J. & Peng, J. (1990). An efficient gradient-based algorithm
    for on-line training of recurrent network trajectories (truncated BPTT).

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> layer = ll.Recurrent(ll.LSTMCell(3, 5, rng=0))
    >>> xs = np.random.default_rng(1).standard_normal((4, 2, 3))   # (T, N, D)
    >>> hs, state = layer.forward(xs, lengths=[4, 2])
    >>> hs.shape, state.h.shape
    ((4, 2, 5), (2, 5))
    >>> bool((hs[2:, 1] == 0).all())            # padded outputs are zero
    True
    >>> bool((state.h[1] == hs[1, 1]).all())    # final state: at the last real step
    True
    >>> dxs, dstate0 = layer.backward(np.ones_like(hs))
    >>> dxs.shape, bool((dxs[2:, 1] == 0).all())
    ((4, 2, 3), True)

    Truncated BPTT, two chunks with the state carried over:

    >>> hs1, s = layer.forward(xs[:2])
    >>> hs2, s = layer.forward(xs[2:], state=s)
    >>> hs_all, s_all = layer.forward(xs)
    >>> bool(np.allclose(np.concatenate([hs1, hs2]), hs_all))
    True
    """

    def __init__(self, cell, *, reverse=False, record_grad_norms=False):
        super().__init__()
        if not isinstance(cell, Cell):
            raise TypeError(
                f"cell: expected an RNNCell, LSTMCell or GRUCell, got {type(cell).__name__}"
            )
        self.cell = cell
        self.reverse = bool(reverse)
        self.record_grad_norms = bool(record_grad_norms)
        self.params = cell.params  # the same dicts: zero_grad and optimizers see the cell's arrays
        self.grads = cell.grads
        self.add_module("cell", cell)  # a part (for names), its arrays are already ours
        self.grad_norms = None

    @property
    def input_size(self):
        """D, the cell's input size."""
        return self.cell.input_size

    @property
    def hidden_size(self):
        """H, the cell's hidden size."""
        return self.cell.hidden_size

    def initial_state(self, N):
        """Zeros, the cell's initial state for a batch of N (what ``state=None`` means)."""
        return self.cell.initial_state(N)

    def forward(self, xs, state=None, lengths=None):
        """Run the cell over all T steps.

        Parameters
        ----------
        xs : ndarray, shape (T, N, D)
            Time-major inputs, in the cell's dtype.
        state : optional
            The initial state (ndarray (N, H), or LSTMState(h, c) for an LSTM);
            None means zeros.
        lengths : array of int, shape (N,), optional
            Real steps per sequence, each in [0, T]; None means all T.

        Returns
        -------
        hs : ndarray, shape (T, N, H)
            The output h_t of every step (zeros at padded steps).
        state : the final state, with the structure of the cell's state
            (each sequence's state after its last real step), in new arrays.
            With T = 0, ``hs`` is empty and ``state`` equals the initial
            state. With N = 0, ``hs`` is (T, 0, H) and the state holds empty
            (0, H) arrays.
        """
        cell = self.cell
        check_float_array("xs", xs, ndim=3, dtype=cell.dtype)
        check_shape("xs", xs, (None, None, cell.input_size),
                    f"(T, N, D) with D = {cell.input_size}")
        T, N, _ = xs.shape
        state = cell.initial_state(N) if state is None else cell.check_state(state, N)
        # Step 0's cache holds the initial state itself: a copy, the caller's may change.
        state = cell.join_state([a.copy() for a in cell.split_state(state)])
        anomaly = is_anomaly_enabled()
        if anomaly and not np.isfinite(xs).all():  # name the first bad step
            for t in range(T):
                check_finite(self._where, "x", xs[t], "forward", t)
        valid = None
        if lengths is not None:
            lengths = check_lengths(lengths, N, T)
            valid = np.arange(T)[:, None] < lengths  # (T, N)

        xw = cell.project(xs)  # (T, N, G*H): the x-part of every gate, for every step
        hs = np.zeros((T, N, cell.output_size), dtype=cell.dtype)  # output_size: H, or P
        caches = [None] * T
        for t in self._time_steps(T):
            new_state, caches[t] = cell.step(xw[t], state, check=False)
            if anomaly:  # c first: h is computed from it (an LSTM's gates q, if any, before c)
                names = getattr(new_state, "_fields", ("h",))  # h; h, c; or h, c, q
                for name, a in reversed(list(zip(names, cell.split_state(new_state)))):
                    check_finite(self._where, name, a, "forward", t)
            h = cell.split_state(new_state)[0]  # (N, H)
            if valid is None:
                state = new_state
                hs[t] = h
            else:
                m = valid[t][:, None]  # (N, 1)
                state = _select(cell, m, new_state, state)
                hs[t] = np.where(m, h, 0.0)
        if is_grad_enabled():  # a copy of xs: the caller may change its array before backward
            self.save_for_backward(_ForwardCache(xs.copy(), caches, valid))
        # The final state's arrays may be a cache's own (an RNN cell's h, an LSTM's c): copies.
        return hs, cell.join_state([a.copy() for a in cell.split_state(state)])

    def backward(self, dhs=None, dstate=None):
        """Backpropagation through time; gradients ACCUMULATE into ``cell.grads``.

        Backpropagates the most recent forward not yet backpropagated (and
        consumes its record).

        Parameters
        ----------
        dhs : ndarray, shape (T, N, H), optional
            dL/dhs, the shape of that forward's ``hs``. None when only the
            final state feeds the loss.
        dstate : optional
            dL/d(final state), with the state's structure; None means zero.

        Returns
        -------
        dxs : ndarray, shape (T, N, D)
            Exactly zero at padded steps.
        dstate0 : gradient of the initial state, with the state's structure
            (also when ``forward`` started from zeros).
        """
        record = self.saved_for_backward()
        try:
            dstate = self._check_gradients(record, dhs, dstate)
        except (TypeError, ValueError):
            self._records.append(record)  # a refused gradient consumes nothing: call again
            raise
        cell = self.cell
        xs, caches, valid = record
        T, N, _ = xs.shape
        anomaly = is_anomaly_enabled()
        ds = tuple(cell.split_state(dstate))  # dL/d(state after step t): (dh,) or (dh, dc) ...
        names = getattr(dstate, "_fields", ("h",))  # the state's names: h; h, c; or h, c, q
        norms = [np.zeros(T) for _ in ds] if self.record_grad_norms else None

        dxw = np.empty((T, N, cell.gate_width), dtype=cell.dtype)  # (T, N, G*H)
        for t in reversed(self._time_steps(T)):
            ds_new = ds  # the gradient reaching step t's output state
            if dhs is not None:  # h_t feeds the output and the next step
                ds_new = (ds[0] + dhs[t],) + ds[1:]
            if valid is not None:
                m = valid[t][:, None]  # (N, 1)
                ds_skip = [np.where(m, 0.0, d) for d in ds]  # padding: straight to the past
                ds_new = [np.where(m, d, 0.0) for d in ds_new]
            if norms is not None:
                for norm, d in zip(norms, ds_new):
                    norm[t] = _norm(d)
            # dW_h waits for the loop's end: one product over all steps (defer_dW_h)
            _, dstate_prev = cell.backward_step(
                cell.join_state(ds_new), caches[t], defer_dW_h=True, check=False, out=dxw[t]
            )
            ds = tuple(cell.split_state(dstate_prev))
            if valid is not None:
                ds = tuple(d + skip for d, skip in zip(ds, ds_skip))
            if anomaly:  # the gradient reaching the state before step t
                for name, d in zip(names, ds):
                    check_finite(self._where, f"d{name}", d, "backward", t)
        if norms is not None:
            self.grad_norms = dict(zip(names, norms))
        cell.backward_dW_h(caches, dxw)  # dW_h = sum_t h_prev_t^T dxw_t, one product
        dxs = cell.backward_project(dxw, xs)  # (T, N, D), and dW_x, db for all steps at once
        if anomaly:
            check_finite(self._where, "dxs", dxs, "backward")
            for name, g in self.grads.items():
                check_finite(self._where, f"d{name}", g, "backward")
        return dxs, cell.join_state(ds)

    def _check_gradients(self, record, dhs, dstate):
        """Check ``dhs`` and ``dstate`` against the forward being backpropagated."""
        cell = self.cell
        T, N, _ = record.xs.shape
        H = cell.output_size  # the width of hs: H, or an LSTM's proj_size P
        if dhs is not None:
            check_float_array("dhs", dhs, ndim=3, dtype=cell.dtype)
            check_shape("dhs", dhs, (T, N, H),
                        f"(T, N, H) = ({T}, {N}, {H}), the shape of hs of the forward being "
                        "backpropagated")
        if dstate is None:
            return cell.initial_state(N)
        return cell.check_state(dstate, N, name="dstate")

    def _time_steps(self, T):
        """The order in which the forward visits the steps."""
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def __repr__(self):
        return f"Recurrent({self.cell!r}{', reverse=True' if self.reverse else ''})"


def _norm(d):
    """Frobenius norm that does not overflow while the entries are finite (they may near 1e308)."""
    scale = float(np.max(np.abs(d), initial=0.0))
    if scale == 0.0 or not np.isfinite(scale):
        return scale
    return scale * float(np.linalg.norm(d / scale))


def _select(cell, m, new_state, old_state):
    """Row-wise choice between two states: ``new`` where ``m``, else ``old``."""
    pairs = zip(cell.split_state(new_state), cell.split_state(old_state))
    return cell.join_state([np.where(m, new, old) for new, old in pairs])
