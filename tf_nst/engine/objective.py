"""The style-transfer objective: targets, then `value_and_grad` for the optimizers.

`StyleObjective` holds what defines the loss (extractor, layer weights, loss form,
extra terms) and evaluates it either on the whole image or tile by tile
(`tile_size`): the tiled evaluation gives the same loss and gradient in memory
bounded by one tile's window (see `tf_nst.engine.tiling`).
"""

import tensorflow as tf

from tf_nst.engine import tiling
from tf_nst.errors import InvalidArgumentError
from tf_nst.engine.losses import LOSS_FORMS, gram_matrix

LOSS_NAMES = ("total", "content", "style", "tv")


class StyleObjective:
    """Content + style + total-variation loss (plus extra terms) and its gradient.

    Args:
        extractor: a `FeatureExtractor` built for every layer read below.
        content_layers: `{layer_name: weight}` of the content loss.
        style_layers: `{layer_name: weight}` of the style loss.
        loss_form: a key of `losses.LOSS_FORMS`: `"normalized"`, `"tf-tutorial"`, `"jcjohnson"`.
        extra_loss_terms: `LossTerm` instances. With tiling, only terms that read the image
            alone (empty `layer_names`) are allowed: they are evaluated on the whole image.
        tile_size: `None` evaluates the whole image at once; an int evaluates it in tiles of
            that side (px, a multiple of the backbone's pooling grid), with the same result.
        halo: pixels of context around each tile; default `tiling.default_halo(extractor)`
            (the receptive-field radius on the pooling grid: 80 px for VGG up to block5).

    Returns:
        `value_and_grad(targets, ...)` returns `fn(x) -> (total, parts, grad)`, the function
        the optimizers (`tf_nst.engine.optimizers`) call once per step.

    Example:
    ```python
    extractor = FeatureExtractor(["block4_conv2", "block1_conv1", "block3_conv1"],
                                 backbone="vgg16-hed")
    objective = StyleObjective(extractor, {"block4_conv2": 1.0},
                               {"block1_conv1": 1.0, "block3_conv1": 1.0}, tile_size=512)
    targets = objective.compute_targets(content, [style], tf.ones([1]))
    total, parts, grad = objective.value_and_grad(targets, 1.0, 10.0, 1.0)(content)
    ```
    """

    def __init__(self, extractor, content_layers, style_layers, loss_form="normalized",
                 extra_loss_terms=(), tile_size=None, halo=None):
        if loss_form not in LOSS_FORMS:
            raise InvalidArgumentError(
                f"expected loss_form one of {', '.join(LOSS_FORMS)}. Received: loss_form={loss_form!r}")
        self.extractor = extractor
        self.content_layers = dict(content_layers)
        self.style_layers = dict(style_layers)
        self.loss_form = loss_form
        self.extra_loss_terms = list(extra_loss_terms)
        self.tile_size = tile_size
        self.halo = None
        if tile_size is not None:
            self.tile_size, self.halo = tiling.check_tile_size(extractor, tile_size, halo)
            reading = [term.name for term in self.extra_loss_terms if term.layer_names]
            if reading:
                raise InvalidArgumentError(
                    "expected extra loss terms that read only the image (empty layer_names) when "
                    f"tiling. Received: terms reading features: {', '.join(reading)} with "
                    f"tile_size={tile_size}")
            # Refuse a form without a per-position content split now, not at trace time.
            tiling.content_denominator(LOSS_FORMS[loss_form]["content"], tf.ones([1]))
            self._strides = tiling.feature_strides(extractor)

    @property
    def loss_names(self):
        """Names of the `parts` vector: total, content, style, tv, then the extra terms."""
        return LOSS_NAMES + tuple(term.name for term in self.extra_loss_terms)

    def tile_count(self, height, width):
        """Tiles one evaluation of a `height x width` image visits (1 when untiled)."""
        if self.tile_size is None:
            return 1
        rows, columns = tiling.tile_grid(height, width, self.tile_size)
        return rows * columns

    # --- targets ----------------------------------------------------------------------------

    def content_targets(self, content):
        """`{layer: features}` of the content image `(1, H, W, 3)` float 0-255."""
        if self.tile_size is not None:
            # bf16 features stored as bf16: lossless, half the image-sized memory.
            dtype = tf.bfloat16 if self.extractor.precision == "bfloat16" else tf.float32
            return tiling.tiled_features(self.extractor, content, list(self.content_layers),
                                         self.tile_size, self.halo, dtype=dtype)
        content_features = self.extractor(content)
        return {name: content_features[name] for name in self.content_layers}

    def style_grams(self, style):
        """`{layer: (1, C, C) Gram}` of one style image `(1, h, w, 3)` float 0-255 (cacheable per style)."""
        if self.tile_size is not None:
            return tiling.tiled_grams(self.extractor, style, list(self.style_layers), self.tile_size, self.halo)
        style_features = self.extractor(style)
        return {name: gram_matrix(style_features[name]) for name in self.style_layers}

    def compute_targets(self, content, styles, blend_weights):
        """Content features and blended style Grams, computed once per run.

        Args:
            content: `(1, H, W, 3)` float 0-255.
            styles: list of `(1, h, w, 3)` float 0-255 (sizes may differ).
            blend_weights: `(len(styles),)` float, summing to 1.

        Returns:
            `{"content": {layer: features}, "style": {layer: Gram}}`.
        """
        targets = {"content": self.content_targets(content)}
        targets["style"] = self.blend([self.style_grams(style) for style in styles], blend_weights)
        return targets

    def blend(self, style_grams, blend_weights):
        """`Σ_i w_i · Grams_i` per style layer: the style target of several styles."""
        grams = {name: 0.0 for name in self.style_layers}
        for index, one_style in enumerate(style_grams):
            for name in self.style_layers:
                grams[name] = grams[name] + blend_weights[index] * one_style[name]
        return grams

    # --- loss and gradient ------------------------------------------------------------------

    def _scales(self, form):
        content_scale = sum(self.content_layers.values()) if form["layers"] == "mean" else 1.0
        style_scale = sum(self.style_layers.values()) if form["layers"] == "mean" else 1.0
        return content_scale, style_scale

    def value_and_grad(self, targets, content_weight, style_weight, tv_weight):
        """Return `fn(x) -> (total, parts, grad)` for the optimizers.

        Args:
            targets: output of `compute_targets`.
            content_weight, style_weight, tv_weight: float scalars (Python or tensors).

        Returns:
            A function of the image `x` `(1, H, W, 3)` float 0-255 returning the scalar total,
            `parts = tf.stack([total, content, style, tv, *extras])` and the gradient (shape of `x`).
        """
        if self.tile_size is not None:
            return self._tiled_value_and_grad(targets, content_weight, style_weight, tv_weight)
        form = LOSS_FORMS[self.loss_form]
        content_scale, style_scale = self._scales(form)

        # Op for op the Stylizer's original objective: served results are bit-identical to the
        # library's only while both trace the same graph.
        def value_and_grad(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                features = self.extractor(x)
                content = tf.add_n([
                    (weight / content_scale) * form["content"](features[name], targets["content"][name])
                    for name, weight in self.content_layers.items()])
                style = tf.add_n([
                    (weight / style_scale) * form["style"](gram_matrix(features[name]), targets["style"][name])
                    for name, weight in self.style_layers.items()])
                tv = form["tv"](x)
                extras = [term(x, features) for term in self.extra_loss_terms]
                total = content_weight * content + style_weight * style + tv_weight * tv
                for extra in extras:
                    total = total + extra
            grad = tape.gradient(total, x)
            return total, tf.stack([total, content, style, tv] + extras), grad

        return value_and_grad

    def _tiled_value_and_grad(self, targets, content_weight, style_weight, tv_weight):
        form = LOSS_FORMS[self.loss_form]
        content_scale, style_scale = self._scales(form)
        extractor, strides = self.extractor, self._strides
        content_targets, style_targets = targets["content"], targets["style"]
        # Outside the returned function: inside the optimizer's loop these are computed once.
        denominators = {name: tiling.content_denominator(form["content"], content_targets[name])
                        for name in self.content_layers}
        channels = {name: extractor.model.get_layer(name).output.shape[-1] for name in self.style_layers}

        def content_part(features, tile):
            """This tile's share of the weighted content loss (before `content_weight`)."""
            return tf.add_n([
                (weight / content_scale) * tf.reduce_sum(tf.square(
                    tiling.core_features(features[name], tile, strides[name])
                    - tf.cast(tiling.core_target(content_targets[name], tile, strides[name]), tf.float32)))
                / denominators[name]
                for name, weight in self.content_layers.items()])

        @tf.autograph.experimental.do_not_convert  # plain TF ops (see tiling._no_autograph)
        def value_and_grad(x):
            x = tf.convert_to_tensor(x, tf.float32)

            # Pass 1, forward only: global Gram sums and content error.
            def accumulate(tile, state):
                sums, counts, content = dict(state[0]), dict(state[1]), state[2]
                features = extractor(tiling.window(x, tile))
                for name in self.style_layers:
                    flat = tf.reshape(tiling.core_features(features[name], tile, strides[name]),
                                      [-1, channels[name]])
                    sums[name] += tf.matmul(flat, flat, transpose_a=True)
                    counts[name] += tf.shape(flat)[0]
                return sums, counts, content + content_part(features, tile)

            initial = ({name: tf.zeros([size, size]) for name, size in channels.items()},
                       {name: tf.constant(0) for name in self.style_layers}, tf.constant(0.0))
            sums, counts, content = tiling.for_each_tile(x, self.tile_size, self.halo, accumulate, initial)
            positions = {name: tf.cast(counts[name], tf.float32) for name in self.style_layers}
            grams = {name: (sums[name] / positions[name])[None] for name in self.style_layers}

            # The loss as a function of the global Grams; its derivative drives pass 2.
            with tf.GradientTape() as gram_tape:
                gram_tape.watch(grams)
                style = tf.add_n([
                    (weight / style_scale) * form["style"](grams[name], style_targets[name])
                    for name, weight in self.style_layers.items()])
                weighted_style = style_weight * style
            gram_grads = gram_tape.gradient(weighted_style, grams)

            # Image-level terms are cheap: whole image, untiled.
            with tf.GradientTape() as image_tape:
                image_tape.watch(x)
                tv = form["tv"](x)
                extras = [term(x, {}) for term in self.extra_loss_terms]
                image_terms = tv_weight * tv
                for extra in extras:
                    image_terms = image_terms + extra
            image_grad = image_tape.gradient(image_terms, x)

            # Pass 2: each window's gradient of its share of the loss, at fixed global Grams.
            def backpropagate(tile, grad):
                tile_x = tiling.window(x, tile)
                with tf.GradientTape() as tape:
                    tape.watch(tile_x)
                    features = extractor(tile_x)
                    share = content_weight * content_part(features, tile)
                    for name in self.style_layers:
                        flat = tf.reshape(tiling.core_features(features[name], tile, strides[name]),
                                          [-1, channels[name]])
                        share += tf.reduce_sum(
                            gram_grads[name][0] * tf.matmul(flat, flat, transpose_a=True)) / positions[name]
                tile_grad = tape.gradient(share, tile_x)
                # Added into the window in place (the accumulator is the loop's alone): padding
                # the tile's gradient to the image and adding would allocate two image-sized
                # tensors and sweep the whole image once per tile.
                begin, end = [0, tile.top, tile.left, 0], [1, tile.bottom, tile.right, 3]
                return tf.raw_ops.TensorStridedSliceUpdate(
                    input=grad, begin=tf.stack(begin), end=tf.stack(end), strides=[1, 1, 1, 1],
                    value=tiling.window(grad, tile) + tile_grad)

            grad = tiling.for_each_tile(x, self.tile_size, self.halo, backpropagate, image_grad)
            total = content_weight * content + style_weight * style + tv_weight * tv
            for extra in extras:
                total = total + extra
            return total, tf.stack([total, content, style, tv] + extras), grad

        return value_and_grad
