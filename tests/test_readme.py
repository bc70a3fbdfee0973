"""Every python block of the README runs, in order, in one namespace."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_blocks_run(capsys, tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text())
    assert blocks, "the README has no python block"
    monkeypatch.chdir(tmp_path)  # the tour saves a model file
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "rel. error" in out
    assert namespace["loss"] < 0.1  # the tour's training loop really learns
    assert (tmp_path / "charlm.npz").exists()


def test_readme_gives_the_two_commands_first():
    text = README.read_text()
    head = text[: text.index("## ")]
    assert 'python examples/quickstart.py' in head
    assert 'pip install -e ".[test]" && python -m pytest' in head


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && python -m pytest' in ci
