"""Forecasting tomorrow's stock price with an LSTM -- and the baseline it has to beat.

The data is real and ships with matplotlib: Google's daily prices from
August 2004 to October 2008 (``matplotlib.cbook.get_sample_data("goog.npz")``,
a NumPy structured array, no download). The model reads a window of the
past ``--window`` trading days (open, high, low, close, log volume) and
predicts the next day's close: many-to-one, an LSTM and a Linear layer on
its last hidden state. Every feature is standardised with the mean and
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

A full run on this 2-core machine (seed 0, defaults: a 20-day window,
H = 32, 150 epochs of Adam; 0.4 minutes of training, 29 seconds in all)
printed::

    held-out 209 days, 2007-12-17 .. 2008-10-14:
      LSTM                       RMSE $  20.61   MAE $  15.60   direction right on 43.1% of days
      naive (tomorrow = today)   RMSE $  15.02   MAE $  10.69
      lower RMSE: naive (tomorrow = today)  (LSTM RMSE / naive RMSE = 1.373); share of up
      days in the test period 42.6%

The naive forecast wins: the LSTM's error is 37% larger, and it calls the
direction of the next move right on 43.1% of the days, no better than always
saying "down" would have done in this falling market (57.4% of the days).
On the plot its forecast looks convincing because it follows the price a
day late, which is what "tomorrow = today" does exactly.
"""

# %% Imports
import os

# One BLAS thread: the matrices are tiny, a second thread only adds hand-offs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot


# %% The data: matplotlib's sample file, loaded without pickle
def load_goog():
    """Dates and the (open, high, low, close, volume) columns of goog.npz.

    The file holds one structured array, ``price_data``, with fields date,
    open, high, low, close, volume and adj_close (no object arrays, so it
    loads with ``allow_pickle=False``, numpy's safe default).
    """
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


class Forecaster(ll.Model):
    """x (W, N, F) -> LSTM -> h of the last day (N, H) -> Linear -> (N, 1)."""

    def __init__(self, F, H, rng):
        super().__init__(rnn=ll.LSTM(F, H, forget_bias=1.0, rng=rng), head=ll.Linear(H, 1, rng=rng))

    def forward(self, x):
        hs, _ = self.rnn.forward(x)  # (W, N, H)
        self.W = hs.shape[0]
        return self.head.forward(hs[-1])

    def backward(self, dy):
        dh = self.head.backward(dy)  # (N, H)
        dhs = np.zeros((self.W,) + dh.shape)
        dhs[-1] = dh
        self.rnn.backward(dhs)


def clock(seconds):
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


# %% Main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=20, help="days the model reads")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size H")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
    parser.add_argument("--test-frac", type=float, default=0.2, help="final share held out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/stock_forecast", help="directory for figures")
    parser.add_argument("--quick", action="store_true", help="a few seconds: 3 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.hidden = 3, 8
    rng = np.random.default_rng(args.seed)

    # %% Split by time, standardise with the training days' statistics only
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

    # %% Training: shuffled minibatches of windows
    model = Forecaster(x.shape[2], args.hidden, rng)
    opt = ll.Adam(model.params, model.grads, lr=args.lr)
    M = x_train.shape[1]
    losses = []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(M)
        total = 0.0
        for s in range(0, M, args.batch):
            idx = order[s : s + args.batch]
            model.zero_grad()
            loss, dy = ll.mse(model.forward(x_train[:, idx]), y_train[idx])
            model.backward(dy)
            ll.clip_grad_norm(model.grads, args.clip)
            opt.step()
            total += loss * len(idx)
        losses.append(total / M)
        if epoch % max(1, args.epochs // 10) == 0 or epoch == args.epochs:
            elapsed = time.perf_counter() - start
            eta = elapsed / epoch * (args.epochs - epoch)
            print(f"epoch {epoch:4d}/{args.epochs}  train mse (standardised) {losses[-1]:.5f}"
                  f"  elapsed {clock(elapsed)}  eta {clock(eta)}", flush=True)
    seconds = time.perf_counter() - start

    # %% Held-out period: the LSTM against "tomorrow = today"
    model.eval()
    with ll.no_grad():  # evaluation: keep no records for a backward
        pred = model.forward(x_test)[:, 0] * c_std + c_mean  # dollars
    truth = close[target_day[test]]
    today = close[target_day[test] - 1]  # the naive forecast: the last close it has seen
    errors = {"LSTM": pred - truth, "naive (tomorrow = today)": today - truth}
    moves = np.sign(truth - today)
    report = {}
    print(f"\nheld-out {test.sum()} days, {dates[first_test]} .. {dates[-1]}:")
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

    # %% Figures
    out = Path(args.out)
    fig_pred = out / "stock_forecast.png"
    plot.prediction_vs_truth(truth, {"LSTM": pred, "naive: tomorrow = today": today},
                             x=dates[target_day[test]], ylabel="GOOG close (USD)", path=fig_pred,
                             title=f"Held-out period: RMSE LSTM {report['LSTM']['rmse']:.2f} USD, "
                                   f"naive {report['naive (tomorrow = today)']['rmse']:.2f} USD")
    fig_loss = out / "stock_forecast_loss.png"
    plot.learning_curves({"train": losses}, xlabel="epoch", ylabel="MSE (standardised close)",
                         logy=True, path=fig_loss, title="Training loss")
    print(f"trained in {seconds / 60:.1f} min; figures: {fig_pred} {fig_loss}")
    return {"errors": report, "winner": winner, "rmse_ratio": ratio, "minutes": seconds / 60,
            "figures": [str(fig_pred), str(fig_loss)]}


if __name__ == "__main__":
    main()
