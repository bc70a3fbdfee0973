"""Many-to-one: read a whole sequence, answer once, from the last hidden state.

The shape of sequence regression and classification (the adding problem, a
forecast from a window of days, the sentiment of a sentence)::

    hs, _  = rnn.forward(x, lengths=lengths)      # (T, N, H): every step's output
    h_last = hs[T_n - 1, n]                       # (N, H): each sequence's own last step
    y      = h_last W + b                         # (N, K): a Linear read-out

The loss touches the last step only, so the backward puts ``dL/dh_last`` at
each sequence's last step, zeros everywhere else, and backpropagation through
time carries it back to every earlier step: how far it reaches is the
vanishing-gradient question (docs/gradients.md).
"""

from __future__ import annotations

import numpy as np

from .linear import Linear
from .model import Model
from .recurrent import check_lengths

__all__ = ["ManyToOne"]


class ManyToOne(Model):
    """A recurrent layer and a Linear read-out of its output at the last step.

    Parameters
    ----------
    rnn : recurrent layer
        ``ll.RNN``, ``ll.LSTM``, ``ll.GRU`` (time-major, the default), an
        ``ll.Recurrent``, or any part with ``forward(x, state, lengths) ->
        (hs, state)`` and ``backward(dhs) -> (dx, dstate0)``.
    out_features : int
        K, the size of the answer (1 for a regression on one number, the
        number of classes for a classifier's logits).
    rng : None, int or np.random.Generator
        The read-out's initial weights.

    Attributes
    ----------
    rnn, head : the parts (``params`` keys ``"rnn.*"`` and ``"head.W"``, ``"head.b"``)

    Notes
    -----
    For a bidirectional layer the output at the last step holds the forward
    direction's summary of the whole sequence but the backward direction's
    first step only; read ``h_n`` for a bidirectional summary.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> model = ll.ManyToOne(ll.LSTM(2, 8, forget_bias=1.0, rng=0), 1, rng=0)
    >>> x = np.random.default_rng(0).standard_normal((5, 3, 2))     # (T, N, D)
    >>> y = model.forward(x)                                        # (N, K)
    >>> loss, dy = ll.mse(y, np.ones((3, 1)))
    >>> dx = model.backward(dy)                                     # (T, N, D)
    >>> y.shape, dx.shape, sorted(model.params)[:2]
    ((3, 1), (5, 3, 2), ['head.W', 'head.b'])

    Sequences of different lengths answer from their own last step:

    >>> model.zero_grad()
    >>> with ll.no_grad():                                          # evaluation
    ...     y = model.forward(x, lengths=[5, 2, 1])
    >>> y.shape
    (3, 1)
    """

    def __init__(self, rnn, out_features, rng=None):
        width = _output_width(rnn)
        super().__init__(rnn=rnn, head=Linear(width, out_features, dtype=rnn.dtype, rng=rng))

    def forward(self, x, lengths=None):
        """The answer for each sequence.

        Parameters
        ----------
        x : ndarray, shape (T, N, D)
        lengths : array of int, shape (N,), optional
            Real steps per sequence, each in [1, T]; None means all T.

        Returns
        -------
        y : ndarray, shape (N, K)
        """
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"x: expected shape (T, N, D), got shape {x.shape}")
        T, N = x.shape[:2]
        if lengths is None:
            last = np.full(N, T - 1)
        else:
            lengths = check_lengths(lengths, N, T)
            if N and lengths.min() < 1:
                raise ValueError(
                    f"lengths: expected integers in [1, T] = [1, {T}] (a sequence needs a "
                    f"last step to answer from), got a length {lengths.min()}"
                )
            last = lengths - 1
        hs, _ = self.rnn.forward(x, lengths=lengths)  # (T, N, H)
        h_last = hs[last, np.arange(N)]  # (N, H): each sequence's last real step
        y = self.head.forward(h_last)  # (N, K)
        self.save_for_backward((hs.shape, last))
        return y

    def backward(self, dy):
        """Backpropagate ``dy`` (N, K); return dx (T, N, D). Gradients accumulate."""
        hs_shape, last = self.saved_for_backward()
        dh_last = self.head.backward(dy)  # (N, H)
        dhs = np.zeros(hs_shape, dtype=dh_last.dtype)  # (T, N, H)
        dhs[last, np.arange(len(last))] = dh_last  # the loss touches each last step only
        dx, _ = self.rnn.backward(dhs)  # BPTT carries it back through every step
        return dx


def _output_width(rnn):
    """The width of ``rnn``'s outputs hs: H (or an LSTM's proj_size), times directions."""
    layers = getattr(rnn, "layers", None)
    if isinstance(layers, list) and layers:  # ll.RNN / LSTM / GRU: the last layer's cells
        return getattr(rnn, "num_directions", 1) * layers[-1][0].cell.output_size
    cell = getattr(rnn, "cell", None)
    if cell is not None:  # ll.Recurrent
        return cell.output_size
    if isinstance(getattr(rnn, "hidden_size", None), int):
        return rnn.hidden_size
    raise TypeError(
        f"rnn: expected a recurrent layer (ll.RNN, ll.LSTM, ll.GRU, ll.Recurrent or one "
        f"with hidden_size), got {type(rnn).__name__}"
    )
