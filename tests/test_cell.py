"""The cell protocol, checked for every cell and variant at once."""

import ast
import inspect
from typing import NamedTuple

import numpy as np
import pytest
from helpers import randomize_params

import lstmlab as ll
import lstmlab.cell as cell_module
import lstmlab.interop as interop

FACTORIES = {
    "rnn-tanh": lambda **kw: ll.RNNCell(3, 5, **kw),
    "rnn-relu": lambda **kw: ll.RNNCell(3, 5, nonlinearity="relu", **kw),
    "lstm": lambda **kw: ll.LSTMCell(3, 5, **kw),
    "lstm-peephole-coupled": lambda **kw: ll.LSTMCell(3, 5, peephole=True, coupled=True, **kw),
    "gru": lambda **kw: ll.GRUCell(3, 5, **kw),
    "gru-reset-before": lambda **kw: ll.GRUCell(3, 5, reset_after=False, **kw),
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request):
    return FACTORIES[request.param]


def random_state(cell, N, rng):
    arrays = cell.split_state(cell.initial_state(N))
    return cell.join_state([rng.standard_normal(a.shape).astype(a.dtype) for a in arrays])


def test_same_seed_same_weights(make):
    a, b = make(rng=3), make(rng=3)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    c = make(rng=4)
    assert not np.array_equal(a.params["W_x"], c.params["W_x"])


def test_grads_mirror_params(make):
    cell = make(rng=0)
    assert cell.grads.keys() == cell.params.keys()
    for k in cell.params:
        assert cell.grads[k].shape == cell.params[k].shape
        assert cell.grads[k].dtype == cell.params[k].dtype


def test_backward_accumulates_and_zero_grad_resets(make):
    cell = randomize_params(make(rng=0))
    rng = np.random.default_rng(0)
    x, state = rng.standard_normal((2, 3)), random_state(cell, 2, rng)
    new, cache = cell.forward(x, state)
    dstate = random_state(cell, 2, rng)
    cell.backward(dstate, cache)
    once = {k: g.copy() for k, g in cell.grads.items()}
    cell.backward(dstate, cache)
    for k in once:
        assert np.allclose(cell.grads[k], 2 * once[k], rtol=1e-13, atol=0)
    cell.zero_grad()
    assert all(not g.any() for g in cell.grads.values())


def test_one_cell_serves_many_steps(make):
    # Two steps with the same object: the caches are independent, so backpropagating
    # through both (in reverse order) gives the true gradient of the two-step function.
    cell = randomize_params(make(rng=0))
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    state0 = random_state(cell, 2, rng)

    def forward(x1, x2, state0):
        s1, c1 = cell.forward(x1, state0)
        s2, c2 = cell.forward(x2, s1)
        return s2, (c1, c2)

    def backward(dstate2, caches):
        dx2, dstate1 = cell.backward(dstate2, caches[1])
        dx1, dstate0 = cell.backward(dstate1, caches[0])
        return dx1, dx2, dstate0

    report = ll.check_gradients(forward, backward, (x1, x2, state0), ("x1", "x2", "state0"),
                                cell.params, cell.grads)
    report.assert_ok(1e-7)


def test_float32_end_to_end_close_to_float64(make):
    c64 = randomize_params(make(rng=0))
    c32 = make(rng=0, dtype=np.float32)
    for k in c32.params:
        c32.params[k][...] = c64.params[k]
    rng = np.random.default_rng(2)
    x, state = rng.standard_normal((4, 3)), random_state(c64, 4, rng)
    s64, cache64 = c64.forward(x, state)
    state32 = c32.join_state([a.astype(np.float32) for a in c64.split_state(state)])
    s32, cache32 = c32.forward(x.astype(np.float32), state32)
    for a32, a64 in zip(c32.split_state(s32), c64.split_state(s64)):
        assert a32.dtype == np.float32
        assert np.abs(a32 - a64).max() < 1e-5
    assert all(v.dtype == np.float32 for v in cache32 if isinstance(v, np.ndarray))
    dx, dstate = c32.backward(s32, cache32)
    assert dx.dtype == np.float32
    assert all(a.dtype == np.float32 for a in c32.split_state(dstate))
    assert all(g.dtype == np.float32 for g in c32.grads.values())


def test_cache_is_named_tuple_of_symbols(make):
    cell = make(rng=0)
    _, cache = cell.forward(np.ones((1, 3)), cell.initial_state(1))
    assert hasattr(cache, "_fields") and cache._fields[:2] == ("x", "h_prev")


def test_empty_batch(make):
    cell = make(rng=0)
    state, cache = cell.forward(np.zeros((0, 3)), cell.initial_state(0))
    assert cell.split_state(state)[0].shape == (0, 5)
    dx, _ = cell.backward(state, cache)
    assert dx.shape == (0, 3)


def test_forward_equals_project_then_step(make):
    cell = randomize_params(make(rng=0))
    rng = np.random.default_rng(3)
    x, state = rng.standard_normal((2, 3)), random_state(cell, 2, rng)
    s1, _ = cell.forward(x, state)
    s2, cache = cell.step(cell.project(x), state)
    assert cache.x is None
    assert all(np.array_equal(a, b) for a, b in zip(cell.split_state(s1), cell.split_state(s2)))


@pytest.mark.parametrize(
    "x, error, message",
    [
        (np.ones(3), ValueError, r"x: expected 2 dimensions, got an array of shape \(3,\)"),
        (np.ones((2, 4)), ValueError, r"x: expected shape \(N, D\) with D = 3, got \(2, 4\)"),
        (np.ones((2, 3), dtype=np.float32), TypeError, "x: expected dtype float64"),
        (np.ones((2, 3), dtype=int), TypeError, "x: expected a floating-point array"),
        ([[1.0, 2.0, 3.0]], TypeError, "x: expected a NumPy array, got a list"),
    ],
)
def test_bad_input(make, x, error, message):
    cell = make(rng=0)
    with pytest.raises(error, match=message):
        cell.forward(x, cell.initial_state(2))


def test_batch_mismatch_between_x_and_state(make):
    cell = make(rng=0)
    with pytest.raises(ValueError, match=r"expected shape \(N, H\) = \(2, 5\), got \(3, 5\)"):
        cell.forward(np.ones((2, 3)), cell.initial_state(3))


def test_backward_needs_forward_cache(make):
    cell = make(rng=0)
    state, cache = cell.step(cell.project(np.ones((1, 3))), cell.initial_state(1))
    with pytest.raises(ValueError, match="a cache from cell.step"):
        cell.backward(state, cache)


def test_constructor_errors(make):
    with pytest.raises(ValueError, match="hidden_size: expected an integer >= 1, got 0"):
        type(make(rng=0))(3, 0)
    with pytest.raises(TypeError, match="input_size: expected an integer, got float"):
        type(make(rng=0))(3.0, 5)
    with pytest.raises(TypeError, match="dtype: expected a floating dtype"):
        make(dtype=np.int32)


def test_repr_mentions_options():
    assert repr(ll.LSTMCell(3, 5)) == "LSTMCell(3, 5)"
    assert repr(ll.LSTMCell(3, 5, peephole=True)) == "LSTMCell(3, 5, peephole=True)"
    assert repr(ll.LSTMCell(3, 5, coupled=True, forget_bias=1.0, dtype=np.float32)) == (
        "LSTMCell(3, 5, coupled=True, forget_bias=1.0, dtype='float32')")
    assert repr(ll.GRUCell(3, 5, reset_after=False, bias=False)) == (
        "GRUCell(3, 5, reset_after=False, bias=False)")
    assert repr(ll.RNNCell(3, 5, nonlinearity="relu", dtype="float32")) == (
        "RNNCell(3, 5, nonlinearity='relu', dtype='float32')")


def test_repr_rebuilds_the_cell(make):
    cell = make(rng=0, dtype=np.float32)
    rebuilt = eval(repr(cell), {"RNNCell": ll.RNNCell, "LSTMCell": ll.LSTMCell,
                                "GRUCell": ll.GRUCell})
    assert repr(rebuilt) == repr(cell)
    assert {k: v.shape for k, v in rebuilt.params.items()} == {
        k: v.shape for k, v in cell.params.items()}
    assert rebuilt.dtype == np.float32


def test_gate_width_is_the_fused_width(make):
    cell = make(rng=0)
    width = cell.gate_width
    assert width == cell.num_gates * cell.hidden_size
    assert cell.params["W_x"].shape == (3, width) and cell.params["W_h"].shape == (5, width)
    xw = cell.project(np.ones((4, 2, 3)))
    assert xw.shape == (4, 2, width)
    _, cache = cell.step(xw[0], cell.initial_state(2))
    dxw, _ = cell.backward_step(cell.initial_state(2), cache)
    assert dxw.shape == (2, width)


def test_cache_is_read_by_name_only(make):
    # The same fields in the reverse order give the same backward: nothing reads by position.
    cell = randomize_params(make(rng=0))
    rng = np.random.default_rng(6)
    x, state = rng.standard_normal((2, 3)), random_state(cell, 2, rng)
    _, cache = cell.forward(x, state)
    dstate = random_state(cell, 2, rng)
    fields = cache._fields[::-1]
    Reversed = NamedTuple("Reversed", [(name, object) for name in fields])
    reversed_cache = Reversed(*(getattr(cache, name) for name in fields))
    cell.zero_grad()
    dx1, ds1 = cell.backward(dstate, cache)
    grads1 = {k: g.copy() for k, g in cell.grads.items()}
    cell.zero_grad()
    cell.cache_type = Reversed  # an instance attribute: only this cell accepts the look-alike
    dx2, ds2 = cell.backward(dstate, reversed_cache)
    assert np.array_equal(dx1, dx2)
    assert all(np.array_equal(a, b) for a, b in zip(cell.split_state(ds1), cell.split_state(ds2)))
    assert all(np.array_equal(grads1[k], cell.grads[k]) for k in grads1)


def test_each_cell_maps_itself_to_pytorch(make):
    cell = randomize_params(make(rng=0))
    if cell.torch_unsupported() is not None:
        assert "has no PyTorch counterpart" in cell.torch_unsupported()
        return
    tensors = cell.to_torch(cell.params)
    assert {k: v.shape for k, v in tensors.items()} == cell.torch_shapes()
    new = cell.from_torch(tensors)
    assert new.keys() == cell.params.keys()
    assert all(np.array_equal(new[k], cell.params[k]) for k in new)


def test_interop_does_not_import_the_cells():
    # interop.py maps any cell through the cell's own methods, so cell.py imports interop
    # at its top and nothing imports late to break a cycle.
    def imports(module):
        tree = ast.parse(inspect.getsource(module))
        return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]

    modules = {getattr(node, "module", None) for node in imports(interop)}
    assert modules <= {"__future__", "collections.abc", None}, modules
    assert all(node.col_offset == 0 for node in imports(cell_module)), "an import inside code"


def test_deferred_dW_h_equals_per_step(make):
    # The wrapper's speed trick: skip the per-step outer product, add sum_t in one product.
    cell = randomize_params(make(rng=0))
    rng = np.random.default_rng(5)
    T, N = 4, 2
    state = random_state(cell, N, rng)
    xs = rng.standard_normal((T, N, 3))
    caches = []
    for t in range(T):
        state, cache = cell.step(cell.project(xs[t]), state)
        caches.append(cache)
    dstates = [random_state(cell, N, rng) for _ in range(T)]

    def run(defer):
        cell.zero_grad()
        dxws = []
        for t in reversed(range(T)):
            dxw, _ = cell.backward_step(dstates[t], caches[t], defer_dW_h=defer)
            dxws.append(dxw)
        if defer:
            cell.backward_dW_h(caches[::-1], np.stack(dxws))
        return {k: g.copy() for k, g in cell.grads.items()}

    now, deferred = run(False), run(True)
    for k in now:
        assert np.allclose(now[k], deferred[k], rtol=0, atol=1e-12), k
    assert np.abs(deferred["W_h"]).max() > 0
