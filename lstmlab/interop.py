"""PyTorch state dicts: lstmlab's weights under PyTorch's names and shapes, both ways.

PyTorch stores column vectors and two biases per cell; lstmlab stores row
vectors and one fused bias (the two biases are only ever used summed)::

    weight_ih = W_x^T        (G*H, D)        weight_hh = W_h^T   (G*H, H)
    LSTM, RNN:  b = bias_ih + bias_hh                         (G*H,)
    GRU:        b[:2H] = bias_ih[:2H] + bias_hh[:2H]          r and z: summed
                b[2H:] = bias_ih[2H:],  b_hn = bias_hh[2H:]   n: kept apart (reset after)

Loading sums the two biases. Exporting cannot split them back, so it returns
an equivalent pair: ``bias_ih = b``, ``bias_hh = 0`` (GRU: ``[0, 0, b_hn]``).
Gradients map the other way round: both PyTorch biases get ``db`` for the
summed parts, since ``d b / d bias_ih = d b / d bias_hh = 1``.

A layer's names carry a suffix per cell: ``weight_ih_l0``, ``weight_ih_l0_reverse``,
``weight_ih_l1`` ...; a single cell (nn.RNNCell, nn.LSTMCell, nn.GRUCell) has none.
Variants PyTorch does not have (peephole or coupled LSTM, GRU with
``reset_after=False``) are refused with a ValueError.

Each cell knows its own mapping (``cell.torch_shapes()``, ``cell.to_torch(arrays,
grads)``, ``cell.from_torch(tensors)`` and ``cell.torch_unsupported()``, in
lstmlab/cell.py and the cells' files); this module adds what a whole model
needs: the suffixes, and loading that validates everything before it writes.
The functions take ``parts``, a list of ``(suffix, cell)`` pairs; cells and
layers call them through their ``torch_state_dict``, ``torch_grads`` and
``load_torch_state_dict`` methods.

Examples
--------
>>> import lstmlab as ll
>>> cell = ll.GRUCell(3, 4, rng=0)
>>> sd = torch_state_dict([("", cell)])
>>> sorted((k, v.shape) for k, v in sd.items())
[('bias_hh', (12,)), ('bias_ih', (12,)), ('weight_hh', (12, 4)), ('weight_ih', (12, 3))]
>>> other = ll.GRUCell(3, 4, rng=1)
>>> load_torch_state_dict([("", other)], sd)
>>> all(bool((other.params[k] == cell.params[k]).all()) for k in cell.params)
True
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["torch_state_dict", "torch_grads", "load_torch_state_dict", "check_torch_compatible"]


def check_torch_compatible(cell):
    """Raise ValueError if ``cell`` has no PyTorch counterpart (the cell says why).

    Examples
    --------
    >>> import lstmlab as ll
    >>> check_torch_compatible(ll.LSTMCell(2, 3, peephole=True))
    Traceback (most recent call last):
    ...
    ValueError: LSTMCell(peephole=True) has no PyTorch counterpart: nn.LSTM has no peephole weights
    """
    reason = cell.torch_unsupported()
    if reason is not None:
        raise ValueError(reason)


def torch_state_dict(parts):
    """The weights of ``parts`` (``(suffix, cell)`` pairs) under PyTorch's names.

    Returns
    -------
    dict of str to ndarray
        New arrays (copies), e.g. ``{"weight_ih_l0": ..., "bias_hh_l0": ...}``.
    """
    return _to_torch_names(parts, grads=False)


def torch_grads(parts):
    """The gradients of ``parts`` under PyTorch's names: what torch puts in ``.grad``."""
    return _to_torch_names(parts, grads=True)


def _to_torch_names(parts, grads):
    """The params (or, with ``grads``, the gradients) of every cell, PyTorch-named."""
    out = {}
    for suffix, cell in parts:
        check_torch_compatible(cell)
        arrays = cell.grads if grads else cell.params
        for name, value in cell.to_torch(arrays, grads=grads).items():
            out[name + suffix] = value
    return out


def load_torch_state_dict(parts, state_dict):
    """Write PyTorch-named weights INTO the cells' existing param arrays.

    Everything is validated before anything is written: the set of names
    (missing and unexpected ones are listed), that every value is a floating
    array, and every shape. Values are cast to the parameters' dtype.

    Parameters
    ----------
    parts : list of (suffix, cell)
    state_dict : mapping of str to array-like
        E.g. ``{k: v.numpy() for k, v in torch_lstm.state_dict().items()}``.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"state_dict: expected a dict of arrays, got {type(state_dict).__name__}"
        )
    for _, cell in parts:
        check_torch_compatible(cell)
    expected = {name + suffix: shape for suffix, cell in parts
                for name, shape in cell.torch_shapes().items()}
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"state_dict: names do not match the model; missing {missing}, "
            f"unexpected {unexpected}"
        )
    arrays = {}
    for key, shape in expected.items():
        value = np.asarray(state_dict[key])
        if not np.issubdtype(value.dtype, np.floating):
            raise TypeError(
                f"state_dict[{key!r}]: expected a floating array, got dtype {value.dtype}"
            )
        if value.shape != shape:
            raise ValueError(f"state_dict[{key!r}]: expected shape {shape}, got {value.shape}")
        arrays[key] = value
    updates = []
    for suffix, cell in parts:
        tensors = {name: arrays[name + suffix] for name in cell.torch_shapes()}
        updates.append((cell, cell.from_torch(tensors)))
    for cell, new in updates:  # only now, when all is known to fit, write in place
        for name, value in new.items():
            cell.params[name][...] = value
