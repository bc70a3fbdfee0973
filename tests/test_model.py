import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll


class CharLM(ll.Model):
    """Embedding -> LSTM -> Linear, the forward and backward written out."""

    def __init__(self, V, E, H, num_layers=1, dropout=0.0, rng=None):
        rng = np.random.default_rng(rng)
        super().__init__(embed=ll.Embedding(V, E, rng=rng),
                         rnn=ll.LSTM(E, H, num_layers=num_layers, dropout=dropout, rng=rng),
                         head=ll.Linear(H, V, rng=rng))

    def forward(self, ids):  # ids (T, N) -> logits (T, N, V)
        x = self.embed.forward(ids)  # (T, N, E)
        hs, _ = self.rnn.forward(x)  # (T, N, H)
        return self.head.forward(hs)

    def backward(self, dlogits):
        dhs = self.head.backward(dlogits)
        dx, _ = self.rnn.backward(dhs)
        self.embed.backward(dx)


TEXT = "hello world, hello lstm. "


def text_batch(T=8, N=3, seed=0):
    chars = sorted(set(TEXT))
    ids = np.array([chars.index(c) for c in TEXT * 4])
    starts = np.random.default_rng(seed).integers(0, len(ids) - T - 1, size=N)
    x = np.stack([ids[s:s + T] for s in starts], axis=1)  # (T, N)
    y = np.stack([ids[s + 1:s + T + 1] for s in starts], axis=1)  # next characters
    return len(chars), x, y


def test_params_are_the_parts_arrays_under_dotted_names():
    model = CharLM(V=6, E=3, H=4, rng=0)
    assert set(model.params) == {
        "embed.W", "head.W", "head.b",
        "rnn.layers.0.fwd.W_x", "rnn.layers.0.fwd.W_h", "rnn.layers.0.fwd.b",
    }
    assert set(model.grads) == set(model.params)
    for name, part in model.parts.items():
        for key, p in part.params.items():
            assert model.params[f"{name}.{key}"] is p
            assert model.grads[f"{name}.{key}"] is part.grads[key]
    assert list(model.parts) == ["embed", "rnn", "head"]
    assert model.num_params() == 6 * 3 + (3 * 16 + 4 * 16 + 16) + (4 * 6 + 6)


def test_gradient_check_of_the_whole_char_lm():
    model = randomize_params(CharLM(V=5, E=3, H=4, rng=0), seed=1)
    ids = np.random.default_rng(2).integers(0, 5, size=(4, 2))  # (T, N) with repeats
    report = ll.check_layer(model, ids)
    assert set(report) == set(model.params)  # ids take no gradient
    report.assert_ok(1e-6)


def test_gradient_check_through_cross_entropy():
    model = randomize_params(CharLM(V=5, E=3, H=4, rng=0), seed=1)
    ids = np.random.default_rng(2).integers(0, 5, size=(4, 2))
    targets = np.random.default_rng(3).integers(0, 5, size=(4, 2))
    model.zero_grad()
    _, dlogits = ll.cross_entropy(model.forward(ids), targets)
    model.backward(dlogits)
    for name in ["embed.W", "rnn.layers.0.fwd.W_h", "head.b"]:
        p = model.params[name]
        numeric = ll.numerical_gradient(
            lambda _: ll.cross_entropy(model.forward(ids), targets)[0], p)
        assert ll.rel_error(model.grads[name], numeric) < 1e-6, name


def test_one_optimizer_clipper_and_zero_grad_serve_every_part():
    model = CharLM(V=6, E=3, H=4, rng=0)
    before = {k: p.copy() for k, p in model.params.items()}
    for g in model.grads.values():
        g[...] = 1.0
    assert model.head.grads["b"].all()
    ll.clip_grad_norm(model.grads, 1.0)
    assert model.rnn.grads["layers.0.fwd.W_h"].max() < 1.0  # clipped through the model
    ll.SGD(model.params, model.grads, lr=0.1).step()
    for name, part in model.parts.items():  # every part moved, in its own arrays
        for key, p in part.params.items():
            assert not np.array_equal(p, before[f"{name}.{key}"])
    model.zero_grad()
    assert not any(g.any() for part in model.parts.values() for g in part.grads.values())


def test_char_lm_learns():
    V, x, y = text_batch()
    model = CharLM(V=V, E=8, H=16, rng=0)
    opt = ll.Adam(model.params, model.grads, lr=0.02)
    losses = []
    for _ in range(60):
        model.zero_grad()
        loss, dlogits = ll.cross_entropy(model.forward(x), y)
        model.backward(dlogits)
        ll.clip_grad_norm(model.grads, 5.0)
        opt.step()
        losses.append(loss)
    assert losses[0] > 0.9 * np.log(V)  # starts near chance
    assert losses[-1] < 0.1 * losses[0]
    predicted = model.forward(x).argmax(axis=-1)
    assert (predicted == y).mean() > 0.95


def test_matches_torch():
    torch = pytest.importorskip("torch")
    model = randomize_params(CharLM(V=5, E=3, H=4, rng=0), seed=1)
    ids = np.random.default_rng(2).integers(0, 5, size=(6, 2))
    targets = np.random.default_rng(3).integers(0, 5, size=(6, 2))
    embed = torch.nn.Embedding(5, 3).double()
    lstm = torch.nn.LSTM(3, 4).double()
    head = torch.nn.Linear(4, 5).double()
    with torch.no_grad():
        embed.weight.copy_(torch.from_numpy(model.embed.params["W"]))
        for name, value in model.rnn.torch_state_dict().items():
            getattr(lstm, name).copy_(torch.from_numpy(value))
        head.weight.copy_(torch.from_numpy(model.head.params["W"].T))
        head.bias.copy_(torch.from_numpy(model.head.params["b"]))
    logits_t = head(lstm(embed(torch.from_numpy(ids)))[0])
    loss_t = torch.nn.functional.cross_entropy(logits_t.reshape(-1, 5),
                                               torch.from_numpy(targets).reshape(-1))
    loss_t.backward()
    loss, dlogits = ll.cross_entropy(model.forward(ids), targets)
    model.backward(dlogits)
    assert abs(loss - loss_t.item()) < 1e-14
    np.testing.assert_allclose(model.grads["embed.W"], embed.weight.grad.numpy(), atol=1e-14)
    np.testing.assert_allclose(model.grads["head.W"], head.weight.grad.numpy().T, atol=1e-14)
    for name, g in model.rnn.torch_grads().items():
        np.testing.assert_allclose(g, getattr(lstm, name).grad.numpy(), atol=1e-14)


def test_train_and_eval_reach_the_parts():
    model = CharLM(V=6, E=3, H=4, num_layers=2, dropout=0.5, rng=0)
    assert model.training and model.rnn.training
    assert model.eval() is model
    assert not model.training and not model.rnn.training
    _, x, _ = text_batch()
    x = x % 6
    out1, out2 = model.forward(x), model.forward(x)
    assert np.array_equal(out1, out2)  # no dropout in eval mode
    model.train()
    assert model.rnn.training
    assert not np.array_equal(model.forward(x), model.forward(x))  # dropout masks differ


def test_nested_models_and_add():
    inner = ll.Model(embed=ll.Embedding(4, 2, rng=0))
    outer = ll.Model(encoder=inner)
    head = outer.add("head", ll.Linear(2, 3, rng=0))
    assert head is outer.head
    assert set(outer.params) == {"encoder.embed.W", "head.W", "head.b"}
    assert outer.params["encoder.embed.W"] is inner.embed.params["W"]
    assert "Linear(2, 3)" in repr(outer) and "(encoder): Model(" in repr(outer)


def test_a_cell_is_a_part_too():
    model = ll.Model(cell=ll.LSTMCell(3, 4, rng=0), head=ll.Linear(4, 2, rng=0))
    assert "cell.W_h" in model.params and model.params["cell.W_h"] is model.cell.params["W_h"]


def test_errors():
    with pytest.raises(ValueError, match="identifier"):
        ll.Model(**{"my.layer": ll.Linear(2, 2)})
    with pytest.raises(ValueError, match="already taken"):
        ll.Model(params=ll.Linear(2, 2))
    with pytest.raises(ValueError, match="already taken"):
        ll.Model(train=ll.Linear(2, 2))
    model = ll.Model(head=ll.Linear(2, 2))
    with pytest.raises(ValueError, match="already taken"):
        model.add("head", ll.Linear(2, 2))
    with pytest.raises(TypeError, match="params and grads"):
        ll.Model(f=np.tanh)
    shared = ll.Linear(2, 2)
    with pytest.raises(ValueError, match="same array"):
        ll.Model(a=shared, b=shared)
    with pytest.raises(NotImplementedError, match="subclass Model"):
        model.forward(np.ones((1, 2)))
    with pytest.raises(NotImplementedError, match="reverse"):
        model.backward(np.ones((1, 2)))


# ---------------------------------------------------------------- summary


def test_summary_lists_every_param_with_shape_count_and_total():
    model = CharLM(V=11, E=4, H=6, num_layers=2, rng=0)
    text = model.summary()
    assert isinstance(text, str)
    lines = text.splitlines()
    assert lines[0] == "CharLM"
    assert lines[1].split() == ["part", "type", "parameter", "shape", "count"]
    for key, p in model.params.items():
        part, name = key.split(".", 1)
        row = next(line for line in lines if f" {name} " in line and str(p.shape) in line)
        assert row.split()[-1] == f"{p.size:,}"
    assert f"Total params: {model.num_params():,} " in lines[-1]
    assert "float64" in lines[-1]
    counts = [int(line.split()[-1].replace(",", "")) for line in lines[3:-2]]
    assert sum(counts) == model.num_params()  # every array once, nothing else


def test_summary_first_row_of_a_part_names_it_and_its_type():
    model = CharLM(V=5, E=3, H=4, rng=0)
    rows = model.summary().splitlines()[3:-2]
    starts = [row.split()[0] for row in rows if not row.startswith(" ")]
    assert starts == ["embed", "rnn", "head"]
    assert any(row.startswith("rnn") and repr(model.rnn) in row for row in rows)


def test_summary_displays_as_the_table():
    model = ll.Model(head=ll.Linear(2, 3, rng=0))
    assert repr(model.summary()) == str(model.summary())  # not a quoted one-liner
    assert "\\n" not in repr(model.summary())


def test_summary_of_parts_without_params_nested_models_and_own_params():
    class Identity:  # a part without parameters, like dropout
        params, grads = {}, {}

        def __repr__(self):
            return "Identity()"

    inner = ll.Model(a=ll.Linear(2, 2, rng=0))
    model = ll.Model(same=Identity(), inner=inner)
    model.add_param("scale", np.ones(3))
    rows = model.summary().splitlines()
    assert any(r.split()[:2] == ["same", "Identity()"] and r.split()[-1] == "0" for r in rows)
    assert any(r.split()[:3] == ["inner", "Model", "a.W"] for r in rows)  # multi-line repr: type
    assert any(r.split()[:2] == ["(own)", "scale"] for r in rows)
    assert "Total params: 9 " in rows[-1]


def test_summary_float32_and_empty_model():
    model = ll.Model(head=ll.Linear(3, 2, dtype=np.float32, rng=0))
    assert model.summary().splitlines()[-1] == "Total params: 8 (32 B as float32)"
    assert ll.Model().summary().splitlines()[-1] == "Total params: 0 (0 B)"
    big = ll.Model(head=ll.Linear(1000, 1000, rng=0))
    assert big.summary().splitlines()[-1] == "Total params: 1,001,000 (7.6 MiB as float64)"


def test_summary_shows_as_a_table_in_ipython():
    pretty = pytest.importorskip("IPython.lib.pretty")
    model = ll.Model(head=ll.Linear(2, 3, rng=0))
    assert pretty.pretty(model.summary()) == str(model.summary())
