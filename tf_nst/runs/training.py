"""Training a feed-forward network with the engine's losses: `cli.py train` (Johnson et al. 2016,
Dumoulin et al. 2017).

`train` builds the network, the engine's objective and a `StyleTrainer`
(`tf_nst.engine.feedforward.trainer`: a `keras.Model` whose `train_step` minimizes
`PerceptualLoss`), then runs the steps over the `tf.data` crops (`tf_nst.runs.photos`) with checkpoints,
previews, a time budget and a clean stop, and writes the model folder with its provenance.
A rerun of the same command resumes from the folder's checkpoint.

One loop runs the steps on one machine and on a cluster (`tf_nst.runs.cluster`: `TF_CONFIG`,
`tf.distribute.MultiWorkerMirroredStrategy`): `strategy.run` of the trainer's `train_step`, executions
of a few steps in one `tf.function`, the Keras callbacks between them. Not `model.fit`: under the
multi-worker strategy it fails to convert its per-replica values (keras-team/keras#20585).

Example:
```python
settings = TrainSettings(num_steps=2000, size=192)
train(["starry_night.jpg", "the_scream.jpg"], ["photos/"], "models/two_styles", settings)
```
"""

import contextlib
import functools
import math
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tf_nst.engine.backbones import FeatureExtractor
from tf_nst.engine.objective import StyleObjective
from tf_nst.engine.feedforward.perceptual import PerceptualLoss
from tf_nst.engine.feedforward.trainer import StyleTrainer
from tf_nst.errors import InvalidArgumentError, ModelError
from tf_nst.io.atomic import atomic_output
from tf_nst.io.images import load_image
from tf_nst.io.inputs import stem
from tf_nst.io.model_folders import is_model_folder, read_model_info
from tf_nst.io.provenance import file_sha256, versions
from tf_nst.runs import photos as photo_io
from tf_nst.runs.cluster import (agree_to_stop, broadcast_from_chief, lost_worker_error, training_cluster,
                                 workers_named)
from tf_nst.runs.training_callbacks import TrainingMonitor
from tf_nst.runs.training_models import build_network, started_provenance

CHECKPOINT_FILE = "checkpoint.npz"
# Steps per execution at most: fewer Python round trips, while a time budget or a stop
# request still waits for no more than this many steps.
MAX_STEPS_PER_EXECUTION = 4


def style_provenance(paths):
    return [{"name": stem(path), "file": os.path.basename(path), "sha256": file_sha256(path)} for path in paths]


def check_output_folder(output, styles, add_style_base=None):
    """`True` when `output` holds a checkpoint of this same training (resume), `False` for a new one.

    Raises:
        ModelError: `output` is a file, a folder with other content, or a model of other styles.
    """
    if os.path.isfile(output):
        raise ModelError(f"expected a model folder for -o. Received: {output} (a file)")
    if not os.path.isdir(output) or not os.listdir(output):
        return False
    if not is_model_folder(output):
        raise ModelError(f"expected -o to be a new folder or a model folder. Received: {output} "
                         "(a folder that is not a model)")
    stored = read_model_info(output)["provenance"]
    names = [style["name"] for style in stored["styles"]]
    wanted = [style["name"] for style in styles]
    if add_style_base is None and names != wanted:
        raise ModelError(f"expected the styles of the model in {output} ({len(names)}: {', '.join(names)}) to "
                         f"resume it. Received: {len(wanted)} style(s): {', '.join(wanted)}")
    return os.path.isfile(os.path.join(output, CHECKPOINT_FILE))


def build_objective(settings):
    """The untiled `StyleObjective` of the training settings, as the optimization builds it: the backbone's
    `preprocessing` and the `extra_loss_terms` (with the layers they read) included."""
    layers = list(settings.content_layers) + list(settings.style_layers)
    for term in settings.extra_loss_terms:
        layers += list(term.layer_names)
    if isinstance(settings.backbone, FeatureExtractor):
        extractor = settings.backbone
    else:
        extractor = FeatureExtractor(layers, backbone=settings.backbone, weights=settings.weights,
                                     pooling=settings.pooling, preprocessing=settings.preprocessing,
                                     precision=settings.precision)
    return StyleObjective(extractor, settings.content_layers, settings.style_layers, loss_form=settings.loss_form,
                          extra_loss_terms=settings.extra_loss_terms, style_statistic=settings.style_statistic)


def load_styles(paths, side):
    """Style images as `(1, h, w, 3)` float, longest side `side`."""
    return photo_io.load_previews(paths, side)


def save_checkpoint(trainer, folder, step, seconds):
    """Network weights (float32), optimizer state and step, atomically (a kill -9 keeps the last one)."""
    values = {f"network_{index}": np.asarray(variable.numpy()) for index, variable in enumerate(trainer.network.weights)}
    for group, (optimizer, _) in enumerate(trainer.optimized_groups()):
        values.update({f"optimizer{group}_{index}": np.asarray(variable.numpy())
                       for index, variable in enumerate(optimizer.variables)})
    values["step"], values["seconds"] = np.asarray(step), np.asarray(seconds)
    with atomic_output(os.path.join(folder, CHECKPOINT_FILE)) as stream:
        np.savez(stream, **values)


def restore_checkpoint(trainer, folder):
    """`(step, seconds)` of the folder's checkpoint, restored into `trainer` (built optimizer)."""
    with np.load(os.path.join(folder, CHECKPOINT_FILE)) as stored:
        for index, variable in enumerate(trainer.network.weights):
            variable.assign(stored[f"network_{index}"])
        for group, (optimizer, variables) in enumerate(trainer.optimized_groups()):
            if variables:
                optimizer.build(variables)
            for index, variable in enumerate(optimizer.variables):
                variable.assign(stored[f"optimizer{group}_{index}"])
        return int(stored["step"]), float(stored["seconds"])


def train(style_paths, photo_specs, output, settings, preview_paths=(), add_style=None, tensorboard=None,
          verbose=1, should_stop=None, cluster=None, connect_seconds=300.0, start_from=None, tune_styles=()):
    """Train (or resume, or extend with `add_style`, or fine-tune `start_from`) a model in folder `output`; return
    its provenance.

    On a cluster (`cluster`, or `TF_CONFIG` in the environment: `tf_nst.runs.cluster`) every worker calls this
    with the same arguments; `settings.batch_size` is the global batch, split between the workers, so the
    training is the one-machine training. The chief reads and writes `output`; the others get its state.

    Args:
        style_paths: style images; their file stems are the style names.
        photo_specs: files, folders or globs of training photos.
        output: the model folder (created; a rerun resumes it).
        settings: `TrainSettings`.
        preview_paths: held-out photos rendered every `settings.preview_every` steps into
            `output/previews/` (default: none).
        add_style: a model folder to extend by `style_paths` (training only their norm parameters).
        tensorboard: a folder for TensorBoard logs, or `None`.
        verbose: a progress bar (1) or none (0).
        should_stop: a callable polled after every execution (`steps_per_execution` steps); `True` saves a
            checkpoint and stops (on a cluster: every worker stops at the same step).
        cluster: a `Cluster` (default: `training_cluster(connect_seconds)`, from `TF_CONFIG`).
        connect_seconds: how long a worker waits for the others of `TF_CONFIG`'s cluster to listen.
        start_from: a trained model folder of the same styles and shape: the network starts from its weights
            with a fresh optimizer (a fine-tune with other settings, e.g. larger `settings.size`); its path,
            weights' hash and steps go into the provenance. A rerun resumes `output` as usual.
        tune_styles: with `start_from`, the style names whose normalization parameters alone train (Dumoulin et
            al.'s conditional instance norm: a style is its scales and shifts); the convolutions and the other
            styles keep the model's weights exactly. Recorded in the provenance.

    Raises:
        InvalidArgumentError: no readable photos, no styles, a style name the base model has, a batch the
            workers cannot share, a `start_from` model of other styles or shape, `tune_styles` without
            `start_from` or naming another style.
        ModelError: an output folder that is not this training's model.
        ClusterError: a worker of the cluster cannot be reached, or was lost.
    """
    if not style_paths:
        raise InvalidArgumentError("expected at least one STYLE image. Received: none")
    for path in style_paths:
        load_image(path)
    styles = style_provenance(style_paths)
    photos = photo_io.find_photos(photo_specs, min_side=32)
    resume = check_output_folder(output, styles, add_style)
    cluster = join_cluster(settings, cluster, connect_seconds)
    trainer, objective, base = _build_trainer(settings, styles, style_paths, add_style, cluster, start_from,
                                             tune_styles)
    resume = resume and cluster.is_chief
    step, seconds = restore_checkpoint(trainer, output) if resume else (0, 0.0)
    broadcast_from_chief(cluster, training_state(trainer))
    step = trainer.steps_done
    provenance = {"styles": (base or {}).get("styles", []) + styles, "photos": photos.provenance(),
                  "settings": _json_settings(settings), "versions": versions(), "base_model": add_style,
                  "precision": objective.extractor.precision, "workers": cluster.num_workers}
    if start_from is not None:
        provenance["start_from"] = started_provenance(start_from)
    if tune_styles:
        provenance["tuned_styles"] = [name for name in trainer.network.style_names if name in tune_styles]
    with worker_folder(cluster, output) as folder:
        monitor = TrainingMonitor(trainer, folder, settings, step, seconds, provenance,
                                  photo_io.load_previews(preview_paths, 256) if preview_paths and cluster.is_chief
                                  else [], save_checkpoint, should_stop)
        callbacks = [monitor] + ([keras.callbacks.TensorBoard(tensorboard, update_freq=settings.checkpoint_every)]
                                 if tensorboard and cluster.is_chief else [])
        training_loop(trainer, cluster, photos, settings, step, monitor, callbacks, verbose if cluster.is_chief else 0,
                      tensorboard=bool(tensorboard))
    return monitor.provenance


def join_cluster(settings, cluster=None, connect_seconds=300.0):
    """The `Cluster` a training runs on (`cluster`, else `TF_CONFIG`'s, else this machine), with
    `settings.batch_size` checked to split evenly between the workers before connecting (so every worker
    stops alike) and between the replicas after."""
    check_global_batch(settings, cluster.num_workers if cluster else workers_named(), "workers")
    cluster = cluster or training_cluster(connect_seconds)
    check_global_batch(settings, cluster.num_replicas, "replicas")
    return cluster


@contextlib.contextmanager
def worker_folder(cluster, output):
    """The folder this worker writes: `output` on the chief; on the other workers a temporary folder, removed
    afterwards (TensorFlow's convention for the checkpoints of non-chief workers)."""
    folder = output if cluster.is_chief else tempfile.mkdtemp(prefix="tf-nst-worker-")
    try:
        os.makedirs(folder, exist_ok=True)
        yield folder
    finally:
        if not cluster.is_chief:
            shutil.rmtree(folder, ignore_errors=True)


def check_global_batch(settings, count, what="replicas"):
    """Raises `InvalidArgumentError` unless the batch splits evenly between `count` workers or replicas
    (checked on the workers before they connect, so every one stops alike, and on the replicas after)."""
    if settings.batch_size % count:
        raise InvalidArgumentError(
            f"expected --batch-size (the global batch) to be a multiple of the cluster's {count} {what}. "
            f"Received: batch_size={settings.batch_size}")


def style_weights(settings, style_names):
    """The style loss's weight: `settings.style_weight`, or with `per_style_weight` one weight per style of the
    network (in `style_names`' order; the styles not named keep `style_weight`).

    Raises:
        InvalidArgumentError: a name in `per_style_weight` that is not one of the network's styles.
    """
    named = settings.per_style_weight
    if not named:
        return settings.style_weight
    unknown = sorted(set(named) - set(style_names))
    if unknown:
        raise InvalidArgumentError(f"expected --per-style-weight names among the styles ({', '.join(style_names)}). "
                                   f"Received: {', '.join(unknown)}")
    return [float(named.get(name, settings.style_weight)) for name in style_names]


def _build_trainer(settings, styles, style_paths, add_style, cluster, start_from=None, tune_styles=()):
    """`(trainer, objective, base provenance)`: every variable made in the cluster's scope, the network's
    start drawn from `settings.seed` (on a cluster, the chief's copy goes to every worker)."""
    with cluster.strategy.scope():
        keras.utils.set_random_seed(settings.seed)
        network, base, train_styles = build_network(settings, styles, add_style, start_from=start_from,
                                                     tune_styles=tune_styles)
        objective = build_objective(settings)
        loss = PerceptualLoss(objective)
        targets = loss.style_targets(load_styles(style_paths, settings.style_size)) if base is None else \
            _extended_targets(loss, base, style_paths, settings)
        trainer = StyleTrainer(network, loss, targets, (settings.content_weight,
                                                        style_weights(settings, network.style_names),
                                                        settings.tv_weight),
                               train_styles=train_styles, norm_only=train_styles is not None,
                               norm_learning_rate=settings.norm_learning_rate)
        trainer.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), jit_compile=False)
        for optimizer, variables in trainer.optimized_groups():
            if variables:
                optimizer.build(variables)
    return trainer, objective, base


def training_state(trainer):
    """What a checkpoint holds: the network's weights and both optimizers' variables."""
    return list(trainer.network.weights) + [variable for optimizer, _ in trainer.optimized_groups()
                                            for variable in optimizer.variables]


def steps_per_execution(settings, step, tensorboard=False, limit=MAX_STEPS_PER_EXECUTION):
    """Steps per execution of the training loop: a divisor of the checkpoint and preview periods, of the start
    step and of the steps left, so callbacks (which run once per execution) land on every checkpoint and
    preview step.

    Args:
        settings: `TrainSettings`.
        step: the step the run starts from (a resumed run's checkpoint).
        tensorboard: Keras' TensorBoard callback counts executions, not steps: one step per execution.
        limit: the most steps per execution.

    Returns:
        An int from 1 to `limit`.
    """
    if tensorboard:
        return 1
    periods = [settings.checkpoint_every, settings.preview_every, step, max(settings.num_steps - step, 0)]
    return max(1, math.gcd(limit, *periods))


def training_steps(trainer, strategy, steps, batch_shape):
    """A `tf.function(iterator)` that runs `steps` steps of `trainer.train_step` on every replica of `strategy`
    (TensorFlow's default strategy on one machine) and returns the loss parts, means over the global batch and
    the steps.

    The trainer's loss is each replica's batch mean divided by the replica count, and the optimizers sum the
    replicas' gradients: the gradient of the global batch's mean. `batch_shape` is a replica's batch: the
    loss takes its images one by one, and a multi-worker dataset leaves the batch size unknown.
    """
    def replica_step(photos):
        return trainer.train_step(tf.ensure_shape(photos, batch_shape))

    def one_step(iterator):
        parts = strategy.run(replica_step, args=(next(iterator),))
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for name, value in parts.items()}

    @tf.function
    def run_steps(iterator):
        sums = one_step(iterator)
        for _ in tf.range(steps - 1):
            sums = {name: total + value for (name, total), value in zip(sums.items(), one_step(iterator).values())}
        return {name: total / steps for name, total in sums.items()}

    return run_steps


def worker_photos(paths, settings, seed, input_context):
    """This worker's rows of every global batch of `photo_dataset`, one batch per local replica."""
    local_replicas = input_context.num_replicas_in_sync // input_context.num_input_pipelines
    per_replica = input_context.get_per_replica_batch_size(settings.batch_size)
    rows = local_replicas * per_replica
    first = input_context.input_pipeline_id * rows
    dataset = photo_io.photo_dataset(paths, settings.size, settings.batch_size, seed=seed,
                                     rows=None if rows == settings.batch_size else (first, rows))
    return dataset.rebatch(per_replica) if local_replicas > 1 else dataset


def training_loop(trainer, cluster, photos, settings, step, monitor, callbacks, verbose, tensorboard=False):
    """The training loop, one for one machine and for a cluster, for a style network (`StyleTrainer`) and an
    arbitrary-style network's decoders (`InverterTrainer`): executions of `steps_per_execution` steps, the
    callbacks after each, until `num_steps` or a stop every worker agrees on (the same executions on every
    worker: only the chief has the TensorBoard callback, all count as if they had).

    Args:
        trainer: a `keras.Model` whose `train_step(photos)` returns its loss parts (batch means) and that has
            `steps_done` and `stop_training`; built in `cluster.strategy`'s scope.
        cluster: the `Cluster`.
        photos: the `Photos` (`tf_nst.runs.photos.find_photos`).
        settings: `TrainSettings` (`num_steps`, `batch_size`, `size`, `seed`, `checkpoint_every`, `preview_every`).
        step: the step the run starts from.
        monitor: the `TrainingMonitor` (among `callbacks`), saved on Ctrl-C and at the end.
        callbacks: Keras callbacks, called after each execution.
        verbose: a progress bar (1) or none (0).
        tensorboard: one step per execution (Keras' TensorBoard callback counts executions).
    """
    remaining = settings.num_steps - step
    per_execution = steps_per_execution(settings, step, tensorboard=tensorboard)
    callback_list = keras.callbacks.CallbackList(callbacks, add_progbar=verbose != 0, model=trainer, verbose=verbose,
                                                 epochs=1, steps=max(remaining, 1))
    trainer.stop_training = False
    try:
        if remaining > 0:
            dataset = cluster.strategy.distribute_datasets_from_function(
                functools.partial(worker_photos, list(photos.paths), settings, settings.seed * 1_000_003 + step))
            # Each worker draws its photos' styles from its own stream (the same one again would pair them).
            tf.random.set_seed(settings.seed * 1_000_003 + step * 1_009 + cluster.index)
            iterator, run_steps = iter(dataset), training_steps(
                trainer, cluster.strategy, per_execution,
                [settings.batch_size // cluster.num_replicas, settings.size, settings.size, 3])
            callback_list.on_train_begin()
            callback_list.on_epoch_begin(0)
            for done in range(per_execution, remaining + 1, per_execution):
                callback_list.on_train_batch_begin(done - per_execution)
                values = run_steps(iterator)
                logs = {name: float(value) for name, value in values.items()}
                callback_list.on_train_batch_end(done - 1, logs)  # the last step of the execution, as in `fit`
                if agree_to_stop(cluster, trainer.stop_training):
                    break
            callback_list.on_epoch_end(0, logs)
            callback_list.on_train_end(logs)
    except KeyboardInterrupt:
        monitor.save(interrupted=True)
        raise
    except tf.errors.OpError as error:
        if cluster.num_workers == 1:
            raise
        raise lost_worker_error(error, trainer.steps_done, settings.checkpoint_every) from None
    monitor.save(interrupted=False)


def _extended_targets(loss, base, style_paths, settings):
    """Targets of the base model's styles (from its recorded files is not possible: zeros) and the new ones.

    Only the new styles are drawn in `--add-style` training, so the base rows are never read.
    """
    new = loss.style_targets(load_styles(style_paths, settings.style_size))
    count = len(base["styles"])
    return tf.nest.map_structure(
        lambda value: tf.concat([tf.zeros([count] + value.shape[1:], value.dtype), value], 0), new)


def _json_settings(settings):
    values = {name: value for name, value in settings.to_dict().items() if name != "weights" or value is None
              or isinstance(value, str)}
    values["extra_loss_terms"] = [term.name for term in settings.extra_loss_terms]
    return values

