"""The docs cannot rot: their code runs, their quotes match the code, their links resolve.

- Every ```python block of a page runs; the blocks of one page run in order in
  one namespace, so a later block may use the names of an earlier one. Every
  block must check something (an ``assert`` or a ``print``).
- A ```python torch block needs PyTorch (not a dependency): it runs, in page
  order with the page's other blocks, only where torch is installed.
- A block fenced as ```python lstmlab/<file>.py (or ```text lstmlab/<file>.py)
  quotes that file verbatim, comments included: its lines are a contiguous
  run of the file's lines (the whole run may be shifted left by a constant
  indentation), and a line ``...`` marks each omission, so the pieces between
  the ``...`` lines must be runs of the file in that order. A quoted line that
  changes in the code, an unmarked gap, or pieces out of order fail here until
  the page is updated. Such a block is not run (its info string is not just
  ``python``).
- Every relative link of a page points to a file that exists.
- docs/make_figures.py writes every figure into the directory given by --out.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def blocks(page, info):
    """(line number, code) of every fenced block of ``page`` whose info string matches ``info``."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        if re.fullmatch(info, m.group(1).strip()):
            out.append((text.count("\n", 0, m.start()) + 1, m.group(1).strip(), m.group(2)))
    return out


def test_pages_exist():
    expected = {"index", "rnn", "lstm", "gru", "bptt", "gradients", "variants", "pytorch", "faq"}
    assert expected <= {p.stem for p in PAGES}


def run_blocks(page, info):
    """Run the blocks of ``page`` matching ``info``, in order, in one namespace."""
    namespace = {"__name__": f"docs_{page.stem}"}
    for line, _, code in blocks(page, info):
        assert "assert" in code or "print(" in code, (
            f"{page.name}:{line}: a code block must check something (assert or print)"
        )
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
            except Exception as exc:  # name the block in the failure
                raise AssertionError(f"{page.name}: block at line {line} failed: {exc!r}") from exc


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a block that writes a file writes it here
    run_blocks(page, "python")


TORCH_PAGES = [p for p in PAGES if blocks(p, r"python\s+torch")]


@pytest.mark.parametrize("page", TORCH_PAGES, ids=[p.name for p in TORCH_PAGES])
def test_torch_blocks_run(page, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    run_blocks(page, r"python(\s+torch)?")


def _quoted_blocks():
    cases = []
    for page in PAGES:
        for line, info, code in blocks(page, r"(text|python)\s+\S+\.py"):
            cases.append(pytest.param(page, info.split()[1], code, id=f"{page.name}:{line}"))
    return cases


def quoted_pieces(code):
    """A quote's runs of lines, split at its ``...`` lines (blank lines at a run's ends dropped)."""
    pieces, current = [], []
    for line in code.splitlines() + ["..."]:
        if line.strip() == "...":
            while current and not current[-1].strip():
                current.pop()
            while current and not current[0].strip():
                current.pop(0)
            if current:
                pieces.append(current)
            current = []
        else:
            current.append(line.rstrip())
    return pieces


def find_run(piece, lines, start=0):
    """The index just after the first run of ``lines`` at or after ``start`` equal to ``piece``.

    Equal means line by line, blank for blank, and every other line equal to
    the piece's line behind one common extra indentation. None if there is no
    such run.
    """
    j0 = next(j for j, ln in enumerate(piece) if ln.strip())
    for i in range(start, len(lines) - len(piece) + 1):
        shift = len(lines[i + j0]) - len(piece[j0])
        if shift < 0:
            continue
        pad = " " * shift
        if all((not ln.strip() and not fl.strip()) or (ln.strip() and fl == pad + ln)
               for ln, fl in zip(piece, lines[i:i + len(piece)])):
            return i + len(piece)
    return None


def test_find_run_needs_contiguous_lines_in_order():
    lines = ["def f(x):", "    a = x + 1", "", "    b = a * 2", "    return b"]
    assert find_run(["a = x + 1", "", "b = a * 2"], lines) == 4
    assert find_run(["        a = x + 1"], lines) is None  # deeper than in the file
    assert find_run(["a = x + 1", "b = a * 2"], lines) is None  # a gap that is not marked
    assert find_run(["return b"], lines, start=4) == 5
    assert find_run(["a = x + 1"], lines, start=2) is None  # before start: out of order
    assert quoted_pieces("a = 1\n...\n\nb = 2\n    ...\nc = 3\n") == [["a = 1"], ["b = 2"],
                                                                      ["c = 3"]]


@pytest.mark.parametrize("page, path, code", _quoted_blocks())
def test_quoted_code_is_in_the_source(page, path, code):
    lines = [ln.rstrip() for ln in (ROOT / path).read_text(encoding="utf-8").splitlines()]
    pieces = quoted_pieces(code)
    assert pieces, f"{page.name} quotes {path} but the quote is empty"
    position = 0
    for k, piece in enumerate(pieces):
        end = find_run(piece, lines, position)
        if end is None:
            where = ("it is in the file, but before the previous piece: out of order"
                     if find_run(piece, lines) is not None else
                     "it is not a contiguous run of the file (a changed line, or a gap "
                     "not marked with a '...' line)")
            raise AssertionError(f"{page.name} quotes {path}; piece {k + 1} of {len(pieces)}, "
                                 f"starting {piece[0].strip()!r}: {where}")
        position = end


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_make_figures_writes_every_figure(tmp_path):
    sys.path.insert(0, str(DOCS))
    try:
        import make_figures
    finally:
        sys.path.remove(str(DOCS))
    out = tmp_path / "figs"
    subprocess.run(
        [sys.executable, str(DOCS / "make_figures.py"), "--out", str(out)],
        check=True, capture_output=True, timeout=120,
    )
    for name in make_figures.FIGURES:
        png = out / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert 5_000 < png.stat().st_size < 150_000, (name, png.stat().st_size)
        assert (DOCS / "figures" / name).exists(), f"{name} is not committed under docs/figures"
