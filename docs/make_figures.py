"""Regenerate every figure of docs/ from the library itself.

    python docs/make_figures.py                 # writes docs/figures/*.png
    python docs/make_figures.py --out /tmp/fig  # anywhere else

The cell diagrams are drawn box by box; the gradient curves are computed with
lstmlab's own forward and backward passes, so a change in the code shows up
in the figures the next time this script runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import lstmlab as ll  # noqa: E402
from lstmlab.init import orthogonal  # noqa: E402

# -- drawing helpers for the cell diagrams ----------------------------------------

STYLE = {
    "io": dict(boxstyle="round,pad=0.25", fc="white", ec="none"),
    "sigmoid": dict(boxstyle="round,pad=0.3", fc="#f6c177", ec="#6e4a00"),
    "tanh": dict(boxstyle="round,pad=0.3", fc="#9ccfd8", ec="#1f5864"),
    "relu": dict(boxstyle="round,pad=0.3", fc="#9ccfd8", ec="#1f5864"),
    "affine": dict(boxstyle="round,pad=0.35", fc="#e0def4", ec="#393552"),
    "op": dict(boxstyle="circle,pad=0.18", fc="#eb6f92", ec="#7a1f3d"),
}


def draw_graph(ax, nodes, edges, title, xlim, ylim):
    """Draw a computational graph.

    nodes : {name: (x, y, label, kind)}, kind a key of STYLE
    edges : [(src, dst, label)]; label "" for none, else drawn at the middle
    """
    import matplotlib.patches as mpatches

    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title, fontsize=12)
    texts = {}
    for name, (x, y, label, kind) in nodes.items():
        size = 13 if kind == "op" else 10.5
        weight = "bold" if kind == "op" else "normal"
        texts[name] = ax.text(
            x, y, label, ha="center", va="center", fontsize=size, weight=weight,
            bbox=STYLE[kind], zorder=3,
        )
    # The boxes get their final size only when drawn: draw once, then clip the
    # arrows at the box edges so the arrowheads stay visible.
    ax.figure.canvas.draw()
    for src, dst, label in edges:
        (x0, y0), (x1, y1) = nodes[src][:2], nodes[dst][:2]
        arrow = mpatches.FancyArrowPatch(
            (x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, lw=1.3,
            color="#444444", patchA=texts[src].get_bbox_patch(),
            patchB=texts[dst].get_bbox_patch(), shrinkA=1, shrinkB=1, zorder=4,
        )
        ax.add_patch(arrow)
        if label:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, label, fontsize=8.5, color="#555555",
                    ha="center", va="bottom", zorder=5)


def rnn_cell_figure(plt):
    fig, ax = plt.subplots(figsize=(8, 2.6))
    nodes = {
        "x": (0.5, 0.3, "x  (N, D)", "io"),
        "h_prev": (0.5, 1.9, "h_prev  (N, H)", "io"),
        "a": (3.9, 1.1, "a = x W_x + h_prev W_h + b\n(N, H)", "affine"),
        "act": (7.3, 1.1, "h = tanh(a)\n(or relu)", "tanh"),
        "h": (9.4, 1.1, "h  (N, H)", "io"),
    }
    edges = [("x", "a", ""), ("h_prev", "a", ""), ("a", "act", ""), ("act", "h", "")]
    draw_graph(ax, nodes, edges, "RNNCell: one time step (lstmlab/rnn.py)",
               (-0.7, 10.3), (-0.2, 2.4))
    return fig


def lstm_cell_figure(plt):
    fig, ax = plt.subplots(figsize=(9, 5.6))
    nodes = {
        "c_prev": (0.4, 5.0, "c_prev  (N, H)", "io"),
        "x": (0.4, -0.1, "x  (N, D)", "io"),
        "h_prev": (0.4, 1.2, "h_prev  (N, H)", "io"),
        "a": (3.6, 0.55, "a = x W_x + h_prev W_h + b   (N, 4H)\ncolumns [ i | f | g | o ]",
              "affine"),
        "f": (2.6, 2.6, "f = σ(a_f)", "sigmoid"),
        "i": (4.25, 2.6, "i = σ(a_i)", "sigmoid"),
        "g": (6.2, 2.6, "g = tanh(a_g)", "tanh"),
        "o": (7.6, 1.4, "o = σ(a_o)", "sigmoid"),
        "fc": (2.6, 5.0, "×", "op"),
        "ig": (5.1, 3.8, "×", "op"),
        "plus": (5.1, 5.0, "+", "op"),
        "c": (9.7, 5.0, "c  (N, H)", "io"),
        "tanh_c": (7.6, 3.8, "tanh(c)", "tanh"),
        "oh": (8.7, 2.6, "×", "op"),
        "h": (9.8, 2.6, "h  (N, H)", "io"),
    }
    edges = [
        ("x", "a", ""), ("h_prev", "a", ""),
        ("a", "f", ""), ("a", "i", ""), ("a", "g", ""), ("a", "o", ""),
        ("c_prev", "fc", ""), ("f", "fc", ""),
        ("i", "ig", ""), ("g", "ig", ""),
        ("fc", "plus", "f * c_prev"), ("ig", "plus", ""),
        ("plus", "c", "c = f * c_prev + i * g"),
        ("plus", "tanh_c", ""), ("tanh_c", "oh", ""), ("o", "oh", ""),
        ("oh", "h", ""),
    ]
    draw_graph(ax, nodes, edges, "LSTMCell: one time step (lstmlab/lstm.py)",
               (-0.8, 10.8), (-0.6, 6.1))
    ax.text(3.85, 5.75, "the additive cell path: dc_prev = dc_all * f", fontsize=9.5,
            color="#7a1f3d", ha="center")
    ax.text(9.8, 2.25, "h = o * tanh(c)", fontsize=8.5, color="#555555", ha="center", va="top")
    return fig


def gru_cell_figure(plt):
    fig, ax = plt.subplots(figsize=(9.5, 5.2))
    nodes = {
        "h_prev": (0.4, 4.6, "h_prev  (N, H)", "io"),
        "x": (0.4, 0.0, "x  (N, D)", "io"),
        "hn": (3.4, 4.6, "hn = h_prev W_hn + b_hn", "affine"),
        "a_rz": (3.4, 2.3, "x W_x + h_prev W_h + b\nr and z columns  (N, 2H)", "affine"),
        "xw_n": (3.4, 0.0, "x W_xn + b_n", "affine"),
        "r": (6.2, 3.3, "r = σ(a_r)", "sigmoid"),
        "z": (6.2, 1.5, "z = σ(a_z)", "sigmoid"),
        "rhn": (7.6, 4.6, "×", "op"),
        "n": (8.6, 0.0, "n = tanh(xw_n + r * hn)", "tanh"),
        "h_prev2": (10.6, 4.6, "h_prev", "io"),
        "mix": (10.6, 2.3, "h = (1 - z) * n\n+ z * h_prev", "affine"),
    }
    edges = [
        ("h_prev", "hn", ""), ("h_prev", "a_rz", ""), ("x", "a_rz", ""), ("x", "xw_n", ""),
        ("a_rz", "r", ""), ("a_rz", "z", ""),
        ("hn", "rhn", ""), ("r", "rhn", ""), ("rhn", "n", ""), ("xw_n", "n", ""),
        ("z", "mix", ""), ("n", "mix", ""), ("h_prev2", "mix", ""),
    ]
    draw_graph(ax, nodes, edges,
               "GRUCell, reset_after=True (PyTorch's form, lstmlab/gru.py)",
               (-0.8, 12.0), (-0.6, 5.1))
    return fig


def unrolled_figure(plt, T=4):
    """The unrolled graph: one cell, T copies, forward in black, BPTT in red."""
    import matplotlib.patches as mpatches

    fig, ax = plt.subplots(figsize=(9.5, 3.6))
    nodes = {"s0": (0.3, 1.5, "s_0", "io")}
    edges = []
    for t in range(1, T + 1):
        x = 2.3 * t
        nodes[f"x{t}"] = (x, 0.0, f"x_{t}", "io")
        nodes[f"cell{t}"] = (x, 1.5, "cell\n(W_x, W_h, b)", "affine")
        nodes[f"h{t}"] = (x, 3.0, f"h_{t}  -> loss", "io")
        edges += [(f"x{t}", f"cell{t}", ""), (f"cell{t}", f"h{t}", "")]
        edges.append((f"cell{t - 1}" if t > 1 else "s0", f"cell{t}", f"s_{t - 1}" if t > 1 else ""))
    draw_graph(ax, nodes, edges, "Unrolled in time: the same cell and weights at every step",
               (-0.5, 2.3 * T + 1.0), (-0.8, 3.4))
    for t in range(T, 1, -1):  # the backward: ds flows right to left
        x0, x1 = 2.3 * t - 0.45, 2.3 * (t - 1) + 0.45
        ax.add_patch(mpatches.FancyArrowPatch((x0, 1.05), (x1, 1.05), arrowstyle="-|>",
                                              mutation_scale=12, color="#b4637a", lw=1.3,
                                              ls="--", connectionstyle="arc3,rad=-0.35"))
    ax.text(2.3 * T / 2 + 1.15, -0.55, "dashed, right to left: BPTT, "
            "ds_{t-1} = backward_step(ds_t + dh_t)", color="#b4637a", ha="center", fontsize=9.5)
    return fig


def activations_figure(plt):
    a = np.linspace(-6, 6, 400)
    s, t = ll.sigmoid(a), ll.tanh(a)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax0.plot(a, s, label="sigmoid: a gate, in (0, 1)", color="#d7827e", lw=2)
    ax0.plot(a, t, label="tanh: a value, in (-1, 1)", color="#286983", lw=2)
    ax0.axhline(0, color="#999999", lw=0.6)
    ax0.set_xlabel("pre-activation a")
    ax0.set_title("the functions")
    ax0.legend(fontsize=8.5, loc="upper left")
    ax1.plot(a, ll.dsigmoid(s), label="sigmoid' = s (1 - s) <= 1/4", color="#d7827e", lw=2)
    ax1.plot(a, ll.dtanh(t), label="tanh' = 1 - t^2 <= 1", color="#286983", lw=2)
    ax1.set_xlabel("pre-activation a")
    ax1.set_title("their derivatives (read from the outputs)")
    ax1.set_ylim(-0.05, 1.4)  # room for the legend above the peak
    ax1.legend(fontsize=8.5, loc="upper right")
    fig.tight_layout()
    return fig


# -- gradients through time ----------------------------------------------------------

def gradient_norms(cell, T=60, N=16, seed=0):
    """||dL/dh_t|| by steps back from the end, when the loss sees only the last h.

    Runs the cell over T steps of random inputs with :class:`lstmlab.Recurrent`,
    backpropagates a random unit gradient given to the final h, and reads the
    norms the wrapper records (``record_grad_norms=True``). Index k of the
    result is k steps back (0 = the last step).
    """
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((T, N, cell.input_size))
    layer = ll.Recurrent(cell, record_grad_norms=True)
    _, state = layer.forward(xs)
    dh = rng.standard_normal((N, cell.hidden_size))
    dh /= np.linalg.norm(dh)
    others = [np.zeros_like(a) for a in cell.split_state(state)[1:]]  # no loss on c
    layer.backward(None, cell.join_state([dh] + others))
    return layer.grad_norms["h"][::-1]


def recurrent_weights(H, sigma, seed=3):
    """sigma times a random orthogonal matrix: every singular value equals sigma."""
    return orthogonal((H, H), np.random.default_rng(seed), gain=sigma)


def vanishing_figure(plt, T=60, H=32, D=8):
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    k = np.arange(T)
    colors = {0.5: "#56949f", 1.0: "#907aa9", 2.0: "#b4637a"}
    for sigma, color in colors.items():
        cell = ll.RNNCell(D, H, rng=1)
        cell.params["W_h"][...] = recurrent_weights(H, sigma)
        ax0.semilogy(k, gradient_norms(cell, T), color=color, lw=2,
                     label=f"W_h singular values = {sigma:g}")
        ax0.semilogy(k, sigma ** k, color=color, lw=1, ls="--")
    ax0.set_title("tanh RNN (dashed: sigma^k, the linear bound)")
    ax0.set_xlabel("steps back from the loss, k")
    ax0.set_ylabel("||dL/dh_{T-k}||")
    ax0.set_ylim(1e-20, 1e6)
    ax0.legend(fontsize=8.5, loc="lower left")

    for fb, color in {0.0: "#f6c177", 1.0: "#ea9d34", 3.0: "#a0650d"}.items():
        lstm = ll.LSTMCell(D, H, forget_bias=fb, rng=1)
        ax1.semilogy(k, gradient_norms(lstm, T), color=color, lw=2,
                     label=f"LSTM, forget-gate bias {fb:g}")
    irnn = ll.RNNCell(D, H, nonlinearity="relu", rng=1)
    irnn.params["W_h"][...] = np.eye(H)
    irnn.params["b"][...] = 0.0
    ax1.semilogy(k, gradient_norms(irnn, T), color="#286983", lw=2,
                 label="ReLU RNN, W_h = I, b = 0 (Le et al. 2015)")
    ax1.set_title("what keeps the gradient alive")
    ax1.set_xlabel("steps back from the loss, k")
    ax1.legend(fontsize=8.5, loc="lower left")
    for ax in (ax0, ax1):
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(f"Gradient reaching k steps back, loss on the last of T = {T} steps "
                 f"(H = {H}, inputs ~ N(0, 1))", fontsize=11)
    fig.tight_layout()
    return fig


FIGURES = {
    "rnn_cell.png": rnn_cell_figure,
    "lstm_cell.png": lstm_cell_figure,
    "gru_cell.png": gru_cell_figure,
    "unrolled.png": unrolled_figure,
    "activations.png": activations_figure,
    "vanishing.png": vanishing_figure,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "figures",
                        help="directory for the PNGs (default: docs/figures)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in FIGURES.items():
        fig = make(plt)
        fig.savefig(args.out / name, dpi=100, bbox_inches="tight")
        plt.close(fig)
        print(args.out / name)


if __name__ == "__main__":
    main()
