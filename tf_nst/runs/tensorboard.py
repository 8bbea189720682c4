"""TensorBoard logging of a run: every loss part per evaluation, snapshots as images.

`cli.py stylize --tensorboard DIR` writes one run directory per output, `DIR/<output name>`;
view it with `tensorboard --logdir DIR`.

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


class TensorBoardLogger:
    """Writes `tf.summary` scalars (`loss/<part>`) and images (`snapshot`) to `logdir`.

    Args:
        logdir: the run directory.
        loss_names: names of the loss parts (`Stylizer.loss_names`).
    """

    def __init__(self, logdir, loss_names):
        self.logdir = logdir
        self.loss_names = tuple(loss_names)
        self.writer = tf.summary.create_file_writer(logdir)

    def log_losses(self, progress):
        """Scalars for every evaluation of a `Progress` chunk (its `rows`), at their step numbers."""
        rows = np.asarray(progress.rows)
        first = progress.step - len(rows) + 1
        with self.writer.as_default():
            for offset, row in enumerate(rows):
                for name, value in zip(self.loss_names, row):
                    tf.summary.scalar(f"loss/{name}", float(value), step=first + offset)
            tf.summary.scalar("scale", progress.scale_index, step=progress.step)

    def log_image(self, step, image):
        """A `uint8 (H, W, 3)` image as the `snapshot` image at `step`."""
        with self.writer.as_default():
            tf.summary.image("snapshot", np.asarray(image, np.uint8)[None], step=step)

    def close(self):
        self.writer.flush()
        self.writer.close()
