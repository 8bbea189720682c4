"""Keras weight files in the published (legacy HDF5) layout, written with h5py and public Keras names only.

The ImageNet VGG files Keras downloads use the layout of Keras 2's `save_weights`: root attributes
`layer_names`, `backend`, `keras_version`; one group per layer with a `weight_names` attribute and
one dataset per weight at `<layer>/<layer>/<weight>`. `keras.Model.load_weights` reads it.
"""

import h5py
import keras
import numpy as np


def write_legacy_h5_weights(path, model):
    """Write `model`'s weights to `path` as Keras' downloadable `.h5` weight files are laid out."""
    with h5py.File(path, "w") as stream:
        stream.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        stream.attrs["backend"] = keras.backend.backend().encode()
        stream.attrs["keras_version"] = keras.__version__.encode()
        for layer in model.layers:
            group = stream.create_group(layer.name)
            names = [f"{layer.name}/{weight.name}" for weight in layer.weights]
            group.attrs["weight_names"] = [name.encode() for name in names]
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight))
    return path
