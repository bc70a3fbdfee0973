"""Attention: forward against a loop over one (t, j) pair at a time, gradient checks, tape rules."""

import warnings

import numpy as np
import pytest

import lstmlab as ll

SCORES = ("dot", "general", "additive")
LENGTHS = (None, [4, 1, 3])


def inputs(seed=0, Tq=2, N=3, Tk=4, H=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((Tq, N, H)).astype(dtype)
    k = rng.standard_normal((Tk, N, H)).astype(dtype)
    return q, k


def loop_attention(attn, q, k, lengths=None):
    """The equations one scalar score at a time, with an independent softmax."""
    Tq, N, H = q.shape
    Tk = k.shape[0]
    p = attn.params
    context = np.zeros((Tq, N, H))
    weights = np.zeros((Tq, N, Tk))
    for n in range(N):
        L = Tk if lengths is None else lengths[n]
        for t in range(Tq):
            s = np.empty(L)
            for j in range(L):
                if attn.score == "dot":
                    s[j] = q[t, n] @ k[j, n]
                elif attn.score == "general":
                    s[j] = (q[t, n] @ p["W"]) @ k[j, n]
                else:
                    s[j] = p["v"] @ np.tanh(q[t, n] @ p["W_q"] + k[j, n] @ p["W_k"])
            e = np.exp(s - s.max())
            weights[t, n, :L] = e / e.sum()
            context[t, n] = weights[t, n, :L] @ k[:L, n]
    return context, weights


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("score", SCORES)
def test_forward_equals_the_equations_one_score_at_a_time(score, lengths):
    attn = ll.Attention(3, score=score, rng=0)
    q, k = inputs()
    context, weights = attn.forward(q, k, lengths=lengths)
    want_c, want_a = loop_attention(attn, q, k, lengths)
    np.testing.assert_allclose(context, want_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights, want_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)
    if lengths is not None:
        for n, L in enumerate(lengths):
            assert (weights[:, n, L:] == 0.0).all()  # exactly zero, not merely small


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("score", SCORES)
def test_gradient_check_context_and_weights(score, lengths):
    """The loss reads both outputs: sum(context * G_c) + sum(weights * G_a)."""
    attn = ll.Attention(3, score=score, rng=1)
    q, k = inputs(seed=2)
    report = ll.check_layer(attn, q, k, lengths=lengths)
    expected = {"input0", "input1"} | set(attn.params)
    assert set(report) == expected
    report.assert_ok(1e-7)


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("score", SCORES)
def test_gradient_check_context_only(score, lengths):
    """The usual case: only the context feeds the loss, backward(dcontext)."""
    attn = ll.Attention(3, score=score, rng=3)
    q, k = inputs(seed=4)

    def forward(q, k):
        return attn.forward(q, k, lengths=lengths)[0], None

    def backward(dcontext, _):
        return attn.backward(dcontext)

    report = ll.check_gradients(forward, backward, (q, k), ("queries", "keys"),
                                attn.params, attn.grads)
    report.assert_ok(1e-7)


@pytest.mark.parametrize("score", SCORES)
def test_gradient_check_one_attention_used_twice(score):
    """Shared weights: the second use reads the first's context; two backwards, in reverse."""
    attn = ll.Attention(3, score=score, rng=5)
    q, k = inputs(seed=6)
    k2 = np.random.default_rng(7).standard_normal((5, 3, 3))
    lengths2 = [5, 2, 4]

    def forward(q, k, k2):
        c1, _ = attn.forward(q, k)
        c2, _ = attn.forward(c1, k2, lengths=lengths2)
        return c2, None

    def backward(dc2, _):
        dc1, dk2 = attn.backward(dc2)
        dq, dk = attn.backward(dc1)
        return dq, dk, dk2

    report = ll.check_gradients(forward, backward, (q, k, k2), ("q", "k", "k2"),
                                attn.params, attn.grads)
    report.assert_ok(1e-7)


def test_two_forwards_two_backwards_then_an_error():
    attn = ll.Attention(3, score="general", rng=0)
    q, k = inputs()
    c1, _ = attn.forward(q, k)
    c2, _ = attn.forward(c1, k)
    dc1, _ = attn.backward(np.ones_like(c2))
    assert dc1.shape == c1.shape
    attn.backward(dc1)
    with pytest.raises(RuntimeError, match="backward"):
        attn.backward(np.ones_like(c1))  # both records consumed


def test_deliberately_broken_backward_is_caught():
    attn = ll.Attention(3, score="general", rng=0)
    q, k = inputs()

    def forward(q, k):
        return attn.forward(q, k)[0], None

    def backward(dcontext, _):
        dq, dk = attn.backward(dcontext)
        return dq, dk * 1.01

    report = ll.check_gradients(forward, backward, (q, k), ("q", "k"), attn.params, attn.grads)
    assert report.failures(1e-7) == ["k"]


def test_backward_without_forward_and_wrong_dcontext_shape():
    attn = ll.Attention(3)
    with pytest.raises(RuntimeError, match="backward"):
        attn.backward(np.zeros((2, 3, 3)))
    q, k = inputs()
    attn.forward(q, k)
    with pytest.raises(ValueError, match=r"dcontext: expected shape \(2, 3, 3\).*got \(2, 3, 4\)"):
        attn.backward(np.zeros((2, 3, 4)))


def test_caller_may_change_inputs_and_outputs_after_forward():
    attn = ll.Attention(3, score="additive", rng=0)
    q, k = inputs()
    context, weights = attn.forward(q, k)
    G = np.random.default_rng(1).standard_normal(context.shape)
    want = attn.backward(G)
    grads = {name: g.copy() for name, g in attn.grads.items()}
    attn.zero_grad()
    q2, k2 = q.copy(), k.copy()
    context, weights = attn.forward(q2, k2)
    q2 += 1.0
    k2 *= -3.0
    weights[...] = 7.0
    context[...] = 7.0
    got = attn.backward(G)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    for name in grads:
        np.testing.assert_array_equal(attn.grads[name], grads[name])


def test_no_grad_keeps_nothing():
    attn = ll.Attention(3, score="general", rng=0)
    q, k = inputs()
    with ll.no_grad():
        context, _ = attn.forward(q, k)
    np.testing.assert_array_equal(context, attn.forward(q, k)[0])
    attn.backward(np.ones_like(context))
    with pytest.raises(RuntimeError, match="backward"):
        attn.backward(np.ones_like(context))  # the no_grad forward left no record


@pytest.mark.parametrize("score", SCORES)
def test_large_scores_are_stable(score):
    attn = ll.Attention(3, score=score, rng=0)
    q, k = inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        context, weights = attn.forward(1e4 * q, 1e4 * k, lengths=[4, 1, 3])
        dq, dk = attn.backward(np.ones_like(context))
    for a in (context, weights, dq, dk):
        assert np.isfinite(a).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)


@pytest.mark.parametrize("score", SCORES)
def test_float32_follows_float64(score):
    a64 = ll.Attention(3, score=score, rng=0)
    a32 = ll.Attention(3, score=score, dtype=np.float32, rng=0)
    q, k = inputs()
    c64, w64 = a64.forward(q, k, lengths=[4, 1, 3])
    c32, w32 = a32.forward(q.astype(np.float32), k.astype(np.float32), lengths=[4, 1, 3])
    assert c32.dtype == w32.dtype == np.float32
    np.testing.assert_allclose(c32, c64, rtol=1e-4, atol=1e-5)
    dq, dk = a32.backward(np.ones_like(c32))
    assert dq.dtype == dk.dtype == np.float32
    assert all(g.dtype == np.float32 for g in a32.grads.values())


def test_edge_sizes_one_key_and_no_queries():
    attn = ll.Attention(3, score="additive", rng=0)
    q, k = inputs(Tk=1)
    context, weights = attn.forward(q, k)
    assert (weights == 1.0).all()  # one step to attend to: all the weight
    np.testing.assert_allclose(context, np.broadcast_to(k, q.shape))
    q0 = np.zeros((0, 3, 3))
    context, weights = attn.forward(q0, k)
    assert context.shape == (0, 3, 3) and weights.shape == (0, 3, 1)
    dq, dk = attn.backward(np.zeros((0, 3, 3)))
    assert dq.shape == (0, 3, 3) and not dk.any()


def test_parameters_and_repr():
    assert ll.Attention(4).params == {}
    assert sorted(ll.Attention(4, score="general").params) == ["W"]
    shapes = {k: v.shape for k, v in ll.Attention(4, score="additive").params.items()}
    assert shapes == {"W_q": (4, 4), "W_k": (4, 4), "v": (4,)}
    assert repr(ll.Attention(4)) == "Attention(4)"
    assert repr(ll.Attention(4, score="additive")) == "Attention(4, score='additive')"
    assert repr(ll.Attention(4, dtype=np.float32)) == "Attention(4, dtype='float32')"


BAD = [
    (dict(score="concat"), {}, ValueError, r"score: expected one of .*got 'concat'"),
    (dict(score=3), {}, TypeError, r"score: expected one of"),
    (dict(hidden_size=0), {}, ValueError, r"hidden_size: expected an integer >= 1, got 0"),
    ({}, dict(k=np.zeros((4, 2, 3))), ValueError,
     r"keys: expected shape \(Tk, N, H\) with N = 3 .*got \(4, 2, 3\)"),
    ({}, dict(k=np.zeros((4, 3, 2))), ValueError, r"keys: expected shape .*H = 3.*got \(4, 3, 2\)"),
    ({}, dict(q=np.zeros((2, 3, 5))), ValueError,
     r"queries: expected shape .*H = 3.*got \(2, 3, 5\)"),
    ({}, dict(q=np.zeros((3, 3))), ValueError, r"queries: expected 3 dimensions"),
    ({}, dict(k=np.zeros((0, 3, 3))), ValueError, r"keys: expected at least one encoder step"),
    ({}, dict(q=np.zeros((2, 3, 3), dtype=np.float32)), TypeError,
     r"queries: expected dtype float64"),
    ({}, dict(lengths=[4, 0, 3]), ValueError,
     r"lengths: expected every length in \[1, 4\], got 0 for example 1"),
    ({}, dict(lengths=[4, 5, 3]), ValueError,
     r"lengths: expected every length in \[1, 4\].*e\.g\. 5"),
    ({}, dict(lengths=[4, -1, 3]), ValueError, r"lengths: expected every length in \[1, 4\].*-1"),
    ({}, dict(lengths=[4, 3]), ValueError,
     r"lengths: expected shape \(N,\) with N = 3 .*got \(2,\)"),
    ({}, dict(lengths=[4.0, 1.0, 3.0]), TypeError, r"lengths: expected an integer array"),
]


@pytest.mark.parametrize("build, call, error, message", BAD)
def test_bad_input_names_the_argument(build, call, error, message):
    q, k = inputs()
    with pytest.raises(error, match=message):
        attn = ll.Attention(**{"hidden_size": 3, **build})
        attn.forward(call.get("q", q), call.get("k", k), lengths=call.get("lengths"))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns about the NaN first
def test_detect_anomaly_names_the_attention_and_the_tensor():
    attn = ll.Attention(3, score="general", rng=0)
    q, k = inputs()
    attn.params["W"][0, 0] = np.nan
    with ll.detect_anomaly(), pytest.raises(FloatingPointError,
                                            match="Attention: context .* forward"):
        attn.forward(q, k)
    attn.discard_saved()
    attn.params["W"][0, 0] = 0.0
    context, _ = attn.forward(q, k)
    with ll.detect_anomaly(), pytest.raises(FloatingPointError, match="Attention: dqueries"):
        attn.backward(np.full_like(context, np.inf))
