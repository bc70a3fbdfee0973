"""Greff et al.'s (2015) LSTM variants as LSTMCell options: equations, gradients, layers, errors."""

import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll

# The paper's name -> the options (each variant of Greff et al. changes one thing)
GREFF = {
    "NIG": {"input_gate": False},
    "NFG": {"forget_gate": False},
    "NOG": {"output_gate": False},
    "NIAF": {"input_activation": False},
    "NOAF": {"output_activation": False},
    "NP": {},  # no peepholes: lstmlab's default (the study's vanilla LSTM has peephole=True)
    "CIFG": {"coupled": True},
    "FGR": {"gate_recurrence": True},
}
# Combinations that meet in the same lines of code
MIXED = {
    "FGR+CIFG+proj": {"gate_recurrence": True, "coupled": True, "proj_size": 2},
    "FGR+NIG+NOG": {"gate_recurrence": True, "input_gate": False, "output_gate": False},
    "NIG+NFG": {"input_gate": False, "forget_gate": False},
    "NOG+NOAF+proj": {"output_gate": False, "output_activation": False, "proj_size": 3},
    "NIAF+NOAF+CIFG": {"input_activation": False, "output_activation": False, "coupled": True},
}
ALL = {**GREFF, **MIXED}


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def random_state(cell, N, rng):
    shapes = cell.split_state(cell.initial_state(N))
    return cell.join_state([rng.standard_normal(a.shape) for a in shapes])


def make_cell(options, peephole, D=3, H=4, seed=0):
    """A float64 cell with every parameter random (peepholes start at 0, which hides terms)."""
    return randomize_params(ll.LSTMCell(D, H, peephole=peephole, rng=seed, **options), seed=seed)


@pytest.mark.parametrize("peephole", [False, True], ids=["", "peephole"])
@pytest.mark.parametrize("name", list(ALL))
def test_gradient_check_one_step(name, peephole):
    cell = make_cell(ALL[name], peephole)
    report = ll.check_cell(cell, N=3)
    assert set(cell.params) <= set(report)
    report.assert_ok(1e-7)


@pytest.mark.parametrize("peephole", [False, True], ids=["", "peephole"])
@pytest.mark.parametrize("name", list(ALL))
def test_gradient_check_through_time(name, peephole):
    # Every input, the initial state (q too, with gate recurrence) and every parameter,
    # through 6 steps, with a padded sequence: float64 central differences.
    cell = make_cell(ALL[name], peephole)
    layer = ll.Recurrent(cell)
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((6, 3, 3))
    state = random_state(cell, 3, rng)
    report = ll.check_layer(layer, xs, state, lengths=[6, 4, 1])
    assert len(report) == 1 + len(state) + len(cell.params)
    report.assert_ok(1e-6)


@pytest.mark.parametrize("name", ["NFG", "FGR", "NOAF"])
def test_gradient_check_reverse_and_final_state_only(name):
    cell = make_cell(GREFF[name], True)
    layer = ll.Recurrent(cell, reverse=True)
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((5, 2, 3))
    state = random_state(cell, 2, rng)

    class FinalStateOnly:  # the loss reads only the final state (an encoder)
        params, grads = layer.params, layer.grads

        def forward(self, xs, state):
            return layer.forward(xs, state)[1]

        def backward(self, dstate):
            return layer.backward(None, dstate)

    ll.check_layer(FinalStateOnly(), xs, state).assert_ok(1e-6)


def test_broken_backward_is_caught():
    # The checks above can fail: drop the gate-recurrence term of dq_prev and see it.
    cell = make_cell(GREFF["FGR"], False)
    original = cell.backward_step

    def broken(dstate, cache, **kwargs):
        da, dprev = original(dstate, cache, **kwargs)
        return da, dprev._replace(q=0.5 * dprev.q)

    cell.backward_step = broken
    report = ll.check_layer(ll.Recurrent(cell), np.random.default_rng(3).standard_normal((4, 2, 3)))
    assert report.max_error > 1e-3


@pytest.mark.parametrize("name", list(GREFF))
def test_equations_by_hand(name):
    # Each variant's step, written out with an independent sigmoid.
    opts = GREFF[name]
    D, H, N = 3, 4, 2
    cell = make_cell(opts, peephole=True, D=D, H=H)
    p = cell.params
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, D))
    state = random_state(cell, N, rng)
    new, cache = cell.forward(x, state)

    a = x @ p["W_x"] + state.h @ p["W_h"] + p["b"]
    blocks = dict(zip(cell.gates, np.split(a, len(cell.gates), axis=1)))
    r = {"i": 0.0, "f": 0.0, "o": 0.0}
    if opts.get("gate_recurrence"):
        r.update(zip(cell.q_gates, np.split(state.q @ p["W_q"], len(cell.q_gates), axis=1)))
    f = sig(blocks["f"] + p["p_f"] * state.c + r["f"]) if "f" in blocks else 1.0
    if opts.get("coupled"):
        i = 1.0 - f
    else:
        i = sig(blocks["i"] + p["p_i"] * state.c + r["i"]) if "i" in blocks else 1.0
    g = np.tanh(blocks["g"]) if opts.get("input_activation", True) else blocks["g"]
    c = f * state.c + i * g
    o = sig(blocks["o"] + p["p_o"] * c + r["o"]) if "o" in blocks else 1.0
    h = o * (np.tanh(c) if opts.get("output_activation", True) else c)

    assert np.allclose(new.c, c, rtol=0, atol=1e-14)
    assert np.allclose(new.h, h, rtol=0, atol=1e-14)
    for gate, value in (("i", i), ("f", f), ("o", o)):
        assert np.allclose(getattr(cache, gate), value, rtol=0, atol=1e-14)
    if opts.get("gate_recurrence"):
        assert np.allclose(new.q, np.concatenate([i, f, o], axis=1), rtol=0, atol=1e-14)


@pytest.mark.parametrize("name, gates, extra, missing", [
    ("NIG", "fgo", set(), {"p_i"}),
    ("NFG", "igo", set(), {"p_f"}),
    ("NOG", "ifg", set(), {"p_o"}),
    ("NIAF", "ifgo", set(), set()),
    ("NOAF", "ifgo", set(), set()),
    ("CIFG", "fgo", set(), {"p_i"}),
    ("FGR", "ifgo", {"W_q"}, set()),
])
def test_removed_parts_have_no_weights(name, gates, extra, missing):
    D, H = 3, 4
    cell = ll.LSTMCell(D, H, peephole=True, rng=0, **GREFF[name])
    assert cell.gates == gates and cell.gate_width == len(gates) * H
    assert cell.params["W_x"].shape == (D, len(gates) * H)
    assert cell.params["W_h"].shape == (H, len(gates) * H)
    assert cell.params["b"].shape == (len(gates) * H,)
    peepholes = {"p_i", "p_f", "p_o"}
    assert set(cell.params) == {"W_x", "W_h", "b"} | extra | (peepholes - missing)
    if extra:
        assert cell.params["W_q"].shape == (3 * H, 3 * H)


def test_a_removed_gate_is_the_number_one():
    cell = make_cell({"input_gate": False, "forget_gate": False}, False)
    x, state = np.ones((2, 3)), random_state(cell, 2, np.random.default_rng(5))
    new, cache = cell.forward(x, state)
    assert cache.i == 1.0 and cache.f == 1.0
    assert np.allclose(new.c, state.c + cache.g)  # the 1997 cell: c = c_prev + g


def test_gate_recurrence_with_zero_weights_is_the_plain_cell():
    plain = make_cell({}, False)
    fgr = ll.LSTMCell(3, 4, gate_recurrence=True, rng=0)
    for k in plain.params:
        fgr.params[k][...] = plain.params[k]
    fgr.params["W_q"][...] = 0.0
    rng = np.random.default_rng(6)
    xs = rng.standard_normal((5, 2, 3))
    hs_plain, s_plain = ll.Recurrent(plain).forward(xs)
    hs_fgr, s_fgr = ll.Recurrent(fgr).forward(xs)
    assert np.array_equal(hs_plain, hs_fgr) and np.array_equal(s_plain.c, s_fgr.c)
    assert np.all(fgr.initial_state(2).q == 0) and s_fgr.q.shape == (2, 12)


def test_gate_recurrence_state_through_a_layer():
    # Stacked and bidirectional: h_n, c_n and q_n, each (L*dirs, N, .), and a gradient check.
    lstm = randomize_params(ll.LSTM(3, 4, num_layers=2, bidirectional=True,
                                    gate_recurrence=True, coupled=True, rng=0))
    assert type(lstm.layers[0][0]) is ll.Recurrent
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 2, 3))
    state = ll.LSTMGateState(*(rng.standard_normal((4, 2, w)) for w in (4, 4, 8)))
    out, (h_n, c_n, q_n) = lstm.forward(x, state)
    assert out.shape == (5, 2, 8) and q_n.shape == (4, 2, 8)
    lstm.backward(np.ones_like(out))
    report = ll.check_layer(lstm, x, state, lengths=[5, 3])
    assert "layers.1.bwd.W_q" in report and "input1.q" in report
    report.assert_ok(1e-6)
    with pytest.raises(TypeError, match=r"state: expected a tuple \(h, c, q\)"):
        lstm.forward(x, ll.LSTMState(h_n, c_n))
    assert repr(lstm) == ("LSTM(3, 4, num_layers=2, bidirectional=True, coupled=True, "
                          "gate_recurrence=True)")


@pytest.mark.parametrize("name", [n for n in GREFF if n != "NP"])
def test_layers_run_the_textbook_path(name):
    lstm = ll.LSTM(3, 4, rng=0, **GREFF[name])
    assert type(lstm.layers[0][0]) is ll.Recurrent
    option, value = next(iter(GREFF[name].items()))
    assert f"{option}={value}" in repr(lstm)
    assert f"{option}={value}" in repr(lstm.layers[0][0].cell)
    with pytest.raises(ValueError, match="has no PyTorch counterpart"):
        lstm.torch_state_dict()


def test_cell_state_is_checked():
    cell = ll.LSTMCell(3, 4, gate_recurrence=True)
    with pytest.raises(TypeError, match=r"state: expected LSTMGateState\(h, c, q\)"):
        cell.forward(np.ones((2, 3)), ll.LSTMState(np.zeros((2, 4)), np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"state.q: expected shape \(N, K\*H\) = \(2, 12\)"):
        cell.forward(np.ones((2, 3)), ll.LSTMGateState(*(np.zeros((2, 4)),) * 3))
    with pytest.raises(TypeError, match=r"state: expected LSTMState\(h, c\)"):
        ll.LSTMCell(3, 4).forward(np.ones((2, 3)), ll.LSTMGateState(*(np.zeros((2, 4)),) * 3))


@pytest.mark.parametrize("options, both", [
    ({"coupled": True, "forget_gate": False}, ("coupled=True", "forget_gate=False")),
    ({"coupled": True, "input_gate": False}, ("coupled=True", "input_gate=False")),
    ({"forget_bias": 1.0, "forget_gate": False}, ("forget_bias=1.0", "forget_gate=False")),
    ({"peephole": True, "input_gate": False, "forget_gate": False, "output_gate": False},
     ("peephole=True", "output_gate=False")),
    ({"gate_recurrence": True, "input_gate": False, "forget_gate": False, "output_gate": False},
     ("gate_recurrence=True", "input_gate=False")),
])
def test_contradicting_options_name_both(options, both):
    for make in (ll.LSTMCell, ll.LSTM):
        with pytest.raises(ValueError) as info:
            make(3, 4, **options)
        for text in both:
            assert text in str(info.value)


@pytest.mark.parametrize("option", ["input_gate", "forget_gate", "output_gate",
                                    "input_activation", "output_activation", "gate_recurrence"])
def test_options_must_be_true_or_false(option):
    with pytest.raises(TypeError, match=f"{option}: expected True or False, got str 'False'"):
        ll.LSTMCell(3, 4, **{option: "False"})


def test_variants_learn_through_a_model():
    # One optimizer step lowers the loss for every variant (the gradients point downhill).
    rng = np.random.default_rng(8)
    xs, target = rng.standard_normal((6, 4, 2)), rng.standard_normal((4, 1))
    for options in GREFF.values():
        model = ll.Model(rnn=ll.LSTM(2, 5, peephole=True, rng=0, **options),
                         head=ll.Linear(5, 1, rng=0))
        opt = ll.SGD(model.params, model.grads, lr=0.05)
        losses = []
        for _ in range(2):
            model.zero_grad()
            out, _ = model.rnn.forward(xs)
            loss, dy = ll.mse(model.head.forward(out[-1]), target)
            dout = np.zeros_like(out)
            dout[-1] = model.head.backward(dy)
            model.rnn.backward(dout)
            opt.step()
            losses.append(loss)
        assert losses[1] < losses[0], options
