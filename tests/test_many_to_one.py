"""ManyToOne: a recurrent layer read out at each sequence's last step."""

import numpy as np
import pytest

import lstmlab as ll


def build(kind, seed=0, **options):
    rnn = {"RNN": ll.RNN, "LSTM": ll.LSTM, "GRU": ll.GRU}[kind](3, 5, rng=seed, **options)
    return ll.ManyToOne(rnn, 2, rng=seed)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_gradients_match_central_differences(kind, lengths):
    model = build(kind)
    x = np.random.default_rng(1).standard_normal((4, 3, 3))  # (T, N, D)

    def forward(x):
        return model.forward(x, lengths=lengths), None

    def backward(dy, _):
        return (model.backward(dy),)

    report = ll.check_gradients(forward, backward, (x,), ("x",), model.params, model.grads)
    assert set(report) == {"x", *model.params}
    assert report.max_error < 1e-6, report


def test_reads_each_sequence_at_its_own_last_step():
    model = build("LSTM")
    x = np.random.default_rng(2).standard_normal((4, 3, 3))
    with ll.no_grad():
        y = model.forward(x, lengths=[4, 2, 1])
        for n, length in enumerate([4, 2, 1]):  # the same answer from the sequence cut short
            alone = model.forward(x[:length, n : n + 1])
            np.testing.assert_allclose(y[n], alone[0], rtol=1e-12, atol=1e-12)
    # no gradient reaches the steps after a sequence's end
    y = model.forward(x, lengths=[4, 2, 1])
    dx = model.backward(np.ones_like(y))
    assert not dx[2:, 1].any() and not dx[1:, 2].any() and dx[3, 0].any()


def test_any_recurrent_part_and_the_head_width():
    cell = ll.RNNCell(2, 6, rng=0)
    model = ll.ManyToOne(ll.Recurrent(cell), 1, rng=0)
    assert model.params["head.W"].shape == (6, 1)
    bi = ll.ManyToOne(ll.GRU(2, 4, num_layers=2, bidirectional=True, rng=0), 3, rng=0)
    assert bi.params["head.W"].shape == (8, 3)
    proj = ll.ManyToOne(ll.LSTM(2, 6, proj_size=3, rng=0), 1, rng=0)
    assert proj.params["head.W"].shape == (3, 1)
    f32 = ll.ManyToOne(ll.LSTM(2, 4, dtype=np.float32, rng=0), 1, rng=0)
    assert f32.params["head.W"].dtype == np.float32
    assert f32.forward(np.ones((3, 2, 2), np.float32)).dtype == np.float32


def test_the_same_weights_give_the_same_model():
    a, b = build("GRU", seed=3), build("GRU", seed=3)
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    with ll.no_grad():
        np.testing.assert_array_equal(a.forward(x), b.forward(x))


def test_bad_input_is_named():
    model = build("RNN")
    with pytest.raises(ValueError, match=r"x: expected shape \(T, N, D\), got shape \(4, 3\)"):
        model.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"lengths: expected integers in \[1, T\] = \[1, 4\]"):
        model.forward(np.ones((4, 2, 3)), lengths=[4, 0])
    with pytest.raises(ValueError, match=r"lengths: expected shape \(N,\) = \(2,\)"):
        model.forward(np.ones((4, 2, 3)), lengths=[4])
    with pytest.raises(TypeError, match="rnn: expected a recurrent layer"):
        ll.ManyToOne(ll.Linear(3, 4), 1)
    with pytest.raises(RuntimeError, match="backward"):
        build("RNN").backward(np.ones((2, 2)))


def test_evaluation_under_no_grad_keeps_no_record():
    model = build("LSTM")
    with ll.no_grad():
        model.forward(np.ones((3, 2, 3)))
    model.zero_grad()  # would raise if a record were left
    model.forward(np.ones((3, 2, 3)))
    with pytest.raises(RuntimeError, match="zero_grad"):
        model.zero_grad()
