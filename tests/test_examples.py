"""Every example runs in its quick mode (in-process, through its main())."""

import importlib.util
import math
import pathlib

import numpy as np
import pytest

import lstmlab as ll

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
def test_seq2seq_addition(tmp_path):
    r = run("seq2seq_addition", tmp_path, "--reverse-input")
    assert_figures(r, tmp_path)
    assert 0 <= r["accuracy"] <= 1 and finite(r["final_loss"])


def test_seq2seq_batch_layout():
    module = load("seq2seq_addition")
    src, src_len, dec_in, dec_len, target = module.batch([(57, 623), (5, 5)], reverse=True)
    chars = module.ALPHABET
    assert "".join(chars[k] for k in src[: src_len[0], 0]) == "326+75"
    assert src_len.tolist() == [6, 3] and dec_len.tolist() == [4, 3]
    assert [chars[k] for k in dec_in[:, 0]] == ["<go>", "6", "8", "0"]
    assert [chars[k] for k in target[:, 0]] == ["6", "8", "0", "<end>"]
    assert [chars[k] for k in target[:, 1]] == ["1", "0", "<end>", "<pad>"]


def test_seq2seq_gradient_reaches_the_encoder_through_the_state():
    module = load("seq2seq_addition")
    rng = np.random.default_rng(0)
    model = module.Seq2Seq(4, 5, np.float64, rng)
    src, src_len, dec_in, dec_len, target = module.batch([(12, 3), (7, 450)], reverse=False)

    def loss():
        value, _ = ll.cross_entropy(model.forward(src, src_len, dec_in, dec_len), target,
                                    ignore_index=module.PAD)
        return value

    model.zero_grad()
    _, dlogits = ll.cross_entropy(model.forward(src, src_len, dec_in, dec_len), target,
                                  ignore_index=module.PAD)
    model.backward(dlogits)
    W = model.params["encoder.layers.0.fwd.W_h"]
    analytic = model.grads["encoder.layers.0.fwd.W_h"].copy()
    numeric = np.zeros_like(W)
    for idx in [(0, 0), (1, 7), (4, 19), (2, 12)]:
        old = W[idx]
        W[idx] = old + 1e-5
        plus = loss()
        W[idx] = old - 1e-5
        minus = loss()
        W[idx] = old
        numeric[idx] = (plus - minus) / 2e-5
        assert abs(analytic[idx] - numeric[idx]) <= 1e-6 * max(1.0, abs(numeric[idx]))
    assert np.abs(analytic).max() > 0


def test_seq2seq_held_out_problems_are_never_trained_on():
    module = load("seq2seq_addition")
    rng = np.random.default_rng(0)
    test = module.held_out_problems(300, 3, rng)
    assert len(test) == len(set(test)) == 300 and all(map(module.is_held_out, test))
    share = np.mean([module.is_held_out((a, b)) for a in range(100) for b in range(100)])
    assert 0.03 < share < 0.07  # about 5% of all problems


def test_char_lm_split_interleaves_paragraphs():
    module = load("char_lm")
    text = "\n\n".join(f"p{k}" for k in range(20))
    train, test = module.split_text(text)
    assert test == "p9\n\np19" and "p9" not in train.split("\n\n")
    assert module.split_text("abcdefghij") == ("abcdefghi", "j")  # few paragraphs: 90/10
