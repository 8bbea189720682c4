"""Export a trained feed-forward network as a SavedModel for TF Serving, on the same wire contract.

The signatures keep the optimization export's names (`tf_nst.serving.contract`), so the one
request path (`cli.py request`, `stylize --saved-model`, `batch --saved-model`, the clients)
serves either export unchanged:

- `serving_default`: uint8 `content` `(1, H, W, 3)`, optional `mask` `(1, h, w, 1)` (the style
  where white, the photo where black, edges feathered as `stylize --model --region-mask` does) and optional float32 `style_weights` `(1, num_styles)`
  (default: the model's first style) -> `{"stylized": uint8 (1, H, W, 3), "losses": (1, 4) NaN}`.
- `stylize_bytes`: PNG/JPEG `content_bytes`, optional `mask_bytes`, `style_weights` ->
  `{"stylized_bytes": PNG, "losses": ...}`.

`style` / `style_bytes` are accepted and ignored (the styles are in the network), so a client
that always sends a style image works as it is; `losses` is one row of NaN (no optimization ran).
Inputs are checked in the graph against the export's `max_pixels` as in the optimization's export.
"""

import json
import os
import types

import keras
import numpy as np
import tensorflow as tf

from tf_nst.engine.feedforward.model_files import stroke_size as model_stroke_size
from tf_nst.engine.feedforward.rendering import (composite, soft_alpha, stroke_scaled, to_uint8, with_margin,
                                                 without_margin)
from tf_nst.io.atomic import atomic_directory, atomic_output
from tf_nst.serving.contract import (CONTENT, CONTENT_BYTES, DEFAULT_MAX_PIXELS, EXPORT_INFO_FILE, FEEDFORWARD_KIND,
                                     LOSSES, MASK,
                                     MASK_BYTES, MODEL_NAME, SERVING_DEFAULT, SIGNATURE_NAMES, STYLE, STYLE_BYTES,
                                     STYLE_WEIGHTS, STYLIZED, STYLIZED_BYTES, STYLIZE_BYTES, WARMUP_FILE,
                                     WARMUP_SIDE)
from tf_nst.serving.export import SignatureBuilder, everywhere_mask
from tf_nst.serving.export_files import version_path
from tf_nst.settings import MIN_SIDE


class FeedForwardSignatures:
    """The endpoint functions of one network, checked against `max_pixels`; photos larger than `stroke_size`
    render at the stroke scale (`stroke_scaled`, as `FeedForward(stroke_size=...)`)."""

    def __init__(self, network, max_pixels, min_side=MIN_SIDE, stroke_size=0):
        self.network = network
        self.stroke_size = int(stroke_size or 0)
        self.checks = SignatureBuilder(types.SimpleNamespace(min_side=min_side), 1, max_pixels, {})
        self.default_weights = np.eye(network.num_styles, dtype=np.float32)[:1]

    def stylize(self, content, mask, style_weights):
        """uint8 stylized content, the style blended with the photo by the mask.

        The library's steps (`tf_nst.engine.feedforward.rendering`): at the stroke scale (`stroke_scaled`), the
        photo with its reflect margin through the network, the margin cropped off (`with_margin`,
        `without_margin`); a mask white everywhere is no
        mask (the network's output rounded, as `FeedForward.stylize` without regions); any other is
        feathered by `soft_alpha` and mixed by `composite`."""
        mask = self.checks.check_mask(mask, content)
        weights = tf.cast(style_weights, tf.float32)
        weights = weights / tf.maximum(tf.reduce_sum(weights, -1, keepdims=True), 1e-6)
        photo = tf.cast(content, tf.float32)
        shape = tf.shape(content)

        def network_pass(image):
            padded, margin = with_margin(image)
            rendered = self.network({"image": padded, "style_weights": weights})
            return without_margin(rendered, margin, tf.shape(image)[1], tf.shape(image)[2])

        stylized = stroke_scaled(network_pass, photo, self.stroke_size)

        def masked():
            return composite(photo, [stylized], [soft_alpha(mask, shape[1], shape[2])])

        return to_uint8(tf.cond(tf.reduce_all(tf.equal(mask, 255)), lambda: stylized, masked))

    def endpoints(self):
        """`{signature name: (function, input_signature)}` with tensor defaults."""
        styles = self.network.num_styles
        default_weights = tf.constant(self.default_weights)
        no_style = tf.zeros([1, 1, 1, 3], tf.uint8)
        nan_losses = tf.fill([1, 4], float("nan"))

        def serve(content, style=no_style, mask=everywhere_mask(), style_weights=default_weights):
            content = self.checks.check_image(CONTENT, content)
            return {STYLIZED: self.stylize(content, mask, style_weights), LOSSES: nan_losses}

        def serve_bytes(content_bytes, style_bytes=tf.constant("", tf.string),
                        mask_bytes=tf.constant("", tf.string), style_weights=default_weights):
            content = self.checks.decode(CONTENT_BYTES, content_bytes)
            stylized = self.stylize(content, self.checks.decode_mask(mask_bytes), style_weights)
            return {STYLIZED_BYTES: tf.io.encode_png(stylized[0]), LOSSES: nan_losses}

        weights_spec = tf.TensorSpec([1, styles], tf.float32, name=STYLE_WEIGHTS)
        return {
            SERVING_DEFAULT: (serve, [tf.TensorSpec([1, None, None, 3], tf.uint8, name=CONTENT),
                                      tf.TensorSpec([1, None, None, 3], tf.uint8, name=STYLE),
                                      tf.TensorSpec([1, None, None, 1], tf.uint8, name=MASK), weights_spec]),
            STYLIZE_BYTES: (serve_bytes, [tf.TensorSpec([], tf.string, name=CONTENT_BYTES),
                                          tf.TensorSpec([], tf.string, name=STYLE_BYTES),
                                          tf.TensorSpec([], tf.string, name=MASK_BYTES), weights_spec]),
        }


def export_network(network, output, info, version=None, max_pixels=DEFAULT_MAX_PIXELS, model_name=MODEL_NAME,
                   stroke_size=None):
    """Write a trained network as a servable SavedModel at `<output>/<version>/`; return that path.

    Args:
        network: a float32 `TransformerNet` (e.g. `load_model(folder, dtype="float32")`).
        output: the model's base path (TF Serving's `base_path`).
        info: the model folder's `model.json` (its provenance goes into the export's info file).
        version: integer version; default the next free one.
        max_pixels: the server-side cap on the content's `H*W`.
        model_name: the model name written into the warmup requests.
        stroke_size: photos larger than this render at the stroke scale (`FeedForward`'s); `None`: the
            model's own (`model_files.stroke_size(info)`); 0: every photo at its own size.
    """
    final_path = version_path(output, version)
    stroke_size = model_stroke_size(info) if stroke_size is None else int(stroke_size)
    export_info = {"kind": FEEDFORWARD_KIND, "style_names": list(network.style_names), "min_side": MIN_SIDE,
                   "max_pixels": max_pixels, "signatures": list(SIGNATURE_NAMES), "stroke_size": stroke_size,
                   "model": {"config": info.get("config"), "provenance": info.get("provenance")}}
    signatures = FeedForwardSignatures(network, max_pixels, stroke_size=stroke_size)
    write_network_export(network, signatures.endpoints(), final_path, model_name, export_info)
    return final_path


def write_network_export(tracked, endpoints, final_path, model_name, export_info):
    """A network's SavedModel at `final_path`, atomically: its endpoints, the warmup requests, the info file.

    Args:
        tracked: the Keras object whose variables the endpoints read.
        endpoints: `{signature name: (function, input_signature)}`.
        final_path: the version folder (`version_path`).
        model_name: the model name written into the warmup requests.
        export_info: what `EXPORT_INFO_FILE` holds (its "kind" tells the request path which export it is).
    """
    archive = keras.export.ExportArchive()
    archive.track(tracked)
    for name, (function, input_signature) in endpoints.items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    with atomic_directory(final_path) as temporary:
        archive.write_out(temporary, verbose=False)
        os.makedirs(os.path.join(temporary, "assets.extra"), exist_ok=True)
        write_warmup(os.path.join(temporary, WARMUP_FILE), model_name, max(MIN_SIDE, WARMUP_SIDE))
        with atomic_output(os.path.join(temporary, EXPORT_INFO_FILE), mode="w") as stream:
            json.dump(export_info, stream, indent=1, default=str)


def write_warmup(path, model_name, side):
    """One small request per signature, as the clients build them (no controls: this export has none)."""
    from tensorflow_serving.apis import prediction_log_pb2

    from tf_nst.serving.client import predict_request

    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    with tf.io.TFRecordWriter(path) as writer:
        for signature in SIGNATURE_NAMES:
            request = predict_request(image, image, model_name, signature=signature)
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
