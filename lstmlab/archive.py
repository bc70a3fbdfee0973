"""Reading an ``.npz`` archive safely: every header first, then only the data asked for.

``np.load`` reads a member's data as soon as it is indexed, trusting the
shape its header declares: a small file can declare a huge array (a
compressed run of zeros, or a shape of 2**40) and make the reader allocate
it before anything is checked. :func:`lstmlab.load` instead:

1. lists the members (each must be ``<key>.npy``, each name once);
2. reads only each member's ``.npy`` header (a bounded number of bytes) and
   checks it is consistent: a known version, a dict with ``descr``,
   ``fortran_order`` and ``shape``, no object (pickled) dtype, and exactly
   ``prod(shape) * itemsize`` bytes of data in the member;
3. lets the caller compare every name, shape and dtype with the model;
4. only then reads the data of the members it needs, exactly the number of
   bytes their headers promised (zip checks each member's CRC-32).

The ``.npy`` header layout (NumPy's ``numpy.lib.format``)::

    \\x93NUMPY  major minor  header_len (2 bytes LE in v1, 4 in v2/v3)  header
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }" + padding
"""

from __future__ import annotations

import ast
import math
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

__all__ = ["ArchiveError", "Member", "read_headers", "read_member"]

MAX_HEADER = 65536  # bytes; np.save writes about a hundred (padded to align the data)


class ArchiveError(ValueError):
    """The archive is not a well-formed ``.npz`` of plain arrays (the message says why)."""


class Member(NamedTuple):
    """One array of the archive, as its header declares it (no data read)."""

    key: str  # the member name without ".npy"
    name: str  # the zip member name
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    offset: int  # bytes before the data (preamble + header)

    @property
    def nbytes(self):
        return math.prod(self.shape) * self.dtype.itemsize

    def placeholder(self):
        """A read-only array of this shape and dtype that allocates nothing (zero strides)."""
        try:
            return np.broadcast_to(np.zeros((), dtype=self.dtype), self.shape)
        except ValueError as err:  # more elements than an index can count
            raise ArchiveError(f"member {self.name!r}: shape {self.shape}: {err}") from None


def _parse_header(f, name):
    """Shape, dtype, order and data offset from the .npy stream ``f``; reads the header only."""
    preamble = f.read(8)
    if len(preamble) < 8 or preamble[:6] != b"\x93NUMPY":
        raise ArchiveError(f"member {name!r} is not a .npy array (no NUMPY magic string)")
    major = preamble[6]
    if major not in (1, 2, 3):
        raise ArchiveError(f"member {name!r}: unknown .npy format version {major}")
    size_len = 2 if major == 1 else 4
    header_len = int.from_bytes(f.read(size_len), "little")
    if header_len > MAX_HEADER:
        raise ArchiveError(
            f"member {name!r}: its .npy header is {header_len} bytes, more than the "
            f"{MAX_HEADER} this reader accepts (np.save writes about a hundred)"
        )
    raw = f.read(header_len)
    if len(raw) < header_len:
        raise ArchiveError(f"member {name!r}: truncated .npy header")
    try:
        header = ast.literal_eval(raw.decode("utf8" if major == 3 else "latin1"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        header = None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ArchiveError(f"member {name!r}: not a valid .npy header: {raw[:80]!r}")
    shape, fortran = header["shape"], header["fortran_order"]
    if (not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape)
            or not isinstance(fortran, bool)):
        raise ArchiveError(f"member {name!r}: not a valid .npy header: {raw[:80]!r}")
    try:
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except (ValueError, TypeError) as err:
        raise ArchiveError(f"member {name!r}: unknown dtype {header['descr']!r}") from err
    if dtype.hasobject:
        raise ArchiveError(
            f"member {name!r} holds an object (pickled) array; lstmlab never unpickles, "
            "because loading a pickle can run arbitrary code"
        )
    return shape, dtype, fortran, 8 + size_len + header_len


def read_headers(z):
    """Every member of the open ZipFile ``z`` as a :class:`Member`, keyed by its key.

    Reads at most ``8 + 4 + MAX_HEADER`` decompressed bytes per member.
    """
    members = {}
    for info in z.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            raise ArchiveError(
                f"member {name!r} is not a .npy array (no .npy suffix); an .npz written by "
                "lstmlab.save or np.savez holds only <key>.npy members"
            )
        key = name[: -len(".npy")]
        if key in members:
            raise ArchiveError(f"member {name!r} appears twice")
        with z.open(info) as f:
            shape, dtype, fortran, offset = _parse_header(f, name)
        member = Member(key, name, shape, dtype, fortran, offset)
        if info.file_size != offset + member.nbytes:
            raise ArchiveError(
                f"member {name!r} declares shape {shape} of {dtype} ({member.nbytes} bytes) "
                f"but holds {info.file_size - offset} bytes of data"
            )
        members[key] = member
    return members


def read_member(z, member):
    """The array of ``member``: exactly ``member.nbytes`` bytes read, CRC-32 checked."""
    with z.open(member.name) as f:
        f.read(member.offset)
        data = f.read(member.nbytes)
        if len(data) != member.nbytes or f.read(1):
            raise ArchiveError(f"member {member.name!r}: its size differs from its header")
    order = "F" if member.fortran_order else "C"
    # read-only (a view of the bytes read): the caller copies it into the model's own arrays
    return np.frombuffer(data, dtype=member.dtype).reshape(member.shape, order=order)


#: errors of the zip layer that mean a damaged file (wrapped into ArchiveError by the caller)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, NotImplementedError,
              RuntimeError)  # RuntimeError: an encrypted member
