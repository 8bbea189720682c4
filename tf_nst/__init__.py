"""tf-nst: neural style transfer in TensorFlow/Keras, from a CLI to TF Serving."""

from tf_nst.backbones import BACKBONES, FeatureExtractor, build_vgg
from tf_nst.errors import (
    ImageError, InvalidArgumentError, NSTError, OutputError, ServingError, WeightsError)
from tf_nst.export import export_model
from tf_nst.images import LoadedImage, load_image, read_png_text, save_png
from tf_nst.losses import (
    LossTerm, content_loss, gram_matrix, style_loss, total_variation_loss)
from tf_nst.optimizers import LBFGS, Adam, get_optimizer
from tf_nst.serving import load_saved_model, request_grpc, request_rest
from tf_nst.stylizer import Progress, StylizeResult, Stylizer

__version__ = "0.1.0"

__all__ = [
    "BACKBONES", "FeatureExtractor", "build_vgg",
    "NSTError", "ImageError", "InvalidArgumentError", "OutputError", "ServingError", "WeightsError",
    "export_model", "load_saved_model", "request_grpc", "request_rest",
    "LoadedImage", "load_image", "read_png_text", "save_png",
    "LossTerm", "content_loss", "gram_matrix", "style_loss", "total_variation_loss",
    "LBFGS", "Adam", "get_optimizer",
    "Progress", "StylizeResult", "Stylizer",
]
