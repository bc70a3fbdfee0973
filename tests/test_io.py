import os
import pathlib
import struct
import zipfile

import numpy as np
import pytest

import lstmlab as ll


def make_model(seed=0, H=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return ll.Model(embed=ll.Embedding(5, 3, dtype=dtype, rng=rng),
                    rnn=ll.LSTM(3, H, dtype=dtype, rng=rng),
                    head=ll.Linear(H, 5, dtype=dtype, rng=rng))


def snapshot(model):
    return {k: p.copy() for k, p in model.params.items()}


def assert_same(model, snap):
    assert set(model.params) == set(snap)
    for k, p in model.params.items():
        assert p.dtype == snap[k].dtype and p.tobytes() == snap[k].tobytes(), k


def trained_adam(model, steps=3):
    opt = ll.Adam(model.params, model.grads, lr=0.01)
    rng = np.random.default_rng(5)
    for _ in range(steps):
        for g in model.grads.values():
            g[...] = rng.standard_normal(g.shape)
        opt.step()
    return opt


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_bit_for_bit_into_the_same_arrays(tmp_path, dtype):
    src = make_model(0, dtype=dtype)
    path = tmp_path / "model.npz"
    assert ll.save(src, path) == str(path)
    dst = make_model(1, dtype=dtype)
    arrays = {k: id(p) for k, p in dst.params.items()}
    assert not np.array_equal(dst.params["head.W"], src.params["head.W"])
    ll.load(dst, path)
    assert_same(dst, snapshot(src))
    assert {k: id(p) for k, p in dst.params.items()} == arrays  # written in place


def test_file_is_a_plain_npz_with_documented_keys(tmp_path):
    model = make_model()
    opt = trained_adam(model)
    path = tmp_path / "ckpt.npz"
    ll.save(model, path, optimizer=opt)
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        assert f["meta/optimizer"] == "Adam" and int(f["meta/format"]) == 1
        assert int(f["optimizer/step"]) == 3
        np.testing.assert_array_equal(f["params/rnn.layers.0.fwd.W_h"],
                                      model.params["rnn.layers.0.fwd.W_h"])
    assert {f"params/{k}" for k in model.params} <= keys
    assert {f"optimizer/{k}" for k in opt.state_dict()} <= keys


def test_path_written_exactly_as_given(tmp_path):
    ll.save(make_model(), tmp_path / "ckpt")  # no .npz appended
    assert os.listdir(tmp_path) == ["ckpt"]
    ll.load(make_model(1), str(tmp_path / "ckpt"))


def test_optimizer_state_round_trip(tmp_path):
    model = make_model()
    opt = trained_adam(model)
    opt.lr = 0.003
    ll.save(model, tmp_path / "ckpt.npz", optimizer=opt)
    model2 = make_model(1)
    opt2 = ll.Adam(model2.params, model2.grads, lr=0.01)
    ll.load(model2, tmp_path / "ckpt.npz", optimizer=opt2)
    assert opt2.step_count == 3 and opt2.lr == 0.003
    for buf in ("exp_avg", "exp_avg_sq"):
        for k in model.params:
            assert opt2.state[buf][k].tobytes() == opt.state[buf][k].tobytes()
    # without optimizer=, the saved optimizer state is simply not used
    ll.load(make_model(2), tmp_path / "ckpt.npz")


def test_mismatch_lists_every_difference_and_changes_nothing(tmp_path):
    path = tmp_path / "ckpt.npz"
    ll.save(make_model(0, H=4), path)
    other = ll.Model(embed=ll.Embedding(5, 3, dtype=np.float32, rng=1),
                     rnn=ll.LSTM(3, 6, rng=1),
                     out=ll.Linear(6, 5, rng=1))
    before = snapshot(other)
    with pytest.raises(ValueError) as err:
        ll.load(other, path)
    msg = str(err.value)
    expected = [
        "missing param 'out.W' (6, 5) float64",
        "missing param 'out.b' (5,) float64",
        "unexpected param 'head.W' (4, 5) float64",
        "unexpected param 'head.b' (5,) float64",
        "param 'embed.W': dtype float64 in the file, float32 expected",
        "param 'rnn.layers.0.fwd.W_x': shape (3, 16) in the file, (3, 24) expected",
        "param 'rnn.layers.0.fwd.W_h': shape (4, 16) in the file, (6, 24) expected",
        "param 'rnn.layers.0.fwd.b': shape (16,) in the file, (24,) expected",
    ]
    for piece in expected:
        assert piece in msg
    assert msg.count("\n") == len(expected)  # one line each, nothing else
    assert_same(other, before)


def test_optimizer_mismatch_refused_before_the_params_are_written(tmp_path):
    path = tmp_path / "ckpt.npz"
    model = make_model()
    ll.save(model, path, optimizer=trained_adam(model))
    ll.save(model, tmp_path / "no_opt.npz")
    target = make_model(1)
    before = snapshot(target)
    cases = [
        (path, ll.SGD(target.params, target.grads, lr=0.1), "Adam in the file, SGD given"),
        (path, ll.Adam(target.params, target.grads, amsgrad=True),
         "optimizer missing 'max_exp_avg_sq.head.W'"),
        (tmp_path / "no_opt.npz", ll.Adam(target.params, target.grads), "no optimizer state"),
    ]
    for p, opt, piece in cases:
        with pytest.raises(ValueError, match=piece):
            ll.load(target, p, optimizer=opt)
        assert_same(target, before)
        assert opt.step_count == 0


def test_refuses_a_pickled_object_array(tmp_path):
    path = tmp_path / "evil.npz"
    model = make_model()
    arrays = {f"params/{k}": p for k, p in model.params.items()}
    arrays["params/head.b"] = np.array([object()] * 5, dtype=object)
    np.savez(path, **arrays)  # NumPy pickles object arrays
    target = make_model(1)
    before = snapshot(target)
    with pytest.raises(ValueError, match="pickled"):
        ll.load(target, path)
    assert_same(target, before)


@pytest.mark.parametrize("damage", ["truncate", "empty", "text", "npy", "flip"])
def test_refuses_damaged_files(tmp_path, damage):
    path = tmp_path / "ckpt.npz"
    ll.save(make_model(), path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "text":
        path.write_text("not a checkpoint")
    elif damage == "npy":
        with path.open("wb") as f:
            np.save(f, np.zeros(3))
    else:  # flip the first float of the first array: only the zip's CRC-32 can tell
        with zipfile.ZipFile(path) as z:
            h = z.infolist()[0].header_offset
        name_len, extra_len = struct.unpack("<HH", data[h + 26:h + 30])  # zip local header
        npy = h + 30 + name_len + extra_len
        assert data[npy:npy + 6] == b"\x93NUMPY"
        (header_len,) = struct.unpack("<H", data[npy + 8:npy + 10])
        first = npy + 10 + header_len
        corrupted = bytearray(data)
        corrupted[first:first + 8] = bytes(b ^ 0xFF for b in data[first:first + 8])
        path.write_bytes(bytes(corrupted))
    target = make_model(1)
    before = snapshot(target)
    with pytest.raises(ValueError, match="npz") as err:
        ll.load(target, path)
    if damage == "flip":
        assert "CRC" in str(err.value)
    assert_same(target, before)


def test_file_from_plain_np_savez_gets_a_hint(tmp_path):
    path = tmp_path / "raw.npz"
    model = make_model()
    np.savez(path, **model.params)
    with pytest.raises(ValueError, match="no 'params/...' arrays.*lstmlab.save"):
        ll.load(model, path)


def test_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    good = make_model(0)
    ll.save(good, path)
    original = path.read_bytes()

    def crash_midway(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        ll.save(make_model(1), path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file is gone
    target = make_model(2)
    ll.load(target, path)
    assert_same(target, snapshot(good))


def test_failed_rename_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    ll.save(make_model(0), path)
    original = path.read_bytes()

    def no_rename(src, dst):
        raise PermissionError("rename refused")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(PermissionError):
        ll.save(make_model(1), path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_new_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / "ckpt.npz"
    ll.save(make_model(), path)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_dict_of_arrays_and_pathlib(tmp_path):
    params = {"w": np.arange(3.0), "v": np.ones((2, 2), dtype=np.float32)}
    path = pathlib.Path(tmp_path) / "d.npz"
    ll.save(params, path)
    target = {"w": np.zeros(3), "v": np.zeros((2, 2), dtype=np.float32)}
    w = target["w"]
    ll.load(target, path)
    assert target["w"] is w and target["w"].tolist() == [0.0, 1.0, 2.0]
    assert target["v"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_save_errors(tmp_path):
    with pytest.raises(TypeError, match="object array"):
        ll.save({"w": np.array([object()])}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="params dict"):
        ll.save(object(), tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        ll.save(make_model(), tmp_path / "missing_dir" / "x.npz")
