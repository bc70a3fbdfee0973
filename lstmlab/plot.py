"""Plots the examples share: learning curves, gradient norms through time, gates, forecasts.

matplotlib is optional (``pip install lstmlab[plot]``): it is imported inside
each function, never at ``import lstmlab``. The figures are built with
matplotlib's object-oriented API (``matplotlib.figure.Figure``), not with
``pyplot``, so they need no display and no backend choice and are not kept
alive by pyplot's global list of open figures.

Every function returns the figure and, given a ``path``, also saves it there
(creating the parent directory), as a PNG unless the suffix names another
format. The figure is a :class:`matplotlib.figure.Figure` that also carries
its own image for Jupyter (``_repr_png_``), so a call on the last line of a
notebook cell shows the plot, in a fresh kernel, with no ``%matplotlib``
magic; with the magic the image is still shown once. :func:`figure` makes an
empty one for your own drawings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["learning_curves", "grad_norms_through_time", "gate_heatmap", "prediction_vs_truth",
           "box_plots", "figure", "save_figure", "check_matplotlib"]

_INSTALL = ("lstmlab.plot draws with matplotlib, which is not installed: "
            "pip install matplotlib (or, in a clone of lstmlab: pip install -e '.[examples]')")


def check_matplotlib():
    """Raise a one-line ModuleNotFoundError saying how to install matplotlib if it is missing.

    Call it before long work whose results you want to plot, so a missing
    matplotlib stops you at the start, not after training.

    Raises
    ------
    ModuleNotFoundError
        With the install command, when ``import matplotlib`` fails.

    Examples
    --------
    >>> check_matplotlib()            # matplotlib is installed: nothing happens
    """
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name != "matplotlib":
            raise
        raise ModuleNotFoundError(_INSTALL, name="matplotlib") from None


def figure(figsize=(6.4, 4.0), **kwargs):
    """An empty figure that shows itself in a notebook, like the ones this module returns.

    Parameters
    ----------
    figsize : (float, float)
        Width and height in inches.
    **kwargs
        Passed to :class:`matplotlib.figure.Figure` (default
        ``layout="constrained"``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Draw with ``fig.add_subplot()`` or ``fig.subplots(...)``; save with
        :func:`save_figure` or ``fig.savefig``. No pyplot is involved, so
        nothing needs closing.

    Examples
    --------
    >>> fig = figure((4, 2))
    >>> ax = fig.add_subplot()
    >>> _ = ax.bar(["i", "f", "g", "o"], [0.2, 0.9, -0.4, 0.6])
    >>> type(fig).__mro__[1].__name__, len(fig._repr_png_()) > 1000
    ('Figure', True)
    """
    check_matplotlib()
    from ._inline import InlineFigure  # matplotlib is imported here, on first use

    kwargs.setdefault("layout", "constrained")
    return InlineFigure(figsize=figsize, **kwargs)


def _new_figure(figsize):
    """A pyplot-free figure (no display needed: saving renders with Agg)."""
    return figure(figsize)


def save_figure(fig, path, dpi=100):
    """Save ``fig`` to ``path``, creating the parent directory; return the Path.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        The suffix chooses the format (``.png``, ``.svg``, ``.pdf``).
    dpi : int
        Resolution of raster formats; 100 keeps a 6x4 inch PNG well under 150 KB.

    Returns
    -------
    path : Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


def _xy(curve):
    """A curve given as values, or as an (x, y) pair; return two float arrays."""
    if isinstance(curve, tuple) and len(curve) == 2:
        x, y = (np.asarray(a, dtype=float) for a in curve)
    else:
        y = np.asarray(curve, dtype=float)
        x = np.arange(1, len(y) + 1, dtype=float)
    if x.shape != y.shape or y.ndim != 1:
        raise ValueError(
            f"curve: expected a 1-d sequence of values or an (x, y) pair of equal-length "
            f"1-d sequences, got shapes {x.shape} and {y.shape}"
        )
    return x, y


def _set_log_ylim(ax, arrays):
    """Log-axis limits from the data: a factor of 2 beyond the extremes.

    matplotlib's own autoscaling adds margins in log space, and its tick
    locator steps past the top decade; both overflow when a diverging run
    reaches 1e300. Explicit limits, capped at 1e200, don't (a curve beyond
    leaves the top of the plot).
    """
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays] or [[]])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        ax.set_ylim(max(values.min() / 2, 1e-200), min(values.max() * 2, 1e200))


def learning_curves(curves, *, baselines=None, xlabel="step", ylabel="loss", logy=False,
                    ylim=None, title=None, smooth=1, path=None):
    """Loss (or any metric) against training progress, one line per run.

    Parameters
    ----------
    curves : dict[str, sequence or (x, y) pair]
        ``label -> values`` (plotted at x = 1, 2, ...) or ``label -> (x, y)``.
    baselines : dict[str, float], optional
        Horizontal dashed lines, e.g. ``{"predict the mean": 0.167}``.
    xlabel, ylabel, title : str
    logy : bool
        Logarithmic y axis (losses that fall by orders of magnitude).
    ylim : (float, float), optional
        Fixed y limits, e.g. to keep a diverging run from squashing the others.
    smooth : int
        Also draw the running mean over this many points on top of the raw,
        faded curve (1: raw curve only). Minibatch losses are noisy.
    path : str or Path, optional
        Where to save the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> fig = learning_curves({"LSTM": [1.0, 0.5, 0.2], "RNN": ([1, 2, 3], [1.0, 0.9, 0.9])},
    ...                       baselines={"mean": 0.167}, logy=True)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['LSTM', 'RNN', 'mean']
    """
    fig = _new_figure((6.4, 4.0))
    ax = fig.add_subplot()
    if logy:  # scale and limits first: autoscaling a log axis to 1e300 would overflow
        ax.set_yscale("log")
        _set_log_ylim(ax, [_xy(c)[1] for c in curves.values()] + [list((baselines or {}).values())])
    for label, curve in curves.items():
        x, y = _xy(curve)
        if smooth > 1 and len(y) >= smooth:
            (raw,) = ax.plot(x, y, alpha=0.25, lw=0.8)
            kernel = np.ones(smooth) / smooth
            ax.plot(x[smooth - 1:], np.convolve(y, kernel, mode="valid"), color=raw.get_color(),
                    label=label, lw=1.6)
            raw.set_label(f"_{label} (raw)")  # a leading underscore keeps it out of the legend
        else:
            ax.plot(x, y, label=label, lw=1.6)
    styles = ("--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)))  # one grey, told apart by the dashes
    for k, (label, value) in enumerate((baselines or {}).items()):
        ax.axhline(value, ls=styles[k % len(styles)], lw=1.2, color="0.4", label=label)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def grad_norms_through_time(norms, *, title=None, ylabel="norm of dL/dh", path=None):
    """Gradient norm against the number of steps it travelled back, on a log scale.

    ``norms[label][t]`` is the norm of the gradient reaching step t of a
    sequence of length T whose loss sits at the last step (what
    ``Recurrent.grad_norms["h"]`` holds after a backward). It is plotted at
    ``k = T - 1 - t``, the distance from the loss, so a vanishing gradient is
    a straight line falling to the right (a geometric decay is linear on a
    log scale) and an exploding one a line rising.

    Parameters
    ----------
    norms : dict[str, array of shape (T,)]
        Indexed by time t, as recorded. Zeros (e.g. an underflow) are left out
        of the log plot.
    title, ylabel : str
    path : str or Path, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> fig = grad_norms_through_time({"decay 0.5": 0.5 ** np.arange(10)[::-1]})
    >>> fig.axes[0].get_yscale(), fig.axes[0].get_lines()[0].get_xdata()[:3].tolist()
    ('log', [0.0, 1.0, 2.0])
    """
    fig = _new_figure((6.4, 4.0))
    ax = fig.add_subplot()
    ax.set_yscale("log")
    _set_log_ylim(ax, list(norms.values()))
    for label, values in norms.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 1:
            raise ValueError(f"norms[{label!r}]: expected shape (T,), got {values.shape}")
        k = np.arange(len(values))[::-1].astype(float)  # steps back from the last step
        keep = values > 0
        ax.plot(k[keep][::-1], values[keep][::-1], label=label, lw=1.6)
    ax.set_xlabel("k, steps back from the loss (the gradient at step t = T-1-k)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _finish(fig, path)


def gate_heatmap(gates, *, labels=None, max_units=32, title=None, path=None):
    """Heatmaps of gate activations over a sequence: one panel per gate, units by time.

    Parameters
    ----------
    gates : dict[str, array of shape (T, H)]
        E.g. ``{"input i": i, "forget f": f, "output o": o}`` collected by
        stepping an LSTM cell over a passage (one sequence: its batch row).
        Values in [0, 1] (sigmoid gates) use a fixed 0..1 colour scale; any
        other range (tanh: -1..1, c: unbounded) is scaled symmetrically.
    labels : sequence of str, optional
        One per time step, e.g. the characters read; shown on the x axis.
    max_units : int
        Show at most this many hidden units (the first ones) per panel.
    title : str, optional
    path : str or Path, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = gate_heatmap({"f": rng.random((5, 3)), "c": rng.standard_normal((5, 3))},
    ...                    labels="hello")
    >>> len(fig.axes)                    # two panels and their two colour bars
    4
    """
    arrays = {name: np.asarray(a, dtype=float) for name, a in gates.items()}
    T = None
    for name, a in arrays.items():
        if a.ndim != 2 or (T is not None and a.shape[0] != T):
            raise ValueError(f"gates[{name!r}]: expected shape (T, H) with one T for all gates, "
                             f"got {a.shape}")
        T = a.shape[0]
    if labels is not None and len(labels) != T:
        raise ValueError(f"labels: expected one label per time step (T = {T}), got {len(labels)}")
    width = min(16.0, max(6.0, 0.14 * T + 2.0))
    fig = _new_figure((width, 1.0 + 1.6 * len(arrays)))
    axes = fig.subplots(len(arrays), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, a) in zip(axes, arrays.items()):
        a = a[:, :max_units].T  # (units, T): time runs left to right, like the text
        if a.size and a.min() >= 0 and a.max() <= 1:
            image = ax.imshow(a, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0,
                              interpolation="nearest")
        else:
            bound = float(np.abs(a).max()) if a.size else 1.0
            image = ax.imshow(a, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound,
                              interpolation="nearest")
        ax.set_ylabel(f"{name}\nunit")
        fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
    if labels is not None:
        shown = [{"\n": "\u21b5", " ": "\u2423"}.get(ch, ch) for ch in labels]
        axes[-1].set_xticks(np.arange(T), shown, fontsize=7, fontfamily="monospace")
    else:
        axes[-1].set_xlabel("time step t")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def prediction_vs_truth(truth, predictions, *, x=None, title=None, ylabel="value", path=None):
    """A series and one or more predictions of it, on shared axes.

    Parameters
    ----------
    truth : array of shape (T,)
    predictions : dict[str, array of shape (T,)]
        Aligned with ``truth`` (prediction[t] is the guess for truth[t]).
    x : array of shape (T,), optional
        Positions on the x axis (numbers or numpy datetime64 dates); default 0..T-1.
    title, ylabel : str
    path : str or Path, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> truth = np.sin(np.linspace(0, 3, 20))
    >>> fig = prediction_vs_truth(truth, {"shifted": np.roll(truth, 1)})
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['truth', 'shifted']
    """
    truth = np.asarray(truth, dtype=float)
    if truth.ndim != 1:
        raise ValueError(f"truth: expected shape (T,), got {truth.shape}")
    x = np.arange(len(truth)) if x is None else np.asarray(x)
    if x.shape != truth.shape:
        raise ValueError(f"x: expected shape {truth.shape} like truth, got {x.shape}")
    fig = _new_figure((7.2, 4.0))
    ax = fig.add_subplot()
    ax.plot(x, truth, color="black", lw=1.8, label="truth")
    for label, pred in predictions.items():
        pred = np.asarray(pred, dtype=float)
        if pred.shape != truth.shape:
            raise ValueError(f"predictions[{label!r}]: expected shape {truth.shape} like truth, "
                             f"got {pred.shape}")
        ax.plot(x, pred, lw=1.2, label=label)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if np.issubdtype(x.dtype, np.datetime64):
        fig.autofmt_xdate()
    return _finish(fig, path)


def box_plots(panels, *, baseline=None, logy=False, title=None, path=None):
    """Scores of several variants over repeated runs: a box per variant, a panel per task.

    The figure of Greff et al. (2015): for each task a row of boxes, one per
    variant, showing how the runs (seeds, hyperparameters) spread. Each run
    is also drawn as a dot, since a few runs make a thin box.

    Parameters
    ----------
    panels : dict[str, dict[str, sequence of float]]
        ``panel title -> {label -> scores}``: one subplot per panel, one box
        per label in the given order. NaN or infinite scores (diverged runs)
        are left out of the box and counted under the label.
    baseline : str, optional
        The label to compare against (e.g. ``"V"``): its box is grey and its
        median a dashed line across the panel.
    logy : bool or collection of str
        Logarithmic y axis for every panel (True) or for the named panels.
    title : str, optional
    path : str or Path, optional
        Where to save the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> fig = box_plots({"chars": {"V": [2.1, 2.2, 2.15], "NFG": [2.9, 3.4, float("nan")]},
    ...                  "adding": {"V": [1e-3, 2e-3], "NFG": [0.1, 0.2]}},
    ...                 baseline="V", logy={"adding"})
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['V', 'NFG\\n(1 diverged)']
    >>> [ax.get_yscale() for ax in fig.axes], len(fig.axes[0].get_lines()) > 4
    (['linear', 'log'], True)
    """
    if not isinstance(panels, dict) or not panels:
        raise ValueError(f"panels: expected a non-empty dict of {{title: {{label: scores}}}}, "
                         f"got {type(panels).__name__} {panels!r:.60}")
    widest = max(len(groups) for groups in panels.values())
    fig = _new_figure((max(4.0, 0.5 * widest + 1.2) * len(panels), 4.2))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, groups) in zip(axes, panels.items()):
        data, labels = [], []
        for label, scores in groups.items():
            scores = np.asarray(scores, dtype=float).ravel()
            finite = scores[np.isfinite(scores)]
            lost = scores.size - finite.size
            data.append(finite)
            labels.append(label + (f"\n({lost} diverged)" if lost else ""))
        if logy is True or (not isinstance(logy, bool) and name in logy):
            ax.set_yscale("log")
            _set_log_ylim(ax, data)
        positions = np.arange(1, len(data) + 1)
        drawn = [k for k, d in enumerate(data) if d.size]  # a box needs at least one run
        boxes = ax.boxplot([data[k] for k in drawn], positions=positions[drawn], widths=0.6,
                           patch_artist=True, showfliers=False)
        for k, patch in zip(drawn, boxes["boxes"]):
            patch.set_facecolor("0.8" if list(groups)[k] == baseline else "#9ecae1")
        for k, d in enumerate(data):  # every run as a dot, spread a little sideways
            ax.plot(positions[k] + np.linspace(-0.15, 0.15, d.size), d, "o", ms=3, color="black",
                    alpha=0.6)
        if baseline in groups and data[list(groups).index(baseline)].size:
            ax.axhline(np.median(data[list(groups).index(baseline)]), ls="--", lw=1, color="0.4")
        ax.set_xticks(positions, labels, rotation=90 if widest > 12 else 0, fontsize=8)
        ax.set_title(name)
        ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)
