"""greedy_decode and beam_search: against hand loops, brute force, and each other."""

import itertools

import numpy as np
import pytest

import lstmlab as ll
from lstmlab.decoding import reorder_state

V, E, H = 5, 3, 4
END = 4


class Decoder:
    """Embedding -> LSTM -> Linear; its state is the LSTM's."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.embed = ll.Embedding(V, E, rng=rng)
        self.lstm = ll.LSTM(E, H, rng=rng)
        self.head = ll.Linear(H, V, rng=rng)
        self.head.params["W"] *= 4.0  # peaked distributions: decoding choices matter

    def forward(self, ids, state):
        hs, state = self.lstm.forward(self.embed.forward(ids), state)
        return self.head.forward(hs), state


class AttentionDecoder(Decoder):
    """Luong-style: its state is (LSTM state, encoder outputs, encoder lengths)."""

    def __init__(self, seed=0):
        super().__init__(seed)
        rng = np.random.default_rng(seed + 100)
        self.attn = ll.Attention(H, score="general", rng=rng)
        self.head = ll.Linear(2 * H, V, rng=rng)
        self.head.params["W"] *= 4.0

    def forward(self, ids, state):
        lstm_state, keys, lengths = state
        hs, lstm_state = self.lstm.forward(self.embed.forward(ids), lstm_state)
        context, _ = self.attn.forward(hs, keys, lengths)
        logits = self.head.forward(np.concatenate([context, hs], axis=-1))
        return logits, (lstm_state, keys, lengths)


def lstm_state(N, seed=1):
    rng = np.random.default_rng(seed)
    return ll.LSTMState(rng.standard_normal((1, N, H)), rng.standard_normal((1, N, H)))


def attention_state(N, seed=1):
    keys = np.random.default_rng(seed + 1).standard_normal((6, N, H))
    lengths = np.arange(N) % 6 + 1
    return lstm_state(N, seed), keys, lengths


MODELS = [(Decoder, lstm_state), (AttentionDecoder, attention_state)]


def log_prob(decoder, state, start, ids):
    """Teacher forcing: log p(ids) under the decoder, one total per example (T, N) -> (N,)."""
    T, N = ids.shape
    inputs = np.concatenate([np.full((1, N), start), ids[:-1]])
    with ll.no_grad():
        logits, _ = decoder.forward(inputs, state)
    logp = ll.log_softmax(logits)
    return np.take_along_axis(logp, ids[:, :, None], axis=2)[:, :, 0].sum(axis=0)


def test_greedy_equals_a_hand_written_loop():
    dec, state = Decoder(), lstm_state(3)
    ids = ll.greedy_decode(dec, state, start_id=0, length=6)
    token, s, want = np.zeros((1, 3), dtype=int), state, []
    for _ in range(6):
        logits, s = dec.forward(token, s)
        token = logits.argmax(axis=-1)
        want.append(token[0])
    np.testing.assert_array_equal(ids, np.array(want))
    assert ids.shape == (6, 3) and ids.dtype.kind == "i"


@pytest.mark.parametrize("make, state", MODELS)
def test_greedy_output_is_the_argmax_of_its_own_teacher_forced_logits(make, state):
    dec, s = make(), state(4)
    ids = ll.greedy_decode(dec, s, start_id=0, length=7)
    inputs = np.concatenate([np.zeros((1, 4), dtype=int), ids[:-1]])
    with ll.no_grad():
        logits, _ = dec.forward(inputs, s)
    np.testing.assert_array_equal(logits.argmax(axis=-1), ids)


def test_greedy_end_id_pads_and_stops_early():
    def count_up(ids, state):
        return 5.0 * np.eye(4)[(ids + 1) % 4], state

    ids = ll.greedy_decode(count_up, None, start_id=np.array([0, 2, 1]), length=9, end_id=3)
    assert ids.T.tolist() == [[1, 2, 3], [3, 3, 3], [2, 3, 3]]
    assert ll.greedy_decode(count_up, None, start_id=0, length=0).shape == (0, 1)


@pytest.mark.parametrize("end_id", [None, END])
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("make, state", MODELS)
def test_beam_width_one_is_greedy(make, state, end_id, length_penalty):
    dec, s = make(seed=3), state(5)
    greedy = ll.greedy_decode(dec, s, start_id=0, length=8, end_id=end_id)
    ids, scores = ll.beam_search(dec, s, start_id=0, length=8, beam_width=1, end_id=end_id,
                                 length_penalty=length_penalty)
    np.testing.assert_array_equal(ids, greedy)
    assert scores.shape == (5,)


def test_beam_without_pruning_finds_the_most_likely_sequence():
    """k = V^T keeps every hypothesis: the best must be the brute-force argmax."""
    dec, s, T = Decoder(seed=4), lstm_state(2, seed=5), 3
    ids, scores = ll.beam_search(dec, s, start_id=0, length=T, beam_width=V**T)
    everything = np.array(list(itertools.product(range(V), repeat=T))).T  # (T, V^T)
    for n in range(2):
        sn = reorder_state(s, np.full(everything.shape[1], n))
        lp = log_prob(dec, sn, 0, everything)
        np.testing.assert_array_equal(ids[:, n], everything[:, lp.argmax()])
        np.testing.assert_allclose(scores[n], lp.max(), rtol=1e-10)


@pytest.mark.parametrize("length_penalty", [0.0, 0.7])
def test_beam_score_is_the_normalised_log_probability_of_its_sequence(length_penalty):
    dec, s = AttentionDecoder(seed=6), attention_state(3, seed=7)
    ids, scores = ll.beam_search(dec, s, start_id=0, length=6, beam_width=3, end_id=END,
                                 length_penalty=length_penalty)
    for n in range(3):
        seq = ids[:, n]
        L = int(np.argmax(seq == END)) + 1 if (seq == END).any() else len(seq)
        lp = log_prob(dec, reorder_state(s, np.array([n])), 0, seq[:L, None])
        np.testing.assert_allclose(scores[n], lp[0] / L**length_penalty, rtol=1e-10)
        assert (seq[L:] == END).all()


def test_beam_on_a_batch_equals_beam_on_each_example_alone():
    """Re-indexing the state (and the attention memory in it) never mixes examples."""
    dec, s = AttentionDecoder(seed=8), attention_state(4, seed=9)
    ids, scores = ll.beam_search(dec, s, start_id=0, length=6, beam_width=3, end_id=END)
    for n in range(4):
        one, score = ll.beam_search(dec, reorder_state(s, np.array([n])), start_id=0, length=6,
                                    beam_width=3, end_id=END)
        L = one.shape[0]
        np.testing.assert_array_equal(ids[:L, n], one[:, 0])
        assert (ids[L:, n] == END).all()
        np.testing.assert_allclose(scores[n], score[0], rtol=1e-12)


def test_beam_search_beats_greedy_where_greedy_is_short_sighted():
    P = np.array([[0.0, 0.6, 0.4, 0.0], [0.0, 0.45, 0.0, 0.55], [0.0, 0.0, 0.1, 0.9],
                  [0.0, 0.0, 0.0, 1.0]]) + 1e-12

    def table(ids, state):
        return np.log(P[ids]), state

    assert ll.greedy_decode(table, None, 0, length=4, end_id=3).ravel().tolist() == [1, 3]
    ids, scores = ll.beam_search(table, None, 0, length=4, beam_width=2, end_id=3)
    assert ids.ravel().tolist() == [2, 3]
    np.testing.assert_allclose(np.exp(scores), [0.36])


def test_decoding_keeps_no_forward_records():
    dec = AttentionDecoder()
    ll.greedy_decode(dec, attention_state(2), start_id=0, length=3)
    ll.beam_search(dec, attention_state(2), start_id=0, length=3, beam_width=2)
    for layer in (dec.attn, dec.head):
        with pytest.raises(RuntimeError, match="backward"):
            layer.backward(np.zeros((1, 2, H)))


def test_a_decoder_may_bring_its_own_reorder_state():
    class BatchFirst:
        """State h of shape (N, H): the batch is on axis 0, not the default axis 1."""

        reordered = 0

        def forward(self, ids, h):
            return np.stack([h[:, :V]] * ids.shape[0]), h + 1.0

        def reorder_state(self, h, index):
            self.reordered += 1
            return h[index]

    dec = BatchFirst()
    h = np.random.default_rng(0).standard_normal((3, 6))
    ids, _ = ll.beam_search(dec, h, start_id=np.zeros(3, dtype=int), length=2, beam_width=2)
    assert ids.shape == (2, 3) and dec.reordered == 3  # the expansion and one per step


def test_reorder_state_follows_nested_tuples():
    s = attention_state(3)
    r = reorder_state(s, np.array([2, 0, 0]))
    np.testing.assert_array_equal(r[0].c[:, 1], s[0].c[:, 0])
    np.testing.assert_array_equal(r[1][:, 0], s[1][:, 2])
    assert r[2].tolist() == [3, 1, 1] and isinstance(r[0], ll.LSTMState)
    with pytest.raises(TypeError, match="state: expected None, an ndarray or a"):
        reorder_state([np.zeros((1, 3, 2))], np.array([0]))


def good(ids, state):
    return np.zeros((ids.shape[0], ids.shape[1], 3)), state


@pytest.mark.parametrize("call, error, message", [
    (lambda: ll.greedy_decode(object(), None, 0, 3), TypeError,
     r"decoder: expected an object with forward\(ids, state\)"),
    (lambda: ll.greedy_decode(lambda ids, s: ids, None, 0, 3), ValueError,
     r"decoder: expected forward\(ids of shape \(1, 1\), state\) to return .*got a ndarray"),
    (lambda: ll.beam_search(lambda ids, s: (np.zeros((1, 2, 3)), s), None, 0, 3), ValueError,
     r"logits of shape \(1, 4, V\).*got logits of shape \(1, 2, 3\)"),
    (lambda: ll.greedy_decode(good, None, 0, -1), ValueError, r"length: expected an integer >= 0"),
    (lambda: ll.beam_search(good, None, 0, 3, beam_width=0), ValueError,
     r"beam_width: expected an integer >= 1, got 0"),
    (lambda: ll.beam_search(good, None, 0, 3, length_penalty=-1.0), ValueError,
     r"length_penalty: expected a finite number >= 0"),
    (lambda: ll.greedy_decode(good, None, 0, 3, end_id=3), ValueError,
     r"end_id: expected an id in \[0, 3\).*got 3"),
    (lambda: ll.beam_search(good, None, 0, 3, end_id=-1), ValueError, r"end_id: expected an id"),
    (lambda: ll.greedy_decode(good, None, np.zeros((1, 2), dtype=int), 3), ValueError,
     r"start_id: expected an int or an int array of shape \(N,\), got \(1, 2\)"),
    (lambda: ll.greedy_decode(good, None, 0.5, 3), TypeError, r"start_id: expected an integer"),
])
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
