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
    ('x', 'h_prev', 'c_prev', 'i', 'f', 'g', 'o', 'c', 'tanh_c', 'gates')
    >>> bool(np.allclose(state.c, cache.f * cache.c_prev + cache.i * cache.g))
    True
    """

    x: Optional[np.ndarray]  # (N, D) (None when the wrapper keeps the inputs)
    h_prev: np.ndarray  # (N, H)
    c_prev: np.ndarray  # (N, H)
    i: np.ndarray  # (N, H) input gate (1 - f when coupled)
    f: np.ndarray  # (N, H) forget gate
    g: np.ndarray  # (N, H) candidate
    o: np.ndarray  # (N, H) output gate
    c: np.ndarray  # (N, H) new cell
    tanh_c: np.ndarray  # (N, H)
    gates: np.ndarray  # (N, G*H) the gate values side by side; i, f, g, o are views into it


class LSTMCell(Cell):
    """Long short-term memory cell: one time step.

    Equations (row vectors, gates fused as i, f, g, o like PyTorch)::

        a = x W_x + h_prev W_h + b                      (N, 4H)
        i = sigmoid(a_i [+ p_i * c_prev])               input gate
        f = sigmoid(a_f [+ p_f * c_prev])               forget gate
        g = tanh(a_g)                                   candidate
        c = f * c_prev + i * g                          the additive cell path
        o = sigmoid(a_o [+ p_o * c])                    output gate
        h = o * tanh(c)

    The bracketed terms are the peepholes of Gers & Schmidhuber (2000),
    ``peephole=True``: diagonal weights from the cell into the gates (from the
    old cell into i and f, from the new cell into o). With ``coupled=True``
    (CIFG, Greff et al. 2015) the input gate is tied to the forget gate,
    ``i = 1 - f``: the cell forgets exactly as much as it writes, and the gates
    are fused as f, g, o (3H columns, no input-gate weights).

    Backward, with dh = dL/dh and dc = dL/dc arriving from the next step::

        do      = dh * tanh_c
        dc_all  = dc + dh * o * (1 - tanh_c^2)  [+ da_o * p_o]
        da_o    = do * o (1 - o)
        di = dc_all * g    df = dc_all * c_prev    dg = dc_all * i
        (coupled: i = 1 - f, so df gets -di and there is no a_i)
        da_i = di * i (1 - i)   da_f = df * f (1 - f)   da_g = dg * (1 - g^2)
        dc_prev = dc_all * f  [+ da_i * p_i + da_f * p_f]
        dW_h += h_prev^T da      dh_prev = da W_h^T

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
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator

    Attributes
    ----------
    params : dict
        ``W_x`` (D, 4H), ``W_h`` (H, 4H), ``b`` (4H,) [, ``p_i``, ``p_f``,
        ``p_o`` (H,)]. With ``coupled`` the fused width is 3H. PyTorch's
        ``nn.LSTMCell`` holds ``weight_ih = W_x.T``, ``weight_hh = W_h.T`` and
        ``bias_ih + bias_hh = b``.

    References
    ----------
    Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory.
    Gers, F. A., Schmidhuber, J. & Cummins, F. (2000). Learning to forget.
    Gers, F. A. & Schmidhuber, J. (2000). Recurrent nets that time and count.
    Greff, K. et al. (2015). LSTM: A search space odyssey.

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
        self.num_gates = 3 if self.coupled else 4
        # The gates' column slices, looked up once: a step is called T times.
        self._s = {gate: self.gate_slice(gate) for gate in self.gates}
        # sigmoid(a) = (1 + tanh(a / 2)) / 2, so one tanh call serves all four gates:
        # scale the sigmoid columns by 1/2 before it and map them to [0, 1] after it,
        # leaving g = tanh(a_g) as it is (see step). _beta, _gamma: the derivatives.
        self._half = np.full(self.num_gates * hidden_size, 0.5, dtype=self.dtype)
        self._half[self._s["g"]] = 1.0  # (G*H,) 1/2 on sigmoid columns, 1 on g
        self._shift = np.full_like(self._half, 0.5)
        self._shift[self._s["g"]] = 0.0  # (G*H,) 1/2 on sigmoid columns, 0 on g
        self._beta = 2.0 * self._shift  # 1 on sigmoid columns, 0 on g
        self._gamma = 1.0 - self._beta  # 0 on sigmoid columns, 1 on g
        D, H, G = self.input_size, self.hidden_size, self.num_gates
        self.add_param("W_x", pytorch_uniform((D, G * H), H, self.rng, self.dtype))
        self.add_param("W_h", pytorch_uniform((H, G * H), H, self.rng, self.dtype))
        if self.bias:
            b = pytorch_uniform((G * H,), H, self.rng, self.dtype)
            if self.forget_bias != 0.0:
                b[self.gate_slice("f")] = self.forget_bias
            self.add_param("b", b)
        if self.peephole:
            for name in ("p_i", "p_f", "p_o"):
                if not (self.coupled and name == "p_i"):
                    self.add_param(name, np.zeros(H, dtype=self.dtype))

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

    def initial_state(self, N):
        """Zeros for h and c: ``LSTMState(h, c)``, each (N, H)."""
        h = super().initial_state(N)
        return LSTMState(h, np.zeros_like(h))

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
                f"{name}: expected LSTMState(h, c) with h and c of shape (N, H), got "
                + (f"an array of shape {state.shape}" if isinstance(state, np.ndarray)
                   else f"a {type(state).__name__}")
            )
        h = self.check_hidden(state[0], N, f"{name}.h")
        c = self.check_hidden(state[1], N, f"{name}.c")
        return LSTMState(h, c)

    def step(self, xw, state, x=None, *, check=True):
        """Recurrent part of one step, given ``xw = x W_x + b`` (N, G*H).

        ``check=False`` skips the argument checks (for the wrapper's hot loop).
        """
        if check:
            xw, state = self.check_step(xw, state)
        h_prev, c_prev = state
        p, s = self.params, self._s
        a = xw + h_prev @ p["W_h"]  # (N, G*H), a fresh array we may overwrite
        if self.peephole:
            if not self.coupled:
                a[:, s["i"]] += c_prev * p["p_i"]
            a[:, s["f"]] += c_prev * p["p_f"]
            a_o = a[:, s["o"]].copy()  # o also needs the new cell
        # All gates with ONE tanh call: sigmoid(a) = (1 + tanh(a/2)) / 2 on the
        # i, f, o columns, plain tanh(a) on the g columns (_half and _shift say which).
        a *= self._half
        gates = tanh(a, out=a)
        gates *= self._half
        gates += self._shift  # (N, G*H): [i f g o] side by side
        f, g, o = gates[:, s["f"]], gates[:, s["g"]], gates[:, s["o"]]
        i = 1.0 - f if self.coupled else gates[:, s["i"]]
        c = f * c_prev
        c += i * g  # c = f * c_prev + i * g
        if self.peephole:
            o[...] = sigmoid(a_o + c * p["p_o"])  # (Gers & Schmidhuber: o peeks at the new c)
        tanh_c = tanh(c)
        h = o * tanh_c
        return LSTMState(h, c), LSTMCache(x, h_prev, c_prev, i, f, g, o, c, tanh_c, gates)

    def backward_step(self, dstate, cache, *, defer_dW_h=False, check=True, out=None):
        """Backward of :meth:`step`: returns ``(da, dstate_prev)``; accumulates dW_h, dp_*.

        ``da`` (N, G*H) is the gradient of the gates' pre-activations, which is
        also the gradient of ``xw``. With ``defer_dW_h=True`` dW_h is left to
        :meth:`backward_dW_h`. ``out`` (N, G*H), if given, receives ``da``
        (the wrapper passes its row of the (T, N, G*H) buffer: no copy).
        """
        if check:
            dstate = self.check_state(
                dstate, self.check_cache(cache).h_prev.shape[0], name="dstate")
        dh, dc = dstate
        _, h_prev, c_prev, i, f, g, o, c, tanh_c, gates = cache
        p, grads, s = self.params, self.grads, self._s
        # First the gradients of the gate VALUES, written side by side into da ...
        da = np.empty_like(gates) if out is None else out  # (N, G*H)
        do = np.multiply(dh, tanh_c, out=da[:, s["o"]])  # h = o * tanh(c)
        dc_all = dh * o
        dc_all *= dtanh(tanh_c)
        dc_all += dc  # dL/dc: through h, plus from the next step
        if self.peephole:
            da_o = do * dsigmoid(o)  # o = sigmoid(a_o + p_o * c) also depends on c
            dc_all += da_o * p["p_o"]
            grads["p_o"] += (da_o * c).sum(axis=0)
        np.multiply(dc_all, c_prev, out=da[:, s["f"]])  # c = f * c_prev + i * g
        np.multiply(dc_all, i, out=da[:, s["g"]])
        if self.coupled:
            da[:, s["f"]] -= dc_all * g  # i = 1 - f: di flows into df with a minus
        else:
            np.multiply(dc_all, g, out=da[:, s["i"]])
        # ... then times the activations' derivatives, all columns at once:
        # sigmoid' = s (1 - s) and tanh' = 1 - g^2 are both gates * (beta - gates) + gamma.
        dact = self._beta - gates
        dact *= gates
        dact += self._gamma
        da *= dact  # (N, G*H): gradients of the pre-activations a
        dc_prev = dc_all * f
        if self.peephole:
            da_f = da[:, s["f"]]
            dc_prev += da_f * p["p_f"]
            grads["p_f"] += (da_f * c_prev).sum(axis=0)
            if not self.coupled:
                da_i = da[:, s["i"]]
                dc_prev += da_i * p["p_i"]
                grads["p_i"] += (da_i * c_prev).sum(axis=0)
        if not defer_dW_h:
            grads["W_h"] += h_prev.T @ da
        dh_prev = da @ p["W_h"].T
        return da, LSTMState(dh_prev, dc_prev)

    def _extra_repr(self):
        extra = ""
        if self.peephole:
            extra += ", peephole=True"
        if self.coupled:
            extra += ", coupled=True"
        if self.forget_bias:
            extra += f", forget_bias={self.forget_bias}"
        return extra + super()._extra_repr()

