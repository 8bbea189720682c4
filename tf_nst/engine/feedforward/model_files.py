"""A trained network in its model folder: save (float16 weights + config) and load.

The folder format and its lookup are `tf_nst.io.model_folders`; this module adds the network.
"""

import os

import keras
import numpy as np

from tf_nst.engine.feedforward.transformer import TransformerNet
from tf_nst.errors import ModelError
from tf_nst.io.model_folders import WEIGHTS_FILE, read_model_info, read_weights, trained_stroke_size, write_model_folder
from tf_nst.settings import MODEL_FORMAT


def weight_key(index):
    """The npz key of the network's `index`-th weight (the order of `network.weights` is the architecture's;
    Keras' variable paths carry per-process layer numbers, so they do not name a weight across processes)."""
    return f"w{index:03d}"


def save_model(network, folder, provenance):
    """Write `model.json` and `model.weights.npz` (float16) into `folder` (created), each atomically.

    Example:
    ```python
    save_model(TransformerNet(["starry_night"]), "models/mine", provenance={"styles": []})
    ```
    """
    weights = {weight_key(index): np.asarray(variable.numpy()).astype(np.float16)
               for index, variable in enumerate(network.weights)}
    write_model_folder(folder, weights, {"format": MODEL_FORMAT, "config": network.get_config(),
                                         "provenance": provenance})


def load_model(folder, dtype=None):
    """`(network, info)` of a model folder; `dtype` e.g. `"mixed_bfloat16"` overrides the stored policy.

    Raises:
        ModelError: not a model folder, or weights that do not fit the config.

    Example:
    ```python
    network, info = load_model("tf_nst/assets/models/bundled", dtype="mixed_bfloat16")
    network.style_names  # ['starry_night', 'the_scream', ...]
    ```
    """
    info = read_model_info(folder)
    config = dict(info["config"])
    if dtype is not None:
        config["dtype"] = dtype
    network = TransformerNet.from_config(config)
    path = os.path.join(folder, WEIGHTS_FILE)
    stored = read_weights(path)
    if len(stored) != len(network.weights):
        raise ModelError(f"expected {len(network.weights)} weights in {path}. Received: {len(stored)}")
    for index, variable in enumerate(network.weights):
        value = stored.get(weight_key(index))
        if value is None or tuple(value.shape) != tuple(variable.shape):
            raise ModelError(f"expected weights for {variable.path} {tuple(variable.shape)} in {path}. "
                             f"Received: {None if value is None else value.shape}")
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
    return network, info


stroke_size = trained_stroke_size  # the folder's stroke size (TensorFlow-free, in tf_nst.io.model_folders)
