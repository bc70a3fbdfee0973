"""The lookup table that turns integer ids (characters, words) into vectors."""

from __future__ import annotations

import numpy as np

from .checks import (
    check_float_array,
    check_float_dtype,
    check_int_array,
    check_positive_int,
    check_shape,
)
from .init import as_generator
from .modes import check_finite, is_anomaly_enabled, is_grad_enabled
from .module import Module

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of learned vectors, one row per id: ``x = W[ids]``.

    Equations (ids of any shape ``...``)::

        x[...] = W[ids[...]]              W (V, E), x (..., E)

    Looking up row k is the same as multiplying a one-hot row vector by W, so
    the gradient of row k is the sum of the output gradients of every position
    that holds id k::

        dW[k] += sum over positions p with ids[p] == k of dx[p]

    Ids repeat (the letter "e" appears many times in a batch), so the sum must
    be an unbuffered scatter-add, ``np.add.at(dW, ids, dx)``: the buffered
    ``dW[ids] += dx`` would keep only one contribution per repeated id. The
    backward computes the same sums grouped: it sorts the positions by id,
    sums each id's rows (``np.add.reduceat``) and adds each sum to its row
    once, which takes an eighth of ``np.add.at``'s time for a batch of
    characters.

    Each forward keeps a copy of its ids on the record stack and each
    backward consumes the most recent one, so an Embedding used k times (the
    encoder's and the decoder's tokens, a decoder fed one token at a time)
    takes k backwards in reverse order. Under ``ll.no_grad()`` nothing is kept.

    With ``padding_idx`` that row is zero at start and never receives a
    gradient, so padded positions of a batch of unequal-length sequences
    neither read nor learn anything (PyTorch's semantics).

    Parameters
    ----------
    num_embeddings : int
        V, the number of ids (vocabulary size).
    embedding_dim : int
        E, the size of each vector.
    padding_idx : int, optional
        An id in [-V, V) whose row is kept at zero (negative counts from the end).
    dtype : floating dtype
    rng : None, int or np.random.Generator

    Notes
    -----
    Initialisation is PyTorch's ``nn.Embedding`` default, N(0, 1), and its
    ``weight`` has our layout, (V, E). ``backward`` returns None: integer ids
    take no gradient.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> emb = ll.Embedding(5, 2, padding_idx=0, rng=0)
    >>> ids = np.array([[3, 3, 0]])                 # (N, T) with a repeated id
    >>> emb.forward(ids).shape
    (1, 3, 2)
    >>> emb.backward(np.ones((1, 3, 2)))            # ids get no gradient
    >>> emb.grads["W"][[0, 3]].tolist()             # row 3 got both, padding none
    [[0.0, 0.0], [2.0, 2.0]]
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float64,
                 rng=None):
        super().__init__()
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self._dtype = check_float_dtype("dtype", dtype)
        V = self.num_embeddings
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise TypeError(f"padding_idx: expected an int or None, got {padding_idx!r}")
            if not -V <= padding_idx < V:
                raise ValueError(f"padding_idx: expected an id in [-{V}, {V}), got {padding_idx}")
            padding_idx = int(padding_idx) % V
        self.padding_idx = padding_idx
        W = as_generator(rng).standard_normal((V, self.embedding_dim)).astype(dtype, copy=False)
        if padding_idx is not None:
            W[padding_idx] = 0.0
        self.add_param("W", W)

    def forward(self, ids):
        """Look up the vectors of ``ids``; keep a copy of the ids for the backward.

        Parameters
        ----------
        ids : int array-like, any shape (...)
            Every id in [0, V). A scalar id gives one vector (E,); empty ids
            (``[]`` too) give an empty (..., E) array and add nothing in backward.

        Returns
        -------
        x : ndarray, shape (..., E)
        """
        ids = check_int_array("ids", ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            bad = ids[(ids < 0) | (ids >= self.num_embeddings)]
            raise ValueError(
                f"ids: expected every id in [0, {self.num_embeddings}) "
                f"(num_embeddings = {self.num_embeddings}), got {bad.size} outside, e.g. {bad[0]}"
            )
        x = self.params["W"][ids]  # (..., E), a copy
        if is_anomaly_enabled():
            check_finite(self._where, "x", x, "forward")
        if is_grad_enabled():  # a copy: the caller may change its ids before backward
            self.save_for_backward(ids.copy())
        return x

    def backward(self, dx):
        """Scatter-add ``dx`` into the rows of dW that the ids of the forward selected.

        Backpropagates the most recent forward not yet backpropagated.

        Parameters
        ----------
        dx : ndarray, shape (..., E)
            dL/dx, the shape of that forward's output.

        Returns
        -------
        None
            Ids are integers and take no gradient.
        """
        ids = self.saved_for_backward()
        try:
            check_float_array("dx", dx, dtype=self.dtype)
            check_shape("dx", dx, ids.shape + (self.embedding_dim,),
                        f"{ids.shape + (self.embedding_dim,)} (the shape of the output of the "
                        "forward being backpropagated)")
        except (TypeError, ValueError):
            self._records.append(ids)  # a refused gradient consumes nothing: call again
            raise
        if self.padding_idx is not None:
            keep = ids != self.padding_idx
            ids, dx = ids[keep], dx[keep]
        ids, dx = ids.reshape(-1), dx.reshape(-1, self.embedding_dim)  # a row per position
        if len(ids):  # np.add.at(dW, ids, dx), grouped: one sum per distinct id
            order = np.argsort(ids, kind="stable")  # equal ids side by side
            sorted_ids = ids[order]
            first = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # each id's
            self.grads["W"][sorted_ids[first]] += np.add.reduceat(dx[order], first, axis=0)
        if is_anomaly_enabled():
            check_finite(self._where, "dW", self.grads["W"], "backward")
        return None

    def __repr__(self):
        extra = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{extra})"
