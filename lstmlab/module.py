"""The parameter protocol every lstmlab object with weights follows.

A module owns two dicts with the same keys and shapes::

    params : dict[str, ndarray]   the weights; optimizers update them IN PLACE
    grads  : dict[str, ndarray]   dL/dparam; every backward ACCUMULATES (+=)

Composite objects expose their parts' arrays under dotted keys
(``"layers.0.fwd.W_x"``): the dict entries are the parts' own arrays, not
copies, so one optimizer, one clipper and one save/load serve everything.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Module"]


class Module:
    """Base class: holds ``params`` and ``grads`` and zeroes the gradients.

    Examples
    --------
    >>> m = Module()
    >>> m.add_param("w", np.ones(3))
    >>> m.grads["w"] += 2.0
    >>> m.zero_grad()
    >>> m.grads["w"]
    array([0., 0., 0.])
    """

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._dtype = None  # a layer sets it when built, before its params exist

    def add_param(self, name, value):
        """Register ``value`` as parameter ``name``, with a zero gradient of its shape and dtype."""
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def add_module(self, prefix, module):
        """Expose ``module``'s params and grads under ``prefix + "." + name`` (same arrays)."""
        for name, value in module.params.items():
            self.params[f"{prefix}.{name}"] = value
            self.grads[f"{prefix}.{name}"] = module.grads[name]

    def zero_grad(self):
        """Set every gradient to zero, in place."""
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
