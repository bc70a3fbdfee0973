"""The LSTM-family examples run with --quick as scripts: the variants study, the Clockwork RNN."""

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"
VARIANTS = ["V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR", "GRU"]

pytest.importorskip("matplotlib")


def run_script(name, tmp_path, *extra, quick=True, env_quick=""):
    env = dict(os.environ, LSTMLAB_QUICK=env_quick, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"),
                           *(["--quick"] if quick else []), "--out", str(tmp_path), *extra],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_lstm_variants_script_quick(tmp_path):
    out = run_script("lstm_variants", tmp_path)
    saved = json.loads((tmp_path / "lstm_variants.json").read_text())
    assert saved["config"]["quick"] and saved["config"]["seeds"] == 2
    for task in ("chars", "adding"):
        assert list(saved["results"][task]) == VARIANTS
        assert all(len(v) == 2 and all(math.isfinite(s) for s in v)
                   for v in saved["results"][task].values())
    assert 3 < saved["results"]["chars"]["V"][0] < 8  # bits/char of a barely trained model
    assert (tmp_path / "lstm_variants.png").read_bytes()[:8] == PNG
    for name in VARIANTS[1:]:  # every variant is set against V, with a verdict
        assert any(line.lstrip().startswith(name) and " x V " in line
                   and line.split()[-1] in ("worse", "alike", "better")
                   for line in out.splitlines()), name


def test_lstm_variants_replot_and_a_subset(tmp_path):
    run_script("lstm_variants", tmp_path, "--variants", "V,NFG,GRU", env_quick="1", quick=False)
    saved = json.loads((tmp_path / "lstm_variants.json").read_text())
    assert list(saved["results"]["adding"]) == ["V", "NFG", "GRU"]
    (tmp_path / "lstm_variants.png").unlink()
    out = run_script("lstm_variants", tmp_path, "--replot", quick=False)
    assert "read " in out and "12 runs" in out  # 2 tasks x 3 variants x 2 seeds, not trained
    assert (tmp_path / "lstm_variants.png").read_bytes()[:8] == PNG


def test_lstm_variants_refuses_an_unknown_variant_or_option(tmp_path):
    for extra, message in ((["--variants", "V,XYZ"], "--variants: unknown ['XYZ']"),
                           (["--hiden", "3"], "unrecognized arguments: --hiden 3")):
        done = subprocess.run([sys.executable, str(EXAMPLES / "lstm_variants.py"), "--quick",
                               "--out", str(tmp_path), *extra], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path, env=dict(os.environ, LSTMLAB_QUICK=""))
        assert done.returncode != 0 and message in done.stderr
        assert not (tmp_path / "lstm_variants.json").exists()


def test_clockwork_signal_script_quick(tmp_path):
    out = run_script("clockwork_signal", tmp_path)
    for kind in ("Clockwork RNN", "RNN", "LSTM"):
        assert f"{kind} " in out and "final MSE" in out
    figures = sorted(p.name for p in tmp_path.glob("*.png"))
    assert figures == ["clockwork_learning_curves.png", "clockwork_signal.png"]
    assert all((tmp_path / f).read_bytes()[:8] == PNG for f in figures)
    assert len(list(tmp_path.glob("*.npz"))) == 3  # the weights, saved before any figure
