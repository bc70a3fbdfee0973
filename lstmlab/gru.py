"""The gated recurrent unit, in PyTorch's (reset after) and Cho et al.'s (reset before) forms."""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .cell import Cell
from .functional import dsigmoid, dtanh, sigmoid, tanh
from .init import pytorch_uniform

__all__ = ["GRUCell", "GRUCache"]


class GRUCache(NamedTuple):
    """What one GRU step keeps for its backward: the equations' symbols.

    Examples
    --------
    >>> import numpy as np
    >>> cell = GRUCell(2, 3, rng=0)
    >>> h, cache = cell.forward(np.ones((1, 2)), cell.initial_state(1))
    >>> cache._fields
    ('x', 'h_prev', 'r', 'z', 'n', 'hn')
    >>> bool(np.allclose(h, (1 - cache.z) * cache.n + cache.z * cache.h_prev))
    True
    """

    x: Optional[np.ndarray]  # (N, D) (None when the wrapper keeps the inputs)
    h_prev: np.ndarray  # (N, H)
    r: np.ndarray  # (N, H) reset gate
    z: np.ndarray  # (N, H) update gate
    n: np.ndarray  # (N, H) candidate
    hn: np.ndarray  # (N, H) reset after: h_prev W_hn + b_hn;  reset before: r * h_prev


class GRUCell(Cell):
    """Gated recurrent unit (Cho et al. 2014): one time step.

    Equations (row vectors, gates fused as r, z, n like PyTorch)::

        r = sigmoid(x W_xr + b_r + h_prev W_hr)          reset gate
        z = sigmoid(x W_xz + b_z + h_prev W_hz)          update gate
        hn = h_prev W_hn + b_hn,  n = tanh(x W_xn + b_n + r * hn)    reset_after=True
        hn = r * h_prev,          n = tanh(x W_xn + b_n + hn W_hn)   reset_after=False
        h = (1 - z) * n + z * h_prev

    ``reset_after=True`` is PyTorch's and cuDNN's form: the reset gate scales
    the recurrent product after it is taken, so ``h_prev W_h`` for all three
    gates is one product, and the candidate has its own recurrent bias
    ``b_hn``. ``reset_after=False`` is the form of Cho et al. (2014): the reset
    gate scales h_prev before the product, so the candidate's product waits
    for r (a second round of products per step).

    Cho et al. (2014) mix the same way. Other texts (Chung et al. 2014, some
    tutorials) write ``h = z * n + (1 - z) * h_prev``: their z is ``1 - z``. Their
    weights map onto these by negating the update gate's weights and bias,
    ``W_z -> -W_z, b_z -> -b_z``, since ``1 - sigmoid(a) = sigmoid(-a)``.

    Backward, with dh = dL/dh, the forward's lines in reverse order::

        dn = dh * (1 - z)      dz = dh * (h_prev - n)      dh_prev = dh * z
        da_n = dn * (1 - n^2)  da_z = dz * z (1 - z)
        reset after:  dr = da_n * hn     dhn = da_n * r
                      da_r = dr * r (1 - r)
                      dhw = [da_r | da_z | dhn]   dW_h += h_prev^T dhw   db_hn += sum dhn
                      dh_prev += dhw W_h^T
        reset before: dhn = da_n W_hn^T  dr = dhn * h_prev   dh_prev += dhn * r
                      da_r = dr * r (1 - r)
                      dW_hr += h_prev^T da_r   dW_hz += h_prev^T da_z   dW_hn += hn^T da_n
                      dh_prev += da_r W_hr^T + da_z W_hz^T
        da = [da_r | da_z | da_n]   (the gradient of xw = x W_x + b)

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    reset_after : bool
        PyTorch's form (True, default) or Cho et al.'s (False).
    bias : bool
    dtype : floating dtype, default float64
    rng : None, int or np.random.Generator

    Attributes
    ----------
    params : dict
        ``W_x`` (D, 3H), ``W_h`` (H, 3H), ``b`` (3H,), and with reset_after
        ``b_hn`` (H,). From PyTorch's ``nn.GRUCell``: ``W_x = weight_ih.T``,
        ``W_h = weight_hh.T``, ``b[:2H] = bias_ih[:2H] + bias_hh[:2H]``,
        ``b[2H:] = bias_ih[2H:]``, ``b_hn = bias_hh[2H:]``.

    References
    ----------
    Cho, K. et al. (2014). Learning phrase representations using RNN
    encoder-decoder for statistical machine translation.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> cell = ll.GRUCell(3, 5, rng=0)
    >>> h, cache = cell.forward(np.ones((2, 3)), cell.initial_state(2))
    >>> h.shape, cache.z.shape
    ((2, 5), (2, 5))
    >>> dx, dh_prev = cell.backward(np.ones((2, 5)), cache)
    >>> sorted(cell.grads)
    ['W_h', 'W_x', 'b', 'b_hn']
    >>> ll.GRUCell(3, 5, reset_after=False, bias=False)
    GRUCell(3, 5, reset_after=False, bias=False)
    """

    num_gates = 3
    cache_type = GRUCache

    def __init__(
        self, input_size, hidden_size, *, reset_after=True, bias=True, dtype=np.float64, rng=None
    ):
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, rng=rng)
        self.reset_after = bool(reset_after)
        D, H, GH = self.input_size, self.hidden_size, self.gate_width
        self.add_param("W_x", pytorch_uniform((D, GH), H, self.rng, self.dtype))
        self.add_param("W_h", pytorch_uniform((H, GH), H, self.rng, self.dtype))
        if self.bias:
            self.add_param("b", pytorch_uniform((GH,), H, self.rng, self.dtype))
            if self.reset_after:
                self.add_param("b_hn", pytorch_uniform((H,), H, self.rng, self.dtype))

    def split_gates(self, a):
        """The gates' blocks of a fused (..., 3H) array: ``a_r, a_z, a_n`` (views).

        Examples
        --------
        >>> import numpy as np
        >>> a_r, a_z, a_n = GRUCell(2, 3).split_gates(np.arange(9.0))
        >>> a_n
        array([6., 7., 8.])
        """
        H = self.hidden_size
        return a[..., :H], a[..., H : 2 * H], a[..., 2 * H :]

    def step(self, xw, h_prev, x=None, *, check=True):
        """Recurrent part of one step, given ``xw = x W_x + b`` (N, 3H).

        ``check=False`` skips the argument checks (for the wrapper's hot loop).
        """
        if check:
            xw, h_prev = self.check_step(xw, h_prev)
        W_h = self.params["W_h"]  # (H, 3H)
        b_hn = self.params.get("b_hn", 0.0)  # (H,), or 0.0 without biases
        xw_r, xw_z, xw_n = self.split_gates(xw)  # (N, H) each: x W_x + b, gate by gate
        if self.reset_after:
            hw_r, hw_z, hw_n = self.split_gates(h_prev @ W_h)  # one product for all three gates
            r = sigmoid(xw_r + hw_r)  # reset gate
            z = sigmoid(xw_z + hw_z)  # update gate
            hn = hw_n + b_hn  # (N, H), a new array: the cache keeps H values, not 3H
            n = tanh(xw_n + r * hn)  # candidate: r scales the recurrent part after the product
        else:
            W_hr, W_hz, W_hn = self.split_gates(W_h)  # (H, H) each
            r = sigmoid(xw_r + h_prev @ W_hr)  # reset gate
            z = sigmoid(xw_z + h_prev @ W_hz)  # update gate
            hn = r * h_prev
            n = tanh(xw_n + hn @ W_hn)  # candidate: r scales h_prev before the product
        h = (1.0 - z) * n + z * h_prev
        return h, GRUCache(x, h_prev, r, z, n, hn)

    def backward_step(self, dh, cache, *, defer_dW_h=False, check=True, out=None):
        """Backward of :meth:`step`: returns ``(da, dh_prev)``; accumulates dW_h, db_hn.

        ``da`` (N, 3H) is the gradient of ``xw``. With ``defer_dW_h=True`` the
        recurrent parameters' gradients (dW_h, db_hn) are left to :meth:`backward_dW_h`.
        ``out`` (N, 3H), if given, receives ``da``.
        """
        if check:
            dh = self.check_state(dh, self.check_cache(cache).h_prev.shape[0], name="dstate")
        h_prev, r, z, n, hn = cache.h_prev, cache.r, cache.z, cache.n, cache.hn
        W_h, grads = self.params["W_h"], self.grads
        dn = dh * (1.0 - z)  # h = (1 - z) * n + z * h_prev
        dz = dh * (h_prev - n)
        dh_prev = dh * z
        da_n = dn * dtanh(n)  # n = tanh(a_n)
        da_z = dz * dsigmoid(z)  # z = sigmoid(a_z)
        if self.reset_after:  # a_n = xw_n + r * hn,  hn = h_prev W_hn + b_hn
            dr = da_n * hn
            dhn = da_n * r
            da_r = dr * dsigmoid(r)  # r = sigmoid(a_r)
            dhw = np.concatenate((da_r, da_z, dhn), axis=1)  # (N, 3H): gradient of h_prev W_h
            if not defer_dW_h:
                grads["W_h"] += h_prev.T @ dhw
                if self.bias:
                    grads["b_hn"] += dhn.sum(axis=0)
            dh_prev += dhw @ W_h.T
        else:  # a_n = xw_n + hn W_hn,  hn = r * h_prev
            W_hr, W_hz, W_hn = self.split_gates(W_h)
            dhn = da_n @ W_hn.T
            dr = dhn * h_prev
            dh_prev += dhn * r
            da_r = dr * dsigmoid(r)  # r = sigmoid(a_r)
            if not defer_dW_h:
                dW_hr, dW_hz, dW_hn = self.split_gates(grads["W_h"])  # views: += writes grads
                dW_hr += h_prev.T @ da_r
                dW_hz += h_prev.T @ da_z
                dW_hn += hn.T @ da_n
            dh_prev += da_r @ W_hr.T + da_z @ W_hz.T
        da = np.concatenate((da_r, da_z, da_n), axis=1, out=out)  # (N, 3H)
        return da, dh_prev

    def backward_dW_h(self, caches, dxws):
        """Accumulate dW_h (and db_hn) for many steps at once (see Cell.backward_dW_h).

        The same sums as :meth:`backward_step`, over all T*N rows at once:
        reset after, ``dhw = [da_r | da_z | da_n * r]`` multiplies ``h_prev``;
        reset before, the n block multiplies ``hn = r * h_prev`` instead.
        """
        if len(caches) == 0:
            return
        H = self.hidden_size
        h_prev = np.stack([cache.h_prev for cache in caches]).reshape(-1, H)  # (T*N, H)
        hn = np.stack([cache.hn for cache in caches]).reshape(-1, H)
        da_r, da_z, da_n = self.split_gates(dxws.reshape(-1, self.gate_width))
        dW_hr, dW_hz, dW_hn = self.split_gates(self.grads["W_h"])  # views: += writes grads
        dW_hr += h_prev.T @ da_r
        dW_hz += h_prev.T @ da_z
        if self.reset_after:
            r = np.stack([cache.r for cache in caches]).reshape(-1, H)
            dhn = da_n * r  # (T*N, H)
            dW_hn += h_prev.T @ dhn
            if self.bias:
                self.grads["b_hn"] += dhn.sum(axis=0)
        else:
            dW_hn += hn.T @ da_n

    # -- PyTorch: the candidate's two biases stay apart ------------------------------------
    def torch_unsupported(self):
        """Why this cell has no ``nn.GRUCell`` counterpart, or None."""
        if not self.reset_after:
            return ("GRUCell(reset_after=False) has no PyTorch counterpart: nn.GRU applies the "
                    "reset gate after the recurrent product (reset_after=True)")
        return None

    def to_torch(self, arrays, grads=False):
        """As :meth:`Cell.to_torch`, but ``bias_hh = [0, 0, b_hn]`` (grads ``[db_r, db_z, db_hn]``).

        PyTorch's ``bias_ih[2H:]`` is our ``b_n`` (outside the reset) and
        ``bias_hh[2H:]`` our ``b_hn`` (inside it); r and z's biases are summed.
        """
        out = super().to_torch(arrays, grads)
        if self.bias:
            H = self.hidden_size
            out["bias_hh"][2 * H :] = arrays["b_hn"]
        return out

    def from_torch(self, tensors):
        """As :meth:`Cell.from_torch`, but ``b_n = bias_ih[2H:]`` and ``b_hn = bias_hh[2H:]``."""
        new = super().from_torch(tensors)
        if self.bias:
            H = self.hidden_size
            new["b"][2 * H :] = tensors["bias_ih"][2 * H :]
            new["b_hn"] = tensors["bias_hh"][2 * H :]
        return new

    def _extra_repr(self):
        extra = "" if self.reset_after else ", reset_after=False"
        return extra + super()._extra_repr()
