"""Export an arbitrary-style network (any painting in one pass) as a SavedModel for TF Serving.

The signatures keep the wire contract's names (`tf_nst.serving.contract`); the painting is the
`style`, so the one request path (`stylize PHOTO PAINTING --saved-model`, `batch --saved-model` on
Beam or Spark, the clients) serves it unchanged:

- `serving_default`: uint8 `content` `(1, H, W, 3)` and `style` `(P, h, w, 3)` (1 to
  `MAX_PAINTINGS` paintings of one size), optional `mask` `(P, h', w', 1)` (one region per
  painting; default one white pixel: every painting everywhere, blended), optional float32
  `style_weights` `(1, P)` (the blend; default empty: equal) and float32 `strength` (0: the photo
  through the decoders, 1: the full transform) -> `{"stylized": uint8 (1, H, W, 3), "losses": (1, 4) NaN}`.
- `stylize_bytes`: PNG/JPEG `content_bytes`, `style_bytes` (one string, or a vector of P: paintings
  of any sizes), optional `mask_bytes` (one string per painting; `""`: everywhere), `style_weights`,
  `strength` -> `{"stylized_bytes": PNG, "losses": ...}`.

The graph runs the library's own steps: `ArbitraryStylizer.painting_statistics` of each painting
and `ArbitraryStylizer.stylize` (the covariance's eigendecomposition in float64, as there), masks
feathered by `soft_alpha` as `tf_nst.runs.arbitrary.ArbitraryRun` feathers them; the client fits
photo and paintings to the output size (`tf_nst.serving.client.prepare_image`, the library's `fit`).
One branch per painting count (the stylizer takes a list), chosen by the request. Inputs are
checked in the graph: a painting that is not an image, smaller than `MIN_SIDE`, over `max_pixels`,
too many paintings, masks or weights that do not match them, a strength outside [0, 1] fail with
InvalidArgument before anything large runs.
"""

import types

import tensorflow as tf

from tf_nst.engine.feedforward.rendering import soft_alpha, to_uint8
from tf_nst.serving.contract import (CONTENT, CONTENT_BYTES, DEFAULT_MAX_PIXELS, LOSSES, MASK, MASK_BYTES,
                                     MAX_PAINTINGS, MODEL_NAME, SERVING_DEFAULT, SIGNATURE_NAMES, STRENGTH, STYLE,
                                     STYLE_BYTES, STYLE_WEIGHTS, STYLIZED, STYLIZED_BYTES, STYLIZE_BYTES)
from tf_nst.serving.export import SignatureBuilder, _after, _assert, everywhere_mask
from tf_nst.serving.export_files import version_path
from tf_nst.serving.feedforward_export import write_network_export
from tf_nst.settings import ARBITRARY_KIND, MIN_SIDE


class ArbitrarySignatures:
    """The endpoint functions of one `ArbitraryStylizer`, checked against `max_pixels`.

    Args:
        stylizer: the `ArbitraryStylizer` (its inverter's weights, transform and levels are exported).
        max_pixels: the largest `height * width` of the photo and of each painting.
        max_paintings: the most paintings a request may send.
        strength: the `strength` a request that sends none gets.
    """

    def __init__(self, stylizer, max_pixels, max_paintings=MAX_PAINTINGS, strength=1.0, min_side=MIN_SIDE):
        self.stylizer = stylizer
        self.checks = SignatureBuilder(types.SimpleNamespace(min_side=min_side), 1, max_pixels, {})
        self.max_paintings, self.strength = int(max_paintings), float(strength)

    def check_request(self, count, mask_count, weights, strength):
        """The request's counts, blend and strength, checked (InvalidArgument otherwise)."""
        weights = tf.reshape(weights, [-1])
        return [
            _assert((count >= 1) & (count <= self.max_paintings),
                    f"expected from 1 to {self.max_paintings} paintings. Received: {{}}", [count]),
            _assert(tf.equal(mask_count, 1) | tf.equal(mask_count, count),
                    "expected one mask per painting ({}) or none. Received: {} masks", [count, mask_count]),
            _assert(tf.equal(tf.size(weights), 0) | (tf.equal(tf.size(weights), count)
                                                     & tf.reduce_all(weights >= 0.0) & (tf.reduce_sum(weights) > 0.0)),
                    "expected style_weights none or one weight >= 0 per painting ({}), not all 0. Received: {}",
                    [count, weights]),
            _assert(tf.math.is_finite(strength) & (strength >= 0.0) & (strength <= 1.0),
                    "expected strength from 0 to 1. Received: strength={}", [strength]),
        ]

    def stylize(self, content, painting, mask, weights, strength, count, mask_count):
        """uint8 `(1, H, W, 3)`: `content` in the style of `painting(i)` for i < `count`, regions `mask(i)`."""
        content = _after(self.check_request(count, mask_count, weights, strength), content)
        everywhere = tf.equal(mask_count, 1) & tf.reduce_all(tf.equal(mask(0), 255))
        branches = [self._branch(content, painting, mask, weights, strength, everywhere, paintings)
                    for paintings in range(1, self.max_paintings + 1)]
        return tf.switch_case(tf.cast(count, tf.int32) - 1, branches)

    def _branch(self, content, painting, mask, weights, strength, everywhere, paintings):
        """The graph for `paintings` paintings: the library's `stylize` with their statistics and blend."""
        def run():
            photo = tf.cast(content[0], tf.float32)
            shape = tf.shape(content)
            statistics = [self.stylizer.painting_statistics(tf.cast(painting(index)[0], tf.float32))
                          for index in range(paintings)]
            flat = tf.reshape(weights, [-1])
            blend = tf.unstack(tf.cond(tf.equal(tf.size(flat), 0), lambda: tf.fill([paintings], 1.0 / paintings),
                                       lambda: flat / tf.reduce_sum(flat)), num=paintings)

            def blended():
                return self.stylizer.stylize(photo, statistics, strength, blend)

            def regional():
                alphas = [soft_alpha(self.checks.check_mask(mask(index), content), shape[1], shape[2])[0, ..., 0]
                          for index in range(paintings)]
                return self.stylizer.stylize(photo, statistics, strength, blend, region_weights=alphas)

            return to_uint8(tf.cond(everywhere, blended, regional))[None]

        return run

    def endpoints(self):
        """`{signature name: (function, input_signature)}` with tensor defaults."""
        no_weights = tf.zeros([1, 0], tf.float32)
        default_strength = tf.constant(self.strength, tf.float32)
        nan_losses = tf.fill([1, 4], float("nan"))

        def serve(content, style, mask=everywhere_mask(), style_weights=no_weights, strength=default_strength):
            content = self.checks.check_image(CONTENT, content)
            stylized = self.stylize(content, lambda index: self.checks.check_image(STYLE, style[index:index + 1]),
                                    lambda index: mask[index:index + 1], style_weights, strength,
                                    tf.shape(style)[0], tf.shape(mask)[0])
            return {STYLIZED: stylized, LOSSES: nan_losses}

        def serve_bytes(content_bytes, style_bytes, mask_bytes=tf.constant("", tf.string), style_weights=no_weights,
                        strength=default_strength):
            content = self.checks.decode(CONTENT_BYTES, content_bytes)
            paintings, masks = tf.reshape(style_bytes, [-1]), tf.reshape(mask_bytes, [-1])
            stylized = self.stylize(content, lambda index: self.checks.decode(STYLE_BYTES, paintings[index]),
                                    lambda index: self.checks.decode_mask(masks[index]), style_weights, strength,
                                    tf.size(paintings), tf.size(masks))
            return {STYLIZED_BYTES: tf.io.encode_png(stylized[0]), LOSSES: nan_losses}

        weights_spec = tf.TensorSpec([1, None], tf.float32, name=STYLE_WEIGHTS)
        strength_spec = tf.TensorSpec([], tf.float32, name=STRENGTH)
        return {
            SERVING_DEFAULT: (serve, [tf.TensorSpec([1, None, None, 3], tf.uint8, name=CONTENT),
                                      tf.TensorSpec([None, None, None, 3], tf.uint8, name=STYLE),
                                      tf.TensorSpec([None, None, None, 1], tf.uint8, name=MASK),
                                      weights_spec, strength_spec]),
            STYLIZE_BYTES: (serve_bytes, [tf.TensorSpec([], tf.string, name=CONTENT_BYTES),
                                          tf.TensorSpec(None, tf.string, name=STYLE_BYTES),
                                          tf.TensorSpec(None, tf.string, name=MASK_BYTES),
                                          weights_spec, strength_spec]),
        }


def export_arbitrary(stylizer, output, settings, info, version=None, max_pixels=DEFAULT_MAX_PIXELS,
                     max_paintings=MAX_PAINTINGS, strength=1.0, model_name=MODEL_NAME):
    """Write an arbitrary-style network as a servable SavedModel at `<output>/<version>/`; return that path.

    Args:
        stylizer: an `ArbitraryStylizer` (e.g. `tf_nst.runs.arbitrary.ArbitraryRun(...).stylizer`).
        output: the model's base path (TF Serving's `base_path`).
        settings: what every output of the export records besides its size and strength
            (`ArbitraryRun.model_settings()`: the network, its weights' hash, transform, levels, precision).
        info: the network folder's `model.json` (its config and provenance go into the export's info file).
        version: integer version; default the next free one.
        max_pixels: the server-side cap on the photo's and each painting's `H*W`.
        max_paintings: the most paintings one request may send (a graph branch each).
        strength: a request's default strength.
        model_name: the model name written into the warmup requests.

    Example:
    ```python
    run = ArbitraryRun("arbitrary", precision="float32")
    path = export_arbitrary(run.stylizer, "models/arbitrary", run.model_settings(), run.info)
    ```
    """
    final_path = version_path(output, version)
    endpoints = ArbitrarySignatures(stylizer, max_pixels, max_paintings, strength).endpoints()
    export_info = {"kind": ARBITRARY_KIND, "settings": dict(settings), "min_side": MIN_SIDE, "max_pixels": max_pixels,
                   "max_paintings": int(max_paintings), "strength": float(strength), "signatures": list(SIGNATURE_NAMES),
                   "model": {"config": info.get("config"), "provenance": info.get("provenance")}}
    write_network_export(stylizer.inverter, endpoints, final_path, model_name, export_info)
    return final_path
