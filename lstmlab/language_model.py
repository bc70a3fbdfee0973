"""A recurrent language model: Embedding -> RNN, LSTM or GRU -> Linear, logits of the next token.

::

    x      = embed(ids)                    # (T, N, E)
    x      = dropout(x)                    # only with dropout > 0, only in training
    hs, s  = rnn(x, state)                 # (T, N, H); dropout between stacked layers too
    hs     = dropout(hs)
    logits = hs W + b                      # (T, N, V): a score for every next token

The character models of Karpathy's char-rnn and the word models of Zaremba
et al. (2014) are this model with different sizes (Zaremba et al. drop out
only the non-recurrent connections, as here). It follows the protocol of
:func:`lstmlab.sample`: ``forward(ids, state) -> (logits, state)``.

Its backward is truncated backpropagation through time: the gradient stops at
the ``state`` the chunk started from (that state carries values from the
previous chunk, not gradient), so carry the state across chunks of one
stream and backpropagate each chunk on its own (docs/bptt.md).
"""

from __future__ import annotations

import numpy as np

from .data import bptt_batches
from .dropout import Dropout
from .embedding import Embedding
from .init import as_generator
from .layers import GRU, LSTM, RNN
from .linear import Linear
from .losses import cross_entropy
from .model import Model
from .modes import no_grad

__all__ = ["LanguageModel"]

_LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class LanguageModel(Model):
    """Embedding -> recurrent layer(s) -> Linear: logits of the next token at every step.

    Parameters
    ----------
    vocab_size : int
        V, the number of tokens (``len(vocab)``).
    embed_size : int
        E, the width of a token's embedding.
    hidden_size : int
        H, the width of each recurrent layer.
    num_layers : int
        Stacked recurrent layers.
    cell : {"lstm", "gru", "rnn"}
    dropout : float in [0, 1)
        Dropout on the embeddings, between stacked layers and on the last
        layer's outputs, in training mode only (``model.eval()`` turns it off).
    dtype : floating dtype
    rng : None, int or np.random.Generator
        Initial weights and dropout masks.
    **rnn_options
        Passed to the recurrent layer, e.g. ``forget_bias=1.0`` for an LSTM.

    Attributes
    ----------
    embed, drop_in, rnn, drop_out, head : the parts (params under ``"embed.W"``,
        ``"rnn.layers.0.fwd.W_x"``, ``"head.W"`` ...)

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> model = ll.LanguageModel(vocab_size=10, embed_size=4, hidden_size=8, rng=0)
    >>> ids = np.array([[1, 2], [3, 4], [5, 6]])                  # (T, N) = (3, 2)
    >>> logits, state = model.forward(ids)                       # state: LSTMState(h_n, c_n)
    >>> logits.shape, state.h.shape
    ((3, 2, 10), (1, 2, 8))
    >>> loss, dlogits = ll.cross_entropy(logits, np.array([[2, 3], [4, 5], [6, 7]]))
    >>> model.backward(dlogits)                                  # grads in model.grads
    >>> ll.sample(model, prime_ids=[1, 2], length=5, rng=0).shape
    (5,)
    """

    def __init__(self, vocab_size, embed_size, hidden_size, num_layers=1, cell="lstm",
                 dropout=0.0, dtype=np.float64, rng=None, **rnn_options):
        if cell not in _LAYERS:
            raise ValueError(f"cell: expected one of {sorted(_LAYERS)}, got {cell!r}")
        rng = as_generator(rng)
        layer = _LAYERS[cell](embed_size, hidden_size, num_layers, dropout=dropout, dtype=dtype,
                              rng=rng, **rnn_options)
        super().__init__(embed=Embedding(vocab_size, embed_size, dtype=dtype, rng=rng),
                         drop_in=Dropout(dropout, rng=rng), rnn=layer,
                         drop_out=Dropout(dropout, rng=rng),
                         head=Linear(hidden_size, vocab_size, dtype=dtype, rng=rng))
        self.cell = cell

    def forward(self, ids, state=None):
        """Logits of the next token at every position, and the final state.

        Parameters
        ----------
        ids : array of int, shape (T, N)
        state : the recurrent layer's state, optional
            Where the previous chunk of the same streams ended; None: zeros.

        Returns
        -------
        logits : ndarray, shape (T, N, V)
        state : the state after the last step (pass it to the next chunk)
        """
        x = self.drop_in.forward(self.embed.forward(ids))  # (T, N, E)
        hs, state = self.rnn.forward(x, state)  # (T, N, H), the state to carry on
        return self.head.forward(self.drop_out.forward(hs)), state  # (T, N, V)

    def backward(self, dlogits):
        """Backpropagate through this chunk only (truncated BPTT); gradients accumulate."""
        dhs = self.drop_out.backward(self.head.backward(dlogits))  # (T, N, H)
        dx, _ = self.rnn.backward(dhs)  # dstate0, the gradient into the previous chunk: dropped
        self.embed.backward(self.drop_in.backward(dx))

    def evaluate(self, ids, batch_size=1, seq_len=64):
        """Mean cross-entropy (nats per token) of predicting every next id of a text.

        The ids are read as ``batch_size`` parallel streams in chunks of
        ``seq_len`` steps (:func:`lstmlab.data.bptt_batches`), the state
        carried from chunk to chunk, under :func:`lstmlab.no_grad`, in the
        model's current mode (call ``model.eval()`` first to turn dropout off).
        Feed the result to :func:`lstmlab.perplexity` or
        :func:`lstmlab.bits_per_char`.

        Parameters
        ----------
        ids : array_like of int, shape (n,)
            A held-out text, encoded. The last ``n % batch_size`` ids are not read.
        batch_size, seq_len : int
            Streams and steps per chunk: they change only the speed (and which
            few ids are left out), not what the model is asked.

        Returns
        -------
        float

        Examples
        --------
        >>> import numpy as np
        >>> import lstmlab as ll
        >>> model = ll.LanguageModel(vocab_size=10, embed_size=4, hidden_size=8, rng=0)
        >>> ce = model.evaluate(np.arange(40) % 10, batch_size=2, seq_len=5)
        >>> round(ll.perplexity(ce), 1)             # untrained: about V = 10
        9.9
        """
        total, count, state = 0.0, 0, None
        with no_grad():  # evaluation: keep no records for a backward
            for x, y in bptt_batches(ids, batch_size, seq_len):
                logits, state = self.forward(x, state)
                loss, _ = cross_entropy(logits, y)
                total += loss * y.size
                count += y.size
        return total / count
