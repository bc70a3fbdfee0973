import math

import numpy as np
import pytest

import lstmlab as ll

SHAPES = {"W": (3, 4), "b": (4,), "embed.W": (5, 2)}


def make_problem(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    grads = {k: np.zeros_like(p) for k, p in params.items()}
    return params, grads


def gradient_stream(steps, seed=1):
    """The gradients of each step; some elements tiny, some large, a few exact zeros."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        g = {k: rng.standard_normal(s) * rng.choice([1e-3, 1.0, 10.0], size=s)
             for k, s in SHAPES.items()}
        g["b"][0] = 0.0
        out.append(g)
    return out


# -- PyTorch, step for step ----------------------------------------------------------------------
TORCH_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1,
                     eps=1e-6)),
    ("RMSprop", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, alpha=0.9, momentum=0.8, weight_decay=0.01)),
    ("RMSprop", dict(lr=1e-3, centered=True, eps=1e-6)),
    ("RMSprop", dict(lr=1e-3, alpha=0.95, centered=True, momentum=0.5)),
]


def run_against_torch(torch, name, kwargs, steps=60, lr_changes=None):
    """Max |p - p_torch| over all params, after each step; the lr may change on the way."""
    params, grads = make_problem()
    opt = getattr(ll, name)(params, grads, **kwargs)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params.values()]
    topt = getattr(torch.optim, name)(tparams, foreach=False, **kwargs)
    worst = 0.0
    for t, g in enumerate(gradient_stream(steps), start=1):
        for (k, grad), tp in zip(grads.items(), tparams):
            grad[...] = g[k]
            tp.grad = torch.from_numpy(g[k].copy())
        if lr_changes and t in lr_changes:
            opt.lr = lr_changes[t]
            topt.param_groups[0]["lr"] = lr_changes[t]
        opt.step()
        topt.step()
        for p, tp in zip(params.values(), tparams):
            worst = max(worst, float(np.abs(p - tp.detach().numpy()).max()))
    return worst


@pytest.mark.parametrize("name, kwargs", TORCH_CASES)
def test_matches_torch_step_for_step(name, kwargs):
    torch = pytest.importorskip("torch")
    assert run_against_torch(torch, name, kwargs) < 1e-12


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "RMSprop"])
def test_matches_torch_when_lr_changes_between_steps(name):
    torch = pytest.importorskip("torch")
    kwargs = dict(lr=0.05, momentum=0.9) if name == "SGD" else dict(lr=0.05)
    assert run_against_torch(torch, name, kwargs, steps=20,
                             lr_changes={5: 0.01, 12: 0.002}) < 1e-12


# -- hand-computed cases (always run) ------------------------------------------------------------
def one_param(value, grad):
    return {"w": np.array([value])}, {"w": np.array([grad])}


def test_sgd_plain_and_weight_decay_by_hand():
    p, g = one_param(2.0, 0.5)
    opt = ll.SGD(p, g, lr=0.1, weight_decay=0.2)
    opt.step()  # d = 0.5 + 0.2 * 2 = 0.9
    assert p["w"][0] == pytest.approx(2.0 - 0.1 * 0.9, abs=1e-15)


def test_sgd_momentum_dampening_and_nesterov_by_hand():
    p, g = one_param(1.0, 1.0)
    opt = ll.SGD(p, g, lr=0.1, momentum=0.5, dampening=0.2)
    opt.step()  # t = 1: b = d = 1 (no dampening on the first step)
    assert p["w"][0] == pytest.approx(0.9, abs=1e-15)
    g["w"][0] = 2.0
    opt.step()  # b = 0.5 * 1 + 0.8 * 2 = 2.1
    assert p["w"][0] == pytest.approx(0.9 - 0.21, abs=1e-15)

    p, g = one_param(1.0, 1.0)
    opt = ll.SGD(p, g, lr=0.1, momentum=0.5, nesterov=True)
    opt.step()  # b = 1; d = 1 + 0.5 * 1 = 1.5
    assert p["w"][0] == pytest.approx(1.0 - 0.15, abs=1e-15)
    opt.step()  # b = 0.5 + 1 = 1.5; d = 1 + 0.75 = 1.75
    assert p["w"][0] == pytest.approx(0.85 - 0.175, abs=1e-15)


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    p, g = one_param(1.0, 2.0)
    opt = ll.Adam(p, g, lr=lr)
    w, m, v = 1.0, 0.0, 0.0
    for t, grad in [(1, 2.0), (2, -1.0)]:
        g["w"][0] = grad
        opt.step()
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w -= lr * m_hat / (math.sqrt(v_hat) + eps)
        assert p["w"][0] == pytest.approx(w, abs=1e-15)
    # step 1: m_hat = g, v_hat = g^2, so the step is lr * sign(g) (up to eps)
    # step 2: m = 0.18 - 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996
    m_hat, v_hat = 0.08 / 0.19, 0.004996 / (1 - 0.999**2)
    assert p["w"][0] == pytest.approx(1.0 - 0.1 - 0.1 * m_hat / math.sqrt(v_hat), abs=1e-8)
    assert opt.state["exp_avg"]["w"][0] == pytest.approx(0.08, abs=1e-15)
    assert opt.state["exp_avg_sq"]["w"][0] == pytest.approx(0.004996, abs=1e-15)


def test_adam_amsgrad_keeps_the_max_by_hand():
    p, g = one_param(0.0, 10.0)
    opt = ll.Adam(p, g, lr=0.1, betas=(0.0, 0.5), amsgrad=True)
    opt.step()  # v = 50
    g["w"][0] = 0.0
    opt.step()  # v = 25, v_max stays 50
    assert opt.state["exp_avg_sq"]["w"][0] == 25.0
    assert opt.state["max_exp_avg_sq"]["w"][0] == 50.0


def test_adagrad_two_steps_by_hand():
    p, g = one_param(1.0, 3.0)
    opt = ll.Adagrad(p, g, lr=0.5, lr_decay=0.5, eps=0.0)
    opt.step()  # s = 9, clr = 0.5
    assert p["w"][0] == pytest.approx(1.0 - 0.5 * 3 / 3, abs=1e-15)
    g["w"][0] = 4.0
    opt.step()  # s = 25, clr = 0.5 / 1.5
    assert p["w"][0] == pytest.approx(0.5 - (0.5 / 1.5) * 4 / 5, abs=1e-15)


def test_rmsprop_centered_with_momentum_by_hand():
    p, g = one_param(1.0, 2.0)
    opt = ll.RMSprop(p, g, lr=0.1, alpha=0.5, eps=0.0, momentum=0.9, centered=True)
    opt.step()  # v = 2, a = 1, r = sqrt(2 - 1) = 1, b = 2
    assert p["w"][0] == pytest.approx(1.0 - 0.1 * 2, abs=1e-15)
    g["w"][0] = -2.0
    opt.step()  # v = 1 + 2 = 3, a = 0.5 - 1 = -0.5, r = sqrt(2.75), b = 1.8 - 2 / r
    r = math.sqrt(2.75)
    assert p["w"][0] == pytest.approx(0.8 - 0.1 * (1.8 - 2 / r), abs=1e-15)


def test_rmsprop_centered_never_takes_sqrt_of_negative():
    # a constant gradient makes v - a^2 -> 0, where rounding can turn it negative
    p, g = one_param(0.0, 0.1)
    opt = ll.RMSprop(p, g, lr=1e-3, alpha=0.5, centered=True)
    for _ in range(200):
        opt.step()  # a nan or an 'invalid value' warning would fail the test
    assert np.isfinite(p["w"]).all()


# -- the protocol ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs", TORCH_CASES)
def test_updates_in_place_and_leaves_grads_alone(name, kwargs):
    params, grads = make_problem()
    ids = {k: id(p) for k, p in params.items()}
    before = {k: p.copy() for k, p in params.items()}
    g0 = gradient_stream(1)[0]
    for k in grads:
        grads[k][...] = g0[k]
    opt = getattr(ll, name)(params, grads, **kwargs)
    opt.step()
    opt.step()
    assert {k: id(p) for k, p in params.items()} == ids
    assert all(not np.array_equal(params[k], before[k]) for k in params)
    assert all(np.array_equal(grads[k], g0[k]) for k in grads)


def test_model_params_change_through_the_layer():
    layer = ll.Linear(2, 3, rng=0)
    W = layer.params["W"]
    opt = ll.SGD(layer.params, layer.grads, lr=1.0)
    layer.grads["W"][...] = 1.0
    opt.step()
    y = layer.forward(np.array([[1.0, 0.0]]))
    assert layer.params["W"] is W
    assert y[0, 0] == pytest.approx(W[0, 0] + layer.params["b"][0])


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "RMSprop"])
def test_float32_stays_float32(name):
    params, grads = make_problem(dtype=np.float32)
    for g in grads.values():
        g[...] = 0.5
    opt = getattr(ll, name)(params, grads, lr=0.01)
    opt.step()
    assert all(p.dtype == np.float32 for p in params.values())
    assert all(a.dtype == np.float32 for buf in opt.state.values() for a in buf.values())


def test_zero_grad():
    params, grads = make_problem()
    for g in grads.values():
        g[...] = 1.0
    ll.SGD(params, grads, lr=0.1).zero_grad()
    assert not any(g.any() for g in grads.values())


@pytest.mark.parametrize("name, kwargs", TORCH_CASES)
def test_state_dict_resumes_bit_for_bit(name, kwargs):
    stream = gradient_stream(6)
    params, grads = make_problem()
    opt = getattr(ll, name)(params, grads, **kwargs)

    def run(opt, grads, gs):
        for g in gs:
            for k in grads:
                grads[k][...] = g[k]
            opt.step()

    run(opt, grads, stream[:3])
    state = opt.state_dict()
    assert int(state["step"]) == 3
    params2 = {k: p.copy() for k, p in params.items()}
    grads2 = {k: np.zeros_like(p) for k, p in params2.items()}
    opt2 = getattr(ll, name)(params2, grads2, **kwargs)
    opt2.load_state_dict(state)
    run(opt, grads, stream[3:])
    run(opt2, grads2, stream[3:])
    assert all(np.array_equal(params[k], params2[k]) for k in params)
    # state_dict returns copies: the saved state did not move on with the optimizer
    assert int(state["step"]) == 3 and opt.step_count == 6


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    params, grads = make_problem()
    opt = ll.Adam(params, grads, lr=0.1)
    state = opt.state_dict()
    del state["exp_avg.W"]
    state["exp_avg_sq.b"] = np.zeros(5)
    state["exp_avg_sq.W"] = state["exp_avg_sq.W"].astype(np.float32)
    state["extra"] = np.zeros(1)
    target = ll.Adam(*make_problem(), lr=0.1)
    target.state["exp_avg"]["b"][...] = 7.0
    with pytest.raises(ValueError) as err:
        target.load_state_dict(state)
    msg = str(err.value)
    for piece in ["missing 'exp_avg.W'", "unexpected 'extra'", "'exp_avg_sq.b': shape (5,)",
                  "'exp_avg_sq.W': dtype float32"]:
        assert piece in msg
    assert (target.state["exp_avg"]["b"] == 7.0).all() and target.step_count == 0
    # a state without momentum buffers does not fit an optimizer with momentum
    with pytest.raises(ValueError, match="missing 'momentum_buffer.W'"):
        ll.SGD(*make_problem(), lr=0.1, momentum=0.9).load_state_dict(
            ll.SGD(*make_problem(), lr=0.1).state_dict())


def test_lr_is_a_checked_attribute():
    opt = ll.SGD(*make_problem(), lr=0.1)
    opt.lr = 0.05
    assert opt.lr == 0.05 and opt.state_dict()["lr"] == 0.05
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0
    with pytest.raises(ValueError, match="lr"):
        opt.lr = float("nan")
    with pytest.raises(TypeError, match="lr"):
        opt.lr = "0.1"


def test_constructor_errors():
    params, grads = make_problem()
    with pytest.raises(ValueError, match="nesterov"):
        ll.SGD(params, grads, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        ll.SGD(params, grads, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        ll.Adam(params, grads, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="betas"):
        ll.Adam(params, grads, betas=(0.9,))
    with pytest.raises(ValueError, match="momentum"):
        ll.RMSprop(params, grads, momentum=-0.1)
    with pytest.raises(ValueError, match="missing"):
        ll.SGD(params, {"W": grads["W"]}, lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        ll.SGD({"W": np.zeros(3)}, {"W": np.zeros(4)}, lr=0.1)
    with pytest.raises(ValueError, match="same array"):
        ll.SGD({"a": params["W"], "b": params["W"]},
               {"a": grads["W"], "b": np.zeros_like(grads["W"])}, lr=0.1)
    with pytest.raises(TypeError, match="floating"):
        ll.SGD({"W": np.zeros(3, dtype=int)}, {"W": np.zeros(3, dtype=int)}, lr=0.1)
    with pytest.raises(TypeError, match="dicts"):
        ll.SGD([params["W"]], [grads["W"]], lr=0.1)


# -- learning-rate schedules ---------------------------------------------------------------------
def test_step_lr_by_hand_and_set_epoch():
    opt = ll.SGD(*make_problem(), lr=0.8)
    sched = ll.StepLR(opt, step_size=3, gamma=0.5)
    lrs = [sched.step() for _ in range(7)]
    assert lrs == [0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]
    assert opt.lr == 0.2
    assert sched.set_epoch(1) == 0.8 and opt.lr == 0.8


def test_cosine_lr_by_hand():
    opt = ll.SGD(*make_problem(), lr=1.0)
    sched = ll.CosineLR(opt, T_max=10, eta_min=0.1)
    lrs = [sched.step() for _ in range(10)]
    assert lrs[4] == pytest.approx(0.55, abs=1e-15)  # halfway
    assert lrs[9] == pytest.approx(0.1, abs=1e-15)  # the end: eta_min
    assert all(a > b for a, b in zip(lrs, lrs[1:]))


@pytest.mark.parametrize("kind", ["step", "cosine"])
def test_schedules_match_torch(kind):
    torch = pytest.importorskip("torch")
    opt = ll.SGD(*make_problem(), lr=0.3)
    tparam = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tparam], lr=0.3)
    if kind == "step":
        sched = ll.StepLR(opt, step_size=4, gamma=0.7)
        tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=4, gamma=0.7)
    else:
        sched = ll.CosineLR(opt, T_max=8, eta_min=0.01)
        tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=8, eta_min=0.01)
    for _ in range(20):  # past T_max too
        topt.step()
        tsched.step()
        sched.step()
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)


def test_schedule_errors():
    opt = ll.SGD(*make_problem(), lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        ll.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        ll.CosineLR(opt, T_max=0)
    with pytest.raises(TypeError, match="optimizer"):
        ll.StepLR(object(), step_size=2)


def test_schedule_resume_recipe():
    opt = ll.SGD(*make_problem(), lr=0.8)
    sched = ll.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(5):
        sched.step()
    state = opt.state_dict()
    opt2 = ll.SGD(*make_problem(), lr=0.8)
    sched2 = ll.StepLR(opt2, step_size=2, gamma=0.5)  # created before loading
    opt2.load_state_dict(state)
    assert opt2.lr == 0.2
    sched2.set_epoch(5)
    assert [sched.step() for _ in range(3)] == [sched2.step() for _ in range(3)]


def test_params_added_after_construction_are_refused_not_ignored():
    model = ll.Model(head=ll.Linear(2, 2, rng=0))
    opt = ll.SGD(model.params, model.grads, lr=0.1)
    model.add("extra", ll.Linear(2, 2, rng=1))
    with pytest.raises(RuntimeError, match=r"added \['extra.W', 'extra.b'\]"):
        opt.step()


# -- rebinding: a dict entry that is no longer the optimizer's array --------------------------
OPTIMIZERS = [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict()),
              ("Adagrad", dict()), ("RMSprop", dict(centered=True))]


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS)
@pytest.mark.parametrize("kind", ["params", "grads"])
def test_a_rebound_entry_is_refused_naming_the_key(name, kwargs, kind):
    params, grads = make_problem()
    opt = getattr(ll, name)(params, grads, **kwargs)
    before = {k: p.copy() for k, p in params.items()}
    {"params": params, "grads": grads}[kind]["b"] = np.ones(4)  # rebound, not [...] =
    for call in (opt.step, opt.zero_grad):
        with pytest.raises(RuntimeError, match=(
                rf"{kind}\['b'\] is no longer the array this optimizer was built with.*"
                rf"{kind}\['b'\]\[\.\.\.\] = new")):
            call()
    assert opt.step_count == 0
    assert all(np.array_equal(params[k], before[k]) for k in ("W", "embed.W"))  # nothing moved


def test_updating_in_place_is_what_trains():
    params, grads = make_problem()
    opt = ll.SGD(params, grads, lr=0.5)
    params["b"][...] = 1.0  # in place: fine
    grads["b"][...] = 2.0
    opt.step()
    assert params["b"].tolist() == [0.0] * 4


def test_rebinding_a_layer_parameter_under_an_optimizer_is_refused_at_once():
    # the layer's dict refuses it, so the model's dict, the optimizer and ll.load can never
    # be left holding an array the layer no longer computes with
    model = ll.Model(rnn=ll.LSTM(2, 3, rng=0), head=ll.Linear(3, 2, rng=0))
    opt = ll.Adam(model.params, model.grads, lr=0.1)
    W = model.rnn.params["layers.0.fwd.W_x"]
    for d, kind in ((model.rnn.params, "params"), (model.rnn.grads, "grads"),
                    (model.params, "params")):
        key = next(iter(d))
        with pytest.raises(RuntimeError, match=rf"{kind}\['{key}'\]: refusing to rebind.*"
                                               rf"{kind}\['{key}'\]\[\.\.\.\] = new"):
            d[key] = np.zeros_like(d[key])
        with pytest.raises(RuntimeError, match="refusing to rebind"):
            d.update({key: np.zeros_like(d[key])})
    assert model.rnn.params["layers.0.fwd.W_x"] is W
    opt.step()  # still one set of arrays: training goes on


# -- check_finite: nothing non-finite reaches the weights ----------------------------------------
@pytest.mark.parametrize("name, kwargs", OPTIMIZERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_refuses_a_nonfinite_gradient_naming_it(name, kwargs, bad):
    params, grads = make_problem()
    opt = getattr(ll, name)(params, grads, check_finite=True, **kwargs)
    grads["W"][...] = 0.1
    opt.step()
    before, state = {k: p.copy() for k, p in params.items()}, opt.state_dict()
    grads["embed.W"][1, 0] = bad
    with pytest.raises(FloatingPointError, match=r"grads\['embed.W'\] is -?(nan|inf) in step"):
        opt.step()
    assert all(params[k].tobytes() == before[k].tobytes() for k in params)
    assert opt.step_count == 1
    assert all(opt.state_dict()[k].tobytes() == v.tobytes() for k, v in state.items())
    opt.check_finite = False  # off (the default): the nan goes in, as in PyTorch
    with np.errstate(all="ignore"):  # inf / inf in Adam's step: nan, with a warning
        opt.step()
    assert not np.isfinite(params["embed.W"]).all()


def test_check_finite_refuses_an_update_that_overflows_and_restores_everything():
    params = {"w": np.array([1.0, 2.0], dtype=np.float32)}
    grads = {"w": np.array([1e30, 1.0], dtype=np.float32)}  # finite, but lr * g overflows
    opt = ll.SGD(params, grads, lr=1e10, momentum=0.9, check_finite=True)
    with pytest.raises(FloatingPointError, match=r"the update of params\['w'\] is -inf in step.*"
                                                 "overflowed.*restored"):
        opt.step()
    assert params["w"].tolist() == [1.0, 2.0]
    assert opt.step_count == 0 and not opt.state["momentum_buffer"]["w"].any()
    opt.lr = 0.1
    opt.step()
    assert np.isfinite(params["w"]).all() and opt.step_count == 1


def test_check_finite_is_a_constructor_option_of_every_optimizer():
    for name, kwargs in OPTIMIZERS:
        params, grads = make_problem()
        assert getattr(ll, name)(params, grads, **kwargs).check_finite is False
        assert getattr(ll, name)(params, grads, check_finite=True, **kwargs).check_finite
