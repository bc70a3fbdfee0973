"""Perplexity, bits per character and accuracy."""

import math

import numpy as np
import pytest

import lstmlab as ll


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    V = 37
    logits = np.zeros((5, 3, V))
    loss, _ = ll.cross_entropy(logits, np.zeros((5, 3), dtype=int))
    assert ll.perplexity(loss) == pytest.approx(V, rel=1e-12)
    assert ll.bits_per_char(loss) == pytest.approx(math.log2(V), rel=1e-12)


def test_perplexity_and_bits_are_exp_and_log2():
    assert ll.perplexity(0.0) == 1.0 and isinstance(ll.perplexity(0.0), float)
    assert ll.bits_per_char(math.log(2)) == pytest.approx(1.0)
    np.testing.assert_allclose(ll.perplexity([1.0, 2.0]), np.exp([1.0, 2.0]))
    np.testing.assert_allclose(ll.bits_per_char(np.array([1.0, 2.0])), np.log2(np.exp([1, 2])))


@pytest.mark.parametrize("fn", [ll.perplexity, ll.bits_per_char])
@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, [1.0, -1.0]])
def test_metrics_refuse_impossible_losses(fn, bad):
    with pytest.raises(ValueError, match="mean_ce: expected a finite mean cross-entropy >= 0"):
        fn(bad)


@pytest.mark.parametrize("fn", [ll.perplexity, ll.bits_per_char])
@pytest.mark.parametrize("bad", ["1.0", None, True])
def test_metrics_refuse_non_numbers(fn, bad):
    with pytest.raises(TypeError, match="mean_ce: expected a number"):
        fn(bad)


def test_accuracy_from_logits_and_from_predictions():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 3, 5))
    targets = rng.integers(0, 5, size=(4, 3))
    pred = logits.argmax(-1)
    expected = float(np.mean(pred == targets))
    assert ll.accuracy(logits, targets) == expected
    assert ll.accuracy(pred, targets) == expected
    assert ll.accuracy(targets, targets) == 1.0


def test_accuracy_ignore_index():
    pred = np.array([1, 2, 3, 4])
    targets = np.array([1, 0, 3, -1])
    assert ll.accuracy(pred, targets) == 0.5
    assert ll.accuracy(pred, targets, ignore_index=-1) == pytest.approx(2 / 3)


def test_accuracy_lengths_time_major():
    targets = np.array([[1, 1], [1, 1], [1, 1]])  # (T, N) = (3, 2)
    pred = np.array([[1, 1], [0, 1], [0, 0]])
    assert ll.accuracy(pred, targets, lengths=[1, 2]) == 1.0  # counted: (0,0), (0,1), (1,1)
    assert ll.accuracy(pred, targets, lengths=[3, 2]) == pytest.approx(3 / 5)
    assert ll.accuracy(pred, targets, lengths=[3, 2], ignore_index=1) != ll.accuracy(pred, targets)


def test_accuracy_nothing_counted_is_nan():
    assert math.isnan(ll.accuracy(np.array([1, 2]), [0, 0], ignore_index=0))
    assert math.isnan(ll.accuracy(np.zeros((2, 1), dtype=int), np.zeros((2, 1), dtype=int),
                                  lengths=[0]))


def test_accuracy_bad_input():
    with pytest.raises(ValueError, match=r"logits_or_pred: expected scores of shape \(2, 3, 'C'\)"):
        ll.accuracy(np.zeros((2, 4)), np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="logits_or_pred: expected scores"):
        ll.accuracy(np.zeros(3), np.zeros(3, dtype=int))  # floats of the targets' shape
    with pytest.raises(TypeError, match="targets: expected an integer array"):
        ll.accuracy(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"lengths: apply to time-major targets of shape \(T, N\)"):
        ll.accuracy(np.zeros(3, dtype=int), np.zeros(3, dtype=int), lengths=[1, 1, 1])
    with pytest.raises(ValueError, match=r"lengths: expected integers in \[0, T\]"):
        ll.accuracy(np.zeros((2, 1), dtype=int), np.zeros((2, 1), dtype=int), lengths=[3])
