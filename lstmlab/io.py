"""Save and load a model's parameters (and an optimizer's state) as a ``.npz`` file.

A checkpoint is a plain NumPy archive anyone can open with ``np.load``::

    "params/<name>"      every array of model.params, e.g. "params/rnn.layers.0.fwd.W_x"
    "optimizer/<key>"    optimizer.state_dict(), when an optimizer is given
    "meta/optimizer"     the optimizer's class name, e.g. "Adam"
    "meta/extra"         extra=, plain data as a JSON string (a vocabulary, settings)
    "meta/format"        1, the version of this layout

Two promises. A save is atomic: the archive is written to a temporary file in
the same directory, flushed to disk, then renamed over the target in one
step, so a crash leaves either the old file or the new one, never half of
one (and the next save of the same file removes what a killed save left).
A load never runs code from the file (no pickle), reads every member's header
and checks every name, shape and dtype against the model before it reads any
data, reads no more data than the model holds, and copies the values into
the model's existing arrays, bit for bit (see ``lstmlab/archive.py``).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
import time
import zipfile

import numpy as np

from .archive import ZIP_ERRORS, ArchiveError, read_headers, read_member
from .optim import Optimizer
from .paramdict import check_not_rebound

__all__ = ["save", "load", "load_extra"]

_FORMAT = 1
_MAX_META = 1024  # bytes of data in meta/format or meta/optimizer
_MAX_EXTRA = 64 * 2**20  # bytes of data in meta/extra (a UTF-32 JSON string)
_STALE_AFTER = 3600  # seconds; where a writer's process cannot be checked (not POSIX)


def _params_of(model, where):
    """The params dict of a model (anything with ``.params``) or a dict itself.

    A model's composites must still hold their parts' arrays (nothing rebound).
    """
    params = model if isinstance(model, dict) else getattr(model, "params", None)
    if not isinstance(params, dict):
        raise TypeError(
            f"model: expected an object with a params dict, or a dict of arrays, "
            f"got {type(model).__name__}"
        )
    check_not_rebound(model, where)
    return params


def _fspath(path):
    """``path`` as a str (bytes are decoded as the OS does); TypeError otherwise."""
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(
            f"path: expected a str, bytes or os.PathLike (a file name), got {type(path).__name__}"
        ) from None


def _check_optimizer(optimizer):
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer: expected an lstmlab Optimizer (SGD, Adam, ...) or None, "
            f"got {type(optimizer).__name__}"
        )


def _extra_json(extra):
    """``extra`` as a JSON string; TypeError naming what is not plain data."""
    try:
        return json.dumps(extra, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"extra: expected plain data (dict, list, str, int, float, bool, None; finite "
            f"numbers) that JSON can hold, e.g. vocab.to_dict(); {err}"
        ) from None


def _archive_arrays(model, optimizer, extra):
    """Every array to write, under its archive key."""
    arrays = {f"params/{name}": p for name, p in _params_of(model, "save").items()}
    if optimizer is not None:
        arrays.update({f"optimizer/{k}": v for k, v in optimizer.state_dict().items()})
        arrays["meta/optimizer"] = np.array(type(optimizer).__name__)
    if extra is not None:
        arrays["meta/extra"] = np.array(_extra_json(extra))
    arrays["meta/format"] = np.array(_FORMAT, dtype=np.int64)
    for key, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.hasobject:
            raise TypeError(f"{key}: cannot save an object array (it would need pickle)")
    return arrays


def save(model, path, optimizer=None, extra=None):
    """Write the model's params (and the optimizer's state) to ``path``, atomically.

    Parameters
    ----------
    model : Module, Model, layer, or dict of arrays
    path : str, bytes or os.PathLike
        Written exactly as given (no ``.npz`` is appended); its folder must exist.
    optimizer : Optimizer, optional
        Its :meth:`~lstmlab.Optimizer.state_dict` is saved too, so training
        resumes exactly where it stopped.
    extra : plain data, optional
        Anything JSON can hold (dicts, lists, str, numbers, bool, None), saved
        with the weights so the checkpoint is complete: a vocabulary
        (``vocab.to_dict()``), the model's sizes, training settings. Read it
        back with :func:`load_extra` (before building the model) or as the
        return value of :func:`load`. Tuples come back as lists.

    Returns
    -------
    path : str, the path written

    Raises
    ------
    FileNotFoundError
        The folder of ``path`` does not exist (the message names it).
    RuntimeError
        A params entry of the model was rebound (see ``lstmlab/paramdict.py``).

    Notes
    -----
    Random generators (dropout masks, data shuffling) are not part of the
    checkpoint; to resume a run exactly, save ``rng.bit_generator.state`` too
    (it is plain data: ``extra={"rng": rng.bit_generator.state}``).

    The bytes go to a temporary file next to ``path`` (so the rename stays on
    one file system), which is flushed and fsync'ed, then ``os.replace``
    moves it over ``path`` in one atomic step. On any error the temporary
    file is removed and an existing ``path`` is left as it was. The temporary
    name is short (``.<hash of the name>.<pid>.<random>.npz.tmp``), so any
    name the file system allows works; a save killed before the rename leaves
    its temporary behind, and the next save of the same ``path`` removes it
    once its process is gone.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import lstmlab as ll
    >>> layer = ll.Linear(3, 2, rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
    >>> _ = ll.save(layer, path, extra={"vocab": ["a", "b"], "hidden": 2})
    >>> sorted(np.load(path).files)
    ['meta/extra', 'meta/format', 'params/W', 'params/b']
    >>> ll.load_extra(path)
    {'vocab': ['a', 'b'], 'hidden': 2}
    """
    _check_optimizer(optimizer)
    arrays = _archive_arrays(model, optimizer, extra)
    path = _fspath(path)
    directory, base = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            2, f"save: the folder {directory!r} does not exist (create it first, "
               f"os.makedirs(folder, exist_ok=True))", directory)
    if os.path.isdir(path):
        raise IsADirectoryError(21, f"save: {path!r} is a folder, expected a file name", path)
    prefix = _temporary_prefix(base)
    _remove_stale_temporaries(directory, base, prefix)
    tmp = os.path.join(directory, f"{prefix}{os.getpid()}.{secrets.token_hex(4)}.npz.tmp")
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


def _temporary_prefix(base):
    """``.<16 hex of the target's name>.``: short whatever the name, the same for one target."""
    return "." + hashlib.sha256(os.fsencode(base)).hexdigest()[:16] + "."


def _process_is_gone(pid):
    """True if no process ``pid`` runs on this machine (POSIX); None where that cannot be told."""
    if pid == os.getpid():
        return False
    if os.name != "posix":
        return None  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it runs, as another user
        return False
    return False


def _remove_stale_temporaries(directory, base, prefix):
    """Remove temporaries of this target left by saves whose process was killed.

    Ours are ``<prefix><pid>.<8 hex>.npz.tmp``: stale once ``pid`` is gone (or,
    where that cannot be checked, after an hour). Those of earlier lstmlab
    versions, ``.<name>.<12 hex>.tmp``, carry no pid and are always stale.
    """
    stale = []
    for tmp in glob.glob(os.path.join(glob.escape(directory), glob.escape(prefix) + "*.npz.tmp")):
        pid = os.path.basename(tmp)[len(prefix):].split(".")[0]
        if not pid.isdigit():
            continue
        gone = _process_is_gone(int(pid))
        if gone is None:
            try:
                gone = time.time() - os.path.getmtime(tmp) > _STALE_AFTER
            except OSError:
                continue
        if gone:
            stale.append(tmp)
    old_style = glob.escape(os.path.join(directory, f".{base}.")) + "[0-9a-f]" * 12 + ".tmp"
    stale += glob.glob(old_style)
    for tmp in stale:
        try:
            os.remove(tmp)
        except OSError:
            pass  # removed meanwhile by another save, or not ours to remove


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


def _open_archive(path):
    """The open ZipFile at ``path``; FileNotFoundError or ValueError if it is not one."""
    if not os.path.exists(path):
        raise FileNotFoundError(2, f"{path}: no such file", path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not an .npz archive (empty, truncated or another format)")
    try:
        return zipfile.ZipFile(path)
    except ZIP_ERRORS as err:
        raise ValueError(f"{path}: corrupt or truncated .npz archive ({err})") from err


def _differences(expected, found, what):
    """Every missing, unexpected, reshaped or retyped array between two dicts.

    ``found`` may hold archive members (their headers): only shapes and dtypes are read.
    """
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


def _section(members, prefix):
    """The members whose key starts with ``prefix``, keyed by the rest of the key."""
    return {k[len(prefix):]: m for k, m in members.items() if k.startswith(prefix)}


def _read_meta(z, members, key, limit, problems):
    """The value of the scalar member ``key`` (None if absent or refused into ``problems``)."""
    member = members.get(key)
    if member is None:
        return None
    if member.shape != () or member.nbytes > limit:
        problems.append(f"{key!r}: expected a scalar of at most {limit} bytes, "
                        f"got shape {member.shape} of {member.dtype}")
        return None
    return read_member(z, member)[()]


def _check_and_read(z, params, optimizer):
    """Compare every header with the model, then read the data: (params, state, extra)."""
    members = read_headers(z)  # headers only: no data read yet
    saved_params = _section(members, "params/")
    problems = _differences(params, saved_params, "param")
    if not saved_params:
        problems.insert(0, f"no 'params/...' arrays in the file (it holds {sorted(members)}); "
                           "was it written by lstmlab.save?")
    file_format = _read_meta(z, members, "meta/format", _MAX_META, problems)
    if file_format is not None and (not isinstance(file_format, np.integer)
                                    or int(file_format) != _FORMAT):
        problems.insert(0, f"format {file_format} in the file, this lstmlab reads {_FORMAT}")
    saved_state = _section(members, "optimizer/")
    if optimizer is not None:
        saved_class = _read_meta(z, members, "meta/optimizer", _MAX_META, problems)
        wanted_class = type(optimizer).__name__
        if saved_class is None:
            problems.append("no optimizer state in the file (it was saved without optimizer=)")
        elif str(saved_class) != wanted_class:
            problems.append(f"optimizer: {saved_class} in the file, {wanted_class} given")
        else:
            # names, shapes and dtypes first, on arrays that allocate nothing; then, if
            # they fit, the values ('step' >= 0, a finite 'lr') on the data itself
            shapes = optimizer.state_dict_problems(
                {k: m.placeholder() for k, m in saved_state.items()})
            if not shapes:
                saved_state = {k: read_member(z, m) for k, m in saved_state.items()}
                shapes = optimizer.state_dict_problems(saved_state)
            problems += [f"optimizer {p}" for p in shapes]
    extra = _read_meta(z, members, "meta/extra", _MAX_EXTRA, problems)
    if problems:
        raise ValueError("the file does not match the model:\n  " + "\n  ".join(problems))
    arrays = {name: read_member(z, saved_params[name]) for name in params}
    return arrays, (saved_state if optimizer is not None else None), extra


def load(model, path, optimizer=None):
    """Restore params (and optimizer state) saved by :func:`save`, in place, bit for bit.

    Everything is checked before anything is written: the names, shapes and
    dtypes of every array, from the members' headers, before any data is
    read; then exactly the data the model needs is read (a file cannot make
    the reader allocate more than the model holds). If anything differs,
    ValueError lists ALL the differences and the model and the optimizer are
    exactly as before.

    Parameters
    ----------
    model : Module, Model, layer, or dict of arrays
        Of the same architecture (and dtype) as the saved one.
    path : str, bytes or os.PathLike
    optimizer : Optimizer, optional
        Restored too; the file must then hold the state of an optimizer of
        the same class and hyper-parameters (the same state arrays). Without
        it, a saved optimizer state is ignored.

    Returns
    -------
    extra : the plain data saved with ``extra=`` (None if there was none)

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not an .npz, truncated, corrupt (a member without the .npy suffix, a
        header that is not a .npy header or declares more data than the
        member holds, a bad CRC-32), holding a pickled object array, or not
        matching the model/optimizer.
    RuntimeError
        A params entry of the model was rebound, so loading would write into
        an array the model no longer uses (see ``lstmlab/paramdict.py``).
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
    params = _params_of(model, "load")
    for name, p in params.items():
        if not isinstance(p, np.ndarray):
            raise TypeError(
                f"model: params[{name!r}] is a {type(p).__name__}; load writes into arrays "
                "in place, so every parameter must be an ndarray"
            )
    _check_optimizer(optimizer)
    path = _fspath(path)
    z = _open_archive(path)
    try:
        with z:
            arrays, state, extra = _check_and_read(z, params, optimizer)
    except ArchiveError as err:
        raise ValueError(f"{path}: corrupt .npz archive: {err}") from err
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    except ZIP_ERRORS as err:
        raise ValueError(f"{path}: corrupt or truncated .npz archive ({err})") from err
    for name, p in params.items():
        np.copyto(p, arrays[name])  # in place: layers and optimizers keep their arrays
    if optimizer is not None:
        optimizer.load_state_dict(state)
    return None if extra is None else json.loads(str(extra))


def load_extra(path):
    """The plain data saved with ``save(..., extra=...)``, without a model (None if none).

    Read it first when it describes the model, e.g. the vocabulary that
    decides the size of the embedding.

    Examples
    --------
    >>> import os, tempfile
    >>> import lstmlab as ll
    >>> from lstmlab.data import Vocab
    >>> vocab = Vocab("hello world")
    >>> path = os.path.join(tempfile.mkdtemp(), "lm.npz")
    >>> _ = ll.save(ll.Embedding(len(vocab), 4, rng=0), path, extra={"vocab": vocab.to_dict()})
    >>> loaded = Vocab.from_dict(ll.load_extra(path)["vocab"])
    >>> model = ll.Embedding(len(loaded), 4)
    >>> ll.load(model, path) == {"vocab": vocab.to_dict()}, loaded == vocab
    (True, True)
    """
    path = _fspath(path)
    z = _open_archive(path)
    problems = []
    try:
        with z:
            extra = _read_meta(z, read_headers(z), "meta/extra", _MAX_EXTRA, problems)
    except ArchiveError as err:
        raise ValueError(f"{path}: corrupt .npz archive: {err}") from err
    except ZIP_ERRORS as err:
        raise ValueError(f"{path}: corrupt or truncated .npz archive ({err})") from err
    if problems:
        raise ValueError(f"{path}: {problems[0]}")
    return None if extra is None else json.loads(str(extra))
