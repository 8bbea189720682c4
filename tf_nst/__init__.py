"""tf-nst: neural style transfer in TensorFlow/Keras, from a CLI to TF Serving.

The public names below are imported on first use, so `import tf_nst` (and the
TensorFlow-free modules such as `tf_nst.settings`) start without TensorFlow.
"""

import importlib

from tf_nst.provenance import VERSION as __version__

# Public name -> module that defines it.
_EXPORTS = {
    "BACKBONES": "backbones", "FeatureExtractor": "backbones", "build_vgg": "backbones",
    "NSTError": "errors", "ImageError": "errors", "InvalidArgumentError": "errors", "OutputError": "errors",
    "ServingError": "errors", "WeightsError": "errors",
    "export_model": "export",
    "LoadedImage": "images", "load_image": "images", "read_png_text": "images", "save_png": "images",
    "LossTerm": "losses", "content_loss": "losses", "gram_matrix": "losses", "style_loss": "losses",
    "total_variation_loss": "losses",
    "StyleObjective": "objective",
    "LBFGS": "optimizers", "Adam": "optimizers", "get_optimizer": "optimizers",
    "read_provenance": "provenance",
    "load_saved_model": "serving", "request_grpc": "serving", "request_rest": "serving",
    "StylizeSettings": "settings",
    "Progress": "stylizer", "StylizeResult": "stylizer", "Stylizer": "stylizer",
    "TensorBoardLogger": "tensorboard",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tf_nst' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tf_nst.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
