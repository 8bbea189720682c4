"""Training the arbitrary-style network's decoders on photos alone: `cli.py train --arbitrary`.

`InverterTrainer` (tf_nst.engine.feedforward.arbitrary) learns to give each photo crop back from its features
at every level; `train_inverter` runs its steps over the `tf.data` crops in the one training loop of
`tf_nst.runs.training` (`training_loop`: on this machine, or on the cluster that `TF_CONFIG` names, with
`tf.distribute.MultiWorkerMirroredStrategy`), with a checkpoint every `checkpoint_every` steps (weights,
optimizer state, step: a rerun of the same command resumes) and the network folder (`save_inverter`:
float16 decoders, provenance with the photos' hashes) written with each checkpoint, so the folder is usable
(`stylize --model FOLDER`) while training goes on. On a cluster the chief writes the folder.
"""

import os

import keras
import numpy as np

from tf_nst.engine.feedforward.arbitrary import (FeatureInverter, InverterTrainer, assign_decoder_weights, decoder_weights,
                                                 save_inverter)
from tf_nst.io.atomic import atomic_output
from tf_nst.io.provenance import versions
from tf_nst.runs import photos as photo_io
from tf_nst.runs.cluster import broadcast_from_chief
from tf_nst.runs.training import CHECKPOINT_FILE, join_cluster, training_loop, worker_folder
from tf_nst.runs.training_callbacks import TrainingMonitor
from tf_nst.settings import TrainSettings


def save_inverter_checkpoint(trainer, folder, step, seconds):
    """Decoder weights (float32), the optimizer's state and the step, atomically (a kill -9 keeps the last one)."""
    values = {f"weight_{name}": value for name, value in decoder_weights(trainer.inverter).items()}
    values.update({f"optimizer_{index}": np.asarray(variable.numpy())
                   for index, variable in enumerate(trainer.optimizer.variables)})
    values["step"], values["seconds"] = np.asarray(step), np.asarray(seconds)
    with atomic_output(os.path.join(folder, CHECKPOINT_FILE)) as stream:
        np.savez(stream, **values)


def restore_inverter_checkpoint(trainer, folder):
    """`(step, seconds)` of the folder's checkpoint, restored into `trainer` (decoders and optimizer)."""
    path = os.path.join(folder, CHECKPOINT_FILE)
    with np.load(path) as stored:
        assign_decoder_weights(trainer.inverter, {name[len("weight_"):]: stored[name] for name in stored.files
                                                  if name.startswith("weight_")}, path)
        for index, variable in enumerate(trainer.optimizer.variables):
            variable.assign(stored[f"optimizer_{index}"])
        return int(stored["step"]), float(stored["seconds"])


def save_inverter_folder(trainer, folder, provenance):
    """The network folder of an `InverterTrainer`'s decoders (`save_inverter`)."""
    save_inverter(trainer.inverter, folder, provenance)


def train_inverter(photo_specs, output, backbone="vgg16-hed", levels=4, size=128, batch_size=8,
                   num_steps=10000, learning_rate=1e-3, half_life=2500, checkpoint_every=100, precision="auto", seed=0,
                   transfer_weight=0.0, style_weight=1.0, transfer_levels=None, verbose=1, should_stop=None,
                   cluster=None, connect_seconds=300.0):
    """Train (or resume) the decoders of an arbitrary-style network into folder `output`; return its provenance.

    On a cluster (`cluster`, or `TF_CONFIG` in the environment) every worker calls this with the same
    arguments; `batch_size` is the global batch, split between the workers (as `tf_nst.runs.training.train`).
    `transfer_weight`, `style_weight`, `transfer_levels`: `InverterTrainer`'s transfer loss (0: reconstruction
    only). `should_stop`: a callable polled after each execution; `True` saves a checkpoint and stops.

    Raises:
        InvalidArgumentError: no readable photos, a batch the workers cannot share.
        ClusterError: a worker of the cluster cannot be reached, or was lost.
    """
    photos = photo_io.find_photos(photo_specs, min_side=size)
    settings = TrainSettings(backbone=backbone, precision=precision, size=size, batch_size=batch_size,
                             num_steps=num_steps, learning_rate=learning_rate, checkpoint_every=checkpoint_every,
                             seed=seed, transfer_weight=transfer_weight, preview_every=0)
    cluster = join_cluster(settings, cluster, connect_seconds)
    with cluster.strategy.scope():
        keras.utils.set_random_seed(seed)  # the decoders' start (on a cluster, the chief's copy goes to every worker)
        inverter = FeatureInverter(backbone=backbone, levels=levels, precision=precision)
        inverter.build()
        trainer = InverterTrainer(inverter, transfer_weight=transfer_weight, style_weight=style_weight,
                                  transfer_levels=transfer_levels)
        # Halved every `half_life` steps: fast early progress, fine detail late (the schedule
        # follows the optimizer's restored step count on resume).
        schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, half_life, 0.5)
        trainer.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=False)
        trainer.optimizer.build(trainer.trained_variables())
    resume = cluster.is_chief and os.path.isfile(os.path.join(output, CHECKPOINT_FILE))
    step, seconds = restore_inverter_checkpoint(trainer, output) if resume else (0, 0.0)
    broadcast_from_chief(cluster, trainer.trained_variables() + list(trainer.optimizer.variables))
    step = trainer.steps_done
    provenance = {"backbone": backbone, "levels": levels, "size": size, "batch_size": batch_size,
                  "learning_rate": learning_rate, "half_life": half_life, "precision": inverter.precision,
                  "transfer_weight": transfer_weight, "style_weight": style_weight,
                  "transfer_levels": list(trainer.transfer_levels) if transfer_weight > 0 else None,
                  "photos": photos.provenance(),
                  "photo_files": [os.path.basename(path) for path in photos.paths], "versions": versions(),
                  "workers": cluster.num_workers}
    with worker_folder(cluster, output) as folder:
        monitor = TrainingMonitor(trainer, folder, settings, step, seconds, provenance, [], save_inverter_checkpoint,
                                  should_stop, save_folder=save_inverter_folder)
        training_loop(trainer, cluster, photos, settings, step, monitor, [monitor], verbose if cluster.is_chief else 0)
    return monitor.provenance
