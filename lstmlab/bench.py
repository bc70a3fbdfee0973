"""Benchmark: lstmlab's RNN, LSTM and GRU layers against PyTorch's, on the CPU.

Run it as ``python -m lstmlab.bench`` (``--help`` lists the options). For each
model (RNN, LSTM, GRU: one layer, time-major), size and dtype it measures::

    fwd      out, state = layer.forward(x)
    fwd+bwd  layer.zero_grad(); out, state = layer.forward(x); layer.backward(dout)

with a fixed random ``dout``, so the backward computes every gradient: dx and
all the weight gradients. When torch is importable, the same work runs in
PyTorch in the same process, on the same weights (loaded through
:meth:`~lstmlab.LSTM.torch_state_dict`) and the same dtype, the way a user
trains: autograd on, the input ``requires_grad``, and::

    fwd      out, state = module(x)            (builds the graph, as lstmlab keeps its caches)
    fwd+bwd  module.zero_grad(); x.grad = None; out, state = module(x); out.backward(dout)

Each figure is the median of several repeats after a warm-up, lstmlab and
PyTorch interleaved so that a load change on the machine hits both. The
ratio is lstmlab / PyTorch: below 1 lstmlab is faster.

Threads: ``--threads N`` (default 1) sets ``torch.set_num_threads(N)`` and
the BLAS that NumPy uses. A BLAS reads its thread count
(``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) when
NumPy is imported, before this module runs, so the command line either uses
threadpoolctl, when it is installed, or starts the interpreter once more
with those variables set. The per-step products are small ((N, H) x (H, G*H)):
on a machine whose cores are busy with other work, a second BLAS thread often
waits for a core and a step can take a scheduler time slice instead of
microseconds; compare the load average in the header.

BLAS kernels: the products run at the speed of the kernels OpenBLAS picked
for the CPU, or of those ``OPENBLAS_CORETYPE`` names (the header says which).
On an AVX-512 CPU, the AVX2 ``Haswell`` kernels took 1.1x (one 2-core AMD
EPYC machine) to 1.6x (another) the time of the ``SkylakeX`` ones for these
shapes, while PyTorch's oneDNN uses AVX-512 either way; the "products"
column shows where that puts the floor.

Memory: the bytes the forward keeps for the backward, per time step and
example, are counted by walking the layer's stored forward cache: every array
reachable from it, each underlying buffer once (a view counts as the array it
views: ``h_prev`` of step t is ``h`` of step t-1, gates are views into one
fused array), excluding the caller's input xs and the parameters, divided
by T*N. The record holds a copy of xs (so the caller may change x after the
forward), and that copy is counted: D values per step and example, in the
first layer (layers above copy their input instead of keeping the lower
layer's output); the LSTM's copy has one more, the 1 that multiplies the bias
in its stacked product. Next to it, the minimum the equations need: the values the backward formulas
read that are not inputs of the layer (xs and the initial state), each value
stored once, nothing recomputed::

    RNN   h                              1 H   (act' is read from h; h_prev is h of t-1)
    GRU   r, z, n, hn, h                 5 H   (hn = h_prev W_hn + b_hn, read by dr)
    LSTM  i, f, g, o, c, tanh(c), h      7 H   (c is c_prev of t+1, h is h_prev of t+1)

(An LSTM backward that recomputes tanh(c) from c needs 6 H.)

Examples
--------
>>> rows = main(["--models", "RNN", "--sizes", "tiny", "--dtypes", "float64",
...              "--repeats", "1", "--no-torch", "--no-charlm", "--quiet"])
>>> [(r["model"], r["size"], r["dtype"]) for r in rows]
[('RNN', 'tiny', 'float64')]
>>> rows[0]["min_bytes"] == 1 * 64 * 8    # H = 64 values of 8 bytes per step and example
True
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

import numpy as np

from .bench_charlm import CHARLM, run_charlm
from .layers import GRU, LSTM, RNN
from .module import Module

__all__ = ["main", "SIZES", "MIN_VALUES", "kept_bytes", "minimum_bytes", "products_only",
           "load_dlfs2"]

MODELS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
SIZES = {  # name: (T, N, D, H)
    "tiny": (50, 1, 32, 64),
    "medium": (100, 32, 128, 128),
    "large": (100, 64, 256, 256),
}
DEFAULT_REPEATS = {"tiny": 21, "medium": 11, "large": 5}
WARMUP = 2
DTYPES = ("float32", "float64")
# The minimum kept per step and example, in units of H values (see the module docstring).
MIN_VALUES = {"RNN": 1, "GRU": 5, "LSTM": 7}
MIN_SYMBOLS = {"RNN": "h", "GRU": "r, z, n, hn, h", "LSTM": "i, f, g, o, c, tanh(c), h"}
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
REEXEC_MARKER = "LSTMLAB_BENCH_REEXEC"


# -- memory -------------------------------------------------------------------------------
def _owner(a):
    """The array that owns ``a``'s memory: the end of its ``.base`` chain."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _arrays(obj, seen):
    """Every ndarray reachable from ``obj`` through tuples, lists, dicts and attributes."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _arrays(item, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _arrays(item, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, (Module, type)):
        for item in vars(obj).values():
            yield from _arrays(item, seen)


def kept_bytes(layer, xs):
    """Bytes of the buffers the layer's last forward keeps for its backward.

    Walks the layer's forward cache and those of its Recurrent wrappers; every
    distinct underlying buffer is counted once, whole (a view keeps all of
    its base alive); the input ``xs`` and the parameters and gradients are
    not counted.

    Parameters
    ----------
    layer : RNN, LSTM or GRU, after ``forward``
    xs : ndarray, the input given to that forward

    Returns
    -------
    int
    """
    excluded = {id(_owner(xs))}
    excluded.update(id(_owner(a)) for a in layer.params.values())
    excluded.update(id(_owner(a)) for a in layer.grads.values())
    caches = [layer._records[-1]] + [rec._records[-1] for directions in layer.layers
                                     for rec in directions]  # the last forward's records
    owners = {}
    for a in _arrays(caches, set()):
        base = _owner(a)
        if id(base) not in excluded:
            owners[id(base)] = base
    # An owner whose .base is not an ndarray (e.g. a buffer) may alias another: count once.
    distinct = []
    for base in owners.values():
        if base.base is None or not any(np.shares_memory(base, b) for b in distinct):
            distinct.append(base)
    return sum(base.nbytes for base in distinct)


def minimum_bytes(model, hidden_size, dtype):
    """The bytes per step and example the backward formulas need: MIN_VALUES[model] * H values.

    Examples
    --------
    >>> minimum_bytes("LSTM", 64, "float32")
    1792
    """
    return MIN_VALUES[model] * hidden_size * np.dtype(dtype).itemsize


# -- the floor: the matrix products alone ---------------------------------------------------
def products_only(model, T, N, D, H, dtype):
    """A function that runs only the matrix products of one forward+backward, same shapes.

    The products of lstmlab's fused runners (lstmlab/fused.py), with G = 1, 4
    or 3 gates for RNN, LSTM and GRU and preallocated outputs. The GRU and
    the RNN::

        XW   = W_x^T X^T           (G*H, D) x (D, T*N)        the input part, all steps
        T x  a_t  = W_h^T h_t      (G*H, H) x (H, N)          forward, step by step
        T x  dh_t = W_h da_t       (H, G*H) x (G*H, N)        backward, step by step
        dW_x^T = dA^T X,  dW_h^T = dA^T H_prev,  dX = dA W_x^T   after the loop

    The LSTM stacks its weights, ``S = [W_x; b; W_h]`` (K = D + 1 + H rows),
    and each step's input ``xh_t = [x_t; 1; h_t]``, so its products are::

        T x  a_t  = S^T xh_t       (G*H, K) x (K, N)          forward (N = 1: xh_t^T S)
        T x  dh_t = W_h da_t       (H, G*H) x (G*H, N)        backward, step by step
        dS^T = dA^T XH,  dX = dA W_x^T                         after the loop

    Whatever lstmlab does besides these (the gates' element-wise math, the
    copies, Python) is the distance between its time and this one.

    Examples
    --------
    >>> run = products_only("LSTM", 3, 2, 4, 5, "float32")
    >>> run()
    """
    G = GATES[model] * H
    rng = np.random.default_rng(1)

    def rand(*shape):
        return (0.1 * rng.standard_normal(shape)).astype(dtype)

    W_x, W_h, a, dA = rand(D, G), rand(H, G), rand(G, N), rand(G, T * N)
    z, dh, dX = np.empty((G, N), dtype), np.empty((H, N), dtype), np.empty((T * N, D), dtype)
    if model == "LSTM":
        K = D + 1 + H
        S, XH, dS = rand(K, G), rand(T * N, K), np.empty((G, K), dtype)
        if N == 1:  # a row vector times the untransposed stack; the steps on (.,) vectors
            step_a, step_b, z, a, dh = rand(K), S, z[:, 0], a[:, 0], dh[:, 0]
        else:
            step_a, step_b = np.ascontiguousarray(S.T), rand(K, N)

        def run():
            for _ in range(T):
                np.dot(step_a, step_b, out=z)
            for _ in range(T):
                np.dot(W_h, a, out=dh)
            np.matmul(dA, XH, out=dS)
            np.matmul(dA.T, W_x.T, out=dX)

        return run
    X, h, HP = rand(T * N, D), rand(H, N), rand(H, T * N)
    W_hT = np.ascontiguousarray(W_h.T)
    XW = np.empty((G, T * N), dtype)
    dW_x, dW_h = np.empty((G, D), dtype), np.empty((G, H), dtype)

    def run():
        np.matmul(W_x.T, X.T, out=XW)
        for _ in range(T):
            np.dot(W_hT, h, out=z)
        for _ in range(T):
            np.dot(W_h, a, out=dh)
        np.matmul(dA, X, out=dW_x)
        np.matmul(dA, HP.T, out=dW_h)
        np.matmul(dA.T, W_x.T, out=dX)

    return run


# -- deep-learning-from-scratch-2 ---------------------------------------------------------------
def load_dlfs2(path):
    """Import deep-learning-from-scratch-2's ``common.time_layers`` from its ``common/`` folder.

    Nothing of that project is part of lstmlab: give the folder of a clone
    (``--dlfs2 PATH/common``). Its TimeLSTM is float32 only, batch-major
    (N, T, D), with the gates fused as f, g, i, o.
    """
    import importlib

    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(os.path.join(path, "time_layers.py")):
        raise SystemExit(f"--dlfs2: expected the common/ folder of deep-learning-from-scratch-2 "
                         f"(with time_layers.py), got {path!r}")
    if os.path.basename(path) != "common":
        raise SystemExit(f"--dlfs2: the folder must be named common (its modules import "
                         f"common.np ...), got {path!r}")
    parent = os.path.dirname(path)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    return importlib.import_module("common.time_layers")


def _dlfs2_twin(time_layers, layer):
    """A dlfs2 TimeLSTM with ``layer``'s weights (gates reordered i, f, g, o -> f, g, i, o)."""
    cell = layer.layers[0][0].cell
    H = cell.hidden_size
    i, f, g, o = (slice(k * H, (k + 1) * H) for k in range(4))

    def reorder(a):
        return np.ascontiguousarray(np.concatenate([a[..., f], a[..., g], a[..., i], a[..., o]],
                                                   axis=-1), dtype=np.float32)

    return time_layers.TimeLSTM(reorder(cell.params["W_x"]), reorder(cell.params["W_h"]),
                                reorder(cell.params["b"]))


# -- the machine ------------------------------------------------------------------------------
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _lstmlab_version():
    """The package version, and the git commit when run from a clone (+ if lstmlab/ is edited)."""
    from . import __version__

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lstmlab"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = dirty = ""
    if not commit:
        return __version__
    return f"{__version__}, git {commit}" + (" + uncommitted changes in lstmlab/" if dirty else "")


def _blas_name():
    """The BLAS NumPy was built with, from ``np.show_config``."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no mode="dicts"
        return "unknown"


def _openblas_lib():
    """The OpenBLAS library NumPy loaded (ctypes.CDLL), or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _blas_core():
    """The kernel family OpenBLAS runs (e.g. Haswell = AVX2, SkylakeX = AVX-512), or None.

    OpenBLAS picks it from the CPU unless ``OPENBLAS_CORETYPE`` names one; the
    products' speed, and so every ratio here, depends on it.
    """
    lib = _openblas_lib()
    if lib is None:
        return None
    for symbol in ("scipy_openblas_get_corename64_", "openblas_get_corename64_",
                   "scipy_openblas_get_corename", "openblas_get_corename"):
        if hasattr(lib, symbol):
            getter = getattr(lib, symbol)
            getter.restype = ctypes.c_char_p
            return getter().decode()
    return None


def _blas_threads():
    """The thread count NumPy's BLAS will use, asked at run time (None if unknown)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                return pool.get("num_threads")
    try:  # ask the loaded OpenBLAS directly, as threadpoolctl does
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "scipy_openblas_get_num_threads", "openblas_get_num_threads"):
            if hasattr(lib, symbol):
                getter = getattr(lib, symbol)
                getter.restype = ctypes.c_int
                return int(getter())
    return None


def _set_threads(threads, torch):
    """Set torch's and (with threadpoolctl) the BLAS's threads; return the threadpool limiter."""
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None  # the command line has set the environment before NumPy was imported
    return threadpool_limits(limits=threads, user_api="blas")


def machine_info(argv, threads, torch, torch_status="not found (lstmlab figures only)"):
    """The header's facts, as an ordered dict of strings."""
    blas_threads = _blas_threads()
    core = _blas_core()
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return {
        "machine": f"{platform.platform()}; {_cpu_model()}; {os.cpu_count()} cores",
        "python": platform.python_version(),
        "lstmlab": _lstmlab_version(),
        "numpy": f"{np.__version__}, BLAS {_blas_name()}, BLAS threads "
                 + ("unknown" if blas_threads is None else str(blas_threads))
                 + ("" if core is None else f", OpenBLAS kernels {core}")
                 + ("" if not forced else f" (OPENBLAS_CORETYPE={forced} in the environment)"),
        "torch": _torch_version(torch) if torch is not None else torch_status,
        "threads": str(threads) + ("" if torch is None
                                   else f" (torch.get_num_threads() = {torch.get_num_threads()})"),
        "command": "python -m lstmlab.bench" + ("" if not argv else " " + shlex.join(argv)),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": _load(),
    }


def _torch_version(torch):
    """torch's version, and whether oneDNN is there (float32 nn.LSTM then runs its fused kernel)."""
    try:
        onednn = "available" if torch.backends.mkldnn.is_available() else "absent"
    except AttributeError:
        onednn = "unknown"
    return (f"{torch.__version__} (oneDNN {onednn}; with it, nn.LSTM in float32 runs oneDNN's "
            f"fused RNN kernel, while nn.RNN, nn.GRU and float64 run ATen ops step by step)")


def _load():
    """The load average at the start: above the core count, other work competes for the CPU."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return "unknown"
    return (f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min averages; figures are noisy "
            f"when other processes keep the cores busy)")


# -- timing -------------------------------------------------------------------------------
def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _median_ms(fns, repeats):
    """Medians in ms of each of ``fns``, run interleaved: warm-up, then ``repeats`` rounds.

    The garbage collector is off while timing, as in :mod:`timeit` (a collection
    with torch loaded takes longer than a tiny run); arrays are freed by
    reference counting all the same.
    """
    gc.collect()
    gc.disable()
    try:
        for _ in range(WARMUP):
            for fn in fns:
                fn()
        samples = [[] for _ in fns]
        for _ in range(repeats):
            for fn, s in zip(fns, samples):
                s.append(_timed(fn))
    finally:
        gc.enable()
    return [1e3 * statistics.median(s) for s in samples]


def _lstmlab_work(layer, x, dout):
    def fwd():
        layer.forward(x)
        layer.discard_saved()  # timed with its record, as a training forward keeps it

    def fwd_bwd():
        layer.zero_grad()
        layer.forward(x)
        layer.backward(dout)

    return fwd, fwd_bwd


def _torch_module(torch, model, layer):
    """The PyTorch twin of ``layer``: same class, sizes, dtype and weights."""
    D, H = layer.input_size, layer.hidden_size
    dtype = getattr(torch, layer.dtype.name)
    module = getattr(torch.nn, model)(D, H, dtype=dtype)
    state = {k: torch.from_numpy(v) for k, v in layer.torch_state_dict().items()}
    module.load_state_dict(state)
    return module


def _torch_work(module, xt, doutt):
    def fwd():
        module(xt)

    def fwd_bwd():
        module.zero_grad()
        xt.grad = None
        out, _ = module(xt)
        out.backward(doutt)

    return fwd, fwd_bwd


def _max_rel_diff(module, layer, x, dout, xt, doutt):
    """Largest relative |lstmlab - torch| over out, dx and each weight gradient (a wiring check).

    For each array ``max|a - b| / max|b|``: float32 sums of T*N terms differ
    in absolute terms by more than their rounding, not relatively.
    """
    layer.zero_grad()
    out, _ = layer.forward(x)
    dx, _ = layer.backward(dout)
    module.zero_grad()
    xt.grad = None
    outt, _ = module(xt)
    outt.backward(doutt)
    pairs = [(out, outt.detach().numpy()), (dx, xt.grad.numpy())]
    tgrads = dict(module.named_parameters())
    pairs += [(g, tgrads[k].grad.numpy()) for k, g in layer.torch_grads().items()]
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)) for a, b in pairs)


def run_row(model, size, dtype, repeats, torch, textbook=True, dlfs2=None):
    """Time one (model, size, dtype) and measure its memory; return the row dict.

    Timed, interleaved: lstmlab's fwd and torch's; then lstmlab's fwd+bwd,
    torch's, the products alone, the textbook cells' (``fast=False``) and
    dlfs2's TimeLSTM (``dlfs2``: its ``time_layers`` module; LSTM float32 only).
    """
    T, N, D, H = SIZES[size]
    rng = np.random.default_rng(0)
    layer = MODELS[model](D, H, dtype=dtype, rng=rng)
    x = rng.standard_normal((T, N, D)).astype(dtype)
    dout = rng.standard_normal((T, N, H)).astype(dtype)
    row = {"model": model, "size": size, "dtype": np.dtype(dtype).name, "T": T, "N": N, "D": D,
           "H": H, "repeats": repeats}

    layer.forward(x)
    row["kept_bytes"] = kept_bytes(layer, x) / (T * N)
    row["min_bytes"] = minimum_bytes(model, H, dtype)
    layer.discard_saved()

    fwd, fwd_bwd = _lstmlab_work(layer, x, dout)
    fwds, fwd_bwds, names = [fwd], [fwd_bwd], ["fwd_bwd_ms"]
    if torch is not None:
        module = _torch_module(torch, model, layer)
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        doutt = torch.from_numpy(dout.copy())
        row["max_rel_diff"] = _max_rel_diff(module, layer, x, dout, xt, doutt)
        t_fwd, t_fwd_bwd = _torch_work(module, xt, doutt)
        fwds.append(t_fwd)
        fwd_bwds.append(t_fwd_bwd)
        names.append("torch_fwd_bwd_ms")
    fwd_bwds.append(products_only(model, T, N, D, H, dtype))
    names.append("products_ms")
    if textbook:
        slow = MODELS[model](D, H, dtype=dtype, rng=np.random.default_rng(0), fast=False)
        fwd_bwds.append(_lstmlab_work(slow, x, dout)[1])
        names.append("textbook_fwd_bwd_ms")
    if dlfs2 is not None and model == "LSTM" and row["dtype"] == "float32":
        twin = _dlfs2_twin(dlfs2, layer)
        xb, doutb = np.ascontiguousarray(x.swapaxes(0, 1)), np.ascontiguousarray(
            dout.swapaxes(0, 1))
        hs = twin.forward(xb).swapaxes(0, 1)
        out, _ = layer.forward(x)
        layer.discard_saved()
        row["dlfs2_max_rel_diff"] = float(np.max(np.abs(hs - out)) / np.max(np.abs(out)))
        fwd_bwds.append(lambda: (twin.forward(xb), twin.backward(doutb)))
        names.append("dlfs2_fwd_bwd_ms")
    fwd_ms = _median_ms(fwds, repeats)
    row["fwd_ms"] = fwd_ms[0]
    row.update(zip(names, _median_ms(fwd_bwds, repeats)))
    if torch is not None:
        row["torch_fwd_ms"] = fwd_ms[1]
        row["fwd_ratio"] = row["fwd_ms"] / row["torch_fwd_ms"]
        row["fwd_bwd_ratio"] = row["fwd_bwd_ms"] / row["torch_fwd_bwd_ms"]
        row["products_ratio"] = row["products_ms"] / row["torch_fwd_bwd_ms"]
    if "dlfs2_fwd_bwd_ms" in row:
        row["dlfs2_ratio"] = row["dlfs2_fwd_bwd_ms"] / row["fwd_bwd_ms"]
    return row


def profile_row(model, size, dtype, repeats, top=20):
    """cProfile of lstmlab's fwd+bwd for one row: the ``top`` entries by own time, as text."""
    import cProfile
    import io
    import pstats

    T, N, D, H = SIZES[size]
    rng = np.random.default_rng(0)
    layer = MODELS[model](D, H, dtype=dtype, rng=rng)
    x = rng.standard_normal((T, N, D)).astype(dtype)
    dout = rng.standard_normal((T, N, H)).astype(dtype)
    _, fwd_bwd = _lstmlab_work(layer, x, dout)
    fwd_bwd()  # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        fwd_bwd()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


# -- output ---------------------------------------------------------------------------------
def _table(header, rows, markdown):
    """A table as text: GitHub pipes with ``markdown``, else aligned columns."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---" if i < 3 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def format_header(info, markdown=False):
    """The machine and run facts, one per line."""
    bullet = "- " if markdown else ""
    return "\n".join(f"{bullet}{key}: {value}" for key, value in info.items())


def format_times(rows, markdown=False):
    """The timing table (without torch columns when torch was not found).

    With ``products_ms`` in the rows: the products alone and, with torch,
    their share of torch's time (the floor of the ratio); with
    ``textbook_fwd_bwd_ms``: the textbook cells' time and its ratio to the
    fused path's.
    """
    with_torch = any("torch_fwd_ms" in r for r in rows)
    with_floor = any("products_ms" in r for r in rows)
    with_cells = any("textbook_fwd_bwd_ms" in r for r in rows)
    if with_torch:
        header = ["model", "size", "dtype", "lstmlab fwd ms", "torch fwd ms", "ratio",
                  "lstmlab fwd+bwd ms", "torch fwd+bwd ms", "ratio"]
    else:
        header = ["model", "size", "dtype", "lstmlab fwd ms", "lstmlab fwd+bwd ms"]
    if with_floor:
        header += ["products ms"] + (["products/torch"] if with_torch else [])
    if with_cells:
        header += ["cells fwd+bwd ms", "cells/fused"]
    body = []
    for r in rows:
        cells = [r["model"], r["size"], r["dtype"], f"{r['fwd_ms']:.2f}"]
        if with_torch:
            cells += [f"{r['torch_fwd_ms']:.2f}", f"{r['fwd_ratio']:.2f}x",
                      f"{r['fwd_bwd_ms']:.2f}", f"{r['torch_fwd_bwd_ms']:.2f}",
                      f"{r['fwd_bwd_ratio']:.2f}x"]
        else:
            cells += [f"{r['fwd_bwd_ms']:.2f}"]
        if with_floor:
            cells += [f"{r['products_ms']:.2f}"]
            if with_torch:
                cells += [f"{r['products_ratio']:.2f}x"]
        if with_cells:
            cells += ([f"{r['textbook_fwd_bwd_ms']:.2f}",
                       f"{r['textbook_fwd_bwd_ms'] / r['fwd_bwd_ms']:.2f}x"]
                      if "textbook_fwd_bwd_ms" in r else ["-", "-"])
        body.append(cells)
    return _table(header, body, markdown)


def format_dlfs2(rows, markdown=False):
    """lstmlab against deep-learning-from-scratch-2's TimeLSTM (rows that have it)."""
    header = ["model", "size", "dtype", "lstmlab fwd+bwd ms", "dlfs2 fwd+bwd ms",
              "dlfs2/lstmlab", "same hs (max rel diff)"]
    body = [[r["model"], r["size"], r["dtype"], f"{r['fwd_bwd_ms']:.2f}",
             f"{r['dlfs2_fwd_bwd_ms']:.2f}", f"{r['dlfs2_ratio']:.2f}x",
             f"{r['dlfs2_max_rel_diff']:.1e}"] for r in rows if "dlfs2_ratio" in r]
    return _table(header, body, markdown)


def format_charlm(result, markdown=False):
    """The char-LSTM workload: characters per second of training, lstmlab and torch."""
    header = ["workload", "dtype", "lstmlab chars/s", "lstmlab step ms"]
    name = "char-LSTM E={E} H={H} N={N} T={T} V={V}".format(**result)
    cells = [name, "float32", f"{result['chars_per_s']:.0f}", f"{result['step_ms']:.1f}"]
    if "torch_chars_per_s" in result:
        header += ["torch chars/s", "torch step ms", "lstmlab/torch"]
        cells += [f"{result['torch_chars_per_s']:.0f}", f"{result['torch_step_ms']:.1f}",
                  f"{result['ratio']:.2f}x"]
    header += ["loss first -> last"]
    cells += [f"{result['loss_first']:.2f} -> {result['loss_last']:.2f}"]
    return _table(header, [cells], markdown)


def format_memory(rows, markdown=False):
    """The memory table: kept bytes per step and example, next to the minimum."""
    header = ["model", "size", "dtype", "kept B/(step*example)", "in H values",
              "minimum B", "minimum", "kept/minimum"]
    body = []
    for r in rows:
        itemsize = np.dtype(r["dtype"]).itemsize
        body.append([r["model"], r["size"], r["dtype"], f"{r['kept_bytes']:.0f}",
                     f"{r['kept_bytes'] / (itemsize * r['H']):.2f} H", f"{r['min_bytes']}",
                     f"{MIN_VALUES[r['model']]} H ({MIN_SYMBOLS[r['model']]})",
                     f"{r['kept_bytes'] / r['min_bytes']:.2f}"])
    return _table(header, body, markdown)


NOTES = """\
fwd: lstmlab layer.forward(x), which keeps its caches for the backward; torch module(x) with
  autograd on (x.requires_grad, graph built). fwd+bwd: zero the grads, forward, backward
  with a fixed random dout (dx and every weight gradient). Median of the repeats after
  {warmup} warm-up runs, lstmlab and torch interleaved; ratio = lstmlab / torch.
  lstmlab runs its fused path (lstmlab/fused.py, the layers' default).
products: the matrix products of lstmlab's forward+backward alone, same shapes, timed in the
  same rounds: products/torch is the lowest ratio NumPy's BLAS allows this code.
cells: the same layer with fast=False, the textbook cells through Recurrent (same numbers).
memory: bytes of the distinct buffers reachable from the forward cache (a view counts as
  its base, the input xs and the parameters are excluded), / (T*N). minimum: the values
  the backward formulas read that are not inputs of the layer, each stored once, nothing
  recomputed. Kept above it: the copy of xs (D values; the LSTM's D + 1, with the 1 that
  multiplies its bias), the initial state (once per
  sequence, so 1/T of a step). The fused runners also keep a workspace between calls (the
  buffers of the last sequence, reused so that big arrays are not fresh memory every time);
  it is not kept for a backward and is not counted."""


CHARLM_NOTE = """\
char-LSTM: Embedding(V, {E}) -> LSTM({E}, {H}) -> Linear({H}, V), float32, batches of N={N}
  streams x T={T} characters of a generated 1 MB text, cross-entropy, clip_grad_norm({clip}),
  Adam(lr={lr}); lstmlab and torch from the same initial weights, one step each in turn,
  {steps} timed steps after 3 warm-up ones; chars/s = N*T / median step time."""


# -- command line -------------------------------------------------------------------------------
def _names(values, choices, option):
    """Comma or space separated names, matched case-insensitively against ``choices``."""
    out = []
    for value in values:
        for name in filter(None, value.split(",")):
            match = [c for c in choices if c.lower() == name.lower()]
            if not match:
                raise SystemExit(f"{option}: unknown {name!r}, expected some of {list(choices)}")
            out.append(match[0])
    return out


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m lstmlab.bench",
        description="Time lstmlab's RNN/LSTM/GRU layers (forward, forward+backward) against "
                    "PyTorch on the CPU, and the memory the forward keeps.")
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="RNN LSTM GRU")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="tiny medium large")
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), help="float32 float64")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per figure (default: tiny 21, medium 11, large 5)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for torch and for NumPy's BLAS (default 1)")
    parser.add_argument("--markdown", action="store_true", help="GitHub markdown tables")
    parser.add_argument("--no-torch", action="store_true", help="do not compare with PyTorch")
    parser.add_argument("--no-cells", action="store_true",
                        help="do not time the textbook cells (fast=False)")
    parser.add_argument("--dlfs2", metavar="PATH",
                        help="the common/ folder of a deep-learning-from-scratch-2 clone: add "
                             "its TimeLSTM to the LSTM float32 rows")
    parser.add_argument("--no-charlm", action="store_true",
                        help="skip the end-to-end char-LSTM training workload")
    parser.add_argument("--charlm-steps", type=int, default=20,
                        help="timed training steps of the char-LSTM workload (default 20)")
    parser.add_argument("--profile", action="store_true",
                        help="instead of timing, print a cProfile of lstmlab's fwd+bwd per row")
    parser.add_argument("--quiet", action="store_true", help="print nothing (for tests)")
    args = parser.parse_args(argv)
    args.models = _names(args.models, list(MODELS), "--models")
    args.sizes = _names(args.sizes, list(SIZES), "--sizes")
    args.dtypes = _names(args.dtypes, list(DTYPES), "--dtypes")
    if args.threads < 1 or (args.repeats is not None and args.repeats < 1) or \
            args.charlm_steps < 1:
        parser.error("--threads, --repeats and --charlm-steps must be positive")
    return args


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def main(argv=None):
    """Run the benchmark; print the header and the tables; return the rows (list of dict).

    Each row has ``model, size, dtype, T, N, D, H, repeats, fwd_ms, fwd_bwd_ms,
    products_ms, kept_bytes, min_bytes``, ``textbook_fwd_bwd_ms`` (unless
    ``--no-cells``) and, with torch, ``torch_fwd_ms, torch_fwd_bwd_ms,
    fwd_ratio, fwd_bwd_ratio, products_ratio, max_rel_diff``; with
    ``--dlfs2``, LSTM float32 rows add ``dlfs2_fwd_bwd_ms, dlfs2_ratio``
    (dlfs2 / lstmlab). Unless ``--no-charlm``, the last row is the char-LSTM
    workload (``model == "char-LSTM"``, see :mod:`lstmlab.bench_charlm`). With
    ``--profile`` the rows carry ``profile`` (text) instead of times.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    say = (lambda *a: None) if args.quiet else print
    torch = None if args.no_torch else _import_torch()
    dlfs2 = None if args.dlfs2 is None else load_dlfs2(args.dlfs2)
    limiter = _set_threads(args.threads, torch)
    try:
        status = ("not used (--no-torch)" if args.no_torch
                  else "not found (lstmlab figures only)")
        say(format_header(machine_info(argv, args.threads, torch, status), args.markdown))
        say()
        rows = []
        for model in args.models:
            for size in args.sizes:
                repeats = args.repeats or DEFAULT_REPEATS[size]
                for dtype in args.dtypes:
                    if args.profile:
                        text = profile_row(model, size, dtype, repeats)
                        rows.append({"model": model, "size": size, "dtype": dtype,
                                     "profile": text})
                        say(f"== {model} {size} {dtype}: lstmlab fwd+bwd, {repeats} runs ==")
                        say(text)
                    else:
                        rows.append(run_row(model, size, dtype, repeats, torch,
                                            textbook=not args.no_cells, dlfs2=dlfs2))
        charlm = None
        if not (args.profile or args.no_charlm):
            charlm = run_charlm(torch, steps=args.charlm_steps)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    if args.profile:
        return rows
    say(format_times(rows, args.markdown))
    say()
    if any("dlfs2_ratio" in r for r in rows):
        say(format_dlfs2(rows, args.markdown))
        say()
    if charlm is not None:
        say(format_charlm(charlm, args.markdown))
        say()
    say(format_memory(rows, args.markdown))
    say()
    say(NOTES.format(warmup=WARMUP))
    if charlm is not None:
        say(CHARLM_NOTE.format(steps=args.charlm_steps, **CHARLM))
    if dlfs2 is not None:
        say("dlfs2: deep-learning-from-scratch-2's TimeLSTM (common/time_layers.py) on the same "
            "weights and inputs, float32, fwd+bwd timed in the same rounds; dlfs2/lstmlab > 1: "
            "lstmlab is faster.")
    if torch is not None:
        for dtype in args.dtypes:
            diffs = [r["max_rel_diff"] for r in rows if r["dtype"] == dtype]
            say(f"check: lstmlab and torch agree, {dtype}: max |difference| / max |torch| over "
                f"out, dx and each weight gradient = {max(diffs):.1e}")
    if charlm is not None:
        rows.append({"model": "char-LSTM", "size": "E64 H256 N32 T64", "dtype": "float32",
                     **charlm})
    return rows


def _cli():
    """``python -m lstmlab.bench``: make the BLAS thread count take effect, then run main."""
    args = parse_args(sys.argv[1:])
    wanted = str(args.threads)
    try:
        import threadpoolctl  # noqa: F401  (it sets the BLAS threads at run time)
    except ImportError:
        settled = all(os.environ.get(var) == wanted for var in THREAD_VARS)
        if not settled and os.environ.get(REEXEC_MARKER) != wanted:
            # NumPy's BLAS read its thread count when numpy was imported: start again with it set.
            os.environ.update({var: wanted for var in THREAD_VARS})
            os.environ[REEXEC_MARKER] = wanted
            sys.stdout.flush()
            os.execv(sys.executable, [sys.executable, "-m", "lstmlab.bench", *sys.argv[1:]])
    main(sys.argv[1:])


if __name__ == "__main__":
    _cli()
