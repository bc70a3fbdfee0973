"""Bad input at every public entry point: one table, one sentence per mistake.

Each row is a learner's mistake, the exception it must raise (ValueError or
TypeError; RuntimeError for a call-order mistake such as backward before
forward) and a pattern the message must match. Every message must name the
argument, say what was expected and what came in; none may be NumPy's own
words from deep inside (a broadcast or matmul failure, an AttributeError), and
nothing may be silently broadcast. Rows marked xfail are checks still missing
from files this suite does not own (cell.py, recurrent.py): they turn into
failures (strict xfail) the day the check is added, so the marker gets removed.

The classes of mistake (the ``kind`` of every row) are counted in
:func:`test_the_table_covers_every_class_of_mistake`.
"""

import math
import os
import re

import numpy as np
import pytest

import lstmlab as ll

N, T, D, H = 2, 4, 3, 5

# Phrases that betray an error raised from inside NumPy or Python rather than by a check.
INTERNAL = ("could not be broadcast", "matmul:", "inhomogeneous", "has no attribute",
            "not enough values to unpack", "too many values to unpack", "not understood",
            "object is not iterable", "has no len()", "float() argument", "could not convert")

CASES = []  # (id, kind, exception, argument, pattern, thunk, marks)


def case(id, kind, exc, arg, pattern, thunk, missing=None):
    """Register one bad-input row; ``missing`` names a check the library still lacks."""
    marks = () if missing is None else (pytest.mark.xfail(strict=True, reason=missing),)
    CASES.append(pytest.param(kind, exc, arg, pattern, thunk, id=id, marks=marks))


def ones(*shape, dtype=np.float64):
    return np.ones(shape, dtype=dtype)


# -- builders (cheap: every row builds its own objects) ---------------------------------------
CELLS = {"rnn": lambda **kw: ll.RNNCell(D, H, rng=0, **kw),
         "lstm": lambda **kw: ll.LSTMCell(D, H, rng=0, **kw),
         "gru": lambda **kw: ll.GRUCell(D, H, rng=0, **kw)}
LAYERS = {"RNN": ll.RNN, "LSTM": ll.LSTM, "GRU": ll.GRU}


def state_of(cell, n=N, dtype=np.float64, H_=H):
    arrays = [np.zeros((n, H_), dtype=dtype) for _ in cell.split_state(cell.initial_state(0))]
    return cell.join_state(arrays)


def wrong_structure(cell, n=N):
    """A bare h for an LSTM, an (h, c) pair for the others."""
    if isinstance(cell, ll.LSTMCell):
        return np.zeros((n, H))
    return ll.LSTMState(np.zeros((n, H)), np.zeros((n, H)))


def forward_then(cell, x=None):
    state, cache = cell.forward(ones(N, D) if x is None else x, cell.initial_state(N))
    return state, cache


def fresh_cache_of_another_kind(kind):
    other = CELLS["lstm" if kind != "lstm" else "rnn"]()
    return forward_then(other)[1]


# -- cells: RNNCell, LSTMCell, GRUCell -------------------------------------------------------
for kind, make in CELLS.items():
    def cell_forward(x, state=None, make=make):
        cell = make()
        return lambda: cell.forward(x, state_of(cell) if state is None else state(cell))

    case(f"{kind}.forward-x-1d", "ndim", ValueError, "x",
         r"x: expected 2 dimensions, got an array of shape \(3,\)", cell_forward(ones(D)))
    case(f"{kind}.forward-x-3d", "ndim", ValueError, "x",
         r"x: expected 2 dimensions, got an array of shape \(2, 1, 3\)",
         cell_forward(ones(N, 1, D)))
    case(f"{kind}.forward-x-wrong-D", "feature size", ValueError, "x",
         r"x: expected shape \(N, D\) with D = 3, got \(2, 4\)", cell_forward(ones(N, 4)))
    case(f"{kind}.forward-x-transposed", "feature size", ValueError, "x",
         r"x: expected shape \(N, D\) with D = 3, got \(3, 2\)", cell_forward(ones(D, N)))
    case(f"{kind}.forward-x-float32", "dtype", TypeError, "x",
         r"x: expected dtype float64 .*got float32", cell_forward(ones(N, D, dtype=np.float32)))
    case(f"{kind}.forward-x-int", "int/bool for float", TypeError, "x",
         r"x: expected a floating-point array, got .*dtype int64",
         cell_forward(ones(N, D, dtype=np.int64)))
    case(f"{kind}.forward-x-bool", "int/bool for float", TypeError, "x",
         r"x: expected a floating-point array, got .*dtype bool",
         cell_forward(ones(N, D, dtype=bool)))
    case(f"{kind}.forward-x-list", "not an array", TypeError, "x",
         r"x: expected a NumPy array, got a list", cell_forward([[1.0, 2.0, 3.0]] * N))
    case(f"{kind}.forward-state-batch", "batch mismatch", ValueError, "state",
         r"state(\.h)?: expected shape \(N, H\) = \(2, 5\), got \(3, 5\)",
         cell_forward(ones(N, D), lambda c: state_of(c, n=3)))
    case(f"{kind}.forward-state-batch-1-broadcastable", "batch mismatch", ValueError, "state",
         r"state(\.h)?: expected shape \(N, H\) = \(2, 5\), got \(1, 5\)",
         cell_forward(ones(N, D), lambda c: state_of(c, n=1)))
    case(f"{kind}.forward-state-wrong-H", "feature size", ValueError, "state",
         r"state(\.h)?: expected shape \(N, H\) = \(2, 5\), got \(2, 4\)",
         cell_forward(ones(N, D), lambda c: state_of(c, H_=4)))
    case(f"{kind}.forward-state-structure", "state structure", TypeError, "state",
         r"state: expected (LSTMState\(h, c\)|an ndarray h).*got (an array of shape \(2, 5\)|"
         r"a LSTMState)", cell_forward(ones(N, D), wrong_structure))
    case(f"{kind}.forward-state-None", "state structure", TypeError, "state",
         r"state: expected .*got a NoneType", cell_forward(ones(N, D), lambda c: None))
    case(f"{kind}.forward-state-float32", "dtype", TypeError, "state",
         r"state(\.h)?: expected dtype float64 .*got float32",
         cell_forward(ones(N, D), lambda c: state_of(c, dtype=np.float32)))
    case(f"{kind}.forward-state-int", "int/bool for float", TypeError, "state",
         r"state(\.h)?: expected a floating-point array, got .*int64",
         cell_forward(ones(N, D), lambda c: state_of(c, dtype=np.int64)))

    def cell_backward(dstate, cache=None, make=make):
        cell = make()
        state, fwd_cache = forward_then(cell)
        return lambda: cell.backward(dstate(cell, state),
                                     fwd_cache if cache is None else cache(cell))

    case(f"{kind}.backward-dstate-batch-1-broadcastable", "gradient shape", ValueError, "dstate",
         r"dstate(\.h)?: expected shape \(N, H\) = \(2, 5\), got \(1, 5\)",
         cell_backward(lambda c, s: state_of(c, n=1)))
    case(f"{kind}.backward-dstate-wrong-H", "gradient shape", ValueError, "dstate",
         r"dstate(\.h)?: expected shape \(N, H\) = \(2, 5\), got \(2, 4\)",
         cell_backward(lambda c, s: state_of(c, H_=4)))
    case(f"{kind}.backward-dstate-structure", "state structure", TypeError, "dstate",
         r"dstate: expected .*got", cell_backward(lambda c, s: wrong_structure(c)))
    case(f"{kind}.backward-dstate-float32", "dtype", TypeError, "dstate",
         r"dstate(\.h)?: expected dtype float64 .*got float32",
         cell_backward(lambda c, s: state_of(c, dtype=np.float32)))
    case(f"{kind}.backward-cache-from-step", "call order", ValueError, "cache",
         r"cache: expected the cache returned by cell.forward.*backward_step",
         cell_backward(lambda c, s: s,
                       lambda c: c.step(c.project(ones(N, D)), c.initial_state(N))[1]))
    case(f"{kind}.backward-cache-None", "call order", ValueError, "cache",
         r"cache: expected the cache returned by cell.forward",
         cell_backward(lambda c, s: s, lambda c: None))
    case(f"{kind}.backward-cache-of-another-cell", "state structure", TypeError, "cache",
         r"cache: expected .*Cache.*got .*Cache",
         cell_backward(lambda c, s: s, lambda c, kind=kind: fresh_cache_of_another_kind(kind)))

    case(f"{kind}.initial_state-negative", "bad hyper-parameter", ValueError, "N",
         r"N: expected an integer >= 0, got -1", lambda make=make: make().initial_state(-1))
    case(f"{kind}.initial_state-float", "bad hyper-parameter", TypeError, "N",
         r"N: expected an integer, got float 2.0", lambda make=make: make().initial_state(2.0))
    cls = type(make())
    case(f"{kind}.ctor-hidden-0", "bad hyper-parameter", ValueError, "hidden_size",
         r"hidden_size: expected an integer >= 1, got 0", lambda cls=cls: cls(D, 0))
    case(f"{kind}.ctor-input-float", "bad hyper-parameter", TypeError, "input_size",
         r"input_size: expected an integer, got float 3.0", lambda cls=cls: cls(3.0, H))
    case(f"{kind}.ctor-dtype-int", "dtype", TypeError, "dtype",
         r"dtype: expected a floating dtype .*got int32", lambda cls=cls: cls(D, H, dtype=np.int32))
    case(f"{kind}.ctor-dtype-unknown", "dtype", TypeError, "dtype",
         r"dtype: expected a floating dtype .*got 'float65'",
         lambda cls=cls: cls(D, H, dtype="float65"))
    case(f"{kind}.ctor-rng", "bad hyper-parameter", TypeError, "rng",
         r"rng: expected None, an int seed or a np.random.Generator, got str",
         lambda cls=cls: cls(D, H, rng="seed"))

    # The split protocol: project / step / backward_step / backward_project.
    GH = make().params["W_x"].shape[1]
    case(f"{kind}.project-x-int", "int/bool for float", TypeError, "x",
         r"x: expected a floating-point array",
         lambda make=make: make().project(ones(N, D, dtype=int)))
    case(f"{kind}.project-x-wrong-D", "feature size", ValueError, "x",
         r"x: expected shape \(\.\.\., D\)|x: expected shape .*D = 3",
         lambda make=make: make().project(ones(N, 4)))
    case(f"{kind}.project-x-float32", "dtype", TypeError, "x",
         r"x: expected dtype float64",
         lambda make=make: make().project(ones(N, D, dtype=np.float32)))
    # N is read from xw, so the mismatch is reported on the state (N = 1 expected, 2 came)
    case(f"{kind}.step-xw-batch-1-broadcast", "batch mismatch", ValueError, "state",
         r"state(\.h)?: expected shape \(N, H\) = \(1, 5\), got \(2, 5\)",
         lambda make=make, GH=GH: (lambda c: c.step(ones(1, GH), state_of(c)))(make()))
    case(f"{kind}.step-xw-wrong-width", "feature size", ValueError, "xw",
         r"xw: expected shape \(N, G\*H\)",
         lambda make=make: (lambda c: c.step(ones(N, 7), state_of(c)))(make()))
    case(f"{kind}.step-state-structure", "state structure", TypeError, "state",
         r"state: expected (LSTMState\(h, c\)|an ndarray h)",
         lambda make=make: (lambda c: c.step(c.project(ones(N, D)), wrong_structure(c)))(make()))
    case(f"{kind}.backward_step-dstate-batch", "gradient shape", ValueError, "dstate",
         r"dstate(\.h)?: expected shape \(N, H\)",
         lambda make=make: (lambda c: c.backward_step(
             state_of(c, n=1), c.step(c.project(ones(N, D)), state_of(c))[1]))(make()))
    case(f"{kind}.backward_project-dxw-wrong-shape", "gradient shape", ValueError, "dxw",
         r"dxw: expected shape",
         lambda make=make: make().backward_project(ones(N, 3), ones(N, D)))

case("lstm.split_state-bare-h", "state structure", TypeError, "state",
     r"state: expected LSTMState", lambda: CELLS["lstm"]().split_state(np.zeros((N, H))))
case("lstm.ctor-forget_bias-str", "bad hyper-parameter", TypeError, "forget_bias",
     r"forget_bias: expected a (real )?number", lambda: ll.LSTMCell(D, H, forget_bias="1"))
case("lstm.ctor-forget_bias-nan", "non-finite", ValueError, "forget_bias",
     r"forget_bias: expected a finite", lambda: ll.LSTMCell(D, H, forget_bias=float("nan")))
case("lstm.ctor-forget_bias-without-bias", "bad hyper-parameter", ValueError, "forget_bias",
     r"forget_bias: must be 0.0 when bias=False, got 1.0",
     lambda: ll.LSTMCell(D, H, bias=False, forget_bias=1.0))
case("rnn.ctor-nonlinearity", "bad hyper-parameter", ValueError, "nonlinearity",
     r"nonlinearity: expected 'tanh' or 'relu', got 'sigmoid'",
     lambda: ll.RNNCell(D, H, nonlinearity="sigmoid"))


# -- Recurrent -------------------------------------------------------------------------------
def recurrent(kind="lstm", forward=False):
    rec = ll.Recurrent(CELLS[kind]())
    if forward:
        rec.forward(ones(T, N, D))
    return rec


def rec_forward(xs, state=None, lengths=None, kind="lstm"):
    return lambda: recurrent(kind).forward(xs, state, lengths)


case("Recurrent.cell-not-a-cell", "not an array", TypeError, "cell",
     r"cell: expected an RNNCell, LSTMCell or GRUCell, got Linear",
     lambda: ll.Recurrent(ll.Linear(3, 5)))
case("Recurrent.xs-2d", "ndim", ValueError, "xs",
     r"xs: expected 3 dimensions, got an array of shape \(2, 3\)", rec_forward(ones(N, D)))
case("Recurrent.xs-wrong-D", "feature size", ValueError, "xs",
     r"xs: expected shape \(T, N, D\) with D = 3, got \(4, 2, 2\)", rec_forward(ones(T, N, 2)))
case("Recurrent.xs-float32", "dtype", TypeError, "xs", r"xs: expected dtype float64 .*float32",
     rec_forward(ones(T, N, D, dtype=np.float32)))
case("Recurrent.xs-int", "int/bool for float", TypeError, "xs",
     r"xs: expected a floating-point array, got .*int64", rec_forward(ones(T, N, D, dtype=int)))
case("Recurrent.xs-list", "not an array", TypeError, "xs",
     r"xs: expected a NumPy array, got a list",
     rec_forward(ones(T, N, D).tolist()))
case("Recurrent.state-bare-h-to-LSTM", "state structure", TypeError, "state",
     r"state: expected LSTMState\(h, c\).*got an array of shape \(2, 5\)",
     rec_forward(ones(T, N, D), np.zeros((N, H))))
case("Recurrent.state-tuple-to-GRU", "state structure", TypeError, "state",
     r"state: expected an ndarray h of shape \(N, H\) for GRUCell, got a tuple",
     rec_forward(ones(T, N, D), (np.zeros((N, H)),), kind="gru"))
case("Recurrent.state-batch", "batch mismatch", ValueError, "state",
     r"state: expected shape \(N, H\) = \(2, 5\), got \(3, 5\)",
     rec_forward(ones(T, N, D), np.zeros((3, H)), kind="rnn"))
case("Recurrent.state-float32", "dtype", TypeError, "state",
     r"state: expected dtype float64 .*got float32",
     rec_forward(ones(T, N, D), np.zeros((N, H), dtype=np.float32), kind="gru"))
for lid, lengths, exc, pattern in [
    ("short", [4], ValueError, r"lengths: expected shape \(N,\) = \(2,\), got \(1,\)"),
    ("scalar", 4, ValueError, r"lengths: expected shape \(N,\) = \(2,\), got \(\)"),
    ("2d", [[4, 4]], ValueError, r"lengths: expected shape \(N,\) = \(2,\), got \(1, 2\)"),
    ("above-T", [4, 5], ValueError, r"lengths: expected integers in \[0, T\] = \[0, 4\], "
                                    r"got values from 4 to 5"),
    ("negative", [-1, 4], ValueError, r"lengths: expected integers in \[0, T\] = \[0, 4\], "
                                      r"got values from -1"),
    ("float", [4.0, 2.0], TypeError, r"lengths: expected integers .*got dtype float64"),
    ("bool", [True, False], TypeError, r"lengths: expected integers .*got dtype bool"),
    ("str", "ab", TypeError, r"lengths: expected integers .*got dtype <U2"),
    ("None-entries", [None, None], TypeError, r"lengths: expected integers .*got dtype object"),
]:
    case(f"Recurrent.lengths-{lid}", "lengths", exc, "lengths", pattern,
         rec_forward(ones(T, N, D), lengths=lengths))
case("Recurrent.lengths-ragged", "lengths", ValueError, "lengths", r"lengths: expected",
     rec_forward(ones(T, N, D), lengths=[[1], [1, 2]]))
case("Recurrent.backward-before-forward", "call order", RuntimeError, "backward",
     r"backward: no forward left to backpropagate in Recurrent",
     lambda: recurrent().backward(ones(T, N, H)))
case("Recurrent.dhs-broadcastable", "gradient shape", ValueError, "dhs",
     r"dhs: expected shape \(T, N, H\) = \(4, 2, 5\), the shape of hs of the forward being "
     r"backpropagated, got \(1, 2, 5\)",
     lambda: recurrent(forward=True).backward(ones(1, N, H)))
case("Recurrent.dhs-2d", "gradient shape", ValueError, "dhs",
     r"dhs: expected 3 dimensions, got an array of shape \(2, 5\)",
     lambda: recurrent(forward=True).backward(ones(N, H)))
case("Recurrent.dhs-float32", "dtype", TypeError, "dhs", r"dhs: expected dtype float64 .*float32",
     lambda: recurrent(forward=True).backward(ones(T, N, H, dtype=np.float32)))
case("Recurrent.dhs-int", "int/bool for float", TypeError, "dhs",
     r"dhs: expected a floating-point array, got .*int64",
     lambda: recurrent(forward=True).backward(ones(T, N, H, dtype=int)))
case("Recurrent.dstate-bare-h-to-LSTM", "state structure", TypeError, "dstate",
     r"dstate: expected LSTMState\(h, c\)",
     lambda: recurrent(forward=True).backward(None, np.zeros((N, H))))
case("Recurrent.dstate-batch", "gradient shape", ValueError, "dstate",
     r"dstate\.c: expected shape \(N, H\) = \(2, 5\), got \(1, 5\)",
     lambda: recurrent(forward=True).backward(None, ll.LSTMState(np.zeros((N, H)),
                                                                 np.zeros((1, H)))))


# -- RNN / LSTM / GRU layers -----------------------------------------------------------------
def layer(name, forward=False, **kw):
    kw = {"num_layers": 2, "bidirectional": True, "rng": 0, **kw}
    lay = LAYERS[name](D, H, **kw)
    if forward:
        lay.forward(ones(N, T, D) if lay.batch_first else ones(T, N, D))
    return lay


def layer_state(name, K=4, n=N, dtype=np.float64):
    h = np.zeros((K, n, H), dtype=dtype)
    return ll.LSTMState(h, h.copy()) if name == "LSTM" else h


for name in LAYERS:
    def lay_forward(x, state=None, lengths=None, name=name, **kw):
        return lambda: layer(name, **kw).forward(x, state, lengths)

    def lay_ctor(name=name, **kw):
        return lambda: LAYERS[name](D, H, **kw)

    case(f"{name}.ctor-input_size-0", "bad hyper-parameter", ValueError, "input_size",
         r"input_size: expected an integer >= 1, got 0", lambda name=name: LAYERS[name](0, H))
    case(f"{name}.ctor-num_layers-0", "bad hyper-parameter", ValueError, "num_layers",
         r"num_layers: expected an integer >= 1, got 0", lay_ctor(num_layers=0))
    case(f"{name}.ctor-hidden_size-float", "bad hyper-parameter", TypeError, "hidden_size",
         r"hidden_size: expected an integer, got float 2.5",
         lambda name=name: LAYERS[name](D, 2.5))
    for did, p, exc, got in [("1", 1.0, ValueError, "1.0"), ("negative", -0.1, ValueError, "-0.1"),
                             ("nan", float("nan"), ValueError, "nan"),
                             ("None", None, TypeError, "NoneType None"),
                             ("str", "0.5", TypeError, "str '0.5'")]:
        case(f"{name}.ctor-dropout-{did}", "bad hyper-parameter", exc, "dropout",
             r"dropout: expected a probability in \[0, 1\).*got " + re.escape(got) + "$",
             lay_ctor(dropout=p))
    case(f"{name}.ctor-dtype-int", "dtype", TypeError, "dtype",
         r"dtype: expected a floating dtype .*got int64", lay_ctor(dtype=np.int64))
    case(f"{name}.ctor-dtype-unknown", "dtype", TypeError, "dtype",
         r"dtype: expected a floating dtype .*got 'float65'", lay_ctor(dtype="float65"))
    case(f"{name}.x-2d", "ndim", ValueError, "x",
         r"x: expected 3 dimensions, got an array of shape \(2, 3\)", lay_forward(ones(N, D)))
    case(f"{name}.x-4d", "ndim", ValueError, "x",
         r"x: expected 3 dimensions, got an array of shape \(4, 2, 3, 1\)",
         lay_forward(ones(T, N, D, 1)))
    case(f"{name}.x-wrong-D", "feature size", ValueError, "x",
         r"x: expected shape \(T, N, D\) with D = 3, got \(4, 2, 4\)", lay_forward(ones(T, N, 4)))
    case(f"{name}.x-wrong-D-batch_first", "feature size", ValueError, "x",
         r"x: expected shape \(N, T, D\) with D = 3, got \(2, 4, 4\)",
         lay_forward(ones(N, T, 4), batch_first=True))
    case(f"{name}.x-float32", "dtype", TypeError, "x", r"x: expected dtype float64 .*float32",
         lay_forward(ones(T, N, D, dtype=np.float32)))
    case(f"{name}.x-float32-into-float32-layer-with-float64-state", "dtype", TypeError, "state",
         r"state(\.h)?: expected dtype float32 .*got float64",
         lay_forward(ones(T, N, D, dtype=np.float32), layer_state(name), dtype=np.float32))
    case(f"{name}.x-int", "int/bool for float", TypeError, "x",
         r"x: expected a floating-point array, got .*int64", lay_forward(ones(T, N, D, dtype=int)))
    case(f"{name}.x-list", "not an array", TypeError, "x", r"x: expected a NumPy array, got a list",
         lay_forward(ones(T, N, D).tolist()))
    case(f"{name}.state-batch", "batch mismatch", ValueError, "state",
         r"state(\.h)?: expected shape \(L\*dirs, N, H\) = \(4, 2, 5\), got \(4, 3, 5\)",
         lay_forward(ones(T, N, D), layer_state(name, n=3)))
    case(f"{name}.state-layers-x-directions", "state structure", ValueError, "state",
         r"state(\.h)?: expected shape \(L\*dirs, N, H\) = \(4, 2, 5\), got \(2, 2, 5\)",
         lay_forward(ones(T, N, D), layer_state(name, K=2)))
    case(f"{name}.state-2d-like-a-cell", "ndim", ValueError if name != "LSTM" else TypeError,
         "state", r"state: expected (3 dimensions|a tuple \(h, c\))",
         lay_forward(ones(T, N, D), np.zeros((N, H))))
    case(f"{name}.state-float32", "dtype", TypeError, "state",
         r"state(\.h)?: expected dtype float64 .*float32",
         lay_forward(ones(T, N, D), layer_state(name, dtype=np.float32)))
    case(f"{name}.state-int", "int/bool for float", TypeError, "state",
         r"state(\.h)?: expected a floating-point array, got .*int64",
         lay_forward(ones(T, N, D), layer_state(name, dtype=np.int64)))
    case(f"{name}.lengths-wrong-N", "lengths", ValueError, "lengths",
         r"lengths: expected shape \(N,\) = \(2,\), got \(3,\)",
         lay_forward(ones(T, N, D), lengths=[1, 2, 3]))
    case(f"{name}.lengths-above-T", "lengths", ValueError, "lengths",
         r"lengths: expected integers in \[0, T\] = \[0, 4\]",
         lay_forward(ones(T, N, D), lengths=[1, 9]))
    case(f"{name}.lengths-float", "lengths", TypeError, "lengths",
         r"lengths: expected integers .*float64", lay_forward(ones(T, N, D), lengths=[1.0, 2.0]))
    case(f"{name}.backward-before-forward", "call order", RuntimeError, "backward",
         rf"backward: no forward left to backpropagate in {name}",
         lambda name=name: layer(name).backward(ones(T, N, 2 * H)))
    case(f"{name}.dout-broadcastable", "gradient shape", ValueError, "dout",
         r"dout: expected shape \(T, N, dirs\*H\) = \(4, 2, 10\), the shape of out of the "
         r"forward being backpropagated, got \(1, 2, 10\)",
         lambda name=name: layer(name, forward=True).backward(ones(1, N, 2 * H)))
    case(f"{name}.dout-one-direction", "gradient shape", ValueError, "dout",
         r"dout: expected shape \(T, N, dirs\*H\) = \(4, 2, 10\), the shape of out of the "
         r"forward being backpropagated, got \(4, 2, 5\)",
         lambda name=name: layer(name, forward=True).backward(ones(T, N, H)))
    case(f"{name}.dout-time-major-to-batch_first", "gradient shape", ValueError, "dout",
         r"dout: expected shape \(N, T, dirs\*H\) = \(2, 4, 10\), the shape of out of the "
         r"forward being backpropagated, got \(4, 2, 10\)",
         lambda name=name: layer(name, forward=True, batch_first=True).backward(
             ones(T, N, 2 * H)))
    case(f"{name}.dout-float32", "dtype", TypeError, "dout", r"dout: expected dtype float64",
         lambda name=name: layer(name, forward=True).backward(ones(T, N, 2 * H, dtype=np.float32)))
    case(f"{name}.dout-int", "int/bool for float", TypeError, "dout",
         r"dout: expected a floating-point array, got .*int64",
         lambda name=name: layer(name, forward=True).backward(ones(T, N, 2 * H, dtype=int)))
    case(f"{name}.dstate-layers-x-directions", "gradient shape", ValueError, "dstate",
         r"dstate(\.h)?: expected shape \(L\*dirs, N, H\) = \(4, 2, 5\), got \(1, 2, 5\)",
         lambda name=name: layer(name, forward=True).backward(None, layer_state(name, K=1)))
case("LSTM.state-bare-h", "state structure", TypeError, "state",
     r"state: expected a tuple \(h, c\) of arrays of shape \(L\*dirs, N, H\), got a ndarray",
     lambda: layer("LSTM").forward(ones(T, N, D), np.zeros((4, N, H))))
case("LSTM.state-three-arrays", "state structure", TypeError, "state",
     r"state: expected a tuple \(h, c\)",
     lambda: layer("LSTM").forward(ones(T, N, D), (np.zeros((4, N, H)),) * 3))
case("LSTM.state-c-float32", "dtype", TypeError, "state.c",
     r"state\.c: expected dtype float64 .*got float32",
     lambda: layer("LSTM").forward(ones(T, N, D), (np.zeros((4, N, H)),
                                                   np.zeros((4, N, H), dtype=np.float32))))
case("GRU.state-tuple", "state structure", TypeError, "state",
     r"state: expected an ndarray h of shape \(L\*dirs, N, H\) for GRU, got a tuple",
     lambda: layer("GRU").forward(ones(T, N, D), (np.zeros((4, N, H)),)))
case("RNN.state-LSTMState", "state structure", TypeError, "state",
     r"state: expected an ndarray h of shape \(L\*dirs, N, H\) for RNN, got a tuple",
     lambda: layer("RNN").forward(ones(T, N, D), layer_state("LSTM")))
case("LSTM.dstate-bare-h", "state structure", TypeError, "dstate",
     r"dstate: expected a tuple \(h, c\)",
     lambda: layer("LSTM", forward=True).backward(None, np.zeros((4, N, H))))
case("RNN.ctor-nonlinearity", "bad hyper-parameter", ValueError, "nonlinearity",
     r"nonlinearity: expected 'tanh' or 'relu', got 'sigmoid'",
     lambda: ll.RNN(D, H, nonlinearity="sigmoid"))


# -- Linear ----------------------------------------------------------------------------------
def linear(forward=False):
    lin = ll.Linear(3, 2, rng=0)
    if forward:
        lin.forward(ones(4, 3))
    return lin


case("Linear.ctor-in_features-0", "bad hyper-parameter", ValueError, "in_features",
     r"in_features: expected an integer >= 1, got 0", lambda: ll.Linear(0, 2))
case("Linear.ctor-out_features-float", "bad hyper-parameter", TypeError, "out_features",
     r"out_features: expected an integer, got float 2.0", lambda: ll.Linear(3, 2.0))
case("Linear.ctor-dtype-int", "dtype", TypeError, "dtype",
     r"dtype: expected a floating dtype .*got int64", lambda: ll.Linear(3, 2, dtype=np.int64))
case("Linear.ctor-dtype-unknown", "dtype", TypeError, "dtype",
     r"dtype: expected a floating dtype .*got 'float65'", lambda: ll.Linear(3, 2, dtype="float65"))
case("Linear.x-wrong-D", "feature size", ValueError, "x",
     r"x: expected shape \(\.\.\., D_in\) with D_in = 3, got \(4, 2\)",
     lambda: linear().forward(ones(4, 2)))
case("Linear.x-0d", "ndim", ValueError, "x", r"x: expected shape \(\.\.\., 3\), got a 0-d array",
     lambda: linear().forward(np.array(1.0)))
case("Linear.x-float32", "dtype", TypeError, "x", r"x: expected dtype float64 .*float32",
     lambda: linear().forward(ones(4, 3, dtype=np.float32)))
case("Linear.x-int", "int/bool for float", TypeError, "x", r"x: expected a floating-point array",
     lambda: linear().forward(ones(4, 3, dtype=int)))
case("Linear.x-bool", "int/bool for float", TypeError, "x", r"x: expected a floating-point .*bool",
     lambda: linear().forward(ones(4, 3, dtype=bool)))
case("Linear.x-list", "not an array", TypeError, "x", r"x: expected a NumPy array, got a list",
     lambda: linear().forward([[1.0, 2.0, 3.0]]))
case("Linear.backward-before-forward", "call order", RuntimeError, "backward",
     r"backward: no forward left to backpropagate in Linear",
     lambda: linear().backward(ones(4, 2)))
case("Linear.dy-broadcastable", "gradient shape", ValueError, "dy",
     r"dy: expected shape \(4, 2\) \(the shape of the output of the forward being "
     r"backpropagated\), got \(1, 2\)",
     lambda: linear(forward=True).backward(ones(1, 2)))
case("Linear.dy-bias-like", "gradient shape", ValueError, "dy",
     r"dy: expected shape \(4, 2\) \(the shape of the output of the forward being "
     r"backpropagated\), got \(2,\)",
     lambda: linear(forward=True).backward(ones(2)))
case("Linear.dy-float32", "dtype", TypeError, "dy", r"dy: expected dtype float64 .*float32",
     lambda: linear(forward=True).backward(ones(4, 2, dtype=np.float32)))
case("Linear.dy-int", "int/bool for float", TypeError, "dy", r"dy: expected a floating-point",
     lambda: linear(forward=True).backward(ones(4, 2, dtype=int)))


# -- Embedding -------------------------------------------------------------------------------
def embedding(forward=False, **kw):
    emb = ll.Embedding(4, 2, rng=0, **kw)
    if forward:
        emb.forward(np.array([[1, 2, 3]]))
    return emb


case("Embedding.ctor-num_embeddings-0", "bad hyper-parameter", ValueError, "num_embeddings",
     r"num_embeddings: expected an integer >= 1, got 0", lambda: ll.Embedding(0, 2))
case("Embedding.ctor-padding_idx-out-of-range", "targets/ids out of range", ValueError,
     "padding_idx", r"padding_idx: expected an id in \[-4, 4\), got 4",
     lambda: ll.Embedding(4, 2, padding_idx=4))
case("Embedding.ctor-padding_idx-float", "float for int", TypeError, "padding_idx",
     r"padding_idx: expected an int or None, got 1.0", lambda: ll.Embedding(4, 2, padding_idx=1.0))
case("Embedding.ctor-dtype-int", "dtype", TypeError, "dtype",
     r"dtype: expected a floating dtype .*got int64", lambda: ll.Embedding(4, 2, dtype=int))
for eid, ids, exc, pattern, kind in [
    ("float", np.array([1.0, 2.0]), TypeError, r"ids: expected an integer array, got .*float64",
     "float for int"),
    ("float-scalar", 1.0, TypeError, r"ids: expected an integer array, got .*float64",
     "float for int"),
    ("bool", np.array([True, False]), TypeError, r"ids: expected an integer array, got .*bool",
     "float for int"),
    ("str", "abc", TypeError, r"ids: expected an integer array, got .*<U3", "float for int"),
    ("None", None, TypeError, r"ids: expected an integer array, got .*object", "not an array"),
    ("ragged", [[1], [1, 2]], ValueError, r"ids: expected an integer array, got a ragged list",
     "not an array"),
    ("equal-V", np.array([0, 4]), ValueError,
     r"ids: expected every id in \[0, 4\) \(num_embeddings = 4\), got 1 outside, e\.g\. 4",
     "targets/ids out of range"),
    ("negative", np.array([-1, 0, -2]), ValueError,
     r"ids: expected every id in \[0, 4\).*got 2 outside, e\.g\. -1", "targets/ids out of range"),
]:
    case(f"Embedding.ids-{eid}", kind, exc, "ids", pattern,
         lambda ids=ids: embedding().forward(ids))
case("Embedding.backward-before-forward", "call order", RuntimeError, "backward",
     r"backward: no forward left to backpropagate in Embedding",
     lambda: embedding().backward(ones(1, 3, 2)))
case("Embedding.dx-broadcastable", "gradient shape", ValueError, "dx",
     r"dx: expected shape \(1, 3, 2\) \(the shape of the output of the forward being "
     r"backpropagated\), got \(1, 1, 2\)",
     lambda: embedding(forward=True).backward(ones(1, 1, 2)))
case("Embedding.dx-float32", "dtype", TypeError, "dx", r"dx: expected dtype float64 .*float32",
     lambda: embedding(forward=True).backward(ones(1, 3, 2, dtype=np.float32)))
case("Embedding.dx-int", "int/bool for float", TypeError, "dx", r"dx: expected a floating-point",
     lambda: embedding(forward=True).backward(ones(1, 3, 2, dtype=int)))


# -- Model -----------------------------------------------------------------------------------
def shared_model():
    lin = ll.Linear(2, 2)
    return ll.Model(a=lin, b=ll.Model(c=lin))


case("Model.part-without-params", "not an array", TypeError, "a",
     r"a: expected a part with params and grads dicts .*got NoneType", lambda: ll.Model(a=None))
case("Model.name-not-identifier", "bad hyper-parameter", ValueError, "name",
     r"name: expected a Python identifier not starting with _, got '1a'",
     lambda: ll.Model(**{"1a": ll.Linear(2, 2)}))
case("Model.name-shadows-method", "bad hyper-parameter", ValueError, "name",
     r"name: 'train' is already taken", lambda: ll.Model(train=ll.Linear(2, 2)))
case("Model.name-twice", "bad hyper-parameter", ValueError, "name",
     r"name: 'a' is already taken", lambda: ll.Model(a=ll.Linear(2, 2)).add("a", ll.Linear(2, 2)))
case("Model.shared-array", "bad hyper-parameter", ValueError, "b",
     r"b: its parameter 'c\.W' is the same array as 'a\.W'", shared_model)


# -- losses ----------------------------------------------------------------------------------
Z = np.zeros((3, 4))
for lname, loss in [("cross_entropy", ll.cross_entropy), ("nll_loss", ll.nll_loss)]:
    sname = "logits" if lname == "cross_entropy" else "log_probs"
    for tid, targets, exc, pattern, kind in [
        ("float", np.zeros(3), TypeError, r"targets: expected an integer array, got .*float64",
         "float for int"),
        ("bool", np.array([True, False, True]), TypeError,
         r"targets: expected an integer array, got .*bool", "float for int"),
        ("column", np.zeros((3, 1), dtype=int), ValueError,
         r"targets: expected shape \(3,\) \(" + sname + r"\.shape without the class axis C = 4\), "
         r"got \(3, 1\)", "targets shape"),
        ("broadcastable", np.zeros(1, dtype=int), ValueError,
         r"targets: expected shape \(3,\) .*got \(1,\)", "targets shape"),
        ("one-hot", np.eye(4, dtype=int)[:3], ValueError,
         r"targets: expected shape \(3,\) .*got \(3, 4\)", "targets shape"),
        ("equal-C", np.array([0, 1, 4]), ValueError,
         r"targets: expected class indices in \[0, 4\) \(C = " + sname + r"\.shape\[-1\]\), "
         r"got 1 outside, e\.g\. 4", "targets/ids out of range"),
        ("negative", np.array([-1, 1, 2]), ValueError,
         r"targets: expected class indices in \[0, 4\).*e\.g\. -1", "targets/ids out of range"),
        ("ragged", [[0], [1, 2]], ValueError, r"targets: expected an integer array, got a ragged",
         "not an array"),
    ]:
        case(f"{lname}.targets-{tid}", kind, exc, "targets", pattern,
             lambda loss=loss, targets=targets: loss(Z, targets))
    case(f"{lname}.{sname}-int", "int/bool for float", TypeError, sname,
         sname + r": expected a floating-point array, got .*int64",
         lambda loss=loss: loss(np.zeros((3, 4), dtype=int), np.zeros(3, dtype=int)))
    case(f"{lname}.{sname}-list", "not an array", TypeError, sname,
         sname + r": expected a NumPy array, got a list", lambda loss=loss: loss([[0.0, 1.0]], [0]))
    case(f"{lname}.{sname}-0d", "ndim", ValueError, sname,
         sname + r": expected shape \(\.\.\., C\), got a 0-d array",
         lambda loss=loss: loss(np.array(1.0), np.array(0)))
    case(f"{lname}.ignore_index-float", "float for int", TypeError, "ignore_index",
         r"ignore_index: expected an int or None, got -100.0",
         lambda loss=loss: loss(Z, np.zeros(3, dtype=int), ignore_index=-100.0))
    case(f"{lname}.targets-out-of-range-with-ignore_index", "targets/ids out of range",
         ValueError, "targets", r"targets: expected class indices in \[0, 4\) .*or ignore_index = "
                                r"-100, got 1 outside, e\.g\. -1",
         lambda loss=loss: loss(Z, np.array([-100, -1, 0]), ignore_index=-100))
for pname, loss, a, b in [("mse", ll.mse, "pred", "target"),
                          ("bce", ll.binary_cross_entropy_with_logits, "logits", "targets")]:
    case(f"{pname}.{b}-broadcastable-column", "targets shape", ValueError, b,
         b + r": expected shape \(3, 1\) \(the shape of " + a + r"\), got \(3,\)",
         lambda loss=loss: loss(np.zeros((3, 1)), np.zeros(3)))
    case(f"{pname}.{b}-broadcastable-row", "targets shape", ValueError, b,
         b + r": expected shape \(3,\) \(the shape of " + a + r"\), got \(1,\)",
         lambda loss=loss: loss(np.zeros(3), np.zeros(1)))
    case(f"{pname}.{b}-int", "int/bool for float", TypeError, b,
         b + r": expected a floating-point array, got .*int64",
         lambda loss=loss: loss(np.zeros(3), np.zeros(3, dtype=int)))
    case(f"{pname}.{b}-bool", "int/bool for float", TypeError, b,
         b + r": expected a floating-point array, got .*bool",
         lambda loss=loss: loss(np.zeros(3), np.zeros(3, dtype=bool)))
    case(f"{pname}.{b}-other-dtype", "dtype", TypeError, b,
         b + r": expected dtype float32 \(" + a + r"'s dtype\), got float64",
         lambda loss=loss: loss(np.zeros(3, dtype=np.float32), np.zeros(3)))
    case(f"{pname}.{a}-list", "not an array", TypeError, a,
         a + r": expected a NumPy array, got a list",
         lambda loss=loss: loss([1.0], np.ones(1)))
    case(f"{pname}.{a}-empty", "ndim", ValueError, a,
         a + r": expected at least one element, got shape \(0,\)",
         lambda loss=loss: loss(np.zeros(0), np.zeros(0)))
case("bce.targets-above-1", "targets/ids out of range", ValueError, "targets",
     r"targets: expected probabilities in \[0, 1\], got values outside",
     lambda: ll.binary_cross_entropy_with_logits(np.zeros(3), np.array([0.0, 1.0, 2.0])))
case("bce.targets-nan", "non-finite", ValueError, "targets",
     r"targets: expected probabilities in \[0, 1\], got values outside \(or nan\)",
     lambda: ll.binary_cross_entropy_with_logits(np.zeros(2), np.array([np.nan, 1.0])))


# -- optimizers and schedules ----------------------------------------------------------------
OPTIMIZERS = {"SGD": ll.SGD, "Adam": ll.Adam, "Adagrad": ll.Adagrad, "RMSprop": ll.RMSprop}


def problem(dtype=np.float64):
    return {"w": np.ones(3, dtype=dtype)}, {"w": np.zeros(3, dtype=dtype)}


def set_lr(opt, value):
    opt.lr = value


for oname, O in OPTIMIZERS.items():
    for lid, lr, exc, pattern in [
        ("negative", -0.1, ValueError, r"lr: expected a finite number >= 0\.0, got -0\.1"),
        ("inf", math.inf, ValueError, r"lr: expected a finite number >= 0\.0, got inf"),
        ("nan", math.nan, ValueError, r"lr: expected a finite number >= 0\.0, got nan"),
        ("str", "0.1", TypeError, r"lr: expected a number, got str '0\.1'"),
        ("None", None, TypeError, r"lr: expected a number, got NoneType None"),
        ("array", np.array([0.1]), TypeError, r"lr: expected a number, got ndarray"),
    ]:
        case(f"{oname}.lr-{lid}", "bad hyper-parameter" if lid != "inf" else "non-finite", exc,
             "lr", pattern, lambda O=O, lr=lr: O(*problem(), lr=lr))
    case(f"{oname}.lr-set-negative-later", "bad hyper-parameter", ValueError, "lr",
         r"lr: expected a finite number >= 0\.0, got -1\.0",
         lambda O=O: set_lr(O(*problem(), lr=0.1), -1.0))
    case(f"{oname}.weight_decay-inf", "non-finite", ValueError, "weight_decay",
         r"weight_decay: expected a finite number >= 0\.0, got inf",
         lambda O=O: O(*problem(), lr=0.1, weight_decay=math.inf))
    case(f"{oname}.weight_decay-negative", "bad hyper-parameter", ValueError, "weight_decay",
         r"weight_decay: expected a finite number >= 0\.0, got -0\.01",
         lambda O=O: O(*problem(), lr=0.1, weight_decay=-0.01))
    case(f"{oname}.params-list", "not an array", TypeError, "params",
         r"params, grads: expected the two dicts of a model .*got list and list",
         lambda O=O: O([np.ones(3)], [np.zeros(3)], lr=0.1))
    case(f"{oname}.params-int", "int/bool for float", TypeError, "params",
         r"params\['w'\]: expected a floating ndarray, got array\(\[1, 1, 1\]\)",
         lambda O=O: O({"w": np.ones(3, dtype=int)}, {"w": np.zeros(3, dtype=int)}, lr=0.1))
    case(f"{oname}.grads-missing-key", "state structure", ValueError, "grads",
         r"grads: expected the keys of params; missing \['w'\], unexpected \['v'\]",
         lambda O=O: O({"w": np.ones(3)}, {"v": np.zeros(3)}, lr=0.1))
    case(f"{oname}.grads-bias-like-shape", "gradient shape", ValueError, "grads",
         r"grads\['w'\]: expected an array of shape \(3, 2\) and dtype float64 like its "
         r"parameter, got shape \(2,\) and dtype float64",
         lambda O=O: O({"w": np.ones((3, 2))}, {"w": np.zeros(2)}, lr=0.1))
    case(f"{oname}.grads-float32", "dtype", ValueError, "grads",
         r"grads\['w'\]: expected .*dtype float64 .*got shape \(3,\) and dtype float32",
         lambda O=O: O({"w": np.ones(3)}, {"w": np.zeros(3, dtype=np.float32)}, lr=0.1))
    case(f"{oname}.grads-list", "not an array", ValueError, "grads",
         r"grads\['w'\]: expected an array .*got a list",
         lambda O=O: O({"w": np.ones(3)}, {"w": [0.0, 0.0, 0.0]}, lr=0.1))
    case(f"{oname}.load_state_dict-None", "save/load", TypeError, "state",
         r"state: expected a dict of arrays from state_dict\(\), got NoneType",
         lambda O=O: O(*problem(), lr=0.1).load_state_dict(None))
    case(f"{oname}.load_state_dict-lr-inf", "non-finite", ValueError, "lr",
         r"'lr' finite and >= 0, got 0, inf",
         lambda O=O: (lambda o: o.load_state_dict({**o.state_dict(), "lr": np.array(np.inf)}))(
             O(*problem(), lr=0.1)))
    case(f"{oname}.load_state_dict-missing-key", "save/load", ValueError, "step",
         r"load_state_dict: the state does not fit this optimizer:\n  missing 'step'",
         lambda O=O: (lambda o: o.load_state_dict({k: v for k, v in o.state_dict().items()
                                                  if k != "step"}))(O(*problem(), lr=0.1)))


def params_changed_then_step():
    params, grads = problem()
    opt = ll.SGD(params, grads, lr=0.1)
    params["v"], grads["v"] = np.ones(2), np.zeros(2)
    opt.step()


case("SGD.step-after-params-changed", "call order", RuntimeError, "params",
     r"SGD\.step: the params dict changed after the optimizer was built \(added \['v'\]",
     params_changed_then_step)
case("SGD.momentum-negative", "bad hyper-parameter", ValueError, "momentum",
     r"momentum: expected a finite number >= 0\.0, got -0\.9",
     lambda: ll.SGD(*problem(), lr=0.1, momentum=-0.9))
case("SGD.momentum-inf", "non-finite", ValueError, "momentum",
     r"momentum: expected a finite number >= 0\.0, got inf",
     lambda: ll.SGD(*problem(), lr=0.1, momentum=math.inf))
case("SGD.nesterov-without-momentum", "bad hyper-parameter", ValueError, "nesterov",
     r"nesterov: needs momentum > 0 and dampening == 0, got momentum=0\.0",
     lambda: ll.SGD(*problem(), lr=0.1, nesterov=True))
for bid, betas, exc, pattern in [
    ("float", 0.9, ValueError, r"betas: expected a pair \(beta1, beta2\), got 0\.9"),
    ("None", None, ValueError, r"betas: expected a pair \(beta1, beta2\), got None"),
    ("one", (0.9,), ValueError, r"betas: expected a pair \(beta1, beta2\), got \(0\.9,\)"),
    ("beta1-is-1", (1.0, 0.999), ValueError, r"betas\[0\]: expected a value in \[0\.0, 1\.0\), "
                                             r"got 1\.0"),
    ("beta2-negative", (0.9, -0.1), ValueError, r"betas\[1\]: expected a value in \[0\.0, "
                                                r"1\.0\), got -0\.1"),
    ("beta2-nan", (0.9, math.nan), ValueError, r"betas\[1\]: expected a value in \[0\.0, 1\.0\), "
                                               r"got nan"),
    ("str", ("0.9", 0.999), TypeError, r"betas\[0\]: expected a number, got str '0\.9'"),
]:
    case(f"Adam.betas-{bid}", "bad hyper-parameter", exc, "betas", pattern,
         lambda betas=betas: ll.Adam(*problem(), betas=betas))
case("Adam.eps-negative", "bad hyper-parameter", ValueError, "eps",
     r"eps: expected a finite number >= 0\.0, got -1e-08", lambda: ll.Adam(*problem(), eps=-1e-8))
case("Adam.eps-inf", "non-finite", ValueError, "eps", r"eps: expected a finite number",
     lambda: ll.Adam(*problem(), eps=math.inf))
case("RMSprop.alpha-above-1", "bad hyper-parameter", ValueError, "alpha",
     r"alpha: expected a value in \[0\.0, 1\.0\], got 1\.5",
     lambda: ll.RMSprop(*problem(), alpha=1.5))
case("Adagrad.lr_decay-negative", "bad hyper-parameter", ValueError, "lr_decay",
     r"lr_decay: expected a finite number >= 0\.0, got -1\.0",
     lambda: ll.Adagrad(*problem(), lr_decay=-1.0))


def sgd():
    return ll.SGD(*problem(), lr=0.1)


case("StepLR.step_size-0", "bad hyper-parameter", ValueError, "step_size",
     r"step_size: expected an integer >= 1, got 0", lambda: ll.StepLR(sgd(), 0))
case("StepLR.step_size-float", "bad hyper-parameter", TypeError, "step_size",
     r"step_size: expected an integer, got float 1\.5", lambda: ll.StepLR(sgd(), 1.5))
case("StepLR.gamma-negative", "bad hyper-parameter", ValueError, "gamma",
     r"gamma: expected a finite number >= 0\.0, got -0\.5", lambda: ll.StepLR(sgd(), 1, gamma=-0.5))
case("StepLR.gamma-inf", "non-finite", ValueError, "gamma",
     r"gamma: expected a finite number >= 0\.0, got inf",
     lambda: ll.StepLR(sgd(), 1, gamma=math.inf))
case("StepLR.optimizer-None", "not an array", TypeError, "optimizer",
     r"optimizer: expected an object with an lr, got None", lambda: ll.StepLR(None, 1))
case("CosineLR.T_max-0", "bad hyper-parameter", ValueError, "T_max",
     r"T_max: expected an integer >= 1, got 0", lambda: ll.CosineLR(sgd(), 0))
case("CosineLR.eta_min-negative", "bad hyper-parameter", ValueError, "eta_min",
     r"eta_min: expected a finite number >= 0\.0, got -0\.1",
     lambda: ll.CosineLR(sgd(), 3, eta_min=-0.1))
case("StepLR.set_epoch-negative", "bad hyper-parameter", ValueError, "epoch",
     r"epoch: expected an integer >= 0, got -1", lambda: ll.StepLR(sgd(), 1).set_epoch(-1))
case("CosineLR.set_epoch-float", "bad hyper-parameter", TypeError, "epoch",
     r"epoch: expected an integer, got float 1\.5", lambda: ll.CosineLR(sgd(), 3).set_epoch(1.5))


# -- clipping --------------------------------------------------------------------------------
def grads():
    return {"W": np.array([3.0, 4.0]), "b": np.array([1.0])}


for clip, arg in [(ll.clip_grad_norm, "max_norm"), (ll.clip_grad_value, "clip_value")]:
    cname = clip.__name__
    for vid, value, exc, pattern, kind in [
        ("0", 0.0, ValueError, r"expected a finite number > 0, got 0\.0", "bad hyper-parameter"),
        ("negative", -1.0, ValueError, r"expected a finite number > 0, got -1\.0",
         "bad hyper-parameter"),
        ("nan", math.nan, ValueError, r"expected a finite number > 0, got nan", "non-finite"),
        ("inf", math.inf, ValueError, r"expected a finite number > 0, got inf", "non-finite"),
        ("str", "1", TypeError, r"expected a number, got str '1'", "bad hyper-parameter"),
        ("None", None, TypeError, r"expected a number, got NoneType None", "bad hyper-parameter"),
    ]:
        case(f"{cname}.{arg}-{vid}", kind, exc, arg, f"{arg}: {pattern}",
             lambda clip=clip, value=value: clip(grads(), value))
    case(f"{cname}.grads-None", "not an array", TypeError, "grads",
         r"grads: expected a dict of gradient arrays \(model\.grads\) or a list of arrays, "
         r"got NoneType", lambda clip=clip: clip(None, 1.0))
    case(f"{cname}.grads-int", "int/bool for float", TypeError, "grads",
         r"grads\[W\]: expected a floating ndarray, got ndarray",
         lambda clip=clip: clip({"W": np.ones(3, dtype=int)}, 1.0))
    case(f"{cname}.grads-nested-list", "not an array", TypeError, "grads",
         r"grads\[0\]: expected a floating ndarray, got list",
         lambda clip=clip: clip([[1.0, 2.0]], 1.0))
for bad in (math.nan, math.inf):
    case(f"clip_grad_norm.grads-{bad}", "non-finite", ValueError, "clip_grad_norm",
         r"clip_grad_norm: the total gradient norm is (nan|inf); non-finite values in \['b'\]\. "
         r"The gradients were left untouched",
         lambda bad=bad: ll.clip_grad_norm({"W": np.ones(2), "b": np.array([bad])}, 1.0))


# -- save / load ------------------------------------------------------------------------------
@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    ll.save(ll.Linear(3, 2, rng=0), path)
    return path


IO_CASES = [  # (id, kind, exception, argument, pattern, call(path))
    ("save-optimizer-str", "save/load", TypeError, "optimizer",
     r"optimizer: expected an lstmlab Optimizer \(SGD, Adam, \.\.\.\) or None, got str",
     lambda p: ll.save(ll.Linear(3, 2), p.with_name("x.npz"), optimizer="adam")),
    ("load-optimizer-state_dict", "save/load", TypeError, "optimizer",
     r"optimizer: expected an lstmlab Optimizer .*got dict",
     lambda p: ll.load(ll.Linear(3, 2), p, optimizer=sgd().state_dict())),
    ("save-path-None", "save/load", TypeError, "path",
     r"path: expected a str, bytes or os\.PathLike \(a file name\), got NoneType",
     lambda p: ll.save(ll.Linear(3, 2), None)),
    ("load-path-None", "save/load", TypeError, "path",
     r"path: expected a str, bytes or os\.PathLike \(a file name\), got NoneType",
     lambda p: ll.load(ll.Linear(3, 2), None)),
    ("load-missing-file", "save/load", FileNotFoundError, "nope.npz",
     r"nope\.npz: no such file", lambda p: ll.load(ll.Linear(3, 2), p.with_name("nope.npz"))),
    ("load-a-directory", "save/load", ValueError, "",
     r": not an \.npz archive", lambda p: ll.load(ll.Linear(3, 2), p.parent)),
    ("save-model-None", "save/load", TypeError, "model",
     r"model: expected an object with a params dict, or a dict of arrays, got NoneType",
     lambda p: ll.save(None, p)),
    ("load-model-str", "save/load", TypeError, "model",
     r"model: expected an object with a params dict, .*got str", lambda p: ll.load("model", p)),
    ("load-into-dict-of-lists", "save/load", TypeError, "model",
     r"model: params\['W'\] is a list; load writes into arrays in place",
     lambda p: ll.load({"W": [0.0] * 6, "b": [0.0, 0.0]}, p)),
    ("save-object-array", "save/load", TypeError, "params/w",
     r"params/w: cannot save an object array \(it would need pickle\)",
     lambda p: ll.save({"w": np.array([None, 1])}, p)),
    ("load-shapes-differ", "save/load", ValueError, "param 'W'",
     r"the file does not match the model:\n  param 'W': shape \(3, 2\) in the file, \(3, 4\) "
     r"expected\n  param 'b': shape \(2,\) in the file, \(4,\) expected$",
     lambda p: ll.load(ll.Linear(3, 4), p)),
    ("load-dtypes-differ", "save/load", ValueError, "param 'W'",
     r"param 'W': dtype float64 in the file, float32 expected",
     lambda p: ll.load(ll.Linear(3, 2, dtype=np.float32), p)),
    ("load-names-differ", "save/load", ValueError, "param",
     r"missing param 'head\.W' \(3, 2\) float64\n  missing param 'head\.b' .*\n  unexpected param "
     r"'W' \(3, 2\) float64", lambda p: ll.load(ll.Model(head=ll.Linear(3, 2)), p)),
    ("load-optimizer-not-saved", "save/load", ValueError, "optimizer",
     r"no optimizer state in the file \(it was saved without optimizer=\)",
     lambda p: (lambda m: ll.load(m, p, optimizer=ll.SGD(m.params, m.grads, lr=0.1)))(
         ll.Linear(3, 2))),
    ("load-torch-state-dict-list", "save/load", TypeError, "state_dict",
     r"state_dict: expected a dict of arrays, got list",
     lambda p: ll.LSTM(3, 4).load_torch_state_dict([1])),
    ("load-torch-state-dict-None-values", "save/load", TypeError, "state_dict",
     r"state_dict\['weight_ih'\]: expected a floating array, got dtype object",
     lambda p: ll.LSTMCell(3, 4).load_torch_state_dict(
         dict.fromkeys(["weight_ih", "weight_hh", "bias_ih", "bias_hh"]))),
]


# -- the tests --------------------------------------------------------------------------------
def assert_clear(err, arg, pattern):
    msg = str(err)
    assert re.search(pattern, msg), f"message {msg!r} does not match {pattern!r}"
    assert arg in msg, f"message {msg!r} does not name {arg!r}"
    assert not any(phrase in msg for phrase in INTERNAL), f"NumPy's words leak out: {msg!r}"


@pytest.mark.parametrize("kind, exc, arg, pattern, thunk", CASES)
def test_bad_input_raises_a_clear_error(kind, exc, arg, pattern, thunk):
    assert exc in (ValueError, TypeError, RuntimeError)
    with pytest.raises(exc) as info:
        thunk()
    assert type(info.value) is exc  # not a subclass (e.g. FileNotFoundError for a ValueError)
    assert_clear(info.value, arg, pattern)


@pytest.mark.parametrize("kind, exc, arg, pattern, call", [c[1:] for c in IO_CASES],
                         ids=[c[0] for c in IO_CASES])
def test_bad_save_or_load_raises_a_clear_error(checkpoint, kind, exc, arg, pattern, call):
    before = checkpoint.read_bytes()
    with pytest.raises(exc) as info:
        call(checkpoint)
    assert type(info.value) is exc
    assert_clear(info.value, arg, pattern)
    assert checkpoint.read_bytes() == before  # a refused save or load never touches the file
    assert sorted(os.listdir(checkpoint.parent)) == ["ckpt.npz"]  # no stray temporary file


def test_the_table_covers_every_class_of_mistake():
    """The closing count of issue 8: how many rows, and which classes of mistake."""
    kinds = [p.values[0] for p in CASES] + [c[1] for c in IO_CASES]
    classes = {"ndim", "feature size", "batch mismatch", "state structure", "dtype",
               "int/bool for float", "float for int", "lengths", "targets/ids out of range",
               "targets shape", "call order", "gradient shape", "non-finite",
               "bad hyper-parameter", "save/load", "not an array"}
    assert set(kinds) == classes
    assert len(kinds) >= 400
    # every public layer and function appears in the table
    ids = " ".join(p.id for p in CASES) + " " + " ".join(c[0] for c in IO_CASES)
    for name in ("rnn.", "lstm.", "gru.", "Recurrent.", "RNN.", "LSTM.", "GRU.", "Linear.",
                 "Embedding.", "Model.", "cross_entropy.", "nll_loss.", "mse.", "bce.", "SGD.",
                 "Adam.", "Adagrad.", "RMSprop.", "StepLR.", "CosineLR.", "clip_grad_norm.",
                 "clip_grad_value.", "save-", "load-"):
        assert name in ids, name


# -- refusals that must leave everything as it was ----------------------------------------------
def snapshot(params):
    return {k: p.copy() for k, p in params.items()}


def same(params, snap):
    return all(params[k].tobytes() == snap[k].tobytes() for k in snap)


def test_load_lists_param_and_optimizer_differences_together_and_changes_nothing(tmp_path):
    src = ll.Model(rnn=ll.GRU(3, 4, rng=0), head=ll.Linear(4, 2, rng=0))
    opt = ll.Adam(src.params, src.grads, lr=0.01)
    opt.step()
    ll.save(src, tmp_path / "ckpt.npz", optimizer=opt)
    dst = ll.Model(rnn=ll.GRU(3, 4, rng=1), head=ll.Linear(4, 3, rng=1))
    dst_opt = ll.Adam(dst.params, dst.grads, lr=0.5, amsgrad=True)
    before, state_before = snapshot(dst.params), snapshot(dst_opt.state_dict())
    with pytest.raises(ValueError) as err:
        ll.load(dst, tmp_path / "ckpt.npz", optimizer=dst_opt)
    msg = str(err.value)
    for piece in ["param 'head.W': shape (4, 2) in the file, (4, 3) expected",
                  "param 'head.b': shape (2,) in the file, (3,) expected",
                  "optimizer missing 'max_exp_avg_sq.head.W'",
                  "optimizer 'exp_avg.head.W': shape (4, 2), expected (4, 3)"]:
        assert piece in msg
    assert same(dst.params, before)
    assert same(dst_opt.state_dict(), state_before) and dst_opt.lr == 0.5


def test_optimizer_load_state_dict_refusal_changes_nothing():
    params, grads_ = problem()
    opt = ll.Adam(params, grads_, lr=0.1)
    grads_["w"][...] = 1.0
    opt.step()
    before = snapshot(opt.state_dict())
    bad = {**opt.state_dict(), "step": np.array(7), "lr": np.array(np.inf)}
    with pytest.raises(ValueError, match="'lr' finite"):
        opt.load_state_dict(bad)
    assert same(opt.state_dict(), before) and opt.step_count == 1


def test_failed_fsync_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    ll.save(ll.Linear(3, 2, rng=0), path)
    original = path.read_bytes()

    def fsync_fails(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="I/O error"):
        ll.save(ll.Linear(3, 2, rng=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_interrupted_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    # KeyboardInterrupt is not an Exception: the clean-up must catch BaseException
    path = tmp_path / "ckpt.npz"
    ll.save(ll.Linear(3, 2, rng=0), path)
    original = path.read_bytes()
    real_savez = np.savez

    def interrupted(file, **arrays):
        real_savez(file, **arrays)
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ll.save(ll.Linear(3, 2, rng=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_clip_refusal_leaves_gradients_untouched():
    g = {"W": np.array([3.0, 4.0]), "b": np.array([np.inf])}
    with pytest.raises(ValueError):
        ll.clip_grad_norm(g, 1.0)
    assert g["W"].tolist() == [3.0, 4.0] and np.isinf(g["b"][0])
    with pytest.raises(ValueError):
        ll.clip_grad_norm({"W": np.array([3.0, 4.0])}, -1.0)


def test_one_array_is_one_gradient_not_a_list_of_rows():
    g = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert ll.clip_grad_norm(g, 1.0) == 5.0
    np.testing.assert_allclose(np.linalg.norm(g), 1.0, rtol=1e-5)
    g1 = np.array([30.0, 40.0])  # 1-D: its elements are numbers, not arrays
    assert ll.clip_grad_norm(g1, 5.0) == 50.0
    np.testing.assert_allclose(g1, [3.0, 4.0], rtol=1e-6)
