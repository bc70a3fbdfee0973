"""Every example runs in its quick mode (in-process, through its main())."""

import importlib.util
import math
import pathlib

import numpy as np
import pytest

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="the examples draw figures with matplotlib")

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


# -- the six examples of issue 5, each in its --quick mode ---------------------------------


def run(name, tmp_path, *extra):
    return load(name).main(["--quick", "--out", str(tmp_path), *extra])


def assert_figures(result, tmp_path):
    assert result["figures"], "an example must write at least one figure"
    for path in result["figures"]:
        path = pathlib.Path(path)
        assert path.parent == tmp_path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def finite(*values):
    return all(math.isfinite(v) for v in values)


@needs_matplotlib
def test_char_lm_trains_saves_and_generates(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 200)
    r = run("char_lm", tmp_path, "--text", str(text))
    assert_figures(r, tmp_path)
    assert finite(r["held_out_bits"], r["unigram_bits"], r["chars_per_second"])
    assert 0 < r["held_out_bits"] < 10 and r["chars_per_second"] > 0
    assert r["vocab"] == len(set("the cat sat on the mat. "))
    assert all(len(s) == 40 for s in r["samples"].values())
    out = capsys.readouterr().out
    assert "bits/char" in out and "elapsed" in out and "eta" in out
    again = load("char_lm").main(["--generate", "--out", str(tmp_path), "--length", "25",
                                  "--prime", "the "])
    assert len(again["sample"]) == 25 and set(again["sample"]) <= set("the cat sat on the mat. ")


def test_char_lm_gathers_stdlib_docstrings_deterministically():
    module = load("char_lm")
    first, used = module.stdlib_docstrings(("json", "textwrap", "no_such_module_here"))
    assert (first, used) == module.stdlib_docstrings(("json", "textwrap", "no_such_module_here"))
    assert used == ["json", "textwrap"]
    assert "JSON" in first and len(first) > 1000


def test_char_lm_streams_are_contiguous_slices():
    module = load("char_lm")
    data = module.streams(np.arange(10), 3)  # (L, N) = (3, 3), the last id is dropped
    assert data.tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


@needs_matplotlib
def test_adding_problem(tmp_path):
    r = run("adding_problem", tmp_path)
    assert_figures(r, tmp_path)
    assert set(r["test_mse"]) == {"RNN", "LSTM", "GRU"}
    assert finite(r["baseline_mse"], *r["test_mse"].values())
    assert 0.1 < r["baseline_mse"] < 0.25  # predicting 1: about 2/12


def test_adding_problem_data():
    module = load("adding_problem")
    x, y = module.adding_batch(10, 50, np.random.default_rng(0))
    assert x.shape == (10, 50, 2) and y.shape == (50, 1)
    markers = x[:, :, 1]
    assert (markers.sum(axis=0) == 2).all()
    assert (markers[:5].sum(axis=0) == 1).all()  # one marker in each half
    np.testing.assert_allclose((x[:, :, 0] * markers).sum(axis=0), y[:, 0], rtol=1e-6)


@needs_matplotlib
def test_vanishing_gradients(tmp_path):
    r = run("vanishing_gradients", tmp_path)
    assert_figures(r, tmp_path)
    ratios = r["ratios"]
    k = max(ratios["tanh RNN, s = 0.5"])
    # the measured claims: s = 0.5 vanishes, s = 2 explodes, for the tanh RNN
    assert ratios["tanh RNN, s = 0.5"][k] < 1e-6 < ratios["tanh RNN, s = 2"][k]
    assert ratios["tanh RNN, s = 2"][k] > 1
    assert set(r["training"]) == {"no clipping", "clip_grad_norm(1)"}


@needs_matplotlib
def test_stock_forecast(tmp_path):
    r = run("stock_forecast", tmp_path)
    assert_figures(r, tmp_path)
    naive = r["errors"]["naive (tomorrow = today)"]
    assert finite(r["errors"]["LSTM"]["rmse"], naive["rmse"], r["rmse_ratio"])
    assert 5 < naive["rmse"] < 50  # dollars per day for GOOG in 2008: a sanity range
    assert r["winner"] in r["errors"]


@needs_matplotlib
def test_pos_tagger(tmp_path):
    r = run("pos_tagger", tmp_path)
    assert_figures(r, tmp_path)
    assert 0 <= r["accuracy"] <= 1 and 0.5 < r["baseline_accuracy"] <= 1
    assert finite(r["tutorial_final_loss"])


def test_pos_tagger_grammar_holds_out_unseen_sentences():
    module = load("pos_tagger")
    train, test = module.grammar_data(50, 20, np.random.default_rng(0))
    assert not {" ".join(w) for w, _ in train} & {" ".join(w) for w, _ in test}
    assert all(len(w) == len(t) for w, t in train + test)


@needs_matplotlib
# seq2seq_addition is a top-level notebook script now: its tests (quick run, batch layout,
# held-out split) are in test_examples_attention.py, the model's in test_seq2seq.py.


def test_char_lm_split_interleaves_paragraphs():
    module = load("char_lm")
    text = "\n\n".join(f"p{k}" for k in range(20))
    train, test = module.split_text(text)
    assert test == "p9\n\np19" and "p9" not in train.split("\n\n")
    assert module.split_text("abcdefghij") == ("abcdefghi", "j")  # few paragraphs: 90/10
