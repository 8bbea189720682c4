"""tf_nst.runs.tensorboard: the run contract's events as TensorBoard scalars and images."""

import glob

import numpy as np
import tensorflow as tf

from tf_nst.runs.contract import FrameProgress, PairProgress, StepProgress
from tf_nst.runs.records import PairResult
from tf_nst.runs.tensorboard import TensorBoardLogger


def logged(logdir):
    """`{tag: [(step, value or image shape)]}` from the event files of `logdir`."""
    found = {}
    for path in glob.glob(f"{logdir}/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                item = float(tensor) if tensor.ndim == 0 else tuple(tensor.shape)
                found.setdefault(value.tag, []).append((event.step, item))
    return found


def test_step_frame_and_pair_events_are_logged(tmp_path):
    logger = TensorBoardLogger(str(tmp_path), ("total", "content"))
    logger(StepProgress(done=4, total=10, rows=np.array([[3.0, 1.0], [2.0, 0.5]]), scale_index=1))
    logger(FrameProgress(done=2, total=3, losses={"total": 7.0}, image=np.zeros((8, 6, 3), np.uint8)))
    logger(PairProgress(done=1, total=2, result=PairResult("a.png", "s.png", "out/a--s.png", "ok", loss=5.0)))
    logger.close()
    found = logged(tmp_path)
    assert found["loss/total"] == [(3, 3.0), (4, 2.0)] and found["loss/content"] == [(3, 1.0), (4, 0.5)]
    assert found["scale"] == [(4, 1.0)]
    assert found["frame/loss/total"] == [(2, 7.0)] and found["frame"][0][0] == 2
    assert found["pair/loss"] == [(1, 5.0)]
