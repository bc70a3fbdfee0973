"""The affine layer ``y = x W + b``, applied to every leading index at once."""

from __future__ import annotations

import numpy as np

from .checks import check_float_array, check_float_dtype, check_positive_int, check_shape
from .init import as_generator, uniform
from .modes import check_finite, is_anomaly_enabled, is_grad_enabled
from .module import Module

__all__ = ["Linear"]


class Linear(Module):
    """Affine map of the last axis: ``y = x W + b``.

    Equations (row vectors, any leading shape ``...``)::

        y = x W + b                       x (..., D_in), W (D_in, D_out), b (D_out,)

    Backward, with dy = dL/dy, summing over every leading index (every sample
    and every time step)::

        dW += x^T dy        db += sum(dy)        dx = dy W^T

    Applied to an RNN's hidden states of shape (T, N, H) it computes the output
    layer ``y_t = h_t W + b`` for all T steps with one matrix product, and its
    gradient with two more: the same trick as a cell's input projection.

    Unlike a cell, which returns a cache because it runs T times, a layer
    keeps a copy of each input on its record stack: ``backward(dy)``
    backpropagates the most recent forward not yet backpropagated. So one
    Linear applied k times (to two inputs, or at every step of a decoder)
    gets exact gradients from k backwards in reverse order. A forward under
    ``ll.no_grad()`` keeps nothing.

    Parameters
    ----------
    in_features, out_features : int
        D_in and D_out.
    bias : bool
        Without a bias the layer is ``y = x W`` and has no ``"b"``.
    dtype : floating dtype
        Of the parameters (float64 by default); inputs must match it.
    rng : None, int or np.random.Generator
        Source of the initial weights.

    Notes
    -----
    Initialisation is PyTorch's ``nn.Linear`` default: W and b from
    U(-1/sqrt(D_in), 1/sqrt(D_in)). PyTorch stores ``weight`` as (D_out, D_in)
    and computes ``x weight^T``, so ``W = weight.T``.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> layer = ll.Linear(3, 2, rng=0)
    >>> x = np.ones((4, 5, 3))                       # (T, N, D_in)
    >>> y = layer.forward(x)
    >>> y.shape
    (4, 5, 2)
    >>> dx = layer.backward(np.ones_like(y))
    >>> dx.shape, layer.grads["b"].tolist()          # db sums over all 20 rows
    ((4, 5, 3), [20.0, 20.0])

    Applied twice, backpropagated twice, in reverse order:

    >>> y1, y2 = layer.forward(x), layer.forward(2 * x)
    >>> layer.zero_grad()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: zero_grad: Linear still holds 2 forward records that no backward consumed; ...
    >>> dx2 = layer.backward(np.ones_like(y2))
    >>> dx1 = layer.backward(np.ones_like(y1))
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float64, rng=None):
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self._dtype = check_float_dtype("dtype", dtype)
        self.bias = bool(bias)
        rng = as_generator(rng)
        bound = 1.0 / np.sqrt(self.in_features)
        self.add_param("W", uniform((self.in_features, self.out_features), bound, rng, dtype))
        if self.bias:
            self.add_param("b", uniform((self.out_features,), bound, rng, dtype))

    def forward(self, x):
        """Compute ``y = x W + b``; keep a copy of ``x`` for the backward.

        Parameters
        ----------
        x : ndarray, shape (..., D_in), the parameters' dtype
            Any leading shape: none (one vector (D_in,)), or an empty one
            (N = 0, T = 0), which gives an empty ``y`` and adds nothing to
            the gradients in backward.

        Returns
        -------
        y : ndarray, shape (..., D_out)
        """
        check_float_array("x", x, dtype=self.dtype)
        if x.ndim == 0:
            raise ValueError(f"x: expected shape (..., {self.in_features}), got a 0-d array")
        check_shape("x", x, x.shape[:-1] + (self.in_features,),
                    f"(..., D_in) with D_in = {self.in_features}")
        y = x @ self.params["W"]  # (..., D_out)
        if self.bias:
            y += self.params["b"]
        if is_anomaly_enabled():
            check_finite(self._where, "y", y, "forward")
        if is_grad_enabled():  # a copy: the caller may change x before backward
            self.save_for_backward(x.copy())
        return y

    def backward(self, dy):
        """Backpropagate the most recent forward not yet backpropagated.

        Accumulates dW and db and returns dx.

        Parameters
        ----------
        dy : ndarray, shape (..., D_out)
            dL/dy, the shape of that forward's output.

        Returns
        -------
        dx : ndarray, shape (..., D_in)
        """
        x = self.saved_for_backward()
        try:
            check_float_array("dy", dy, dtype=self.dtype)
            check_shape("dy", dy, x.shape[:-1] + (self.out_features,),
                        f"{x.shape[:-1] + (self.out_features,)} (the shape of the output of "
                        "the forward being backpropagated)")
        except (TypeError, ValueError):
            self._records.append(x)  # a refused gradient consumes nothing: call again
            raise
        x2 = x.reshape(-1, self.in_features)  # (rows, D_in), rows = product of leading dims
        dy2 = dy.reshape(-1, self.out_features)  # (rows, D_out)
        self.grads["W"] += x2.T @ dy2
        if self.bias:
            self.grads["b"] += dy2.sum(axis=0)
        dx = (dy2 @ self.params["W"].T).reshape(x.shape)  # (..., D_in): one 2-D product, not
        # a stack of small ones (numpy's matmul does not merge leading axes against W.T)
        if is_anomaly_enabled():
            for name, value in (("dx", dx), *((f"d{k}", g) for k, g in self.grads.items())):
                check_finite(self._where, name, value, "backward")
        return dx

    def __repr__(self):
        extra = "" if self.bias else ", bias=False"
        return f"Linear({self.in_features}, {self.out_features}{extra})"
