"""ll.sample: priming, carried state, temperature, top_k, seeds, no records, bad input."""

import numpy as np
import pytest

import lstmlab as ll
from lstmlab.data import Vocab


class FixedLogits:
    """Returns the same logits (V,) at every step; counts its calls and the ids it read."""

    def __init__(self, z):
        self.z = np.asarray(z, dtype=np.float64)
        self.calls = []

    def forward(self, ids, state):
        self.calls.append((ids.copy(), state))
        T, N = ids.shape
        return np.broadcast_to(self.z, (T, N, len(self.z))).copy(), (state or 0) + T


class CharLM(ll.Model):
    """Embedding -> LSTM -> Linear, the protocol ll.sample expects."""

    def __init__(self, V, E=4, H=8, rng=0):
        rng = np.random.default_rng(rng)
        super().__init__(embed=ll.Embedding(V, E, rng=rng), rnn=ll.LSTM(E, H, rng=rng),
                         head=ll.Linear(H, V, rng=rng))

    def forward(self, ids, state=None):
        hs, state = self.rnn.forward(self.embed.forward(ids), state)
        return self.head.forward(hs), state

    def backward(self, dlogits):
        dx, _ = self.rnn.backward(self.head.backward(dlogits))
        self.embed.backward(dx)


def test_primes_once_then_carries_the_state_one_id_at_a_time():
    model = FixedLogits([0.0, 1.0, 2.0])
    ids = ll.sample(model, [2, 0, 1], length=4, rng=0)
    assert ids.shape == (4,) and ids.dtype == np.int64
    first_ids, first_state = model.calls[0]
    assert first_ids.tolist() == [[2], [0], [1]] and first_state is None  # the whole prime
    assert len(model.calls) == 4  # the prime, then one call per drawn id but the last
    for k, (fed, state) in enumerate(model.calls[1:]):
        assert fed.tolist() == [[ids[k]]]  # each drawn id is fed back ...
        assert state == 3 + k  # ... with the state the previous call returned


def test_equals_a_hand_written_loop_on_an_lstm():
    model = CharLM(V=6)
    prime, n, temperature = np.array([1, 4, 2]), 12, 0.8
    rng = np.random.default_rng(5)
    logits, state = model.forward(prime[:, None])
    expected = []
    for _ in range(n):
        z = logits[-1, 0] / temperature
        p = np.exp(z - z.max())
        k = rng.choice(6, p=p / p.sum())
        expected.append(k)
        logits, state = model.forward(np.array([[k]]), state)
    got = ll.sample(model, prime, n, temperature=temperature, rng=np.random.default_rng(5))
    assert got.tolist() == expected


def test_same_seed_same_ids_and_the_generator_advances():
    model = CharLM(V=7)
    a = ll.sample(model, [0], 30, rng=3)
    assert a.tolist() == ll.sample(model, [0], 30, rng=3).tolist()
    rng = np.random.default_rng(3)
    first = ll.sample(model, [0], 30, rng=rng)
    assert first.tolist() == a.tolist()
    assert ll.sample(model, [0], 30, rng=rng).tolist() != first.tolist()


def test_frequencies_follow_softmax_of_logits_over_temperature():
    z = np.log([0.5, 0.3, 0.15, 0.05])
    n = 20000
    for temperature in (1.0, 0.5, 2.0):
        ids = ll.sample(FixedLogits(z), [0], n, temperature=temperature, rng=1)
        p = np.exp(z / temperature)
        p /= p.sum()
        freq = np.bincount(ids, minlength=4) / n
        np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / n).max())


def test_low_temperature_approaches_greedy_and_high_flattens():
    z = [0.0, 1.0, 0.5]
    assert set(ll.sample(FixedLogits(z), [0], 200, temperature=1e-3, rng=0).tolist()) == {1}
    hot = np.bincount(ll.sample(FixedLogits(z), [0], 6000, temperature=100.0, rng=0)) / 6000
    np.testing.assert_allclose(hot, [1 / 3] * 3, atol=0.03)


def test_top_k_draws_only_among_the_k_most_likely():
    z = [3.0, -1.0, 2.0, 0.0, 2.5]
    ids = ll.sample(FixedLogits(z), [0], 3000, top_k=2, rng=0)
    assert set(ids.tolist()) == {0, 4}
    freq = np.bincount(ids, minlength=5)[[0, 4]] / 3000
    p = np.exp([3.0, 2.5]) / np.exp([3.0, 2.5]).sum()  # renormalized over the two
    np.testing.assert_allclose(freq, p, atol=0.03)
    assert set(ll.sample(FixedLogits(z), [0], 50, top_k=1, rng=0).tolist()) == {0}
    assert len(set(ll.sample(FixedLogits(z), [0], 3000, top_k=5, rng=0).tolist())) == 5


def test_top_k_one_is_greedy_on_a_real_model():
    model = CharLM(V=5)
    ids = ll.sample(model, [3], 10, top_k=1, rng=0)
    logits, state = model.forward(np.array([[3]]))
    for k in ids:
        assert k == logits[-1, 0].argmax()
        logits, state = model.forward(np.array([[k]]), state)


def test_length_zero_and_a_function_model():
    assert ll.sample(FixedLogits([0.0, 1.0]), [1], 0).shape == (0,)

    def model(ids, state):
        return np.zeros(ids.shape + (3,)), state

    assert ll.sample(model, [0, 1], 5, rng=0).shape == (5,)


def test_forwards_keep_no_records():
    """Sampling in the middle of training leaves no forward record for the next backward."""

    class Recording(ll.Module):
        def forward(self, ids, state):
            self.save_for_backward(ids.copy())  # what a layer's forward does
            return np.zeros(ids.shape + (3,)), state

    model = Recording()
    ll.sample(model, [0, 1], 5, rng=0)
    model.zero_grad()  # raises if a forward record was left behind
    model.forward(np.zeros((1, 1), dtype=int), None)
    with pytest.raises(RuntimeError, match="zero_grad: .* still holds 1 forward record"):
        model.zero_grad()  # the same forward outside sample does keep one


def test_sampling_a_model_between_training_steps():
    model = CharLM(V=5)
    ids = np.array([[0, 1], [2, 3], [4, 0]])
    logits, _ = model.forward(ids)
    ll.sample(model, [0, 1], 5, rng=0)  # between a forward and its backward
    model.backward(np.ones_like(logits))  # gets the training forward's record, not the sample's
    grads = {k: g.copy() for k, g in model.grads.items()}
    model.zero_grad()
    model.forward(ids)
    model.backward(np.ones_like(logits))
    for k in grads:
        np.testing.assert_array_equal(model.grads[k], grads[k])


def test_samples_text_through_a_vocab():
    vocab = Vocab("hello world")
    model = CharLM(V=len(vocab))
    ids = ll.sample(model, vocab.encode("he"), 20, temperature=0.7, rng=0)
    text = "".join(vocab.decode(ids))
    assert len(text) >= 20 and set(text) <= set(vocab.tokens) | set("<unk>")


@pytest.mark.parametrize("temperature, error", [
    (0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
    (float("inf"), ValueError), ("hot", TypeError), (True, TypeError),
])
def test_bad_temperature(temperature, error):
    with pytest.raises(error, match="temperature: expected"):
        ll.sample(FixedLogits([0.0, 1.0]), [0], 3, temperature=temperature)


@pytest.mark.parametrize("top_k, error, match", [
    (0, ValueError, "top_k: expected an integer >= 1, got 0"),
    (4, ValueError, r"top_k: expected None or an integer in \[1, V\] = \[1, 3\].*got 4"),
    (1.5, TypeError, "top_k: expected an integer"),
])
def test_bad_top_k(top_k, error, match):
    with pytest.raises(error, match=match):
        ll.sample(FixedLogits([0.0, 1.0, 2.0]), [0], 3, top_k=top_k)


@pytest.mark.parametrize("prime, error, match", [
    ([], ValueError, "prime_ids: expected a 1-D array of at least one id, got shape"),
    ([[0, 1]], ValueError, r"prime_ids: expected a 1-D array.*got shape \(1, 2\)"),
    ([0.5], TypeError, "prime_ids: expected an integer array"),
])
def test_bad_prime(prime, error, match):
    with pytest.raises(error, match=match):
        ll.sample(FixedLogits([0.0, 1.0]), prime, 3)


def test_bad_length():
    with pytest.raises(ValueError, match="length: expected an integer >= 0, got -1"):
        ll.sample(FixedLogits([0.0, 1.0]), [0], -1)


def test_models_that_do_not_follow_the_protocol():
    with pytest.raises(TypeError, match=r"model: expected an object with forward\(ids, state\).*"
                                        r"got str"):
        ll.sample("my model", [0], 3)

    class NoState:
        def forward(self, ids):
            return np.zeros(ids.shape + (3,))

    with pytest.raises(TypeError, match=r"model: expected forward\(ids, state\).*raised TypeError"):
        ll.sample(NoState(), [0], 3)

    class LogitsOnly:
        def forward(self, ids, state):
            return np.zeros(ids.shape + (3,))

    with pytest.raises(TypeError, match=r"to return \(logits of shape \(1, 1, V\), state\), "
                                        r"got a ndarray"):
        ll.sample(LogitsOnly(), [0], 3)

    class BatchMajor:
        def forward(self, ids, state):
            return np.zeros((ids.shape[1], ids.shape[0], 3)), state

    with pytest.raises(TypeError, match=r"\(logits of shape \(2, 1, V\), state\), got logits of "
                                        r"shape \(1, 2, 3\)"):
        ll.sample(BatchMajor(), [0, 1], 3)


def test_nan_logits_are_an_error():
    with pytest.raises(ValueError, match="model: returned logits with nan or inf"):
        ll.sample(FixedLogits([0.0, np.nan]), [0], 3)
