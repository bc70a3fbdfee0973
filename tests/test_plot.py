"""lstmlab.plot: every helper draws what it was given and writes its file."""

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from lstmlab import plot  # noqa: E402


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_import_lstmlab_does_not_import_matplotlib():
    import subprocess

    code = "import sys, lstmlab, lstmlab.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    monkeypatch.delitem(sys.modules, "lstmlab._inline", raising=False)
    for call in (plot.check_matplotlib, lambda: plot.learning_curves({"a": [1.0, 0.5]})):
        with pytest.raises(ModuleNotFoundError, match=r"not installed: pip install matplotlib"):
            call()


def test_learning_curves_writes_png_with_lines_and_baseline(tmp_path):
    path = tmp_path / "sub" / "curves.png"  # the directory is created
    fig = plot.learning_curves({"a": np.linspace(1, 0.1, 50), "b": (np.arange(5), np.ones(5))},
                               baselines={"base": 0.5}, smooth=10, logy=True, path=path)
    assert is_png(path)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["a", "b", "base"]
    smoothed = [line for line in ax.get_lines() if line.get_label() == "a"][0]
    assert len(smoothed.get_xdata()) == 50 - 10 + 1
    np.testing.assert_allclose(smoothed.get_ydata()[0], np.linspace(1, 0.1, 50)[:10].mean())


def test_learning_curves_baselines_are_told_apart_by_their_dashes():
    fig = plot.learning_curves({"a": [1.0, 0.5]}, baselines={"uniform": 6.6, "unigram": 4.7})
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert lines["uniform"].get_linestyle() != lines["unigram"].get_linestyle()


def test_learning_curves_rejects_mismatched_pair():
    with pytest.raises(ValueError, match="curve"):
        plot.learning_curves({"a": ([1, 2, 3], [1.0, 2.0])})


def test_grad_norms_through_time_plots_against_steps_back(tmp_path):
    T = 6
    norms = 2.0 ** np.arange(T)  # grows with t, so it decays with k = T-1-t
    norms[0] = 0.0  # an underflow is dropped from the log plot
    fig = plot.grad_norms_through_time({"rnn": norms}, path=tmp_path / "g.png")
    assert is_png(tmp_path / "g.png")
    line = fig.axes[0].get_lines()[0]
    assert line.get_xdata().tolist() == [0, 1, 2, 3, 4]
    assert line.get_ydata().tolist() == [32, 16, 8, 4, 2]
    assert fig.axes[0].get_yscale() == "log"


def test_gate_heatmap_panels_scales_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    gates = {"f": rng.random((7, 40)), "c": 3 * rng.standard_normal((7, 40))}
    fig = plot.gate_heatmap(gates, labels="ab c\nde", max_units=16, path=tmp_path / "h.svg")
    assert (tmp_path / "h.svg").read_text().lstrip().startswith("<?xml")
    f_image, c_image = fig.axes[0].images[0], fig.axes[1].images[0]
    assert f_image.get_array().shape == (16, 7)  # units by time, truncated to max_units
    assert f_image.get_clim() == (0.0, 1.0)
    lo, hi = c_image.get_clim()
    assert lo == -hi == -np.abs(gates["c"][:, :16]).max()
    ticks = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert ticks == ["a", "b", "\u2423", "c", "\u21b5", "d", "e"]


def test_gate_heatmap_rejects_wrong_label_count():
    with pytest.raises(ValueError, match="labels"):
        plot.gate_heatmap({"f": np.zeros((3, 2))}, labels="ab")


def test_prediction_vs_truth_with_dates(tmp_path):
    x = np.arange("2020-01-01", "2020-01-11", dtype="datetime64[D]")
    truth = np.arange(10.0)
    fig = plot.prediction_vs_truth(truth, {"naive": np.roll(truth, 1)}, x=x,
                                   path=tmp_path / "p.png")
    assert is_png(tmp_path / "p.png")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["truth", "naive"]
    with pytest.raises(ValueError, match="predictions"):
        plot.prediction_vs_truth(truth, {"short": truth[:5]})


def test_log_plots_of_a_diverging_run_save_without_overflow(tmp_path):
    # a run that blew up reaches 1e300: matplotlib's autoscaling would overflow (warnings are
    # errors in this test suite), explicit limits must not
    exploding = np.logspace(0, 300, 50)
    fig = plot.learning_curves({"no clipping": exploding, "clipped": np.ones(50)}, logy=True,
                               smooth=5, path=tmp_path / "a.png")
    lo, hi = fig.axes[0].get_ylim()
    assert lo == 0.5 and hi == 1e200
    fig = plot.learning_curves({"no clipping": exploding}, logy=True, ylim=(0.1, 1e4))
    assert fig.axes[0].get_ylim() == (0.1, 1e4)
    plot.grad_norms_through_time({"s = 2": exploding}, path=tmp_path / "b.png")
    assert is_png(tmp_path / "a.png") and is_png(tmp_path / "b.png")


# --- in a notebook -------------------------------------------------------------------------

PLOT_CALLS = {
    "learning_curves": "plot.learning_curves({'a': np.linspace(1, 0.1, 20)}, path=out / 'a.png')",
    "grad_norms_through_time": "plot.grad_norms_through_time({'r': 0.5 ** np.arange(8)[::-1]},"
                               " path=out / 'b.png')",
    "gate_heatmap": "plot.gate_heatmap({'f': np.random.default_rng(0).random((5, 3))},"
                    " labels='hello', path=out / 'c.png')",
    "prediction_vs_truth": "plot.prediction_vs_truth(np.arange(5.0), {'p': np.ones(5)},"
                           " path=out / 'd.png')",
    "box_plots": "plot.box_plots({'task': {'V': [2.1, 2.2], 'NFG': [2.9, 3.4]}},"
                 " path=out / 'e.png')",
    "figure": "fig = plot.figure((3, 2)); fig.add_subplot().plot([0, 1]); fig",
}


def test_every_plot_function_is_covered_by_the_notebook_test():
    assert set(PLOT_CALLS) == set(plot.__all__) - {"save_figure", "check_matplotlib"}


def test_returned_figures_are_matplotlib_figures_that_render_png(tmp_path):
    import pickle

    from matplotlib.figure import Figure

    fig = plot.learning_curves({"a": [1.0, 0.5]})
    assert isinstance(fig, Figure)
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    fig.savefig(tmp_path / "x.pdf")  # the rest of matplotlib's API is untouched
    assert (tmp_path / "x.pdf").read_bytes()[:4] == b"%PDF"
    again = pickle.loads(pickle.dumps(fig))
    assert type(again) is type(fig) and len(again.axes) == 1


def run_notebook(cells, cwd):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def images(cell):
    return [o for o in cell.outputs if "image/png" in o.get("data", {})]


@pytest.mark.parametrize("magic", [False, True], ids=["fresh kernel", "with %matplotlib inline"])
def test_last_line_plot_shows_its_image_once_in_a_notebook(tmp_path, magic):
    setup = ("from pathlib import Path\nimport numpy as np\nfrom lstmlab import plot\n"
             f"out = Path({str(tmp_path)!r})")
    cells = (["%matplotlib inline"] if magic else []) + [setup] + list(PLOT_CALLS.values())
    cells.append("fig = plot.learning_curves({'a': [1.0, 0.5]})")  # assigned: shows nothing
    nb = run_notebook(cells, tmp_path)
    plot_cells = nb.cells[len(cells) - len(PLOT_CALLS) - 1:-1]
    for name, cell in zip(PLOT_CALLS, plot_cells):
        shown = images(cell)
        assert len(shown) == 1, f"{name}: expected one image/png output, got {cell.outputs}"
        assert shown[0]["data"]["image/png"]  # base64 text of a non-empty image
    assert nb.cells[-1].outputs == []
    for name in "abcde":
        assert is_png(tmp_path / f"{name}.png")  # path= still saves
