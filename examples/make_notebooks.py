"""Rebuild the executed notebooks (.ipynb) from their percent-format scripts (.py).

The ``.py`` files are the source of truth: every script in ``examples/`` and
``notebooks/`` with percent cells becomes a notebook next to it, executed in
a fresh kernel (figures inline, printed results kept)::

    python examples/make_notebooks.py                       # every notebook script
    python examples/make_notebooks.py examples/char_lm.py   # only these

It needs the test extra (``pip install -e ".[test]"``: jupytext reads the
scripts, nbclient runs them). Each notebook runs in a temporary folder, so
what it saves (``out/...``) does not land in the repository.

Which run is shipped: the examples run with ``LSTMLAB_QUICK=1``, their
``--quick`` mode (a full run takes minutes; the script's docstring quotes
one), so their notebooks show the code working in seconds. The learning path
in ``notebooks/`` runs in full (about a minute or less each), because what
those notebooks show is the trained result. ``--quick`` runs everything in
quick mode (a smoke test: do not commit its notebooks/ output); ``--check``
only reports which notebooks are out of step with their scripts.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("examples", "notebooks")
QUICK_FOLDERS = ("examples",)  # shipped in quick mode; the others run in full
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def notebook_scripts(folders=FOLDERS):
    """The percent-format scripts (a line starting with ``# %%``) of ``folders``, sorted."""
    scripts = []
    for folder in folders:
        for path in sorted((ROOT / folder).glob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            if any(line.startswith("# %%") for line in lines):
                scripts.append(path)
    return scripts


def cells_of(notebook):
    """(cell_type, source) of every cell: what a script and its notebook must share."""
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def script_notebook(script):
    """The notebook a script describes, without outputs (jupytext's percent format)."""
    import jupytext

    notebook = jupytext.read(script)
    notebook.metadata = {"kernelspec": dict(KERNEL)}  # no jupytext header: nothing to pair
    return notebook


def execute(notebook, quick, timeout=900):
    """Run every cell in a fresh kernel, in a temporary folder; return the seconds taken."""
    from nbclient import NotebookClient

    saved = {k: os.environ.get(k) for k in ("LSTMLAB_QUICK", "MPLBACKEND")}
    os.environ["LSTMLAB_QUICK"] = "1" if quick else ""
    os.environ["MPLBACKEND"] = "Agg"  # the kernel inherits the environment
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as folder:
            NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL["name"],
                           record_timing=False,
                           resources={"metadata": {"path": folder}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scripts", nargs="*", type=Path,
                        help="scripts to rebuild (default: every notebook script)")
    parser.add_argument("--quick", action="store_true", help="run everything in quick mode")
    parser.add_argument("--check", action="store_true",
                        help="only list the notebooks whose cells differ from their scripts")
    args = parser.parse_args(argv)
    scripts = [p.resolve() for p in args.scripts] or notebook_scripts()

    import nbformat

    if args.check:
        stale = [s for s in scripts if not s.with_suffix(".ipynb").exists()
                 or cells_of(script_notebook(s))
                 != cells_of(nbformat.read(s.with_suffix(".ipynb"), as_version=4))]
        for s in stale:
            print(f"out of step: {s.relative_to(ROOT)}")
        return 1 if stale else 0

    for script in scripts:
        quick = args.quick or script.parent.name in QUICK_FOLDERS
        notebook = script_notebook(script)
        print(f"{script.relative_to(ROOT)} ({'quick' if quick else 'full'} run) ...",
              end=" ", flush=True)
        seconds = execute(notebook, quick)
        nbformat.validate(notebook)
        target = script.with_suffix(".ipynb")
        nbformat.write(notebook, target)
        print(f"{seconds:.1f} s, {target.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
