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

Memory: the bytes the forward keeps for the backward, per time step and
example, are counted by walking the layer's stored forward cache: every array
reachable from it, each underlying buffer once (a view counts as the array it
views: ``h_prev`` of step t is ``h`` of step t-1, gates are views into one
fused array), excluding the caller's input xs and the parameters, divided
by T*N. The record holds a copy of xs (so the caller may change x after the
forward), and that copy is counted: D values per step and example, in the
first layer (layers above copy their input instead of keeping the lower
layer's output). Next to it, the minimum the equations need: the values the backward formulas
read that are not inputs of the layer (xs and the initial state), each value
stored once, nothing recomputed::

    RNN   h                              1 H   (act' is read from h; h_prev is h of t-1)
    GRU   r, z, n, hn, h                 5 H   (hn = h_prev W_hn + b_hn, read by dr)
    LSTM  i, f, g, o, c, tanh(c), h      7 H   (c is c_prev of t+1, h is h_prev of t+1)

(An LSTM backward that recomputes tanh(c) from c needs 6 H.)

Examples
--------
>>> rows = main(["--models", "RNN", "--sizes", "tiny", "--dtypes", "float64",
...              "--repeats", "1", "--no-torch", "--quiet"])
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

from .layers import GRU, LSTM, RNN
from .module import Module

__all__ = ["main", "SIZES", "MIN_VALUES", "kept_bytes", "minimum_bytes"]

MODELS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
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
    return {
        "machine": f"{platform.platform()}; {_cpu_model()}; {os.cpu_count()} cores",
        "python": platform.python_version(),
        "lstmlab": _lstmlab_version(),
        "numpy": f"{np.__version__}, BLAS {_blas_name()}, BLAS threads "
                 + ("unknown" if blas_threads is None else str(blas_threads)),
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


def run_row(model, size, dtype, repeats, torch):
    """Time one (model, size, dtype) and measure its memory; return the row dict."""
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

    fns = list(_lstmlab_work(layer, x, dout))
    if torch is not None:
        module = _torch_module(torch, model, layer)
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        doutt = torch.from_numpy(dout.copy())
        row["max_rel_diff"] = _max_rel_diff(module, layer, x, dout, xt, doutt)
        t_fwd, t_fwd_bwd = _torch_work(module, xt, doutt)
        fns = [fns[0], t_fwd, fns[1], t_fwd_bwd]
    ms = _median_ms(fns[: len(fns) // 2], repeats) + _median_ms(fns[len(fns) // 2 :], repeats)
    if torch is None:
        row["fwd_ms"], row["fwd_bwd_ms"] = ms
    else:
        row["fwd_ms"], row["torch_fwd_ms"], row["fwd_bwd_ms"], row["torch_fwd_bwd_ms"] = ms
        row["fwd_ratio"] = row["fwd_ms"] / row["torch_fwd_ms"]
        row["fwd_bwd_ratio"] = row["fwd_bwd_ms"] / row["torch_fwd_bwd_ms"]
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
    """The timing table (without torch columns when torch was not found)."""
    with_torch = any("torch_fwd_ms" in r for r in rows)
    if with_torch:
        header = ["model", "size", "dtype", "lstmlab fwd ms", "torch fwd ms", "ratio",
                  "lstmlab fwd+bwd ms", "torch fwd+bwd ms", "ratio"]
    else:
        header = ["model", "size", "dtype", "lstmlab fwd ms", "lstmlab fwd+bwd ms"]
    body = []
    for r in rows:
        cells = [r["model"], r["size"], r["dtype"], f"{r['fwd_ms']:.2f}"]
        if with_torch:
            cells += [f"{r['torch_fwd_ms']:.2f}", f"{r['fwd_ratio']:.2f}x",
                      f"{r['fwd_bwd_ms']:.2f}", f"{r['torch_fwd_bwd_ms']:.2f}",
                      f"{r['fwd_bwd_ratio']:.2f}x"]
        else:
            cells += [f"{r['fwd_bwd_ms']:.2f}"]
        body.append(cells)
    return _table(header, body, markdown)


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
memory: bytes of the distinct buffers reachable from the forward cache (a view counts as
  its base, the input xs and the parameters are excluded), / (T*N). minimum: the values
  the backward formulas read that are not inputs of the layer, each stored once, nothing
  recomputed."""


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
    parser.add_argument("--profile", action="store_true",
                        help="instead of timing, print a cProfile of lstmlab's fwd+bwd per row")
    parser.add_argument("--quiet", action="store_true", help="print nothing (for tests)")
    args = parser.parse_args(argv)
    args.models = _names(args.models, list(MODELS), "--models")
    args.sizes = _names(args.sizes, list(SIZES), "--sizes")
    args.dtypes = _names(args.dtypes, list(DTYPES), "--dtypes")
    if args.threads < 1 or (args.repeats is not None and args.repeats < 1):
        parser.error("--threads and --repeats must be positive")
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
    kept_bytes, min_bytes`` and, with torch, ``torch_fwd_ms, torch_fwd_bwd_ms,
    fwd_ratio, fwd_bwd_ratio, max_rel_diff``. With ``--profile`` the rows
    carry ``profile`` (text) instead of times.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    say = (lambda *a: None) if args.quiet else print
    torch = None if args.no_torch else _import_torch()
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
                        rows.append(run_row(model, size, dtype, repeats, torch))
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    if args.profile:
        return rows
    say(format_times(rows, args.markdown))
    say()
    say(format_memory(rows, args.markdown))
    say()
    say(NOTES.format(warmup=WARMUP))
    if torch is not None:
        for dtype in args.dtypes:
            diffs = [r["max_rel_diff"] for r in rows if r["dtype"] == dtype]
            say(f"check: lstmlab and torch agree, {dtype}: max |difference| / max |torch| over "
                f"out, dx and each weight gradient = {max(diffs):.1e}")
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
