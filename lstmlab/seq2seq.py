"""An LSTM encoder-decoder, with or without attention, wired by hand in forward and backward."""

from __future__ import annotations

import numpy as np

from .attention import Attention
from .embedding import Embedding
from .init import as_generator
from .layers import LSTM
from .linear import Linear
from .model import Model
from .modes import no_grad

__all__ = ["Seq2Seq"]


class Seq2Seq(Model):
    """Encoder-decoder: embed -> LSTM encoder; embed -> LSTM decoder [-> attention] -> Linear.

    Forward, for source ids ``src`` (T_in, N) and decoder inputs ``ids``
    (T_out, N) (``<go>`` followed by the target, "teacher forcing")::

        keys, (h, c) = encoder(src_embed(src), lengths)     keys (T_in, N, H)
        hs, _        = decoder(tgt_embed(ids), (h, c))      hs (T_out, N, H)
        without attention:  logits = hs W + b               (Sutskever et al. 2014)
        with attention:     context, a = attention(hs, keys, lengths)
                            logits = [context, hs] W + b    (Luong et al. 2015)

    The backward runs the same parts in reverse. The encoder's gradient
    arrives through its final state (``dstate0`` of the decoder) and, with
    attention, through its outputs too (``dkeys``): every decoder step
    reaches every encoder step directly, not only through T_in recurrent steps.

    **The decoding protocol.** ``encode`` returns the decoder's whole state,
    ``(LSTMState(h, c), keys, lengths)``, and ``decode(ids, state) -> (logits,
    state)`` passes ``keys`` and ``lengths`` on unchanged, so
    ``ll.greedy_decode(model.decode, model.encode(src, lengths), ...)`` and
    ``ll.beam_search`` work with and without attention (see
    ``lstmlab.decoding``).

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        V_in and V_out.
    embed_size, hidden_size : int
        E and H (both LSTMs have one layer of H units).
    attention : {None, "dot", "general", "additive"}
        The score of the attention, or None for the plain encoder-decoder.
    padding_idx : int, optional
        The source id of padding (its embedding row stays zero).
    forget_bias : float
        Added to the forget gates' bias of both LSTMs at start.
    dtype : floating dtype
    rng : None, int or np.random.Generator

    Examples
    --------
    Copy a sequence of digits: the decoder reads <go> = 0 then the target.

    >>> import numpy as np
    >>> import lstmlab as ll
    >>> model = ll.Seq2Seq(5, 5, embed_size=4, hidden_size=8, attention="general", rng=0)
    >>> src = np.array([[1, 2], [3, 4], [2, 0]])           # (T_in, N), example 1 padded
    >>> lengths = np.array([3, 2])
    >>> logits = model.forward(src, lengths, np.array([[0, 0], [1, 2], [3, 4]]))
    >>> logits.shape                                       # (T_out, N, V_out)
    (3, 2, 5)
    >>> model.backward(np.ones_like(logits))
    >>> state = model.encode(src, lengths)
    >>> ll.greedy_decode(model.decode, state, start_id=0, length=4).shape
    (4, 2)
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, embed_size, hidden_size, attention=None,
                 padding_idx=None, forget_bias=1.0, dtype=np.float64, rng=None):
        rng = as_generator(rng)
        E, H = embed_size, hidden_size
        parts = dict(
            src_embed=Embedding(src_vocab_size, E, padding_idx=padding_idx, dtype=dtype, rng=rng),
            encoder=LSTM(E, H, forget_bias=forget_bias, dtype=dtype, rng=rng),
            tgt_embed=Embedding(tgt_vocab_size, E, dtype=dtype, rng=rng),
            decoder=LSTM(E, H, forget_bias=forget_bias, dtype=dtype, rng=rng),
        )
        if attention is not None:
            parts["attention"] = Attention(H, score=attention, dtype=dtype, rng=rng)
        parts["head"] = Linear(H if attention is None else 2 * H, tgt_vocab_size, dtype=dtype,
                               rng=rng)
        super().__init__(**parts)
        self.hidden_size = H
        self.with_attention = attention is not None

    def encode(self, src, lengths=None):
        """Read the source; return the decoder's initial state.

        Parameters
        ----------
        src : int array, shape (T_in, N)
        lengths : int array, shape (N,), optional
            Real steps per source sequence (each >= 1 with attention).

        Returns
        -------
        state : (LSTMState(h, c), keys, lengths)
            The encoder's final state (each (1, N, H)), its outputs
            ``keys`` (T_in, N, H) and the lengths, for ``decode``.
        """
        keys, state = self.encoder.forward(self.src_embed.forward(src), lengths=lengths)
        return state, keys, lengths

    def decode(self, ids, state):
        """Run the decoder over ``ids`` (T, N) from ``state``; return (logits (T, N, V), state)."""
        dec_state, keys, lengths = state
        hs, dec_state = self.decoder.forward(self.tgt_embed.forward(ids), dec_state)  # (T, N, H)
        if self.with_attention:
            context, _ = self.attention.forward(hs, keys, lengths)  # (T, N, H)
            hs = np.concatenate([context, hs], axis=-1)  # (T, N, 2H): Luong's [c_t; h_t]
        return self.head.forward(hs), (dec_state, keys, lengths)

    def forward(self, src, lengths, ids):
        """Teacher forcing: logits (T_out, N, V_out) for decoder inputs ``ids`` (T_out, N)."""
        return self.decode(ids, self.encode(src, lengths))[0]

    def backward(self, dlogits):
        """Backpropagate the last ``forward``; every part's gradients ACCUMULATE."""
        dout = self.head.backward(dlogits)
        dkeys = None  # without attention the encoder's outputs feed nothing
        if self.with_attention:
            H = self.hidden_size
            dcontext, dhs = dout[..., :H], dout[..., H:]
            dqueries, dkeys = self.attention.backward(dcontext)
            dout = dhs + dqueries  # h_t is the query and half of the head's input
        dx, dstate0 = self.decoder.backward(dout)
        self.tgt_embed.backward(dx)
        dx, _ = self.encoder.backward(dkeys, dstate=dstate0)  # through the keys and the state
        self.src_embed.backward(dx)

    def attention_weights(self, src, lengths, ids):
        """The attention weights (T_out, N, T_in) of decoder inputs ``ids``, under no_grad."""
        if not self.with_attention:
            raise ValueError("attention_weights: this Seq2Seq was built with attention=None")
        with no_grad():
            dec_state, keys, lengths = self.encode(src, lengths)
            hs, _ = self.decoder.forward(self.tgt_embed.forward(ids), dec_state)
            return self.attention.forward(hs, keys, lengths)[1]

    def __repr__(self):
        V_in, E = self.src_embed.params["W"].shape
        extra = "" if not self.with_attention else f", attention={self.attention.score!r}"
        return (f"Seq2Seq({V_in}, {self.head.out_features}, embed_size={E}, "
                f"hidden_size={self.hidden_size}{extra})")
