"""ll.Progress: lines in logs, one \\r-updated line in a terminal, a display in a notebook."""

import io
import subprocess
import sys
import types

import pytest

import lstmlab as ll
from lstmlab.progress import format_seconds


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class TTY(io.StringIO):
    def isatty(self):
        return True


def make(mode="auto", stream=None, **kwargs):
    clock = FakeClock()
    stream = io.StringIO() if stream is None else stream
    return ll.Progress(stream=stream, mode=mode, clock=clock, **kwargs), stream, clock


def test_line_holds_steps_rate_elapsed_eta_and_metrics():
    progress, _, clock = make(total=100)
    clock.now += 20.0
    progress.update(40, loss=1.23456, epoch=2, note="warm")
    assert progress.line() == (
        "step 40/100 (40%)  2.00 steps/s  elapsed 0:20  eta 0:30  loss 1.235  epoch 2  note warm"
    )


def test_line_without_total_slow_steps_and_desc():
    progress, _, clock = make(desc="train")
    clock.now += 30.0
    progress.update(3)
    assert progress.line() == "train  step 3  10.00 s/step  elapsed 0:30"
    clock.now += 3600.0
    assert "elapsed 1:00:30" in progress.line()


def test_metrics_keep_their_last_value():
    progress, _, _ = make(total=10)
    progress.update(loss=2.0, acc=0.5)
    progress.update(loss=1.0)
    assert progress.metrics == {"loss": 1.0, "acc": 0.5}


def test_lines_mode_writes_every_n_steps_and_the_last():
    progress, stream, clock = make(total=10, every=4)
    assert progress.mode == "lines"  # a StringIO is not a tty
    for _ in range(10):
        clock.now += 1.0
        progress.update()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["4/10", "8/10", "10/10"]
    assert "\r" not in stream.getvalue()


def test_lines_mode_default_every_and_jumps():
    progress, stream, _ = make(total=50)
    assert progress.every == 5
    progress.update(12)  # crosses 5 and 10: one line
    progress.update(2)
    assert len(stream.getvalue().splitlines()) == 1
    progress, stream, _ = make()
    assert progress.every == 100
    progress.update(7)
    progress.close()  # an unfinished count is written at the end
    assert stream.getvalue().startswith("step 7 ")


def test_terminal_mode_redraws_one_line_with_carriage_returns():
    progress, stream, clock = make(total=3, stream=TTY(), min_interval=0.0)
    assert progress.mode == "terminal"
    for _ in range(3):
        clock.now += 1.0
        progress.update(loss=1.0)
    progress.close()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.count("\r") == 4  # three updates and the final redraw
    assert text.rstrip("\n").split("\r")[-1].startswith("step 3/3 (100%)")


def test_terminal_mode_rate_limits_redraws():
    progress, stream, clock = make(total=1000, stream=TTY(), min_interval=1.0)
    for _ in range(999):
        clock.now += 0.01  # 10 s in all: about 10 redraws, not 999
        progress.update()
    assert 8 <= stream.getvalue().count("\r") <= 12
    progress.update()  # the last step is always drawn
    assert stream.getvalue().split("\r")[-1].startswith("step 1000/1000")


def test_terminal_line_blanks_what_a_longer_previous_line_left():
    progress, stream, _ = make(total=10, stream=TTY(), min_interval=0.0)
    progress.update(note="a long message here")
    progress.update(note="x")
    last = stream.getvalue().split("\r")[-1]
    assert len(last) == len(stream.getvalue().split("\r")[-2])


def test_write_keeps_messages_on_their_own_lines():
    progress, stream, _ = make(total=10, stream=TTY(), min_interval=0.0)
    progress.update()
    progress.write("validation loss 1.5")
    progress.update()
    progress.close()
    lines = [part.strip() for part in stream.getvalue().replace("\r", "\n").splitlines()]
    assert "validation loss 1.5" in lines
    progress, stream, _ = make(total=10)
    progress.write("hello")
    assert stream.getvalue() == "hello\n"


def test_close_is_idempotent_and_context_manager_closes():
    with make(total=2, stream=TTY())[0] as progress:
        progress.update(2)
    assert progress.closed
    before = progress.stream.getvalue()
    progress.close()
    assert progress.stream.getvalue() == before


def test_notebook_mode_updates_one_display(monkeypatch):
    shown = []

    class Handle:
        def update(self, bundle, raw):
            shown.append(("update", bundle["text/plain"], raw))

    def display(bundle, raw, display_id):
        shown.append(("display", bundle["text/plain"], raw))
        assert display_id is True
        return Handle()

    fake_display = types.ModuleType("IPython.display")
    fake_display.display = display
    monkeypatch.setitem(sys.modules, "IPython.display", fake_display)
    progress, stream, clock = make(mode="notebook", total=3, min_interval=0.0)
    for _ in range(3):
        clock.now += 1.0
        progress.update(loss=0.5)
    progress.close()
    assert [kind for kind, _, _ in shown] == ["display", "update", "update", "update"]
    assert shown[-1][1].startswith("step 3/3 (100%)") and all(raw for *_, raw in shown)
    assert stream.getvalue() == ""  # nothing on the stream in a notebook


def test_auto_detects_a_running_kernel(monkeypatch):
    class Shell:
        kernel = object()

    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: Shell()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert make()[0].mode == "notebook"
    fake.get_ipython = lambda: None  # IPython imported, but no kernel (a plain script)
    assert make()[0].mode == "lines"


def test_default_stream_is_stdout_read_at_creation(capsys):
    progress = ll.Progress(total=2, every=1, mode="lines")
    progress.update()
    assert capsys.readouterr().out.startswith("step 1/2 (50%)")


def test_importing_lstmlab_does_not_import_ipython():
    code = "import sys, lstmlab as ll; ll.Progress(3).update(); print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("False")


def test_format_seconds():
    assert format_seconds(0) == "0:00"
    assert format_seconds(59.9) == "0:59"
    assert format_seconds(61) == "1:01"
    assert format_seconds(3600 + 62) == "1:01:02"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"total": -1}, ValueError, "total: expected an integer >= 0, got -1"),
    ({"every": 0}, ValueError, "every: expected an integer >= 1, got 0"),
    ({"mode": "gui"}, ValueError, "mode: expected one of"),
    ({"stream": "log.txt"}, TypeError, "stream: expected a file-like object with write"),
    ({"min_interval": -1.0}, ValueError, "min_interval: expected a finite number >= 0"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ll.Progress(**kwargs)


def test_update_refuses_negative_steps():
    with pytest.raises(ValueError, match="n: expected an integer >= 0, got -1"):
        make()[0].update(-1)


def test_in_a_real_kernel_one_output_is_updated_in_place():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import lstmlab as ll\n"
        "p = ll.Progress(total=5, min_interval=0.0)\n"
        "for _ in range(5):\n"
        "    p.update(loss=0.5)\n"
        "p.close()\n"
        "print(p.mode)"
    )]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1  # one output, updated five times, not five lines
    assert displays[0].data["text/plain"].startswith("step 5/5 (100%)")
    assert [o.text for o in outputs if o.output_type == "stream"] == ["notebook\n"]
