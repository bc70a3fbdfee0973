"""A one-line progress report for training loops: steps, rate, elapsed, time left, metrics.

::

    step 1200/4000 (30%)  41.3 steps/s  elapsed 0:29  eta 1:07  loss 1.873  lr 0.0091

Where it appears, chosen when the reporter is made (``mode="auto"``):

- in a Jupyter notebook (a running IPython kernel): one output that is
  updated in place (an IPython display handle);
- in a terminal (the stream is a tty): one line, redrawn with ``\\r``;
- anywhere else (a log file, CI, a pipe): a plain line every ``every`` steps,
  so the log shows progress without a wall of carriage returns.

This is the library's only output on purpose; everything else returns values.
"""

from __future__ import annotations

import sys
import time

from .checks import check_positive_int, check_range

__all__ = ["Progress"]

_MODES = ("auto", "notebook", "terminal", "lines")


class Progress:
    """Report the progress of a loop on one updating line (terminal or notebook).

    Parameters
    ----------
    total : int, optional
        The number of steps, for the percentage and the time left (ETA).
    every : int, optional
        In ``"lines"`` mode, write a line every ``every`` steps (and at the
        last one). Default: a tenth of ``total``, or 100 without a total.
    stream : file-like, optional
        Where the terminal line or the plain lines go; default ``sys.stdout``
        (read when the reporter is made), so progress and your own prints
        appear in order. Unused in notebook mode.
    desc : str
        A label written first, e.g. ``"train"``.
    mode : {"auto", "notebook", "terminal", "lines"}
        ``"auto"``: notebook if an IPython kernel is running, else terminal
        if ``stream`` is a tty, else lines.
    min_interval : float
        Seconds between redraws of the updating line (redrawing is not free).
    clock : callable, optional
        Returns the time in seconds; ``time.perf_counter`` by default.

    Examples
    --------
    >>> import io
    >>> import lstmlab as ll
    >>> log = io.StringIO()                                 # not a tty: plain lines
    >>> now = [0.0]                                         # a fake clock: the same output
    >>> progress = ll.Progress(total=4, every=2, stream=log, clock=lambda: now[0])
    >>> for step in range(4):
    ...     now[0] += 0.5                                   # half a second per step
    ...     progress.update(loss=1.0 / (step + 1))
    >>> progress.close()
    >>> print(log.getvalue(), end="")
    step 2/4 (50%)  2.00 steps/s  elapsed 0:01  eta 0:01  loss 0.5
    step 4/4 (100%)  2.00 steps/s  elapsed 0:02  eta 0:00  loss 0.25

    In a training loop, with the metrics you want to see::

        progress = ll.Progress(total=steps, desc="train")
        for step in range(steps):
            ...
            progress.update(loss=loss, lr=opt.lr)
        progress.close()
    """

    def __init__(self, total=None, every=None, stream=None, desc="", mode="auto",
                 min_interval=0.2, clock=None):
        self.total = None if total is None else check_positive_int("total", total, minimum=0)
        if every is None:
            every = max(1, self.total // 10) if self.total else 100
        self.every = check_positive_int("every", every)
        self.stream = sys.stdout if stream is None else stream
        if not callable(getattr(self.stream, "write", None)):
            raise TypeError(
                f"stream: expected a file-like object with write(), got "
                f"{type(self.stream).__name__}"
            )
        self.desc = str(desc)
        if mode not in _MODES:
            raise ValueError(f"mode: expected one of {_MODES}, got {mode!r}")
        self.mode = _choose_mode(self.stream) if mode == "auto" else mode
        self.min_interval = check_range("min_interval", min_interval)
        self._clock = time.perf_counter if clock is None else clock
        self.done = 0
        self.metrics = {}
        self._start = self._clock()
        self._last_draw = None  # time of the last redraw
        self._width = 0  # length of the last terminal line, to blank what is left of it
        self._handle = None  # the notebook display handle
        self.closed = False

    @property
    def elapsed(self):
        """Seconds since the reporter was made."""
        return self._clock() - self._start

    def update(self, n=1, **metrics):
        """Count ``n`` more steps, remember the latest ``metrics``, and show them when due.

        Metrics are shown as given: floats with 4 significant digits, the
        rest with ``str``. A metric keeps its last value until updated.
        """
        n = check_positive_int("n", n, minimum=0)
        previous = self.done
        self.done += n
        self.metrics.update(metrics)
        if self.mode == "lines":
            finished = self.total is not None and previous < self.total <= self.done
            if self.done // self.every > previous // self.every or finished:
                self._emit(self.line() + "\n")
        else:
            now = self._clock()
            if (self._last_draw is None or now - self._last_draw >= self.min_interval
                    or self.done == self.total):
                self._draw(self.line())
                self._last_draw = now

    def write(self, text):
        """Write a message on its own line without breaking the progress line."""
        if self.mode == "terminal":
            self._emit("\r" + " " * self._width + "\r" + str(text) + "\n")
            self._width = 0
            self._draw(self.line())
        else:
            self._emit(str(text) + "\n")

    def close(self):
        """Show the final state and end the line (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self.mode == "lines":
            if self.done % self.every and self.done != self.total:  # not written yet
                self._emit(self.line() + "\n")
        else:
            self._draw(self.line())
            if self.mode == "terminal":
                self._emit("\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def line(self):
        """The report as one line of text."""
        elapsed = self.elapsed
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [self.desc] if self.desc else []
        if self.total:
            parts.append(f"step {self.done}/{self.total} ({100 * self.done // self.total}%)")
        else:
            parts.append(f"step {self.done}")
        if rate >= 1 or rate == 0:
            parts.append(f"{rate:.2f} steps/s" if rate < 100 else f"{rate:.0f} steps/s")
        else:
            parts.append(f"{1 / rate:.2f} s/step")
        parts.append(f"elapsed {format_seconds(elapsed)}")
        if self.total and rate > 0:
            parts.append(f"eta {format_seconds(max(self.total - self.done, 0) / rate)}")
        parts += [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                  for k, v in self.metrics.items()]
        return "  ".join(parts)

    def _draw(self, text):
        if self.mode == "notebook":
            self._notebook_show(text)
        else:  # terminal: back to the start of the line, overwrite, blank the rest
            self._emit("\r" + text + " " * max(self._width - len(text), 0))
            self._width = len(text)

    def _notebook_show(self, text):
        from IPython.display import display  # present whenever a kernel runs

        bundle = {"text/plain": text}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def _emit(self, text):
        self.stream.write(text)
        if callable(getattr(self.stream, "flush", None)):
            self.stream.flush()  # show it now, not when a buffer fills

    def __repr__(self):
        return f"Progress({self.line()!r}, mode={self.mode!r})"


def format_seconds(seconds):
    """``m:ss``, or ``h:mm:ss`` from one hour on.

    Examples
    --------
    >>> format_seconds(75.4), format_seconds(3725)
    ('1:15', '1:02:05')
    """
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _choose_mode(stream):
    if _kernel_running():
        return "notebook"
    isatty = getattr(stream, "isatty", None)
    return "terminal" if callable(isatty) and isatty() else "lines"


def _kernel_running():
    """True inside a Jupyter (IPython) kernel. Never imports IPython itself."""
    ipython = sys.modules.get("IPython")
    if ipython is None:  # a kernel has always imported it
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
