"""Attention: each decoder step looks back at every encoder step and takes a weighted mean."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .checks import (
    check_float_array,
    check_float_dtype,
    check_int_array,
    check_positive_int,
    check_shape,
)
from .functional import softmax, tanh
from .init import as_generator, uniform
from .modes import check_finite, is_anomaly_enabled
from .module import Module

__all__ = ["Attention", "AttentionCache"]

SCORES = ("dot", "general", "additive")


class AttentionCache(NamedTuple):
    """What ``Attention.backward`` reads, batch-major: one (Tq, Tk) problem per example n.

    ``q`` and ``k`` are copies of the inputs (so the caller may change its
    arrays after the forward); ``qW`` is ``q W`` (general) or ``q W_q``
    (additive), ``u`` the additive score's hidden layer; unused fields are None.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> attn = ll.Attention(2, rng=0)
    >>> _ = attn.forward(np.ones((3, 1, 2)), np.ones((4, 1, 2)))
    >>> cache = attn.saved_for_backward()        # what backward would pop
    >>> cache.q.shape, cache.k.shape, cache.a.shape    # (N, Tq, H), (N, Tk, H), (N, Tq, Tk)
    ((1, 3, 2), (1, 4, 2), (1, 3, 4))
    """

    q: np.ndarray  # (N, Tq, H)
    k: np.ndarray  # (N, Tk, H)
    a: np.ndarray  # (N, Tq, Tk), the weights
    qW: np.ndarray | None  # (N, Tq, H)
    u: np.ndarray | None  # (N, Tq, Tk, H)


class Attention(Module):
    """Attention of every query (decoder step) over every key (encoder step).

    For one example (drop the batch index n), queries ``q`` (Tq, H) and keys
    ``k`` (Tk, H), which are also the values::

        s[t, j] = score(q[t], k[j])              scores       (Tq, Tk)
        s[t, j] = -inf     for j >= length        padding is never attended to
        a[t]    = softmax(s[t])                   weights      (Tq, Tk), rows sum to 1
        c[t]    = sum_j a[t, j] k[j]              context      (Tq, H)

    with one of three scores (Luong et al. 2015's names)::

        dot:       score(q, k) = q . k
        general:   score(q, k) = (q W) . k                       W (H, H)
        additive:  score(q, k) = v . tanh(q W_q + k W_k)         W_q, W_k (H, H), v (H,)

    In matrix form, per example: ``S = Q K^T`` (dot), ``S = Q W K^T``
    (general), ``A = softmax(S)`` row by row and ``C = A K``. The context of
    each decoder step is a mean of the encoder's outputs, weighted by how well
    each matches the query; the decoder then reads ``c[t]`` next to its own
    output (``concat(c[t], q[t])`` into the output layer, as in Luong et al.).

    Backward, with dc = dL/dc (and optionally da = dL/da from a loss on the
    weights)::

        da += dc K^T                               (Tq, Tk)
        dk  = A^T dc                               (Tk, H)    keys as values
        ds  = a * (da - sum_j a * da)              softmax backward, row by row
        dot:      dq = ds K              dk += ds^T Q
        general:  dqW = ds K             dk += ds^T (Q W)
                  dW += Q^T dqW          dq  = dqW W^T
        additive: du = ds v              dz  = du * (1 - u^2)       u = tanh(q W_q + k W_k)
                  dv += sum ds u         dqW = sum_j dz    dkW = sum_t dz
                  dW_q += Q^T dqW        dW_k += K^T dkW
                  dq = dqW W_q^T         dk += dkW W_k^T

    A masked step has ``a = 0`` exactly, so it gets ``ds = 0`` and no gradient.
    docs/attention.md derives every line.

    Parameters
    ----------
    hidden_size : int
        H, the size of queries and keys (the decoder's and encoder's H).
    score : {"dot", "general", "additive"}
        How a query and a key are compared (see above). ``"dot"`` has no
        parameters; ``"general"`` has W; ``"additive"`` has W_q, W_k and v.
    dtype : floating dtype
        Of the parameters and of every input.
    rng : None, int or np.random.Generator
        Source of the initial weights, U(-1/sqrt(H), 1/sqrt(H)).

    Notes
    -----
    Every forward pushes one record that the next backward pops
    (``save_for_backward``), so one Attention used k times in a forward takes k
    backward calls, in reverse order, and gets exact gradients. Under
    ``ll.no_grad()`` nothing is kept. The dot score is not divided by sqrt(H)
    (that is the Transformer's scaled dot product, Vaswani et al. 2017).

    References
    ----------
    Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by Jointly
    Learning to Align and Translate", ICLR (the additive score).
    Luong, Pham & Manning (2015), "Effective Approaches to Attention-based
    Neural Machine Translation", EMNLP (dot and general; queries are the
    decoder's outputs for all steps).

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> attn = ll.Attention(4, score="general", rng=0)
    >>> rng = np.random.default_rng(0)
    >>> queries = rng.standard_normal((2, 3, 4))    # decoder outputs (Tq, N, H)
    >>> keys = rng.standard_normal((5, 3, 4))       # encoder outputs (Tk, N, H)
    >>> context, weights = attn.forward(queries, keys, lengths=[5, 2, 4])
    >>> context.shape, weights.shape
    ((2, 3, 4), (2, 3, 5))
    >>> weights[:, 1].round(2)                      # example 1 has 2 steps: the rest is 0
    array([[0.15, 0.85, 0.  , 0.  , 0.  ],
           [0.39, 0.61, 0.  , 0.  , 0.  ]])
    >>> dqueries, dkeys = attn.backward(np.ones_like(context))
    >>> dqueries.shape, dkeys.shape, sorted(attn.grads)
    ((2, 3, 4), (5, 3, 4), ['W'])
    """

    def __init__(self, hidden_size, score="dot", dtype=np.float64, rng=None):
        super().__init__()
        self.hidden_size = H = check_positive_int("hidden_size", hidden_size)
        if not isinstance(score, str):
            raise TypeError(f"score: expected one of {SCORES} (a str), got {type(score).__name__}")
        if score not in SCORES:
            raise ValueError(f"score: expected one of {SCORES}, got {score!r}")
        self.score = score
        self._dtype = check_float_dtype("dtype", dtype)
        rng = as_generator(rng)
        bound = 1.0 / np.sqrt(H)
        if score == "general":
            self.add_param("W", uniform((H, H), bound, rng, dtype))
        elif score == "additive":
            self.add_param("W_q", uniform((H, H), bound, rng, dtype))
            self.add_param("W_k", uniform((H, H), bound, rng, dtype))
            self.add_param("v", uniform((H,), bound, rng, dtype))

    def forward(self, queries, keys, lengths=None):
        """Attend from every query to every (unpadded) key.

        Parameters
        ----------
        queries : ndarray, shape (Tq, N, H)
            The decoder's outputs, all steps at once (Tq may be 0).
        keys : ndarray, shape (Tk, N, H), Tk >= 1
            The encoder's outputs; they are also the values that are averaged.
        lengths : int array-like, shape (N,), optional
            Real encoder steps per example, each in [1, Tk]; keys at steps
            ``j >= lengths[n]`` are padding and get weight exactly 0.

        Returns
        -------
        context : ndarray, shape (Tq, N, H)
            ``c[t, n] = sum_j a[t, n, j] k[j, n]``.
        weights : ndarray, shape (Tq, N, Tk)
            ``a``: each row a softmax over the encoder steps, summing to 1.
        """
        q, k = queries, keys
        check_float_array("queries", q, ndim=3, dtype=self.dtype)
        check_float_array("keys", k, ndim=3, dtype=self.dtype)
        H = self.hidden_size
        check_shape("queries", q, (None, None, H), f"(Tq, N, H) with H = {H} (hidden_size)")
        Tq, N, _ = q.shape
        check_shape("keys", k, (None, N, H),
                    f"(Tk, N, H) with N = {N} (the queries' batch size) and H = {H} (hidden_size)")
        Tk = k.shape[0]
        if Tk == 0:
            raise ValueError(f"keys: expected at least one encoder step (Tk >= 1), got {k.shape}")
        mask = None if lengths is None else self._mask(lengths, N, Tk)  # (N, 1, Tk)

        # Batch-major copies: per example n, Q (Tq, H) and K (Tk, H) are matrices, so every
        # equation is one batched matrix product; the copies also protect the record.
        Q = np.array(q.transpose(1, 0, 2), order="C")  # (N, Tq, H)
        K = np.array(k.transpose(1, 0, 2), order="C")  # (N, Tk, H)
        p = self.params
        qW = u = None
        if self.score == "dot":
            s = Q @ K.transpose(0, 2, 1)  # (N, Tq, Tk)
        elif self.score == "general":
            qW = Q @ p["W"]  # (N, Tq, H)
            s = qW @ K.transpose(0, 2, 1)  # (N, Tq, Tk)
        else:
            qW = Q @ p["W_q"]  # (N, Tq, H)
            kW = K @ p["W_k"]  # (N, Tk, H)
            u = tanh(qW[:, :, None, :] + kW[:, None, :, :])  # (N, Tq, Tk, H)
            s = u @ p["v"]  # (N, Tq, Tk)
        if mask is not None:
            s = np.where(mask, s, -np.inf)  # exp(-inf) = 0: padding gets weight exactly 0
        a = softmax(s, axis=-1)  # (N, Tq, Tk); shifted by each row's max, which is finite
        c = a @ K  # (N, Tq, H)
        self.save_for_backward(AttentionCache(q=Q, k=K, a=a, qW=qW, u=u))
        if is_anomaly_enabled():
            check_finite(self._where, "context", c, "forward")
        return np.ascontiguousarray(c.transpose(1, 0, 2)), a.transpose(1, 0, 2).copy()

    def backward(self, dcontext, dweights=None):
        """Backpropagate the most recent forward; parameter gradients ACCUMULATE.

        Parameters
        ----------
        dcontext : ndarray, shape (Tq, N, H)
            dL/dcontext, the shape of that forward's context.
        dweights : ndarray, shape (Tq, N, Tk), optional
            dL/dweights, when a loss also reads the weights (None: zero).

        Returns
        -------
        dqueries : ndarray, shape (Tq, N, H)
        dkeys : ndarray, shape (Tk, N, H)
            From both roles of the keys: compared with the queries, and averaged.
        """
        cache = self.saved_for_backward()
        Q, K, A = cache.q, cache.k, cache.a
        N, Tq, Tk = A.shape
        H = self.hidden_size
        check_float_array("dcontext", dcontext, ndim=3, dtype=self.dtype)
        check_shape("dcontext", dcontext, (Tq, N, H), f"{(Tq, N, H)} (the context's shape)")
        dc = dcontext.transpose(1, 0, 2)  # (N, Tq, H)
        da = dc @ K.transpose(0, 2, 1)  # (N, Tq, Tk)
        if dweights is not None:
            check_float_array("dweights", dweights, ndim=3, dtype=self.dtype)
            check_shape("dweights", dweights, (Tq, N, Tk), f"{(Tq, N, Tk)} (the weights' shape)")
            da += dweights.transpose(1, 0, 2)
        dK = A.transpose(0, 2, 1) @ dc  # (N, Tk, H): the keys as values
        ds = A * (da - (A * da).sum(axis=-1, keepdims=True))  # (N, Tq, Tk)

        p, g = self.params, self.grads
        if self.score == "dot":
            dQ = ds @ K  # (N, Tq, H)
            dK += ds.transpose(0, 2, 1) @ Q
        elif self.score == "general":
            dqW = ds @ K  # (N, Tq, H)
            dK += ds.transpose(0, 2, 1) @ cache.qW
            g["W"] += Q.reshape(-1, H).T @ dqW.reshape(-1, H)  # sum over n and t
            dQ = dqW @ p["W"].T
        else:
            u = cache.u  # (N, Tq, Tk, H)
            g["v"] += np.einsum("ntj,ntjh->h", ds, u)
            dz = ds[..., None] * p["v"]  # du = ds v, (N, Tq, Tk, H)
            dz *= 1.0 - u * u  # through the tanh
            dqW = dz.sum(axis=2)  # (N, Tq, H)
            dkW = dz.sum(axis=1)  # (N, Tk, H)
            g["W_q"] += Q.reshape(-1, H).T @ dqW.reshape(-1, H)
            g["W_k"] += K.reshape(-1, H).T @ dkW.reshape(-1, H)
            dQ = dqW @ p["W_q"].T
            dK += dkW @ p["W_k"].T
        if is_anomaly_enabled():
            check_finite(self._where, "dqueries", dQ, "backward")
            check_finite(self._where, "dkeys", dK, "backward")
        return np.ascontiguousarray(dQ.transpose(1, 0, 2)), np.ascontiguousarray(
            dK.transpose(1, 0, 2))

    def _mask(self, lengths, N, Tk):
        """(N, 1, Tk) bool: True where example n has a real step j < lengths[n]."""
        lengths = check_int_array("lengths", lengths)
        check_shape("lengths", lengths, (N,), f"(N,) with N = {N} (the queries' batch size)")
        if lengths.size and (lengths.min() < 0 or lengths.max() > Tk):
            bad = lengths[(lengths < 0) | (lengths > Tk)]
            raise ValueError(
                f"lengths: expected every length in [1, {Tk}] (Tk = keys.shape[0]), "
                f"got {bad.size} outside, e.g. {bad[0]}"
            )
        if lengths.size and lengths.min() == 0:
            n = int(np.argmin(lengths))
            raise ValueError(
                f"lengths: expected every length in [1, {Tk}], got 0 for example {n}: "
                "a sequence of length 0 has no step to attend to"
            )
        return (np.arange(Tk) < lengths[:, None])[:, None, :]

    def __repr__(self):
        extra = "" if self.score == "dot" else f", score={self.score!r}"
        if self.dtype != np.float64:
            extra += f", dtype='{self.dtype}'"
        return f"Attention({self.hidden_size}{extra})"
