"""lstmlab.data: Vocab, bptt_batches, pad_sequences, minibatches, train_val_split."""

import json

import numpy as np
import pytest

import lstmlab as ll
from lstmlab.data import Vocab, bptt_batches, minibatches, pad_sequences, train_val_split

# ---------------------------------------------------------------- Vocab


def test_vocab_order_specials_then_frequency_then_first_appearance():
    vocab = Vocab(["b", "a", "c", "a", "b", "d", "a"], specials=("<pad>", "<unk>"))
    # a: 3, b: 2, then c and d once each, c first
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert vocab.unk_id == 1 and vocab.specials == ["<pad>", "<unk>"]


def test_vocab_is_stable_across_builds():
    text = "the quick brown fox jumps over the lazy dog " * 3
    assert Vocab(text).tokens == Vocab(text).tokens


def test_vocab_min_freq_leaves_rare_tokens_to_unk():
    vocab = Vocab("aaab", min_freq=2)
    assert vocab.tokens == ["<unk>", "a"]
    assert vocab.encode("ab").tolist() == [1, 0]


def test_vocab_special_in_corpus_is_not_duplicated():
    vocab = Vocab(["<unk>", "x", "x"])
    assert vocab.tokens == ["<unk>", "x"]


def test_vocab_encode_decode_round_trip():
    text = "hello, world"
    vocab = Vocab(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert "".join(vocab.decode(ids)) == text
    assert vocab.decode(np.array(ids)) == list(text)


def test_vocab_unknown_maps_to_unk():
    vocab = Vocab("abc")
    assert vocab.encode("az").tolist() == [vocab["a"], vocab.unk_id]
    assert vocab["zzz"] == vocab.unk_id
    assert "a" in vocab and "z" not in vocab


def test_vocab_without_unk_refuses_unknown_token():
    vocab = Vocab("abc", specials=())
    assert vocab.unk_id is None
    with pytest.raises(ValueError, match=r"tokens: 'z' is not in the vocabulary.*specials"):
        vocab.encode("az")


def test_vocab_encode_empty():
    assert Vocab("ab").encode("").shape == (0,)


@pytest.mark.parametrize("corpus", ["", [], iter([])])
def test_vocab_empty_corpus_is_an_error(corpus):
    with pytest.raises(ValueError, match="tokens: expected at least one token, got an empty"):
        Vocab(corpus)


def test_vocab_bad_arguments():
    with pytest.raises(TypeError, match="tokens: expected str tokens, got int"):
        Vocab([1, 2])
    with pytest.raises(TypeError, match="specials: expected a sequence of str"):
        Vocab("ab", specials="<unk>")
    with pytest.raises(ValueError, match="specials: expected distinct"):
        Vocab("ab", specials=("<unk>", "<unk>"))
    with pytest.raises(ValueError, match="min_freq: expected an integer >= 1, got 0"):
        Vocab("ab", min_freq=0)


def test_vocab_decode_refuses_out_of_range_and_2d():
    vocab = Vocab("ab")
    with pytest.raises(ValueError, match=r"ids: expected ids in \[0, 3\).*got 3"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="ids: expected a 1-D array"):
        vocab.decode([[0, 1]])
    with pytest.raises(TypeError, match="ids: expected an integer array"):
        vocab.decode([0.0])


def test_vocab_to_dict_is_plain_json_and_round_trips():
    vocab = Vocab("the cat sat on the mat".split(), specials=("<pad>", "<unk>"))
    text = json.dumps(vocab.to_dict())
    loaded = Vocab.from_dict(json.loads(text))
    assert loaded == vocab
    assert loaded.unk_id == vocab.unk_id
    assert loaded.encode(["the", "dog"]).tolist() == vocab.encode(["the", "dog"]).tolist()


def test_vocab_from_dict_refuses_bad_data():
    with pytest.raises(ValueError, match="data: expected a dict with 'tokens' and 'specials'"):
        Vocab.from_dict({"tokens": ["a"]})
    with pytest.raises(ValueError, match="data: expected format 1, got 2"):
        Vocab.from_dict({"format": 2, "tokens": ["a"], "specials": []})
    with pytest.raises(ValueError, match="distinct tokens that start with the specials"):
        Vocab.from_dict({"tokens": ["a", "<unk>"], "specials": ["<unk>"]})
    with pytest.raises(TypeError, match=r"data\['tokens'\]: expected str tokens"):
        Vocab.from_dict({"tokens": [1], "specials": []})


def test_vocab_saves_with_the_model(tmp_path):
    vocab = Vocab("hello world")
    model = ll.Embedding(len(vocab), 3, rng=0)
    path = tmp_path / "model.npz"
    ll.save(model, path, extra={"vocab": vocab.to_dict()})
    loaded = Vocab.from_dict(ll.load_extra(path)["vocab"])  # before the model: it sizes it
    model2 = ll.Embedding(len(loaded), 3, rng=1)
    ll.load(model2, path)
    ids = loaded.encode("world")
    with ll.no_grad():
        np.testing.assert_array_equal(model2.forward(ids[:, None]), model.forward(ids[:, None]))


def test_data_is_reachable_as_ll_data():
    assert ll.data.Vocab is Vocab


# ---------------------------------------------------------------- bptt_batches


def test_bptt_batches_shapes_and_targets():
    ids = np.arange(103)
    chunks = list(bptt_batches(ids, batch_size=4, seq_len=7))
    L = 103 // 4  # 25 ids per stream, 24 (x, y) steps: 3 chunks of 7 and one of 3
    assert [x.shape for x, _ in chunks] == [(7, 4)] * 3 + [(3, 4)]
    for x, y in chunks:
        assert x.dtype == np.int64 and y.shape == x.shape
        np.testing.assert_array_equal(y, x + 1)  # y is the next id
    np.testing.assert_array_equal(chunks[0][0][0], [0, L, 2 * L, 3 * L])


def test_bptt_batch_k_plus_1_continues_each_stream():
    ids = np.random.default_rng(0).integers(0, 50, size=200)
    batches = bptt_batches(ids, batch_size=3, seq_len=5)
    xs = np.concatenate([x for x, _ in batches])  # (L - 1, N): each stream read in full
    ys = np.concatenate([y for _, y in batches])
    L = 200 // 3
    for n in range(3):
        stream = ids[n * L : (n + 1) * L]
        np.testing.assert_array_equal(xs[:, n], stream[:-1])
        np.testing.assert_array_equal(ys[:, n], stream[1:])


def test_bptt_batches_len_and_reiteration():
    batches = bptt_batches(np.arange(50), batch_size=2, seq_len=6)  # L = 25, 24 steps
    assert len(batches) == 4 == len(list(batches)) == len(list(batches))
    batches = bptt_batches(np.arange(52), batch_size=2, seq_len=6)  # 25 steps: 4 + a short one
    assert len(batches) == 5 and list(batches)[-1][0].shape == (1, 2)


def test_bptt_batches_copies_out_of_the_caller_array():
    ids = np.arange(20)
    x, _ = next(iter(bptt_batches(ids, 2, 3)))
    ids[:] = -1
    assert x[0, 0] == 0


def test_bptt_batches_largest_allowed_sizes():
    x, y = next(iter(bptt_batches(np.arange(10), batch_size=5, seq_len=1)))
    assert x.shape == (1, 5)
    (x, y), = list(bptt_batches(np.arange(10), batch_size=1, seq_len=9))
    assert x.ravel().tolist() == list(range(9))


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0, "seq_len": 3}, r"batch_size: expected an integer >= 1, got 0"),
    ({"batch_size": 6, "seq_len": 1}, r"batch_size: expected an integer in \[1, 5\].*got 6"),
    ({"batch_size": 2, "seq_len": 0}, r"seq_len: expected an integer >= 1, got 0"),
    ({"batch_size": 2, "seq_len": 5}, r"seq_len: expected an integer in \[1, 4\].*got 5"),
])
def test_bptt_batches_refuses_sizes_the_data_cannot_give(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bptt_batches(np.arange(10), **kwargs)  # raised at the call, not at the first next()


@pytest.mark.parametrize("ids, error, match", [
    ([], ValueError, "ids: expected at least 2 ids.*got 0: an empty corpus"),
    ([3], ValueError, "ids: expected at least 2 ids.*got 1"),
    (np.zeros((4, 2), dtype=int), ValueError, "ids: expected a 1-D array"),
    (np.zeros(4), TypeError, "ids: expected an integer array"),
])
def test_bptt_batches_refuses_bad_ids(ids, error, match):
    with pytest.raises(error, match=match):
        bptt_batches(ids, 1, 1)


def test_bptt_carried_state_equals_one_long_forward():
    """The point of the streams: chunked forwards with a carried state see the whole text."""
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 6, size=40)
    embed, rnn = ll.Embedding(6, 3, rng=0), ll.LSTM(3, 4, rng=0)
    batches = bptt_batches(ids, batch_size=2, seq_len=4)
    state, outs = None, []
    for x, _ in batches:
        hs, state = rnn.forward(embed.forward(x), state)
        outs.append(hs)
    streams = np.concatenate([x for x, _ in batches])
    full, _ = rnn.forward(embed.forward(streams))
    np.testing.assert_allclose(np.concatenate(outs), full, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- pad_sequences


def test_pad_sequences_time_major_and_batch_first():
    seqs = [[1, 2, 3], [4], np.array([5, 6])]
    padded, lengths = pad_sequences(seqs, pad_value=-1)
    assert padded.shape == (3, 3) and padded.dtype == np.int64
    assert padded.T.tolist() == [[1, 2, 3], [4, -1, -1], [5, 6, -1]]
    assert lengths.tolist() == [3, 1, 2] and lengths.dtype == np.int64
    bf, lengths2 = pad_sequences(seqs, pad_value=-1, batch_first=True)
    np.testing.assert_array_equal(bf, padded.T)
    np.testing.assert_array_equal(lengths2, lengths)


def test_pad_sequences_feature_vectors_and_empty_sequences():
    seqs = [np.ones((2, 3)), np.zeros((0, 3)), 2 * np.ones((1, 3))]
    padded, lengths = pad_sequences(seqs)
    assert padded.shape == (2, 3, 3) and padded.dtype == np.float64
    assert lengths.tolist() == [2, 0, 1]
    assert padded[:, 1].sum() == 0 and padded[1, 2].sum() == 0 and padded[0, 2].sum() == 6


def test_pad_sequences_feeds_a_layer_with_lengths_and_ignore_index():
    padded, lengths = pad_sequences([[1, 2, 3], [4, 5]], pad_value=0)
    embed = ll.Embedding(6, 3, padding_idx=0, rng=0)
    hs, _ = ll.GRU(3, 2, rng=0).forward(embed.forward(padded), lengths=lengths)
    assert hs.shape == (3, 2, 2)
    loss, _ = ll.cross_entropy(np.zeros((3, 2, 6)), padded, ignore_index=0)
    assert loss == pytest.approx(np.log(6))


def test_pad_sequences_bad_input():
    with pytest.raises(ValueError, match="seqs: expected at least one sequence, got an empty"):
        pad_sequences([])
    with pytest.raises(TypeError, match="seqs: expected a list of sequences"):
        pad_sequences("abc")
    with pytest.raises(ValueError, match=r"seqs\[1\]: expected shape"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match=r"seqs\[0\]: expected shape"):
        pad_sequences([3, 4])


# ---------------------------------------------------------------- minibatches


def test_minibatches_cover_every_index_once():
    idx = list(minibatches(10, 3, rng=0))
    assert [len(i) for i in idx] == [3, 3, 3, 1]
    assert sorted(np.concatenate(idx).tolist()) == list(range(10))


def test_minibatches_seeded_and_new_order_each_epoch():
    a = [i.tolist() for i in minibatches(20, 4, rng=7)]
    b = [i.tolist() for i in minibatches(20, 4, rng=7)]
    assert a == b
    rng = np.random.default_rng(7)
    epoch1 = [i.tolist() for i in minibatches(20, 4, rng)]
    epoch2 = [i.tolist() for i in minibatches(20, 4, rng)]
    assert epoch1 == a and epoch2 != epoch1


def test_minibatches_in_order_and_drop_last():
    assert [i.tolist() for i in minibatches(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    assert [len(i) for i in minibatches(5, 2, rng=0, drop_last=True)] == [2, 2]


def test_minibatches_bad_sizes_raise_at_the_call():
    with pytest.raises(ValueError, match=r"batch_size: expected an integer in \[1, 5\].*got 6"):
        minibatches(5, 6)
    with pytest.raises(ValueError, match="n: expected an integer >= 1, got 0"):
        minibatches(0, 1)
    with pytest.raises(TypeError, match="rng: expected None, an int seed"):
        minibatches(5, 2, rng="seed")


# ---------------------------------------------------------------- train_val_split


def test_train_val_split_sizes_order_and_seed():
    items = list(range(100))
    train, val = train_val_split(items, 0.1, rng=3)
    assert len(val) == 10 and len(train) == 90
    assert sorted(train + val) == items
    assert train == sorted(train) and val == sorted(val)  # original order kept
    assert train_val_split(items, 0.1, rng=3) == (train, val)
    assert train_val_split(items, 0.1, rng=4)[1] != val


def test_train_val_split_arrays_and_tuples():
    x = np.arange(20).reshape(10, 2)
    train, val = train_val_split(x, 0.3, rng=0)
    assert train.shape == (7, 2) and val.shape == (3, 2)
    train, val = train_val_split(("a", "b", "c"), 0.01, rng=0)
    assert len(val) == 1 and len(train) == 2  # at least one on each side


@pytest.mark.parametrize("items, frac, error, match", [
    (["a"], 0.5, ValueError, "items: expected at least 2 items"),
    ([], 0.5, ValueError, "items: expected at least 2 items"),
    ("some text", 0.5, TypeError, "items: expected a list of examples, got a str"),
    ({1, 2}, 0.5, TypeError, "items: expected a list, tuple or ndarray, got set"),
    ([1, 2], 0.0, ValueError, r"val_fraction: expected a value in \(0, 1\), got 0.0"),
    ([1, 2], 1.0, ValueError, r"val_fraction: expected a value in \(0, 1\), got 1.0"),
    ([1, 2], 1.5, ValueError, r"val_fraction: expected a value in \[0.0, 1.0\], got 1.5"),
])
def test_train_val_split_bad_input(items, frac, error, match):
    with pytest.raises(error, match=match):
        train_val_split(items, frac, rng=0)
