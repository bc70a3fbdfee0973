"""The attention examples run with --quick, as scripts and as notebooks; the date data is sound."""

import ast
import datetime
import json
import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("matplotlib")


def run_script(name, tmp_path, *extra):
    env = dict(os.environ, LSTMLAB_QUICK="", MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out",
                           str(tmp_path), *extra], capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_date_format_script_quick(tmp_path):
    out = run_script("date_format", tmp_path)
    assert "held-out exact match" in out and "epoch 2/2" in out
    results = json.loads((tmp_path / "date_format_results.json").read_text())
    assert set(results["exact_match"]) == {"plain", "attention"}
    assert all(0.0 <= v <= 1.0 for v in results["exact_match"].values())
    assert all(len(c) == 3 for c in results["curves"].values())  # before training, 2 epochs
    for figure in results["figures"]:
        assert pathlib.Path(figure).read_bytes()[:8] == PNG
    import lstmlab as ll

    for name, score in (("plain", None), ("attention", "general")):
        path = tmp_path / f"date_format_{name}.npz"
        extra = ll.load_extra(path)
        assert extra["attention"] == score
        src_vocab = ll.data.Vocab.from_dict(extra["src_vocab"])
        tgt_vocab = ll.data.Vocab.from_dict(extra["tgt_vocab"])
        model = ll.Seq2Seq(len(src_vocab), len(tgt_vocab), extra["embed"], extra["hidden"],
                           attention=score, padding_idx=0, dtype="float32")
        ll.load(model, path)  # the saved weights fit the model the extra data describes


@pytest.mark.parametrize("extra", [["--attention"], ["--attention", "--score", "additive",
                                                     "--reverse-input"], []])
def test_seq2seq_addition_script_quick(tmp_path, extra):
    out = run_script("seq2seq_addition", tmp_path, *extra)
    assert "held-out exact match" in out
    assert ("attention=" in out) == bool(extra)
    assert (tmp_path / "seq2seq_addition.png").read_bytes()[:8] == PNG
    assert (tmp_path / "seq2seq_addition.npz").exists()


@pytest.mark.parametrize("name", ["date_format", "seq2seq_addition"])
def test_runs_as_a_notebook(name, tmp_path):
    """jupytext turns the script into a notebook; nbclient runs it in a fresh kernel."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(EXAMPLES / f"{name}.py")
    assert len(notebook.cells) >= 5  # top-level cells, not one cell holding a main()
    env = {"LSTMLAB_QUICK": "1", "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "held-out exact match" in text
    assert list((tmp_path / "out" / name).glob("*.png"))
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == {"date_format": 2, "seq2seq_addition": 1}[name]  # figures inline


def definitions(name, wanted, **namespace):
    """Run only the top-level definitions ``wanted`` of an example script (no training)."""
    tree = ast.parse((EXAMPLES / f"{name}.py").read_text())
    nodes = []
    for node in tree.body:
        names = {getattr(node, "name", None)}
        if isinstance(node, ast.Assign):
            names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            names |= {e.id for t in node.targets if isinstance(t, ast.Tuple) for e in t.elts}
        if names & wanted:
            nodes.append(node)
    exec(compile(ast.Module(nodes, type_ignores=[]), f"{name}.py", "exec"), namespace)
    return namespace


def date_functions():
    """MONTHS, WEEKDAYS, FIRST, LAST, ordinal and formats, taken out of the script unchanged."""
    return definitions("date_format", {"MONTHS", "WEEKDAYS", "FIRST", "ordinal", "formats"},
                       datetime=datetime)


def addition_functions():
    import zlib

    import numpy as np

    import lstmlab as ll

    return definitions("seq2seq_addition", {"vocab", "PAD", "random_problems", "is_held_out",
                                            "held_out_problems", "encode", "batch"},
                       np=np, ll=ll, zlib=zlib)


def test_seq2seq_addition_batch_layout():
    ns = addition_functions()
    src, src_len, dec_in, target = ns["batch"]([(57, 623), (5, 5)], reverse=True)
    chars = ns["vocab"].decode
    assert "".join(chars(src[: src_len[0], 0])) == "326+75"
    assert src_len.tolist() == [6, 3]
    assert chars(dec_in[:, 0]) == ["<go>", "6", "8", "0"]
    assert chars(target[:, 0]) == ["6", "8", "0", "<end>"]
    assert chars(target[:, 1]) == ["1", "0", "<end>", "<pad>"]
    assert ns["PAD"] == 0


def test_seq2seq_addition_held_out_problems_are_never_trained_on():
    import numpy as np

    ns = addition_functions()
    test = ns["held_out_problems"](300, 3, np.random.default_rng(0))
    assert len(test) == len(set(test)) == 300 and all(map(ns["is_held_out"], test))
    share = np.mean([ns["is_held_out"]((a, b)) for a in range(100) for b in range(100)])
    assert 0.03 < share < 0.07  # about 5% of all problems


def test_every_human_date_names_exactly_one_day():
    ns = date_functions()
    first, last = ns["FIRST"], ns["LAST"]
    assert (first, last) == (datetime.date(1970, 1, 1), datetime.date(2030, 12, 31))
    seen = {}
    day = first
    while day <= last:
        for k, text in enumerate(ns["formats"](day)):
            other = seen.setdefault(text, day)
            assert other == day, f"{text!r} (format {k}) is both {other} and {day}"
        day += datetime.timedelta(days=1)
    assert [ns["ordinal"](n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]
    examples = ns["formats"](datetime.date(1994, 9, 27))
    assert "september 27, 1994" in examples and "9/27/94" in examples
    assert "TUESDAY, SEPTEMBER 27, 1994" in examples and "27.09.1994" in examples


@pytest.mark.parametrize("name", ["date_format", "seq2seq_addition"])
def test_without_matplotlib_it_says_how_to_install_it_before_training(name, tmp_path):
    block = ("import runpy, sys; sys.modules['matplotlib'] = None; "  # import matplotlib fails
             f"sys.argv = [sys.argv[0], '--quick', '--out', {str(tmp_path / 'out')!r}]; "
             f"runpy.run_path({str(EXAMPLES / f'{name}.py')!r}, run_name='__main__')")
    env = dict(os.environ, LSTMLAB_QUICK="")
    done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode != 0
    assert "pip install matplotlib" in done.stderr
    assert "epoch" not in done.stdout and "step" not in done.stdout  # nothing was trained
