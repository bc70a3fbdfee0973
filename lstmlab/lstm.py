"""The LSTM cell, with the peephole and coupled-gate (CIFG) variants."""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .cell import Cell
from .functional import dsigmoid, dtanh, sigmoid, tanh
from .init import pytorch_uniform

__all__ = ["LSTMCell", "LSTMState", "LSTMCache"]


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


class LSTMCache(NamedTuple):
    """What one LSTM step keeps for its backward: the equations' symbols.

    Examples
    --------
    >>> import numpy as np
    >>> cell = LSTMCell(2, 3, rng=0)
    >>> state, cache = cell.forward(np.ones((1, 2)), cell.initial_state(1))
    >>> cache._fields
    ('x', 'h_prev', 'c_prev', 'i', 'f', 'g', 'o', 'c', 'tanh_c')
    >>> bool(np.allclose(state.c, cache.f * cache.c_prev + cache.i * cache.g))
    True
    """

    x: Optional[np.ndarray]  # (N, D) (None when the wrapper keeps the inputs)
    h_prev: np.ndarray  # (N, H), or (N, P) with a projection
    c_prev: np.ndarray  # (N, H)
    i: np.ndarray  # (N, H) input gate (1 - f when coupled)
    f: np.ndarray  # (N, H) forget gate
    g: np.ndarray  # (N, H) candidate
    o: np.ndarray  # (N, H) output gate
    c: np.ndarray  # (N, H) new cell (the next step's c_prev: no extra memory)
    tanh_c: np.ndarray  # (N, H)


class LSTMCell(Cell):
    """Long short-term memory cell: one time step.

    Equations (row vectors, gates fused as i, f, g, o like PyTorch)::

        a = x W_x + h_prev W_h + b                     (N, 4H): [a_i | a_f | a_g | a_o]
        f = sigmoid(a_f + p_f * c_prev)                 forget gate
        i = sigmoid(a_i + p_i * c_prev)                 input gate
        g = tanh(a_g)                                   candidate
        c = f * c_prev + i * g                          the additive cell path
        o = sigmoid(a_o + p_o * c)                      output gate
        h = o * tanh(c)
        h = h W_hr                                      only with proj_size = P: (N, P)

    Without peepholes (the default, and PyTorch's LSTM) ``p_i = p_f = p_o = 0``
    and the gates read only ``a``. With ``peephole=True`` (Gers & Schmidhuber
    2000) they are learned diagonal weights (H,) from the cell into the gates:
    from the old cell into i and f, from the new cell into o (which is why o
    comes after c). With ``coupled=True`` (CIFG, Greff et al. 2015) the input
    gate is tied to the forget gate, ``i = 1 - f``: the cell forgets exactly as
    much as it writes, and the gates are fused as f, g, o (3H columns, no
    input-gate weights; which is why f comes before i). With ``proj_size=P``
    (Sak et al. 2014, PyTorch's ``nn.LSTM(proj_size=P)``) the output is
    projected to P < H values by ``W_hr`` (H, P): h, and so ``h_prev`` and the
    rows of ``W_h``, have P columns, while the cell c keeps H.

    Backward, with dh = dL/dh and dc = dL/dc arriving from the next step, the
    forward's lines in reverse order::

        (projection: dW_hr += (o * tanh_c)^T dh, then dh = dh W_hr^T)
        do      = dh * tanh_c              dtanh_c = dh * o
        da_o    = do * o (1 - o)
        dc_all  = dc + dtanh_c * (1 - tanh_c^2) + da_o * p_o
        di = dc_all * g    dg = dc_all * i    df = dc_all * c_prev    dc_prev = dc_all * f
        da_g    = dg * (1 - g^2)
        da_i    = di * i (1 - i)           dc_prev += da_i * p_i
        (coupled: i = 1 - f, so df gets -di and there is no a_i)
        da_f    = df * f (1 - f)           dc_prev += da_f * p_f
        da = [da_i | da_f | da_g | da_o]   dW_h += h_prev^T da      dh_prev = da W_h^T

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
        projection (PyTorch's convention).
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator

    Attributes
    ----------
    params : dict
        ``W_x`` (D, 4H), ``W_h`` (H, 4H), ``b`` (4H,) [, ``p_i``, ``p_f``,
        ``p_o`` (H,)]. With ``coupled`` the fused width is 3H. With
        ``proj_size=P``, ``W_h`` is (P, 4H) and ``W_hr`` (H, P). PyTorch's
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
        self.num_gates = 3 if self.coupled else 4
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
        if self.peephole:
            for name in ("p_i", "p_f", "p_o"):
                if not (self.coupled and name == "p_i"):
                    self.add_param(name, np.zeros(H, dtype=self.dtype))

    @property
    def output_size(self):
        """The width of h: P with a projection, else H."""
        return self.proj_size or self.hidden_size

    @property
    def gates(self):
        """The fused gate order: ``"ifgo"``, or ``"fgo"`` when coupled."""
        return "fgo" if self.coupled else "ifgo"

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

        ``da_i`` is None when the cell is coupled. ``out``, if given, receives
        the result (the wrapper passes its row of a (T, N, G*H) buffer).
        """
        blocks = (da_f, da_g, da_o) if self.coupled else (da_i, da_f, da_g, da_o)
        return np.concatenate(blocks, axis=1, out=out)

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

    def initial_state(self, N):
        """Zeros for h and c: ``LSTMState(h, c)``, each (N, H) (h: (N, P) with a projection)."""
        c = super().initial_state(N)  # (N, H)
        return LSTMState(np.zeros((c.shape[0], self.output_size), dtype=self.dtype), c)

    def split_state(self, state):
        if type(state) is LSTMState:  # the common case, in every step of a loop
            return state
        if not isinstance(state, tuple) or len(state) != 2:
            self.check_state(state, None)  # raises, saying what an LSTM state is
        return (state[0], state[1])

    def join_state(self, arrays):
        return LSTMState(*arrays)

    def check_state(self, state, N, name="state"):
        if not isinstance(state, tuple) or len(state) != 2:
            raise TypeError(
                f"{name}: expected LSTMState(h, c) with h of shape (N, {self._h_symbol}) and c "
                f"of shape (N, H), got "
                + (f"an array of shape {state.shape}" if isinstance(state, np.ndarray)
                   else f"a {type(state).__name__}")
            )
        h = self.check_hidden(state[0], N, f"{name}.h", self.output_size, self._h_symbol)
        c = self.check_hidden(state[1], N, f"{name}.c")
        return LSTMState(h, c)

    def step(self, xw, state, x=None, *, check=True):
        """Recurrent part of one step, given ``xw = x W_x + b`` (N, G*H).

        ``check=False`` skips the argument checks (for the wrapper's hot loop).
        """
        if check:
            xw, state = self.check_step(xw, state)
        h_prev, c_prev = state
        p_i, p_f, p_o = self.peephole_weights()  # (H,) each, or 0.0 without peepholes
        a = xw + h_prev @ self.params["W_h"]  # (N, G*H)
        a_i, a_f, a_g, a_o = self.split_gates(a)  # (N, H) each; a_i is None when coupled
        f = sigmoid(a_f + p_f * c_prev)  # forget gate
        i = 1.0 - f if self.coupled else sigmoid(a_i + p_i * c_prev)  # input gate
        g = tanh(a_g)  # candidate
        c = f * c_prev + i * g  # the additive cell path
        o = sigmoid(a_o + p_o * c)  # output gate (its peephole sees the new cell)
        tanh_c = tanh(c)
        h = o * tanh_c
        if self.proj_size:  # the recurrent projection (Sak et al. 2014)
            h = h @ self.params["W_hr"]  # (N, P)
        return LSTMState(h, c), LSTMCache(x, h_prev, c_prev, i, f, g, o, c, tanh_c)

    def backward_step(self, dstate, cache, *, defer_dW_h=False, check=True, out=None):
        """Backward of :meth:`step`: returns ``(da, dstate_prev)``; accumulates dW_h, dp_*.

        ``da`` (N, G*H) is the gradient of the gates' pre-activations, which is
        also the gradient of ``xw``. With ``defer_dW_h=True`` dW_h is left to
        :meth:`backward_dW_h`. ``out`` (N, G*H), if given, receives ``da``.
        """
        if check:
            dstate = self.check_state(
                dstate, self.check_cache(cache).h_prev.shape[0], name="dstate")
        dh, dc = dstate
        h_prev, c_prev, c, tanh_c = cache.h_prev, cache.c_prev, cache.c, cache.tanh_c
        i, f, g, o = cache.i, cache.f, cache.g, cache.o
        p_i, p_f, p_o = self.peephole_weights()
        grads = self.grads
        if self.proj_size:  # h = (o * tanh_c) W_hr: dh becomes the gradient of o * tanh_c
            grads["W_hr"] += (o * tanh_c).T @ dh
            dh = dh @ self.params["W_hr"].T  # (N, H)
        do = dh * tanh_c  # h = o * tanh_c
        dtanh_c = dh * o
        da_o = do * dsigmoid(o)  # o = sigmoid(a_o + p_o * c)
        dc_all = dc + dtanh_c * dtanh(tanh_c) + da_o * p_o  # c feeds tanh_c, o and the next step
        di = dc_all * g  # c = f * c_prev + i * g
        dg = dc_all * i
        df = dc_all * c_prev
        dc_prev = dc_all * f
        da_g = dg * dtanh(g)  # g = tanh(a_g)
        if self.coupled:  # i = 1 - f: there is no a_i, and di reaches f with a minus
            da_i = None
            df -= di
        else:
            da_i = di * dsigmoid(i)  # i = sigmoid(a_i + p_i * c_prev)
            dc_prev += da_i * p_i
        da_f = df * dsigmoid(f)  # f = sigmoid(a_f + p_f * c_prev)
        dc_prev += da_f * p_f
        if self.peephole:  # a weight broadcast over the batch sums its gradient over it
            grads["p_o"] += (da_o * c).sum(axis=0)
            grads["p_f"] += (da_f * c_prev).sum(axis=0)
            if not self.coupled:
                grads["p_i"] += (da_i * c_prev).sum(axis=0)
        da = self.join_gates(da_i, da_f, da_g, da_o, out=out)  # (N, G*H)
        if not defer_dW_h:
            grads["W_h"] += h_prev.T @ da  # a = xw + h_prev W_h
        dh_prev = da @ self.params["W_h"].T
        return da, LSTMState(dh_prev, dc_prev)

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
        return None

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
        return extra + super()._extra_repr()


def check_proj_size(proj_size, hidden_size):
    """Check an LSTM's ``proj_size``: an integer, 0 (no projection) or in [1, hidden_size).

    PyTorch refuses the same values: a projection is meant to be smaller than
    the cell.

    Examples
    --------
    >>> check_proj_size(2, 5)
    2
    >>> check_proj_size(5, 5)
    Traceback (most recent call last):
    ...
    ValueError: proj_size: expected 0 (no projection) or an integer in [1, hidden_size) = [1, 5), got 5
    """
    if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
        raise TypeError(
            f"proj_size: expected an integer, got {type(proj_size).__name__} {proj_size!r}")
    if proj_size != 0 and not 1 <= proj_size < hidden_size:
        raise ValueError(
            f"proj_size: expected 0 (no projection) or an integer in [1, hidden_size) = "
            f"[1, {hidden_size}), got {proj_size}")
    return int(proj_size)
