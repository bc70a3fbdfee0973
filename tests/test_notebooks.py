"""The shipped notebooks: in step with their scripts, executed, and they run again in quick mode.

Every percent-format script in examples/ and notebooks/ ships an executed
``.ipynb`` next to it (``python examples/make_notebooks.py`` rebuilds them).
Here each notebook must have the script's cells, carry its outputs (figures
inline, no error), stay small enough for git, and execute again in a fresh
kernel with ``LSTMLAB_QUICK=1``, drawing a figure wherever the shipped copy
shows one.
"""

import ast
import importlib.util
import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_notebooks",
                                               ROOT / "examples" / "make_notebooks.py")
make_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_notebooks)

SCRIPTS = make_notebooks.notebook_scripts()
NOTEBOOKS = [s.with_suffix(".ipynb") for s in SCRIPTS]
IDS = [str(s.relative_to(ROOT)) for s in SCRIPTS]
MAX_BYTES = 600 * 1024


def outputs(cell):
    return cell.get("outputs", []) if cell.cell_type == "code" else []


def has_image(cell):
    return any("image/png" in o.get("data", {}) for o in outputs(cell))


def errors(notebook):
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in notebook.cells for o in outputs(c)
            if o.output_type == "error"]


def draws(cell):
    return cell.cell_type == "code" and "plot." in cell.source


def ends_with_a_plot(cell):
    """True when the cell's last statement is a call ``plot.<function>(...)``: its value shows."""
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:  # IPython syntax (magics)
        return False
    last = body[-1].value if body and isinstance(body[-1], ast.Expr) else None
    return (isinstance(last, ast.Call) and isinstance(last.func, ast.Attribute)
            and isinstance(last.func.value, ast.Name) and last.func.value.id == "plot")


def test_the_examples_and_the_learning_path_are_notebook_scripts():
    names = {s.name for s in SCRIPTS}
    assert {"quickstart.py", "char_lm.py", "word_lm.py", "adding_problem.py"} <= names
    assert "make_notebooks.py" not in names
    assert len([s for s in SCRIPTS if s.parent.name == "notebooks"]) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=IDS)
def test_each_notebook_has_its_scripts_cells(script):
    notebook = script.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} is missing: python examples/make_notebooks.py"
    shipped = nbformat.read(notebook, as_version=4)
    expected = make_notebooks.cells_of(make_notebooks.script_notebook(script))
    assert make_notebooks.cells_of(shipped) == expected, (
        f"{notebook.name} is out of step with {script.name}: "
        f"python examples/make_notebooks.py {script.relative_to(ROOT)}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_each_shipped_notebook_holds_its_outputs(notebook):
    if not notebook.exists():
        pytest.fail(f"{notebook.name} is missing")
    assert notebook.stat().st_size < MAX_BYTES, "too big for git: fewer or smaller figures"
    shipped = nbformat.read(notebook, as_version=4)
    assert not errors(shipped)
    code = [c for c in shipped.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "not executed: run make_notebooks.py"
    for cell in code:
        if ends_with_a_plot(cell):
            assert has_image(cell), f"no inline figure for:\n{cell.source[-300:]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_each_notebook_executes_in_quick_mode(notebook):
    shipped = nbformat.read(notebook, as_version=4)
    fresh = nbformat.read(notebook, as_version=4)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    make_notebooks.execute(fresh, quick=True, timeout=300)
    assert not errors(fresh)
    for before, after in zip(shipped.cells, fresh.cells):
        if has_image(before):
            assert has_image(after), f"the figure is missing:\n{after.source[-300:]}"
    if any(draws(c) for c in fresh.cells):
        assert any(has_image(c) for c in fresh.cells)
