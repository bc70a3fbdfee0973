"""Every example runs in its quick mode (in-process, through its main())."""

import importlib.util
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart(capsys):
    report = load("quickstart").main(["--quick"])
    assert report.max_error < 1e-7
    out = capsys.readouterr().out
    assert "OK max error" in out and "t=4" in out
