"""The plain (Elman) recurrent cell, with tanh or ReLU."""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .cell import Cell
from .functional import drelu, dtanh, relu, tanh
from .init import pytorch_uniform

__all__ = ["RNNCell", "RNNCache"]


class RNNCache(NamedTuple):
    """What one RNN step keeps for its backward.

    Examples
    --------
    >>> import numpy as np
    >>> cell = RNNCell(2, 3, rng=0)
    >>> h, cache = cell.forward(np.ones((1, 2)), cell.initial_state(1))
    >>> cache._fields, cache.h is h
    (('x', 'h_prev', 'h'), True)
    """

    x: Optional[np.ndarray]  # (N, D) the input (None when the wrapper keeps it)
    h_prev: np.ndarray  # (N, H)
    h: np.ndarray  # (N, H) the output, act(a); the derivative is read from it


class RNNCell(Cell):
    """Elman recurrent cell: one time step of ``h = act(x W_x + h_prev W_h + b)``.

    Equations (row vectors; N batch, D input, H hidden)::

        a = x W_x + h_prev W_h + b        (N, H)
        h = act(a)                        act = tanh or relu

    Backward, with dh = dL/dh::

        da       = dh * act'(h)           tanh' = 1 - h^2, relu' = [h > 0]
        dW_x    += x^T da      dW_h += h_prev^T da      db += sum_n da
        dx       = da W_x^T    dh_prev = da W_h^T

    ReLU instead of tanh is the remedy for vanishing gradients of Le et al.
    (2015), usually with W_h initialised to the identity.

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H.
    nonlinearity : {"tanh", "relu"}
    bias : bool
        With ``False`` there is no ``b``.
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator
        Source of the initial weights, U(-1/sqrt(H), 1/sqrt(H)) like PyTorch.

    Attributes
    ----------
    params : dict
        ``W_x`` (D, H), ``W_h`` (H, H), ``b`` (H,). PyTorch's ``nn.RNNCell``
        holds ``weight_ih = W_x.T``, ``weight_hh = W_h.T`` and two biases whose
        sum is ``b``.

    References
    ----------
    Elman, J. L. (1990). Finding structure in time. Cognitive Science 14(2).

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> cell = ll.RNNCell(3, 5, rng=0)
    >>> x = np.ones((2, 3))
    >>> h, cache = cell.forward(x, cell.initial_state(2))
    >>> h.shape
    (2, 5)
    >>> dx, dh_prev = cell.backward(np.ones_like(h), cache)
    >>> dx.shape, dh_prev.shape, cell.grads["W_h"].shape
    ((2, 3), (2, 5), (5, 5))
    >>> ll.RNNCell(3, 5, nonlinearity="relu", bias=False)
    RNNCell(3, 5, nonlinearity='relu', bias=False)
    """

    num_gates = 1
    cache_type = RNNCache

    def __init__(
        self, input_size, hidden_size, *, nonlinearity="tanh", bias=True, dtype=np.float64, rng=None
    ):
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, rng=rng)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        D, H, GH = self.input_size, self.hidden_size, self.gate_width  # GH = H: one "gate"
        self.add_param("W_x", pytorch_uniform((D, GH), H, self.rng, self.dtype))
        self.add_param("W_h", pytorch_uniform((H, GH), H, self.rng, self.dtype))
        if self.bias:
            self.add_param("b", pytorch_uniform((GH,), H, self.rng, self.dtype))

    def step(self, xw, h_prev, x=None, *, check=True):
        """Recurrent part of one step, given ``xw = x W_x + b`` (N, H).

        ``check=False`` skips the argument checks (the wrapper's hot loop, whose
        inputs are checked once for all steps).
        """
        if check:
            xw, h_prev = self.check_step(xw, h_prev)
        a = xw + h_prev @ self.params["W_h"]  # (N, H)
        h = tanh(a) if self.nonlinearity == "tanh" else relu(a)
        return h, RNNCache(x, h_prev, h)

    def backward_step(self, dh, cache, *, defer_dW_h=False, check=True, out=None):
        """Backward of :meth:`step`: returns ``(da, dh_prev)``; accumulates dW_h.

        With ``defer_dW_h=True`` dW_h is left to :meth:`backward_dW_h`.
        ``out`` (N, H), if given, receives ``da``.
        """
        if check:
            dh = self.check_state(dh, self.check_cache(cache).h_prev.shape[0], name="dstate")
        h_prev, h = cache.h_prev, cache.h
        dact = dtanh(h) if self.nonlinearity == "tanh" else drelu(h)  # act'(a), read from h
        da = np.multiply(dh, dact, out=out)  # h = act(a)
        if not defer_dW_h:
            self.grads["W_h"] += h_prev.T @ da  # a = xw + h_prev W_h
        dh_prev = da @ self.params["W_h"].T
        return da, dh_prev

    def _extra_repr(self):
        extra = "" if self.nonlinearity == "tanh" else ", nonlinearity='relu'"
        return extra + super()._extra_repr()
