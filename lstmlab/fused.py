"""The fast path: whole-sequence LSTM, GRU and RNN runners, time-batched and fused.

The cells (``lstm.py``, ``gru.py``, ``rnn.py``) are the textbook: one equation
per line, one step at a time, run over a sequence by
:class:`~lstmlab.Recurrent`. This module computes exactly the same numbers
for a whole sequence at once, arranged for speed, and the layers
(``ll.LSTM``/``ll.GRU``/``ll.RNN``) use it by default (``fast=False`` runs the
textbook cells). ``tests/test_fused.py`` proves both paths equal in float64 to
1e-12: outputs, final states, dx, initial-state and every weight gradient,
with lengths, reverse, stacked and bidirectional layers.

A runner has :class:`~lstmlab.Recurrent`'s interface (``forward(xs, state,
lengths) -> (hs, state)``, ``backward(dhs, dstate) -> (dxs, dstate0)``, one
record per forward) and holds the cell itself: it reads the cell's
``params`` by name and adds into its ``grads``, so the parameter keys and the
optimizers do not change. Where the time goes, and what each trick saves:

1. **Products over the whole sequence.** The GRU and the RNN compute
   ``x W_x + b`` for all T steps as one (T*N, D) x (D, G*H) product before
   the loop, and ``dW_x``, ``dW_h``, ``db`` and ``dxs`` as one product each
   after it; only ``h_prev W_h`` (forward) and ``da W_h^T`` (backward) stay
   in the loop. The LSTM goes one step further: its weights are stacked,
   ``S = [W_x; b; W_h]`` (D + 1 + H rows), and so is each step's input,
   ``[x_t; 1; h_prev]``, so a step's whole pre-activation, bias included, is
   one product written straight into the step's gate rows (no x-part to
   copy in, nothing to add), and the weight gradients are one product
   ``dS = [x; 1; h_prev]^T dA`` after the loop. The same FLOPs; fewer passes
   over memory. For N = 1 the step is a row vector times S, untransposed.
2. **Feature-major steps.** Inside a runner a step's arrays are (H, N), not
   (N, H): the gates are contiguous (H, N) blocks (an element-wise call on a
   column slice of an (N, 4H) row costs several times more), and the step's
   products ``W_h^T h_prev`` and ``W_h da`` run faster in OpenBLAS than their
   row-major twins; ``W_h`` itself serves the backward, no transpose made.
   The products after the loop want the steps side by side, (G, T*N): the
   copy from (T, G, N) moves each step's row of N values as one element
   (:func:`_whole_rows`), 4-5x faster than value by value.
3. **One tanh for all four gates.** ``sigmoid(a) = (tanh(a / 2) + 1) / 2``: the
   sigmoid columns of ``W_x``, ``W_h`` and ``b`` are halved once per forward
   (exact: a power of two), so a step takes one ``tanh`` of the 4H
   pre-activations, then ``* 1/2 + 1/2`` on the sigmoid ones (for N = 1 as one
   multiply and one add by the vectors ``alpha, beta``, 1 and 0 on g).
4. **Buffers laid out so one call does two equations.** A step's rows hold
   ``[c_prev; i; f; g; o]``, so ``[c_prev; i] * [f; g]`` gives both terms of
   ``c = f * c_prev + i * g`` in one multiply, and c is written straight into
   the next step's ``c_prev`` rows (it is stored once).
5. **A backward that is linear in (dh, dc).** Every gate gradient is
   ``dh`` or ``dc_all`` times a coefficient that depends only on the
   forward's values (``da_i = dc_all * g i (1 - i)`` ...). Those coefficients
   are computed many steps at a time, in place over the forward's record
   (which the backward consumes): the loop runs backwards through chunks of
   about 4 MiB of the record, each chunk's coefficients computed just
   before its steps, while the chunk is still in cache (one pass over the
   whole record per coefficient made fwd+bwd 1-3% slower at the benchmark's
   medium and large sizes and in its char-LSTM). A step is
   ``dh += dhs_t``, ``da_o = dh K_o``, ``dc += dh K_c``, ``da_i, da_f, da_g =
   dc K_i, dc K_f, dc K_g``, ``dc *= f``, ``dh = W_h da``: nine calls, one per
   gate rather than one broadcast, which costs more for small N. The gate
   gradients land in the record's own buffer, in PyTorch's order, ready for
   the products of 1.
6. **No fresh memory.** The big buffers come from a workspace kept by the
   runner and go back to it after the backward (or when a record is
   dropped): a new multi-megabyte array costs a page fault per 4 KiB, as
   much as several passes over it. The per-step views of those buffers are
   made once too, and the loops pass outputs positionally.
7. **Packed sequences without masks.** With ``lengths`` the rows are sorted
   by length once (longest first), so the rows still running at a step are
   a prefix ``[:n_t]``: a step computes only them, padded rows keep their
   state untouched and get no gradient, with no ``where`` per step. A
   reversed direction runs each sequence from its own last step, by
   reversing each sequence within its length when the inputs are copied.

What the forward keeps per step and example is the minimum the backward
reads (LSTM: i, f, g, o, c, tanh(c), h = 7H; GRU: r, z, hn, n, h = 5H; RNN:
h = 1H) plus the copy of the input (the LSTM's with its row of ones).
Options a runner does not implement (peephole, coupled and projected LSTMs,
the GRU with ``reset_after=False``) run the textbook cells:
:func:`make_runner` returns a :class:`~lstmlab.Recurrent` for them. Empty
sequences or batches (T = 0 or N = 0) are handed to the textbook path too.
Under ``ll.detect_anomaly()`` a runner checks every step's state (forward)
and state gradient (backward) and names the first bad one, as Recurrent
does, without changing any number.
"""

from __future__ import annotations

import weakref

import numpy as np

from .checks import check_float_array, check_shape
from .gru import GRUCell
from .lstm import LSTMCell
from .modes import check_finite, is_anomaly_enabled, is_grad_enabled
from .module import Module
from .recurrent import Recurrent, check_lengths
from .rnn import RNNCell

__all__ = ["FusedLSTM", "FusedGRU", "FusedRNN", "make_runner", "fused_supported"]


def fused_supported(cell):
    """Whether a fused runner implements this cell's options (else the textbook path runs).

    Examples
    --------
    >>> import lstmlab as ll
    >>> fused_supported(ll.LSTMCell(3, 4)), fused_supported(ll.LSTMCell(3, 4, peephole=True))
    (True, False)
    >>> fused_supported(ll.GRUCell(3, 4, reset_after=False)), fused_supported(ll.RNNCell(3, 4))
    (False, True)
    """
    return _runner_class(cell) is not None


def _runner_class(cell):
    if type(cell) is LSTMCell:
        plain = not cell.variant_options()  # peephole, coupled, proj_size, Greff's variants
        return FusedLSTM if plain else None
    if type(cell) is GRUCell:
        return FusedGRU if cell.reset_after else None
    if type(cell) is RNNCell:
        return FusedRNN
    return None


def make_runner(cell, *, reverse=False, fast=True):
    """The object that runs ``cell`` over sequences: a fused runner, or a Recurrent.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell
    reverse : bool
        Run from the last step to the first.
    fast : bool
        False always gives the textbook :class:`~lstmlab.Recurrent`.

    Examples
    --------
    >>> import lstmlab as ll
    >>> make_runner(ll.LSTMCell(3, 4), reverse=True)
    FusedLSTM(LSTMCell(3, 4), reverse=True)
    >>> make_runner(ll.LSTMCell(3, 4), fast=False)
    Recurrent(LSTMCell(3, 4))
    >>> make_runner(ll.LSTMCell(3, 4, peephole=True))
    Recurrent(LSTMCell(3, 4, peephole=True))
    """
    kind = _runner_class(cell) if fast else None
    return Recurrent(cell, reverse=reverse) if kind is None else kind(cell, reverse=reverse)


_CHUNK_BYTES = 4 << 20  # the LSTM backward works through the record in chunks of about this size


def _whole_rows(a):
    """``a`` (..., N) seen as (...) elements of N values each: a view, for copies.

    A copy that keeps each run of N values together but reorders the runs
    (a (T, G, N) buffer into (G, T, N)) then moves one element, N values, at
    a time instead of one value: 4-5x faster for N = 32 (0.35 ms against
    1.7 ms for a (100, 512, 32) float32 buffer). The last axis must be contiguous.
    """
    return a.view(np.dtype((np.void, a.shape[-1] * a.itemsize)))[..., 0]


class _Workspace:
    """Big arrays kept between calls and handed out again (shape and dtype must match).

    A fresh multi-megabyte array costs a page fault per 4 KiB on its first
    write, as much as a few passes over the data; a training loop runs the
    same shapes again and again, so the runner reuses them. At most
    ``limit`` arrays are kept, those of the shapes used last (sequences of
    changing lengths do not pile up).
    """

    def __init__(self, limit=16):
        self._free = {}  # (shape, dtype) -> arrays; dicts keep order: least recent first
        self._limit = limit
        self._count = 0

    def take(self, shape, dtype, zero=False):
        stack = self._free.get((shape, dtype))
        if stack:
            self._count -= 1
            a = stack.pop()
            if not stack:  # no empty lists left behind: give() evicts from the oldest key
                del self._free[(shape, dtype)]
        else:
            a = np.empty(shape, dtype=dtype)
        if zero:
            a.fill(0)
        return a

    def give(self, *arrays):
        """Keep arrays that nothing else references any more (each given once)."""
        free = self._free
        for a in arrays:
            key = (a.shape, a.dtype)
            stack = free.pop(key, [])
            stack.append(a)
            free[key] = stack  # now the most recent
        self._count += len(arrays)
        while self._count > self._limit:
            oldest = next(iter(free))
            free[oldest].pop(0)
            self._count -= 1
            if not free[oldest]:
                del free[oldest]


class _Record:
    """What one fused forward keeps for its backward: the buffers, and the order of rows.

    The buffers come from the runner's workspace and go back to it when the
    backward is done with them, or when the record is dropped unused
    (``discard_saved``, a forward never backpropagated), so a forward whose
    record is thrown away does not leave the next one fresh memory to fault in.
    """

    def __init__(self, workspace, order, arrays):
        self.order = order
        self.arrays = arrays
        self._workspace = weakref.ref(workspace)  # not a part of what is kept

    def release(self):
        """Hand the buffers back to the workspace (once); nothing may use them afterwards."""
        arrays, self.arrays = self.arrays, ()
        workspace = self._workspace()
        if workspace is not None and arrays:
            workspace.give(*arrays)

    def __del__(self):
        self.release()


class _Order:
    """Where step p, row j of the fused loop comes from in the caller's (t, n).

    Without lengths, step p is time p (or T-1-p when reversed) and rows are
    the caller's. With lengths, rows are sorted longest first (``perm``), so
    the rows running at step p are a prefix ``[:steps[p]]``, and a reversed
    sequence is read from its own last real step: ``tidx[p, j]`` is the
    caller's time index of step p of sorted row j (a permutation of the
    steps in each column: padded steps map onto padded steps).
    """

    def __init__(self, T, N, lengths, reverse):
        self.T, self.N, self.reverse = T, N, reverse
        self.partial = lengths is not None and bool((lengths < T).any())
        self.identity = not (self.partial or reverse)
        if not self.partial:
            return
        self.perm = np.argsort(-lengths, kind="stable")  # sorted row j is caller's row perm[j]
        self.lengths = lengths[self.perm]  # (N,) descending
        p = np.arange(T)[:, None]  # (T, 1)
        self.steps = (self.lengths > p).sum(axis=1).tolist()  # rows running at each step
        if reverse:
            self.tidx = np.where(p < self.lengths, self.lengths - 1 - p, p)  # (T, N)
        else:
            self.tidx = np.broadcast_to(p, (T, N))

    def gather(self, a, out):
        """(T, N, ...) in the caller's order -> ``out`` in processing order."""
        if not self.partial:
            np.copyto(out, a[::-1] if self.reverse else a)
        else:
            out[...] = a[self.tidx, self.perm]
        return out

    def gather_T(self, a, out):
        """(T, N, H) in the caller's order -> ``out`` (T, H, N) in processing order."""
        if self.partial:
            a = a[self.tidx, self.perm]
        elif self.reverse:
            a = a[::-1]
        np.copyto(out, a.transpose(0, 2, 1))
        return out

    def scatter(self, src):
        """(T, N, ...) in processing order -> the caller's order, a new array."""
        if not self.partial:
            return (src[::-1] if self.reverse else src).copy()
        out = np.empty(src.shape, dtype=src.dtype)
        out[self.tidx, self.perm] = src
        return out

    def rows_T(self, a):
        """(N, H) in the caller's row order -> (H, N), sorted rows, a new C-contiguous array."""
        return np.array((a[self.perm] if self.partial else a).T, order="C")  # always a copy

    def unrows_T(self, a):
        """(H, N), sorted rows -> (N, H) in the caller's row order, a new array."""
        if not self.partial:
            return a.T.copy()
        out = np.empty(a.T.shape, dtype=a.dtype)
        out[self.perm] = a.T
        return out

    def final(self, buf):
        """The state after each row's last real step, from a (T+1, H, N) buffer, as (N, H)."""
        if not self.partial:
            return buf[self.T].T.copy()
        out = np.empty((self.N, buf.shape[1]), dtype=buf.dtype)
        out[self.perm] = buf[self.lengths, :, np.arange(self.N)]
        return out


class _FusedRunner(Module):
    """What the fused runners share: checks, ordering, records and the textbook fallback.

    Inside a runner every per-step array is feature-major, (H, N) rather than
    (N, H): a step's gates are then contiguous (H, N) blocks, and the step's
    products ``W_h^T h_prev^T`` and ``W_h da^T`` run faster in OpenBLAS than
    their row-major twins. The conversion happens once per sequence.
    Subclasses implement ``_forward(X, state, order)`` and
    ``_backward(record, dH, ds, order)``.
    """

    cell_type = None
    _state_arrays = 1  # h; the LSTM's state is (h, c)

    def __init__(self, cell, *, reverse=False):
        super().__init__()
        if _runner_class(cell) is not type(self):
            raise TypeError(
                f"cell: expected a {self.cell_type.__name__} with the options {type(self).__name__}"
                f" implements, got {cell!r} (use make_runner, which picks Recurrent for it)")
        self.cell = cell
        self.reverse = bool(reverse)
        self.params = cell.params  # the same dicts: optimizers see the cell's arrays
        self.grads = cell.grads
        self.add_module("cell", cell)
        # The textbook path over the same cell, for empty inputs; its
        # records are moved onto this runner's stack, so one stack keeps the order.
        self._textbook = Recurrent(cell, reverse=reverse)
        self._ws = _Workspace()
        self._step_views = {}  # per-step views of workspace buffers, made once (see _steps)

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
        """Run the cell over all T steps; the same contract as :meth:`Recurrent.forward`.

        Parameters
        ----------
        xs : ndarray, shape (T, N, D)
        state : optional, the cell's state for N (None: zeros)
        lengths : array of int, shape (N,), optional

        Returns
        -------
        hs : ndarray, shape (T, N, H), zeros at padded steps
        state : the final state (each sequence's state after its last real step)
        """
        cell = self.cell
        check_float_array("xs", xs, ndim=3, dtype=cell.dtype)
        check_shape("xs", xs, (None, None, cell.input_size),
                    f"(T, N, D) with D = {cell.input_size}")
        T, N, D = xs.shape
        H = cell.hidden_size
        if state is not None:
            state = cell.check_state(state, N)
        if lengths is not None:
            lengths = check_lengths(lengths, N, T)
        if T == 0 or N == 0:
            return self._textbook_forward(xs, state, lengths)
        anomaly = is_anomaly_enabled()
        if anomaly and not np.isfinite(xs).all():  # name the first bad step
            for t in range(T):
                check_finite(self._where, "x", xs[t], "forward", t)
        order = _Order(T, N, lengths, self.reverse)
        X = self._gather_input(xs, order)  # the input, copied
        if state is None:
            state = [np.zeros((H, N), dtype=cell.dtype) for _ in range(self._state_arrays)]
        else:
            state = [order.rows_T(a) for a in cell.split_state(state)]  # (H, N) each
        hs, finals, record = self._forward(X, state, order)  # hs (T, H, N); checks each step
        out = order.scatter(hs.transpose(0, 2, 1)), cell.join_state(
            [order.final(b) for b in finals])
        record = _Record(self._ws, order, record)
        if is_grad_enabled():
            self.save_for_backward(("fused", record))
        else:
            record.release()
        return out

    def backward(self, dhs=None, dstate=None):
        """Backpropagation through time; the same contract as :meth:`Recurrent.backward`.

        Parameters
        ----------
        dhs : ndarray, shape (T, N, H), optional
        dstate : optional, with the state's structure

        Returns
        -------
        dxs : ndarray, shape (T, N, D), exactly zero at padded steps
        dstate0 : the gradient of the initial state
        """
        kind, record = self.saved_for_backward()
        if kind == "textbook":
            self._textbook._records.append(record)
            self._textbook._where = self._where
            return self._textbook.backward(dhs, dstate)
        cell, order = self.cell, record.order
        T, N, H = order.T, order.N, cell.hidden_size
        try:
            if dhs is not None:
                check_float_array("dhs", dhs, ndim=3, dtype=cell.dtype)
                check_shape("dhs", dhs, (T, N, H),
                            f"(T, N, H) = ({T}, {N}, {H}), the shape of hs of the forward "
                            "being backpropagated")
            if dstate is not None:
                dstate = cell.check_state(dstate, N, name="dstate")
        except (TypeError, ValueError):
            self._records.append((kind, record))  # a refused gradient consumes nothing
            raise
        ws = self._ws
        dH = None if dhs is None else order.gather_T(dhs, ws.take((T, H, N), cell.dtype))
        if dstate is None:
            ds = [np.zeros((H, N), dtype=cell.dtype) for _ in range(self._state_arrays)]
        else:
            ds = [order.rows_T(a) for a in cell.split_state(dstate)]
        dX = self._backward(record.arrays, dH, ds, order)  # (T, N, D); ds becomes dstate0
        record.release()
        if dH is not None:
            ws.give(dH)
        dxs = dX if order.identity else order.scatter(dX)
        dstate0 = cell.join_state([order.unrows_T(d) for d in ds])
        if is_anomaly_enabled():  # the states were checked step by step; now the results
            check_finite(self._where, "dxs", dxs, "backward")
            for name, g in self.grads.items():
                check_finite(self._where, f"d{name}", g, "backward")
        return dxs, dstate0

    def _textbook_forward(self, xs, state, lengths):
        textbook = self._textbook
        textbook._where = self._where
        hs, final = textbook.forward(xs, state, lengths)
        if is_grad_enabled():
            self.save_for_backward(("textbook", textbook._records.pop()))
        return hs, final

    def _gather_input(self, xs, order):
        """The input, copied in processing order: (T, N, D) (the LSTM lays it out its own way)."""
        return order.gather(xs, self._ws.take(xs.shape, self.cell.dtype))

    # -- shared pieces of the subclasses ---------------------------------------------------
    def _input_products(self, X, W_x, out, rows=None, bias=None):
        """``X W_x + bias`` for every step into ``out`` (T, G', N), one product.

        ``rows`` is a list of ``(out_rows, W_x columns)`` pairs (slices) that
        says where each block of columns of the product goes; default: all.
        ``bias`` (G,), optional, is added on the way (no extra pass).
        """
        T, N, D = X.shape
        G = W_x.shape[1]
        rows = rows or [(slice(None), slice(None))]
        if N == 1:
            XW = X.reshape(T, D) @ W_x  # (T, G): for N = 1 the layouts coincide
            for dst, src in rows:
                if bias is None:
                    np.copyto(out[:, dst, 0], XW[:, src])
                else:
                    np.add(XW[:, src], bias[src], out=out[:, dst, 0])
            return out
        XW = self._ws.take((G, T * N), X.dtype)
        np.matmul(W_x.T, X.reshape(T * N, D).T, out=XW)  # (G, T*N), one product
        XW3 = XW.reshape(G, T, N).transpose(1, 0, 2)  # (T, G, N) view
        for dst, src in rows:
            if bias is None:
                np.copyto(_whole_rows(out[:, dst]), _whole_rows(XW3[:, src]))
            else:
                np.add(XW3[:, src], bias[src, None], out=out[:, dst])
        self._ws.give(XW)
        return out

    def _products(self, X, DA, HP, W_x_name, W_h_name, b_name):
        """After the loop: dW_x, dW_h, db and dX from the (T, G, N) gate gradients DA."""
        T, N, D = X.shape
        dA, At = self._rows_major(DA, T, N)  # (T*N, G), zero where rows did not run
        hp, Ht = self._rows_major(HP, T, N)  # (T*N, H)
        grads = self.grads  # each updated in place (np.add ... out=), never rebound
        gA = dA.T  # (G, T*N)
        X2 = X.reshape(T * N, D)
        if T * N >= 1024:  # a long sum: dW^T = dA^T X is the orientation OpenBLAS runs faster
            np.add(grads[W_x_name], (gA @ X2).T, out=grads[W_x_name])
            np.add(grads[W_h_name], (gA @ hp).T, out=grads[W_h_name])
        else:  # a short one: the product in dW's own layout saves a transposed addition
            np.add(grads[W_x_name], X2.T @ dA, out=grads[W_x_name])
            np.add(grads[W_h_name], hp.T @ dA, out=grads[W_h_name])
        if self.cell.bias:  # db = the sum of the T*N rows, as a product with ones
            np.add(grads[b_name], gA @ np.ones(T * N, dtype=gA.dtype), out=grads[b_name])
        dX = (dA @ self.params[W_x_name].T).reshape(T, N, D)
        self._ws.give(*(a for a in (At, Ht) if a is not None))
        return dX

    def _steps(self, tag, buffers, make):
        """``list(make())``, the per-step views of workspace ``buffers``, made once per buffer set.

        A loop over T steps that takes a view of each buffer at each step makes
        T small objects per buffer; the workspace hands out the same buffers
        call after call, so their step views are kept with them.
        """
        key = (tag,) + tuple(id(b) for b in buffers)
        steps = self._step_views.get(key)
        if steps is None or any(a is not b for a, b in zip(steps[0], buffers)):  # (a copy)
            if len(self._step_views) >= 4:  # they keep their buffers alive
                self._step_views.clear()
            steps = self._step_views[key] = (buffers, list(make()))  # buffers: keep ids unique
        return steps[1]

    def _rows_major(self, A, T, N):
        """A (T, G, N) per-step buffer as (T*N, G): a view for N = 1, else a transposed copy.

        The second value is the workspace array to give back (None for a view).
        """
        if N == 1:
            return A[:, :, 0], None
        G = A.shape[1]
        At = self._ws.take((G, T, N), A.dtype)
        np.copyto(_whole_rows(At), _whole_rows(A).T)  # (G, T) <- (T, G) rows of N values
        return At.reshape(G, T * N).T, At

    def _check_step(self, order, p, direction="backward", **arrays):
        """Under ``ll.detect_anomaly()``: raise if a state (or its gradient), (H, N), is not finite.

        Names the step in the caller's time (``dh at t=37``), as Recurrent does.
        """
        for name, d in arrays.items():
            finite = np.isfinite(d).all(axis=0)
            if not finite.all():
                j = int(np.argmin(finite))  # the first row that is not finite
                t = int(order.tidx[p, j]) if order.partial else (
                    order.T - 1 - p if order.reverse else p)
                check_finite(self._where, name, order.unrows_T(d), direction, t)

    def __repr__(self):
        return f"{type(self).__name__}({self.cell!r}{', reverse=True' if self.reverse else ''})"


class FusedLSTM(_FusedRunner):
    """The LSTM over a whole sequence, fused and time-batched (the layers' fast path).

    Computes what :class:`~lstmlab.Recurrent` over an
    :class:`~lstmlab.LSTMCell` computes (see the module docstring for how),
    for cells without peepholes, coupling or projection.

    Parameters
    ----------
    cell : LSTMCell
        Its ``params`` are read by name at every call and its ``grads`` accumulate.
    reverse : bool

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> cell = ll.LSTMCell(3, 5, rng=0)
    >>> fast, textbook = FusedLSTM(cell), ll.Recurrent(cell)
    >>> xs = np.random.default_rng(1).standard_normal((6, 2, 3))
    >>> hs, state = fast.forward(xs, lengths=[6, 4])
    >>> hs_ref, state_ref = textbook.forward(xs, lengths=[6, 4])
    >>> bool(np.allclose(hs, hs_ref, rtol=1e-12, atol=1e-15)), bool((hs[4:, 1] == 0).all())
    (True, True)
    >>> dxs, dstate0 = fast.backward(np.ones_like(hs))
    >>> dxs_ref, _ = textbook.backward(np.ones_like(hs))
    >>> bool(np.allclose(dxs, dxs_ref, rtol=1e-12, atol=1e-15))
    True
    """

    cell_type = LSTMCell
    _state_arrays = 2

    def __init__(self, cell, *, reverse=False):
        super().__init__(cell, reverse=reverse)
        H, dtype = cell.hidden_size, cell.dtype
        sig = np.ones(4 * H, dtype=dtype)
        sig[2 * H:3 * H] = 0.0  # rows i, f, o are sigmoids, g is a tanh
        self._alpha = np.where(sig, 0.5, 1.0).astype(dtype)  # sigmoid(a) = tanh(a/2) / 2 + 1/2
        self._beta = (0.5 * sig).astype(dtype)  # (4H,) each: for N = 1, one call per step

    def _gather_input(self, xs, order):
        """The steps' product inputs: ``XH[p] = [x_p; 1; h_prev]``, (D + 1 + H, N) each.

        One product per step, ``[W_x; b; W_h]^T XH[p]``, then gives the whole
        pre-activation, bias included (the row of ones; no row without a
        bias), written straight into the step's gate rows. Step p writes its
        h into ``XH[p + 1]``, so h is stored once, where the next step reads it.
        """
        T, N, D = xs.shape
        k = D + self.cell.bias  # the rows before h_prev
        XH = self._ws.take((T + 1, k + self.hidden_size, N), self.cell.dtype, order.partial)
        order.gather_T(xs, XH[:T, :D])  # x_p^T, (D, N) per step
        if self.cell.bias:
            XH[:, D] = 1.0
        return XH

    def _stacked_weights(self, D, N):
        """``[W_x; b; W_h]^T`` (4H, K), the sigmoid rows halved (exact: a power of 2).

        K = D + 1 + H (D + H without a bias). For N = 1 the step is a row
        vector times a matrix, ``xh [W_x; b; W_h]``, and the stack is returned
        untransposed, (K, 4H): no transposing copy, and the product runs
        faster in that orientation.
        """
        params, H, k = self.params, self.hidden_size, D + self.cell.bias
        blocks = [(params["W_x"], 0), (params["W_h"], k)]
        if self.cell.bias:
            blocks.append((params["b"][None], D))
        if N == 1:
            S = self._ws.take((k + H, 4 * H), self.cell.dtype)
            for M, row in blocks:
                np.multiply(M, self._alpha, out=S[row:row + len(M)])
            return S
        W = self._ws.take((4 * H, k + H), self.cell.dtype)
        for M, row in blocks:
            # 16 rows of M at a time: each row of W gets whole cache lines (3x faster than
            # one transposing pass, which writes W a few bytes per line)
            for r in range(0, len(M), 16):
                part = M[r:r + 16]
                np.copyto(W[:, row + r:row + r + len(part)], part.T)
        W[:2 * H] *= 0.5  # the sigmoid rows i, f
        W[3 * H:] *= 0.5  # and o
        return W

    def _forward(self, XH, state, order):
        T, N = XH.shape[0] - 1, XH.shape[2]
        H, dtype, ws = self.hidden_size, self.cell.dtype, self._ws
        alpha, beta, k = self._alpha, self._beta, XH.shape[1] - H
        B = ws.take((T + 1, 5 * H, N), dtype, order.partial)  # step p: [c_prev; i; f; g; o]
        TC = ws.take((T, H, N), dtype, order.partial)  # tanh(c)
        Hb = XH[:, k:]  # (T + 1, H, N): Hb[p] = h_prev of step p, Hb[p + 1] = its h
        Hb[0], B[0, :H] = state
        W = self._stacked_weights(k - self.cell.bias, N)  # (4H, K); for N = 1 (K, 4H)
        G = B[:T, H:]  # (T, 4H, N) the gates i, f, g, o
        CI, FG, O, C = B[:T, :2 * H], B[:T, 2 * H:4 * H], B[:T, 4 * H:], B[1:, :H]
        check = is_anomaly_enabled()
        if not order.partial:
            P = np.empty((2 * H, N) if N > 1 else 2 * H, dtype=dtype)  # [c_prev * f; i * g]
            P0, P1 = P[:H], P[H:]
            IF = B[:T, H:3 * H]  # (T, 2H, N) the sigmoid rows i, f (o is O)
            views = (XH, G, IF, CI, FG, O, C, TC, Hb[1:])
            if N == 1:  # vectors, not (., 1) columns: faster products and calls
                views = tuple(a[:, :, 0] for a in views)
            steps = self._steps("fwd", (B, TC, XH), lambda: zip(range(T), *views))
            # The third argument of each ufunc is its output (positional: faster to parse).
            for p, xh, g, i_f, ci, fg, o, c, tc, h in steps:
                if N == 1:
                    np.dot(xh, W, g)  # a = x W_x + b + h_prev W_h (sigmoid rows halved)
                else:
                    np.dot(W, xh, g)  # the same, feature-major
                np.tanh(g, g)
                if N == 1:  # (4H,) vectors: one call each, no broadcast
                    np.multiply(g, alpha, g)
                    np.add(g, beta, g)  # i, f, g, o
                else:  # scalars on the sigmoid blocks beat a broadcast (4H, 1) column
                    np.multiply(i_f, 0.5, i_f)
                    np.add(i_f, 0.5, i_f)  # i, f
                    np.multiply(o, 0.5, o)
                    np.add(o, 0.5, o)  # o
                np.multiply(ci, fg, P)  # c_prev * f, i * g
                np.add(P0, P1, c)  # c = f * c_prev + i * g, in the next step's c_prev slot
                np.tanh(c, tc)
                np.multiply(o, tc, h)  # h = o * tanh(c), in the next step's h_prev rows
                if check:  # c first: h is computed from it
                    self._check_step(order, p, "forward", c=C[p], h=Hb[p + 1])
        else:
            IF = B[:T, H:3 * H]
            for p, n in enumerate(order.steps):  # only the first n (sorted) rows run
                if n == 0:
                    break  # rows are sorted: none runs at p or later
                g, i_f, o = G[p, :, :n], IF[p, :, :n], O[p, :, :n]
                c, tc, h = C[p, :, :n], TC[p, :, :n], Hb[p + 1, :, :n]
                np.matmul(W.T if N == 1 else W, XH[p, :, :n], out=g)
                np.tanh(g, out=g)
                for s in (i_f, o):  # the sigmoid rows
                    np.multiply(s, 0.5, out=s)
                    np.add(s, 0.5, out=s)
                P = CI[p, :, :n] * FG[p, :, :n]
                np.add(P[:H], P[H:], out=c)
                np.tanh(c, out=tc)
                np.multiply(o, tc, out=h)
                if check:
                    self._check_step(order, p, "forward", c=C[p], h=Hb[p + 1])
        ws.give(W)
        return Hb[1:], (Hb, B[:, :H]), (XH, B, TC)

    def _backward(self, record, dH, ds, order):
        XH, B, TC = record  # consumed: the gate gradients are written over B
        T, N = XH.shape[0] - 1, XH.shape[2]
        H, dtype, ws = self.hidden_size, self.cell.dtype, self._ws
        k = XH.shape[1] - H  # the rows of XH before h
        dh, dc = ds  # (H, N) each
        # Chunks of steps, last chunk first: the coefficients of a chunk, then its steps, while
        # the chunk's part of the record is still in cache (a whole-sequence pass of each
        # coefficient reads and writes megabytes that the loop then reads again).
        # A step's coefficients touch 10H values per example: its 5H of B, h, tanh(c), f and
        # two temporaries.
        c = max(1, min(T, _CHUNK_BYTES // (10 * H * N * B.itemsize)))  # steps per chunk
        F = ws.take((c, H, N), dtype)  # f
        uv = ws.take((2, c, H, N), dtype)  # two temporaries (one buffer: F keeps its identity
        # call after call, and with it the cached step views)
        W_h = self.params["W_h"]  # (H, 4H): dh_prev^T = W_h da^T, no transpose needed
        check = is_anomaly_enabled()
        B4 = B.reshape(T + 1, 5, H, N)
        K3, K2, DHC, DA = B4[:T, :3], B4[:T, 3:], B4[:T, 4], B[:T, :4 * H]
        if not order.partial:
            views = [B4[:T, j] for j in range(5)] + [DA]  # K_i ... K_c (T, H, N), da
            Fs, dHs = F, dH  # step p reads its f from F[p % c]
            if N == 1:  # vectors, not (., 1) columns: faster products and calls
                views, Fs, dh, dc = [a[:, :, 0] for a in views], F[:, :, 0], dh[:, 0], dc[:, 0]
                dHs = None if dH is None else dH[:, :, 0]
            back = range(T - 1, -1, -1)
            steps = self._steps("bwd", (B, F, dH), lambda: list(zip(
                back, *(a[::-1] for a in views), [Fs[p % c] for p in back],
                [None] * T if dHs is None else dHs[::-1])))
        for lo in range((T - 1) // c * c, -1, -c):  # chunk [lo, hi), the last one first
            hi = min(T, lo + c)
            self._coefficients(B[lo:hi], XH[lo + 1:hi + 1, k:], TC[lo:hi],
                               F[:hi - lo], uv[0, :hi - lo], uv[1, :hi - lo])
            if not order.partial:
                # One same-shape call per gate: cheaper than a broadcast when N is small.
                for p, ki, kf, kg, ko, kc, da, f_t, dh_t in steps[T - hi:T - lo]:
                    if dh_t is not None:
                        np.add(dh, dh_t, dh)  # from the output and from step t+1
                    np.multiply(dh, ko, ko)  # da_o
                    np.multiply(dh, kc, kc)
                    np.add(dc, kc, dc)  # dc_all = dc + dh * K_c
                    np.multiply(dc, ki, ki)  # da_i
                    np.multiply(dc, kf, kf)  # da_f
                    np.multiply(dc, kg, kg)  # da_g
                    np.multiply(dc, f_t, dc)  # dc_prev
                    np.dot(W_h, da, dh)  # dh_prev
                    if check:
                        self._check_step(order, p, dh=ds[0], dc=ds[1])
            else:
                for p in reversed(range(lo, hi)):
                    n = order.steps[p]
                    DA[p, :, n:] = 0.0  # rows that did not run get no gradient
                    if n == 0:
                        continue
                    dh_n, dc_n, k2, k3 = dh[:, :n], dc[:, :n], K2[p, :, :, :n], K3[p, :, :, :n]
                    if dH is not None:
                        np.add(dh_n, dH[p, :, :n], out=dh_n)
                    np.multiply(dh_n, k2, out=k2)
                    np.add(dc_n, DHC[p, :, :n], out=dc_n)
                    np.multiply(dc_n, k3, out=k3)
                    np.multiply(dc_n, F[p - lo, :, :n], out=dc_n)
                    np.matmul(W_h, DA[p, :, :n], out=dh_n)
                    if check:
                        self._check_step(order, p, dh=dh, dc=dc)
        ws.give(uv, F)
        return self._stacked_products(XH, DA)

    @staticmethod
    def _coefficients(B, h, TC, F, u, v):
        """The coefficients that turn (dh, dc_all) into the gate gradients, for a run of steps.

        In place: each step's ``[c_prev; i; f; g; o]`` in B becomes
        ``[K_i; K_f; K_g; K_o; K_c]``, and F gets f (the loop needs it:
        ``dc_prev = dc_all * f``); u and v are scratch. h and TC are the
        steps' h and tanh(c); h = o tanh(c) saves a pass in each of K_o, K_c.
        """
        H = h.shape[1]
        c_prev, i, f, g, o = (B[:, j * H:(j + 1) * H] for j in range(5))
        np.copyto(F, f)
        np.subtract(1.0, i, out=u)
        u *= i  # i (1 - i)
        np.multiply(g, g, out=v)
        np.subtract(1.0, v, out=v)  # 1 - g^2
        np.multiply(i, v, out=f)  # K_g = i (1 - g^2)                  da_g = dc_all * K_g
        np.subtract(1.0, F, out=v)
        v *= F
        np.multiply(v, c_prev, out=i)  # K_f = c_prev f (1 - f)       da_f = dc_all * K_f
        np.multiply(g, u, out=c_prev)  # K_i = g i (1 - i)            da_i = dc_all * K_i
        np.subtract(1.0, o, out=u)
        np.multiply(h, u, out=g)  # K_o = tanh(c) o (1 - o)           da_o = dh * K_o
        np.multiply(h, TC, out=v)
        np.subtract(o, v, out=o)  # K_c = o (1 - tanh(c)^2)           dc_all = dc + dh * K_c

    def _stacked_products(self, XH, DA):
        """After the loop: ``[dW_x; db; dW_h]`` as one product with XH, and dX = dA W_x^T."""
        T, K, N = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
        H, grads = self.hidden_size, self.grads  # each grad updated in place, never rebound
        D = K - H - self.cell.bias
        dA, At = self._rows_major(DA, T, N)  # (T*N, 4H), zero where rows did not run
        xh, XHt = self._rows_major(XH[:T], T, N)  # (T*N, K): rows [x, 1, h_prev]
        if T * N >= 1024:  # a long sum: dW^T = dA^T XH is the orientation OpenBLAS runs faster
            dW = (dA.T @ xh).T  # (K, 4H), a transposed view
        else:  # a short one: the product in dW's own layout saves a transposed addition
            dW = xh.T @ dA
        np.add(grads["W_x"], dW[:D], out=grads["W_x"])
        if self.cell.bias:
            np.add(grads["b"], dW[D], out=grads["b"])
        np.add(grads["W_h"], dW[K - H:], out=grads["W_h"])
        dX = (dA @ self.params["W_x"].T).reshape(T, N, D)
        self._ws.give(*(a for a in (At, XHt) if a is not None))
        return dX


class FusedGRU(_FusedRunner):
    """The GRU (PyTorch's form, ``reset_after=True``) over a whole sequence, fused.

    Computes what :class:`~lstmlab.Recurrent` over a :class:`~lstmlab.GRUCell`
    computes. The backward is linear in dh, with coefficients taken from the
    forward's values for all steps at once::

        da_n = dh K_n    K_n  = (1 - z)(1 - n^2)
        da_r = dh K_r    K_r  = K_n hn r (1 - r)
        da_z = dh K_z    K_z  = (h_prev - n) z (1 - z)
        dhn  = dh K_hn   K_hn = K_n r
        dh_prev = dh z + [da_r, da_z, dhn] W_h^T

    so a backward step is four calls: ``dh += dhs_t``, one multiply for the
    five products, one product with ``W_h`` and ``dh += dh z``.

    Parameters
    ----------
    cell : GRUCell
        With ``reset_after=True``.
    reverse : bool

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> cell = ll.GRUCell(3, 4, rng=0)
    >>> xs = np.random.default_rng(1).standard_normal((5, 2, 3))
    >>> hs, h = FusedGRU(cell, reverse=True).forward(xs)
    >>> hs_ref, h_ref = ll.Recurrent(cell, reverse=True).forward(xs)
    >>> bool(np.allclose(hs, hs_ref, rtol=1e-12, atol=1e-15)), bool(np.allclose(h, hs[0]))
    (True, True)
    """

    cell_type = GRUCell

    def _forward(self, X, state, order):
        T, N, D = X.shape
        H, dtype, ws = self.hidden_size, self.cell.dtype, self._ws
        params = self.params
        scale = np.ones(3 * H, dtype=dtype)
        scale[:2 * H] = 0.5  # r and z are sigmoids: halve their columns
        # XW rows per step: [x W_xr + b_r (halved); x W_xz + b_z (halved); b_hn; x W_xn + b_n]
        XW = ws.take((T, 4 * H, N), dtype)
        self._input_products(X, params["W_x"] * scale, XW,
                             [(slice(0, 2 * H), slice(0, 2 * H)),
                              (slice(3 * H, 4 * H), slice(2 * H, 3 * H))],
                             bias=params["b"] * scale if self.cell.bias else None)
        XW[:, 2 * H:3 * H] = params["b_hn"][:, None] if self.cell.bias else 0.0
        W_hT = np.multiply(params["W_h"].T, scale[:, None], order="C")  # (3H, H)
        zero = order.partial
        R = ws.take((T, 4 * H, N), dtype, zero)  # step p: [r; z; hn; n], (H, N) each
        Hb = ws.take((T + 1, H, N), dtype, zero)
        Hb[0] = state[0]
        Z = np.empty((3 * H, N), dtype=dtype)
        D_ = np.empty((H, N), dtype=dtype)
        steps = order.steps if order.partial else [N] * T
        check = is_anomaly_enabled()
        for p, n in enumerate(steps):
            if n == 0:
                break
            cut = n < N  # only the first n (sorted) rows run
            xw, rzhn, h_prev = XW[p], R[p, :3 * H], Hb[p]
            if cut:
                xw, rzhn, h_prev = xw[:, :n], rzhn[:, :n], h_prev[:, :n]
            rz, hn, nn, h = rzhn[:2 * H], rzhn[2 * H:], R[p, 3 * H:], Hb[p + 1]
            if cut:
                nn, h = nn[:, :n], h[:, :n]
                np.add(W_hT @ h_prev, xw[:3 * H], out=rzhn)
            else:
                np.dot(W_hT, h_prev, out=Z)
                np.add(Z, xw[:3 * H], out=rzhn)  # a_r / 2, a_z / 2, hn = h_prev W_hn + b_hn
            np.tanh(rz, out=rz)
            np.multiply(rz, 0.5, out=rz)
            np.add(rz, 0.5, out=rz)  # r, z
            np.multiply(rzhn[:H], hn, out=nn)  # r * hn
            np.add(nn, xw[3 * H:], out=nn)
            np.tanh(nn, out=nn)  # n
            d = D_[:, :n] if cut else D_
            np.subtract(h_prev, nn, out=d)
            np.multiply(rz[H:], d, out=d)
            np.add(nn, d, out=h)  # h = n + z (h_prev - n) = (1 - z) n + z h_prev
            if check:
                self._check_step(order, p, "forward", h=Hb[p + 1])
        ws.give(XW)
        return Hb[1:], (Hb,), (X, R, Hb)

    def _backward(self, record, dH, ds, order):
        X, R, Hb = record
        T, N, D = X.shape
        H, dtype, ws = self.hidden_size, self.cell.dtype, self._ws
        (dh,) = ds
        r, z, hn, n = (R[:, k * H:(k + 1) * H] for k in range(4))
        # K, step p: [K_n; K_r; K_z; K_hn; z]; times dh it is [da_n; da_r; da_z; dhn; dh z].
        K = ws.take((T, 5 * H, N), dtype)
        Kn, Kr, Kz, Khn, Kzz = (K[:, k * H:(k + 1) * H] for k in range(5))
        np.subtract(1.0, z, out=Khn)
        np.multiply(n, n, out=Kn)
        np.subtract(1.0, Kn, out=Kn)
        Kn *= Khn  # K_n = (1 - z)(1 - n^2)
        np.subtract(Hb[:T], n, out=Kz)
        np.subtract(1.0, z, out=Khn)
        Khn *= z
        Kz *= Khn  # K_z = (h_prev - n) z (1 - z)
        np.multiply(Kn, r, out=Khn)  # K_hn = K_n r
        np.subtract(1.0, r, out=Kr)
        Kr *= hn
        Kr *= Khn  # K_r = K_n hn r (1 - r)
        np.copyto(Kzz, z)
        if order.partial:  # rows that did not run get no gradient
            for p, m in enumerate(order.steps):
                K[p, :, m:] = 0.0
        W_h = self.params["W_h"]  # (H, 3H)
        check = is_anomaly_enabled()
        K5 = K.reshape(T, 5, H, N)
        DHW, DHZ = K[:, H:4 * H], K5[:, 4]  # [da_r; da_z; dhn] and dh z
        steps = order.steps if order.partial else [N] * T
        for p in reversed(range(T)):
            m = steps[p]
            if m == 0:
                continue
            if m == N:
                if dH is not None:
                    np.add(dh, dH[p], out=dh)
                np.multiply(dh, K5[p], out=K5[p])  # da_n, da_r, da_z, dhn, dh z
                np.dot(W_h, DHW[p], out=dh)
                np.add(dh, DHZ[p], out=dh)  # dh_prev
            else:
                dh_m = dh[:, :m]
                if dH is not None:
                    np.add(dh_m, dH[p, :, :m], out=dh_m)
                np.multiply(dh_m, K5[p, :, :, :m], out=K5[p, :, :, :m])
                dh_m[...] = W_h @ DHW[p, :, :m] + DHZ[p, :, :m]
            if check:
                self._check_step(order, p, dh=dh)
        # dxw = [da_n; da_r; da_z] (n first), dhw = [da_r; da_z; dhn] (PyTorch's order)
        dA, At = self._rows_major(K[:, :4 * H], T, N)  # (T*N, 4H)
        hp, Ht = self._rows_major(Hb[:T], T, N)
        dxw, dhw = dA[:, :3 * H], dA[:, H:]
        grads, W_x = self.grads, self.params["W_x"]
        dW_x = (dxw.T @ X.reshape(T * N, D)).T  # (D, 3H), columns n, r, z
        grads["W_x"][:, :2 * H] += dW_x[:, H:]
        grads["W_x"][:, 2 * H:] += dW_x[:, :H]
        np.add(grads["W_h"], (dhw.T @ hp).T, out=grads["W_h"])
        if self.cell.bias:
            db = dA.T @ np.ones(T * N, dtype=dA.dtype)  # the row sums: [n, r, z, hn]
            grads["b"][:2 * H] += db[H:3 * H]
            grads["b"][2 * H:] += db[:H]
            grads["b_hn"] += db[3 * H:]
        W_x_nrz = np.concatenate((W_x[:, 2 * H:], W_x[:, :2 * H]), axis=1)  # (D, 3H)
        dX = (dxw @ W_x_nrz.T).reshape(T, N, D)
        ws.give(K, *(a for a in (At, Ht) if a is not None))
        return dX


class FusedRNN(_FusedRunner):
    """The Elman RNN (tanh or relu) over a whole sequence, fused.

    Computes what :class:`~lstmlab.Recurrent` over an :class:`~lstmlab.RNNCell`
    computes: a forward step is three calls (``W_h^T h_prev``, ``+ xw``, the
    activation), a backward step three (``dh += dhs_t``, ``da = dh act'``,
    ``dh = W_h da``), with ``act'`` read from the kept h for all steps at once.

    Parameters
    ----------
    cell : RNNCell
    reverse : bool

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> cell = ll.RNNCell(3, 4, nonlinearity="relu", rng=0)
    >>> xs = np.random.default_rng(1).standard_normal((5, 2, 3))
    >>> hs, h = FusedRNN(cell).forward(xs, lengths=[5, 3])
    >>> hs_ref, h_ref = ll.Recurrent(cell).forward(xs, lengths=[5, 3])
    >>> bool(np.allclose(hs, hs_ref, rtol=1e-12, atol=1e-15)), bool(np.allclose(h, h_ref))
    (True, True)
    """

    cell_type = RNNCell

    def _forward(self, X, state, order):
        T, N, D = X.shape
        H, dtype, ws = self.hidden_size, self.cell.dtype, self._ws
        params = self.params
        XW = self._input_products(X, params["W_x"], ws.take((T, H, N), dtype),
                                  bias=params["b"] if self.cell.bias else None)
        W_hT = np.ascontiguousarray(params["W_h"].T)
        Hb = ws.take((T + 1, H, N), dtype, order.partial)
        Hb[0] = state[0]
        tanh = self.cell.nonlinearity == "tanh"
        check = is_anomaly_enabled()
        if not order.partial:
            for p, xw, h_prev, h in zip(range(T), XW, Hb, Hb[1:]):
                np.dot(W_hT, h_prev, out=h)
                np.add(h, xw, out=h)
                if tanh:
                    np.tanh(h, out=h)
                else:
                    np.maximum(h, 0.0, out=h)
                if check:
                    self._check_step(order, p, "forward", h=h)
        else:
            for p, n in enumerate(order.steps):
                if n == 0:
                    break
                h = Hb[p + 1, :, :n]
                np.add(W_hT @ Hb[p, :, :n], XW[p, :, :n], out=h)
                if tanh:
                    np.tanh(h, out=h)
                else:
                    np.maximum(h, 0.0, out=h)
                if check:
                    self._check_step(order, p, "forward", h=Hb[p + 1])
        ws.give(XW)
        return Hb[1:], (Hb,), (X, Hb)

    def _backward(self, record, dH, ds, order):
        X, Hb = record
        T, N, D = X.shape
        H, dtype, ws = self.hidden_size, self.cell.dtype, self._ws
        (dh,) = ds
        DA = ws.take((T, H, N), dtype)  # act'(a) from h, then da = dh act'
        h = Hb[1:]
        if self.cell.nonlinearity == "tanh":
            np.multiply(h, h, out=DA)
            np.subtract(1.0, DA, out=DA)
        else:
            np.greater(h, 0.0, out=DA)
        if order.partial:
            for p, m in enumerate(order.steps):
                DA[p, :, m:] = 0.0
        W_h = self.params["W_h"]
        check = is_anomaly_enabled()
        if not order.partial:
            steps = zip(range(T - 1, -1, -1), DA[::-1], [None] * T if dH is None else dH[::-1])
            for p, da, dh_t in steps:
                if dh_t is not None:
                    np.add(dh, dh_t, out=dh)
                np.multiply(da, dh, out=da)
                np.dot(W_h, da, out=dh)
                if check:
                    self._check_step(order, p, dh=dh)
        else:
            for p in reversed(range(T)):
                m = order.steps[p]
                if m == 0:
                    continue
                dh_m, da = dh[:, :m], DA[p, :, :m]
                if dH is not None:
                    np.add(dh_m, dH[p, :, :m], out=dh_m)
                np.multiply(da, dh_m, out=da)
                dh_m[...] = W_h @ da
                if check:
                    self._check_step(order, p, dh=dh)
        dX = self._products(X, DA, Hb[:T], "W_x", "W_h", "b")
        ws.give(DA)
        return dX
