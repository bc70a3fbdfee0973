"""Seq2Seq: gradient checks of the whole encoder-decoder, with and without attention."""

import numpy as np
import pytest

import lstmlab as ll

V_IN, V_OUT, E, H = 6, 5, 3, 4


def data(seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(1, V_IN, size=(5, 3))
    lengths = np.array([5, 2, 4])
    src[2:, 1] = 0
    src[4:, 2] = 0
    ids = rng.integers(0, V_OUT, size=(4, 3))
    return src, lengths, ids


@pytest.mark.parametrize("attention", [None, "dot", "general", "additive"])
def test_gradient_check_every_parameter_through_both_lstms(attention):
    model = ll.Seq2Seq(V_IN, V_OUT, E, H, attention=attention, padding_idx=0, rng=1)
    src, lengths, ids = data()

    def forward():
        return model.forward(src, lengths, ids), None

    def backward(dlogits, _):
        model.backward(dlogits)
        return ()

    report = ll.check_gradients(forward, backward, (), (), model.params, model.grads)
    assert set(report) == set(model.params)
    report.assert_ok(1e-6)


def test_padding_does_not_change_an_example():
    """Example 1 padded to T_in = 5 decodes exactly as it does alone (T_in = 2)."""
    model = ll.Seq2Seq(V_IN, V_OUT, E, H, attention="additive", padding_idx=0, rng=2)
    src, lengths, ids = data(seed=3)
    with ll.no_grad():
        batch = model.forward(src, lengths, ids)
        alone = model.forward(src[:2, 1:2], lengths[1:2], ids[:, 1:2])
    np.testing.assert_allclose(batch[:, 1:2], alone, rtol=1e-12, atol=1e-12)


def test_decoding_protocol_and_attention_weights():
    model = ll.Seq2Seq(V_IN, V_OUT, E, H, attention="dot", padding_idx=0, rng=4)
    src, lengths, _ = data()
    with ll.no_grad():
        state = model.encode(src, lengths)
    greedy = ll.greedy_decode(model.decode, state, start_id=0, length=6)
    ids, _ = ll.beam_search(model.decode, state, start_id=0, length=6, beam_width=1)
    np.testing.assert_array_equal(ids, greedy)
    w = model.attention_weights(src, lengths, np.concatenate([np.zeros((1, 3), int), greedy]))
    assert w.shape == (7, 3, 5)
    assert (w[:, 1, 2:] == 0).all()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0)
    with pytest.raises(ValueError, match="attention=None"):
        ll.Seq2Seq(V_IN, V_OUT, E, H).attention_weights(src, lengths, greedy)


def test_repr_and_parts():
    model = ll.Seq2Seq(V_IN, V_OUT, E, H, attention="general")
    assert repr(model) == "Seq2Seq(6, 5, embed_size=3, hidden_size=4, attention='general')"
    assert model.params["head.W"].shape == (2 * H, V_OUT)
    assert "attention.W" in model.params
    assert ll.Seq2Seq(V_IN, V_OUT, E, H).params["head.W"].shape == (H, V_OUT)
