"""Property-based tests (hypothesis) of Recurrent, the RNN/LSTM/GRU layers, save/load and
clipping: random sizes, options, lengths and dtypes.

- gradient checks pass for any layer and any Recurrent;
- a padded batch with lengths equals each sequence run alone at its own length,
  and a full batch equals its examples one at a time (outputs, states, every gradient);
- float32 follows float64; nothing overflows or turns nan up to |x| = 1e4;
- save -> load is the identity (params, optimizer state, the function computed);
- clipping by norm never increases the norm and keeps the direction; by value it
  never increases any element nor the norm.
"""

import math
import os
import tempfile

import numpy as np
import pytest
from helpers import randomize_params
from hypothesis import given, settings
from hypothesis import strategies as st

import lstmlab as ll

SETTINGS = settings(max_examples=15, deadline=None)
STRICT = dict(all="raise", under="ignore")  # underflow to 0 is a right answer (exp(-2e4))

# Gradient checks pass on the relative error (1e-6: the central difference's truncation
# error is O(h^2) = 1e-10 relative for h = 1e-5), OR on the absolute error when the gradient
# is so small that only round-off is left to measure. The central difference of the loss
# L = sum(out * G) has a round-off error of about eps * sum|out * G| / h (report.roundoff);
# a few steps and layers amplify it by a small factor (below 5 in almost every case). An
# absolute error within 100 of those is as right as any numerical check can tell, however
# tiny the gradient: a peephole whose path is nearly shut (LSTM(1, 1, bias=False)'s p_f,
# gradient ~1e-6) otherwise fails at random on a relative error of noise over noise.
# A wrong backward is still caught: its error is the size of the gradient, not of eps / h.
ROUNDOFF = 100


@st.composite
def layer_specs(draw, relu=True, max_size=3):
    """(class, D, H, options) of any RNN/LSTM/GRU layer: sizes, stacking, directions,
    layout, bias and cell options."""
    cls = draw(st.sampled_from([ll.RNN, ll.LSTM, ll.GRU]))
    kw = dict(num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
              batch_first=draw(st.booleans()), bias=draw(st.booleans()),
              rng=draw(st.integers(0, 2**16)))
    if cls is ll.RNN:
        kw["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"] if relu else ["tanh"]))
    elif cls is ll.LSTM:
        kw.update(peephole=draw(st.booleans()), coupled=draw(st.booleans()))
    else:
        kw["reset_after"] = draw(st.booleans())
    return cls, draw(st.integers(1, max_size)), draw(st.integers(1, max_size)), kw


def build(spec, dtype=np.float64):
    cls, D, H, kw = spec
    return cls(D, H, dtype=dtype, **kw)


def layers(relu=True, dtype=np.float64):
    return layer_specs(relu=relu).map(lambda spec: build(spec, dtype))


@st.composite
def batches(draw, min_T=0):
    """(T, N, lengths or None); lengths may hold 0 and T, in any order."""
    T, N = draw(st.integers(min_T, 3)), draw(st.integers(1, 3))
    lengths = draw(st.none() | st.lists(st.integers(0, T), min_size=N, max_size=N))
    return T, N, None if lengths is None else np.array(lengths, dtype=int)


def arrays(state):
    return tuple(state) if isinstance(state, tuple) else (state,)


def layer_state(layer, N, rng, scale=1.0):
    K = layer.num_layers * layer.num_directions
    hs = [(scale * rng.standard_normal((K, N, layer.hidden_size))).astype(layer.dtype)
          for _ in range(2 if isinstance(layer, ll.LSTM) else 1)]
    return ll.LSTMState(*hs) if isinstance(layer, ll.LSTM) else hs[0]


def layer_input(layer, T, N, rng, scale=1.0):
    shape = (N, T, layer.input_size) if layer.batch_first else (T, N, layer.input_size)
    return (scale * rng.standard_normal(shape)).astype(layer.dtype)


def pick(state, n):
    """Sequence n of a layer state (the N axis is 1), kept as a batch of one."""
    new = [a[:, n:n + 1] for a in arrays(state)]
    return ll.LSTMState(*new) if isinstance(state, tuple) else new[0]


# -- gradient checks --------------------------------------------------------------------------
@SETTINGS
@given(layer=layers(relu=False), batch=batches(min_T=1), seed=st.integers(0, 2**16),
       dropout=st.booleans())
def test_gradient_check_any_layer(layer, batch, seed, dropout):
    T, N, lengths = batch
    randomize_params(layer, seed=seed)
    if dropout:  # dropout > 0 is off in eval mode: the function is deterministic again
        layer.dropout = 0.5
        layer.eval()
    rng = np.random.default_rng(seed)
    x, s0 = layer_input(layer, T, N, rng), layer_state(layer, N, rng)
    report = ll.check_layer(layer, x, s0, lengths=lengths, seed=seed)
    report.assert_ok(1e-6, atol=ROUNDOFF * report.roundoff)


@SETTINGS
@given(kind=st.sampled_from(["rnn", "lstm", "lstm-peephole", "lstm-coupled", "gru",
                             "gru-reset-before"]),
       D=st.integers(1, 3), H=st.integers(1, 3), reverse=st.booleans(), batch=batches(min_T=1),
       seed=st.integers(0, 2**16))
def test_gradient_check_any_recurrent(kind, D, H, reverse, batch, seed):
    T, N, lengths = batch
    cell = {"rnn": lambda: ll.RNNCell(D, H), "lstm": lambda: ll.LSTMCell(D, H),
            "lstm-peephole": lambda: ll.LSTMCell(D, H, peephole=True),
            "lstm-coupled": lambda: ll.LSTMCell(D, H, coupled=True),
            "gru": lambda: ll.GRUCell(D, H),
            "gru-reset-before": lambda: ll.GRUCell(D, H, reset_after=False)}[kind]()
    randomize_params(cell, seed=seed)
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((T, N, D))
    s0 = cell.join_state([rng.standard_normal(a.shape)
                          for a in cell.split_state(cell.initial_state(N))])
    rec = ll.Recurrent(cell, reverse=reverse)
    report = ll.check_layer(rec, xs, s0, lengths=lengths, seed=seed)
    report.assert_ok(1e-6, atol=ROUNDOFF * report.roundoff)


# -- a batch is its sequences, run one at a time -------------------------------------------------
def sequence(a, n, steps, batch_first):
    """Sequence n of a (T, N, ...) array (or (N, T, ...) with batch_first), at ``steps``."""
    return a[n:n + 1, steps] if batch_first else a[steps, n:n + 1]


def assert_batch_equals_each_alone(layer, x, s0, lengths, dout, dstate):
    """Run the batch, then every sequence alone at its own length; compare everything."""
    bf = layer.batch_first
    T, N = (x.shape[1], x.shape[0]) if bf else x.shape[:2]
    L = np.full(N, T) if lengths is None else lengths
    layer.zero_grad()
    out, state = layer.forward(x, s0, lengths)
    dx, ds0 = layer.backward(dout, dstate)
    batch_grads = {k: g.copy() for k, g in layer.grads.items()}

    layer.zero_grad()
    for n in range(N):
        real, pad = slice(0, L[n]), slice(L[n], None)
        out_n, state_n = layer.forward(sequence(x, n, real, bf), pick(s0, n))
        np.testing.assert_allclose(out_n, sequence(out, n, real, bf), rtol=1e-12, atol=1e-13)
        for a, b in zip(arrays(state_n), arrays(pick(state, n))):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
        dx_n, ds0_n = layer.backward(sequence(dout, n, real, bf), pick(dstate, n))
        np.testing.assert_allclose(dx_n, sequence(dx, n, real, bf), rtol=1e-11, atol=1e-12)
        for a, b in zip(arrays(ds0_n), arrays(pick(ds0, n))):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
        # padding: zero outputs, and no gradient flows into it
        assert not sequence(out, n, pad, bf).any() and not sequence(dx, n, pad, bf).any()
    for k, g in batch_grads.items():  # the batch's gradients are the sum of the sequences'
        np.testing.assert_allclose(layer.grads[k], g, rtol=1e-10, atol=1e-11, err_msg=k)


@SETTINGS
@given(layer=layers(), batch=batches(), seed=st.integers(0, 2**16))
def test_padded_batch_equals_each_sequence_alone_at_its_own_length(layer, batch, seed):
    T, N, lengths = batch
    if lengths is None:
        lengths = np.random.default_rng(seed).integers(0, T + 1, size=N)
    randomize_params(layer, seed=seed)
    rng = np.random.default_rng(seed)
    x, s0 = layer_input(layer, T, N, rng), layer_state(layer, N, rng)
    with ll.no_grad():  # a forward for the output's shape only
        dout = rng.standard_normal(layer.forward(x, s0, lengths)[0].shape)  # random on padding too
    assert_batch_equals_each_alone(layer, x, s0, lengths, dout, layer_state(layer, N, rng))


@SETTINGS
@given(layer=layers(), T=st.integers(1, 3), N=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_batch_equals_examples_one_at_a_time(layer, T, N, seed):
    randomize_params(layer, seed=seed)
    rng = np.random.default_rng(seed)
    x, s0 = layer_input(layer, T, N, rng), layer_state(layer, N, rng)
    with ll.no_grad():  # a forward for the output's shape only
        dout = rng.standard_normal(layer.forward(x, s0)[0].shape)
    assert_batch_equals_each_alone(layer, x, s0, None, dout, layer_state(layer, N, rng))


# -- dtypes and magnitudes ----------------------------------------------------------------------
@SETTINGS
@given(spec=layer_specs(relu=False), T=st.integers(1, 3), N=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_float32_layer_follows_float64(spec, T, N, seed):
    l64, l32 = build(spec, np.float64), build(spec, np.float32)
    randomize_params(l64, seed=seed)
    for k, p in l32.params.items():
        p[...] = l64.params[k]  # the same weights, rounded to float32
    rng = np.random.default_rng(seed)
    x, s0 = layer_input(l64, T, N, rng), layer_state(l64, N, rng)
    out64, st64 = l64.forward(x, s0)
    out32, st32 = l32.forward(x.astype(np.float32), tuple_like(s0, np.float32))
    dout = rng.standard_normal(out64.shape)
    dx64, _ = l64.backward(dout)
    dx32, _ = l32.backward(dout.astype(np.float32))
    assert out32.dtype == dx32.dtype == np.float32
    assert all(a.dtype == np.float32 for a in arrays(st32))
    assert np.abs(out32 - out64).max() < 1e-5 and np.abs(dx32 - dx64).max() < 1e-4
    for k in l64.grads:
        assert l32.grads[k].dtype == np.float32
        assert np.abs(l32.grads[k] - l64.grads[k]).max() < 1e-4 * (1 + np.abs(l64.grads[k]).max())


def tuple_like(state, dtype):
    new = [a.astype(dtype) for a in arrays(state)]
    return ll.LSTMState(*new) if isinstance(state, tuple) else new[0]


@SETTINGS
@given(spec=layer_specs(), dtype=st.sampled_from([np.float32, np.float64]),
       scale=st.sampled_from([1.0, 1e2, 1e4]), batch=batches(min_T=1),
       seed=st.integers(0, 2**16))
def test_no_floating_point_error_and_no_nan_up_to_1e4(spec, dtype, scale, batch, seed):
    layer = build(spec, dtype)  # PyTorch's initial weights
    T, N, lengths = batch
    rng = np.random.default_rng(seed)
    x, s0 = layer_input(layer, T, N, rng, scale), layer_state(layer, N, rng, scale)
    if isinstance(layer, ll.RNN) and layer.nonlinearity == "relu":
        s0 = np.abs(s0)
    with np.errstate(**STRICT):
        out, state = layer.forward(x, s0, lengths)
        dout = (scale * rng.standard_normal(out.shape)).astype(dtype)
        dx, ds0 = layer.backward(dout, layer_state(layer, N, rng, scale))
    for a in (out, dx, *arrays(state), *arrays(ds0), *layer.grads.values()):
        assert a.dtype == dtype and np.isfinite(a).all()


# -- save -> load is the identity ------------------------------------------------------------------
@st.composite
def architectures(draw):
    """(dtype, V, layer spec or None): Embedding(V, D) [-> layer -> Linear(dirs*H, V)]."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    spec = draw(st.none() | layer_specs())
    return dtype, draw(st.integers(1, 5)), spec


def make_model(arch, seed):
    """A model of architecture ``arch`` with weights drawn from ``seed``."""
    dtype, V, spec = arch
    rng = np.random.default_rng(seed)
    if spec is None:
        return ll.Model(embed=ll.Embedding(V, 2, dtype=dtype, rng=rng))
    cls, D, H, kw = spec
    rnn = cls(D, H, dtype=dtype, **{**kw, "rng": rng})
    return ll.Model(embed=ll.Embedding(V, D, dtype=dtype, rng=rng), rnn=rnn,
                    head=ll.Linear(rnn.num_directions * H, V, dtype=dtype, rng=rng))


OPTIMIZERS = {"none": None, "SGD": lambda m: ll.SGD(m.params, m.grads, lr=0.1, momentum=0.9),
              "Adam": lambda m: ll.Adam(m.params, m.grads, amsgrad=True),
              "Adagrad": lambda m: ll.Adagrad(m.params, m.grads),
              "RMSprop": lambda m: ll.RMSprop(m.params, m.grads, centered=True, momentum=0.5)}


@SETTINGS
@given(arch=architectures(), opt_name=st.sampled_from(sorted(OPTIMIZERS)),
       steps=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_save_then_load_is_the_identity(arch, opt_name, steps, seed):
    src, dst = make_model(arch, seed), make_model(arch, seed + 1)
    make_opt = OPTIMIZERS[opt_name]
    opt = None if make_opt is None else make_opt(src)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for g in src.grads.values():
            g[...] = rng.standard_normal(g.shape)
        if opt is not None:
            opt.step()
    dst_opt = None if make_opt is None else make_opt(dst)
    arrays_before = {k: id(p) for k, p in dst.params.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.npz")
        ll.save(src, path, optimizer=opt)
        ll.load(dst, path, optimizer=dst_opt)
        assert os.listdir(tmp) == ["ckpt.npz"]
    for k, p in src.params.items():
        assert dst.params[k].dtype == p.dtype and dst.params[k].tobytes() == p.tobytes(), k
    assert {k: id(p) for k, p in dst.params.items()} == arrays_before  # loaded in place
    if opt is not None:
        a, b = opt.state_dict(), dst_opt.state_dict()
        assert a.keys() == b.keys()
        assert all(a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes() for k in a)
    ids = rng.integers(0, src.embed.num_embeddings, size=(3, 2))
    assert np.array_equal(forward(src, ids), forward(dst, ids))  # the same function


def forward(model, ids):
    """ids (T, N) -> the model's output; ids (N, T) when the layer is batch_first."""
    model.eval()  # no dropout: the same function twice
    with ll.no_grad():  # evaluation: nothing to backpropagate
        x = model.embed.forward(ids)
        if "rnn" not in model.parts:
            return x
        return model.head.forward(model.rnn.forward(x)[0])


# -- clipping ------------------------------------------------------------------------------------
@st.composite
def gradient_dicts(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    k = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    grads = {}
    for i in range(k):
        shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=2)))
        scale = 10.0 ** draw(st.integers(-3, 6))
        grads[f"g{i}"] = np.asarray(scale * rng.standard_normal(shape), dtype=dtype)
    return grads


def global_norm(grads):
    return math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))


@settings(max_examples=60, deadline=None)
@given(grads=gradient_dicts(), max_norm=st.floats(1e-3, 1e3))
def test_norm_clipping_never_increases_the_norm_and_keeps_the_direction(grads, max_norm):
    before = {k: g.copy() for k, g in grads.items()}
    total = ll.clip_grad_norm(grads, max_norm)
    old = global_norm(before)
    new = global_norm(grads)
    assert total == pytest.approx(old, rel=1e-6)
    eps = 1e-6 if next(iter(grads.values())).dtype == np.float32 else 1e-12
    assert new <= old * (1 + eps)  # never longer
    assert new <= max_norm * (1 + eps) or old <= max_norm  # at most max_norm once clipped
    if old + 1e-6 <= max_norm:
        assert all(grads[k].tobytes() == before[k].tobytes() for k in grads)  # untouched
    s = new / old if old > 0 else 1.0  # one factor for every element: the same direction
    for k, g in grads.items():
        np.testing.assert_allclose(g, s * before[k], rtol=10 * eps,
                                   atol=10 * eps * s * np.abs(before[k]).max(initial=0.0))
        assert g.dtype == before[k].dtype


@settings(max_examples=60, deadline=None)
@given(grads=gradient_dicts(), clip_value=st.floats(1e-3, 1e3))
def test_value_clipping_never_increases_an_element_nor_the_norm(grads, clip_value):
    before = {k: g.copy() for k, g in grads.items()}
    ll.clip_grad_value(grads, clip_value)
    assert global_norm(grads) <= global_norm(before)
    for k, g in grads.items():
        bound = np.asarray(clip_value, dtype=g.dtype)  # clip_value in the gradient's dtype
        assert np.all(np.abs(g) <= np.abs(before[k]))
        assert np.all(np.abs(g) <= bound)
        inside = np.abs(before[k]) <= bound
        assert np.array_equal(g[inside], before[k][inside])  # small elements untouched
        assert np.all(np.sign(g) == np.sign(before[k]))


# -- the tolerance of the gradient checks, on the case that motivated it -------------------------
class FlipSign:
    """A layer whose backward returns one parameter's gradient with the wrong sign."""

    def __init__(self, layer, key):
        self.layer, self.key = layer, key
        self.params, self.grads = layer.params, layer.grads

    def forward(self, *args, **kwargs):
        return self.layer.forward(*args, **kwargs)

    def backward(self, *douts):
        dinputs = self.layer.backward(*douts)
        self.grads[self.key] *= -1
        return dinputs


def tiny_gradient_case():
    """LSTM(1, 1, bias=False) with peepholes, where dL/dp_i is ~6e-8: the input gate of
    the forward direction is nearly shut for this input."""
    layer = ll.LSTM(1, 1, bias=False, peephole=True, bidirectional=True, rng=0)
    randomize_params(layer, seed=1453)
    rng = np.random.default_rng(1453)
    x = rng.standard_normal((1, 2, 1))
    s0 = ll.LSTMState(rng.standard_normal((2, 2, 1)), rng.standard_normal((2, 2, 1)))
    return layer, x, s0


def test_a_tiny_gradient_passes_on_its_roundoff_and_a_wrong_one_still_fails():
    layer, x, s0 = tiny_gradient_case()
    key = "layers.0.fwd.p_i"
    report = ll.check_layer(layer, x, s0, seed=1453)
    assert np.abs(layer.grads[key]).max() < 1e-6, "the case should have a tiny gradient"
    assert report[key] > 1e-6  # the relative error alone would fail: noise over noise
    assert report.abs_errors[key] < 2 * report.roundoff  # ... because the error IS round-off
    report.assert_ok(1e-6, atol=ROUNDOFF * report.roundoff)

    wrong = ll.check_layer(FlipSign(layer, key), x, s0, seed=1453)
    assert wrong.failures(1e-6, atol=ROUNDOFF * wrong.roundoff) == [key]
