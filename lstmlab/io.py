"""Save and load a model's parameters (and an optimizer's state) as a ``.npz`` file.

A checkpoint is a plain NumPy archive anyone can open with ``np.load``::

    "params/<name>"      every array of model.params, e.g. "params/rnn.layers.0.fwd.W_x"
    "optimizer/<key>"    optimizer.state_dict(), when an optimizer is given
    "meta/optimizer"     the optimizer's class name, e.g. "Adam"
    "meta/format"        1, the version of this layout

Two promises. A save is atomic: the archive is written to a temporary file in
the same directory, flushed to disk, then renamed over the target in one
step, so a crash leaves either the old file or the new one, never half of
one. A load never runs code from the file (``allow_pickle=False``), checks
every name, shape and dtype before it writes anything, and copies the values
into the model's existing arrays, bit for bit.
"""

from __future__ import annotations

import os
import secrets
import zipfile

import numpy as np

from .optim import Optimizer

__all__ = ["save", "load"]

_FORMAT = 1


def _params_of(model):
    """The params dict of a model (anything with ``.params``) or a dict itself."""
    params = model if isinstance(model, dict) else getattr(model, "params", None)
    if not isinstance(params, dict):
        raise TypeError(
            f"model: expected an object with a params dict, or a dict of arrays, "
            f"got {type(model).__name__}"
        )
    return params


def _fspath(path):
    """``path`` as a str (or bytes); TypeError naming the argument otherwise."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(
            f"path: expected a str or os.PathLike (a file name), got {type(path).__name__}"
        ) from None


def _check_optimizer(optimizer):
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer: expected an lstmlab Optimizer (SGD, Adam, ...) or None, "
            f"got {type(optimizer).__name__}"
        )


def _archive_arrays(model, optimizer):
    """Every array to write, under its archive key."""
    arrays = {f"params/{name}": p for name, p in _params_of(model).items()}
    if optimizer is not None:
        arrays.update({f"optimizer/{k}": v for k, v in optimizer.state_dict().items()})
        arrays["meta/optimizer"] = np.array(type(optimizer).__name__)
    arrays["meta/format"] = np.array(_FORMAT)
    for key, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.hasobject:
            raise TypeError(f"{key}: cannot save an object array (it would need pickle)")
    return arrays


def save(model, path, optimizer=None):
    """Write the model's params (and the optimizer's state) to ``path``, atomically.

    Parameters
    ----------
    model : Module, Model, layer, or dict of arrays
    path : str or os.PathLike
        Written exactly as given (no ``.npz`` is appended); its directory must exist.
    optimizer : Optimizer, optional
        Its :meth:`~lstmlab.Optimizer.state_dict` is saved too, so training
        resumes exactly where it stopped.

    Returns
    -------
    path : the path written

    Notes
    -----
    Random generators (dropout masks, data shuffling) are not part of the
    checkpoint; to resume a run exactly, save ``rng.bit_generator.state`` too.

    The bytes go to a temporary file next to ``path`` (so the rename stays on
    one file system), which is flushed and fsync'ed, then ``os.replace``
    moves it over ``path`` in one atomic step. On any error the temporary
    file is removed and an existing ``path`` is left as it was.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> layer = ll.Linear(3, 2, rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
    >>> _ = ll.save(layer, path)
    >>> sorted(np.load(path).files)
    ['meta/format', 'params/W', 'params/b']
    """
    _check_optimizer(optimizer)
    arrays = _archive_arrays(model, optimizer)
    path = _fspath(path)
    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never reuse someone else's file; mode 0o666 lets the umask decide, as open() does
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(directory)
    return path


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_archive(path):
    """Every array of the .npz at ``path``, read into memory; ValueError if it is not one."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not an .npz archive (empty, truncated or another format)")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                arrays[key] = archive[key]
    except ValueError as err:
        if "allow_pickle" in str(err) or "pickled" in str(err):
            raise ValueError(
                f"{path}: holds an object (pickled) array; lstmlab never unpickles, "
                "because loading a pickle can run arbitrary code"
            ) from err
        raise ValueError(f"{path}: corrupt .npz archive ({err})") from err
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as err:
        raise ValueError(f"{path}: corrupt or truncated .npz archive ({err})") from err
    return arrays


def _differences(expected, found, what):
    """Every missing, unexpected, reshaped or retyped array between two dicts."""
    problems = [f"missing {what} {k!r} {v.shape} {v.dtype}" for k, v in expected.items()
                if k not in found]
    problems += [f"unexpected {what} {k!r} {v.shape} {v.dtype}" for k, v in found.items()
                 if k not in expected]
    for k, want in expected.items():
        got = found.get(k)
        if got is None:
            continue
        if got.shape != want.shape:
            problems.append(f"{what} {k!r}: shape {got.shape} in the file, {want.shape} expected")
        elif got.dtype != want.dtype:
            problems.append(f"{what} {k!r}: dtype {got.dtype} in the file, {want.dtype} expected")
    return problems


def load(model, path, optimizer=None):
    """Restore params (and optimizer state) saved by :func:`save`, in place, bit for bit.

    Everything is checked before anything is written: the names, shapes and
    dtypes of every array. If anything differs, ValueError lists ALL the
    differences and the model and the optimizer are exactly as before.

    Parameters
    ----------
    model : Module, Model, layer, or dict of arrays
        Of the same architecture (and dtype) as the saved one.
    path : str or os.PathLike
    optimizer : Optimizer, optional
        Restored too; the file must then hold the state of an optimizer of
        the same class and hyper-parameters (the same state arrays). Without
        it, a saved optimizer state is ignored.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not an .npz, truncated, corrupt, holding a pickled object array, or not
        matching the model/optimizer.
    TypeError
        ``model``, ``path`` or ``optimizer`` of the wrong kind.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
    >>> _ = ll.save(ll.Linear(3, 2, rng=0), path)
    >>> other = ll.Linear(3, 2, rng=1)
    >>> W = other.params["W"]
    >>> ll.load(other, path)
    >>> same = other.params["W"] == ll.Linear(3, 2, rng=0).params["W"]
    >>> bool(same.all()), W is other.params["W"]      # the saved values, in the same array
    (True, True)
    >>> ll.load(ll.Linear(3, 4), path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...: the file does not match the model:
      param 'W': shape (3, 2) in the file, (3, 4) expected
      param 'b': shape (2,) in the file, (4,) expected
    """
    params = _params_of(model)
    for name, p in params.items():
        if not isinstance(p, np.ndarray):
            raise TypeError(
                f"model: params[{name!r}] is a {type(p).__name__}; load writes into arrays "
                "in place, so every parameter must be an ndarray"
            )
    _check_optimizer(optimizer)
    path = _fspath(path)
    archive = _read_archive(path)
    saved_params = {k[len("params/"):]: v for k, v in archive.items() if k.startswith("params/")}
    problems = _differences(params, saved_params, "param")
    if not saved_params:
        problems.insert(0, f"no 'params/...' arrays in the file (it holds {sorted(archive)}); "
                           "was it written by lstmlab.save?")
    file_format = archive.get("meta/format")
    if file_format is not None and file_format.shape == () and int(file_format) != _FORMAT:
        problems.insert(0, f"format {int(file_format)} in the file, this lstmlab reads {_FORMAT}")

    if optimizer is not None:
        saved_state = {k[len("optimizer/"):]: v for k, v in archive.items()
                       if k.startswith("optimizer/")}
        saved_class = archive.get("meta/optimizer")
        wanted_class = type(optimizer).__name__
        if saved_class is None:
            problems.append("no optimizer state in the file (it was saved without optimizer=)")
        elif str(saved_class) != wanted_class:
            problems.append(f"optimizer: {saved_class} in the file, {wanted_class} given")
        else:
            problems += [f"optimizer {p}" for p in optimizer.state_dict_problems(saved_state)]

    if problems:
        raise ValueError(f"{path}: the file does not match the model:\n  " + "\n  ".join(problems))
    for name, p in params.items():
        np.copyto(p, saved_params[name])  # in place: layers and optimizers keep their arrays
    if optimizer is not None:
        optimizer.load_state_dict(saved_state)
