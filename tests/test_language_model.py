"""LanguageModel: Embedding -> RNN/LSTM/GRU -> Linear, with truncated BPTT and dropout."""

import numpy as np
import pytest

import lstmlab as ll


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gradients_match_central_differences(cell):
    model = ll.LanguageModel(7, 3, 4, num_layers=2, cell=cell, rng=0)
    ids = np.random.default_rng(1).integers(0, 7, size=(4, 2))  # (T, N)
    state = None if cell == "rnn" else model.forward(ids[:2])[1]  # a carried state
    model.discard_saved()

    def forward(ids):
        return model.forward(ids, state)[0], None

    def backward(dlogits, _):
        model.backward(dlogits)
        return (None,)

    report = ll.check_gradients(forward, backward, (ids,), ("ids",), model.params, model.grads)
    assert set(report) == set(model.params)
    assert report.max_error < 1e-6, report


def test_it_is_the_layers_it_is_made_of():
    model = ll.LanguageModel(6, 3, 5, cell="gru", rng=0)
    ids = np.array([[0, 5], [2, 1], [3, 3]])
    with ll.no_grad():
        logits, h_n = model.forward(ids)
        hs, _ = model.rnn.forward(model.embed.forward(ids))
        np.testing.assert_array_equal(logits, model.head.forward(hs))
    assert logits.shape == (3, 2, 6) and h_n.shape == (1, 2, 5)


def test_dropout_only_in_training():
    model = ll.LanguageModel(6, 4, 8, dropout=0.5, rng=0)
    ids = np.array([[1, 2], [3, 4]])
    with ll.no_grad():
        a, b = model.forward(ids)[0], model.forward(ids)[0]  # two masks
        model.eval()
        c, d = model.forward(ids)[0], model.forward(ids)[0]
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(c, d)
    model.train()
    logits, _ = model.forward(ids)
    model.backward(np.ones_like(logits))  # each Dropout backpropagates its own mask
    model.zero_grad()


def test_sampling_follows_the_protocol_and_options_reach_the_layer():
    model = ll.LanguageModel(5, 2, 3, rng=0, forget_bias=1.0)
    assert model.rnn.layers[0][0].cell.forget_bias == 1.0
    ids = ll.sample(model, [1, 2, 3], 6, rng=0)
    assert ids.shape == (6,) and ((0 <= ids) & (ids < 5)).all()
    np.testing.assert_array_equal(ids, ll.sample(model, [1, 2, 3], 6, rng=0))
    model.zero_grad()  # sampling kept no record


def test_float32_and_bad_cell():
    model = ll.LanguageModel(5, 2, 3, dtype=np.float32, rng=0)
    assert model.forward(np.array([[1]]))[0].dtype == np.float32
    with pytest.raises(ValueError, match=r"cell: expected one of \['gru', 'lstm', 'rnn'\], got"):
        ll.LanguageModel(5, 2, 3, cell="LSTM")


def test_evaluate_is_the_mean_loss_over_chunks_with_the_state_carried():
    model = ll.LanguageModel(6, 3, 4, rng=0)
    ids = np.random.default_rng(0).integers(0, 6, size=41)
    with ll.no_grad():  # one chunk of all 40 steps: the same predictions
        logits, _ = model.forward(ids[:-1, None])
    whole, _ = ll.cross_entropy(logits, ids[1:, None])
    assert model.evaluate(ids, batch_size=1, seq_len=7) == pytest.approx(whole, rel=1e-12)
    model.zero_grad()  # evaluation kept no record
    with pytest.raises(ValueError, match="seq_len"):
        model.evaluate(ids, batch_size=4, seq_len=11)
