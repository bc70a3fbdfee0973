"""Optimizers that update parameters IN PLACE from their gradients.

An optimizer holds the model's two dicts, ``params`` and ``grads`` (the same
arrays the layers use), plus its own per-parameter state (momentum buffers,
running averages). ``step()`` reads every gradient and writes every parameter
in place, so the layers see the new weights without being told::

    opt = ll.Adam(model.params, model.grads, lr=1e-3)
    for batch in data:
        model.zero_grad()
        ...forward, loss, backward...
        opt.step()

Each update rule is PyTorch's ``torch.optim`` rule, written out in the class
docstring and matched number for number in the tests (float64, 1e-12, many
steps). t counts steps from 1; g is the gradient, p the parameter.

``opt.lr`` may be changed between steps, by hand or by a schedule
(``lstmlab/schedule.py``: :class:`~lstmlab.StepLR`, :class:`~lstmlab.CosineLR`).
``state_dict()`` and ``load_state_dict()`` save and restore everything needed
to resume training exactly (see :func:`lstmlab.save`).

Two guards. An optimizer keeps the arrays it was built with, so a dict entry
rebound later (``params["W"] = new`` instead of ``params["W"][...] = new``)
would never train; ``step()`` checks every entry and raises naming the key.
With ``check_finite=True`` (every optimizer takes it) a step that would write
nan or inf into a weight, from a non-finite gradient or an overflowing
update, raises FloatingPointError naming the key, and the weights and the
optimizer state stay as they were.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .checks import check_range
from .modes import check_finite, is_anomaly_enabled
from .paramdict import rebinding_advice

__all__ = ["Optimizer", "SGD", "Adam", "Adagrad", "RMSprop"]


class Optimizer:
    """Base class: the params/grads pair, the learning rate, the step count and the state.

    Subclasses list their per-parameter state arrays in :meth:`buffer_names`
    (all zero at start unless :meth:`initial_buffer` says otherwise) and write
    the update of one parameter in :meth:`update`.

    Parameters
    ----------
    params, grads : dict[str, ndarray]
        Same keys, shapes and dtypes (``model.params``, ``model.grads``).
    lr : float
        The learning rate, >= 0; a plain attribute you may change between steps.

    check_finite : bool
        If True (False by default, as in PyTorch), :meth:`step` refuses to
        write a non-finite value into a parameter: it raises
        FloatingPointError naming the first gradient holding a NaN or inf
        before any parameter is written, and, when the gradients are finite
        but the update overflows, names the parameter and restores the
        parameters, the state and the step count. The second check costs a
        copy of the parameters and the state per step. A plain attribute you
        may switch; the gradient check is always on inside ``ll.detect_anomaly()``.

    Raises
    ------
    RuntimeError
        From :meth:`step` and :meth:`zero_grad`, when a ``params`` or ``grads``
        entry is no longer the array the optimizer was built with (it was
        rebound); the message names the key and the in-place fix.

    Examples
    --------
    A subclass writes one parameter's update; plain gradient descent:

    >>> import numpy as np
    >>> class Descent(Optimizer):
    ...     def update(self, name, p, g):
    ...         p -= self.lr * g
    >>> params, grads = {"w": np.array([1.0, 2.0])}, {"w": np.array([0.5, -1.0])}
    >>> Descent(params, grads, lr=0.1).step()
    >>> params["w"]
    array([0.95, 2.1 ])
    """

    def __init__(self, params, grads, lr, check_finite=False):
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise TypeError(
                "params, grads: expected the two dicts of a model (model.params, model.grads), "
                f"got {type(params).__name__} and {type(grads).__name__}"
            )
        if set(params) != set(grads):
            raise ValueError(
                f"grads: expected the keys of params; missing {sorted(set(params) - set(grads))}, "
                f"unexpected {sorted(set(grads) - set(params))}"
            )
        seen = {}
        for name, p in params.items():
            g = grads[name]
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"params[{name!r}]: expected a floating ndarray, got {p!r:.60}")
            if not isinstance(g, np.ndarray) or g.shape != p.shape or g.dtype != p.dtype:
                got = (f"shape {g.shape} and dtype {g.dtype}" if isinstance(g, np.ndarray)
                       else f"a {type(g).__name__}")
                raise ValueError(
                    f"grads[{name!r}]: expected an array of shape {p.shape} and dtype {p.dtype} "
                    f"like its parameter, got {got}"
                )
            if id(p) in seen:
                # the same array twice would be updated twice per step
                raise ValueError(f"params[{name!r}] is the same array as params[{seen[id(p)]!r}]")
            seen[id(p)] = name
        self.params = params
        self.grads = grads
        # the arrays themselves: a dict entry rebound later is caught by _check_arrays
        self._arrays = {"params": dict(params), "grads": dict(grads)}
        self.lr = lr
        self.check_finite = bool(check_finite)  # opt in: refuse NaN/inf (see step)
        self.step_count = 0  # t, the number of steps taken
        self.state_names = frozenset(params)  # the params this optimizer keeps state for
        self.state = {
            buf: {name: self.initial_buffer(buf, p) for name, p in params.items()}
            for buf in self.buffer_names()
        }

    @property
    def lr(self):
        """The learning rate used by the next :meth:`step`."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_range("lr", value)

    def buffer_names(self):
        """Names of the per-parameter state arrays this optimizer keeps."""
        return ()

    def initial_buffer(self, buf, p):
        """The starting value of state array ``buf`` for parameter ``p`` (zeros)."""
        return np.zeros_like(p)

    def update(self, name, p, g):
        """Update parameter ``p`` in place from its gradient ``g`` (step t = ``step_count``)."""
        raise NotImplementedError

    def step(self):
        """Take one optimisation step: every parameter is updated in place."""
        if self.params.keys() != self.state_names:
            raise RuntimeError(
                f"{type(self).__name__}.step: the params dict changed after the optimizer "
                f"was built (added {sorted(self.params.keys() - self.state_names)}, removed "
                f"{sorted(self.state_names - self.params.keys())}); build a new optimizer"
            )
        self._check_arrays("step")
        if self.check_finite or is_anomaly_enabled():  # before anything is written
            for name, g in self.grads.items():
                check_finite(type(self).__name__, f"grads[{name!r}]", g, "step")
        if self.check_finite:
            params_before = {name: p.copy() for name, p in self.params.items()}
            state_before = self.state_dict()
        self.step_count += 1
        # checked right after, so an overflow is reported once, by name, not as a warning
        with np.errstate(**({"all": "ignore"} if self.check_finite else {})):
            for name, p in self.params.items():
                self.update(name, p, self.grads[name])
        if self.check_finite:
            bad = [name for name, p in self.params.items() if not np.isfinite(p).all()]
            if bad:
                new = self.params[bad[0]].copy()
                for name, p in self.params.items():
                    np.copyto(p, params_before[name])
                self.load_state_dict(state_before)
                check_finite(type(self).__name__, f"the update of params[{bad[0]!r}]", new,
                             "step (finite gradients, but the step overflowed; the parameters "
                             "and the optimizer state were restored: lower lr or clip the "
                             "gradients)")

    def _check_arrays(self, where):
        """RuntimeError if a params/grads entry is not the array this optimizer was built with."""
        for kind, arrays in self._arrays.items():
            current = getattr(self, kind)
            for name, array in arrays.items():
                if current.get(name) is not array:
                    raise RuntimeError(
                        f"{type(self).__name__}.{where}: {kind}[{name!r}] is no longer the array "
                        f"this optimizer was built with (it was rebound: {kind}[{name!r}] = ...), "
                        f"so the optimizer would {'update' if kind == 'params' else 'read'} an "
                        f"array the model does not use; {rebinding_advice(kind, name)}, or build "
                        "a new optimizer"
                    )

    def zero_grad(self):
        """Set every gradient to zero, in place (the same as ``model.zero_grad()``)."""
        self._check_arrays("zero_grad")
        for g in self.grads.values():
            g.fill(0)

    # -- saving and restoring -----------------------------------------------------
    def state_dict(self):
        """Everything needed to resume: a flat dict of arrays (copies).

        Keys: ``"step"`` (t), ``"lr"`` and ``"<buffer>.<param name>"`` for
        every state array, e.g. ``"exp_avg.head.W"``. The other
        hyper-parameters come from the constructor, as in PyTorch's per-step code.
        """
        state = {"step": np.array(self.step_count, dtype=np.int64),
                 "lr": np.array(self.lr, dtype=np.float64)}
        for buf, arrays in self.state.items():
            for name, a in arrays.items():
                state[f"{buf}.{name}"] = a.copy()
        return state

    def state_dict_problems(self, state):
        """Every way ``state`` differs from what :meth:`load_state_dict` expects (a list of str)."""
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state: expected a dict of arrays from state_dict(), got {type(state).__name__}"
            )
        expected = self.state_dict()
        problems = [f"missing {key!r}" for key in expected if key not in state]
        problems += [f"unexpected {key!r}" for key in state if key not in expected]
        for key, want in expected.items():
            if key not in state:
                continue
            got = np.asarray(state[key])
            if got.shape != want.shape:
                problems.append(f"{key!r}: shape {got.shape}, expected {want.shape}")
            elif got.dtype != want.dtype:
                problems.append(f"{key!r}: dtype {got.dtype}, expected {want.dtype}")
        if not problems and (state["step"] < 0 or not 0 <= state["lr"] < math.inf):
            problems.append(f"'step' must be >= 0 and 'lr' finite and >= 0, "
                            f"got {state['step']}, {state['lr']}")
        return problems

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict`: step count, lr and every state array, in place.

        Everything is checked first, so on an error nothing has changed.
        """
        problems = self.state_dict_problems(state)
        if problems:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state does not fit this optimizer:\n  "
                + "\n  ".join(problems)
            )
        self.step_count = int(state["step"])
        self.lr = float(state["lr"])
        for buf, arrays in self.state.items():
            for name, a in arrays.items():
                np.copyto(a, state[f"{buf}.{name}"])

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr:g}, {len(self.params)} params)"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (heavy ball or Nesterov).

    Update of each parameter p at step t (PyTorch's ``torch.optim.SGD``)::

        d = g + weight_decay * p                       (L2 penalty in the gradient)
        if momentum:
            b = d                                      at t = 1
            b = momentum * b + (1 - dampening) * d     at t > 1
            d = d + momentum * b   if nesterov  else  b
        p = p - lr * d

    Momentum (Polyak 1964) averages gradients over about 1 / (1 - momentum)
    steps, damping the zig-zag across a narrow valley; Nesterov's variant
    (Sutskever et al. 2013) looks one momentum step ahead.

    Parameters
    ----------
    params, grads : dict[str, ndarray]
    lr : float
    momentum, dampening, weight_decay : float, >= 0
    nesterov : bool
        Needs ``momentum > 0`` and ``dampening == 0``.
    check_finite : bool
        Refuse to write nan/inf into the weights: FloatingPointError naming the
        key, nothing changed (see :class:`Optimizer`).

    Examples
    --------
    >>> import numpy as np
    >>> p, g = {"w": np.array([1.0])}, {"w": np.array([0.5])}
    >>> opt = SGD(p, g, lr=0.1, momentum=0.9)
    >>> opt.step(); p["w"].tolist()                 # 1 - 0.1 * 0.5
    [0.95]
    >>> opt.step(); p["w"].round(12).tolist()       # b = 0.9 * 0.5 + 0.5 = 0.95
    [0.855]
    """

    def __init__(self, params, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0,
                 dampening=0.0, check_finite=False):
        self.momentum = check_range("momentum", momentum)
        self.dampening = check_range("dampening", dampening)
        self.weight_decay = check_range("weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"nesterov: needs momentum > 0 and dampening == 0, "
                f"got momentum={self.momentum}, dampening={self.dampening}"
            )
        super().__init__(params, grads, lr, check_finite)

    def buffer_names(self):
        return ("momentum_buffer",) if self.momentum != 0 else ()

    def update(self, name, p, g):
        d = g + self.weight_decay * p if self.weight_decay != 0 else g
        if self.momentum != 0:
            b = self.state["momentum_buffer"][name]
            if self.step_count == 1:
                b[...] = d
            else:
                b *= self.momentum
                b += (1 - self.dampening) * d
            d = d + self.momentum * b if self.nesterov else b
        p -= self.lr * d


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum plus a per-element step size.

    Update of each parameter p at step t (PyTorch's ``torch.optim.Adam``)::

        d = g + weight_decay * p                      (L2 penalty, not AdamW)
        m = beta1 * m + (1 - beta1) * d               first moment (mean of d)
        v = beta2 * v + (1 - beta2) * d^2             second moment
        v_max = max(v_max, v)   and use v_max for v   if amsgrad (Reddi et al. 2018)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    m and v start at zero, so early on they are biased towards zero; the
    factors 1 / (1 - beta^t) correct it. The step of each element is about lr,
    whatever the scale of its gradient.

    Parameters
    ----------
    params, grads : dict[str, ndarray]
    lr : float
    betas : (float, float), each in [0, 1)
    eps : float
        Added to the denominator so it is never zero.
    weight_decay : float
    amsgrad : bool
    check_finite : bool
        Refuse to write nan/inf into the weights: FloatingPointError naming the
        key, nothing changed (see :class:`Optimizer`).

    Examples
    --------
    >>> import numpy as np
    >>> p, g = {"w": np.array([1.0])}, {"w": np.array([-3.0])}
    >>> opt = Adam(p, g, lr=0.1)
    >>> opt.step(); p["w"].round(9).tolist()        # the first step is lr * sign(g)
    [1.1]

    With ``check_finite=True`` a nan gradient never reaches the weights:

    >>> opt = Adam(p, g, lr=0.1, check_finite=True)
    >>> g["w"][0] = np.nan
    >>> opt.step()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FloatingPointError: Adam: grads['w'] is nan in step (1 of 1 values are not finite, ...)
    >>> p["w"].round(9).tolist()
    [1.1]
    """

    def __init__(self, params, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, check_finite=False):
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        self.beta1 = check_range("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        self.beta2 = check_range("betas[1]", betas[1], 0.0, 1.0, high_open=True)
        self.eps = check_range("eps", eps)
        self.weight_decay = check_range("weight_decay", weight_decay)
        self.amsgrad = bool(amsgrad)
        super().__init__(params, grads, lr, check_finite)

    @property
    def betas(self):
        return (self.beta1, self.beta2)

    def buffer_names(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def update(self, name, p, g):
        t = self.step_count
        d = g + self.weight_decay * p if self.weight_decay != 0 else g
        m = self.state["exp_avg"][name]
        v = self.state["exp_avg_sq"][name]
        m *= self.beta1
        m += (1 - self.beta1) * d
        v *= self.beta2
        v += (1 - self.beta2) * (d * d)
        if self.amsgrad:
            v = np.maximum(self.state["max_exp_avg_sq"][name], v,
                           out=self.state["max_exp_avg_sq"][name])
        step_size = self.lr / (1 - self.beta1**t)
        denom = np.sqrt(v) / math.sqrt(1 - self.beta2**t) + self.eps
        p -= step_size * (m / denom)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): each element's step shrinks with its gradients' history.

    Update of each parameter p at step t (PyTorch's ``torch.optim.Adagrad``)::

        d = g + weight_decay * p
        s = s + d^2                      s starts at initial_accumulator_value
        p = p - lr / (1 + (t - 1) * lr_decay) * d / (sqrt(s) + eps)

    Rare features (a rare character's embedding row) keep large steps; frequent
    ones slow down. The sum only grows, so learning eventually stalls: that is
    what RMSprop and Adam fix with a decaying average.

    Parameters
    ----------
    params, grads : dict[str, ndarray]
    lr, lr_decay, weight_decay, initial_accumulator_value, eps : float, >= 0
    check_finite : bool
        Refuse to write nan/inf into the weights: FloatingPointError naming the
        key, nothing changed (see :class:`Optimizer`).

    Examples
    --------
    >>> import numpy as np
    >>> p, g = {"w": np.array([1.0])}, {"w": np.array([2.0])}
    >>> opt = Adagrad(p, g, lr=0.1)
    >>> opt.step(); p["w"].round(9).tolist()        # 1 - 0.1 * 2 / sqrt(4)
    [0.9]
    """

    def __init__(self, params, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, check_finite=False):
        self.lr_decay = check_range("lr_decay", lr_decay)
        self.weight_decay = check_range("weight_decay", weight_decay)
        self.initial_accumulator_value = check_range(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = check_range("eps", eps)
        super().__init__(params, grads, lr, check_finite)

    def buffer_names(self):
        return ("sum",)

    def initial_buffer(self, buf, p):
        return np.full_like(p, self.initial_accumulator_value)

    def update(self, name, p, g):
        d = g + self.weight_decay * p if self.weight_decay != 0 else g
        s = self.state["sum"][name]
        s += d * d
        clr = self.lr / (1 + (self.step_count - 1) * self.lr_decay)
        p -= clr * (d / (np.sqrt(s) + self.eps))


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012): divide by a running root-mean-square of the gradient.

    Update of each parameter p (PyTorch's ``torch.optim.RMSprop``)::

        d = g + weight_decay * p
        v = alpha * v + (1 - alpha) * d^2                 mean square
        if centered:                                      (Graves 2013)
            a = alpha * a + (1 - alpha) * d               mean
            r = sqrt(max(v - a^2, 0)) + eps               standard deviation
        else:
            r = sqrt(v) + eps
        if momentum:
            b = momentum * b + d / r
            p = p - lr * b
        else:
            p = p - lr * d / r

    The ``max(., 0)`` guards a rounding error that would make the variance
    slightly negative; PyTorch would produce nan there.

    Parameters
    ----------
    params, grads : dict[str, ndarray]
    lr, weight_decay, momentum, eps : float, >= 0
    alpha : float in [0, 1]
    centered : bool
    check_finite : bool
        Refuse to write nan/inf into the weights: FloatingPointError naming the
        key, nothing changed (see :class:`Optimizer`).

    Examples
    --------
    >>> import numpy as np
    >>> p, g = {"w": np.array([1.0])}, {"w": np.array([2.0])}
    >>> opt = RMSprop(p, g, lr=0.01, alpha=0.75, eps=0.0)
    >>> opt.step(); p["w"].round(9).tolist()        # v = 0.25 * 4 = 1: 1 - 0.01 * 2 / 1
    [0.98]
    """

    def __init__(self, params, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False, check_finite=False):
        self.alpha = check_range("alpha", alpha, 0.0, 1.0)
        self.eps = check_range("eps", eps)
        self.weight_decay = check_range("weight_decay", weight_decay)
        self.momentum = check_range("momentum", momentum)
        self.centered = bool(centered)
        super().__init__(params, grads, lr, check_finite)

    def buffer_names(self):
        names = ("square_avg",)
        if self.momentum > 0:
            names += ("momentum_buffer",)
        if self.centered:
            names += ("grad_avg",)
        return names

    def update(self, name, p, g):
        d = g + self.weight_decay * p if self.weight_decay != 0 else g
        v = self.state["square_avg"][name]
        v *= self.alpha
        v += (1 - self.alpha) * (d * d)
        if self.centered:
            a = self.state["grad_avg"][name]
            a *= self.alpha
            a += (1 - self.alpha) * d
            r = np.sqrt(np.maximum(v - a * a, 0)) + self.eps
        else:
            r = np.sqrt(v) + self.eps
        if self.momentum > 0:
            b = self.state["momentum_buffer"][name]
            b *= self.momentum
            b += d / r
            p -= self.lr * b
        else:
            p -= self.lr * (d / r)
