"""What every recurrent cell shares: the input projection and the cell protocol.

Every gate of every cell in lstmlab is an affine function of the input plus an
affine function of the previous hidden state::

    a = x W_x + b  +  h_prev W_h        (N, G*H), G gates fused side by side

The x-part ``x W_x + b`` does not depend on ``h_prev``, so it can be computed
for all T time steps at once, with one matrix product, before the time loop;
and its gradients with one more product after the backward loop. A cell
therefore splits its step in two:

    xw = cell.project(x)                   # x W_x + b, any leading shape (..., D)
    state, cache = cell.step(xw, state)    # the recurrent part, one time step
    dxw, dstate_prev = cell.backward_step(dstate, cache)
    dx = cell.backward_project(dxw, x)     # accumulates dW_x and db

and ``forward``/``backward`` are just the two halves put together for one step.

The same grouping serves the recurrent weights. ``dW_h = sum_t h_prev_t^T da_t``
is a sum over steps; a wrapper may ask ``backward_step(..., defer_dW_h=True)``
to skip the per-step outer product and then add the whole sum with one product,
``cell.backward_dW_h(caches, dxws)``, after the loop. The result is the same.
"""

from __future__ import annotations

import numpy as np

from .checks import check_float_array, check_float_dtype, check_positive_int, check_shape
from .init import as_generator, orthogonal, pytorch_uniform, xavier_uniform
from .interop import load_torch_state_dict, torch_grads, torch_state_dict
from .module import Module

__all__ = ["Cell"]


class Cell(Module):
    """Base class of RNNCell, LSTMCell and GRUCell (not used on its own).

    Subclasses set ``num_gates`` and implement ``initial_state``, ``step``,
    ``backward_step``, ``split_state`` and ``join_state``; they also say how
    their weights map onto PyTorch's (``to_torch``, ``from_torch``,
    ``torch_shapes``, ``torch_unsupported``), which lstmlab/interop.py uses.
    """

    num_gates = 1
    cache_type = tuple  # each cell names its own NamedTuple

    def __init__(self, input_size, hidden_size, *, bias, dtype, rng):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        dtype = check_float_dtype("dtype", dtype)
        self.bias = bool(bias)
        self.rng = as_generator(rng)
        self._dtype = dtype

    @property
    def gate_width(self):
        """G*H, the width of the fused gate matrices: the columns of ``W_x``, ``W_h`` and ``b``.

        Examples
        --------
        >>> import lstmlab as ll
        >>> ll.LSTMCell(3, 5).gate_width, ll.GRUCell(3, 5).gate_width, ll.RNNCell(3, 5).gate_width
        (20, 15, 5)
        """
        return self.num_gates * self.hidden_size

    @property
    def output_size(self):
        """The width of the cell's output h: H (an LSTM with ``proj_size=P`` says P).

        Examples
        --------
        >>> import lstmlab as ll
        >>> ll.GRUCell(3, 5).output_size, ll.LSTMCell(3, 5, proj_size=2).output_size
        (5, 2)
        """
        return self.hidden_size

    # -- the protocol -----------------------------------------------------------
    def forward(self, x, state):
        """One time step: ``state, cache = cell.forward(x, state)``.

        Parameters
        ----------
        x : ndarray, shape (N, D)
        state : the previous state, as returned by ``initial_state(N)``

        Returns
        -------
        state : the new state (its ``h`` is the step's output)
        cache : NamedTuple of everything the backward needs

        Notes
        -----
        An empty batch is allowed: with N = 0, x of shape (0, D) gives a state
        of empty (0, H) arrays, and the backward adds nothing to the gradients.
        """
        x = self.check_input(x)
        state = self.check_state(state, x.shape[0])
        return self.step(self.project(x), state, x, check=False)

    def backward(self, dstate, cache):
        """Backward of one step: ``dx, dstate_prev = cell.backward(dstate, cache)``.

        ``dstate`` has the structure of the state (for an LSTM, gradients for
        both h and c). Parameter gradients are ACCUMULATED into ``cell.grads``.
        """
        if cache is None or self.check_cache(cache).x is None:
            raise ValueError(
                "cache: expected the cache returned by cell.forward(x, state); "
                "a cache from cell.step(...) has no x, backpropagate it with backward_step"
            )
        dstate = self.check_state(dstate, cache.x.shape[0], name="dstate")
        dxw, dstate_prev = self.backward_step(dstate, cache, check=False)
        return self.backward_project(dxw, cache.x), dstate_prev

    def backward_dW_h(self, caches, dxws):
        """Accumulate dW_h for many steps with one product (after ``defer_dW_h=True``).

        Call it once after ``backward_step(..., defer_dW_h=True)`` for every step;
        it adds every gradient that ``defer_dW_h`` left out.

        Parameters
        ----------
        caches : sequence of T step caches
        dxws : ndarray, shape (T, N, G*H)
            The ``dxw`` that ``backward_step`` returned for each step.

        For RNN and LSTM ``dW_h = sum_t h_prev_t^T dxw_t``: the same as the
        (T*N, H)^T x (T*N, G*H) product of the stacked arrays.
        """
        if len(caches) == 0:
            return
        h_prev = np.stack([cache.h_prev for cache in caches])  # (T, N, H)
        h_prev = h_prev.reshape(-1, h_prev.shape[-1])  # (T*N, H)
        self.grads["W_h"] += h_prev.T @ dxws.reshape(-1, self.gate_width)

    # -- the x-part, for one step or for all T steps at once -----------------------
    def project(self, x):
        """The input part of every gate, ``x W_x + b``, for any leading shape.

        Parameters
        ----------
        x : ndarray, shape (..., D)

        Returns
        -------
        xw : ndarray, shape (..., G*H)
        """
        check_float_array("x", x, dtype=self.dtype)
        if x.ndim == 0 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"x: expected shape (..., D) with D = {self.input_size}, got {x.shape}")
        xw = x @ self.params["W_x"]
        if self.bias:
            xw += self.params["b"]
        return xw

    def backward_project(self, dxw, x):
        """Backward of :meth:`project`: accumulate dW_x and db, return dx.

        With ``x`` of shape (T, N, D) this is one product for all time steps:
        ``dW_x = sum_t x_t^T dxw_t`` is the same matrix product as on the
        reshaped (T*N, D) arrays.
        """
        width = self.gate_width
        check_float_array("dxw", dxw, dtype=self.dtype)
        check_shape("dxw", dxw, x.shape[:-1] + (width,), f"x.shape[:-1] + (G*H,) = "
                    f"{x.shape[:-1] + (width,)}")
        D = x.shape[-1]
        x2 = x.reshape(-1, D)
        dxw2 = dxw.reshape(-1, width)
        self.grads["W_x"] += x2.T @ dxw2
        if self.bias:
            self.grads["b"] += dxw2.sum(axis=0)
        return dxw @ self.params["W_x"].T

    # -- initialization -------------------------------------------------------------
    def reset_parameters(self, W_x="uniform", W_h="uniform", rng=None):
        """Draw W_x and W_h again, in place, by a named scheme (biases are kept).

        Each gate's block is initialised on its own, as if it were a separate
        matrix: that is what "Xavier" and "orthogonal" mean for a fused matrix.

        Parameters
        ----------
        W_x : {"uniform", "xavier"}
            PyTorch's U(-1/sqrt(H), 1/sqrt(H)), or Glorot & Bengio (2010)
            per (D, H) gate block.
        W_h : {"uniform", "orthogonal", "identity"}
            PyTorch's default; an orthogonal (H, H) block per gate (Saxe et al.
            2014); or the identity per block (Le et al. 2015's IRNN, meant for
            a ReLU RNN).
        rng : None, int or np.random.Generator
            Source of the draws; None continues the cell's own generator.

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> import lstmlab as ll
        >>> cell = ll.RNNCell(3, 4, nonlinearity="relu", rng=0).reset_parameters(W_h="identity")
        >>> cell.params["W_h"]
        array([[1., 0., 0., 0.],
               [0., 1., 0., 0.],
               [0., 0., 1., 0.],
               [0., 0., 0., 1.]])
        >>> W_h = ll.LSTMCell(3, 4, rng=0).reset_parameters(W_h="orthogonal").params["W_h"]
        >>> bool(np.allclose(W_h[:, :4] @ W_h[:, :4].T, np.eye(4)))
        True
        """
        rng = self.rng if rng is None else as_generator(rng)
        D, H, G = self.input_size, self.hidden_size, self.num_gates
        R = self.output_size  # the rows of W_h: the width of h_prev (H, or an LSTM's P)
        if W_x == "uniform":
            new_x = pytorch_uniform((D, G * H), H, rng, self.dtype)
        elif W_x == "xavier":
            new_x = np.concatenate(
                [xavier_uniform((D, H), rng, self.dtype) for _ in range(G)], axis=1)
        else:
            raise ValueError(f"W_x: expected 'uniform' or 'xavier', got {W_x!r}")
        if W_h == "uniform":
            new_h = pytorch_uniform((R, G * H), H, rng, self.dtype)
        elif W_h == "orthogonal":
            new_h = orthogonal((R, G * H), rng, self.dtype)
        elif W_h == "identity":
            new_h = np.tile(np.eye(R, H, dtype=self.dtype), (1, G))
        else:
            raise ValueError(
                f"W_h: expected 'uniform', 'orthogonal' or 'identity', got {W_h!r}")
        self.params["W_x"][...] = new_x  # in place: optimizers hold these arrays
        self.params["W_h"][...] = new_h
        return self

    # -- validation ---------------------------------------------------------------
    def check_input(self, x, name="x"):
        """Check that ``x`` is (N, D) in the cell's dtype; return it."""
        check_float_array(name, x, ndim=2, dtype=self.dtype)
        return check_shape(name, x, (None, self.input_size), f"(N, D) with D = {self.input_size}")

    def check_step(self, xw, state):
        """Check ``step``'s arguments: xw (N, G*H) in the cell's dtype and a state for N."""
        width = self.gate_width
        check_float_array("xw", xw, ndim=2, dtype=self.dtype)
        check_shape("xw", xw, (None, width), f"(N, G*H) with G*H = {width}")
        return xw, self.check_state(state, xw.shape[0])

    def check_cache(self, cache):
        """Check that ``cache`` is a cache of this kind of cell (the NamedTuple its step makes)."""
        if not isinstance(cache, self.cache_type):
            raise TypeError(
                f"cache: expected a {self.cache_type.__name__} (from this cell's forward or "
                f"step), got {type(cache).__name__}"
            )
        return cache

    def check_hidden(self, h, N, name, size=None, symbol="H"):
        """Check one (N, H) state array (or (N, size), the width called ``symbol``)."""
        size = self.hidden_size if size is None else size
        check_float_array(name, h, ndim=2, dtype=self.dtype)
        return check_shape(name, h, (N, size), f"(N, {symbol}) = ({N}, {size})")

    def check_state(self, state, N, name="state"):
        """Check a state (or a state gradient) for a batch of N; return it."""
        if isinstance(state, tuple):
            raise TypeError(
                f"{name}: expected an ndarray h of shape (N, H) for {type(self).__name__}, "
                f"got a {type(state).__name__}"
            )
        return self.check_hidden(state, N, name)

    # -- the state as a tuple of arrays (used by wrappers and gradient checks) -------
    def split_state(self, state):
        """The state's arrays as a tuple (``(h,)`` or ``(h, c)``)."""
        return (state,)

    def join_state(self, arrays):
        """Inverse of :meth:`split_state`."""
        (h,) = arrays
        return h

    def initial_state(self, N):
        """Zeros: the state before the first step, for a batch of N."""
        N = check_positive_int("N", N, minimum=0)
        return np.zeros((N, self.hidden_size), dtype=self.dtype)

    # -- PyTorch: nn.RNNCell / nn.LSTMCell / nn.GRUCell names (a layer adds a suffix) ----
    def torch_unsupported(self):
        """Why this cell has no PyTorch counterpart (a sentence), or None when it has one."""
        return None

    def torch_shapes(self):
        """PyTorch's names of this cell's tensors, without suffix, and their shapes.

        Examples
        --------
        >>> import lstmlab as ll
        >>> ll.RNNCell(3, 5, bias=False).torch_shapes()
        {'weight_ih': (5, 3), 'weight_hh': (5, 5)}
        """
        GH, D, R = self.gate_width, self.input_size, self.output_size
        shapes = {"weight_ih": (GH, D), "weight_hh": (GH, R)}
        if self.bias:
            shapes.update(bias_ih=(GH,), bias_hh=(GH,))
        return shapes

    def to_torch(self, arrays, grads=False):
        """``arrays`` (this cell's params, or its grads) under PyTorch's names, as new arrays.

        PyTorch stores column vectors, ``weight_ih = W_x^T`` (G*H, D) and
        ``weight_hh = W_h^T``, and two biases that it only ever uses summed,
        ``b = bias_ih + bias_hh``. Weights export as ``bias_ih = b, bias_hh = 0``;
        gradients as ``db`` for both, since ``db/dbias_ih = db/dbias_hh = 1``.
        """
        out = {"weight_ih": arrays["W_x"].T.copy(), "weight_hh": arrays["W_h"].T.copy()}
        if self.bias:
            b = arrays["b"]
            out["bias_ih"] = b.copy()
            out["bias_hh"] = b.copy() if grads else np.zeros_like(b)
        return out

    def from_torch(self, tensors):
        """New values of this cell's params from PyTorch's (validated) tensors, by name."""
        new = {"W_x": tensors["weight_ih"].T, "W_h": tensors["weight_hh"].T}
        if self.bias:
            new["b"] = tensors["bias_ih"] + tensors["bias_hh"]
        return new

    def torch_state_dict(self):
        """The weights under PyTorch's cell names ``weight_ih, weight_hh, bias_ih, bias_hh``.

        Examples
        --------
        >>> import lstmlab as ll
        >>> ll.LSTMCell(3, 5, rng=0).torch_state_dict()["weight_ih"].shape
        (20, 3)
        """
        return torch_state_dict([("", self)])

    def torch_grads(self):
        """The gradients under PyTorch's names, comparable with torch's ``.grad``.

        Examples
        --------
        >>> import lstmlab as ll
        >>> sorted(ll.GRUCell(3, 5, rng=0).torch_grads())
        ['bias_hh', 'bias_ih', 'weight_hh', 'weight_ih']
        """
        return torch_grads([("", self)])

    def load_torch_state_dict(self, state_dict):
        """Write a PyTorch cell's weights (NumPy arrays) into this cell's params, in place.

        Examples
        --------
        >>> import numpy as np
        >>> import lstmlab as ll
        >>> a, b = ll.RNNCell(3, 5, rng=0), ll.RNNCell(3, 5, rng=1)
        >>> b.load_torch_state_dict(a.torch_state_dict())
        >>> bool(np.array_equal(a.params["W_h"], b.params["W_h"]))
        True
        """
        load_torch_state_dict([("", self)], state_dict)

    def __repr__(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{self._extra_repr()})"

    def _extra_repr(self):
        """The options that differ from their defaults, as ``, name=value`` (bias and dtype)."""
        extra = "" if self.bias else ", bias=False"
        if self.dtype != np.float64:
            extra += f", dtype='{self.dtype}'"
        return extra
