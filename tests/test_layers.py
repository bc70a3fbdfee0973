import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll
from lstmlab.gradcheck import check_gradients

T, N, D, H = 4, 3, 3, 2
LENGTHS = np.array([4, 0, 2])

CONFIGS = {
    "rnn-2-bi": (ll.RNN, dict(num_layers=2, bidirectional=True)),
    "rnn-relu-batch_first": (ll.RNN, dict(nonlinearity="relu", batch_first=True)),
    "rnn-nobias-bi": (ll.RNN, dict(bias=False, bidirectional=True)),
    "lstm-2-bi": (ll.LSTM, dict(num_layers=2, bidirectional=True)),
    "lstm-2-peephole-coupled": (ll.LSTM, dict(num_layers=2, peephole=True, coupled=True)),
    "lstm-peephole-bi-batch_first": (ll.LSTM, dict(peephole=True, bidirectional=True,
                                                   batch_first=True)),
    "lstm-nobias-bi-batch_first": (ll.LSTM, dict(bias=False, bidirectional=True,
                                                 batch_first=True)),
    "gru-2-bi": (ll.GRU, dict(num_layers=2, bidirectional=True)),
    "gru-reset-before-bi": (ll.GRU, dict(reset_after=False, bidirectional=True)),
    "gru-nobias-2": (ll.GRU, dict(bias=False, num_layers=2)),
}


def make(name, **extra):
    cls, kwargs = CONFIGS[name]
    return randomize_params(cls(D, H, **kwargs, **extra, rng=0), seed=1)


def n_state(layer):
    return 2 if isinstance(layer, ll.LSTM) else 1


def random_layer_state(layer, n, rng):
    K = layer.num_layers * layer.num_directions
    arrays = [rng.standard_normal((K, n, H)) for _ in range(n_state(layer))]
    return ll.LSTMState(*arrays) if isinstance(layer, ll.LSTM) else arrays[0]


def random_input(layer, n, rng):
    return rng.standard_normal((n, T, D) if layer.batch_first else (T, n, D))


def as_tuple(state):
    return tuple(state) if isinstance(state, tuple) else (state,)


def max_diff(a, b):
    a, b = as_tuple(a), as_tuple(b)
    return max(float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(a, b))


# -- gradient checks ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_gradient_check(name, lengths):
    layer = make(name)
    rng = np.random.default_rng(2)
    x, s0 = random_input(layer, N, rng), random_layer_state(layer, N, rng)
    report = ll.check_layer(layer, x, s0, lengths=lengths)
    assert len(report) == 1 + n_state(layer) + len(layer.params)
    report.assert_ok(1e-6)


class FrozenDropout:
    """Reseed the layer's rng before every forward, so every forward draws the same masks."""

    def __init__(self, layer, seed):
        self.layer, self.seed = layer, seed
        self.params, self.grads = layer.params, layer.grads

    def forward(self, *args, **kwargs):
        self.layer.rng = np.random.default_rng(self.seed)
        return self.layer.forward(*args, **kwargs)

    def backward(self, *douts):
        return self.layer.backward(*douts)


@pytest.mark.parametrize("name", ["rnn-2-bi", "lstm-2-bi", "gru-nobias-2"])
def test_gradient_check_with_dropout(name):
    layer = make(name, dropout=0.5)
    rng = np.random.default_rng(3)
    x, s0 = random_input(layer, N, rng), random_layer_state(layer, N, rng)
    frozen = FrozenDropout(layer, seed=7)
    out_train = frozen.forward(x, s0)[0]
    out_eval = layer.eval().forward(x, s0)[0]
    layer.train()
    assert max_diff(out_train, out_eval) > 1e-3  # the dropout is really on
    ll.check_layer(frozen, x, s0, lengths=LENGTHS).assert_ok(1e-6)


@pytest.mark.parametrize("name", ["lstm-2-bi", "gru-2-bi"])
def test_gradient_check_final_state_only(name):
    layer = make(name)
    rng = np.random.default_rng(4)
    x, s0 = random_input(layer, N, rng), random_layer_state(layer, N, rng)

    def forward(x, s0):
        return layer.forward(x, s0, lengths=LENGTHS)[1], None

    def backward(dstate, _):
        return layer.backward(None, dstate)

    check_gradients(forward, backward, (x, s0), ("x", "s0"), layer.params,
                    layer.grads).assert_ok(1e-6)


# -- the composition: stacked, bidirectional, from Recurrent wrappers ---------------------------
@pytest.mark.parametrize("name", ["rnn-2-bi", "lstm-2-bi", "gru-2-bi"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_equals_hand_composition_of_recurrent(name, lengths):
    layer = make(name)
    rng = np.random.default_rng(5)
    x, s0 = random_input(layer, N, rng), random_layer_state(layer, N, rng)
    out, state = layer.forward(x, s0, lengths=lengths)

    s0 = as_tuple(s0)
    inp, finals = x, []
    for k_layer in range(2):
        outs = []
        for d in range(2):
            cell = layer.layers[k_layer][d].cell
            k = 2 * k_layer + d  # PyTorch's order: layer 0 fwd, layer 0 bwd, layer 1 fwd, ...
            hs, s = ll.Recurrent(cell, reverse=(d == 1)).forward(
                inp, cell.join_state([a[k] for a in s0]), lengths=lengths)
            outs.append(hs)
            finals.append(cell.split_state(s))
        inp = np.concatenate(outs, axis=2)
    assert max_diff(out, inp) < 1e-12
    for j, a in enumerate(as_tuple(state)):
        assert max_diff(a, np.stack([f[j] for f in finals])) < 1e-12


def test_bidirectional_outputs_are_in_original_time_order():
    layer = make("gru-2-bi")
    x = random_input(layer, N, np.random.default_rng(6))
    out, h_n = layer.forward(x, lengths=LENGTHS)
    for n, L in enumerate(LENGTHS):
        if L == 0:
            assert np.all(out[:, n] == 0)
            continue
        assert np.array_equal(out[L - 1, n, :H], h_n[2, n])  # forward ends at its last step
        assert np.array_equal(out[0, n, H:], h_n[3, n])  # backward ends at step 0
        assert np.all(out[L:, n] == 0)


def test_batch_first_is_the_transpose():
    a = make("lstm-2-bi")
    b = make("lstm-2-bi", batch_first=True)
    rng = np.random.default_rng(7)
    x, s0 = rng.standard_normal((T, N, D)), random_layer_state(a, N, rng)
    dout = rng.standard_normal((T, N, 2 * H))
    out_a, s_a = a.forward(x, s0, lengths=LENGTHS)
    out_b, s_b = b.forward(x.transpose(1, 0, 2), s0, lengths=LENGTHS)
    assert out_b.shape == (N, T, 2 * H)
    assert max_diff(out_a, out_b.transpose(1, 0, 2)) == 0
    assert max_diff(s_a, s_b) == 0
    dx_a, ds_a = a.backward(dout, s0)
    dx_b, ds_b = b.backward(dout.transpose(1, 0, 2), s0)
    assert max_diff(dx_a, dx_b.transpose(1, 0, 2)) < 1e-12
    assert max_diff(ds_a, ds_b) < 1e-12


# -- dropout -----------------------------------------------------------------------------------
def test_dropout_is_inverted_between_layers_and_drawn_from_the_layer_rng():
    p = 0.3
    layer = make("rnn-2-bi", dropout=p)
    x = random_input(layer, N, np.random.default_rng(8))
    layer.rng = np.random.default_rng(11)
    out, _ = layer.forward(x)

    # by hand: layer 0, then the mask from the same generator, scaled by 1/(1-p), then layer 1
    def run(k_layer, inp):
        cells = [layer.layers[k_layer][d].cell for d in range(2)]
        return np.concatenate([ll.Recurrent(c, reverse=(d == 1)).forward(inp)[0]
                               for d, c in enumerate(cells)], axis=2)

    out0 = run(0, x)
    keep = np.random.default_rng(11).random(out0.shape) >= p
    assert 0 < keep.mean() < 1
    assert max_diff(out, run(1, out0 * keep / (1 - p))) < 1e-12


def test_dropout_off_in_eval_and_for_a_single_layer():
    rng = np.random.default_rng(9)
    with_dropout = make("lstm-2-bi", dropout=0.5)
    without = make("lstm-2-bi")
    x = random_input(with_dropout, N, rng)
    assert with_dropout.training
    assert with_dropout.eval() is with_dropout and not with_dropout.training
    assert max_diff(with_dropout.forward(x)[0], without.forward(x)[0]) == 0
    assert with_dropout.train() is with_dropout and with_dropout.training
    assert max_diff(with_dropout.forward(x)[0], without.forward(x)[0]) > 1e-3
    # one layer: no layer after it, so nothing to drop (PyTorch does the same)
    single, plain = make("gru-reset-before-bi", dropout=0.5), make("gru-reset-before-bi")
    assert max_diff(single.forward(x)[0], plain.forward(x)[0]) == 0


def test_backward_applies_the_forward_mask():
    layer = make("rnn-2-bi", dropout=0.5)
    x = random_input(layer, N, np.random.default_rng(10))
    draws = layer.rng.bit_generator.state
    layer.forward(x)
    dout = np.ones((T, N, 2 * H))
    dx1, _ = layer.backward(dout)
    layer.rng.bit_generator.state = draws  # the same first mask again ...
    layer.forward(x)
    layer.forward(x)  # ... and a second forward with another mask
    dx_second, _ = layer.backward(dout)
    dx_first, _ = layer.backward(dout)  # each backward applies its own forward's mask
    assert max_diff(dx_first, dx1) == 0
    assert max_diff(dx_second, dx1) > 1e-6
    layer.eval()
    layer.forward(x)
    dx_eval, _ = layer.backward(dout)
    assert max_diff(dx1, dx_eval) > 1e-6


# -- parameters, construction ------------------------------------------------------------------
def test_dotted_param_keys_are_the_cells_arrays():
    layer = ll.LSTM(D, H, num_layers=2, bidirectional=True, rng=0)
    assert sorted(layer.params) == sorted(
        f"layers.{k}.{d}.{p}" for k in range(2) for d in ("fwd", "bwd")
        for p in ("W_x", "W_h", "b"))
    assert layer.params["layers.1.bwd.W_x"] is layer.layers[1][1].cell.params["W_x"]
    assert layer.grads["layers.0.fwd.b"] is layer.layers[0][0].cell.grads["b"]
    assert layer.params["layers.1.fwd.W_x"].shape == (2 * H, 4 * H)
    assert layer.layers[1][1].reverse and not layer.layers[1][0].reverse
    # torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True) minus its second bias (4H per cell)
    assert layer.num_params() == 2 * (4 * H * (D + H) + 4 * H) + 2 * (4 * H * (2 * H + H) + 4 * H)
    layer.forward(np.ones((T, N, D)))
    layer.backward(np.ones((T, N, 2 * H)))
    assert all(g.any() for g in layer.grads.values())
    layer.zero_grad()
    assert not any(g.any() for g in layer.grads.values())


def test_rng_makes_construction_reproducible():
    a = ll.GRU(D, H, num_layers=2, rng=3)
    b = ll.GRU(D, H, num_layers=2, rng=np.random.default_rng(3))
    c = ll.GRU(D, H, num_layers=2, rng=4)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["layers.1.fwd.W_h"], c.params["layers.1.fwd.W_h"])
    assert all(np.abs(p).max() <= 1 / np.sqrt(H) for p in a.params.values())


def test_cell_options_reach_every_cell():
    lstm = ll.LSTM(D, H, num_layers=2, bidirectional=True, peephole=True, coupled=True,
                   forget_bias=1.0, rng=0)
    cells = [rec.cell for directions in lstm.layers for rec in directions]
    assert len(cells) == 4
    assert all(c.peephole and c.coupled and np.all(c.params["b"][:H] == 1.0) for c in cells)
    gru = ll.GRU(D, H, reset_after=False, num_layers=2, rng=0)
    assert all(not rec.cell.reset_after for d in gru.layers for rec in d)
    rnn = ll.RNN(D, H, 2, "relu", False, rng=0)  # PyTorch's positional order
    assert rnn.layers[1][0].cell.nonlinearity == "relu" and not rnn.bias


def test_float32_layer():
    layer = ll.LSTM(D, H, num_layers=2, bidirectional=True, dtype=np.float32, rng=0)
    x = np.ones((T, N, D), dtype=np.float32)
    out, state = layer.forward(x, lengths=[1, 2, 3])
    dx, ds0 = layer.backward(np.ones_like(out), state)
    assert out.dtype == dx.dtype == ds0.h.dtype == np.float32


def test_T_zero():
    layer = make("lstm-2-bi")
    s0 = random_layer_state(layer, N, np.random.default_rng(12))
    out, state = layer.forward(np.zeros((0, N, D)), s0)
    assert out.shape == (0, N, 2 * H)
    assert max_diff(state, s0) == 0
    dx, ds0 = layer.backward(np.zeros((0, N, 2 * H)), s0)
    assert dx.shape == (0, N, D) and max_diff(ds0, s0) == 0


def test_repr():
    assert repr(ll.LSTM(3, 4, num_layers=2, bidirectional=True)) == \
        "LSTM(3, 4, num_layers=2, bidirectional=True)"
    assert repr(ll.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"


# -- clear errors ------------------------------------------------------------------------------
def test_error_x():
    lstm = ll.LSTM(D, H, batch_first=True, rng=0)
    with pytest.raises(ValueError, match="x: expected 3 dimensions"):
        lstm.forward(np.ones((N, D)))
    with pytest.raises(ValueError,
                       match=r"x: expected shape \(N, T, D\) with D = 3, got \(3, 4, 5\)"):
        lstm.forward(np.ones((N, T, 5)))
    with pytest.raises(TypeError, match="x: expected dtype float64"):
        lstm.forward(np.ones((N, T, D), dtype=np.float32))


def test_error_state():
    lstm = ll.LSTM(D, H, num_layers=2, rng=0)
    x = np.ones((T, N, D))
    with pytest.raises(TypeError, match=r"state: expected a tuple \(h, c\)"):
        lstm.forward(x, np.zeros((2, N, H)))
    with pytest.raises(ValueError, match=r"state.c: expected shape \(L\*dirs, N, H\) = "
                                         r"\(2, 3, 2\), got \(1, 3, 2\)"):
        lstm.forward(x, (np.zeros((2, N, H)), np.zeros((1, N, H))))
    gru = ll.GRU(D, H, bidirectional=True, rng=0)
    with pytest.raises(TypeError, match="state: expected an ndarray h of shape"):
        gru.forward(x, (np.zeros((2, N, H)),))
    with pytest.raises(ValueError, match=r"state: expected shape \(L\*dirs, N, H\) = \(2, 3, 2\)"):
        gru.forward(x, np.zeros((1, N, H)))


def test_error_backward():
    gru = ll.GRU(D, H, bidirectional=True, rng=0)
    with pytest.raises(RuntimeError, match="backward: no forward left to backpropagate in GRU"):
        gru.backward(np.ones((T, N, 2 * H)))
    gru.forward(np.ones((T, N, D)))
    with pytest.raises(ValueError, match=r"dout: expected shape \(T, N, dirs\*H\) = \(4, 3, 4\), "
                                         r"the shape of out of the forward being "
                                         r"backpropagated, got \(4, 3, 2\)"):
        gru.backward(np.ones((T, N, H)))
    with pytest.raises(ValueError, match=r"dstate: expected shape \(L\*dirs, N, H\)"):
        gru.backward(np.ones((T, N, 2 * H)), np.ones((1, N, H)))
    gru.backward(np.ones((T, N, 2 * H)))  # the refused gradients consumed nothing
    with pytest.raises(RuntimeError, match="no forward left"):
        gru.backward(np.ones((T, N, 2 * H)))


def test_error_lengths_and_constructor():
    with pytest.raises(ValueError, match=r"lengths: expected integers in \[0, T\]"):
        ll.RNN(D, H, rng=0).forward(np.ones((T, N, D)), lengths=[1, 2, 9])
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\)"):
        ll.GRU(D, H, dropout=1.0)
    with pytest.raises(ValueError, match="num_layers: expected an integer >= 1, got 0"):
        ll.LSTM(D, H, num_layers=0)
    with pytest.raises(ValueError, match="nonlinearity: expected 'tanh' or 'relu'"):
        ll.RNN(D, H, nonlinearity="sigmoid")
