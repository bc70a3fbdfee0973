"""The protocol every lstmlab object with weights follows: params, grads, parts, records.

A module owns two dicts with the same keys and shapes::

    params : dict[str, ndarray]   the weights; optimizers update them IN PLACE
    grads  : dict[str, ndarray]   dL/dparam; every backward ACCUMULATES (+=)

Composite objects expose their parts' arrays under dotted keys
(``"layers.0.fwd.W_x"``): the dict entries are the parts' own arrays, not
copies, so one optimizer, one clipper and one save/load serve everything.

A forward keeps what its backward needs on the module's own stack of
records, last in, first out::

    forward:   ...; self.save_for_backward(record); return out
    backward:  record = self.saved_for_backward(); ...

So a module used k times in a forward (a Siamese encoder, a decoder run step
by step) is backpropagated by k backward calls in reverse order, each one
consuming the record of its own forward; a backward with no forward left
raises instead of reusing a stale one. Under ``ll.no_grad()`` nothing is
pushed.
"""

from __future__ import annotations

import numpy as np

from .modes import is_grad_enabled
from .paramdict import ParamDict

__all__ = ["Module"]


class Module:
    """Base class: params and grads, registered parts and the forward-record stack.

    Examples
    --------
    >>> m = Module()
    >>> m.add_param("w", np.ones(3))
    >>> m.grads["w"] += 2.0
    >>> m.zero_grad()
    >>> m.grads["w"]
    array([0., 0., 0.])

    The record stack, as a forward and its backward use it:

    >>> m.save_for_backward("first forward")
    >>> m.save_for_backward("second forward")
    >>> m.saved_for_backward(), m.saved_for_backward()
    ('second forward', 'first forward')
    """

    def __init__(self):
        # ParamDicts: rebinding an entry is refused (update in place with [...] =)
        self.params: dict[str, np.ndarray] = ParamDict("params")
        self.grads: dict[str, np.ndarray] = ParamDict("grads")
        self._dtype = None  # a layer sets it when built, before its params exist
        self._modules: dict[str, Module] = {}  # parts registered with add_module
        self._records: list = []  # the forward-record stack (save_for_backward)
        self._where = type(self).__name__  # how errors name this part (set by add_module)

    def add_param(self, name, value):
        """Register ``value`` as parameter ``name``, with a zero gradient of its shape and dtype."""
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def add_module(self, prefix, module):
        """Register ``module`` as the part ``prefix``; expose its arrays as ``prefix.<name>``.

        The part's params and grads appear in this module's dicts under
        ``prefix + "." + name`` (the same arrays). A part that shares this
        module's dicts (a Recurrent and its cell) is only registered. The
        part and its own parts are then named ``"<Type> <prefix>..."`` in
        error messages (``"LSTM layers.0.fwd"``); a part registered in
        several places keeps the last name.

        Examples
        --------
        >>> import lstmlab as ll
        >>> lstm = ll.LSTM(2, 3, num_layers=2, rng=0)
        >>> [name for name, _ in lstm.modules()]
        ['', 'layers.0.fwd', 'layers.0.fwd.cell', 'layers.1.fwd', 'layers.1.fwd.cell']
        """
        if module.params is not self.params:
            for name, value in module.params.items():
                self.params[f"{prefix}.{name}"] = value
                self.grads[f"{prefix}.{name}"] = module.grads[name]
        self._modules[prefix] = module
        if isinstance(module, Module):  # Model also takes any object with params and grads
            owner = type(self).__name__
            for name, part in module.modules():
                part._where = f"{owner} {prefix}" + (f".{name}" if name else "")

    def modules(self):
        """Yield ``(dotted_name, module)`` for this module (name ``""``) and every part.

        Parts registered with :meth:`add_module`, recursively, each once (a
        part registered twice is yielded under its first name).

        Examples
        --------
        >>> import lstmlab as ll
        >>> [(name, type(m).__name__) for name, m in ll.GRU(2, 3, rng=0).modules()]
        [('', 'GRU'), ('layers.0.fwd', 'FusedGRU'), ('layers.0.fwd.cell', 'GRUCell')]
        """
        seen = set()
        stack = [("", self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = getattr(module, "_modules", {})
            for prefix, part in reversed(list(children.items())):
                stack.append((f"{name}.{prefix}" if name else prefix, part))

    # -- the forward-record stack -------------------------------------------------------
    def save_for_backward(self, record):
        """Push what this forward's backward needs (does nothing under ``ll.no_grad()``).

        The record must not share memory with anything the caller can change
        later (copy the inputs it holds) nor with anything the forward
        returns.
        """
        if is_grad_enabled():
            self._records.append(record)

    def saved_for_backward(self):
        """Pop the most recent record not yet backpropagated (call it at the top of backward).

        Raises
        ------
        RuntimeError
            When no record is left: backward was called more often than
            forward, or before it, or the forward ran under ``ll.no_grad()``.
        """
        if not self._records:
            raise RuntimeError(
                f"backward: no forward left to backpropagate in {self._where} (backward was "
                "called more often than forward, or before it; a forward under ll.no_grad() "
                "keeps nothing)"
            )
        return self._records.pop()

    def discard_saved(self):
        """Drop every record this module and its parts hold, without backpropagating them.

        For the rare case where a forward or backward was cut short (an
        exception, a hunt with ``ll.detect_anomaly()``) and its records are
        to be thrown away, so that ``zero_grad`` can run again.

        Examples
        --------
        >>> import numpy as np
        >>> import lstmlab as ll
        >>> layer = ll.Linear(2, 2, rng=0)
        >>> _ = layer.forward(np.ones((1, 2)))
        >>> layer.discard_saved()
        >>> layer.zero_grad()
        """
        for _, module in self.modules():
            if getattr(module, "_records", None):
                module._records.clear()

    def zero_grad(self):
        """Set every gradient to zero, in place.

        Raises
        ------
        RuntimeError
            If this module or one of its parts still holds forward records
            that no backward consumed: a forward that was never
            backpropagated (run evaluation and sampling forwards under
            ``with ll.no_grad():``), which would otherwise be consumed later
            by a backward it does not belong to. So call it at the start of
            a training step, before the forward (or after the backward), not
            between the two.
        """
        for name, module in self.modules():
            if getattr(module, "_records", None):
                k = len(module._records)
                part = f" part {name!r} ({type(module).__name__})" if name else ""
                raise RuntimeError(
                    f"zero_grad: {type(self).__name__}{part} still holds {k} forward "
                    f"record{'s' if k > 1 else ''} that no backward consumed; call zero_grad "
                    "before the forward or after the backward, run forwards that are not "
                    "backpropagated (evaluation, sampling) under `with ll.no_grad():`, or "
                    "call discard_saved() to drop the records"
                )
        for g in self.grads.values():
            g.fill(0)

    def num_params(self):
        """Total number of scalar parameters.

        Examples
        --------
        >>> m = Module(); m.add_param("w", np.ones((2, 3))); m.num_params()
        6
        """
        return int(sum(p.size for p in self.params.values()))

    @property
    def dtype(self):
        """The floating dtype of the parameters and of every input and gradient.

        The one the layer was built with; for a composite, that of its parameters
        (float64 when it has none).
        """
        if self._dtype is not None:
            return self._dtype
        for p in self.params.values():
            return p.dtype
        return np.dtype(np.float64)
