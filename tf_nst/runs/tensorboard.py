"""TensorBoard logging of a run: the progress events of every driver as scalars, snapshots as images.

`cli.py stylize --tensorboard DIR` writes one run directory per output, `DIR/<output name>`;
view it with `tensorboard --logdir DIR`. The logger renders the run contract's events
(`tf_nst.runs.contract`): a single run's evaluations (`loss/<part>` per step), a video's
frames (`frame/loss/<part>` and the frame as an image) and a batch's pairs (`pair/loss`).

Example:
```python
logger = TensorBoardLogger("runs/astronaut", stylizer.loss_names)
result = stylizer.stylize(content, styles, callback=logger.log_losses)
logger.log_image(result.steps, result.image)
logger.close()
```
"""

import numpy as np
import tensorflow as tf

from tf_nst.runs.contract import FrameProgress, PairProgress, RecordProgress, StepProgress


class TensorBoardLogger:
    """Writes `tf.summary` scalars and images of progress events to `logdir`.

    Args:
        logdir: the run directory.
        loss_names: names of the loss parts (`Stylizer.loss_names`).

    Call it with any `tf_nst.runs.contract` event (or an engine `Progress` chunk, as
    `Stylizer.stylize`'s `callback`).
    """

    def __init__(self, logdir, loss_names):
        self.logdir = logdir
        self.loss_names = tuple(loss_names)
        self.writer = tf.summary.create_file_writer(logdir)

    def __call__(self, event):
        if not isinstance(event, (StepProgress, FrameProgress, PairProgress, RecordProgress)):
            event = StepProgress.from_engine(event, self.loss_names)
        with self.writer.as_default():
            if isinstance(event, StepProgress):
                self._log_steps(event)
            elif isinstance(event, FrameProgress):
                for name, value in event.losses.items():
                    tf.summary.scalar(f"frame/loss/{name}", float(value), step=event.done)
                if event.image is not None:
                    tf.summary.image("frame", np.asarray(event.image, np.uint8)[None], step=event.done)
            elif event.result is not None and event.result.loss is not None:
                tf.summary.scalar(f"{event.unit}/loss", float(event.result.loss), step=event.done)

    def _log_steps(self, event):
        rows = np.asarray(event.rows if event.rows is not None else [list(event.losses.values())])
        names = self.loss_names or event.loss_names
        first = event.done - len(rows) + 1
        for offset, row in enumerate(rows):
            for name, value in zip(names, row):
                tf.summary.scalar(f"loss/{name}", float(value), step=first + offset)
        tf.summary.scalar("scale", event.scale_index, step=event.done)

    def log_losses(self, progress):
        """Scalars for every evaluation of a `Progress` chunk (its `rows`), at their step numbers."""
        self(progress)

    def log_image(self, step, image):
        """A `uint8 (H, W, 3)` image as the `snapshot` image at `step`."""
        with self.writer.as_default():
            tf.summary.image("snapshot", np.asarray(image, np.uint8)[None], step=step)

    def close(self):
        self.writer.flush()
        self.writer.close()
