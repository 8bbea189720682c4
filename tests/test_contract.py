"""tf_nst.runs.contract: the stop request and the progress events every driver emits."""

import threading

import numpy as np

from tf_nst import Stylizer
from tf_nst.engine.status import RunStatus
from tf_nst.runs.contract import FrameProgress, PairProgress, StepProgress, StopRequest, step_callback


def test_stop_request_is_a_should_stop_callable_set_from_any_thread():
    stop = StopRequest()
    assert not stop() and not stop.is_set()
    thread = threading.Thread(target=stop.set)
    thread.start()
    thread.join()
    assert stop() and stop.is_set()
    stop.clear()
    assert not stop()


def test_events_say_done_of_total_in_their_unit():
    pair = PairProgress(done=2, total=8, counts={"ok": 2})
    frame = FrameProgress(done=3, total=4, losses={"total": 1.5}, resumed=1)
    assert (pair.unit, pair.fraction) == ("pair", 0.25)
    assert (frame.unit, frame.frame, frame.total_frames, frame.fraction) == ("frame", 3, 4, 0.75)
    assert StepProgress(done=0, total=0).fraction == 1.0


def test_a_stylizer_run_reports_step_events_and_stops_on_the_request(small_content, small_style):
    stylizer = Stylizer(backbone="vgg16-hed", size=32, num_steps=40)
    events, stop = [], StopRequest()

    def render(event):
        events.append(event)
        if event.done >= 10:
            stop.set()

    result = stylizer.stylize(small_content, small_style, should_stop=stop,
                              callback=step_callback(render, stylizer.loss_names), chunk_steps=5)
    assert result.status is RunStatus.STOPPED and result.interrupted
    assert [event.done for event in events] == [5, 10] and all(event.total == 40 for event in events)
    assert events[-1].loss_names == tuple(stylizer.loss_names) and np.asarray(events[-1].rows).shape[0] == 5
    assert events[-1].best_image().shape == result.image.shape
