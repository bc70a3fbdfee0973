"""One part used several times in a forward, and everything a caller may do between a
forward and its backward: exact gradients (numerical checks, float64) or a clear error."""

import numpy as np
import pytest

import lstmlab as ll

T, N, D, H = 4, 2, 3, 5
LAYERS = {
    "rnn": lambda **kw: ll.RNN(D, H, **kw),
    "lstm": lambda **kw: ll.LSTM(D, H, **kw),
    "gru": lambda **kw: ll.GRU(D, H, **kw),
}


def quiet(loss):
    """``loss`` as a function of the perturbed array, its forwards under no_grad."""

    def f(_):
        with ll.no_grad():
            return loss()

    return f


def numerical(loss, params):
    """Central differences of ``loss()`` for every parameter; the forwards keep no records."""
    return {k: ll.numerical_gradient(quiet(loss), p) for k, p in params.items()}


def assert_grads_match(grads, want, tol=1e-7):
    for k in want:
        assert ll.rel_error(grads[k], want[k]) < tol, k


def assert_no_records(*modules):
    for module in modules:
        for name, part in module.modules():
            assert not part._records, f"{name or type(module).__name__} still holds records"


# -- one part, several uses ----------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_siamese_encoder_gets_exact_gradients(kind):
    enc = LAYERS[kind](num_layers=2, bidirectional=True, rng=0)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((T, N, D)), rng.standard_normal((T + 2, N, D))
    Ga, Gb = rng.standard_normal((T, N, 2 * H)), rng.standard_normal((T + 2, N, 2 * H))

    def loss():
        return float((enc.forward(a)[0] * Ga).sum() + (enc.forward(b)[0] * Gb).sum())

    enc.zero_grad()
    enc.forward(a)
    enc.forward(b)
    db, _ = enc.backward(Gb)  # reverse order: the last forward first
    da, _ = enc.backward(Ga)
    assert_grads_match(enc.grads, numerical(loss, enc.params))
    for x, dx, name in ((a, da, "a"), (b, db, "b")):
        num = ll.numerical_gradient(quiet(loss), x)
        assert ll.rel_error(dx, num) < 1e-7, name
    assert_no_records(enc)


def test_siamese_lstm_through_the_final_state():
    enc = ll.LSTM(D, H, rng=0)
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((T, N, D)), rng.standard_normal((T, N, D))

    def loss():
        ha = enc.forward(a)[1].h[-1]
        hb = enc.forward(b)[1].h[-1]
        return float(((ha - hb) ** 2).sum())

    enc.zero_grad()
    ha = enc.forward(a)[1].h[-1]
    hb = enc.forward(b)[1].h[-1]
    diff, zeros = ha - hb, np.zeros((1, N, H))
    enc.backward(None, ll.LSTMState(-2 * diff[None], zeros))
    enc.backward(None, ll.LSTMState(2 * diff[None], zeros))
    assert_grads_match(enc.grads, numerical(loss, enc.params))


def test_linear_applied_twice():
    lin = ll.Linear(D, D, rng=0)
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((4, D)), rng.standard_normal((2, 3, D))
    G1, G2, G3 = (rng.standard_normal(s) for s in ((4, D), (2, 3, D), (4, D)))

    def loss():  # two inputs, and one composition lin(lin(x1))
        return float((lin.forward(x1) * G1).sum() + (lin.forward(x2) * G2).sum()
                     + (lin.forward(lin.forward(x1)) * G3).sum())

    lin.zero_grad()
    lin.forward(x1)
    lin.forward(x2)
    inner = lin.forward(x1)
    lin.forward(inner)
    lin.backward(lin.backward(G3))
    lin.backward(G2)
    lin.backward(G1)
    assert_grads_match(lin.grads, numerical(loss, lin.params))
    assert_no_records(lin)


def test_embedding_used_twice():
    emb = ll.Embedding(6, D, rng=0)
    ids1, ids2 = np.array([[1, 2], [2, 5]]), np.array([5, 0, 1])
    rng = np.random.default_rng(4)
    G1, G2 = rng.standard_normal((2, 2, D)), rng.standard_normal((3, D))

    def loss():
        return float((emb.forward(ids1) * G1).sum() + (emb.forward(ids2) * G2).sum())

    emb.zero_grad()
    emb.forward(ids1)
    emb.forward(ids2)
    emb.backward(G2)
    emb.backward(G1)
    assert_grads_match(emb.grads, numerical(loss, emb.params))


class StepDecoder(ll.Model):
    """Embedding -> LSTM -> Linear, run one step at a time with one object per part."""

    def __init__(self, V, E, H_dec, rng=0):
        super().__init__(embed=ll.Embedding(V, E, rng=rng), rnn=ll.LSTM(E, H_dec, rng=rng),
                         head=ll.Linear(H_dec, V, rng=rng))

    def forward(self, ids, state=None):  # ids (T, N): teacher forcing, one step per call
        logits = []
        for t in range(len(ids)):
            x = self.embed.forward(ids[t:t + 1])  # (1, N, E)
            hs, state = self.rnn.forward(x, state)  # (1, N, H)
            logits.append(self.head.forward(hs))
        return np.concatenate(logits), state

    def backward(self, dlogits):
        dstate = None
        for t in reversed(range(len(dlogits))):  # the reverse order of the forward calls
            dhs = self.head.backward(dlogits[t:t + 1])
            dx, dstate = self.rnn.backward(dhs, dstate)
            self.embed.backward(dx)
        return dstate


def test_decoder_run_one_step_at_a_time():
    dec = StepDecoder(V=7, E=3, H_dec=4, rng=0)
    ids = np.array([[1, 2], [3, 3], [0, 6], [5, 1], [2, 2]])
    state0 = ll.LSTMState(*np.random.default_rng(5).standard_normal((2, 1, 2, 4)))
    G = np.random.default_rng(6).standard_normal((5, 2, 7))

    def loss():
        return float((dec.forward(ids, state0)[0] * G).sum())

    dec.zero_grad()
    dec.forward(ids, state0)
    dstate0 = dec.backward(G)
    assert_grads_match(dec.grads, numerical(loss, dec.params))
    num_c0 = ll.numerical_gradient(quiet(loss), state0.c)
    assert ll.rel_error(dstate0.c, num_c0) < 1e-7
    assert_no_records(dec)
    dec.zero_grad()  # nothing left over


def test_decoder_steps_equal_one_sequence():
    """Step by step with one layer equals one call over the sequence: forward and gradients."""
    rng = np.random.default_rng(7)
    xs, G = rng.standard_normal((T, N, D)), rng.standard_normal((T, N, H))
    one, steps = ll.GRU(D, H, rng=0), ll.GRU(D, H, rng=0)
    out, _ = one.forward(xs)
    dxs, _ = one.backward(G)
    state, outs = None, []
    for t in range(T):
        o, state = steps.forward(xs[t:t + 1], state)
        outs.append(o)
    ds, dx_steps = None, [None] * T
    for t in reversed(range(T)):
        dx_steps[t], ds = steps.backward(G[t:t + 1], ds)
    assert np.abs(np.concatenate(outs) - out).max() < 1e-12
    assert np.abs(np.concatenate(dx_steps) - dxs).max() < 1e-12
    for k in one.grads:
        assert np.abs(one.grads[k] - steps.grads[k]).max() < 1e-12


# -- a second forward, a second backward ------------------------------------------------------
def test_second_forward_of_another_shape_names_both_shapes():
    lstm = ll.LSTM(D, H, rng=0)
    x = np.ones((T, N, D))
    lstm.forward(x)
    lstm.forward(np.ones((T, N + 1, D)))  # an evaluation pass without no_grad
    with pytest.raises(ValueError, match=r"dout: expected shape .*\(4, 3, 5\), the shape of out "
                                         r"of the forward being backpropagated, got \(4, 2, 5\)"):
        lstm.backward(np.ones((T, N, H)))


def test_second_forward_of_the_same_shape_is_caught_by_the_next_zero_grad():
    lstm = ll.LSTM(D, H, rng=0)
    x = np.ones((T, N, D))
    lstm.zero_grad()
    lstm.forward(x)
    lstm.forward(2 * x)  # forgot no_grad
    lstm.backward(np.ones((T, N, H)))
    with pytest.raises(RuntimeError, match=r"zero_grad: LSTM still holds 1 forward record .*"
                                           r"ll.no_grad\(\)"):
        lstm.zero_grad()


def test_evaluation_under_no_grad_between_forward_and_backward_is_harmless():
    lstm = ll.LSTM(D, H, rng=0)
    rng = np.random.default_rng(8)
    x, G = rng.standard_normal((T, N, D)), rng.standard_normal((T, N, H))

    def loss():
        return float((lstm.forward(x)[0] * G).sum())

    lstm.zero_grad()
    lstm.forward(x)
    with ll.no_grad():
        out_eval, _ = lstm.forward(rng.standard_normal((T, N, D)))
    lstm.backward(G)
    assert_grads_match(lstm.grads, numerical(loss, lstm.params))
    lstm.zero_grad()


@pytest.mark.parametrize("make, x, dout", [
    (lambda: ll.Linear(D, 2, rng=0), np.ones((3, D)), np.ones((3, 2))),
    (lambda: ll.Embedding(4, 2, rng=0), np.array([1, 2]), np.ones((2, 2))),
    (lambda: ll.Recurrent(ll.LSTMCell(D, H, rng=0)), np.ones((T, N, D)), np.ones((T, N, H))),
    (lambda: ll.GRU(D, H, rng=0), np.ones((T, N, D)), np.ones((T, N, H))),
], ids=["Linear", "Embedding", "Recurrent", "GRU"])
def test_backward_twice_raises(make, x, dout):
    part = make()
    part.forward(x)
    part.backward(dout)
    grads = {k: g.copy() for k, g in part.grads.items()}
    with pytest.raises(RuntimeError, match="backward: no forward left to backpropagate in "
                                           f"{type(part).__name__} .*called more often than "
                                           "forward"):
        part.backward(dout)
    for k in grads:  # and nothing was added
        assert np.array_equal(part.grads[k], grads[k])


@pytest.mark.parametrize("make, x, dout", [
    (lambda: ll.Linear(D, 2, rng=0), np.ones((3, D)), np.ones((3, 2))),
    (lambda: ll.Embedding(4, 2, rng=0), np.array([1, 2]), np.ones((2, 2))),
    (lambda: ll.LSTM(D, H, rng=0), np.ones((T, N, D)), np.ones((T, N, H))),
], ids=["Linear", "Embedding", "LSTM"])
def test_no_grad_keeps_nothing(make, x, dout):
    part = make()
    y = part.forward(x)
    with ll.no_grad():
        y_eval = part.forward(x)
    first = lambda v: v[0] if isinstance(v, tuple) else v  # noqa: E731
    assert np.array_equal(first(y), first(y_eval))  # the same numbers
    part.backward(dout)  # consumes the recorded forward
    with pytest.raises(RuntimeError, match="no forward left"):
        part.backward(dout)
    assert_no_records(part)


# -- the caller changes arrays after the forward ----------------------------------------------
def run_lstm(mutate):
    """Forward, let ``mutate`` change the caller's arrays, backward; return the results."""
    cell = ll.LSTMCell(D, H, peephole=True, rng=0)
    for name, value in (("p_i", 0.3), ("p_f", -0.4), ("p_o", 0.5)):
        cell.params[name][...] = value
    layer = ll.Recurrent(cell)
    rng = np.random.default_rng(9)
    xs = rng.standard_normal((T, N, D))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    G = rng.standard_normal((T, N, H))
    dstate = ll.LSTMState(rng.standard_normal((N, H)), rng.standard_normal((N, H)))
    hs, state = layer.forward(xs, ll.LSTMState(h0, c0))
    mutate(xs=xs, h0=h0, c0=c0, hs=hs, state=state)
    dxs, ds0 = layer.backward(G, dstate)
    return (dxs, *ds0), {k: g.copy() for k, g in cell.grads.items()}


@pytest.mark.parametrize("what", ["x += 100", "h0[...] = 0", "c0 *= -3", "hs[...] = 7",
                                  "state.h[...] = 0", "state.c[0] = 0"])
def test_changing_arrays_after_forward_does_not_change_the_gradients(what):
    def mutate(**arrays):
        exec(what.replace("x +=", "xs +="), {}, arrays)

    want = run_lstm(lambda **_: None)
    got = run_lstm(mutate)
    for a, b in zip(got[0], want[0]):
        assert np.array_equal(a, b), what
    for k in want[1]:
        assert np.array_equal(got[1][k], want[1][k]), (what, k)


@pytest.mark.parametrize("cell", [ll.RNNCell(D, H, rng=0), ll.GRUCell(D, H, rng=0),
                                  ll.LSTMCell(D, H, peephole=True, rng=0)],
                         ids=["rnn", "gru", "lstm-peephole"])
def test_returned_state_is_not_a_cache_buffer(cell):
    layer = ll.Recurrent(cell)
    xs = np.random.default_rng(10).standard_normal((T, N, D))
    _, state = layer.forward(xs)
    record = layer._records[-1]
    kept = [a for cache in record.caches for a in cache if isinstance(a, np.ndarray)]
    for a in cell.split_state(state):
        assert not any(np.shares_memory(a, k) for k in kept)
    layer.discard_saved()


def test_layer_state_and_input_may_change_after_forward():
    def run(mutate):
        lstm = ll.LSTM(D, H, num_layers=2, batch_first=True, rng=0)
        rng = np.random.default_rng(11)
        x = rng.standard_normal((N, T, D))
        s0 = ll.LSTMState(rng.standard_normal((2, N, H)), rng.standard_normal((2, N, H)))
        out, state = lstm.forward(x, s0)
        if mutate:
            x += 100
            s0.h[...] = 0
            state.c[...] = 0
            out[...] = 1
        dx, ds0 = lstm.backward(np.ones((N, T, H)))
        return dx, ds0.h, lstm.grads["layers.0.fwd.W_h"].copy()

    for a, b in zip(run(False), run(True)):
        assert np.array_equal(a, b)


def test_embedding_ids_may_change_after_forward():
    emb = ll.Embedding(5, 2, rng=0)
    ids = np.array([[1, 2], [3, 4]])
    emb.forward(ids)
    ids[:] = 0
    emb.backward(np.ones((2, 2, 2)))
    assert np.flatnonzero(emb.grads["W"].any(axis=1)).tolist() == [1, 2, 3, 4]


def test_refused_gradient_consumes_nothing():
    lstm = ll.LSTM(D, H, rng=0)
    lstm.forward(np.ones((T, N, D)))
    with pytest.raises(TypeError, match="dout"):
        lstm.backward(np.ones((T, N, H), dtype=np.float32))
    lstm.backward(np.ones((T, N, H)))
    assert_no_records(lstm)


def test_forward_that_fails_half_way_leaves_no_records():
    lstm = ll.LSTM(D, H, num_layers=2, rng=0)
    lstm.params["layers.1.fwd.W_x"][0, 0] = np.nan
    with pytest.raises(FloatingPointError, match="LSTM layers.1.fwd"):
        with ll.detect_anomaly(), np.errstate(invalid="ignore", over="ignore"):
            lstm.forward(np.ones((T, N, D)))
    assert_no_records(lstm)  # layer 0's record was taken back
    lstm.zero_grad()


# -- the parts and their names ----------------------------------------------------------------
def test_modules_names_every_part_once():
    model = ll.Model(embed=ll.Embedding(5, D, rng=0), rnn=ll.GRU(D, H, bidirectional=True, rng=0))
    names = [name for name, _ in model.modules()]
    assert names == ["", "embed", "rnn", "rnn.layers.0.fwd", "rnn.layers.0.fwd.cell",
                     "rnn.layers.0.bwd", "rnn.layers.0.bwd.cell"]
    assert model.rnn.layers[0][1]._where == "Model rnn.layers.0.bwd"


def test_zero_grad_names_the_part_that_holds_a_record():
    model = ll.Model(embed=ll.Embedding(5, D, rng=0), head=ll.Linear(D, 2, rng=0))
    model.head.forward(np.ones((1, D)))
    with pytest.raises(RuntimeError, match=r"zero_grad: Model part 'head' \(Linear\) still holds "
                                           r"1 forward record"):
        model.zero_grad()
    model.discard_saved()
    model.zero_grad()
