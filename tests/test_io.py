import io
import json
import os
import pathlib
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import lstmlab as ll
from lstmlab import io as lstmlab_io


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


# -- hardening: every member's header is checked against the model before any data is read -----
def npy_header(shape, descr="<f8", pad_to=None, version=1):
    """The bytes of a .npy preamble and header, optionally padded to ``pad_to`` bytes."""
    text = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    if pad_to is not None:
        text = text.ljust(pad_to - 1)
    text = (text + "\n").encode("latin1")
    size = len(text).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + text


def write_archive(path, members, compress=False):
    """An .npz from {member name: bytes, or (header, number of zero bytes streamed after it)}."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, content in members.items():
            with z.open(name, "w", force_zip64=True) as f:
                if isinstance(content, bytes):
                    f.write(content)
                else:
                    header, zeros = content
                    f.write(header)
                    chunk = bytes(2**20)
                    for start in range(0, zeros, len(chunk)):
                        f.write(chunk[: min(len(chunk), zeros - start)])


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def model_members(model):
    return {f"params/{k}.npy": npy_bytes(p) for k, p in model.params.items()}


def refused(path, match, model=None):
    """load raises ValueError matching ``match`` and leaves the model as it was."""
    target = model if model is not None else make_model(1)
    before = snapshot(target)
    with pytest.raises(ValueError, match=match):
        ll.load(target, path)
    assert_same(target, before)


def test_a_member_without_the_npy_suffix_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    write_archive(path, {**model_members(make_model()), "params/head.b": npy_bytes(np.zeros(5))})
    refused(path, r"corrupt .npz archive: member 'params/head.b' is not a .npy array "
                  r"\(no .npy suffix\)")


def test_a_large_header_is_not_called_pickled(tmp_path):
    model = make_model()
    b = model.params["head.b"]
    members = model_members(model)
    # 20 kB: more than NumPy's own limit, fine here: the values load
    members["params/head.b.npy"] = npy_header(b.shape, pad_to=20_000, version=2) + b.tobytes()
    write_archive(tmp_path / "big_header.npz", members)
    target = make_model(1)
    ll.load(target, tmp_path / "big_header.npz")
    assert_same(target, snapshot(model))
    # beyond the limit: named as what it is
    members["params/head.b.npy"] = npy_header(b.shape, pad_to=100_000, version=2) + b.tobytes()
    write_archive(tmp_path / "huge_header.npz", members)
    with pytest.raises(ValueError) as err:
        ll.load(make_model(1), tmp_path / "huge_header.npz")
    assert "header is 100000 bytes" in str(err.value) and "pickle" not in str(err.value)


@pytest.mark.parametrize("key", ["params/head.b", "params/unknown", "optimizer/step"])
def test_a_declared_shape_of_2_to_the_40_is_a_value_error_not_a_memory_error(tmp_path, key):
    members = model_members(make_model())
    members[f"{key}.npy"] = npy_header((2**40,)) + bytes(40)  # 5 floats, 8 TiB declared
    write_archive(tmp_path / "ckpt.npz", members)
    refused(tmp_path / "ckpt.npz", r"declares shape \(1099511627776,\) of float64 "
                                   r"\(8796093022208 bytes\) but holds 40 bytes")


@pytest.mark.parametrize("case", ["unexpected", "wrong shape"])
def test_a_small_file_cannot_make_load_allocate_much(tmp_path, case):
    # 64 MB of zeros compress to ~64 kB; np.load would read (allocate) them all
    members = model_members(make_model())
    n = 8 * 2**20
    name = "params/extra.npy" if case == "unexpected" else "params/head.b.npy"
    members[name] = (npy_header((n,)), 8 * n)
    path = tmp_path / "bomb.npz"
    write_archive(path, members, compress=True)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"\(8388608,\)"):
            ll.load(make_model(1), path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # headers only: nothing near the 64 MB declared


def test_only_the_data_the_model_needs_is_read(tmp_path, monkeypatch):
    from lstmlab import archive
    model = make_model()
    path = tmp_path / "ckpt.npz"
    ll.save(model, path, optimizer=trained_adam(model), extra={"note": "x"})
    read = []
    original = archive.read_member
    monkeypatch.setattr("lstmlab.io.read_member",
                        lambda z, m: read.append(m.key) or original(z, m))
    ll.load(make_model(1), path)  # no optimizer given: its state is not even read
    assert sorted(read) == sorted(["meta/format", "meta/extra"]
                                  + [f"params/{k}" for k in model.params])


def test_a_header_that_lies_about_its_size_is_refused(tmp_path):
    model = make_model()
    members = model_members(model)
    b = model.params["head.b"]
    members["params/head.b.npy"] = npy_header(b.shape) + b.tobytes()[:-8]  # one float short
    write_archive(tmp_path / "short.npz", members)
    refused(tmp_path / "short.npz", r"declares shape \(5,\) of float64 \(40 bytes\) but holds 32")
    members["params/head.b.npy"] = b"not an npy at all"
    write_archive(tmp_path / "junk.npz", members)
    refused(tmp_path / "junk.npz", "member 'params/head.b.npy' is not a .npy array")
    members["params/head.b.npy"] = npy_header(b.shape, descr="|O") + bytes(40)
    write_archive(tmp_path / "pickle.npz", members)
    refused(tmp_path / "pickle.npz", "pickled")


# -- hardening: saving ------------------------------------------------------------------------
def test_stale_temporaries_of_the_same_target_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    ll.save(make_model(), path)
    prefix = lstmlab_io._temporary_prefix("ckpt.npz")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = [f"{prefix}{dead_pid}.0123abcd.npz.tmp", ".ckpt.npz.0123456789ab.tmp"]  # new, old
    alive = f"{prefix}{os.getpid()}.0123abcd.npz.tmp"  # a save in progress in this process
    other = lstmlab_io._temporary_prefix("other.npz") + f"{dead_pid}.0123abcd.npz.tmp"
    for name in (*stale, alive, other):
        (tmp_path / name).write_bytes(b"PK half an archive")
    if os.name != "posix":  # no process check there: only old temporaries are stale
        old = time.time() - 2 * lstmlab_io._STALE_AFTER
        os.utime(tmp_path / stale[0], (old, old))
    ll.save(make_model(1), path)
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", alive, other])


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_a_save_killed_midway_leaves_a_temporary_the_next_save_removes(tmp_path):
    path = tmp_path / "ckpt.npz"
    ll.save(make_model(0), path)
    original = path.read_bytes()
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        import lstmlab as ll
        def killed(file, **arrays):
            file.write(b"PK half an archive")
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        np.savez = killed
        ll.save({{"w": np.ones(3)}}, {str(path)!r})
    """)
    for _ in range(3):  # each killed save removes what the one before it left
        run = subprocess.run([sys.executable, "-c", script], capture_output=True)
        assert run.returncode == -signal.SIGKILL
        left = [name for name in os.listdir(tmp_path) if name != "ckpt.npz"]
        assert len(left) == 1 and left[0].endswith(".npz.tmp")
    assert path.read_bytes() == original
    ll.save(make_model(1), path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


@pytest.mark.parametrize("length", [238, 255])
def test_long_file_names_work(tmp_path, length):
    name = "m" * (length - 4) + ".npz"
    try:
        (tmp_path / name).write_bytes(b"")
        (tmp_path / name).unlink()
    except OSError:
        pytest.skip(f"this file system refuses {length}-byte names")
    model = make_model()
    ll.save(model, tmp_path / name)
    assert os.listdir(tmp_path) == [name]
    target = make_model(1)
    ll.load(target, tmp_path / name)
    assert_same(target, snapshot(model))


def test_save_accepts_a_bytes_path_like_load(tmp_path):
    path = os.fsencode(tmp_path / "ckpt.npz")
    model = make_model()
    assert ll.save(model, path) == os.fsdecode(path)
    target = make_model(1)
    ll.load(target, path)
    assert_same(target, snapshot(model))


def test_saving_into_a_missing_folder_names_the_folder(tmp_path):
    folder = tmp_path / "runs" / "today"
    with pytest.raises(FileNotFoundError) as err:
        ll.save(make_model(), folder / "ckpt.npz")
    assert err.value.filename == str(folder) and "does not exist" in str(err.value)
    assert ".tmp" not in str(err.value)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        ll.save(make_model(), tmp_path)


# -- plain data saved with the weights ------------------------------------------------------------
def test_extra_plain_data_round_trips_and_is_optional(tmp_path):
    model = make_model()
    extra = {"vocab": {"tokens": ["<unk>", "a", "é", "日"], "specials": ["<unk>"]},
             "hidden": 4, "lr": 0.003, "tied": False, "note": None, "sizes": (3, 4)}
    ll.save(model, tmp_path / "ckpt.npz", extra=extra)
    assert ll.load_extra(tmp_path / "ckpt.npz") == {**extra, "sizes": [3, 4]}  # tuples: lists
    assert ll.load(make_model(1), tmp_path / "ckpt.npz")["vocab"] == extra["vocab"]
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as f:  # readable without lstmlab
        assert json.loads(str(f["meta/extra"]))["hidden"] == 4
    ll.save(model, tmp_path / "plain.npz")
    assert ll.load_extra(tmp_path / "plain.npz") is None
    assert ll.load(make_model(1), tmp_path / "plain.npz") is None


@pytest.mark.parametrize("extra", [{"w": np.ones(2)}, {"x": float("nan")}, {1j: 2}, object()])
def test_extra_that_is_not_plain_data_is_refused_before_writing(tmp_path, extra):
    with pytest.raises(TypeError, match="extra: expected plain data"):
        ll.save(make_model(), tmp_path / "ckpt.npz", extra=extra)
    assert os.listdir(tmp_path) == []


# -- rebinding ----------------------------------------------------------------------------------
def test_save_and_load_refuse_a_model_whose_part_was_rebound(tmp_path):
    path = tmp_path / "ckpt.npz"
    ll.save(make_model(), path)
    model = make_model(1)
    with pytest.raises(RuntimeError, match="refusing to rebind"):
        model.head.params["W"] = np.zeros((4, 5))
    # a part whose whole dict was replaced: load would write into arrays it no longer uses
    model.head.params = {k: p.copy() for k, p in model.head.params.items()}
    for call in (lambda: ll.load(model, path), lambda: ll.save(model, tmp_path / "new.npz")):
        with pytest.raises(RuntimeError, match=r"params\['head.W'\] is not the array part 'head'"
                                               r".*params\['W'\]\[\.\.\.\] = new"):
            call()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
