"""The LSTM cell, with peepholes, the projection and Greff et al.'s (2015) variants."""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .cell import Cell
from .functional import dsigmoid, dtanh, sigmoid, tanh
from .init import pytorch_uniform

__all__ = ["LSTMCell", "LSTMState", "LSTMGateState", "LSTMCache"]


class LSTMState(NamedTuple):
    """The two halves of an LSTM's state: the output h and the cell c, each (N, H).

    With a projection (``LSTMCell(..., proj_size=P)``) h is (N, P) and c (N, H).

    A NamedTuple, so ``h, c = state`` unpacks it and ``state.h`` names it.

    Examples
    --------
    >>> import numpy as np
    >>> state = LSTMState(h=np.zeros((2, 3)), c=np.ones((2, 3)))
    >>> h, c = state
    >>> c.shape, state.c is c
    ((2, 3), True)
    """

    h: np.ndarray
    c: np.ndarray


class LSTMGateState(NamedTuple):
    """The state of an LSTM with full gate recurrence: h, c and the last step's gates q.

    ``LSTMCell(..., gate_recurrence=True)`` (Greff et al.'s FGR) feeds every
    gate the previous step's gate values, so they are part of the state:
    ``q = [i | f | o]`` (N, K*H), the cell's K sigmoid gates side by side in
    the order of ``cell.q_gates`` (zeros before the first step).

    Examples
    --------
    >>> import numpy as np
    >>> state = LSTMGateState(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 9)))
    >>> h, c, q = state
    >>> state.q.shape
    (2, 9)
    """

    h: np.ndarray
    c: np.ndarray
    q: np.ndarray


class LSTMCache(NamedTuple):
    """What one LSTM step keeps for its backward: the equations' symbols.

    Examples
    --------
    >>> import numpy as np
    >>> cell = LSTMCell(2, 3, rng=0)
    >>> state, cache = cell.forward(np.ones((1, 2)), cell.initial_state(1))
    >>> cache._fields
    ('x', 'h_prev', 'c_prev', 'i', 'f', 'g', 'o', 'c', 'tanh_c', 'q_prev')
    >>> bool(np.allclose(state.c, cache.f * cache.c_prev + cache.i * cache.g))
    True
    """

    x: Optional[np.ndarray]  # (N, D) (None when the wrapper keeps the inputs)
    h_prev: np.ndarray  # (N, H), or (N, P) with a projection
    c_prev: np.ndarray  # (N, H)
    i: np.ndarray  # (N, H) input gate (1 - f when coupled; the number 1.0 without one)
    f: np.ndarray  # (N, H) forget gate (1.0 without one)
    g: np.ndarray  # (N, H) candidate
    o: np.ndarray  # (N, H) output gate (1.0 without one)
    c: np.ndarray  # (N, H) new cell (the next step's c_prev: no extra memory)
    tanh_c: np.ndarray  # (N, H) (c itself without the output activation)
    q_prev: Optional[np.ndarray] = None  # (N, K*H) the last step's gates (gate recurrence only)


class LSTMCell(Cell):
    """Long short-term memory cell: one time step.

    Equations (row vectors, gates fused as i, f, g, o like PyTorch)::

        a = x W_x + h_prev W_h + b                     (N, 4H): [a_i | a_f | a_g | a_o]
        r = q_prev W_q                                  gate recurrence only: [r_i | r_f | r_o]
        f = sigmoid(a_f + p_f * c_prev + r_f)           forget gate
        i = sigmoid(a_i + p_i * c_prev + r_i)           input gate
        g = tanh(a_g)                                   candidate
        c = f * c_prev + i * g                          the additive cell path
        o = sigmoid(a_o + p_o * c + r_o)                output gate
        h = o * tanh(c)
        h = h W_hr                                      only with proj_size = P: (N, P)
        q = [i | f | o]                                 gate recurrence only: the next q_prev

    Without peepholes (the default, and PyTorch's LSTM) ``p_i = p_f = p_o = 0``,
    without gate recurrence ``r_i = r_f = r_o = 0``, and the gates read only
    ``a``. With ``peephole=True`` (Gers & Schmidhuber
    2000) they are learned diagonal weights (H,) from the cell into the gates:
    from the old cell into i and f, from the new cell into o (which is why o
    comes after c). With ``coupled=True`` (CIFG, Greff et al. 2015) the input
    gate is tied to the forget gate, ``i = 1 - f``: the cell forgets exactly as
    much as it writes, and the gates are fused as f, g, o (3H columns, no
    input-gate weights; which is why f comes before i). With ``proj_size=P``
    (Sak et al. 2014, PyTorch's ``nn.LSTM(proj_size=P)``) the output is
    projected to P < H values by ``W_hr`` (H, P): h, and so ``h_prev`` and the
    rows of ``W_h``, have P columns, while the cell c keeps H.

    The other variants of Greff et al. (2015) are options too, each named
    after what it changes (the paper's name in brackets)::

        input_gate=False          i = 1                  (NIG)
        forget_gate=False         f = 1                  (NFG)
        output_gate=False         o = 1                  (NOG)
        input_activation=False    g = a_g                (NIAF)
        output_activation=False   h = o * c              (NOAF)
        peephole=False            p_i = p_f = p_o = 0    (NP: the default here)
        coupled=True              i = 1 - f              (CIFG)
        gate_recurrence=True      the r and q lines      (FGR)

    A removed gate is the number 1.0 (also in the cache) and has no columns
    in ``W_x``, ``W_h``, ``b`` and no peephole: the fused order is ``"ifgo"``
    without it (``cell.gates``). With gate recurrence every sigmoid gate also
    reads the previous step's gates ``q_prev = [i | f | o]`` (the K gates the
    cell has, ``cell.q_gates``) through ``W_q`` (K*H, K*H), so those gates
    are part of the state, ``LSTMGateState(h, c, q)``.

    Backward, with dh = dL/dh and dc = dL/dc arriving from the next step (and
    dq = dL/dq = [dq_i | dq_f | dq_o] with gate recurrence, else 0), the
    forward's lines in reverse order::

        (projection: dW_hr += (o * tanh_c)^T dh, then dh = dh W_hr^T)
        do      = dh * tanh_c + dq_o       dtanh_c = dh * o
        da_o    = do * o (1 - o)
        dc_all  = dc + dtanh_c * (1 - tanh_c^2) + da_o * p_o
        di = dc_all * g + dq_i    dg = dc_all * i    df = dc_all * c_prev + dq_f
        dc_prev = dc_all * f
        da_g    = dg * (1 - g^2)
        (coupled: i = 1 - f, so df gets -di and there is no a_i)
        da_i    = di * i (1 - i)           da_f = df * f (1 - f)
        dc_prev += da_i * p_i + da_f * p_f
        da = [da_i | da_f | da_g | da_o]   dW_h += h_prev^T da      dh_prev = da W_h^T
        dr = [da_i | da_f | da_o]          dW_q += q_prev^T dr      dq_prev = dr W_q^T

    A gate the cell lacks has no ``da`` (and its ``do``, ``di``, ``df`` go
    nowhere); without an activation its derivative, ``1 - g^2`` or
    ``1 - tanh_c^2``, is 1.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    peephole : bool
        Add the peephole weights ``p_i, p_f, p_o`` (H,), initialised to zero.
    coupled : bool
        Tie the input gate to the forget gate, ``i = 1 - f``.
    forget_bias : float
        Initial value of the forget-gate bias (Jozefowicz et al. 2015 recommend
        1.0 so the cell remembers by default at the start of training).
    bias : bool
        With ``False`` there is no ``b`` (and ``forget_bias`` must be 0).
    proj_size : int, default 0
        P, the size of the projected output h, ``0 < P < H``; 0 means no
        projection (PyTorch's convention). It combines with every option.
    input_gate, forget_gate, output_gate : bool, default True
        False removes that gate, which becomes the constant 1 (NIG, NFG, NOG).
    input_activation, output_activation : bool, default True
        False removes the tanh of the candidate, ``g = a_g`` (NIAF), or of
        the cell in the output, ``h = o * c`` (NOAF).
    gate_recurrence : bool, default False
        Every gate also reads the previous step's gates (FGR).
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator

    Options that contradict each other (``coupled`` with ``input_gate=False``
    or ``forget_gate=False``, a ``forget_bias`` without a forget gate, peepholes
    or gate recurrence without any sigmoid gate) raise a ValueError naming both.

    Attributes
    ----------
    params : dict
        ``W_x`` (D, 4H), ``W_h`` (H, 4H), ``b`` (4H,) [, ``p_i``, ``p_f``,
        ``p_o`` (H,)]. With ``coupled`` (or a removed gate) the fused width
        is 3H (G*H, G = ``len(cell.gates)``). With gate recurrence ``W_q``
        (K*H, K*H). With ``proj_size=P``, ``W_h`` is (P, 4H) and ``W_hr`` (H, P). PyTorch's
        ``nn.LSTMCell`` holds ``weight_ih = W_x.T``, ``weight_hh = W_h.T`` and
        ``bias_ih + bias_hh = b``; ``nn.LSTM(proj_size=P)`` also
        ``weight_hr_l0 = W_hr.T``.
    proj_size : int
        P, or 0 without a projection; ``output_size`` is P or H.

    References
    ----------
    Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory.
    Gers, F. A., Schmidhuber, J. & Cummins, F. (2000). Learning to forget.
    Gers, F. A. & Schmidhuber, J. (2000). Recurrent nets that time and count.
    Greff, K. et al. (2015). LSTM: A search space odyssey.
    Sak, H., Senior, A. & Beaufays, F. (2014). Long short-term memory recurrent
    neural network architectures for large scale acoustic modeling.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> cell = ll.LSTMCell(3, 5, rng=0)
    >>> state = cell.initial_state(2)
    >>> state, cache = cell.forward(np.ones((2, 3)), state)
    >>> state.h.shape, state.c.shape, cache.f.shape
    ((2, 5), (2, 5), (2, 5))
    >>> dstate = ll.LSTMState(h=np.ones((2, 5)), c=np.zeros((2, 5)))
    >>> dx, dstate_prev = cell.backward(dstate, cache)
    >>> dx.shape, dstate_prev.c.shape
    ((2, 3), (2, 5))
    >>> ll.LSTMCell(3, 5, coupled=True, forget_bias=1.0, dtype=np.float32)
    LSTMCell(3, 5, coupled=True, forget_bias=1.0, dtype='float32')

    With a projection, h has P values and c has H:

    >>> cell = ll.LSTMCell(3, 5, proj_size=2, rng=0)
    >>> state, cache = cell.forward(np.ones((4, 3)), cell.initial_state(4))
    >>> state.h.shape, state.c.shape, cell.params["W_h"].shape, cell.params["W_hr"].shape
    ((4, 2), (4, 5), (2, 20), (5, 2))

    Greff et al.'s variants: a removed gate has no weights; gate recurrence
    keeps the gates in the state:

    >>> ll.LSTMCell(3, 5, forget_gate=False).gates
    'igo'
    >>> cell = ll.LSTMCell(3, 5, gate_recurrence=True, rng=0)
    >>> state, cache = cell.forward(np.ones((2, 3)), cell.initial_state(2))
    >>> type(state).__name__, state.q.shape, cell.params["W_q"].shape
    ('LSTMGateState', (2, 15), (15, 15))
    >>> ll.LSTMCell(3, 5, coupled=True, forget_gate=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: coupled=True ties the input gate to the forget gate ... use one or the other
    """

    cache_type = LSTMCache

    def __init__(
        self,
        input_size,
        hidden_size,
        *,
        peephole=False,
        coupled=False,
        forget_bias=0.0,
        bias=True,
        proj_size=0,
        input_gate=True,
        forget_gate=True,
        output_gate=True,
        input_activation=True,
        output_activation=True,
        gate_recurrence=False,
        dtype=np.float64,
        rng=None,
    ):
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, rng=rng)
        self.peephole = bool(peephole)
        self.coupled = bool(coupled)
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float, np.number)):
            raise TypeError(
                f"forget_bias: expected a real number, got {type(forget_bias).__name__} "
                f"{forget_bias!r}")
        if not np.isfinite(forget_bias):
            raise ValueError(f"forget_bias: expected a finite number, got {forget_bias}")
        self.forget_bias = float(forget_bias)
        if not bias and self.forget_bias != 0.0:
            raise ValueError(f"forget_bias: must be 0.0 when bias=False, got {forget_bias}")
        self.proj_size = check_proj_size(proj_size, self.hidden_size)
        check_variants(peephole=self.peephole, coupled=self.coupled, forget_bias=self.forget_bias,
                       input_gate=input_gate, forget_gate=forget_gate, output_gate=output_gate,
                       input_activation=input_activation, output_activation=output_activation,
                       gate_recurrence=gate_recurrence)
        self.input_gate, self.forget_gate = bool(input_gate), bool(forget_gate)
        self.output_gate = bool(output_gate)
        self.input_activation = bool(input_activation)
        self.output_activation = bool(output_activation)
        self.gate_recurrence = bool(gate_recurrence)
        self.num_gates = len(self.gates)  # 4, fewer when coupled or without a gate
        D, H, GH, R = self.input_size, self.hidden_size, self.gate_width, self.output_size
        self.add_param("W_x", pytorch_uniform((D, GH), H, self.rng, self.dtype))
        self.add_param("W_h", pytorch_uniform((R, GH), H, self.rng, self.dtype))
        if self.bias:
            b = pytorch_uniform((GH,), H, self.rng, self.dtype)
            if self.forget_bias != 0.0:
                b[self.gate_slice("f")] = self.forget_bias
            self.add_param("b", b)
        if self.proj_size:
            self.add_param("W_hr", pytorch_uniform((H, R), H, self.rng, self.dtype))
        if self.gate_recurrence:  # from the last step's gates into every gate
            KH = len(self.q_gates) * H
            self.add_param("W_q", pytorch_uniform((KH, KH), H, self.rng, self.dtype))
        if self.peephole:  # one per sigmoid gate the cell has
            for gate in self.q_gates:
                self.add_param(f"p_{gate}", np.zeros(H, dtype=self.dtype))

    @property
    def output_size(self):
        """The width of h: P with a projection, else H."""
        return self.proj_size or self.hidden_size

    @property
    def gates(self):
        """The fused gate order: ``"ifgo"`` without the gates the cell lacks.

        Examples
        --------
        >>> LSTMCell(2, 3).gates, LSTMCell(2, 3, coupled=True).gates
        ('ifgo', 'fgo')
        >>> LSTMCell(2, 3, input_gate=False, output_gate=False).gates
        'fg'
        """
        has = {"i": self.input_gate and not self.coupled, "f": self.forget_gate, "g": True,
               "o": self.output_gate}
        return "".join(gate for gate in "ifgo" if has[gate])

    @property
    def q_gates(self):
        """The sigmoid gates the cell has (``gates`` without g): the blocks of q.

        With ``gate_recurrence`` these gates' values are the state's
        ``q`` (N, K*H), K = ``len(q_gates)``, and the gates that read it.

        Examples
        --------
        >>> LSTMCell(2, 3).q_gates, LSTMCell(2, 3, coupled=True).q_gates
        ('ifo', 'fo')
        """
        return self.gates.replace("g", "")

    def gate_slice(self, gate):
        """Columns of gate ``gate`` ("i", "f", "g" or "o") in the fused matrices.

        Examples
        --------
        >>> LSTMCell(2, 3).gate_slice("g")
        slice(6, 9, None)
        """
        k = self.gates.index(gate)
        H = self.hidden_size
        return slice(k * H, (k + 1) * H)

    def split_gates(self, a):
        """The gates' blocks of a fused (N, G*H) array: ``a_i, a_f, a_g, a_o`` (views).

        ``a_i`` is None when the cell is coupled (it has no input-gate columns).

        Examples
        --------
        >>> import numpy as np
        >>> a_i, a_f, a_g, a_o = LSTMCell(2, 3).split_gates(np.arange(12.0)[None])
        >>> a_g
        array([[6., 7., 8.]])
        """
        return tuple(a[:, self.gate_slice(gate)] if gate in self.gates else None
                     for gate in "ifgo")

    def join_gates(self, da_i, da_f, da_g, da_o, out=None):
        """The inverse of :meth:`split_gates`: the blocks side by side, (N, G*H).

        The block of a gate the cell lacks is left out (pass None or 0.0).
        ``out``, if given, receives the result (the wrapper passes its row of
        a (T, N, G*H) buffer).
        """
        blocks = dict(zip("ifgo", (da_i, da_f, da_g, da_o)))
        return np.concatenate([blocks[gate] for gate in self.gates], axis=1, out=out)

    def split_q(self, q):
        """The (N, H) blocks ``(q_i, q_f, q_o)`` of an (N, K*H) array laid out as ``q_gates``.

        A gate that is not in ``q_gates`` gets 0.0, and so do all three when
        ``q`` is None (a cell without gate recurrence).

        Examples
        --------
        >>> import numpy as np
        >>> q_i, q_f, q_o = LSTMCell(2, 1, coupled=True).split_q(np.array([[7.0, 8.0]]))
        >>> q_i, q_f, q_o
        (0.0, array([[7.]]), array([[8.]]))
        """
        if q is None:
            return 0.0, 0.0, 0.0
        H = self.hidden_size
        blocks = {gate: q[:, k * H:(k + 1) * H] for k, gate in enumerate(self.q_gates)}
        return tuple(blocks.get(gate, 0.0) for gate in "ifo")

    def join_q(self, q_i, q_f, q_o):
        """The inverse of :meth:`split_q`: the blocks of ``q_gates`` side by side, (N, K*H)."""
        blocks = dict(zip("ifo", (q_i, q_f, q_o)))
        return np.concatenate([blocks[gate] for gate in self.q_gates], axis=1)

    def gate_feedback(self, q_prev):
        """Gate recurrence: ``r = q_prev W_q`` as ``(r_i, r_f, r_o)``, each (N, H) or 0.0.

        Without gate recurrence (``q_prev`` None) all three are 0.0, so one
        set of equations serves every cell, as :meth:`peephole_weights` does.
        """
        return self.split_q(None if q_prev is None else q_prev @ self.params["W_q"])

    def peephole_weights(self):
        """``(p_i, p_f, p_o)``: each an (H,) param, or 0.0 where the cell has none.

        With zeros for the missing ones, one set of equations serves the plain,
        the peephole and the coupled cell.

        Examples
        --------
        >>> LSTMCell(2, 3).peephole_weights()
        (0.0, 0.0, 0.0)
        >>> [getattr(p, "shape", p) for p in LSTMCell(2, 3, peephole=True, coupled=True)
        ...  .peephole_weights()]
        [0.0, (3,), (3,)]
        """
        return tuple(self.params.get(name, 0.0) for name in ("p_i", "p_f", "p_o"))

    @property
    def state_type(self):
        """``LSTMState`` (h, c), or ``LSTMGateState`` (h, c, q) with gate recurrence."""
        return LSTMGateState if self.gate_recurrence else LSTMState

    def initial_state(self, N):
        """Zeros for h and c: ``LSTMState(h, c)``, each (N, H) (h: (N, P) with a projection).

        With gate recurrence, ``LSTMGateState(h, c, q)`` with q (N, K*H) zeros too.
        """
        c = super().initial_state(N)  # (N, H)
        h = np.zeros((c.shape[0], self.output_size), dtype=self.dtype)
        if self.gate_recurrence:
            q = np.zeros((c.shape[0], len(self.q_gates) * self.hidden_size), dtype=self.dtype)
            return LSTMGateState(h, c, q)
        return LSTMState(h, c)

    def split_state(self, state):
        if type(state) is self.state_type:  # the common case, in every step of a loop
            return state
        if not isinstance(state, tuple) or len(state) != len(self.state_type._fields):
            self.check_state(state, None)  # raises, saying what this cell's state is
        return tuple(state)

    def join_state(self, arrays):
        return self.state_type(*arrays)

    def check_state(self, state, N, name="state"):
        kind = self.state_type
        if not isinstance(state, tuple) or len(state) != len(kind._fields):
            form = (f"LSTMState(h, c) with h of shape (N, {self._h_symbol}) and c of shape (N, H)"
                    if kind is LSTMState else
                    f"LSTMGateState(h, c, q) (gate_recurrence=True) with h of shape "
                    f"(N, {self._h_symbol}), c of shape (N, H) and q of shape (N, K*H)")
            raise TypeError(
                f"{name}: expected {form}, got "
                + (f"an array of shape {state.shape}" if isinstance(state, np.ndarray)
                   else f"a {type(state).__name__} of {len(state)}" if isinstance(state, tuple)
                   else f"a {type(state).__name__}")
            )
        h = self.check_hidden(state[0], N, f"{name}.h", self.output_size, self._h_symbol)
        c = self.check_hidden(state[1], N, f"{name}.c")
        if kind is LSTMState:
            return LSTMState(h, c)
        KH = len(self.q_gates) * self.hidden_size
        return LSTMGateState(h, c, self.check_hidden(state[2], N, f"{name}.q", KH, "K*H"))

    def step(self, xw, state, x=None, *, check=True):
        """Recurrent part of one step, given ``xw = x W_x + b`` (N, G*H).

        ``check=False`` skips the argument checks (for the wrapper's hot loop);
        ``state`` must then be of the cell's ``state_type``.
        """
        if check:
            xw, state = self.check_step(xw, state)
        h_prev, c_prev = state.h, state.c
        q_prev = state.q if self.gate_recurrence else None  # the last step's gates
        p_i, p_f, p_o = self.peephole_weights()  # (H,) each, or 0.0 without peepholes
        a = xw + h_prev @ self.params["W_h"]  # (N, G*H)
        a_i, a_f, a_g, a_o = self.split_gates(a)  # (N, H) each; None for a gate the cell lacks
        r_i, r_f, r_o = self.gate_feedback(q_prev)  # q_prev W_q (N, H) each, or 0.0 without
        f = sigmoid(a_f + p_f * c_prev + r_f) if self.forget_gate else 1.0  # forget gate
        if self.coupled:  # CIFG: write exactly as much as is forgotten
            i = 1.0 - f
        else:
            i = sigmoid(a_i + p_i * c_prev + r_i) if self.input_gate else 1.0  # input gate
        g = tanh(a_g) if self.input_activation else a_g  # candidate
        c = f * c_prev + i * g  # the additive cell path
        o = sigmoid(a_o + p_o * c + r_o) if self.output_gate else 1.0  # output gate (peephole: c)
        tanh_c = tanh(c) if self.output_activation else c
        h = o * tanh_c
        if self.proj_size:  # the recurrent projection (Sak et al. 2014)
            h = h @ self.params["W_hr"]  # (N, P)
        cache = LSTMCache(x, h_prev, c_prev, i, f, g, o, c, tanh_c, q_prev)
        if self.gate_recurrence:  # this step's gates are part of the state: the next q_prev
            return LSTMGateState(h, c, self.join_q(i, f, o)), cache
        return LSTMState(h, c), cache

    def backward_step(self, dstate, cache, *, defer_dW_h=False, check=True, out=None):
        """Backward of :meth:`step`: returns ``(da, dstate_prev)``; accumulates dW_h, dp_*.

        ``da`` (N, G*H) is the gradient of the gates' pre-activations, which is
        also the gradient of ``xw``. With ``defer_dW_h=True`` dW_h is left to
        :meth:`backward_dW_h`. ``out`` (N, G*H), if given, receives ``da``.
        """
        if check:
            dstate = self.check_state(
                dstate, self.check_cache(cache).h_prev.shape[0], name="dstate")
        dh, dc = dstate.h, dstate.c
        dq = dstate.q if self.gate_recurrence else None  # dL/dq: q = [i | f | o] of this step
        h_prev, c_prev, c, tanh_c = cache.h_prev, cache.c_prev, cache.c, cache.tanh_c
        i, f, g, o = cache.i, cache.f, cache.g, cache.o
        p_i, p_f, p_o = self.peephole_weights()
        dq_i, dq_f, dq_o = self.split_q(dq)  # (N, H) each, or 0.0 without gate recurrence
        grads = self.grads
        if self.proj_size:  # h = (o * tanh_c) W_hr: dh becomes the gradient of o * tanh_c
            grads["W_hr"] += (o * tanh_c).T @ dh
            dh = dh @ self.params["W_hr"].T  # (N, H)
        do = dh * tanh_c + dq_o  # h = o * tanh_c, and o is in q
        dtanh_c = dh * o
        da_o = do * dsigmoid(o) if self.output_gate else 0.0  # o = sigmoid(a_o + p_o * c + r_o)
        dc_out = dtanh_c * dtanh(tanh_c) if self.output_activation else dtanh_c  # tanh_c = tanh(c)
        dc_all = dc + dc_out + da_o * p_o  # c feeds tanh_c, o and the next step
        di = dc_all * g + dq_i  # c = f * c_prev + i * g, and i is in q
        dg = dc_all * i
        df = dc_all * c_prev + dq_f  # f is in q too
        dc_prev = dc_all * f
        da_g = dg * dtanh(g) if self.input_activation else dg  # g = tanh(a_g)
        if self.coupled:  # i = 1 - f: there is no a_i, and di reaches f with a minus
            df -= di
        da_i = di * dsigmoid(i) if "i" in self.gates else 0.0  # i = sigmoid(a_i + ...)
        da_f = df * dsigmoid(f) if self.forget_gate else 0.0  # f = sigmoid(a_f + ...)
        dc_prev += da_i * p_i + da_f * p_f  # the peepholes from c_prev into i and f
        if self.peephole:  # a weight broadcast over the batch sums its gradient over it
            for name, da_k, c_k in (("p_i", da_i, c_prev), ("p_f", da_f, c_prev), ("p_o", da_o, c)):
                if name in grads:  # a gate the cell lacks has no peephole
                    grads[name] += (da_k * c_k).sum(axis=0)
        da = self.join_gates(da_i, da_f, da_g, da_o, out=out)  # (N, G*H)
        if not defer_dW_h:
            grads["W_h"] += h_prev.T @ da  # a = xw + h_prev W_h
        dh_prev = da @ self.params["W_h"].T
        if not self.gate_recurrence:
            return da, LSTMState(dh_prev, dc_prev)
        dr = self.join_q(da_i, da_f, da_o)  # (N, K*H): r = q_prev W_q adds to these gates' a
        grads["W_q"] += cache.q_prev.T @ dr
        return da, LSTMGateState(dh_prev, dc_prev, dr @ self.params["W_q"].T)

    @property
    def _h_symbol(self):
        return "P" if self.proj_size else "H"

    def torch_shapes(self):
        """As :meth:`Cell.torch_shapes`, plus ``weight_hr`` (P, H) with a projection.

        Examples
        --------
        >>> LSTMCell(3, 5, proj_size=2, bias=False).torch_shapes()
        {'weight_ih': (20, 3), 'weight_hh': (20, 2), 'weight_hr': (2, 5)}
        """
        shapes = super().torch_shapes()
        if self.proj_size:
            shapes["weight_hr"] = (self.proj_size, self.hidden_size)
        return shapes

    def to_torch(self, arrays, grads=False):
        """As :meth:`Cell.to_torch`, plus ``weight_hr = W_hr^T`` with a projection."""
        out = super().to_torch(arrays, grads)
        if self.proj_size:
            out["weight_hr"] = arrays["W_hr"].T.copy()
        return out

    def from_torch(self, tensors):
        """As :meth:`Cell.from_torch`, plus ``W_hr = weight_hr^T`` with a projection."""
        new = super().from_torch(tensors)
        if self.proj_size:
            new["W_hr"] = tensors["weight_hr"].T
        return new

    def torch_unsupported(self):
        """Why this cell has no ``nn.LSTMCell`` counterpart, or None."""
        if self.peephole:
            return ("LSTMCell(peephole=True) has no PyTorch counterpart: "
                    "nn.LSTM has no peephole weights")
        if self.coupled:
            return ("LSTMCell(coupled=True) has no PyTorch counterpart: "
                    "nn.LSTM has a separate input gate")
        changed = {k: v for k, v in self.variant_options().items() if k != "proj_size"}
        if changed:
            options = ", ".join(f"{k}={v}" for k, v in changed.items())
            return (f"LSTMCell({options}) has no PyTorch counterpart: nn.LSTM has all three "
                    "gates, both tanh and no gate recurrence")
        return None

    variant_defaults = {"peephole": False, "coupled": False, "proj_size": 0, "input_gate": True,
                        "forget_gate": True, "output_gate": True, "input_activation": True,
                        "output_activation": True, "gate_recurrence": False}

    def variant_options(self):
        """The options that change the equations, where they differ from PyTorch's LSTM.

        Examples
        --------
        >>> LSTMCell(2, 3).variant_options()
        {}
        >>> LSTMCell(2, 3, proj_size=2, forget_gate=False).variant_options()
        {'proj_size': 2, 'forget_gate': False}
        """
        return {k: getattr(self, k) for k, default in self.variant_defaults.items()
                if getattr(self, k) != default}

    def _extra_repr(self):
        extra = ""
        if self.peephole:
            extra += ", peephole=True"
        if self.coupled:
            extra += ", coupled=True"
        if self.forget_bias:
            extra += f", forget_bias={self.forget_bias}"
        if self.proj_size:
            extra += f", proj_size={self.proj_size}"
        for name, value in self.variant_options().items():
            if name not in ("peephole", "coupled", "proj_size"):
                extra += f", {name}={value}"
        return extra + super()._extra_repr()


def check_proj_size(proj_size, hidden_size):
    """Check an LSTM's ``proj_size``: an integer, 0 (no projection) or in [1, hidden_size).

    PyTorch refuses the same values: a projection is meant to be smaller than
    the cell.

    Examples
    --------
    >>> check_proj_size(2, 5)
    2
    >>> check_proj_size(5, 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: proj_size: expected 0 (no projection) or an integer in [1, hidden_size) ... got 5
    """
    if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
        raise TypeError(
            f"proj_size: expected an integer, got {type(proj_size).__name__} {proj_size!r}")
    if proj_size != 0 and not 1 <= proj_size < hidden_size:
        raise ValueError(
            f"proj_size: expected 0 (no projection) or an integer in [1, hidden_size) = "
            f"[1, {hidden_size}), got {proj_size}")
    return int(proj_size)


def check_variants(*, peephole, coupled, forget_bias, **switches):
    """Check the variant options: each True or False, and none contradicting another.

    ``switches`` are ``input_gate``, ``forget_gate``, ``output_gate``,
    ``input_activation``, ``output_activation`` and ``gate_recurrence``.

    Examples
    --------
    >>> on = dict(input_gate=True, forget_gate=True, output_gate=True, input_activation=True,
    ...           output_activation=True, gate_recurrence=False)
    >>> check_variants(peephole=False, coupled=True, forget_bias=0.0, **on)
    >>> no_i = {**on, "input_gate": False}
    >>> check_variants(peephole=False, coupled=True, forget_bias=0.0, **no_i)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: coupled=True computes ... input_gate=False fixes it at i = 1: use one or the other
    """
    for name, value in switches.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    if coupled and not switches["forget_gate"]:
        raise ValueError("coupled=True ties the input gate to the forget gate (i = 1 - f), and "
                         "forget_gate=False removes the forget gate: use one or the other")
    if coupled and not switches["input_gate"]:
        raise ValueError("coupled=True computes the input gate as i = 1 - f, and "
                         "input_gate=False fixes it at i = 1: use one or the other")
    if forget_bias != 0.0 and not switches["forget_gate"]:
        raise ValueError(f"forget_bias={forget_bias} initialises the forget gate's bias, and "
                         "forget_gate=False removes the forget gate: leave forget_bias at 0.0")
    if not (switches["input_gate"] or switches["forget_gate"] or switches["output_gate"]):
        for name, on in (("peephole", peephole), ("gate_recurrence", switches["gate_recurrence"])):
            if on:
                raise ValueError(f"{name}=True acts on the gates, and input_gate=False, "
                                 "forget_gate=False and output_gate=False leave none")
