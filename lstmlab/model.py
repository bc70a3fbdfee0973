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

Every part keeps one record per forward and each backward consumes the most
recent one, so a part may appear several times in a forward (shared weights:
one encoder for two inputs, one decoder step after another) as long as the
backward calls it as many times, in reverse order. ``zero_grad`` refuses to
run while a part still holds a record no backward consumed; forwards that are
not backpropagated (evaluation, sampling) run under ``with ll.no_grad():``.
"""

from __future__ import annotations

from .module import Module

__all__ = ["Model", "Summary"]


class Summary(str):
    r"""The text of :meth:`Model.summary`: a str that displays as the table itself.

    Examples
    --------
    >>> Summary("a\nb")
    a
    b
    """

    def __repr__(self):
        return str(self)


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
    twice per optimizer step, so they are refused. To share weights, add the
    part once and call it several times in ``forward`` (see the module notes).

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

    Evaluation keeps no records (else the next ``zero_grad`` would refuse):

    >>> with ll.no_grad():
    ...     val_loss, _ = ll.cross_entropy(model.forward(ids), targets)
    >>> model.zero_grad()
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

    def summary(self):
        """A table of the parts, their types, parameter shapes and counts, and the total.

        Like Keras' ``model.summary()``, one row per parameter array, grouped
        by part. It returns the table (a ``str`` that shows as the table at
        the end of a notebook cell or at the prompt; ``print`` it in a script).

        Examples
        --------
        >>> import lstmlab as ll
        >>> model = ll.Model(embed=ll.Embedding(10, 4, rng=0), rnn=ll.GRU(4, 8, rng=0),
        ...                  head=ll.Linear(8, 10, rng=0))
        >>> model.summary()
        Model
        part   type              parameter          shape    count
        ----------------------------------------------------------
        embed  Embedding(10, 4)  W                  (10, 4)     40
        rnn    GRU(4, 8)         layers.0.fwd.W_x   (4, 24)     96
                                 layers.0.fwd.W_h   (8, 24)    192
                                 layers.0.fwd.b     (24,)       24
                                 layers.0.fwd.b_hn  (8,)         8
        head   Linear(8, 10)     W                  (8, 10)     80
                                 b                  (10,)       10
        ----------------------------------------------------------
        Total params: 450 (3.5 KiB as float64)
        """
        rows = []  # (part, type, parameter, shape, count)
        for name, part in self.parts.items():
            kind = repr(part) if "\n" not in repr(part) else type(part).__name__
            if not part.params:
                rows.append((name, kind, "-", "-", "0"))
            for k, (key, p) in enumerate(part.params.items()):
                rows.append((name if k == 0 else "", kind if k == 0 else "", key,
                             str(p.shape), f"{p.size:,}"))
        own = [(k, p) for k, p in self.params.items() if k.split(".")[0] not in self.parts]
        for k, (key, p) in enumerate(own):  # added with add_param, not through a part
            rows.append(("(own)" if k == 0 else "", "", key, str(p.shape), f"{p.size:,}"))
        header = ("part", "type", "parameter", "shape", "count")
        widths = [max(len(r[c]) for r in rows + [header]) for c in range(5)]

        def fmt(r):
            return "  ".join([r[c].ljust(widths[c]) for c in range(4)] + [r[4].rjust(widths[4])])

        rule = "-" * len(fmt(header))
        nbytes = sum(p.nbytes for p in self.params.values())
        dtypes = sorted({str(p.dtype) for p in self.params.values()})
        size = (f"{nbytes} B" if nbytes < 1024 else f"{nbytes / 1024:.1f} KiB"
                if nbytes < 1024 ** 2 else f"{nbytes / 1024 ** 2:.1f} MiB")
        total = (f"Total params: {self.num_params():,} ({size}"
                 + (f" as {', '.join(dtypes)})" if dtypes else ")"))
        lines = [type(self).__name__, fmt(header), rule, *map(fmt, rows), rule, total]
        return Summary("\n".join(line.rstrip() for line in lines))

    def __repr__(self):
        lines = [f"  ({name}): {part!r}" for name, part in self.parts.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"
