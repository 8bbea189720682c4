"""tf-nst: neural style transfer in TensorFlow/Keras, from a CLI to TF Serving.

The public names below are imported on first use, so `import tf_nst` (and the
TensorFlow-free modules such as `tf_nst.settings`) start without TensorFlow.
"""

import importlib

from tf_nst.io.provenance import VERSION as __version__

# Public name -> module that defines it.
_EXPORTS = {
    "BACKBONES": "engine.backbones", "FeatureExtractor": "engine.backbones", "build_vgg": "engine.backbones",
    "NSTError": "errors", "ImageError": "errors", "InvalidArgumentError": "errors", "OutputError": "errors",
    "ServingError": "errors", "WeightsError": "errors",
    "export_model": "serving.export",
    "LoadedImage": "io.images", "load_image": "io.images", "read_png_text": "io.provenance", "save_png": "io.images",
    "LossTerm": "engine.losses", "content_loss": "engine.losses", "gram_matrix": "engine.losses", "style_loss": "engine.losses",
    "total_variation_loss": "engine.losses",
    "StyleObjective": "engine.objective", "Regions": "engine.masks",
    "TransformerNet": "engine.feedforward", "FeedForward": "engine.feedforward", "load_model": "engine.feedforward",
    "save_model": "engine.feedforward", "PerceptualLoss": "engine.feedforward", "StyleTrainer": "engine.feedforward",
    "FeatureInverter": "engine.feedforward", "ArbitraryStylizer": "engine.feedforward",
    "InverterTrainer": "engine.feedforward", "load_inverter": "engine.feedforward", "save_inverter": "engine.feedforward",
    "ArbitraryRun": "runs.arbitrary", "train_inverter": "runs.arbitrary_training",
    "LBFGS": "engine.optimizers", "Adam": "engine.optimizers",
    "read_provenance": "io.provenance",
    "load_saved_model": "serving.client", "request_grpc": "serving.client", "request_rest": "serving.client",
    "StylizeSettings": "settings",
    "RunStatus": "engine.status", "Progress": "engine.stylizer", "StylizeResult": "engine.stylizer", "Stylizer": "engine.stylizer",
    "TensorBoardLogger": "runs.tensorboard", "run_spark_batch": "runs.spark",
    "StopRequest": "runs.contract", "ProgressEvent": "runs.contract", "StepProgress": "runs.contract",
    "PairProgress": "runs.contract", "FrameProgress": "runs.contract", "RecordProgress": "runs.contract",
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
