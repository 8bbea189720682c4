"""Trained feed-forward model folders: where they are, what they record, their files read, written and averaged
(TensorFlow-free).

A model folder (written by `cli.py train`, tf_nst/runs/training.py) holds `model.json` (format,
the network's config, its provenance) and `model.weights.npz` (float16 weights). Bundled models
live in the package (`tf_nst/assets/models/`); local ones in `$TF_NST_MODELS` (default
`~/.tf-nst/models`). `--model NAME` is a folder path, a model name, or a style name of one.
"""

import json
import os

import numpy as np

from tf_nst.errors import ModelError
from tf_nst.io.atomic import atomic_output
from tf_nst.io.provenance import file_sha256
from tf_nst.settings import ARBITRARY_KIND, MODEL_FORMAT

INFO_FILE = "model.json"
WEIGHTS_FILE = "model.weights.npz"
BUNDLED_MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "models")


def local_models_folder():
    """Where `cli.py models` looks for the user's models (read when called)."""
    return os.environ.get("TF_NST_MODELS", os.path.join(os.path.expanduser("~"), ".tf-nst", "models"))


def is_model_folder(path):
    return os.path.isfile(os.path.join(os.fspath(path), INFO_FILE))


def read_model_info(folder):
    """The `model.json` of a model folder, checked.

    Raises:
        ModelError: not a folder, no model.json, unreadable, or not a tf-nst model.
    """
    folder = os.fspath(folder)
    path = os.path.join(folder, INFO_FILE)
    if not os.path.isdir(folder):
        raise ModelError(f"expected a model folder. Received: {folder} (no such folder)")
    if not os.path.isfile(path):
        raise ModelError(f"expected a model folder with {INFO_FILE} (written by `cli.py train`). "
                         f"Received: {folder}")
    try:
        with open(path, encoding="utf-8") as stream:
            info = json.load(stream)
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: cannot read ({error})")
    if not isinstance(info, dict) or info.get("format") != MODEL_FORMAT or "config" not in info:
        raise ModelError(f"expected {path} of format {MODEL_FORMAT!r}. Received: another file")
    return info


def trained_stroke_size(info):
    """The longest side (px) of the style images a style network's folder was trained on (`train --style-size`,
    from its `model.json`): it paints their strokes at that size in pixels, so larger photos render at it
    (`FeedForward(stroke_size=...)`). 0 when the folder does not record it (render at the photo's size)."""
    settings = (info.get("provenance") or {}).get("settings") or {}
    return int(settings.get("style_size") or 0) if isinstance(settings, dict) else 0


def is_arbitrary(info):
    """Whether a model folder's `model.json` (as read) holds an arbitrary-style network (any painting)."""
    return info.get("config", {}).get("kind") == ARBITRARY_KIND


def is_arbitrary_model(model):
    """Whether `--model NAME|FOLDER` names an arbitrary-style network (read before TensorFlow loads).

    Raises:
        ModelError: no such model, or a folder that is not one.
    """
    return is_arbitrary(read_model_info(resolve_model(model)[0]))


def model_folders():
    """`[(kind, folder)]` of the bundled and local models, kind `"bundled"` or `"local"`."""
    found = []
    for kind, root in (("bundled", BUNDLED_MODELS), ("local", local_models_folder())):
        if os.path.isdir(root):
            found += [(kind, os.path.join(root, name)) for name in sorted(os.listdir(root))
                      if is_model_folder(os.path.join(root, name))]
    return found


def resolve_model(name):
    """`(folder, style or None)` of `--model NAME`: a model folder, a model's name, or one of its styles.

    Raises:
        ModelError: nothing of that name.
    """
    name = os.fspath(name)
    if os.path.isdir(name):
        read_model_info(name)
        return name, None
    folders = model_folders()
    for _, folder in folders:
        if os.path.basename(folder) == name:
            return folder, None
    for _, folder in folders:
        if name in read_model_info(folder)["config"]["style_names"]:
            return folder, name
    known = sorted({style for _, folder in folders for style in read_model_info(folder)["config"]["style_names"]})
    raise ModelError(f"expected a model folder, a model name or a style of one ({', '.join(known) or 'none'}). "
                     f"Received: --model {name}")


def read_weights(path):
    """`{key: array}` of a model folder's weights file.

    Raises:
        ModelError: unreadable.
    """
    try:
        with np.load(path) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: cannot read weights ({error})")


def write_model_folder(folder, weights, info):
    """`weights` (`{key: array}`) and `info` (`model.json`'s content) into `folder` (created), each atomically."""
    os.makedirs(folder, exist_ok=True)
    with atomic_output(os.path.join(folder, WEIGHTS_FILE)) as stream:
        np.savez_compressed(stream, **weights)
    with atomic_output(os.path.join(folder, INFO_FILE), "w") as stream:
        json.dump(info, stream, indent=1, default=str)


def network_shape(info):
    """A model's network as its config defines it, without what does not change its weights (the Keras layer
    name, the dtype policy it trained in)."""
    return {key: value for key, value in info["config"].items() if key not in ("name", "dtype")}, info.get("format")


def average_models(folders, output):
    """Write into the new folder `output` the mean of the weights of the model folders `folders`; return its info.

    The models must be one network (configs equal but for the Keras name and the dtype policy they trained in):
    checkpoints of one training, or fine-tunes of one model.
    Their mean is stochastic weight averaging (Izmailov et al. 2018): a small-batch training wanders around
    a minimum, and the mean of points along it often lies nearer than each (measured for the bundled model:
    docs/realtime.md). The provenance is the first folder's, with `averaged_from` (each folder, its weights'
    hash, steps and start) in place of its own steps and start, and without the figures no step of the mean
    measured (losses, seconds).

    Raises:
        ModelError: fewer than two folders, one that is not a model folder, models of different networks,
            or an `output` that exists.

    Example:
    ```python
    average_models(["runs/mine-700", "runs/mine-1100"], "models/mine-averaged")
    ```
    """
    if len(folders) < 2:
        raise ModelError(f"expected at least two model folders to average. Received: {len(folders)}")
    if os.path.exists(output):
        raise ModelError(f"expected a new folder for the averaged model. Received: {output} (it exists)")
    infos = [read_model_info(folder) for folder in folders]
    weights = [read_weights(os.path.join(folder, WEIGHTS_FILE)) for folder in folders]
    shapes = {key: value.shape for key, value in weights[0].items()}
    for folder, info, stored in zip(folders[1:], infos[1:], weights[1:]):
        if network_shape(info) != network_shape(infos[0]) or \
                {key: value.shape for key, value in stored.items()} != shapes:
            raise ModelError(f"expected models of one network (the config and weights of {folders[0]}) to average. "
                             f"Received: {folder}, another network")
    mean = {key: np.mean([stored[key].astype(np.float64) for stored in weights], axis=0).astype(value.dtype)
            for key, value in weights[0].items()}
    provenance = {key: value for key, value in infos[0].get("provenance", {}).items()
                  if key not in ("losses", "seconds", "interrupted", "steps", "start_from")}
    provenance["averaged_from"] = [
        {"model": folder, "weights_sha256": file_sha256(os.path.join(folder, WEIGHTS_FILE)),
         "steps": info.get("provenance", {}).get("steps"), "start_from": info.get("provenance", {}).get("start_from")}
        for folder, info in zip(folders, infos)]
    info = dict(infos[0], provenance=provenance)
    write_model_folder(output, mean, info)
    return info
