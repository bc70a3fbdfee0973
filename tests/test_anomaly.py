"""detect_anomaly: the first NaN or inf raises, naming the part, the tensor, the step and the
direction; the checks are off outside the block; check_finite and the optimizers' check."""

import numpy as np
import pytest

import lstmlab as ll

T, N, D, H = 50, 2, 3, 4


def test_nan_input_names_layer_direction_and_step():
    lstm = ll.LSTM(D, H, num_layers=2, bidirectional=True, rng=0)
    x = np.random.default_rng(0).standard_normal((T, N, D))
    x[37, 1, 2] = np.nan
    with ll.detect_anomaly():
        with pytest.raises(FloatingPointError,
                           match=r"^LSTM layers\.0\.fwd: x at t=37 is nan in forward"):
            lstm.forward(x)
    out, _ = lstm.forward(x)  # outside the block: no check, NaN spreads silently
    assert np.isnan(out).any()
    lstm.discard_saved()


def test_overflow_in_forward_names_the_step_of_h():
    rnn = ll.RNN(2, 3, nonlinearity="relu", bias=False, rng=0)
    rnn.params["layers.0.fwd.W_x"][...] = 1.0
    rnn.params["layers.0.fwd.W_h"][...] = 4.0 * np.eye(3)  # h_t = 4 h_{t-1} + ...: 4^512 = inf
    x = np.ones((600, 1, 2))
    with ll.detect_anomaly(), np.errstate(over="ignore"):
        with pytest.raises(FloatingPointError, match=r"^RNN layers\.0\.fwd: h at t=51\d is inf "
                                                     r"in forward"):
            rnn.forward(x)


def test_cell_state_c_is_checked():
    # |c| grows by at most 1 per step (c = f c_prev + i g), so a non-finite c comes from
    # its initial state; c is checked before h, which is computed from it
    rec = ll.Recurrent(ll.LSTMCell(1, 1, rng=0))
    s0 = ll.LSTMState(np.zeros((1, 1)), np.full((1, 1), np.inf))
    with ll.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(FloatingPointError,
                           match=r"^Recurrent: c at t=0 is (inf|nan) in forward"):
            rec.forward(np.zeros((2, 1, 1)), s0)


def test_exploding_gradient_names_the_step_in_backward():
    H_big = 32
    rnn = ll.RNN(1, H_big, rng=0)
    rng = np.random.default_rng(0)
    rnn.params["layers.0.fwd.W_h"][...] = 4.0 * rng.standard_normal((H_big, H_big)) / np.sqrt(H_big)
    xs = rng.standard_normal((3000, 2, 1))
    out, _ = rnn.forward(xs)
    assert np.isfinite(out).all()  # tanh: the forward is fine
    G = np.zeros_like(out)
    G[-1] = 1.0
    with ll.detect_anomaly(), np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(FloatingPointError, match=r"^RNN layers\.0\.fwd: dh at t=\d+ is inf "
                                                     r"in backward"):
            rnn.backward(G)


def test_linear_and_embedding_check_outputs_and_gradients():
    lin = ll.Linear(2, 2, rng=0)
    with ll.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"^Linear: y is nan in forward"):
            lin.forward(np.array([[np.nan, 1.0]]))
        lin.forward(np.ones((1, 2)))
        with pytest.raises(FloatingPointError, match=r"^Linear: dx is inf in backward"):
            lin.backward(np.array([[np.inf, 0.0]]))
    emb = ll.Embedding(3, 2, rng=0)
    emb.params["W"][2, 1] = np.inf
    model = ll.Model(embed=emb)
    with ll.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"^Model embed: x is inf in forward"):
            emb.forward(np.array([0, 2]))
        emb.forward(np.array([0, 1]))
        with pytest.raises(FloatingPointError, match=r"^Model embed: dW is nan in backward"):
            emb.backward(np.array([[np.nan, 0.0], [0.0, 0.0]]))
    model.zero_grad()


def test_finite_results_pass_and_are_unchanged():
    lstm = ll.LSTM(D, H, num_layers=2, rng=0)
    x = np.random.default_rng(1).standard_normal((T, N, D))
    out, _ = lstm.forward(x)
    dx, _ = lstm.backward(np.ones_like(out))
    with ll.detect_anomaly():
        out2, _ = lstm.forward(x)
        dx2, _ = lstm.backward(np.ones_like(out))
    assert np.array_equal(out, out2) and np.array_equal(dx, dx2)


def test_switches_are_restored_after_an_exception():
    with pytest.raises(KeyError):
        with ll.detect_anomaly(), ll.no_grad():
            assert ll.is_anomaly_enabled() and not ll.is_grad_enabled()
            raise KeyError("boom")
    assert not ll.is_anomaly_enabled() and ll.is_grad_enabled()


def test_no_grad_is_a_decorator_too():
    @ll.no_grad()
    def evaluate(layer, x):
        return layer.forward(x)

    lin = ll.Linear(2, 2, rng=0)
    evaluate(lin, np.ones((1, 2)))
    lin.zero_grad()  # nothing was kept


def test_check_finite_message_and_passthrough():
    a = np.ones((2, 3))
    assert ll.check_finite("Part", "h", a, "forward") is a
    a[1, 2] = -np.inf
    with pytest.raises(FloatingPointError,
                       match=r"^Part: h at t=4 is -inf in backward \(1 of 6 values are not "
                             r"finite, the first at index \(1, 2\)\)$"):
        ll.check_finite("Part", "h", a, "backward", t=4)


def test_optimizer_refuses_non_finite_gradients():
    lin = ll.Linear(2, 2, rng=0)
    W = lin.params["W"].copy()
    opt = ll.Adam(lin.params, lin.grads, lr=0.1, check_finite=True)
    lin.grads["W"][0, 0] = np.nan
    with pytest.raises(FloatingPointError, match=r"Adam: grads\['W'\] is nan in step"):
        opt.step()
    assert np.array_equal(lin.params["W"], W)  # nothing was written
    plain = ll.SGD(lin.params, lin.grads, lr=0.1)
    with ll.detect_anomaly():  # inside detect_anomaly every optimizer checks
        with pytest.raises(FloatingPointError, match=r"SGD: grads\['W'\] is nan in step"):
            plain.step()
    assert np.array_equal(lin.params["W"], W)
