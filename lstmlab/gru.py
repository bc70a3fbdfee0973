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

        r = sigmoid(x W_xr + h_prev W_hr + b_r)          reset gate
        z = sigmoid(x W_xz + h_prev W_hz + b_z)          update gate
        n = tanh(x W_xn + b_n + r * (h_prev W_hn + b_hn))    reset_after=True
        n = tanh(x W_xn + (r * h_prev) W_hn + b_n)           reset_after=False
        h = (1 - z) * n + z * h_prev

    ``reset_after=True`` is PyTorch's and cuDNN's form: the reset gate scales
    the recurrent product after it is taken, so ``h_prev W_h`` for all three
    gates is one product, and the candidate has its own recurrent bias
    ``b_hn``. ``reset_after=False`` is the form of Cho et al. (2014): the reset
    gate scales h_prev before the product, so the candidate's product waits
    for r (two products per step).

    Cho et al. (2014) mix the same way. Other texts (Chung et al. 2014, some
    tutorials) write ``h = z * n + (1 - z) * h_prev``: their z is ``1 - z``. Their
    weights map onto these by negating the update gate's weights and bias,
    ``W_z -> -W_z, b_z -> -b_z``, since ``1 - sigmoid(a) = sigmoid(-a)``.

    Backward, with dh = dL/dh::

        dn = dh * (1 - z)      dz = dh * (h_prev - n)      dh_prev = dh * z
        da_n = dn * (1 - n^2)  da_z = dz * z (1 - z)
        reset after:  dr = da_n * hn;  d(h_prev W_hn + b_hn) = da_n * r
        reset before: d(r h_prev) = da_n W_hn^T;  dr = d(r h_prev) * h_prev
        da_r = dr * r (1 - r)

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
    """

    num_gates = 3
    cache_type = GRUCache

    def __init__(
        self, input_size, hidden_size, *, reset_after=True, bias=True, dtype=np.float64, rng=None
    ):
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, rng=rng)
        self.reset_after = bool(reset_after)
        D, H = self.input_size, self.hidden_size
        self.add_param("W_x", pytorch_uniform((D, 3 * H), H, self.rng, self.dtype))
        self.add_param("W_h", pytorch_uniform((H, 3 * H), H, self.rng, self.dtype))
        if self.bias:
            self.add_param("b", pytorch_uniform((3 * H,), H, self.rng, self.dtype))
            if self.reset_after:
                self.add_param("b_hn", pytorch_uniform((H,), H, self.rng, self.dtype))

    def step(self, xw, h_prev, x=None, *, check=True):
        """Recurrent part of one step, given ``xw = x W_x + b`` (N, 3H).

        ``check=False`` skips the argument checks (for the wrapper's hot loop).
        """
        if check:
            xw, h_prev = self.check_step(xw, h_prev)
        H = self.hidden_size
        W_h = self.params["W_h"]
        if self.reset_after:
            hw = h_prev @ W_h  # (N, 3H): one product for all three gates
            # hn is a new (N, H) array, not a view of hw: the cache then keeps H
            # values for it instead of the whole (N, 3H) product
            hn = hw[:, 2 * H :] + self.params["b_hn"] if self.bias else hw[:, 2 * H :].copy()
            rz = sigmoid(xw[:, : 2 * H] + hw[:, : 2 * H])
            r, z = rz[:, :H], rz[:, H:]
            n = tanh(xw[:, 2 * H :] + r * hn)
        else:
            rz = sigmoid(xw[:, : 2 * H] + h_prev @ W_h[:, : 2 * H])
            r, z = rz[:, :H], rz[:, H:]
            hn = r * h_prev
            n = tanh(xw[:, 2 * H :] + hn @ W_h[:, 2 * H :])
        h = n + z * (h_prev - n)  # = (1 - z) * n + z * h_prev
        return h, GRUCache(x, h_prev, r, z, n, hn)

    def backward_step(self, dh, cache, *, defer_dW_h=False, check=True, out=None):
        """Backward of :meth:`step`: returns ``(da, dh_prev)``; accumulates dW_h, db_hn.

        ``da`` (N, 3H) is the gradient of ``xw``. With ``defer_dW_h=True`` the
        recurrent parameters' gradients (dW_h, db_hn) are left to :meth:`backward_dW_h`.
        ``out`` (N, 3H), if given, receives ``da``.
        """
        if check:
            dh = self.check_state(dh, self.check_cache(cache).h_prev.shape[0], name="dstate")
        H = self.hidden_size
        h_prev, r, z, n, hn = cache[1:]
        W_h, grads = self.params["W_h"], self.grads
        da = np.empty((dh.shape[0], 3 * H), dtype=dh.dtype) if out is None else out  # r, z, n
        da_r, da_z, da_n = da[:, :H], da[:, H : 2 * H], da[:, 2 * H :]
        np.multiply(dh * (1.0 - z), dtanh(n), out=da_n)
        np.multiply(dh * (h_prev - n), dsigmoid(z), out=da_z)
        dh_prev = dh * z
        if self.reset_after:
            np.multiply(da_n * hn, dsigmoid(r), out=da_r)
            dhw = da.copy()  # gradient of h_prev W_h: r and z as for x, n scaled by r
            dhw[:, 2 * H :] *= r
            if not defer_dW_h:
                grads["W_h"] += h_prev.T @ dhw
                if self.bias:
                    grads["b_hn"] += dhw[:, 2 * H :].sum(axis=0)
            dh_prev += dhw @ W_h.T
        else:
            drh = da_n @ W_h[:, 2 * H :].T  # d(r * h_prev)
            np.multiply(drh * h_prev, dsigmoid(r), out=da_r)
            if not defer_dW_h:
                grads["W_h"][:, : 2 * H] += h_prev.T @ da[:, : 2 * H]
                grads["W_h"][:, 2 * H :] += hn.T @ da_n
            dh_prev += drh * r + da[:, : 2 * H] @ W_h[:, : 2 * H].T
        return da, dh_prev

    def backward_dW_h(self, caches, dxws):
        """Accumulate dW_h (and db_hn) for many steps at once (see Cell.backward_dW_h).

        Reset after: the gradient of ``h_prev W_h + [0, 0, b_hn]`` is dxw with
        its n columns scaled by r. Reset before: the n block multiplies
        ``r * h_prev`` instead of ``h_prev``.
        """
        if len(caches) == 0:
            return
        H = self.hidden_size
        h_prev = np.stack([cache.h_prev for cache in caches]).reshape(-1, H)  # (T*N, H)
        dxw = dxws.reshape(-1, 3 * H)
        dW_h = self.grads["W_h"]
        dW_h[:, : 2 * H] += h_prev.T @ dxw[:, : 2 * H]
        if self.reset_after:
            r = np.stack([cache.r for cache in caches]).reshape(-1, H)
            dhn = dxw[:, 2 * H :] * r  # (T*N, H) gradient of h_prev W_hn + b_hn
            dW_h[:, 2 * H :] += h_prev.T @ dhn
            if self.bias:
                self.grads["b_hn"] += dhn.sum(axis=0)
        else:
            rh = np.stack([cache.hn for cache in caches]).reshape(-1, H)  # r * h_prev
            dW_h[:, 2 * H :] += rh.T @ dxw[:, 2 * H :]

    def _extra_repr(self):
        extra = "" if self.reset_after else ", reset_after=False"
        return extra + super()._extra_repr()
