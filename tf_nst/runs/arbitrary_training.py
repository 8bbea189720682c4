"""Training the arbitrary-style network's decoders on photos alone: `cli.py train --arbitrary`.

`InverterTrainer` (tf_nst.engine.feedforward.arbitrary) learns to give each photo crop back from its features
at every level; `train_inverter` drives `model.fit` over the `tf.data` crops with a checkpoint every
`checkpoint_every` steps (weights, optimizer state, step: a rerun of the same command resumes) and
writes the network folder (`save_inverter`: float16 decoders, provenance with the photos' hashes)
with each checkpoint, so the folder is usable (`stylize --model FOLDER`) while training goes on.
"""

import os
import time

import keras
import numpy as np

from tf_nst.engine.feedforward.arbitrary import (FeatureInverter, InverterTrainer, assign_decoder_weights, decoder_weights,
                                     save_inverter)
from tf_nst.io.atomic import atomic_output
from tf_nst.io.provenance import versions
from tf_nst.runs import photos as photo_io
from tf_nst.runs.training import CHECKPOINT_FILE

class InverterCheckpoint(keras.callbacks.Callback):
    """Saves the checkpoint, the weights and the provenance every `every` steps and at the end."""

    def __init__(self, trainer, folder, every, step, seconds, provenance):
        super().__init__()
        self.trainer, self.folder, self.every = trainer, folder, int(every)
        self.step, self.seconds, self.provenance = int(step), float(seconds), provenance
        self.started = time.monotonic()
        self.last = {}

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.last = {name: float(value) for name, value in (logs or {}).items()}
        if self.step % self.every == 0:
            self.save()

    def on_train_end(self, logs=None):
        self.save()

    def save(self):
        seconds = self.seconds + time.monotonic() - self.started
        values = {f"weight_{name}": value for name, value in decoder_weights(self.trainer.inverter).items()}
        values.update({f"optimizer_{index}": np.asarray(variable.numpy())
                       for index, variable in enumerate(self.trainer.optimizer.variables)})
        values["step"], values["seconds"] = np.asarray(self.step), np.asarray(seconds)
        with atomic_output(os.path.join(self.folder, CHECKPOINT_FILE)) as stream:
            np.savez(stream, **values)
        info = {**self.provenance, "steps": self.step, "seconds": round(seconds, 1), "losses": self.last}
        save_inverter(self.trainer.inverter, self.folder, info)


def train_inverter(photo_specs, output, backbone="vgg16-hed", levels=4, size=128, batch_size=8,
                   num_steps=10000, learning_rate=1e-3, half_life=2500, checkpoint_every=100, precision="auto", seed=0,
                   transfer_weight=0.0, style_weight=1.0, transfer_levels=None, verbose=1):
    """Train (or resume) the decoders of an arbitrary-style network into folder `output`.

    `transfer_weight`, `style_weight`, `transfer_levels`: `InverterTrainer`'s transfer loss (0: reconstruction only).
    """
    photos = photo_io.find_photos(photo_specs, min_side=size)
    inverter = FeatureInverter(backbone=backbone, levels=levels, precision=precision)
    inverter.build()
    trainer = InverterTrainer(inverter, transfer_weight=transfer_weight, style_weight=style_weight,
                              transfer_levels=transfer_levels)
    # Halved every `half_life` steps: fast early progress, fine detail late (the schedule
    # follows the optimizer's restored step count on resume).
    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, half_life, 0.5)
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=False)
    checkpoint = os.path.join(output, CHECKPOINT_FILE)
    step, seconds = 0, 0.0
    if os.path.isfile(checkpoint):
        with np.load(checkpoint) as stored:
            assign_decoder_weights(inverter, {name[len("weight_"):]: stored[name] for name in stored.files
                                              if name.startswith("weight_")}, checkpoint)
            variables = [variable for decoder in inverter.decoders for variable in decoder.trainable_variables]
            trainer.optimizer.build(variables)
            for index, variable in enumerate(trainer.optimizer.variables):
                variable.assign(stored[f"optimizer_{index}"])
            step, seconds = int(stored["step"]), float(stored["seconds"])
    trainer.batches.assign(step)
    os.makedirs(output, exist_ok=True)
    provenance = {"backbone": backbone, "levels": levels, "size": size, "batch_size": batch_size,
                  "learning_rate": learning_rate, "half_life": half_life, "precision": inverter.precision,
                  "transfer_weight": transfer_weight, "style_weight": style_weight,
                  "transfer_levels": list(trainer.transfer_levels) if transfer_weight > 0 else None,
                  "photos": photos.provenance(),
                  "photo_files": [os.path.basename(path) for path in photos.paths], "versions": versions()}
    callback = InverterCheckpoint(trainer, output, checkpoint_every, step, seconds, provenance)
    remaining = num_steps - step
    if remaining > 0:
        dataset = photo_io.photo_dataset(list(photos.paths), size, batch_size, seed=seed * 1_000_003 + step)
        trainer.fit(dataset, epochs=1, steps_per_epoch=remaining, callbacks=[callback], verbose=verbose)
    return callback.provenance
