"""From your own text to batches of ids: a vocabulary, BPTT streams, padding, minibatches.

The pieces every language model and tagger needs before its first forward::

    Vocab               tokens (characters or words) <-> integer ids
    bptt_batches        one long id array -> (x, y) chunks of parallel streams (truncated BPTT)
    pad_sequences       variable-length id lists -> one (T, N) array plus lengths
    minibatches         shuffled index arrays, one epoch at a time, from a seed
    train_val_split     a random held-out part of a list of examples

Everything is time-major, (T, N), like the layers. Nothing here draws a
random number without the ``rng`` you pass, so the same seed gives the same
batches.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .checks import check_int_array, check_positive_int, check_range
from .init import as_generator

__all__ = ["Vocab", "bptt_batches", "pad_sequences", "minibatches", "train_val_split"]

_FORMAT = 1  # version of the to_dict layout


class Vocab:
    """A vocabulary: a stable mapping between tokens and the ids ``0 .. len - 1``.

    Order of the ids: the ``specials`` first, in the order given, then every
    token seen at least ``min_freq`` times, most frequent first, ties broken
    by first appearance in ``tokens``. The same tokens give the same ids on
    every run and every machine.

    Parameters
    ----------
    tokens : iterable of str
        The corpus, one token per item: a ``str`` is read as its characters
        (a character vocabulary), a list of words gives a word vocabulary.
        For a list of sentences, chain them first:
        ``itertools.chain.from_iterable(sentences)``.
    min_freq : int
        Tokens seen fewer times are left out (and encode as ``<unk>``).
    specials : sequence of str
        Reserved tokens placed first, e.g. ``("<pad>", "<unk>")`` to give
        padding the id 0. When ``"<unk>"`` is among them, unknown tokens
        encode as it; without it, encoding an unknown token is an error.

    Attributes
    ----------
    tokens : list of str
        ``tokens[i]`` is the token with id ``i``.
    specials : list of str
    unk_id : int or None
        The id of ``"<unk>"``, or None when there is no ``"<unk>"``.

    Notes
    -----
    A vocabulary is saved with the model's weights as plain data, never as a
    pickle: ``ll.save(model, path, extra={"vocab": vocab.to_dict()})``, and
    ``Vocab.from_dict(ll.load_extra(path)["vocab"])`` rebuilds it (see
    :meth:`to_dict`).

    Examples
    --------
    >>> from lstmlab.data import Vocab
    >>> vocab = Vocab("hello world")
    >>> vocab.tokens[:5]           # <unk>, then 'l' (3 times), 'o' (2), then 'h' before 'e'
    ['<unk>', 'l', 'o', 'h', 'e']
    >>> ids = vocab.encode("hold!")
    >>> ids                        # '!' was never seen: it becomes <unk> (id 0)
    array([3, 2, 1, 8, 0])
    >>> "".join(vocab.decode(ids))
    'hold<unk>'
    >>> words = Vocab("the cat saw the dog".split(), specials=("<pad>", "<unk>"))
    >>> len(words), words["<pad>"], words["the"], words["bird"]
    (6, 0, 2, 1)
    """

    def __init__(self, tokens, min_freq=1, specials=("<unk>",)):
        min_freq = check_positive_int("min_freq", min_freq)
        if isinstance(specials, str):
            raise TypeError(
                f"specials: expected a sequence of str such as ('<unk>',), got the str "
                f"{specials!r} (write ({specials!r},) for one special)"
            )
        specials = list(specials)
        for s in specials:
            _check_token("specials", s)
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials: expected distinct tokens, got {specials}")
        counts = Counter()  # a Counter remembers first appearance: sorted() below is stable
        for token in tokens:
            counts[_check_token("tokens", token)] += 1
        if not counts:
            raise ValueError("tokens: expected at least one token, got an empty corpus")
        kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                      key=lambda t: -counts[t])
        self._set_tokens(specials + kept, specials)

    def _set_tokens(self, tokens, specials):
        self.tokens = list(tokens)
        self.specials = list(specials)
        self._ids = {t: i for i, t in enumerate(self.tokens)}
        self.unk_id = self._ids.get("<unk>") if "<unk>" in self.specials else None

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self._ids

    def __getitem__(self, token):
        """The id of one token (``unk_id`` for an unknown one)."""
        return int(self.encode([token])[0])

    def __eq__(self, other):
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.tokens == other.tokens and self.specials == other.specials

    def __repr__(self):
        head = ", ".join(repr(t) for t in self.tokens[:6])
        more = ", ..." if len(self) > 6 else ""
        return f"Vocab({len(self)} tokens: {head}{more})"

    def encode(self, tokens):
        """The ids of ``tokens``, as a 1-D int64 array.

        Parameters
        ----------
        tokens : iterable of str
            A ``str`` is read as its characters.

        Returns
        -------
        ids : ndarray of int64, shape (len(tokens),)

        Raises
        ------
        ValueError
            A token that is not in the vocabulary, when there is no ``"<unk>"``.

        Examples
        --------
        >>> from lstmlab.data import Vocab
        >>> Vocab("abcab", specials=()).encode("cab")
        array([2, 0, 1])
        >>> Vocab("abcab", specials=()).encode("abz")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: tokens: 'z' is not in the vocabulary (3 tokens, no '<unk>' ...
        """
        ids = []
        for token in tokens:
            i = self._ids.get(token, self.unk_id)
            if i is None:
                raise ValueError(
                    f"tokens: {token!r} is not in the vocabulary ({len(self)} tokens, no "
                    "'<unk>' among the specials to stand for it); build the Vocab with "
                    "specials=('<unk>',) or from a corpus that contains it"
                )
            ids.append(i)
        return np.array(ids, dtype=np.int64)

    def decode(self, ids):
        """The tokens of ``ids``, as a list (join it for text: ``"".join(...)``).

        Parameters
        ----------
        ids : array_like of int, shape (L,)
            Each in ``[0, len(vocab))``.

        Examples
        --------
        >>> from lstmlab.data import Vocab
        >>> vocab = Vocab("the cat".split(), specials=())
        >>> " ".join(vocab.decode([1, 0]))
        'cat the'
        """
        ids = check_int_array("ids", ids)
        if ids.ndim != 1:
            raise ValueError(f"ids: expected a 1-D array of ids, got shape {ids.shape}")
        bad = (ids < 0) | (ids >= len(self))
        if bad.any():
            raise ValueError(
                f"ids: expected ids in [0, {len(self)}) (the vocabulary size), "
                f"got {int(ids[bad][0])}"
            )
        return [self.tokens[i] for i in ids.tolist()]

    def to_dict(self):
        """The vocabulary as plain data (lists of str), ready for ``json.dump``.

        Returns
        -------
        dict with keys ``"format"``, ``"tokens"`` and ``"specials"``.

        Examples
        --------
        Save it in the model's checkpoint, and read it back before building
        the model (its size decides the embedding's):

        >>> import os, tempfile
        >>> import lstmlab as ll
        >>> from lstmlab.data import Vocab
        >>> vocab = Vocab("hello world")
        >>> model = ll.Embedding(len(vocab), 4, rng=0)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
        >>> _ = ll.save(model, path, extra={"vocab": vocab.to_dict()})
        >>> loaded = Vocab.from_dict(ll.load_extra(path)["vocab"])
        >>> model2 = ll.Embedding(len(loaded), 4)
        >>> _ = ll.load(model2, path)
        >>> loaded == vocab, loaded.encode("low").tolist()
        (True, [1, 2, 6])
        >>> bool((model2.params["W"] == model.params["W"]).all())
        True

        It is JSON, so it can also live in a file of its own:
        ``json.dump(vocab.to_dict(), f)``.
        """
        return {"format": _FORMAT, "tokens": list(self.tokens), "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a vocabulary from :meth:`to_dict`'s output (the same ids).

        Examples
        --------
        >>> from lstmlab.data import Vocab
        >>> vocab = Vocab("abracadabra")
        >>> Vocab.from_dict(vocab.to_dict()).tokens == vocab.tokens
        True
        """
        if not isinstance(data, dict) or not {"tokens", "specials"} <= set(data):
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(
                f"data: expected a dict with 'tokens' and 'specials' (from Vocab.to_dict), "
                f"got {got}"
            )
        if data.get("format", _FORMAT) != _FORMAT:
            raise ValueError(f"data: expected format {_FORMAT}, got {data['format']!r}")
        tokens = [_check_token("data['tokens']", t) for t in data["tokens"]]
        specials = [_check_token("data['specials']", t) for t in data["specials"]]
        if len(set(tokens)) != len(tokens) or tokens[: len(specials)] != specials:
            raise ValueError(
                "data: expected distinct tokens that start with the specials, "
                f"got tokens {tokens[:8]}... and specials {specials}"
            )
        vocab = cls.__new__(cls)
        vocab._set_tokens(tokens, specials)
        return vocab


def _check_token(name, token):
    if not isinstance(token, str):
        raise TypeError(f"{name}: expected str tokens, got {type(token).__name__} {token!r}")
    return token


class _BPTTBatches:
    """The (x, y) chunks of ``bptt_batches``: iterable (again, each epoch) and sized."""

    def __init__(self, streams, seq_len):
        self.streams = streams  # (L, N): column n is the n-th contiguous slice of the data
        self.seq_len = seq_len

    def __len__(self):
        return math.ceil((len(self.streams) - 1) / self.seq_len)

    def __iter__(self):
        L = len(self.streams)
        for s in range(0, L - 1, self.seq_len):
            y = self.streams[s + 1 : s + 1 + self.seq_len]  # the next id of every x
            x = self.streams[s : s + len(y)]
            yield x.copy(), y.copy()

    def __repr__(self):
        L, N = self.streams.shape
        return f"bptt_batches({len(self)} chunks of seq_len={self.seq_len}, {N} streams of {L})"


def bptt_batches(ids, batch_size, seq_len):
    """Cut a 1-D id array into parallel streams and yield (x, y) chunks for truncated BPTT.

    The ids are cut into ``batch_size`` contiguous streams of ``L = len(ids)
    // batch_size`` ids each (the last ``len(ids) % batch_size`` ids are
    dropped); stream n is column n. Chunk k holds steps ``k*seq_len ...`` of
    every stream, and ``y`` is ``x`` shifted by one step: the next id. So
    chunk k + 1 continues each stream exactly where chunk k stopped, and the
    state a model ends chunk k in is the right initial state for chunk k + 1.

    Parameters
    ----------
    ids : array_like of int, shape (n,)
    batch_size : int
        N, the number of parallel streams; at most ``len(ids) // 2`` (a stream
        needs two ids for one (x, y) step).
    seq_len : int
        T, the steps per chunk (the truncation length); at most ``L - 1``.

    Returns
    -------
    batches : iterable of (x, y), each an int64 ndarray of shape (seq_len, batch_size)
        Iterate it once per epoch; ``len(batches)`` chunks, ``ceil((L - 1) /
        seq_len)``. The last chunk is shorter, ``(L - 1) % seq_len`` steps,
        when ``seq_len`` does not divide ``L - 1``: it is yielded, not dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from lstmlab.data import bptt_batches
    >>> batches = bptt_batches(np.arange(12), batch_size=2, seq_len=3)
    >>> len(batches)
    2
    >>> for x, y in batches:
    ...     print(x.T.tolist(), "->", y.T.tolist())     # one row per stream
    [[0, 1, 2], [6, 7, 8]] -> [[1, 2, 3], [7, 8, 9]]
    [[3, 4], [9, 10]] -> [[4, 5], [10, 11]]
    >>> bptt_batches(np.arange(12), batch_size=2, seq_len=6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: seq_len: expected an integer in [1, 5] (2 streams of 6 ids ...), got 6
    """
    ids = check_int_array("ids", ids)
    if ids.ndim != 1:
        raise ValueError(f"ids: expected a 1-D array of ids, got shape {ids.shape}")
    if len(ids) < 2:
        raise ValueError(
            f"ids: expected at least 2 ids (one input and its next id), got {len(ids)}"
            + (": an empty corpus" if len(ids) == 0 else "")
        )
    batch_size = check_positive_int("batch_size", batch_size)
    if batch_size > len(ids) // 2:
        raise ValueError(
            f"batch_size: expected an integer in [1, {len(ids) // 2}] (each stream needs 2 of "
            f"the {len(ids)} ids), got {batch_size}"
        )
    L = len(ids) // batch_size
    seq_len = check_positive_int("seq_len", seq_len)
    if seq_len > L - 1:
        raise ValueError(
            f"seq_len: expected an integer in [1, {L - 1}] ({batch_size} streams of {L} ids "
            f"give at most {L - 1} (x, y) steps), got {seq_len}"
        )
    streams = ids[: L * batch_size].reshape(batch_size, L).T.copy()  # (L, N)
    return _BPTTBatches(streams, seq_len)


def pad_sequences(seqs, pad_value=0, batch_first=False):
    """Stack sequences of different lengths into one array, padded at the end.

    Parameters
    ----------
    seqs : sequence of array_like, each of shape (L_n,) or (L_n, ...)
        Token ids (or feature vectors: any trailing shape, the same for all).
    pad_value : scalar
        Fills the steps after each sequence's end; use the vocabulary's
        ``<pad>`` id with ``Embedding(padding_idx=...)``, or a class id that
        ``cross_entropy(ignore_index=...)`` skips.
    batch_first : bool
        Return (N, T, ...) instead of the time-major (T, N, ...).

    Returns
    -------
    padded : ndarray, shape (T, N, ...) with T = max(L_n)
        The dtype of the sequences (int64 for lists of ints).
    lengths : ndarray of int64, shape (N,)
        ``L_n``, ready for a layer's ``lengths=``.

    Examples
    --------
    >>> from lstmlab.data import pad_sequences
    >>> padded, lengths = pad_sequences([[5, 6, 7], [8], [9, 4]], pad_value=0)
    >>> padded
    array([[5, 8, 9],
           [6, 0, 4],
           [7, 0, 0]])
    >>> lengths
    array([3, 1, 2])
    >>> pad_sequences([[5, 6, 7], [8]], batch_first=True)[0]
    array([[5, 6, 7],
           [8, 0, 0]])
    """
    if isinstance(seqs, (str, np.ndarray)) or not hasattr(seqs, "__len__"):
        raise TypeError(
            f"seqs: expected a list of sequences (one per example), got {type(seqs).__name__}"
        )
    if len(seqs) == 0:
        raise ValueError("seqs: expected at least one sequence, got an empty list")
    arrays = [np.asarray(s) for s in seqs]
    for n, a in enumerate(arrays):
        if a.ndim == 0 or a.shape[1:] != arrays[0].shape[1:]:
            raise ValueError(
                f"seqs[{n}]: expected shape (L,) + {arrays[0].shape[1:]} (a sequence, with the "
                f"trailing shape of seqs[0]), got shape {a.shape}"
            )
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    dtype = np.result_type(*[a.dtype for a in arrays if a.size] or [np.int64])
    N, T = len(arrays), int(lengths.max())
    padded = np.full((T, N) + arrays[0].shape[1:], pad_value, dtype=dtype)  # (T, N, ...)
    for n, a in enumerate(arrays):
        padded[: len(a), n] = a
    if batch_first:
        padded = np.ascontiguousarray(np.swapaxes(padded, 0, 1))  # (N, T, ...)
    return padded, lengths


def minibatches(n, batch_size, rng=None, shuffle=True, drop_last=False):
    """Yield index arrays that cover ``range(n)`` once: one epoch of minibatches.

    Parameters
    ----------
    n : int
        The number of examples.
    batch_size : int
        In ``[1, n]``. The last batch is smaller when ``batch_size`` does not
        divide ``n`` (unless ``drop_last``).
    rng : None, int or np.random.Generator
        Source of the shuffle. Pass one Generator for the whole run: each
        epoch then gets a new order, and the run is the same for the same seed.
    shuffle : bool
        False yields ``0, 1, ..., n - 1`` in order (for evaluation).
    drop_last : bool
        Skip the last, smaller batch.

    Yields
    ------
    idx : ndarray of int64, shape (batch_size,) (the last one maybe shorter)
        Index your arrays with it: ``x[:, idx]`` (time-major) or ``items[idx]``.

    Examples
    --------
    >>> import numpy as np
    >>> from lstmlab.data import minibatches
    >>> rng = np.random.default_rng(0)
    >>> [idx.tolist() for idx in minibatches(5, 2, rng)]
    [[2, 4], [3, 0], [1]]
    >>> [idx.tolist() for idx in minibatches(5, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    n = check_positive_int("n", n)
    batch_size = check_positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(
            f"batch_size: expected an integer in [1, {n}] (n, the number of examples), "
            f"got {batch_size}"
        )
    order = as_generator(rng).permutation(n) if shuffle else np.arange(n)
    return _batches_of(order, batch_size, drop_last)


def _batches_of(order, batch_size, drop_last):
    stop = len(order) - len(order) % batch_size if drop_last else len(order)
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def train_val_split(items, val_fraction, rng=None):
    """Hold out a random part of ``items`` for validation.

    Parameters
    ----------
    items : list, tuple or ndarray
        The examples (sentences, (input, target) pairs, rows of an array).
        Not a ``str``: for a text, split its paragraphs or lines, so that
        held-out text is whole.
    val_fraction : float in (0, 1)
        ``round(val_fraction * len(items))`` examples go to validation (at
        least one, and at least one stays for training).
    rng : None, int or np.random.Generator
        Which examples are held out.

    Returns
    -------
    train, val : the same kind as ``items`` (lists for a list or tuple)
        Each keeps the original order of its items.

    Examples
    --------
    >>> from lstmlab.data import train_val_split
    >>> train, val = train_val_split(list("abcdefghij"), 0.2, rng=0)
    >>> train, val
    (['a', 'b', 'c', 'd', 'e', 'f', 'i', 'j'], ['g', 'h'])
    """
    if isinstance(items, str):
        raise TypeError(
            "items: expected a list of examples, got a str; for a text, split it first, "
            "e.g. text.split('\\n\\n') for paragraphs"
        )
    if not isinstance(items, (list, tuple, np.ndarray)):
        raise TypeError(f"items: expected a list, tuple or ndarray, got {type(items).__name__}")
    n = len(items)
    if n < 2:
        raise ValueError(f"items: expected at least 2 items (one on each side), got {n}")
    val_fraction = check_range("val_fraction", val_fraction, 0.0, 1.0)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a value in (0, 1), got {val_fraction}")
    n_val = min(max(round(val_fraction * n), 1), n - 1)
    held_out = np.zeros(n, dtype=bool)
    held_out[as_generator(rng).choice(n, size=n_val, replace=False)] = True
    if isinstance(items, np.ndarray):
        return items[~held_out], items[held_out]
    return ([x for x, v in zip(items, held_out) if not v],
            [x for x, v in zip(items, held_out) if v])
