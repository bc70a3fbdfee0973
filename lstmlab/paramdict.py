"""Parameters are updated in place, never rebound: the dict that says so, and the checks.

Everything that holds a parameter holds the ARRAY, not its name: the layer's
``params`` dict, the model's merged dict (``"rnn.layers.0.fwd.W_x"``), an
optimizer and its state for that array. New values must therefore go INTO the
array::

    layer.params["W_x"][...] = new    # every holder sees the new weights
    layer.params["W_x"] = new         # only the layer would: the optimizer keeps training
                                      # the old array, ll.load writes into the old array

Three lines of defence catch the second line:

- a :class:`~lstmlab.Module`'s ``params`` and ``grads`` are :class:`ParamDict`\\ s,
  which refuse to rebind an existing key, with an error showing the first line;
- an optimizer checks at every step that its dicts still hold the arrays it
  was built with (a plain dict can still be rebound);
- :func:`~lstmlab.clip_grad_norm`, :func:`~lstmlab.clip_grad_value`,
  :func:`~lstmlab.save` and :func:`~lstmlab.load`, given a model, check with
  :func:`rebound_entries` that every composite still holds its parts' arrays
  (a part whose whole dict was replaced, or a plain-dict part of a Model).
"""

from __future__ import annotations

__all__ = ["ParamDict", "rebound_entries", "rebinding_advice"]


def rebinding_advice(kind, key):
    """The fix, in one sentence, for a rebound ``kind[key]`` (``kind``: "params" or "grads")."""
    if kind == "grads":
        return (f"update gradients in place: grads[{key!r}][...] = new, or "
                f"grads[{key!r}].fill(0) to reset one")
    return (f"write new values into the existing array instead: params[{key!r}][...] = new "
            "(as ll.load and every optimizer do)")


class ParamDict(dict):
    """A dict of parameter (or gradient) arrays that refuses to rebind an existing key.

    Adding a new key works as in any dict; assigning another object to a key
    that already holds an array raises RuntimeError, because every other
    holder of that array (an optimizer, the model that merged this part's
    arrays, a checkpoint being loaded) would silently keep the old one.

    Parameters
    ----------
    kind : {"params", "grads"}
        How error messages name the dict.
    items : dict or iterable of (key, array) pairs, optional

    Examples
    --------
    >>> import numpy as np
    >>> params = ParamDict("params")
    >>> params["W"] = np.zeros(2)
    >>> params["W"][...] = [1.0, 2.0]           # in place: fine
    >>> params["W"] = np.ones(2)
    Traceback (most recent call last):
    ...
    RuntimeError: params['W']: refusing to rebind a parameter array ...
    """

    kind = "params"  # also the name when a copy or an unpickled dict was built without __init__

    def __init__(self, kind="params", items=()):
        super().__init__()
        if kind not in ("params", "grads"):
            raise ValueError(f"kind: expected 'params' or 'grads', got {kind!r}")
        self.kind = kind
        self.update(items)

    def __setitem__(self, key, value):
        old = dict.get(self, key, value)
        if old is not value:
            raise RuntimeError(
                f"{self.kind}[{key!r}]: refusing to rebind a parameter array (optimizers, the "
                f"model that holds this part and ll.load keep the old array, so the new one "
                f"would silently stop training); {rebinding_advice(self.kind, key)}"
            )
        super().__setitem__(key, value)

    def update(self, *args, **kwargs):
        """Add entries one by one through the rebinding check (``dict.update`` would skip it)."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self


def rebound_entries(model):
    """Every key of a composite whose array is not (any more) its part's own array.

    Walks ``model.modules()``; for every registered part that has its own
    dicts, the composite's ``"<part>.<name>"`` entry must be the part's
    ``<name>`` entry itself. Objects without ``modules()`` (plain dicts) have
    nothing to compare and give ``[]``.

    Returns
    -------
    problems : list of str
        One line per rebound entry, naming the key and the fix.

    Examples
    --------
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> model = ll.Model(head=ll.Linear(2, 3, rng=0))
    >>> rebound_entries(model)
    []
    >>> dict.__setitem__(model.head.params, "W", np.zeros((2, 3)))  # bypassing the guard
    >>> print(rebound_entries(model)[0])  # doctest: +ELLIPSIS
    params['head.W'] is not the array part 'head' (Linear) uses as params['W']: ...
    """
    modules = getattr(model, "modules", None)
    if modules is None:
        return []
    problems = []
    for name, module in modules():
        for prefix, part in getattr(module, "_modules", {}).items():
            if getattr(part, "params", None) is module.params:
                continue  # shares the composite's dicts (a Recurrent and its cell)
            for kind in ("params", "grads"):
                mine, theirs = getattr(module, kind), getattr(part, kind, {})
                for key, array in theirs.items():
                    merged = f"{prefix}.{key}"
                    if merged in mine and mine[merged] is not array:
                        where = f"{name}.{merged}" if name else merged
                        part_name = f"{name}.{prefix}" if name else prefix
                        problems.append(
                            f"{kind}[{where!r}] is not the array part {part_name!r} "
                            f"({type(part).__name__}) uses as {kind}[{key!r}]: one of them was "
                            f"rebound; {rebinding_advice(kind, key)}"
                        )
    return problems


def check_not_rebound(model, where):
    """Raise RuntimeError listing :func:`rebound_entries` of ``model``, if any."""
    problems = rebound_entries(model)
    if problems:
        raise RuntimeError(f"{where}: the model's arrays are no longer its parts' arrays:\n  "
                           + "\n  ".join(problems))
