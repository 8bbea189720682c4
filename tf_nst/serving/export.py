"""Export the style-transfer optimization itself as a SavedModel for TF Serving.

The export runs `Stylizer.stylize_graph` (the same targets / start / run
pieces as `Stylizer.stylize`, no second loop) behind two signatures:

- `serving_default`: uint8 tensors `content`, `style` `(1, H, W, 3)`, an optional `mask`
  `(1, h, w, 1)` plus scalar controls -> `{"stylized": uint8 (1, H, W, 3), "losses": float32
  (steps + 1, parts)}`.
- `stylize_bytes`: PNG/JPEG strings `content_bytes`, `style_bytes`, an optional `mask_bytes` plus
  the same controls -> `{"stylized_bytes": PNG string, "losses": ...}` (REST: `{"b64": ...}`).

The mask (white: the style's region; grey: a soft edge; black: the photo kept) has the content's
aspect ratio and is resized to it. Its default, a single white pixel (an empty string for
`mask_bytes`), means everywhere: an all-white mask runs the unmasked graph, op for op the
library's `Stylizer.stylize`, and any other mask the library's `stylize(..., region_masks=[mask])`.

Controls have `SignatureDef.defaults`, so TF Serving fills in whatever a request
leaves out. Inputs are checked in the graph against caps fixed at export
(`max_steps`, `max_pixels`): a bad request fails with InvalidArgument before
any large allocation (encoded images are measured from their headers before
decoding). The image and optimizer state are `tf.while_loop` variables, so
concurrent requests share nothing but the backbone weights.

Written with `keras.export.ExportArchive` (a `tf.Module` saved with
`tf.saved_model.save` does not load in the Session loader TF Serving uses;
keras-team/keras#20095) into `<output>/<version>/`, atomically.
"""

import json
import os

import numpy as np
import tensorflow as tf

from tf_nst.engine.masks import ASPECT_TOLERANCE, has_region
from tf_nst.errors import InvalidArgumentError
from tf_nst.io.atomic import atomic_directory, atomic_output
from tf_nst.serving.contract import (
    CONTENT, CONTENT_BYTES, CONTENT_WEIGHT, CONTROL_NAMES, DEFAULT_MAX_PIXELS, MASK, MASK_BYTES,
    DEFAULT_MAX_STEPS, EXPORT_INFO_FILE, INIT, LOSSES, MODEL_NAME, SEED, SERVING_DEFAULT, SIGNATURE_NAMES,
    STEPS, STYLE, STYLE_BYTES, STYLE_WEIGHT, STYLIZED, STYLIZED_BYTES, STYLIZE_BYTES, TV_WEIGHT, WARMUP_FILE,
    WARMUP_SIDE, tf_dtype)
from tf_nst.serving.export_files import version_path
from tf_nst.settings import EXPORT_INIT_MODES


def image_specs():
    """Input specs of `serving_default`'s images and mask."""
    return {CONTENT: tf.TensorSpec([1, None, None, 3], tf.uint8, name=CONTENT),
            STYLE: tf.TensorSpec([1, None, None, 3], tf.uint8, name=STYLE),
            MASK: tf.TensorSpec([1, None, None, 1], tf.uint8, name=MASK)}


def bytes_specs():
    """Input specs of `stylize_bytes`' encoded images and mask (scalar strings)."""
    return {CONTENT_BYTES: tf.TensorSpec([], tf.string, name=CONTENT_BYTES),
            STYLE_BYTES: tf.TensorSpec([], tf.string, name=STYLE_BYTES),
            MASK_BYTES: tf.TensorSpec([], tf.string, name=MASK_BYTES)}


def everywhere_mask():
    """The mask default: one white pixel (the style everywhere)."""
    return tf.fill([1, 1, 1, 1], tf.constant(255, tf.uint8))


def control_specs():
    return {name: tf.TensorSpec([], tf_dtype(name), name=name) for name in CONTROL_NAMES}


def _assert(condition, template, values):
    """An in-graph check that fails the request with InvalidArgument and a formatted message."""
    return tf.debugging.Assert(condition, [tf.strings.format(template, values, summarize=-1)])


def _after(checks, tensor):
    """`tensor`, usable only once `checks` passed (so nothing big runs on bad input)."""
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


class SignatureBuilder:
    """Builds the endpoint functions for one `Stylizer` and the caps fixed at export.

    Args:
        stylizer: the `Stylizer` whose backbone, layers and optimizer are exported.
        max_steps: largest `steps` a request may ask for.
        max_pixels: largest `height * width` of either image.
        defaults: `{control: value}` applied when a request omits a control.
    """

    def __init__(self, stylizer, max_steps, max_pixels, defaults):
        self.stylizer = stylizer
        self.max_steps = int(max_steps)
        self.max_pixels = int(max_pixels)
        self.min_side = int(stylizer.min_side)
        self.defaults = defaults

    def check_controls(self, steps, content_weight, style_weight, tv_weight, init):
        checks = [
            _assert(tf.logical_and(steps >= 1, steps <= self.max_steps),
                    f"expected steps in [1, {self.max_steps}]. Received: steps={{}}", [steps]),
            _assert(tf.reduce_any(tf.equal(init, EXPORT_INIT_MODES)),
                    f"expected init {' or '.join(EXPORT_INIT_MODES)}. Received: init={{}}", [init]),
        ]
        for name, value in ((CONTENT_WEIGHT, content_weight), (STYLE_WEIGHT, style_weight),
                            (TV_WEIGHT, tv_weight)):
            checks.append(_assert(tf.math.is_finite(value) & (value >= 0.0),
                                  f"expected {name} a finite number >= 0. Received: {name}={{}}", [value]))
        return checks

    def check_size(self, name, height, width):
        height, width = tf.cast(height, tf.int64), tf.cast(width, tf.int64)
        return [
            _assert(tf.minimum(height, width) >= self.min_side,
                    f"expected {name} with sides of at least {self.min_side} pixels. "
                    f"Received: {name} of {{}}x{{}}", [width, height]),
            _assert(height * width <= self.max_pixels,
                    f"expected {name} of at most {self.max_pixels} pixels (export cap). "
                    f"Received: {name} of {{}}x{{}} = {{}} pixels", [width, height, height * width]),
        ]

    def check_image(self, name, image):
        shape = tf.shape(image)
        rank_ok = _assert(tf.equal(tf.size(shape), 4), f"expected {name} of shape [1, height, width, 3]. "
                          f"Received: shape={{}}", [shape])
        with tf.control_dependencies([rank_ok]):
            shape = tf.identity(shape)
        layout = _assert(tf.equal(shape[0], 1) & tf.equal(shape[3], 3),
                         f"expected {name} of shape [1, height, width, 3]. Received: shape={{}}", [shape])
        with tf.control_dependencies([layout]):
            return _after(self.check_size(name, shape[1], shape[2]), image)

    def decode(self, name, encoded):
        """Decode PNG/JPEG bytes to `(1, H, W, 3)` uint8, refusing oversize images before decoding."""
        length = tf.strings.length(encoded)
        is_png = tf.equal(tf.strings.substr(encoded, 0, 8), b"\x89PNG\r\n\x1a\n") & (length >= 24)
        is_jpeg = tf.equal(tf.strings.substr(encoded, 0, 3), b"\xff\xd8\xff")
        known = _assert(is_png | is_jpeg, f"expected {name} to be PNG or JPEG bytes. "
                        f"Received: {{}} bytes starting with {{}}", [length, tf.strings.substr(encoded, 0, 8)])
        with tf.control_dependencies([known]):
            encoded = tf.identity(encoded)

        def png_size():
            header = tf.cast(tf.io.decode_raw(tf.strings.substr(encoded, 16, 8), tf.uint8), tf.int64)
            big_endian = tf.constant([2 ** 24, 2 ** 16, 2 ** 8, 1], tf.int64)
            return tf.stack([tf.reduce_sum(header[4:] * big_endian), tf.reduce_sum(header[:4] * big_endian)])

        def jpeg_size():
            return tf.cast(tf.image.extract_jpeg_shape(encoded)[:2], tf.int64)

        size = tf.cond(is_png, png_size, jpeg_size)  # (height, width) from the header
        encoded = _after(self.check_size(name, size[0], size[1]), encoded)
        image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
        image.set_shape([None, None, 3])
        return image[None]

    def check_mask(self, mask, content):
        """The mask, once it has one channel, a region somewhere and the content's aspect ratio (1%)."""
        shape, content_shape = tf.shape(mask, out_type=tf.int64), tf.shape(content, out_type=tf.int64)
        ratio = (tf.cast(shape[2] * content_shape[1], tf.float64)
                 / tf.cast(shape[1] * content_shape[2], tf.float64))
        everywhere = tf.reduce_all(tf.equal(mask, 255))
        checks = [
            _assert(tf.equal(tf.size(shape), 4) & tf.equal(shape[-1], 1),
                    "expected mask of shape [1, height, width, 1]. Received: shape={}", [shape]),
            _assert(everywhere | (tf.abs(ratio - 1.0) <= ASPECT_TOLERANCE),
                    f"expected mask with the content's aspect ratio (within {ASPECT_TOLERANCE:.0%}). "
                    "Received: mask of {}x{} for content of {}x{}",
                    [shape[2], shape[1], content_shape[2], content_shape[1]]),
            _assert(has_region(mask),
                    "expected mask with a region somewhere (white or grey). Received: black everywhere", []),
        ]
        return _after(checks, mask)

    def decode_mask(self, encoded):
        """`mask_bytes` as `(1, h, w, 1)` uint8; an empty string is the default (everywhere)."""
        def decode():
            mask = self.decode(MASK_BYTES, encoded)
            return tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(mask, tf.float32))), tf.uint8)

        return tf.cond(tf.equal(tf.strings.length(encoded), 0), everywhere_mask, decode)

    def stylize(self, content, style, mask, steps, content_weight, style_weight, tv_weight, seed, init):
        checks = self.check_controls(steps, content_weight, style_weight, tv_weight, init)
        content = _after(checks, content)
        mask = self.check_mask(mask, content)
        arguments = (content, style, steps, content_weight, style_weight, tv_weight, seed)
        random_init = tf.equal(init, "random")

        def everywhere():  # the library's unmasked graph, op for op (bit-identical results)
            return self.stylizer.stylize_graph(*arguments, random_init=random_init)

        def regional():
            return self.stylizer.stylize_graph(*arguments, random_init=random_init, mask=mask)

        return tf.cond(tf.reduce_all(tf.equal(mask, 255)), everywhere, regional)

    def endpoints(self):
        """`{signature name: (function, input_signature)}`; controls have tensor defaults."""
        d = {name: tf.constant(self.defaults[name], tf_dtype(name)) for name in CONTROL_NAMES}

        def serve(content, style, mask=everywhere_mask(), steps=d[STEPS], content_weight=d[CONTENT_WEIGHT],
                  style_weight=d[STYLE_WEIGHT], tv_weight=d[TV_WEIGHT], seed=d[SEED], init=d[INIT]):
            content = self.check_image(CONTENT, content)
            style = self.check_image(STYLE, style)
            stylized, losses = self.stylize(content, style, mask, steps, content_weight, style_weight,
                                            tv_weight, seed, init)
            return {STYLIZED: stylized, LOSSES: losses}

        def serve_bytes(content_bytes, style_bytes, mask_bytes=tf.constant("", tf.string), steps=d[STEPS],
                        content_weight=d[CONTENT_WEIGHT], style_weight=d[STYLE_WEIGHT], tv_weight=d[TV_WEIGHT],
                        seed=d[SEED], init=d[INIT]):
            content = self.decode(CONTENT_BYTES, content_bytes)
            style = self.decode(STYLE_BYTES, style_bytes)
            mask = self.decode_mask(mask_bytes)
            stylized, losses = self.stylize(content, style, mask, steps, content_weight, style_weight,
                                            tv_weight, seed, init)
            return {STYLIZED_BYTES: tf.io.encode_png(stylized[0]), LOSSES: losses}

        controls = list(control_specs().values())
        # Plain functions plus input signatures: ExportArchive then keeps the tf.function itself as
        # the signature, which is what records the tensor defaults in SignatureDef.defaults.
        return {
            SERVING_DEFAULT: (serve, list(image_specs().values()) + controls),
            STYLIZE_BYTES: (serve_bytes, list(bytes_specs().values()) + controls),
        }


def export_defaults(stylizer):
    """The signature defaults taken from a Stylizer's settings."""
    settings = stylizer.settings
    init = settings.init if isinstance(settings.init, str) else None
    if init not in EXPORT_INIT_MODES:
        raise InvalidArgumentError(
            f"expected init one of {', '.join(EXPORT_INIT_MODES)} for an export. Received: init={stylizer.get_config()['init']!r}")
    return {STEPS: settings.num_steps, CONTENT_WEIGHT: settings.content_weight,
            STYLE_WEIGHT: settings.style_weight, TV_WEIGHT: settings.tv_weight,
            SEED: settings.seed, INIT: init}


def export_model(stylizer, output, version=None, max_steps=DEFAULT_MAX_STEPS,
                 max_pixels=DEFAULT_MAX_PIXELS, model_name=MODEL_NAME):
    """Write the optimization as a servable SavedModel at `<output>/<version>/`.

    Args:
        stylizer: a `Stylizer`; its backbone, layers, optimizer and learning rate are
            fixed in the export; its num_steps, weights, seed and init become the
            signature defaults. Single scale, one style per request.
        output: the model's base path (what TF Serving's `base_path` points to).
        version: integer version; default the next free one.
        max_steps, max_pixels: server-side caps on `steps` and on each image's `H*W`.
        model_name: the model name written into the warmup requests.

    Returns:
        The path of the new version folder.

    Example:
    ```python
    stylizer = Stylizer(backbone="vgg16-hed", num_steps=100)
    path = export_model(stylizer, "models/tf_nst")  # models/tf_nst/1
    ```
    """
    import keras

    defaults = _check_caps(stylizer, max_steps, max_pixels)
    final_path = version_path(output, version)
    builder = SignatureBuilder(stylizer, max_steps, max_pixels, defaults)
    archive = keras.export.ExportArchive()
    archive.track(stylizer.extractor.model)
    for name, (function, input_signature) in builder.endpoints().items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    with atomic_directory(final_path) as temporary:  # a partial export stays invisible to TF Serving
        archive.write_out(temporary, verbose=False)
        os.makedirs(os.path.join(temporary, "assets.extra"), exist_ok=True)
        warmup_side = max(builder.min_side, min(WARMUP_SIDE, int(max_pixels ** 0.5)))
        write_warmup_requests(os.path.join(temporary, WARMUP_FILE), model_name, warmup_side)
        info = {"settings": stylizer.get_config(), "max_steps": max_steps, "max_pixels": max_pixels,
                "min_side": builder.min_side, "defaults": defaults, "signatures": list(SIGNATURE_NAMES),
                "loss_names": list(stylizer.loss_names)}
        with atomic_output(os.path.join(temporary, EXPORT_INFO_FILE), mode="w") as stream:
            json.dump(info, stream, indent=1, default=str)
    return final_path


def _check_caps(stylizer, max_steps, max_pixels):
    """The signature defaults, once the caps are checked against them."""
    if not (isinstance(max_steps, int) and max_steps >= 1):
        raise InvalidArgumentError(f"expected max_steps an integer >= 1. Received: max_steps={max_steps!r}")
    if not (isinstance(max_pixels, int) and max_pixels >= stylizer.min_side ** 2):
        raise InvalidArgumentError(
            f"expected max_pixels an integer >= {stylizer.min_side ** 2}. Received: max_pixels={max_pixels!r}")
    defaults = export_defaults(stylizer)
    if defaults[STEPS] > max_steps:
        raise InvalidArgumentError(
            f"expected default steps <= max_steps={max_steps}. Received: steps={defaults[STEPS]}")
    return defaults


def warmup_requests(model_name=MODEL_NAME, side=WARMUP_SIDE):
    """One tiny `PredictRequest` per signature (one step, `side` x `side`), as a client builds them."""
    from tf_nst.serving.client import predict_request

    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    return [predict_request(image, image, model_name, signature=signature, steps=1) for signature in SIGNATURE_NAMES]


def write_warmup_requests(path, model_name=MODEL_NAME, side=WARMUP_SIDE):
    """Write `assets.extra/tf_serving_warmup_requests` (TFRecord of `PredictionLog`)."""
    from tensorflow_serving.apis import prediction_log_pb2

    with tf.io.TFRecordWriter(path) as writer:
        for request in warmup_requests(model_name, side):
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
