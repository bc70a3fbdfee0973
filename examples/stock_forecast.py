# %% [markdown]
# # Forecasting tomorrow's stock price with an LSTM -- and the baseline it has to beat
#
# Runs top to bottom, as `python examples/stock_forecast.py` does. The outputs saved in this
# notebook come from its quick mode (`--quick`, or `LSTMLAB_QUICK=1` in the environment
# Jupyter starts from); the docstring below quotes a full run. To change an option here,
# change its default in the first code cell.

# %%
"""Forecasting tomorrow's stock price with an LSTM -- and the baseline it has to beat.

The data is real and ships with matplotlib: Google's daily prices from
August 2004 to October 2008 (``matplotlib.cbook.get_sample_data("goog.npz")``,
a NumPy structured array, no download). The model reads a window of the
past ``--window`` trading days (open, high, low, close, log volume) and
predicts the next day's close: many-to-one (``ll.ManyToOne``), an LSTM and a
Linear layer on its last hidden state. Every feature is standardised with the mean and
standard deviation of the TRAINING days only -- statistics of the test
period would leak the future into the inputs. The last ``--test-frac`` of
the days (which include the 2008 crash) are held out.

The honest part: a price series is close to a random walk, so the naive
forecast "tomorrow = today" is very hard to beat, and a model that learns to
copy the last close, plus a little noise, looks impressive on a plot. The
script reports both errors in dollars, side by side, whichever wins, and the
fraction of days on which each got the direction of the move right.

Run::

    python examples/stock_forecast.py           # full run
    python examples/stock_forecast.py --quick   # seconds, a smoke test

or open ``examples/stock_forecast.ipynb`` (its outputs come from ``--quick``).

A full run on this 2-core machine (seed 0, defaults: a 20-day window,
H = 32, 150 epochs of Adam; 0.1 minutes of training, 9 seconds in all)
printed::

    held-out 209 days, 2007-12-17 .. 2008-10-14:
      LSTM                       RMSE $  20.61   MAE $  15.60   direction right on 43.1% of days
      naive (tomorrow = today)   RMSE $  15.02   MAE $  10.69
      lower RMSE: naive (tomorrow = today)  (LSTM RMSE / naive RMSE = 1.372); share of up
      days in the test period 42.6%

The naive forecast wins: the LSTM's error is 37% larger, and it calls the
direction of the next move right on 43.1% of the days, no better than always
saying "down" would have done in this falling market (57.4% of the days).
On the plot its forecast looks convincing because it follows the price a
day late, which is what "tomorrow = today" does exactly.
"""

# Imports and options
import os

# One BLAS thread: the matrices are tiny, a second thread only adds hand-offs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot
from lstmlab.data import minibatches

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
parser.add_argument("--window", type=int, default=20, help="days the model reads")
parser.add_argument("--hidden", type=int, default=32, help="hidden size H")
parser.add_argument("--epochs", type=int, default=150)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
parser.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
parser.add_argument("--test-frac", type=float, default=0.2, help="final share held out")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/stock_forecast", help="directory for results")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("LSTMLAB_QUICK", "") not in ("", "0"),
                    help="a few seconds: 3 epochs (also LSTMLAB_QUICK=1)")
# parse_known_args: in a notebook, sys.argv holds the kernel's own "-f <file>.json"
args, unknown = parser.parse_known_args()
if unknown and "ipykernel" not in sys.modules:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
if args.quick:
    args.epochs, args.hidden = 3, 8

try:  # before any work: the data file ships with matplotlib, which also draws the figures
    plot.check_matplotlib()
except ModuleNotFoundError as error:
    sys.exit(f"stock_forecast.py: {error}")

rng = np.random.default_rng(args.seed)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)


# %% [markdown]
# ## The data: matplotlib's sample file, loaded without pickle
# `goog.npz` holds one structured array, `price_data`, with fields date, open, high, low,
# close, volume and adj_close (no object arrays, so it loads with `allow_pickle=False`).

# %%
def load_goog():
    """Dates and the (open, high, low, close, log volume) columns of goog.npz."""
    from matplotlib import cbook  # matplotlib only to locate its sample file

    path = cbook.get_sample_data("goog.npz", asfileobj=False)
    with np.load(path, allow_pickle=False) as archive:
        r = archive["price_data"]
    columns = np.stack([r["open"], r["high"], r["low"], r["close"], np.log(r["volume"])], axis=1)
    return r["date"], columns  # (days,), (days, 5)


def windows(features, close, W):
    """Every run of W consecutive days and the next day's close.

    Returns
    -------
    x : ndarray, shape (W, M, F)   time-major windows, M = days - W
    y : ndarray, shape (M, 1)      the close of the day after each window
    """
    M = len(features) - W
    x = np.stack([features[m : m + W] for m in range(M)], axis=1)  # (W, M, F)
    return x, close[W:, None]


# %% [markdown]
# ## Split by time, standardise with the training days' statistics only

# %%
dates, columns = load_goog()
close = columns[:, 3]
n_test = int(round(args.test_frac * len(close)))
first_test = len(close) - n_test  # the first day whose close is a test target
train_days = columns[:first_test]
mean, std = train_days.mean(axis=0), train_days.std(axis=0)  # (5,) each: no test data
features = (columns - mean) / std  # (days, 5)
c_mean, c_std = mean[3], std[3]  # to turn a standardised close back into dollars
x, y = windows(features, (close - c_mean) / c_std, args.window)  # y[m]: close of day m + W
target_day = np.arange(args.window, len(close))  # the day each window predicts
train = target_day < first_test
test = ~train
x_train, y_train, x_test = x[:, train], y[train], x[:, test]
print(f"goog.npz: {len(close)} trading days {dates[0]} .. {dates[-1]}; "
      f"train targets until {dates[first_test - 1]} ({train.sum()} windows), "
      f"test {dates[first_test]} .. {dates[-1]} ({test.sum()} days)")

# %% [markdown]
# ## The model, and training on shuffled minibatches of windows
# `ll.ManyToOne`: x (W, N, F) -> LSTM -> h of the last day (N, H) -> Linear -> (N, 1).

# %%
model = ll.ManyToOne(ll.LSTM(x.shape[2], args.hidden, forget_bias=1.0, rng=rng), 1, rng=rng)
opt = ll.Adam(model.params, model.grads, lr=args.lr)
print(model.summary())

M = x_train.shape[1]
losses = []
progress = ll.Progress(total=args.epochs, desc="epochs")
for _ in range(args.epochs):
    total = 0.0
    for idx in minibatches(M, args.batch, rng):
        model.zero_grad()
        loss, dy = ll.mse(model.forward(x_train[:, idx]), y_train[idx])
        model.backward(dy)
        ll.clip_grad_norm(model, args.clip)
        opt.step()
        total += loss * len(idx)
    losses.append(total / M)
    progress.update(train_mse=losses[-1])
progress.close()
minutes = progress.elapsed / 60
ll.save(model, out / "stock_forecast.npz", extra={"window": args.window, "hidden": args.hidden,
                                                  "mean": mean.tolist(), "std": std.tolist()})

# %% [markdown]
# ## The held-out period: the LSTM against "tomorrow = today"

# %%
model.eval()
with ll.no_grad():  # evaluation: keep no records for a backward
    pred = model.forward(x_test)[:, 0] * c_std + c_mean  # dollars
truth = close[target_day[test]]
today = close[target_day[test] - 1]  # the naive forecast: the last close it has seen
errors = {"LSTM": pred - truth, "naive (tomorrow = today)": today - truth}
moves = np.sign(truth - today)
report = {}
print(f"held-out {test.sum()} days, {dates[first_test]} .. {dates[-1]}:")
for name, e in errors.items():
    rmse, mae = float(np.sqrt(np.mean(e**2))), float(np.mean(np.abs(e)))
    report[name] = {"rmse": rmse, "mae": mae}
    line = f"  {name:26} RMSE ${rmse:7.2f}   MAE ${mae:7.2f}"
    if name == "LSTM":
        direction = float(np.mean(np.sign(pred - today) == moves))
        report[name]["direction"] = direction
        line += f"   direction right on {100 * direction:.1f}% of days"
    print(line)
winner = min(report, key=lambda k: report[k]["rmse"])
ratio = report["LSTM"]["rmse"] / report["naive (tomorrow = today)"]["rmse"]
print(f"  lower RMSE: {winner}  (LSTM RMSE / naive RMSE = {ratio:.3f}); "
      f"share of up days in the test period {100 * np.mean(moves > 0):.1f}%")
print(f"trained in {minutes:.1f} min; saved {out / 'stock_forecast.npz'}")
(out / "stock_forecast.json").write_text(json.dumps({"errors": report, "winner": winner,
                                                     "losses": losses}))

# %% [markdown]
# ## Figures
# The LSTM's forecast looks convincing on the plot because it follows the price a day late,
# which is exactly what "tomorrow = today" does.

# %%
plot.prediction_vs_truth(truth, {"LSTM": pred, "naive: tomorrow = today": today},
                         x=dates[target_day[test]], ylabel="GOOG close (USD)",
                         path=out / "stock_forecast.png",
                         title=f"Held-out period: RMSE LSTM {report['LSTM']['rmse']:.2f} USD, "
                               f"naive {report['naive (tomorrow = today)']['rmse']:.2f} USD")

# %%
plot.learning_curves({"train": losses}, xlabel="epoch", ylabel="MSE (standardised close)",
                     logy=True, path=out / "stock_forecast_loss.png", title="Training loss")
