"""Terminal feedback: one progress bar for every driver's events, and Ctrl-C as a clean stop."""

import signal

import pytest

from tf_nst.cli.feedback import ProgressBar, SignalStop, stop_signals
from tf_nst.runs.contract import FrameProgress, PairProgress, StepProgress


def test_progress_bar_renders_steps_pairs_and_frames(capsys):
    for event, shown in [
        (StepProgress(done=5, total=10, losses={"total": 1.5, "style": 0.25}), ["5/10", "total=1.5", "style=0.25"]),
        (PairProgress(done=2, total=3, counts={"ok": 1, "error": 1, "skipped": 0}), ["2/3", "ok=1", "error=1"]),
        (FrameProgress(done=1, total=4, seconds=2.5, losses={"total": 3.0}), ["1/4", "s/frame=2.5", "total=3"]),
    ]:
        bar = ProgressBar(event.total, event.unit)
        bar(event)
        bar.bar.refresh()
        bar.close()
        line = capsys.readouterr().err.strip().splitlines()[-1]
        for text in shown:
            assert text in line, (text, line)
        assert "skipped" not in line  # zero counts are left out


def test_quiet_bar_shows_nothing(capsys):
    bar = ProgressBar(3, "pair", quiet=True)
    bar(PairProgress(done=1, total=3, counts={"ok": 1}))
    bar.close()
    assert capsys.readouterr().err == ""


def test_signal_during_optimization_is_a_stop_request_and_before_it_an_interrupt():
    stop = SignalStop()
    with pytest.raises(KeyboardInterrupt):
        stop.on_signal(signal.SIGINT, None)  # before the optimization: stop at once
    with stop.during_optimization():
        stop.on_signal(signal.SIGINT, None)
        assert stop() and stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            stop.on_signal(signal.SIGINT, None)  # a second signal does not wait
    assert not stop.optimizing


def test_stop_signals_installs_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with stop_signals() as stop:
        assert signal.getsignal(signal.SIGTERM) == stop.on_signal
    assert signal.getsignal(signal.SIGTERM) == before
