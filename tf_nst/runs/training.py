"""Training a feed-forward network with the engine's losses: `cli.py train` (Johnson et al. 2016,
Dumoulin et al. 2017).

`train` builds the network, the engine's objective and a `StyleTrainer`
(`tf_nst.engine.feedforward.trainer`: a `keras.Model` whose `train_step` minimizes
`PerceptualLoss`), then drives `model.fit` over the `tf.data` crops (`tf_nst.runs.photos`) with checkpoints,
previews, a time budget and a clean stop, and writes the model folder with its provenance.
A rerun of the same command resumes from the folder's checkpoint.

Example:
```python
settings = TrainSettings(num_steps=2000, size=192)
train(["starry_night.jpg", "the_scream.jpg"], ["photos/"], "models/two_styles", settings)
```
"""

import math
import os

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
from tf_nst.runs.training_callbacks import TrainingMonitor
from tf_nst.runs.training_models import build_network

CHECKPOINT_FILE = "checkpoint.npz"
# Steps per `fit` execution at most: fewer Python round trips, while a time budget or a stop
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


def checkpoint_step(folder):
    """The step of the folder's checkpoint."""
    with np.load(os.path.join(folder, CHECKPOINT_FILE)) as stored:
        return int(stored["step"])


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
          verbose=1, should_stop=None):
    """Train (or resume, or extend with `add_style`) a model in folder `output`; return its provenance.

    Args:
        style_paths: style images; their file stems are the style names.
        photo_specs: files, folders or globs of training photos.
        output: the model folder (created; a rerun resumes it).
        settings: `TrainSettings`.
        preview_paths: held-out photos rendered every `settings.preview_every` steps into
            `output/previews/` (default: none).
        add_style: a model folder to extend by `style_paths` (training only their norm parameters).
        tensorboard: a folder for TensorBoard logs, or `None`.
        verbose: `model.fit`'s progress bar (1) or none (0).
        should_stop: a callable polled after every execution (`steps_per_execution` steps); `True` saves a
            checkpoint and stops.

    Raises:
        InvalidArgumentError: no readable photos, no styles, a style name the base model has.
        ModelError: an output folder that is not this training's model.
    """
    if not style_paths:
        raise InvalidArgumentError("expected at least one STYLE image. Received: none")
    for path in style_paths:
        load_image(path)
    styles = style_provenance(style_paths)
    photos = photo_io.find_photos(photo_specs, min_side=32)
    resume = check_output_folder(output, styles, add_style)
    network, base, train_styles = build_network(settings, styles, add_style, output if resume else None)
    objective = build_objective(settings)
    loss = PerceptualLoss(objective)
    targets = loss.style_targets(load_styles(style_paths, settings.style_size)) if base is None else \
        _extended_targets(loss, base, style_paths, settings)
    trainer = StyleTrainer(network, loss, targets, (settings.content_weight, settings.style_weight,
                                                    settings.tv_weight),
                           train_styles=train_styles, norm_only=base is not None,
                           norm_learning_rate=settings.norm_learning_rate)
    trainer.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), jit_compile=False,
                    steps_per_execution=steps_per_execution(settings, checkpoint_step(output) if resume else 0,
                                                            tensorboard=bool(tensorboard)))
    step, seconds = restore_checkpoint(trainer, output) if resume else (0, 0.0)
    provenance = {"styles": (base or {}).get("styles", []) + styles, "photos": photos.provenance(),
                  "settings": _json_settings(settings), "versions": versions(), "base_model": add_style,
                  "precision": objective.extractor.precision}
    os.makedirs(output, exist_ok=True)
    monitor = TrainingMonitor(trainer, output, settings, step, seconds, provenance,
                              photo_io.load_previews(preview_paths, 256) if preview_paths else [],
                              save_checkpoint, should_stop)
    _fit(trainer, photos, settings, step, monitor, tensorboard, verbose)
    return monitor.provenance


def steps_per_execution(settings, step, tensorboard=False, limit=MAX_STEPS_PER_EXECUTION):
    """Steps per `fit` execution: a divisor of the checkpoint and preview periods, of the start step and of the
    steps left, so callbacks (which run once per execution) land on every checkpoint and preview step.

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


def _fit(trainer, photos, settings, step, monitor, tensorboard, verbose):
    remaining = settings.num_steps - step
    callbacks = [monitor]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(tensorboard, update_freq=settings.checkpoint_every))
    try:
        if remaining > 0:
            dataset = photo_io.photo_dataset(list(photos.paths), settings.size, settings.batch_size,
                                             seed=settings.seed * 1_000_003 + step)
            trainer.fit(dataset, epochs=1, steps_per_epoch=remaining, callbacks=callbacks, verbose=verbose)
    except KeyboardInterrupt:
        monitor.save(interrupted=True)
        raise
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

