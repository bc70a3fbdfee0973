"""Composition: a model made of named parts, seen as ONE set of params and grads.

A model is a few layers wired together by hand. :class:`Model` does only the
bookkeeping: it keeps the parts as attributes and merges their ``params`` and
``grads`` under dotted names (``"rnn.layers.0.fwd.W_x"``), so one optimizer,
one clipper and one save/load serve the whole model. The entries are the
parts' own arrays, not copies: an optimizer step through the model's dicts
changes the weights the parts compute with.

The wiring -- the forward and its backward in reverse order -- stays in your
code, where you can read it: subclass :class:`Model` and write ``forward`` and
``backward``, or call the parts by attribute in a script.
"""

from __future__ import annotations

from .module import Module

__all__ = ["Model"]


class Model(Module):
    """A container of named parts whose params/grads are merged under dotted names.

    Parameters
    ----------
    **parts : objects with ``params`` and ``grads`` dicts
        Layers, cells or other models, in the order data flows through them.
        Each becomes an attribute (``model.embed``) and contributes its
        arrays as ``"<name>.<param>"``.

    Notes
    -----
    The dicts are merged when a part is added, so add parts after they have
    all their parameters (every lstmlab layer has them from its constructor).
    An array may belong to only one part: shared weights would be updated
    twice per optimizer step, so they are refused.

    Examples
    --------
    A character language model, Embedding -> LSTM -> Linear, with its forward
    and backward written out:

    >>> import numpy as np
    >>> import lstmlab as ll
    >>> class CharLM(ll.Model):
    ...     def __init__(self, V, E, H, rng=None):
    ...         rng = np.random.default_rng(rng)
    ...         super().__init__(embed=ll.Embedding(V, E, rng=rng),
    ...                          rnn=ll.LSTM(E, H, rng=rng),
    ...                          head=ll.Linear(H, V, rng=rng))
    ...     def forward(self, ids):                  # ids (T, N) -> logits (T, N, V)
    ...         x = self.embed.forward(ids)          # (T, N, E)
    ...         hs, _ = self.rnn.forward(x)          # (T, N, H)
    ...         return self.head.forward(hs)
    ...     def backward(self, dlogits):             # the same parts, in reverse
    ...         dhs = self.head.backward(dlogits)
    ...         dx, _ = self.rnn.backward(dhs)
    ...         self.embed.backward(dx)
    >>> model = CharLM(V=5, E=4, H=8, rng=0)
    >>> sorted(model.params)[:3]
    ['embed.W', 'head.W', 'head.b']
    >>> model.params["rnn.layers.0.fwd.W_x"] is model.rnn.params["layers.0.fwd.W_x"]
    True
    >>> ids = np.array([[0, 1], [2, 3], [4, 0]])     # (T, N)
    >>> targets = np.array([[1, 2], [3, 4], [0, 1]])
    >>> opt = ll.Adam(model.params, model.grads, lr=0.05)
    >>> losses = []
    >>> for _ in range(30):
    ...     model.zero_grad()
    ...     loss, dlogits = ll.cross_entropy(model.forward(ids), targets)
    ...     model.backward(dlogits)
    ...     _ = ll.clip_grad_norm(model.grads, 5.0)
    ...     opt.step()
    ...     losses.append(loss)
    >>> losses[-1] < 0.5 * losses[0]
    True
    """

    def __init__(self, **parts):
        super().__init__()
        self.training = True
        self.parts = {}
        for name, part in parts.items():
            self.add(name, part)

    def add(self, name, part):
        """Add ``part`` under ``name``: an attribute, and ``"<name>.<param>"`` keys.

        Returns the part, so ``self.head = ...`` style code can read
        ``head = model.add("head", ll.Linear(H, V))``.
        """
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(
                f"name: expected a Python identifier not starting with _, got {name!r}"
            )
        if name in self.parts or hasattr(self, name):
            raise ValueError(f"name: {name!r} is already taken (a part or a Model attribute)")
        params, grads = getattr(part, "params", None), getattr(part, "grads", None)
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise TypeError(
                f"{name}: expected a part with params and grads dicts (a layer, a cell, a "
                f"Model), got {type(part).__name__}"
            )
        own = {id(p): key for key, p in self.params.items()}
        for key, p in params.items():
            if id(p) in own:
                raise ValueError(
                    f"{name}: its parameter {key!r} is the same array as {own[id(p)]!r}; "
                    "a shared array would be updated twice per optimizer step"
                )
        self.add_module(name, part)
        self.parts[name] = part
        setattr(self, name, part)
        return part

    def train(self, mode=True):
        """Training mode for every part that has modes (e.g. dropout); returns self."""
        self.training = bool(mode)
        for part in self.parts.values():
            if callable(getattr(part, "train", None)):
                part.train(mode)
        return self

    def eval(self):
        """Evaluation mode for every part that has modes; returns self."""
        return self.train(False)

    def forward(self, *inputs):
        """Write the forward pass in a subclass (``x = self.embed.forward(ids)`` ...)."""
        raise NotImplementedError(
            "Model.forward: subclass Model and write forward (and backward) by hand, "
            "calling the parts by attribute, or call the parts directly in your script"
        )

    def backward(self, *douts):
        """Write the backward pass in a subclass: the parts' backwards in reverse order."""
        raise NotImplementedError(
            "Model.backward: subclass Model and write backward by hand, calling the "
            "parts' backward in the reverse order of forward"
        )

    def __repr__(self):
        lines = [f"  ({name}): {part!r}" for name, part in self.parts.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"
