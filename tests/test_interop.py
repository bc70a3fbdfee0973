import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll

D, H = 3, 4
GOLDEN = Path(__file__).parent / "data" / "golden_layers.npz"


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))


def as_tuple(state):
    return tuple(state) if isinstance(state, tuple) else (state,)


# -- conversion without torch ---------------------------------------------------------------
@pytest.mark.parametrize("cls", [ll.RNN, ll.LSTM, ll.GRU])
def test_round_trip_into_another_layer(cls):
    a = randomize_params(cls(D, H, num_layers=2, bidirectional=True, rng=0))
    b = cls(D, H, num_layers=2, bidirectional=True, rng=1)
    arrays_before = {k: v for k, v in b.params.items()}
    b.load_torch_state_dict(a.torch_state_dict())
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
        assert b.params[k] is arrays_before[k]  # written in place, not rebound
    x = np.random.default_rng(2).standard_normal((5, 2, D))
    assert max_diff(a.forward(x)[0], b.forward(x)[0]) == 0


def test_names_shapes_and_exported_biases():
    lstm = randomize_params(ll.LSTM(D, H, num_layers=2, bidirectional=True, rng=0))
    sd = lstm.torch_state_dict()
    assert sorted(sd) == sorted(f"{w}_l{k}{s}" for w in ("weight_ih", "weight_hh", "bias_ih",
                                                          "bias_hh")
                                for k in range(2) for s in ("", "_reverse"))
    assert sd["weight_ih_l0"].shape == (4 * H, D)
    assert sd["weight_ih_l1_reverse"].shape == (4 * H, 2 * H)
    assert np.array_equal(sd["weight_hh_l1_reverse"], lstm.params["layers.1.bwd.W_h"].T)
    assert np.array_equal(sd["bias_ih_l0"], lstm.params["layers.0.fwd.b"])
    assert not sd["bias_hh_l0"].any()
    sd["weight_ih_l0"][...] = 0  # a copy: the model is not touched
    assert lstm.params["layers.0.fwd.W_x"].any()

    gru = randomize_params(ll.GRU(D, H, rng=0))
    sd = gru.torch_state_dict()
    b, b_hn = gru.params["layers.0.fwd.b"], gru.params["layers.0.fwd.b_hn"]
    assert np.array_equal(sd["bias_ih_l0"], b)
    assert np.array_equal(sd["bias_hh_l0"], np.concatenate([np.zeros(2 * H), b_hn]))
    assert sorted(ll.RNN(D, H, bias=False).torch_state_dict()) == ["weight_hh_l0", "weight_ih_l0"]


def test_loading_sums_the_two_biases():
    rng = np.random.default_rng(3)
    lstm = ll.LSTM(D, H, rng=0)
    sd = {"weight_ih_l0": rng.standard_normal((4 * H, D)),
          "weight_hh_l0": rng.standard_normal((4 * H, H)),
          "bias_ih_l0": rng.standard_normal(4 * H), "bias_hh_l0": rng.standard_normal(4 * H)}
    lstm.load_torch_state_dict(sd)
    assert np.array_equal(lstm.params["layers.0.fwd.W_x"], sd["weight_ih_l0"].T)
    assert np.allclose(lstm.params["layers.0.fwd.b"], sd["bias_ih_l0"] + sd["bias_hh_l0"])

    gru = ll.GRUCell(D, H, rng=0)
    sd = {"weight_ih": rng.standard_normal((3 * H, D)),
          "weight_hh": rng.standard_normal((3 * H, H)),
          "bias_ih": rng.standard_normal(3 * H), "bias_hh": rng.standard_normal(3 * H)}
    gru.load_torch_state_dict(sd)
    b = gru.params["b"]
    assert np.allclose(b[: 2 * H], sd["bias_ih"][: 2 * H] + sd["bias_hh"][: 2 * H])
    assert np.array_equal(b[2 * H :], sd["bias_ih"][2 * H :])
    assert np.array_equal(gru.params["b_hn"], sd["bias_hh"][2 * H :])


def test_float32_weights_are_cast_into_float64_params():
    cell = ll.RNNCell(D, H, rng=0)
    sd = {k: v.astype(np.float32) for k, v in ll.RNNCell(D, H, rng=5).torch_state_dict().items()}
    cell.load_torch_state_dict(sd)
    assert cell.params["W_x"].dtype == np.float64
    assert np.array_equal(cell.params["W_x"], sd["weight_ih"].T.astype(np.float64))


def test_torch_grads_map_our_gradients():
    gru = randomize_params(ll.GRU(D, H, bidirectional=True, rng=0))
    out, _ = gru.forward(np.random.default_rng(4).standard_normal((5, 2, D)))
    gru.backward(np.ones_like(out))
    g = gru.torch_grads()
    db, db_hn = gru.grads["layers.0.bwd.b"], gru.grads["layers.0.bwd.b_hn"]
    assert np.array_equal(g["weight_hh_l0_reverse"], gru.grads["layers.0.bwd.W_h"].T)
    assert np.array_equal(g["bias_ih_l0_reverse"], db)
    assert np.array_equal(g["bias_hh_l0_reverse"], np.concatenate([db[: 2 * H], db_hn]))
    lstm = randomize_params(ll.LSTMCell(D, H, rng=0))
    _, cache = lstm.forward(np.ones((2, D)), lstm.initial_state(2))
    lstm.backward(ll.LSTMState(np.ones((2, H)), np.ones((2, H))), cache)
    g = lstm.torch_grads()
    assert np.array_equal(g["bias_ih"], lstm.grads["b"])
    assert np.array_equal(g["bias_hh"], lstm.grads["b"])
    assert g["bias_hh"].any()


def test_validation_happens_before_any_write():
    lstm = randomize_params(ll.LSTM(D, H, num_layers=2, rng=0))
    before = {k: v.copy() for k, v in lstm.params.items()}
    sd = ll.LSTM(D, H, num_layers=2, rng=1).torch_state_dict()

    missing = dict(sd)
    del missing["bias_hh_l1"]
    with pytest.raises(ValueError, match=r"missing \['bias_hh_l1'\], unexpected \[\]"):
        lstm.load_torch_state_dict(missing)
    extra = dict(sd, weight_ih_l0_reverse=sd["weight_ih_l0"])
    with pytest.raises(ValueError, match=r"missing \[\], unexpected \['weight_ih_l0_reverse'\]"):
        lstm.load_torch_state_dict(extra)
    bad_shape = dict(sd, weight_hh_l1=np.zeros((4 * H, H + 1)))  # the last layer's, written last
    with pytest.raises(ValueError, match=r"state_dict\['weight_hh_l1'\]: expected shape \(16, 4\), "
                                         r"got \(16, 5\)"):
        lstm.load_torch_state_dict(bad_shape)
    bad_dtype = dict(sd, bias_ih_l1=np.zeros(4 * H, dtype=int))
    with pytest.raises(TypeError, match=r"state_dict\['bias_ih_l1'\]: expected a floating array"):
        lstm.load_torch_state_dict(bad_dtype)
    with pytest.raises(TypeError, match="state_dict: expected a dict of arrays, got list"):
        lstm.load_torch_state_dict(list(sd.items()))
    for k in before:
        assert np.array_equal(lstm.params[k], before[k]), k  # nothing was written


@pytest.mark.parametrize("model, message", [
    (ll.LSTM(D, H, peephole=True), r"LSTMCell\(peephole=True\) has no PyTorch counterpart"),
    (ll.LSTM(D, H, coupled=True), r"LSTMCell\(coupled=True\) has no PyTorch counterpart"),
    (ll.GRU(D, H, reset_after=False), r"GRUCell\(reset_after=False\) has no PyTorch counterpart"),
    (ll.LSTMCell(D, H, peephole=True), r"LSTMCell\(peephole=True\) has no PyTorch counterpart"),
    (ll.GRUCell(D, H, reset_after=False), r"GRUCell\(reset_after=False\) has no PyTorch"),
])
def test_variants_without_pytorch_counterpart_are_refused(model, message):
    with pytest.raises(ValueError, match=message):
        model.torch_state_dict()
    with pytest.raises(ValueError, match=message):
        model.torch_grads()
    with pytest.raises(ValueError, match=message):
        model.load_torch_state_dict({})


# -- golden arrays: PyTorch's numbers, checked without torch ----------------------------------
def golden_cases():
    with np.load(GOLDEN, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    names = sorted({k.split("/")[0] for k in arrays})
    return {name: {k[len(name) + 1 :]: v for k, v in arrays.items() if k.startswith(name + "/")}
            for name in names}


def run_lstmlab(kind, kwargs, case):
    """Our forward and backward on a golden case; the same fields as the file."""
    model = getattr(ll, kind)(D, H, **kwargs, rng=0)  # same names as the torch constructor
    model.load_torch_state_dict({k[3:]: v for k, v in case.items() if k.startswith("sd/")})
    is_lstm = kind.startswith("LSTM")
    state = ll.LSTMState(case["h0"], case["c0"]) if is_lstm else case["h0"]
    dstate = ll.LSTMState(case["G_h"], case["G_c"]) if is_lstm else case["G_h"]
    got = {}
    if kind.endswith("Cell"):
        new, cache = model.forward(case["x"], state)
        dx, ds0 = model.backward(dstate, cache)
    else:
        out, new = model.forward(case["x"], state, lengths=case.get("lengths"))
        dx, ds0 = model.backward(case["G_out"], dstate)
        got["out"] = out
    got["h_n"], got["grad/x"], got["grad/h0"] = as_tuple(new)[0], dx, as_tuple(ds0)[0]
    if is_lstm:
        got["c_n"], got["grad/c0"] = new[1], ds0[1]
    got.update({f"grad/sd/{k}": v for k, v in model.torch_grads().items()})
    return got


def test_golden_arrays_are_reproduced():
    cases = golden_cases()
    assert set(cases) == {"lstm_2layer_bi", "gru_2layer", "rnn_relu_batch_first",
                          "lstm_lengths_bi", "rnn_cell", "lstm_cell", "gru_cell"}
    for name, case in cases.items():
        config = json.loads(str(case["config"]))
        got = run_lstmlab(config["kind"], config["kwargs"], case)
        expected = {k for k in case if k in ("out", "h_n", "c_n") or k.startswith("grad/")}
        assert set(got) == expected, name
        for key in expected:
            assert got[key].shape == case[key].shape, (name, key)
            assert max_diff(got[key], case[key]) < 1e-10, (name, key)


def test_golden_lengths_case_has_padding():
    case = golden_cases()["lstm_lengths_bi"]
    lengths = case["lengths"]
    assert lengths.min() < case["x"].shape[0] == lengths.max()
    assert np.all(case["out"][lengths[1]:, 1] == 0)


# -- PyTorch itself ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    return torch


KINDS = {"RNN-tanh": ("RNN", {}), "RNN-relu": ("RNN", {"nonlinearity": "relu"}),
         "LSTM": ("LSTM", {}), "GRU": ("GRU", {})}


def compare_layer(torch, kind, kwargs, T=5, N=3, lengths=None, with_state=True, seed=0):
    """Run the same layer in torch and lstmlab; return the max abs difference of everything."""
    torch.manual_seed(seed)
    tmodel = getattr(torch.nn, kind)(D, H, **kwargs, dtype=torch.float64)
    ours = getattr(ll, kind)(D, H, **kwargs, rng=seed)
    ours.load_torch_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    bf = kwargs.get("batch_first", False)
    K = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    dirs = 2 if kwargs.get("bidirectional") else 1
    is_lstm = kind == "LSTM"
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((N, T, D) if bf else (T, N, D))
    states = [rng.standard_normal((K, N, H)) for _ in range(2 if is_lstm else 1)]
    G_out = rng.standard_normal((N, T, dirs * H) if bf else (T, N, dirs * H))
    G_states = [rng.standard_normal((K, N, H)) for _ in states]

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
    hx = (tuple(st) if is_lstm else st[0]) if with_state else None
    tout, tstate = tmodel(inp, hx)
    if lengths is not None:
        tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first=bf, total_length=T)
    tstate = list(tstate) if is_lstm else [tstate]
    loss = (tout * torch.tensor(G_out)).sum()
    for s, g in zip(tstate, G_states):
        loss = loss + (s * torch.tensor(g)).sum()
    loss.backward()

    state0 = (ll.LSTMState(*states) if is_lstm else states[0]) if with_state else None
    out, state = ours.forward(x, state0, lengths=lengths)
    dx, dstate0 = ours.backward(G_out, ll.LSTMState(*G_states) if is_lstm else G_states[0])
    errors = {"out": max_diff(out, tout.detach().numpy()), "dx": max_diff(dx, xt.grad.numpy())}
    for j, name in enumerate(["h", "c"][: len(states)]):
        errors[f"{name}_n"] = max_diff(as_tuple(state)[j], tstate[j].detach().numpy())
        if with_state:
            errors[f"d{name}0"] = max_diff(as_tuple(dstate0)[j], st[j].grad.numpy())
    grads = ours.torch_grads()
    tgrads = {k: p.grad.numpy() for k, p in tmodel.named_parameters()}
    assert set(grads) == set(tgrads)
    for k in tgrads:
        errors[k] = max_diff(grads[k], tgrads[k])
    assert out.shape == tuple(tout.shape)
    return errors


LAYER_CASES = list(itertools.product(KINDS, [1, 2], [False, True], [False, True], [True, False]))


@pytest.mark.parametrize("kind, num_layers, bidirectional, batch_first, bias", LAYER_CASES)
def test_layer_equals_pytorch(torch, kind, num_layers, bidirectional, batch_first, bias):
    name, kwargs = KINDS[kind]
    kwargs = dict(kwargs, num_layers=num_layers, bidirectional=bidirectional,
                  batch_first=batch_first, bias=bias)
    errors = compare_layer(torch, name, kwargs)
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("kind, bidirectional, batch_first",
                         list(itertools.product(KINDS, [False, True], [False, True])))
def test_lengths_equal_pytorch_packed_sequences(torch, kind, bidirectional, batch_first):
    name, kwargs = KINDS[kind]
    kwargs = dict(kwargs, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    errors = compare_layer(torch, name, kwargs, T=5, N=4, lengths=np.array([2, 5, 1, 3]))
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("kind", list(KINDS))
def test_zero_initial_state_equals_pytorch_default(torch, kind):
    name, kwargs = KINDS[kind]
    errors = compare_layer(torch, name, dict(kwargs, bidirectional=True), with_state=False)
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_exported_weights_give_pytorch_the_same_model(torch, kind):
    ours = randomize_params(getattr(ll, kind)(D, H, num_layers=2, bidirectional=True, rng=0))
    tmodel = getattr(torch.nn, kind)(D, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in ours.torch_state_dict().items()},
                           strict=True)
    x = np.random.default_rng(6).standard_normal((5, 2, D))
    out, _ = ours.forward(x)
    assert max_diff(out, tmodel(torch.from_numpy(x))[0].detach().numpy()) < 1e-10


@pytest.mark.parametrize("kind, bias", list(itertools.product(
    ["RNNCell-tanh", "RNNCell-relu", "LSTMCell", "GRUCell"], [True, False])))
def test_cell_equals_pytorch(torch, kind, bias):
    name, _, nonlinearity = kind.partition("-")
    kwargs = {"bias": bias} | ({"nonlinearity": nonlinearity} if nonlinearity else {})
    torch.manual_seed(0)
    tcell = getattr(torch.nn, name)(D, H, **kwargs, dtype=torch.float64)
    cell = getattr(ll, name)(D, H, **kwargs, rng=0)
    cell.load_torch_state_dict({k: v.detach().numpy() for k, v in tcell.state_dict().items()})
    is_lstm = name == "LSTMCell"
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, D))
    states = [rng.standard_normal((2, H)) for _ in range(2 if is_lstm else 1)]
    Gs = [rng.standard_normal((2, H)) for _ in states]
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    tnew = tcell(xt, tuple(st) if is_lstm else st[0])
    tnew = list(tnew) if is_lstm else [tnew]
    sum((s * torch.tensor(g)).sum() for s, g in zip(tnew, Gs)).backward()

    new, cache = cell.forward(x, ll.LSTMState(*states) if is_lstm else states[0])
    dx, dstate0 = cell.backward(ll.LSTMState(*Gs) if is_lstm else Gs[0], cache)
    for j in range(len(states)):
        assert max_diff(as_tuple(new)[j], tnew[j].detach().numpy()) < 1e-12
        assert max_diff(as_tuple(dstate0)[j], st[j].grad.numpy()) < 1e-12
    assert max_diff(dx, xt.grad.numpy()) < 1e-12
    grads = cell.torch_grads()
    assert set(grads) == {k for k, _ in tcell.named_parameters()}
    for k, p in tcell.named_parameters():
        assert max_diff(grads[k], p.grad.numpy()) < 1e-12, k


# -- the projection (proj_size): nn.LSTM(proj_size=P) ------------------------------------------
P = 2


def run_projection_pair(torch, num_layers, bidirectional, batch_first=False, lengths=None,
                        T=5, N=3, seed=0):
    """Torch's and our projected LSTM on the same weights; every difference, by name."""
    torch.manual_seed(seed)
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                  proj_size=P)
    tmodel = torch.nn.LSTM(D, H, **kwargs, dtype=torch.float64)
    ours = ll.LSTM(D, H, **kwargs, rng=seed)
    sd = {k: v.detach().numpy() for k, v in tmodel.state_dict().items()}
    assert {k for k in sd if k.startswith("weight_hr")} == {
        f"weight_hr_l{k}{s}" for k in range(num_layers)
        for s in ([""] + (["_reverse"] if bidirectional else []))}
    ours.load_torch_state_dict(sd)
    dirs = 2 if bidirectional else 1
    K = num_layers * dirs
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    h0, c0 = rng.standard_normal((K, N, P)), rng.standard_normal((K, N, H))
    G_out = rng.standard_normal((N, T, dirs * P) if batch_first else (T, N, dirs * P))
    G_h, G_c = rng.standard_normal((K, N, P)), rng.standard_normal((K, N, H))

    xt = torch.tensor(x, requires_grad=True)
    h0t, c0t = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    tout, (h_nt, c_nt) = tmodel(inp, (h0t, c0t))
    if lengths is not None:
        tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first=batch_first,
                                                         total_length=T)
    loss = ((tout * torch.tensor(G_out)).sum() + (h_nt * torch.tensor(G_h)).sum()
            + (c_nt * torch.tensor(G_c)).sum())
    loss.backward()

    out, (h_n, c_n) = ours.forward(x, ll.LSTMState(h0, c0), lengths=lengths)
    dx, (dh0, dc0) = ours.backward(G_out, ll.LSTMState(G_h, G_c))
    assert out.shape == tuple(tout.shape) and h_n.shape == (K, N, P) and c_n.shape == (K, N, H)
    errors = {"out": max_diff(out, tout.detach().numpy()),
              "h_n": max_diff(h_n, h_nt.detach().numpy()),
              "c_n": max_diff(c_n, c_nt.detach().numpy()),
              "dx": max_diff(dx, xt.grad.numpy()),
              "dh0": max_diff(dh0, h0t.grad.numpy()), "dc0": max_diff(dc0, c0t.grad.numpy())}
    grads = ours.torch_grads()
    tgrads = {k: p.grad.numpy() for k, p in tmodel.named_parameters()}
    assert set(grads) == set(tgrads)
    errors.update({k: max_diff(grads[k], tgrads[k]) for k in tgrads})
    return errors


@pytest.mark.parametrize("num_layers, bidirectional, batch_first",
                         list(itertools.product([1, 2], [False, True], [False, True])))
def test_projection_equals_pytorch(torch, num_layers, bidirectional, batch_first):
    errors = run_projection_pair(torch, num_layers, bidirectional, batch_first)
    assert max(errors.values()) < 1e-12, errors


def test_projection_with_lengths_equals_pytorch(torch):
    errors = run_projection_pair(torch, 2, True, T=5, N=4, lengths=np.array([2, 5, 1, 3]))
    assert max(errors.values()) < 1e-12, errors


def test_projection_exports_to_pytorch(torch):
    ours = randomize_params(ll.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=P, rng=0))
    sd = ours.torch_state_dict()
    assert sd["weight_hr_l1_reverse"].shape == (P, H) and sd["weight_hh_l0"].shape == (4 * H, P)
    assert sd["weight_ih_l1"].shape == (4 * H, 2 * P)  # layer 1 reads both directions' P
    tmodel = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=P,
                           dtype=torch.float64)
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    x = np.random.default_rng(6).standard_normal((5, 2, D))
    out, _ = ours.forward(x)
    assert max_diff(out, tmodel(torch.from_numpy(x))[0].detach().numpy()) < 1e-12


def test_projection_state_dict_names_without_torch():
    cell = randomize_params(ll.LSTMCell(D, H, proj_size=P, rng=0))
    sd = cell.torch_state_dict()
    assert sorted(sd) == ["bias_hh", "bias_ih", "weight_hh", "weight_hr", "weight_ih"]
    assert np.array_equal(sd["weight_hr"], cell.params["W_hr"].T)
    other = ll.LSTMCell(D, H, proj_size=P, rng=1)
    other.load_torch_state_dict(sd)
    assert all(np.array_equal(other.params[k], cell.params[k]) for k in cell.params)
    with pytest.raises(ValueError, match=r"missing \['weight_hr'\]"):
        other.load_torch_state_dict({k: v for k, v in sd.items() if k != "weight_hr"})
    with pytest.raises(ValueError, match=r"unexpected \['weight_hr'\]"):
        ll.LSTMCell(D, H, rng=0).load_torch_state_dict(sd)
