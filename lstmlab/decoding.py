"""Decoding an encoder-decoder: greedy and beam search, one output id at a time.

The decoder protocol is ``ll.sample``'s, started from the encoder's state::

    logits, state = decoder.forward(ids, state)    ids (T, N) int -> logits (T, N, V)

(or a plain function ``decoder(ids, state)``). Decoding calls it with one step,
``ids`` of shape (1, N), and carries the returned state to the next call.

**Everything an example needs lives in its state.** A plain decoder's state
is its recurrent state (``LSTMState(h, c)``, each (L, N, H)); an attention
decoder also needs the encoder's outputs and lengths, so its state is a tuple
such as ``(LSTMState(h, c), keys (Tk, N, H), lengths (N,))`` that it passes
on unchanged. Beam search follows k hypotheses per example and, at every
step, each new hypothesis continues one old one: it re-indexes the whole state
along the batch axis (:func:`reorder_state`), so the encoder's outputs follow
their hypotheses like the LSTM state does; memory held outside the state
would not. The default re-indexing takes every array of a (nested) tuple state
along axis 1, the batch axis of time-major arrays ((L, N, H) states, (T, N, H)
outputs), and 1-D arrays (N,) along axis 0. A decoder whose state is shaped
differently defines ``reorder_state(state, index)``.

Both functions run under ``ll.no_grad()``: no forward keeps a record. Put a
model with dropout in evaluation mode first (``model.eval()``).
"""

from __future__ import annotations

import numpy as np

from .checks import check_int_array, check_positive_int, check_range
from .functional import log_softmax
from .modes import no_grad
from .sampling import step_function

__all__ = ["greedy_decode", "beam_search", "reorder_state"]


def reorder_state(state, index):
    """Pick examples ``index`` (N_new,) of a decoder state: reorder, repeat or drop them.

    Arrays with two or more dimensions are indexed along axis 1 (the batch
    axis of (L, N, H) states and (T, N, H) encoder outputs), 1-D arrays
    (lengths) along axis 0; (named) tuples are followed recursively and None
    stays None.

    Parameters
    ----------
    state : None, ndarray or (named) tuple of them
    index : int ndarray, shape (N_new,)

    Returns
    -------
    The same structure, every array with N_new examples (copies).

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> state = (ll.LSTMState(np.zeros((1, 2, 3)), np.ones((1, 2, 3))), np.array([5, 7]))
    >>> new = reorder_state(state, np.array([1, 1, 0]))   # example 1 twice, then example 0
    >>> new[0].h.shape, new[1].tolist()
    ((1, 3, 3), [7, 7, 5])
    """
    if state is None:
        return None
    if isinstance(state, np.ndarray):
        return np.take(state, index, axis=0 if state.ndim == 1 else 1)
    if isinstance(state, tuple):
        items = [reorder_state(s, index) for s in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    raise TypeError(
        "state: expected None, an ndarray or a (named) tuple of them, got "
        f"{type(state).__name__}; a decoder with another kind of state defines "
        "reorder_state(state, index)"
    )


def greedy_decode(decoder, state, start_id, length, end_id=None):
    """Decode by feeding back the most likely id at every step.

    Parameters
    ----------
    decoder : object with ``forward(ids, state) -> (logits, state)``, or such a function
        ``ids`` (T, N) int, ``logits`` (T, N, V); see the module docstring.
    state
        The decoder's initial state for N examples (e.g. the encoder's final
        state; for an attention decoder a tuple that also holds the encoder's
        outputs). None if the decoder starts from zeros.
    start_id : int or int array of shape (N,)
        The first input of every example (``<go>``).
    length : int
        The most ids to produce.
    end_id : int, optional
        An id that ends a sequence: after it, the example's later ids are
        ``end_id`` too, and decoding stops once every example has produced it.

    Returns
    -------
    ids : int ndarray, shape (T, N), T <= length
        ``ids[t]`` is the argmax of the logits after reading ``ids[t - 1]``.

    Examples
    --------
    A toy decoder that, after id k, finds k + 1 the most likely:

    >>> import numpy as np
    >>> import lstmlab as ll
    >>> def count_up(ids, state):                          # (T, N) -> (T, N, V=4)
    ...     return 5.0 * np.eye(4)[(ids + 1) % 4], state
    >>> ll.greedy_decode(count_up, None, start_id=np.array([0, 2]), length=5, end_id=3)
    array([[1, 3],
           [2, 3],
           [3, 3]])
    """
    step, reorder = _protocol(decoder)
    length = check_positive_int("length", length, minimum=0)
    with no_grad():
        token = _start_ids(start_id, state)  # (1, N)
        N = token.shape[1]
        out = []
        done = np.zeros(N, dtype=bool)
        for _ in range(length):
            logits, state = _call(step, token, state)
            next_ids = logits[-1].argmax(axis=-1)  # (N,)
            if end_id is not None:
                _check_id("end_id", end_id, logits.shape[2])
                next_ids = np.where(done, end_id, next_ids)
                done |= next_ids == end_id
            out.append(next_ids)
            if end_id is not None and done.all():
                break
            token = next_ids[None, :]
    return np.stack(out) if out else np.empty((0, N), dtype=np.int64)


def beam_search(decoder, state, start_id, length, beam_width=4, end_id=None,
                length_penalty=0.0):
    """Decode by keeping the ``beam_width`` most likely partial sequences per example.

    At every step each kept hypothesis y (with total log-probability
    ``log p(y)``) is extended by every id, and the ``beam_width`` best of the
    ``beam_width * V`` candidates survive, ranked by::

        score(y) = log p(y) / len(y) ** length_penalty

    ``len(y)`` counts the ids produced, ``end_id`` included. With
    ``length_penalty = 0`` the score is the log-probability, which favours
    short outputs (every id multiplies in a probability < 1); 1 ranks by the
    mean log-probability per id (Wu et al. 2016 discuss the choice). A
    hypothesis that has produced ``end_id`` is finished: it stays in the beam
    with its score frozen, extended by ``end_id`` at no cost. With
    ``beam_width = 1`` this is :func:`greedy_decode`.

    Parameters
    ----------
    decoder, state, start_id, length, end_id
        As in :func:`greedy_decode`. The state is re-indexed with
        ``decoder.reorder_state(state, index)`` if the decoder has one,
        else :func:`reorder_state`.
    beam_width : int
        k, the hypotheses kept per example.
    length_penalty : float
        The exponent above, >= 0.

    Returns
    -------
    ids : int ndarray, shape (T, N), T <= length
        Each example's best hypothesis (``end_id``-padded after its end).
    scores : float ndarray, shape (N,)
        Its score.

    Examples
    --------
    After <s>, "a" is likelier than "b"; but "a" is often followed by more,
    while "b" ends almost surely. Greedy takes "a </s>" (probability
    0.6 * 0.55 = 0.33); a beam of two also keeps "b" and finds the likelier
    "b </s>" (0.4 * 0.9 = 0.36):

    >>> import numpy as np
    >>> import lstmlab as ll
    >>> S, A, B, END = 0, 1, 2, 3
    >>> P = np.array([[0.0, 0.6, 0.4, 0.0],        # next-id probabilities after <s>
    ...               [0.0, 0.45, 0.0, 0.55],      # after a
    ...               [0.0, 0.0, 0.1, 0.9],        # after b
    ...               [0.0, 0.0, 0.0, 1.0]]) + 1e-12
    >>> def table(ids, state):
    ...     return np.log(P[ids]), state             # logits (T, N, 4)
    >>> ll.greedy_decode(table, None, S, length=3, end_id=END).ravel().tolist()
    [1, 3]
    >>> ids, scores = ll.beam_search(table, None, S, length=3, beam_width=2, end_id=END)
    >>> ids.ravel().tolist(), np.exp(scores).round(2).tolist()
    ([2, 3], [0.36])
    """
    step, reorder = _protocol(decoder)
    length = check_positive_int("length", length, minimum=0)
    k = check_positive_int("beam_width", beam_width)
    alpha = check_range("length_penalty", length_penalty)
    with no_grad():
        token = _start_ids(start_id, state)  # (1, N)
        N = token.shape[1]
        state = reorder(state, np.repeat(np.arange(N), k))  # k copies of each example
        token = np.repeat(token, k, axis=1)  # (1, N*k)
        seqs = np.zeros((N, k, 0), dtype=np.int64)
        logp_sum = np.full((N, k), -np.inf)  # log p(y) of every hypothesis
        logp_sum[:, 0] = 0.0  # one live hypothesis at the start, not k equal copies
        lens = np.zeros((N, k))
        finished = np.zeros((N, k), dtype=bool)
        for _ in range(length):
            logits, state = _call(step, token, state)
            V = logits.shape[2]
            logp = log_softmax(logits[-1].astype(np.float64)).reshape(N, k, V)
            if end_id is not None:
                _check_id("end_id", end_id, V)
                logp[finished] = -np.inf  # a finished hypothesis only "continues" with
                logp[finished, end_id] = 0.0  # end_id, at no cost and without growing
            total = logp_sum[:, :, None] + logp  # (N, k, V) log p of every candidate
            new_lens = lens + ~finished  # (N, k)
            score = total / new_lens[:, :, None] ** alpha
            best = np.argsort(-score.reshape(N, k * V), axis=1, kind="stable")[:, :k]  # (N, k)
            parent, ids = np.divmod(best, V)  # which hypothesis each continues, with which id
            logp_sum = np.take_along_axis(total.reshape(N, k * V), best, axis=1)
            lens = np.take_along_axis(new_lens, parent, axis=1)
            seqs = np.concatenate(
                [np.take_along_axis(seqs, parent[:, :, None], axis=1), ids[:, :, None]], axis=2)
            if end_id is not None:
                finished = np.take_along_axis(finished, parent, axis=1) | (ids == end_id)
            state = reorder(state, (np.arange(N)[:, None] * k + parent).ravel())
            token = ids.reshape(1, N * k)
            if finished.all():
                break
        scores = logp_sum / np.maximum(lens, 1) ** alpha  # (N, k)
        top = scores.argmax(axis=1)  # (N,)
        T = int(lens[np.arange(N), top].max()) if N else seqs.shape[2]  # the longest best one
        ids = seqs[np.arange(N), top, :T].T  # (T, N)
    return np.ascontiguousarray(ids), scores[np.arange(N), top]


def _protocol(decoder):
    """The decoder's step function and its state re-indexing."""
    step = step_function(decoder, "decoder")
    reorder = getattr(decoder, "reorder_state", None)
    return step, reorder if callable(reorder) else reorder_state


def _start_ids(start_id, state):
    """The first input, (1, N): N from ``start_id`` if it is an array, else from the state."""
    ids = check_int_array("start_id", start_id)
    if ids.ndim == 1:
        return ids[None, :]
    if ids.ndim != 0:
        raise ValueError(
            f"start_id: expected an int or an int array of shape (N,), got {ids.shape}")
    N = _batch_size(state)
    return np.full((1, N), int(ids), dtype=np.int64)


def _batch_size(state):
    """N of a state, read like :func:`reorder_state` reads it; 1 for None."""
    if state is None:
        return 1
    if isinstance(state, np.ndarray):
        return state.shape[0] if state.ndim == 1 else state.shape[1]
    if isinstance(state, tuple) and state:
        return _batch_size(state[0])
    raise TypeError(
        f"state: cannot tell the batch size of a {type(state).__name__}; "
        "pass start_id as an int array of shape (N,)"
    )


def _call(step, ids, state):
    """One decoder step, checked: ``(logits (T, N, V), state)`` for ``ids`` (1, N)."""
    N = ids.shape[1]
    result = step(ids, state)
    logits = result[0] if isinstance(result, tuple) and len(result) == 2 else None
    if not (isinstance(logits, np.ndarray) and logits.ndim == 3 and logits.shape[1] == N
            and logits.shape[0] >= 1 and logits.shape[2] >= 1):
        got = (f"logits of shape {logits.shape}" if isinstance(logits, np.ndarray)
               else f"a {type(result).__name__}" if logits is None
               else f"logits of type {type(logits).__name__}")
        raise ValueError(
            f"decoder: expected forward(ids of shape (1, {N}), state) to return "
            f"(logits of shape (1, {N}, V), state), got {got}"
        )
    return result


def _check_id(name, value, V):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < V:
        raise ValueError(f"{name}: expected an id in [0, {V}) (V = the logits' last axis), "
                         f"got {value!r}")
