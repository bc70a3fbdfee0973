"""ParamDict refuses a rebinding; rebound_entries finds a composite out of step with its parts."""

import copy
import pickle

import numpy as np
import pytest

import lstmlab as ll
from lstmlab.paramdict import ParamDict, rebound_entries


def test_new_keys_and_the_same_array_are_fine_another_array_is_not():
    d = ParamDict("grads")
    w = np.zeros(2)
    d["w"] = w
    d["w"] = w  # the same array again: no change
    d.update(v=np.ones(1))
    d |= {"u": np.ones(3)}
    assert list(d) == ["w", "v", "u"] and d["w"] is w
    with pytest.raises(RuntimeError, match=r"grads\['w'\]: refusing.*grads\['w'\]\[\.\.\.\]"):
        d["w"] = np.zeros(2)
    with pytest.raises(RuntimeError, match="refusing to rebind"):
        d |= {"w": np.zeros(2)}
    assert d["w"] is w


def test_modules_hold_param_dicts_that_survive_copy_and_pickle():
    layer = ll.LSTM(2, 3, rng=0)
    assert isinstance(layer.params, ParamDict) and isinstance(layer.grads, ParamDict)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert clone.params.keys() == layer.params.keys()
        k = "layers.0.fwd.W_x"
        assert np.array_equal(clone.params[k], layer.params[k])
        assert clone.params[k] is not layer.params[k]
        with pytest.raises(RuntimeError, match="refusing to rebind"):
            clone.params[k] = np.zeros_like(clone.params[k])


def test_rebound_entries_names_every_key_out_of_step():
    model = ll.Model(rnn=ll.GRU(2, 3, rng=0), head=ll.Linear(3, 2, rng=0))
    assert rebound_entries(model) == [] and rebound_entries({"w": np.ones(1)}) == []
    # a part whose whole dict was replaced: the model still holds the old arrays
    model.head.params = {k: p.copy() for k, p in model.head.params.items()}
    dict.__setitem__(model.rnn.grads, "layers.0.fwd.b_hn", np.zeros(3))
    problems = rebound_entries(model)
    # the GRU's entry differs from both the model's (above it) and its Recurrent's (below it)
    assert [p.split(" (")[0] for p in problems] == [
        "grads['rnn.layers.0.fwd.b_hn'] is not the array part 'rnn'",
        "params['head.W'] is not the array part 'head'",
        "params['head.b'] is not the array part 'head'",
        "grads['rnn.layers.0.fwd.b_hn'] is not the array part 'rnn.layers.0.fwd'"]
    assert "part 'head' (Linear) uses as params['W']" in problems[1]
    assert "params['W'][...] = new" in problems[1]
