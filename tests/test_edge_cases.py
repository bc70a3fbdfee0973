"""Edge cases with a defined answer: T = 0, N = 0, H = 1, length-0 sequences, one step,
float32 throughout, and extreme magnitudes (|x| = 1e4) without a floating-point error.

Each behaviour tested here is documented in the docstring of the function concerned;
:func:`test_edge_cases_are_documented` checks that the documentation stays.
"""

import math

import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll

D, H = 3, 4

CELLS = {
    "rnn-tanh": lambda H=H, D=D, **kw: ll.RNNCell(D, H, rng=0, **kw),
    "rnn-relu": lambda H=H, D=D, **kw: ll.RNNCell(D, H, nonlinearity="relu", rng=0, **kw),
    "lstm": lambda H=H, D=D, **kw: ll.LSTMCell(D, H, rng=0, **kw),
    "lstm-peephole-coupled": lambda H=H, D=D, **kw: ll.LSTMCell(D, H, peephole=True,
                                                                coupled=True, rng=0, **kw),
    "lstm-peephole": lambda H=H, D=D, **kw: ll.LSTMCell(D, H, peephole=True, rng=0, **kw),
    "gru": lambda H=H, D=D, **kw: ll.GRUCell(D, H, rng=0, **kw),
    "gru-reset-before": lambda H=H, D=D, **kw: ll.GRUCell(D, H, reset_after=False, rng=0, **kw),
}
SMOOTH = [k for k in CELLS if k != "rnn-relu"]  # relu's kink spoils central differences
LAYERS = {  # name: (class, options)
    "rnn": (ll.RNN, {}),
    "rnn-relu": (ll.RNN, {"nonlinearity": "relu"}),
    "lstm": (ll.LSTM, {}),
    "lstm-peephole": (ll.LSTM, {"peephole": True}),
    "lstm-coupled": (ll.LSTM, {"coupled": True}),
    "gru": (ll.GRU, {}),
    "gru-reset-before": (ll.GRU, {"reset_after": False}),
}
# No floating-point error may occur; underflow to 0 is the right answer (exp(-2e4) = 0) and
# NumPy ignores it by default, so it is the one condition left alone.
STRICT = dict(all="raise", under="ignore")


def arrays(state):
    return tuple(state) if isinstance(state, tuple) else (state,)


def like(state, fn):
    """A state of the same structure with every array replaced by ``fn(array)``."""
    new = [fn(a) for a in arrays(state)]
    return type(state)(*new) if isinstance(state, tuple) else new[0]


def randn_like(state, rng, scale=1.0):
    return like(state, lambda a: (scale * rng.standard_normal(a.shape)).astype(a.dtype))


def max_diff(a, b):
    return max(float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(arrays(a), arrays(b)))


def zero_grads(module):
    return all(not g.any() for g in module.grads.values())


def layer_state(layer, N, rng, scale=1.0, dtype=np.float64):
    K, H = layer.num_layers * layer.num_directions, layer.hidden_size
    hs = [(scale * rng.standard_normal((K, N, H))).astype(dtype)
          for _ in range(2 if isinstance(layer, ll.LSTM) else 1)]
    return ll.LSTMState(*hs) if isinstance(layer, ll.LSTM) else hs[0]


# -- cells -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
def test_cell_N_zero_gives_empty_arrays_and_no_gradient(name):
    cell = CELLS[name]()
    state, cache = cell.forward(np.zeros((0, D)), cell.initial_state(0))
    assert all(a.shape == (0, H) for a in arrays(state))
    dx, dprev = cell.backward(state, cache)
    assert dx.shape == (0, D) and all(a.shape == (0, H) for a in arrays(dprev))
    assert zero_grads(cell)


@pytest.mark.parametrize("name", SMOOTH)
def test_cell_H_one_and_D_one_gradient_check(name):
    cell = randomize_params(CELLS[name](H=1, D=1), seed=3)
    ll.check_cell(cell, N=3, seed=4).assert_ok(1e-7)


# -- Recurrent ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_recurrent_one_step_is_one_cell_step(name, reverse):
    cell = randomize_params(CELLS[name](), seed=1)
    rec = ll.Recurrent(cell, reverse=reverse)
    rng = np.random.default_rng(2)
    x, s0 = rng.standard_normal((2, D)), randn_like(cell.initial_state(2), rng)
    hs, final = rec.forward(x[None], s0)
    state, cache = cell.forward(x, s0)
    assert hs.shape == (1, 2, H)
    assert max_diff(final, state) == 0 and max_diff(hs[0], arrays(state)[0]) == 0
    ds = randn_like(state, rng)
    cell.zero_grad()
    dxs, ds0 = rec.backward(None, ds)
    rec_grads = {k: g.copy() for k, g in cell.grads.items()}
    cell.zero_grad()
    dx, dprev = cell.backward(ds, cache)
    assert max_diff(dxs[0], dx) < 1e-15 and max_diff(ds0, dprev) < 1e-15
    for k, g in cell.grads.items():
        assert max_diff(rec_grads[k], g) < 1e-14, k


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn-tanh"])
def test_recurrent_every_length_zero_is_the_identity_on_the_state(name):
    cell = randomize_params(CELLS[name](), seed=1)
    rec = ll.Recurrent(cell)
    rng = np.random.default_rng(3)
    T, N = 3, 2
    s0 = randn_like(cell.initial_state(N), rng)
    hs, final = rec.forward(rng.standard_normal((T, N, D)), s0, lengths=[0, 0])
    assert not hs.any() and max_diff(final, s0) == 0
    dsT = randn_like(s0, rng)
    dxs, ds0 = rec.backward(rng.standard_normal((T, N, H)), dsT)
    assert not dxs.any() and max_diff(ds0, dsT) == 0
    assert zero_grads(cell)


def test_recurrent_T_zero_and_N_zero_at_once():
    rec = ll.Recurrent(CELLS["lstm"]())
    hs, final = rec.forward(np.zeros((0, 0, D)), lengths=np.zeros(0, dtype=int))
    assert hs.shape == (0, 0, H) and all(a.shape == (0, H) for a in arrays(final))
    dxs, ds0 = rec.backward(np.zeros((0, 0, H)))
    assert dxs.shape == (0, 0, D)


@pytest.mark.parametrize("name", SMOOTH)
def test_recurrent_H_one_gradient_check_with_a_length_zero_sequence(name):
    cell = randomize_params(CELLS[name](H=1, D=2), seed=5)
    rng = np.random.default_rng(6)
    T, N = 3, 3
    xs, s0 = rng.standard_normal((T, N, 2)), randn_like(cell.initial_state(N), rng)
    rec = ll.Recurrent(cell, reverse=name.startswith("gru"))
    report = ll.check_layer(rec, xs, s0, lengths=[3, 0, 1], seed=7)
    report.assert_ok(1e-6)


# -- layers ------------------------------------------------------------------------------------
def make_layer(name, D=D, H=H, randomize=True, **kw):
    """A 2-layer bidirectional layer of kind ``name`` (random weights unless told)."""
    cls, options = LAYERS[name]
    layer = cls(D, H, **{"num_layers": 2, "bidirectional": True, "rng": 0, **options, **kw})
    return randomize_params(layer, seed=1) if randomize else layer


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_layer_N_zero(name, batch_first):
    layer = make_layer(name, batch_first=batch_first)
    T = 3
    x = np.zeros((0, T, D) if batch_first else (T, 0, D))
    out, state = layer.forward(x, lengths=np.zeros(0, dtype=int))
    assert out.shape == ((0, T, 2 * H) if batch_first else (T, 0, 2 * H))
    assert all(a.shape == (4, 0, H) for a in arrays(state))
    dx, ds0 = layer.backward(np.zeros_like(out), state)
    assert dx.shape == x.shape and all(a.shape == (4, 0, H) for a in arrays(ds0))
    assert zero_grads(layer)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("with_state", [False, True])
def test_layer_T_zero_returns_the_initial_state(name, with_state):
    layer = make_layer(name, batch_first=True)
    rng = np.random.default_rng(2)
    N = 3
    s0 = layer_state(layer, N, rng) if with_state else None
    out, state = layer.forward(np.zeros((N, 0, D)), s0, lengths=[0, 0, 0])
    assert out.shape == (N, 0, 2 * H)
    expected = s0 if with_state else layer_state(layer, N, rng, scale=0.0)
    assert max_diff(state, expected) == 0
    dstate = layer_state(layer, N, rng)
    dx, ds0 = layer.backward(np.zeros_like(out), dstate)
    assert dx.shape == (N, 0, D) and max_diff(ds0, dstate) == 0
    assert zero_grads(layer)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_length_zero_sequence_in_a_batch(name):
    layer = make_layer(name)
    rng = np.random.default_rng(4)
    T, N = 4, 3
    x, s0 = rng.standard_normal((T, N, D)), layer_state(layer, N, rng)
    out, state = layer.forward(x, s0, lengths=[4, 0, 2])
    assert not out[:, 1].any() and not out[2:, 2].any()  # padding is zero
    assert all(max_diff(a[:, 1], b[:, 1]) == 0 for a, b in zip(arrays(state), arrays(s0)))
    dstate = layer_state(layer, N, rng)
    dx, ds0 = layer.backward(rng.standard_normal(out.shape), dstate)
    assert not dx[:, 1].any() and not dx[2:, 2].any()  # no gradient into padding
    for a, b in zip(arrays(ds0), arrays(dstate)):
        assert max_diff(a[:, 1], b[:, 1]) == 0  # straight through the empty sequence
        assert max_diff(a[:, 0], b[:, 0]) > 0  # the real ones do change it


@pytest.mark.parametrize("name", LAYERS)
def test_layer_one_time_step_output_is_the_final_state(name):
    layer = make_layer(name)
    rng = np.random.default_rng(5)
    out, state = layer.forward(rng.standard_normal((1, 2, D)), layer_state(layer, 2, rng))
    h_n = arrays(state)[0]  # (L*dirs, N, H): the last layer is entries 2 (fwd) and 3 (bwd)
    assert out.shape == (1, 2, 2 * H)
    assert np.array_equal(out[0, :, :H], h_n[2]) and np.array_equal(out[0, :, H:], h_n[3])


@pytest.mark.parametrize("name", [k for k in LAYERS if k != "rnn-relu"])
def test_layer_H_one_gradient_check(name):
    layer = make_layer(name, D=2, H=1)
    rng = np.random.default_rng(3)
    x, s0 = rng.standard_normal((3, 2, 2)), layer_state(layer, 2, rng)
    ll.check_layer(layer, x, s0, lengths=[3, 0], seed=4).assert_ok(1e-6)


# -- float32 throughout ------------------------------------------------------------------------
def char_model(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return ll.Model(embed=ll.Embedding(6, 3, padding_idx=0, dtype=dtype, rng=rng),
                    rnn=ll.LSTM(3, H, num_layers=2, bidirectional=True, dtype=dtype, rng=rng),
                    head=ll.Linear(2 * H, 6, dtype=dtype, rng=rng))


def train_step(model, opt, ids, targets, lengths):
    model.zero_grad()
    x = model.embed.forward(ids)  # (T, N, E)
    hs, state = model.rnn.forward(x, lengths=lengths)
    logits = model.head.forward(hs)
    loss, dlogits = ll.cross_entropy(logits, targets, ignore_index=-1)
    dhs = model.head.backward(dlogits)
    dx, ds0 = model.rnn.backward(dhs)
    model.embed.backward(dx)
    total = ll.clip_grad_norm(model.grads, 1.0)
    opt.step()
    return loss, total, [x, hs, logits, dlogits, dhs, dx, *arrays(state), *arrays(ds0)]


def test_float32_throughout_a_training_step_and_close_to_float64():
    ids = np.array([[1, 2, 3], [4, 5, 0], [2, 0, 0], [3, 0, 0]])  # (T, N), 0 = padding
    lengths = np.array([4, 2, 0])
    targets = np.where(np.arange(4)[:, None] < lengths, (ids + 1) % 6, -1)
    results = {}
    for dtype in (np.float32, np.float64):
        model = char_model(dtype)
        opt = ll.Adam(model.params, model.grads, lr=0.01)
        with np.errstate(**STRICT):
            loss, total, produced = train_step(model, opt, ids, targets, lengths)
        assert all(a.dtype == dtype for a in produced)
        assert all(p.dtype == dtype and g.dtype == dtype
                   for p, g in zip(model.params.values(), model.grads.values()))
        assert all(b.dtype == dtype for bufs in opt.state.values() for b in bufs.values())
        results[dtype] = loss, total, {k: p.copy() for k, p in model.params.items()}
    (l32, t32, p32), (l64, t64, p64) = results[np.float32], results[np.float64]
    assert abs(l32 - l64) < 1e-5 and abs(t32 - t64) < 1e-4 * t64
    assert all(np.abs(p32[k] - p64[k]).max() < 1e-5 for k in p64)


# -- Linear and Embedding ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(0, D), (5, 0, D), (0, 0, D)], ids=["N=0", "T=5,N=0", "T=N=0"])
def test_linear_empty_leading_shape(shape):
    lin = ll.Linear(D, 2, rng=0)
    y = lin.forward(np.zeros(shape))
    assert y.shape == shape[:-1] + (2,)
    dx = lin.backward(np.zeros(y.shape))
    assert dx.shape == shape and zero_grads(lin)


def test_linear_one_vector_and_sizes_one():
    lin = randomize_params(ll.Linear(1, 1, rng=0))
    x = np.array([0.7])
    assert lin.forward(x).shape == (1,)
    assert lin.forward(x)[0] == pytest.approx(0.7 * lin.params["W"][0, 0] + lin.params["b"][0])
    ll.check_layer(lin, np.array([0.3, -1.2])[:, None]).assert_ok(1e-9)
    lin32 = ll.Linear(D, 2, dtype=np.float32, rng=0)
    y = lin32.forward(np.ones(D, dtype=np.float32))
    assert y.dtype == lin32.backward(np.ones(2, dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize("ids", [np.zeros((0,), dtype=int), np.zeros((2, 0), dtype=int), [],
                                 [[], []]], ids=["(0,)", "(2,0)", "[]", "[[],[]]"])
def test_embedding_empty_ids(ids):
    emb = ll.Embedding(5, 3, rng=0)
    x = emb.forward(ids)
    assert x.shape == np.shape(ids) + (3,) and x.dtype == np.float64
    assert emb.backward(np.zeros(x.shape)) is None and zero_grads(emb)


def test_embedding_scalar_id_one_row_table_and_float32():
    emb = ll.Embedding(1, 1, dtype=np.float32, rng=0)
    x = emb.forward(0)
    assert x.shape == (1,) and x.dtype == np.float32 and x[0] == emb.params["W"][0, 0]
    emb.backward(np.array([2.5], dtype=np.float32))
    assert emb.grads["W"].tolist() == [[2.5]]


# -- losses ------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", [ll.cross_entropy, ll.nll_loss])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_losses_of_no_targets_are_zero(loss, dtype):
    for shape in [(0, 5), (3, 0, 5)]:
        value, grad = loss(np.zeros(shape, dtype=dtype), np.zeros(shape[:-1], dtype=int))
        assert value == 0.0 and grad.shape == shape and grad.dtype == dtype


@pytest.mark.parametrize("loss", [ll.mse, ll.binary_cross_entropy_with_logits])
def test_elementwise_losses_refuse_empty_arrays(loss):
    with pytest.raises(ValueError, match="expected at least one element, got shape"):
        loss(np.zeros((0, 2)), np.zeros((0, 2)))


def test_single_element_losses_by_hand():
    loss, d = ll.cross_entropy(np.array([[2.0, 0.0]]), np.array([0]))
    assert loss == pytest.approx(math.log1p(math.exp(-2.0)))
    q = 1 / (1 + math.exp(2.0))  # softmax of the wrong class
    np.testing.assert_allclose(d, [[-q, q]], rtol=1e-14)
    loss, d = ll.mse(np.array(3.0), np.array(1.0))  # 0-d arrays: one element
    assert (loss, float(d)) == (4.0, 4.0)
    loss, d = ll.binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0]))
    assert loss == pytest.approx(math.log(2.0)) and d.tolist() == [-0.5]


def test_cross_entropy_with_one_class_is_certain():
    loss, d = ll.cross_entropy(np.array([[5.0], [-3.0]]), np.array([0, 0]))
    assert loss == 0.0 and not d.any()


# -- optimizers and clipping -------------------------------------------------------------------
OPTIMIZERS = [
    ("SGD", lambda p, g: ll.SGD(p, g, lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", lambda p, g: ll.Adam(p, g, lr=0.1, amsgrad=True)),
    ("Adagrad", lambda p, g: ll.Adagrad(p, g, lr=0.1)),
    ("RMSprop", lambda p, g: ll.RMSprop(p, g, lr=0.1, centered=True, momentum=0.5)),
]


@pytest.mark.parametrize("name, make", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_a_parameter_with_zero_gradient_stays_put(name, make):
    # e.g. the padding row of an Embedding: no 0/0 in Adam, Adagrad or RMSprop
    params = {"w": np.ones(3), "empty": np.zeros((0, 4))}
    grads = {"w": np.zeros(3), "empty": np.zeros((0, 4))}
    opt = make(params, grads)
    with np.errstate(**STRICT):
        for _ in range(3):
            opt.step()
    assert params["w"].tolist() == [1.0, 1.0, 1.0] and params["empty"].shape == (0, 4)


def test_optimizer_of_no_parameters_and_lr_zero():
    opt = ll.Adam({}, {}, lr=0.1)
    opt.step()
    assert opt.step_count == 1
    p, g = {"w": np.ones(2)}, {"w": np.full(2, 3.0)}
    ll.SGD(p, g, lr=0.0).step()
    assert p["w"].tolist() == [1.0, 1.0]


def test_clip_of_nothing_or_zeros_is_zero():
    assert ll.clip_grad_norm({}, 1.0) == 0.0
    g = {"w": np.zeros(3), "empty": np.zeros(0)}
    with np.errstate(**STRICT):
        assert ll.clip_grad_norm(g, 1.0) == 0.0
    assert not g["w"].any()


# -- extreme magnitudes: |x| = 1e4, float32 and float64 ------------------------------------------
@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_stay_finite_at_1e4(name, dtype):
    layer = make_layer(name, dtype=dtype, randomize=False)  # PyTorch's initial weights
    rng = np.random.default_rng(6)
    T, N = 5, 3
    x = (1e4 * rng.standard_normal((T, N, D))).astype(dtype)
    s0 = layer_state(layer, N, rng, scale=1e4, dtype=dtype)
    if name == "rnn-relu":
        s0 = np.abs(s0)
    with np.errstate(**STRICT):
        out, state = layer.forward(x, s0, lengths=[5, 0, 2])
        dout = (1e4 * rng.standard_normal(out.shape)).astype(dtype)
        dx, ds0 = layer.backward(dout, layer_state(layer, N, rng, scale=1e4, dtype=dtype))
    for a in (out, dx, *arrays(state), *arrays(ds0), *layer.grads.values()):
        assert a.dtype == dtype and np.isfinite(a).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_and_embedding_stay_finite_at_1e4(dtype):
    rng = np.random.default_rng(7)
    lin = ll.Linear(D, 2, dtype=dtype, rng=0)
    emb = ll.Embedding(5, D, dtype=dtype, rng=0)
    with np.errstate(**STRICT):
        y = lin.forward((1e4 * rng.standard_normal((4, 2, D))).astype(dtype))
        dx = lin.backward((1e4 * rng.standard_normal(y.shape)).astype(dtype))
        e = emb.forward(np.array([[1, 1, 4]]))
        emb.backward((1e4 * rng.standard_normal(e.shape)).astype(dtype))
    for a in (y, dx, e, *lin.grads.values(), *emb.grads.values()):
        assert a.dtype == dtype and np.isfinite(a).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_raise_no_floating_point_error_at_1e4(dtype):
    rng = np.random.default_rng(8)
    z = (1e4 * rng.uniform(-1, 1, size=(4, 3, 6))).astype(dtype)
    z[0, 0] = [1e4, -1e4, 1e4, -1e4, 0, 1e4]
    t = rng.integers(0, 6, size=(4, 3))
    with np.errstate(**STRICT):
        results = [ll.cross_entropy(z, t), ll.cross_entropy(z, t, ignore_index=int(t[0, 0])),
                   ll.nll_loss(ll.log_softmax(z), t), ll.mse(z, -z),
                   ll.binary_cross_entropy_with_logits(z, rng.random(z.shape).astype(dtype))]
    for loss, grad in results:
        assert math.isfinite(loss) and grad.dtype == dtype and np.isfinite(grad).all()


@pytest.mark.parametrize("name, make", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizers_raise_no_floating_point_error_at_1e4(name, make, dtype):
    rng = np.random.default_rng(9)
    params = {"w": (1e4 * rng.standard_normal((3, 4))).astype(dtype)}
    grads = {"w": np.zeros((3, 4), dtype=dtype)}
    opt = make(params, grads)
    opt.weight_decay = 0.01  # the L2 term multiplies the 1e4 parameters too
    with np.errstate(**STRICT):
        for _ in range(5):
            grads["w"][...] = 1e4 * rng.standard_normal((3, 4))
            ll.clip_grad_norm(grads, 1e5)
            opt.step()
    assert params["w"].dtype == dtype and np.isfinite(params["w"]).all()


# -- the documentation of all of the above -------------------------------------------------------
@pytest.mark.parametrize("obj, phrases", [
    (ll.RNN.forward, ["T = 0", "N = 0", "length 0", "H = 1"]),
    (ll.Recurrent.forward, ["T = 0"]),
    (ll.Recurrent, ["0 <= lengths[n] <= T", "padded steps leave its state unchanged"]),
    (ll.Linear.forward, ["empty", "(D_in,)"]),
    (ll.Embedding.forward, ["scalar id", "empty ids"]),
    (ll.cross_entropy, ["N = 0", "0.0 and a zero gradient"]),
    (ll.nll_loss, ["N = 0"]),
    (ll.mse, ["Empty arrays are refused"]),
    (ll.binary_cross_entropy_with_logits, ["Empty arrays are refused"]),
])
def test_edge_cases_are_documented(obj, phrases):
    doc = " ".join(obj.__doc__.split())
    for phrase in phrases:
        assert phrase in doc, f"{obj.__qualname__} does not say {phrase!r}"


@pytest.mark.parametrize("obj", [ll.RNNCell.forward, ll.Recurrent.forward])
def test_N_zero_is_documented_for_cells_and_recurrent(obj):
    assert "N = 0" in " ".join(obj.__doc__.split())
