"""What a training run does between steps: checkpoints, model folder, previews, time budget, stop."""

import os
import time

import keras
import numpy as np
import tensorflow as tf

from tf_nst.engine.feedforward.model_files import save_model
from tf_nst.engine.feedforward.rendering import with_margin, without_margin
from tf_nst.errors import TrainingDivergedError
from tf_nst.io.images import save_png


def write_preview(network, previews, path):
    """A grid PNG: one row per held-out photo, the photo then its rendering in every style, each at the
    photo's own size (256 px: under the bundled model's stroke size, so as `stylize --model` renders it)."""
    rows = []
    for photo in previews:
        cells = [photo[0]]
        padded, margin = with_margin(tf.cast(photo, tf.float32))  # rendered as every front end renders
        for index in range(network.num_styles):
            weights = tf.one_hot([index], network.num_styles)
            rendered = network({"image": padded, "style_weights": weights})
            cells.append(without_margin(rendered, margin, photo.shape[1], photo.shape[2])[0])
        rows.append(np.concatenate([np.asarray(cell) for cell in cells], 1))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, [[0, 0], [0, width - row.shape[1]], [0, 0]]) for row in rows]
    save_png(path, np.clip(np.round(np.concatenate(rows, 0)), 0, 255).astype(np.uint8))


def save_style_network(trainer, folder, provenance):
    """The model folder of a `StyleTrainer`'s network (`model.json` with provenance, float16 weights)."""
    save_model(trainer.network, folder, provenance)


class TrainingMonitor(keras.callbacks.Callback):
    """Counts steps (the trainer's `steps_done`, so several steps per execution and a Ctrl-C inside an
    execution count right); saves the checkpoint and the model every `checkpoint_every`, previews every
    `preview_every`; stops at `max_seconds` or when `should_stop()` says so.

    Args:
        trainer: the `StyleTrainer` (or `InverterTrainer`, with its `save_checkpoint` and `save_folder`).
        folder: the model folder.
        settings: `TrainSettings`.
        step, seconds: where a resumed run starts.
        provenance: the model's provenance so far (steps, losses and seconds are added).
        previews: held-out photos `(1, h, w, 3)` (may be empty).
        save_checkpoint: `fn(trainer, folder, step, seconds)`.
        should_stop: a callable or `None`.
        save_folder: `fn(trainer, folder, provenance)` writing the model folder (default: the style network's,
            `save_model`).
    """

    def __init__(self, trainer, folder, settings, step, seconds, provenance, previews, save_checkpoint,
                 should_stop=None, save_folder=None):
        super().__init__()
        self.trainer, self.folder, self.settings = trainer, folder, settings
        self.step, self.previous_seconds, self.provenance = step, seconds, dict(provenance)
        self.previews, self.save_checkpoint, self.should_stop = previews, save_checkpoint, should_stop
        self.save_folder = save_folder or save_style_network
        self.started = time.monotonic()
        self.losses = {}
        self.sums, self.count = {}, 0

    @property
    def seconds(self):
        return self.previous_seconds + time.monotonic() - self.started

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last step of the execution; the optimizer's count is the truth.
        self.step = self.trainer.steps_done
        self.check_finite(logs or {})
        for name, value in (logs or {}).items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
        self.count += 1
        every = self.settings.checkpoint_every
        if self.step % every == 0:
            self.losses = {name: total / self.count for name, total in self.sums.items()}
            self.sums, self.count = {}, 0
            self.save(interrupted=False)
            print(f"step {self.step}/{self.settings.num_steps} " + " ".join(
                f"{name} {value:.6g}" for name, value in self.losses.items()) + f" ({self.seconds:.0f} s)",
                flush=True)
        if self.settings.preview_every and self.previews and self.step % self.settings.preview_every == 0:
            self.preview()
        budget = self.settings.max_seconds
        if (budget is not None and self.seconds >= budget) or (self.should_stop and self.should_stop()):
            self.model.stop_training = True

    def check_finite(self, logs):
        """Raise `TrainingDivergedError` on a NaN or infinite loss, before anything is saved: the folder keeps
        the last finite checkpoint and model (every worker of a cluster sees the same reduced loss and stops)."""
        bad = {name: value for name, value in logs.items() if not np.isfinite(float(value))}
        if bad:
            saved = self.step - self.step % self.settings.checkpoint_every
            raise TrainingDivergedError(
                f"the training diverged at step {self.step} ({', '.join(f'{name} {value}' for name, value in bad.items())}); "
                f"{self.folder} keeps its last finite checkpoint (step {saved} or before): rerun with a lower "
                f"--learning-rate (now {self.settings.learning_rate:g}) or other loss weights to resume from it")

    def preview(self):
        os.makedirs(os.path.join(self.folder, "previews"), exist_ok=True)
        write_preview(self.trainer.network, self.previews,
                      os.path.join(self.folder, "previews", f"step-{self.step:06d}.png"))

    def save(self, interrupted):
        """Checkpoint, then the model folder (`model.json` with provenance, float16 weights)."""
        self.step = self.trainer.steps_done
        if not all(np.all(np.isfinite(np.asarray(variable.numpy(), np.float32)))
                   for variable in self.trainer.trainable_variables):
            self.check_finite({"weights": float("nan")})  # an update after the last finite loss: keep the folder's
        if self.count and not self.losses:
            self.losses = {name: total / self.count for name, total in self.sums.items()}
        self.save_checkpoint(self.trainer, self.folder, self.step, self.seconds)
        self.provenance.update(steps=self.step, seconds=round(self.seconds, 1), interrupted=interrupted,
                               losses={name: round(value, 5) for name, value in self.losses.items()})
        self.save_folder(self.trainer, self.folder, self.provenance)
