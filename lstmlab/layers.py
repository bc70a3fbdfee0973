"""PyTorch-shaped recurrent layers: RNN, LSTM and GRU, stacked and bidirectional.

Each layer is a grid of runners, one per (layer, direction), with PyTorch's
constructor, shapes and weight names, so a model written for ``torch.nn.LSTM``
reads the same here::

    x (T, N, D) -> layer 0: fwd and bwd over x     -> concat -> (T, N, dirs*H)
                -> dropout (training, not after the last layer)
                -> layer 1: fwd and bwd over that  -> ...    -> out (T, N, dirs*H)
    h_n[l*dirs + d] = final h of layer l, direction d        (L*dirs, N, H)

A layer keeps one record per forward (its dropout masks; the wrappers keep
their own), so one layer object used k times in a forward (a Siamese
encoder, a decoder run step by step) is backpropagated by k backwards in
reverse order. Under ``ll.no_grad()`` nothing is kept.

A runner is, by default (``fast=True``), the fused whole-sequence runner of
:mod:`lstmlab.fused`, which computes the same numbers as the textbook cells
(proven equal in float64 to 1e-12) several times faster; with ``fast=False``,
and for the options the fused runners do not implement (peephole, coupled
and projected LSTMs, Greff et al.'s variants, ``reset_after=False``), it is a
:class:`~lstmlab.Recurrent` over the textbook cell, whose every step can be
read and stepped through. Both hold the same cell objects, so the parameter
names, the weights and the gradients do not depend on the path.
"""

from __future__ import annotations

import numpy as np

from .checks import check_float_array, check_float_dtype, check_positive_int, check_shape
from .fused import make_runner
from .gru import GRUCell
from .init import as_generator
from .interop import load_torch_state_dict, torch_grads, torch_state_dict
from .lstm import LSTMCell
from .modes import is_grad_enabled
from .module import Module
from .rnn import RNNCell

__all__ = ["RNN", "LSTM", "GRU"]


class _RecurrentLayer(Module):
    """What RNN, LSTM and GRU share: the stack of Recurrent wrappers and its passes.

    Subclasses build their cells with ``_build(make_cell)``.
    """

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                 bidirectional, dtype, rng, fast=True):
        super().__init__()
        self.fast = bool(fast)  # the fused runners of lstmlab/fused.py; False: the cells
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.integer,
                                                                np.floating)):
            raise TypeError(f"dropout: expected a probability in [0, 1), got "
                            f"{type(dropout).__name__} {dropout!r}")
        dropout = float(dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"dropout: expected a probability in [0, 1) (1 would drop everything), "
                f"got {dropout}"
            )
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = dropout
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        self.rng = as_generator(rng)
        self._dtype = check_float_dtype("dtype", dtype)
        self.training = True
        # layers[l][d]: the Recurrent of layer l, direction d (0 fwd, 1 bwd). Any object
        # with Recurrent's forward/backward interface and record stack may stand in for one.
        self.layers = []

    def _build(self, make_cell):
        """Create the cells, in PyTorch's order (layer 0 fwd, layer 0 bwd, layer 1 fwd ...)."""
        for layer in range(self.num_layers):
            D = (self.input_size if layer == 0  # later layers read dirs outputs of width H (or P)
                 else self.num_directions * self.layers[-1][0].cell.output_size)
            directions = []
            for d, name in zip(range(self.num_directions), ("fwd", "bwd")):
                # A fused runner where one implements the cell's options, else Recurrent
                rec = make_runner(make_cell(D), reverse=(d == 1), fast=self.fast)
                self.add_module(f"layers.{layer}.{name}", rec)
                directions.append(rec)
            self.layers.append(directions)

    @property
    def _cell(self):
        return self.layers[0][0].cell

    # -- modes ------------------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (dropout between layers is on); returns self, like PyTorch.

        Examples
        --------
        >>> import lstmlab as ll
        >>> gru = ll.GRU(3, 4, num_layers=2, dropout=0.5, rng=0)
        >>> gru.training, gru.eval().training, gru.train().training
        (True, False, True)
        """
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode (no dropout); returns self."""
        return self.train(False)

    # -- the passes ---------------------------------------------------------------------
    def forward(self, x, state=None, lengths=None):
        """Run every layer and direction over the sequence.

        Parameters
        ----------
        x : ndarray, shape (T, N, D), or (N, T, D) with ``batch_first``
        state : optional
            The initial state, shaped like the returned one; None means zeros.
        lengths : array of int, shape (N,), optional
            Real steps per sequence, in [0, T] (PyTorch's packed sequences:
            padded outputs are zero, each final state is taken at the
            sequence's own last step).

        Returns
        -------
        out : ndarray, shape (T, N, dirs*H), or (N, T, dirs*H) with ``batch_first``
            The last layer's outputs; with two directions, forward then
            backward along the last axis, both in the original time order.
        state : h_n, ndarray (L*dirs, N, H); for LSTM ``LSTMState(h_n, c_n)``
            Entry ``l*dirs + d`` belongs to layer l, direction d.

        Notes
        -----
        Each call keeps a record for one backward (none under ``ll.no_grad()``);
        ``x`` and ``state`` are copied where the backward reads them, so the
        caller may change them afterwards.

        Edge sizes are defined, not errors: with T = 0 ``out`` is empty and
        the state is the initial one (zeros when ``state`` is None); with
        N = 0 every array is empty along N; a sequence of length 0 has zero
        outputs, its final state is its initial state, and backward passes
        its ``dstate`` straight to its ``dstate0``. H = 1 and T = 1 work as
        any other size.
        """
        check_float_array("x", x, ndim=3, dtype=self.dtype)
        layout = "(N, T, D)" if self.batch_first else "(T, N, D)"
        check_shape("x", x, (None, None, self.input_size), f"{layout} with D = {self.input_size}")
        xs = x.swapaxes(0, 1) if self.batch_first else x  # (T, N, D)
        T, N, _ = xs.shape
        states0 = None if state is None else self._check_state(state, N, "state")
        cell, dirs = self._cell, self.num_directions

        finals, masks, ran = [], [], []
        inp = xs
        try:
            for layer, directions in enumerate(self.layers):
                outs = []
                for d, rec in enumerate(directions):
                    s0 = None if states0 is None else cell.join_state([s[layer * dirs + d]
                                                                       for s in states0])
                    hs, s_n = rec.forward(inp, s0, lengths)  # hs (T, N, H), original time order
                    ran.append(rec)
                    outs.append(hs)
                    finals.append(cell.split_state(s_n))
                out = outs[0] if dirs == 1 else np.concatenate(outs, axis=2)  # (T, N, dirs*H)
                mask = None
                if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                    keep = self.rng.random(out.shape) >= self.dropout
                    mask = keep.astype(self.dtype) / (1.0 - self.dropout)  # inverted dropout
                    out = out * mask
                masks.append(mask)
                inp = out
        except BaseException:
            if is_grad_enabled():  # undo this forward's records: no backward will come for it
                for rec in ran:
                    rec.saved_for_backward()
            raise
        self.save_for_backward((T, N, masks))
        state_n = cell.join_state([np.stack(arrays) for arrays in zip(*finals)])
        return (out.swapaxes(0, 1) if self.batch_first else out), state_n

    def backward(self, dout, dstate=None):
        """Backpropagate through every layer and direction; grads ACCUMULATE.

        Backpropagates the most recent forward not yet backpropagated (and
        consumes its record).

        Parameters
        ----------
        dout : ndarray shaped like that forward's ``out``, or None (only the
            final state feeds the loss)
        dstate : optional, shaped like the returned state; None means zero

        Returns
        -------
        dx : ndarray shaped like ``x``
        dstate0 : gradient of the initial state, shaped like the state
        """
        record = self.saved_for_backward()
        T, N, masks = record
        cell, dirs, H = self._cell, self.num_directions, self._cell.output_size  # H, or P
        try:
            if dout is not None:
                check_float_array("dout", dout, ndim=3, dtype=self.dtype)
                shape = (N, T, dirs * H) if self.batch_first else (T, N, dirs * H)
                layout = "(N, T, dirs*H)" if self.batch_first else "(T, N, dirs*H)"
                check_shape("dout", dout, shape, f"{layout} = {shape}, the shape of out of the "
                            "forward being backpropagated")
            dstates = None if dstate is None else self._check_state(dstate, N, "dstate")
        except (TypeError, ValueError):
            self._records.append(record)  # a refused gradient consumes nothing: call again
            raise
        if dout is not None:
            dout = dout.swapaxes(0, 1) if self.batch_first else dout  # (T, N, dirs*H)

        K = self.num_layers * dirs
        dstates0 = [np.empty((K, N, a.shape[1]), dtype=self.dtype)  # h: (K, N, H or P), c: H
                    for a in cell.split_state(cell.initial_state(0))]
        for layer in reversed(range(self.num_layers)):
            if masks[layer] is not None:
                dout = dout * masks[layer]  # the same mask as the forward
            dinp = None
            for d, rec in enumerate(self.layers[layer]):
                k = layer * dirs + d
                ds = None if dstates is None else cell.join_state([s[k] for s in dstates])
                dhs = None if dout is None else dout[:, :, d * H:(d + 1) * H]
                dxs, ds0 = rec.backward(dhs, ds)
                for target, value in zip(dstates0, cell.split_state(ds0)):
                    target[k] = value
                dinp = dxs if dinp is None else dinp + dxs  # both directions read the input
            dout = dinp
        dx = dout.swapaxes(0, 1) if self.batch_first else dout
        return dx, cell.join_state(dstates0)

    def _check_state(self, state, N, name):
        """Check a layer state (or its gradient); return its arrays, each (L*dirs, N, H)."""
        K, H = self.num_layers * self.num_directions, self.hidden_size
        # h, (h, c), or (h, c, q) for an LSTM with gate recurrence
        fields = getattr(self._cell.initial_state(0), "_fields", ("h",))
        if len(fields) == 1:
            if isinstance(state, tuple):
                raise TypeError(f"{name}: expected an ndarray h of shape (L*dirs, N, H) for "
                                f"{type(self).__name__}, got a tuple")
            arrays = (state,)
        else:
            if not isinstance(state, tuple) or len(state) != len(fields):
                raise TypeError(f"{name}: expected a tuple ({', '.join(fields)}) of arrays of "
                                f"shape (L*dirs, N, H), got a {type(state).__name__}"
                                + (f" of {len(state)}" if isinstance(state, tuple) else ""))
            arrays = tuple(state)
        widths = [a.shape[1] for a in self._cell.split_state(self._cell.initial_state(0))]
        for field, a, H in zip(fields, arrays, widths):  # h: H, or an LSTM's P; c: H
            label = name if len(fields) == 1 else f"{name}.{field}"
            check_float_array(label, a, ndim=3, dtype=self.dtype)
            check_shape(label, a, (K, N, H), f"(L*dirs, N, H) = ({K}, {N}, {H})")
        return arrays

    # -- PyTorch interop ------------------------------------------------------------------
    def torch_cells(self):
        """``(suffix, cell)`` pairs in PyTorch's naming: ``("_l0", ...), ("_l0_reverse", ...)``."""
        return [(f"_l{layer}" + ("_reverse" if d else ""), rec.cell)
                for layer, directions in enumerate(self.layers)
                for d, rec in enumerate(directions)]

    def torch_state_dict(self):
        """The weights under PyTorch's names (``weight_ih_l0`` ...), as new NumPy arrays.

        Biases are exported as ``bias_ih = b, bias_hh = 0`` (GRU:
        ``bias_hh = [0, 0, b_hn]``), which PyTorch sums back to the same model.
        Raises ValueError for variants PyTorch lacks (peephole, coupled,
        ``reset_after=False``).
        """
        return torch_state_dict(self.torch_cells())

    def torch_grads(self):
        """The gradients under PyTorch's names: equal to torch's ``.grad`` after the same loss."""
        return torch_grads(self.torch_cells())

    def load_torch_state_dict(self, state_dict):
        """Load a PyTorch layer's weights (a dict of NumPy arrays) into the params, in place.

        All names, dtypes and shapes are validated before anything is written.

        Examples
        --------
        >>> import numpy as np
        >>> import lstmlab as ll
        >>> a = ll.LSTM(3, 4, bidirectional=True, rng=0)
        >>> b = ll.LSTM(3, 4, bidirectional=True, rng=1)
        >>> W = b.params["layers.0.bwd.W_x"]
        >>> b.load_torch_state_dict(a.torch_state_dict())
        >>> W is b.params["layers.0.bwd.W_x"], bool(np.array_equal(W, a.params["layers.0.bwd.W_x"]))
        (True, True)
        """
        load_torch_state_dict(self.torch_cells(), state_dict)

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra})"

    def _options(self):
        options = {"num_layers": self.num_layers, "bias": self.bias,
                   "batch_first": self.batch_first, "dropout": self.dropout,
                   "bidirectional": self.bidirectional, **self._cell_options(),
                   "dtype": self.dtype.name, "fast": self.fast}
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False, **self._cell_option_defaults,
                    "dtype": "float64", "fast": True}
        return {k: v for k, v in options.items() if v != defaults[k]}

    _cell_option_defaults = {}  # the subclass's own options and their defaults

    def _cell_options(self):
        return {k: getattr(self, k) for k in self._cell_option_defaults}


class RNN(_RecurrentLayer):
    """Multi-layer Elman RNN with PyTorch's ``nn.RNN`` interface.

    Each layer runs an :class:`~lstmlab.RNNCell`,
    ``h_t = act(x_t W_x + h_{t-1} W_h + b)``, over the sequence through a
    :class:`~lstmlab.Recurrent`; layer l > 0 reads layer l-1's outputs.

    Shapes (L = num_layers, dirs = 2 if bidirectional else 1)::

        x    (T, N, D)          (N, T, D) with batch_first
        out  (T, N, dirs*H)     (N, T, dirs*H) with batch_first
        h_n  (L*dirs, N, H)     entry l*dirs + d: layer l, direction d (0 fwd, 1 bwd)
    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    num_layers : int
    nonlinearity : {"tanh", "relu"}
    bias : bool
    batch_first : bool
        Inputs and outputs are (N, T, ...) instead of (T, N, ...); states are not affected.
    dropout : float
        Inverted dropout on the outputs of every layer but the last, in
        training mode only (no effect with one layer). Masks are drawn from ``rng``.
    bidirectional : bool
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator
        Draws every initial weight (layer 0 fwd, layer 0 bwd, layer 1 ...) and
        the dropout masks; kept as the attribute ``rng``.
    fast : bool, default True
        Run the fused runners of :mod:`lstmlab.fused`; False runs the
        textbook cells through :class:`~lstmlab.Recurrent` (same numbers,
        slower, every step visible).

    Attributes
    ----------
    params, grads : dict
        Dotted keys ``"layers.{l}.{fwd|bwd}.{W_x|W_h|b}"``, the cells' own arrays.
    layers : list of list of runners
        ``layers[l][d]``: a fused runner (``FusedRNN``...) or a ``Recurrent``;
        ``layers[l][d].cell`` is the cell either way.
    training : bool

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> rnn = ll.RNN(3, 5, num_layers=2, nonlinearity="relu", rng=0)
    >>> x = np.zeros((4, 2, 3))
    >>> out, h_n = rnn.forward(x)
    >>> out.shape, h_n.shape
    ((4, 2, 5), (2, 2, 5))
    >>> dx, dh_0 = rnn.backward(np.ones_like(out))
    >>> dx.shape, sorted(rnn.params)[:3]
    ((4, 2, 3), ['layers.0.fwd.W_h', 'layers.0.fwd.W_x', 'layers.0.fwd.b'])
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, dtype=np.float64,
                 rng=None, fast=True):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, rng, fast)
        self.nonlinearity = nonlinearity
        self._build(lambda D: RNNCell(D, self.hidden_size, nonlinearity=nonlinearity, bias=bias,
                                      dtype=dtype, rng=self.rng))

    _cell_option_defaults = {"nonlinearity": "tanh"}


class LSTM(_RecurrentLayer):
    """Multi-layer LSTM with PyTorch's ``nn.LSTM`` interface (and lstmlab's variants).

    Each layer runs an :class:`~lstmlab.LSTMCell` over the sequence through a
    :class:`~lstmlab.Recurrent`; layer l > 0 reads layer l-1's outputs. The
    state is ``LSTMState(h_n, c_n)``, a NamedTuple, so ``h_n, c_n = state``
    works as with PyTorch, and a plain tuple ``(h_0, c_0)`` is accepted.

    Shapes (L = num_layers, dirs = 2 if bidirectional else 1)::

        x    (T, N, D)          (N, T, D) with batch_first
        out  (T, N, dirs*H)     (N, T, dirs*H) with batch_first
        h_n  (L*dirs, N, H)     entry l*dirs + d: layer l, direction d (0 fwd, 1 bwd)
        c_n  (L*dirs, N, H)     like h_n

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
    bias, batch_first, dropout, bidirectional :
        As for PyTorch (see :class:`RNN`).
    peephole, coupled, forget_bias :
        The :class:`~lstmlab.LSTMCell` options (peephole and coupled layers
        have no PyTorch counterpart: the torch conversions refuse them).
    proj_size : int, default 0
        As PyTorch's: every cell projects its output to P < H values (h_n and
        ``out`` have P per direction, c_n keeps H, layer l > 0 reads dirs*P);
        0 means no projection. Runs the textbook cells.
    input_gate, forget_gate, output_gate, input_activation, output_activation, gate_recurrence :
        Greff et al.'s variants, the :class:`~lstmlab.LSTMCell` options of the
        same names (docs/variants.md). They run the textbook cells. With
        ``gate_recurrence=True`` the state is ``LSTMGateState(h_n, c_n, q_n)``,
        ``q_n`` (L*dirs, N, K*H) the last gates of every layer and direction.
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator
    fast : bool, default True
        The fused runners (see :class:`RNN`); False runs the textbook cells.

    Attributes
    ----------
    params, grads : dict
        ``"layers.{l}.{fwd|bwd}.W_x"`` (D_l, 4H), ``W_h`` (H, 4H), ``b`` (4H,) ...

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> lstm = ll.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, rng=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 4, 3))   # (N, T, D)
    >>> out, (h_n, c_n) = lstm.forward(x, lengths=[4, 3])
    >>> out.shape, h_n.shape, c_n.shape
    ((2, 4, 10), (4, 2, 5), (4, 2, 5))
    >>> dx, dstate0 = lstm.backward(np.ones_like(out))
    >>> dx.shape, dstate0.c.shape
    ((2, 4, 3), (4, 2, 5))
    >>> lstm.torch_state_dict()["weight_hh_l1_reverse"].shape
    (20, 5)

    The fused path (the default) and the textbook cells give the same numbers:

    >>> slow = ll.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, rng=0,
    ...                fast=False)
    >>> slow
    LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True, fast=False)
    >>> type(slow.layers[0][0]).__name__, type(lstm.layers[0][0]).__name__
    ('Recurrent', 'FusedLSTM')
    >>> out_slow, _ = slow.forward(x, lengths=[4, 3])
    >>> bool(np.allclose(out_slow, out, rtol=1e-12, atol=1e-15))
    True
    >>> ll.LSTM(3, 5, peephole=True, forget_bias=1.0)    # no fused runner: the cells run
    LSTM(3, 5, peephole=True, forget_bias=1.0)
    >>> type(ll.LSTM(3, 5, output_activation=False).layers[0][0]).__name__
    'Recurrent'
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, peephole=False, coupled=False,
                 forget_bias=0.0, proj_size=0, input_gate=True, forget_gate=True,
                 output_gate=True, input_activation=True, output_activation=True,
                 gate_recurrence=False, dtype=np.float64, rng=None, fast=True):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, rng, fast)
        self.peephole, self.coupled, self.forget_bias = peephole, coupled, forget_bias
        self.proj_size = proj_size
        variants = dict(input_gate=input_gate, forget_gate=forget_gate, output_gate=output_gate,
                        input_activation=input_activation, output_activation=output_activation,
                        gate_recurrence=gate_recurrence)  # Greff et al.'s, as cell options
        for option, value in variants.items():
            setattr(self, option, value)
        self._build(lambda D: LSTMCell(D, self.hidden_size, peephole=peephole, coupled=coupled,
                                       forget_bias=forget_bias, bias=bias, proj_size=proj_size,
                                       **variants, dtype=dtype, rng=self.rng))

    _cell_option_defaults = {"peephole": False, "coupled": False, "forget_bias": 0.0,
                             "proj_size": 0, "input_gate": True, "forget_gate": True,
                             "output_gate": True, "input_activation": True,
                             "output_activation": True, "gate_recurrence": False}


class GRU(_RecurrentLayer):
    """Multi-layer GRU with PyTorch's ``nn.GRU`` interface.

    Each layer runs a :class:`~lstmlab.GRUCell` over the sequence through a
    :class:`~lstmlab.Recurrent`; ``reset_after=False`` gives Cho et al.'s
    form (no PyTorch counterpart).

    Shapes (L = num_layers, dirs = 2 if bidirectional else 1)::

        x    (T, N, D)          (N, T, D) with batch_first
        out  (T, N, dirs*H)     (N, T, dirs*H) with batch_first
        h_n  (L*dirs, N, H)     entry l*dirs + d: layer l, direction d (0 fwd, 1 bwd)
    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
    bias, batch_first, dropout, bidirectional :
        As for PyTorch (see :class:`RNN`).
    reset_after : bool
        PyTorch's form (True, default) or Cho et al.'s (False).
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator
    fast : bool, default True
        The fused runners (see :class:`RNN`); False runs the textbook cells.

    Attributes
    ----------
    params, grads : dict
        ``"layers.{l}.{fwd|bwd}.W_x"`` (D_l, 3H), ``W_h`` (H, 3H), ``b`` (3H,), ``b_hn`` (H,).

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> gru = ll.GRU(3, 5, bidirectional=True, rng=0)
    >>> out, h_n = gru.forward(np.ones((4, 2, 3)))
    >>> out.shape, h_n.shape
    ((4, 2, 10), (2, 2, 5))
    >>> bool((out[-1, :, :5] == h_n[0]).all()), bool((out[0, :, 5:] == h_n[1]).all())
    (True, True)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, reset_after=True, dtype=np.float64,
                 rng=None, fast=True):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, rng, fast)
        self.reset_after = reset_after
        self._build(lambda D: GRUCell(D, self.hidden_size, reset_after=reset_after, bias=bias,
                                      dtype=dtype, rng=self.rng))

    _cell_option_defaults = {"reset_after": True}
