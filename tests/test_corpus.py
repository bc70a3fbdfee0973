"""lstmlab.corpus: offline text (the stdlib's docstrings), PTB-style words, PTB-layout folders."""

import pytest

import lstmlab as ll
from lstmlab.corpus import read_ptb, stdlib_docstrings, word_sentences


def test_stdlib_docstrings_are_deterministic_and_skip_missing_modules():
    first, used = stdlib_docstrings(("json", "textwrap", "no_such_module_here"))
    assert (first, used) == stdlib_docstrings(("json", "textwrap", "no_such_module_here"))
    assert used == ["json", "textwrap"]
    assert len(set(first)) == len(first)  # each docstring once
    assert "JSON" in first[0] and sum(map(len, first)) > 1000
    with pytest.raises(TypeError, match="modules: expected module names"):
        stdlib_docstrings([3])


def test_the_default_text_is_large():
    docs, used = stdlib_docstrings()
    assert len(used) > 90 and sum(map(len, docs)) > 500_000
    assert ll.corpus.STDLIB_MODULES[0] == "abc"


def test_word_sentences():
    text = "Return 2.5 times x. Is it?  Yes!\n\nA new\nline here"
    assert word_sentences(text) == [["return", "N", "times", "x"], ["is", "it"],
                                    ["a", "new", "line", "here"]]
    assert word_sentences(text, min_words=1)[2] == ["yes"]
    with pytest.raises(TypeError, match="text: expected a str, got bytes"):
        word_sentences(b"abc")


@pytest.mark.parametrize("prefix", ["", "ptb."])
def test_read_ptb_appends_eos_to_every_line(tmp_path, prefix):
    for split, text in (("train", " a b \n\n c\n"), ("valid", "d\n"), ("test", "e f")):
        (tmp_path / f"{prefix}{split}.txt").write_text(text, encoding="utf-8")
    splits = read_ptb(tmp_path)
    assert splits == {"train": ["a", "b", "<eos>", "c", "<eos>"], "valid": ["d", "<eos>"],
                      "test": ["e", "f", "<eos>"]}


def test_read_ptb_names_the_missing_files(tmp_path):
    (tmp_path / "train.txt").write_text("a\n")
    with pytest.raises(FileNotFoundError) as err:
        read_ptb(tmp_path)
    message = str(err.value)
    assert "valid.txt or ptb.valid.txt" in message and "test.txt or ptb.test.txt" in message
    assert "train.txt or" not in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_ptb(tmp_path / "absent")
