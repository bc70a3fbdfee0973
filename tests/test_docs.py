"""The docs cannot rot: their code runs, their quotes match the code, their links resolve.

- Every ```python block of a page runs; the blocks of one page run in order in
  one namespace, so a later block may use the names of an earlier one. Every
  block must check something (an ``assert`` or a ``print``).
- A ```python torch block needs PyTorch (not a dependency): it runs, in page
  order with the page's other blocks, only where torch is installed.
- A block fenced as ```text lstmlab/<file>.py quotes that file: each of its
  lines must appear in the file (compared without indentation and without a
  trailing comment; a line ``...`` marks an elision), so a quoted line that
  changes in the code fails here until the page is updated.
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
        for line, info, code in blocks(page, r"text\s+\S+\.py"):
            cases.append(pytest.param(page, info.split()[1], code, id=f"{page.name}:{line}"))
    return cases


def _bare(line):
    """A code line without indentation and without a trailing ``  # comment``."""
    return line.split("  #")[0].strip()


@pytest.mark.parametrize("page, path, code", _quoted_blocks())
def test_quoted_code_is_in_the_source(page, path, code):
    source = {_bare(ln) for ln in (ROOT / path).read_text(encoding="utf-8").splitlines()}
    missing = [ln for ln in code.splitlines()
               if _bare(ln) not in source and _bare(ln) not in ("", "...")]
    assert not missing, f"{page.name} quotes {path}, but these lines are not in it: {missing}"


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
