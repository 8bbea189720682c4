"""How a run ended: `RunStatus` and what the results derive from it."""

import numpy as np

from tf_nst.engine.results import StylizeResult
from tf_nst.engine.status import RunStatus


def result(status):
    return StylizeResult(image=np.zeros((2, 2, 3), np.uint8), alpha=None, history=np.zeros((1, 4), np.float32),
                         loss_names=("total", "content", "style", "tv"), best_loss=0.0, steps=1, seconds=0.1,
                         status=status)


def test_only_done_is_finished():
    assert [status.finished for status in RunStatus] == [True, False, False, False]
    assert [str(status) for status in RunStatus] == ["done", "stopped", "time-budget", "failed"]
    assert RunStatus("time-budget") is RunStatus.TIME_BUDGET and RunStatus.STOPPED == "stopped"


def test_interrupted_is_derived_from_the_status():
    assert not result(RunStatus.DONE).interrupted
    assert result(RunStatus.STOPPED).interrupted and result(RunStatus.TIME_BUDGET).interrupted
