"""Dropout: zero random units while training, so no unit can rely on another.

Inverted dropout, as PyTorch's ``nn.Dropout`` does it: each unit is kept with
probability ``1 - p`` and the kept ones are scaled by ``1 / (1 - p)``, so
the expected output equals the input and evaluation needs no rescaling::

    m ~ Bernoulli(1 - p) / (1 - p)         one draw per element (the mask)
    y = x * m                              training
    y = x                                  evaluation (model.eval())
    dx = dy * m                            backward: the same mask

Variational dropout (Gal & Ghahramani, 2016, "A Theoretically Grounded
Application of Dropout in Recurrent Neural Networks") draws ONE mask per
sequence and unit, shape (1, N, D), and applies it at every time step of a
(T, N, D) input: the same units are dropped all along the sequence, as their
Bayesian reading requires, instead of a fresh mask at each step.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .checks import check_float_array, check_range
from .init import as_generator
from .modes import check_finite, is_anomaly_enabled
from .module import Module

__all__ = ["Dropout"]


class DropoutRecord(NamedTuple):
    """What one forward keeps for its backward."""

    shape: tuple  # of x, the shape dy must have
    m: Optional[np.ndarray]  # the scaled mask, (T, N, D) or (1, N, D); None: y = x (eval)


class Dropout(Module):
    """Inverted dropout with an explicit backward; ``variational=True`` shares the mask over time.

    Equations (the mask ``m`` drawn anew by every training forward)::

        m = Bernoulli(1 - p) / (1 - p)       shape of x, or (1, N, D) if variational
        y = x * m                            dx = dy * m

    Parameters
    ----------
    p : float in [0, 1]
        The probability of zeroing a unit. ``p = 1`` zeros everything (as in PyTorch).
    variational : bool
        Draw one mask of shape (1, N, D) for a time-major (T, N, D) input and
        use it at every step (Gal & Ghahramani, 2016).
    rng : None, int or np.random.Generator
        Source of the masks; the same seed gives the same masks.

    Attributes
    ----------
    training : bool
        True after ``train()`` (the default), False after ``eval()``: then
        ``forward`` returns a copy of ``x``.

    Notes
    -----
    Every forward keeps its mask on the module's forward-record stack, so a
    Dropout used k times in a forward (e.g. on the input and on the output of
    an LSTM) gets k backwards, in reverse order, each with its own mask.
    Under ``ll.no_grad()`` nothing is kept. Dropout has no parameters.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> drop = ll.Dropout(0.5, rng=0)
    >>> x = np.ones((2, 6))
    >>> y = drop.forward(x)
    >>> y                                          # kept units are scaled by 1 / (1 - p) = 2
    array([[2., 0., 0., 0., 2., 2.],
           [2., 2., 2., 2., 2., 0.]])
    >>> drop.backward(np.ones_like(y))             # the same mask
    array([[2., 0., 0., 0., 2., 2.],
           [2., 2., 2., 2., 2., 0.]])
    >>> drop.eval().forward(x)                     # evaluation: the identity
    array([[1., 1., 1., 1., 1., 1.],
           [1., 1., 1., 1., 1., 1.]])
    >>> xs = np.ones((3, 1, 4))                    # (T, N, D)
    >>> ll.Dropout(0.5, variational=True, rng=1).forward(xs)[:, 0]   # one mask for every t
    array([[2., 2., 0., 2.],
           [2., 2., 0., 2.],
           [2., 2., 0., 2.]])
    """

    def __init__(self, p=0.5, variational=False, rng=None):
        super().__init__()
        self.p = check_range("p", p, 0.0, 1.0)
        self.variational = bool(variational)
        self.rng = as_generator(rng)
        self.training = True

    def train(self, mode=True):
        """Training mode (masks drawn) or, with ``mode=False``, evaluation; returns self."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode: ``forward`` is the identity; returns self."""
        return self.train(False)

    def forward(self, x):
        """Apply a fresh mask (training) or pass ``x`` through (evaluation).

        Parameters
        ----------
        x : ndarray, floating, any shape; (T, N, D) if ``variational``

        Returns
        -------
        y : ndarray, the shape and dtype of x (a new array)
        """
        check_float_array("x", x)
        if self.variational and x.ndim != 3:
            raise ValueError(
                f"x: variational dropout expects a time-major (T, N, D) input (one mask per "
                f"sequence, shared over T), got shape {x.shape}"
            )
        m = None  # evaluation, or p = 0: y = x
        if self.training and self.p > 0.0:
            shape = (1,) + x.shape[1:] if self.variational else x.shape  # (1, N, D): shared over T
            m = (self.rng.random(shape) >= self.p).astype(x.dtype)
            if self.p < 1.0:  # p = 1 keeps nothing: m stays all zeros
                m /= 1.0 - self.p
        self.save_for_backward(DropoutRecord(x.shape, m))
        y = x.copy() if m is None else x * m
        if is_anomaly_enabled():
            check_finite(self._where, "y", y, "forward")
        return y

    def backward(self, dy):
        """Backpropagate the most recent forward not yet backpropagated: ``dx = dy * m``.

        Parameters
        ----------
        dy : ndarray, the shape of that forward's output

        Returns
        -------
        dx : ndarray, the shape of x
        """
        record = self.saved_for_backward()
        check_float_array("dy", dy)
        if dy.shape != record.shape:
            raise ValueError(
                f"dy: expected shape {record.shape} (the shape of the output of the forward "
                f"being backpropagated), got {dy.shape}"
            )
        dx = dy.copy() if record.m is None else dy * record.m
        if is_anomaly_enabled():
            check_finite(self._where, "dx", dx, "backward")
        return dx

    def __repr__(self):
        extra = ", variational=True" if self.variational else ""
        return f"Dropout(p={self.p}{extra})"
