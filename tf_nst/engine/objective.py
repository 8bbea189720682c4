"""The style-transfer objective: targets, then `value_and_grad` for the optimizers.

`StyleObjective` holds what defines the loss (extractor, layer weights, loss form, style
statistic, extra terms) and evaluates it either on the whole image or tile by tile
(`tile_size`): the tiled evaluation (`tf_nst.engine.tiled`) gives the same loss and gradient
in memory bounded by one tile's window (see `tf_nst.engine.tiling`).

Targets are a dict: `"content"` `{layer: features}`, `"style"` `{layer: statistic target}`
and, for a run with region masks, `"masks"` `{layer: (1, h, w, R)}` (`tf_nst.engine.masks`)
and `"region_weights"` `(R,)` (each style's `style_blend` weight). Without masks several
styles blend into one target; with masks style `r` is matched in region `r` only.
"""

import tensorflow as tf

from tf_nst.engine import masks as masks_module
from tf_nst.engine import statistics, tiled, tiling
from tf_nst.engine.losses import LOSS_FORM_TERMS, gram_matrix, total_loss
from tf_nst.errors import InvalidArgumentError

LOSS_NAMES = ("total", "content", "style", "tv")


class StyleObjective:
    """Content + style + total-variation loss (plus extra terms) and its gradient.

    Args:
        extractor: a `FeatureExtractor` built for every layer read below.
        content_layers: `{layer_name: weight}` of the content loss.
        style_layers: `{layer_name: weight}` of the style loss.
        loss_form: a key of `losses.LOSS_FORM_TERMS`: `"normalized"`, `"tf-tutorial"`, `"jcjohnson"`.
        extra_loss_terms: `LossTerm` instances. With tiling, only terms that read the image
            alone (empty `layer_names`) are allowed: they are evaluated on the whole image.
        tile_size: `None` evaluates the whole image at once; an int evaluates it in tiles of
            that side (px, a multiple of the backbone's pooling grid), with the same result.
        halo: pixels of context around each tile; default `tiling.default_halo(extractor)`
            (the receptive-field radius on the pooling grid: 80 px for VGG up to block5).
        style_statistic: `"gram"` or `"mean-cov"` (`tf_nst.engine.statistics`; mean-cov with
            the normalized loss form only).
        erode_masks: erode region masks by each layer's receptive field (`masks.layer_masks`;
            default on: it keeps the style from bleeding across a region's boundary).

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
    # Style 0 on the left half, style 1 on the right half, each at its own statistics:
    halves = tf.concat([tf.ones([1, 256, 128, 1]), tf.zeros([1, 256, 128, 1])], 2)
    targets = objective.compute_targets(content, [style, other], tf.constant([0.5, 0.5]),
                                        region_masks=tf.concat([halves, 1.0 - halves], -1))
    ```
    """

    def __init__(self, extractor, content_layers, style_layers, loss_form="normalized",
                 extra_loss_terms=(), tile_size=None, halo=None, style_statistic="gram",
                 erode_masks=masks_module.ERODE_BY_DEFAULT):
        if loss_form not in LOSS_FORM_TERMS:
            raise InvalidArgumentError(
                f"expected loss_form one of {', '.join(LOSS_FORM_TERMS)}. Received: loss_form={loss_form!r}")
        self.statistic = statistics.get_statistic(style_statistic)
        if style_statistic != "gram" and loss_form != "normalized":
            raise InvalidArgumentError(
                f"expected loss_form='normalized' with style_statistic={style_statistic!r} (the other forms "
                f"define Gram errors only). Received: loss_form={loss_form!r}")
        self.extractor = extractor
        self.content_layers = dict(content_layers)
        self.style_layers = dict(style_layers)
        self.loss_form = loss_form
        self.style_statistic = style_statistic
        self.erode_masks = bool(erode_masks)
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
            tiling.content_denominator(LOSS_FORM_TERMS[loss_form]["content"], tf.ones([1]))

    @property
    def loss_names(self):
        """Names of the `parts` vector: total, content, style, tv, then the extra terms."""
        return LOSS_NAMES + tuple(term.name for term in self.extra_loss_terms)

    @property
    def strides(self):
        """`{layer: downsampling factor}` of the extractor's layers (`tiling.feature_strides`)."""
        return tiling.feature_strides(self.extractor)

    def channels(self, name):
        """Channels of a layer's features."""
        return self.extractor.model.get_layer(name).output.shape[-1]

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

    def style_statistics(self, style, style_mask=None):
        """`{layer: moments}` of one style image, optionally restricted to `style_mask` (cacheable).

        Args:
            style: `(1, h, w, 3)` float 0-255.
            style_mask: `None` or `(1, h, w, 1)` float in [0, 1] at the style's size: the part
                of the painting whose statistics are the target.

        Returns:
            Gram: `{layer: (1, C, C)}` (as `style_grams`); mean-cov: `{layer: {"mean": (1, C),
            "second": (1, C, C)}}`. Both blend linearly between styles (`blend`).
        """
        if self.statistic.name == "gram" and style_mask is None:
            return self.style_grams(style)
        weights = None if style_mask is None else self.layer_masks(style_mask)
        if self.tile_size is not None:
            sums = tiled.tiled_sums(self, style, weights)
        else:
            sums = tiled.untiled_sums(self, self.extractor(style), weights)
        return {name: self.statistic.moments(sums[name]) for name in self.style_layers}

    def layer_masks(self, masks):
        """`{style layer: (1, h, w, R)}` of `(1, H, W, R)` masks at the image's size."""
        strides = self.strides
        strides = {name: strides[name] for name in self.style_layers}
        radii = tiling.receptive_field_radii(self.extractor) if self.erode_masks else None
        return masks_module.layer_masks(masks, strides, radii)

    def compute_targets(self, content, styles, blend_weights, region_masks=None, style_image_masks=None, masks=None,
                        style_masks=None):
        """Content features and style targets, computed once per run.

        Args:
            content: `(1, H, W, 3)` float 0-255.
            styles: list of `(1, h, w, 3)` float 0-255 (sizes may differ).
            blend_weights: `(len(styles),)` float, summing to 1.
            region_masks: `None` (every style everywhere, blended), or `(1, H, W, len(styles))` float
                in [0, 1] at the content's size: style `r`'s region is channel `r`.
            style_image_masks: `None` or a list with one `(1, h, w, 1)` mask or `None` per style.
            masks, style_masks: old names of `region_masks`, `style_image_masks` (deprecated).

        Returns:
            `{"content": {layer: features}, "style": {layer: target}}`, plus `"masks"` and
            `"region_weights"` with masks.
        """
        region_masks = masks_module.renamed(region_masks, masks, "region_masks", "masks")
        style_image_masks = masks_module.renamed(style_image_masks, style_masks, "style_image_masks", "style_masks")
        content_targets = self.content_targets(content)
        style_image_masks = [None] * len(styles) if style_image_masks is None else style_image_masks
        moments = [self.style_statistics(style, mask) for style, mask in zip(styles, style_image_masks)]
        return self.assemble_targets(content_targets, moments, blend_weights, region_masks)

    def assemble_targets(self, content_targets, style_moments, blend_weights, region_masks=None):
        """Targets from content features and each style's moments (`style_statistics`), as
        `compute_targets` returns them: blended without region masks, one region per style with."""
        targets = {"content": content_targets}
        if region_masks is None:
            targets["style"] = self.style_targets(self.blend(style_moments, blend_weights))
        else:
            targets["style"] = self.style_targets(self.stack(style_moments))
            targets["masks"] = self.layer_masks(region_masks)
            targets["region_weights"] = tf.cast(blend_weights, tf.float32)
        return targets

    def blend(self, style_moments, blend_weights):
        """`Σ_i w_i · moments_i` per style layer: the style target of several styles."""
        blended = {name: 0.0 for name in self.style_layers}
        for index, one_style in enumerate(style_moments):
            weight = blend_weights[index]
            for name in self.style_layers:
                if index == 0:
                    blended[name] = tf.nest.map_structure(lambda value, weight=weight: 0.0 + weight * value, one_style[name])
                else:
                    blended[name] = tf.nest.map_structure(lambda total, value, weight=weight: total + weight * value,
                                                          blended[name], one_style[name])
        return blended

    def stack(self, style_moments):
        """Each style's moments as one region per style (axis 0), for masked runs."""
        return {name: tf.nest.map_structure(lambda *values: tf.concat(values, 0),
                                            *[one_style[name] for one_style in style_moments])
                for name in self.style_layers}

    def style_targets(self, moments):
        """`{layer: target}` of blended or stacked moments (the Gram is its own target)."""
        return {name: self.statistic.target(moments[name]) for name in self.style_layers}

    # --- loss and gradient ------------------------------------------------------------------

    def layer_scales(self):
        """`(content, style)` divisors of the layer sums: the weights' sums for a "mean" form."""
        form = LOSS_FORM_TERMS[self.loss_form]
        content_scale = sum(self.content_layers.values()) if form["layers"] == "mean" else 1.0
        style_scale = sum(self.style_layers.values()) if form["layers"] == "mean" else 1.0
        return content_scale, style_scale

    def style_loss_from_sums(self, sums, targets):
        """The weighted style loss from `{layer: position sums}` (`statistics.position_sums`).

        Each region's loss is scaled by its style's blend weight; unmasked, the one region's.
        """
        form = LOSS_FORM_TERMS[self.loss_form]
        _, style_scale = self.layer_scales()
        region_weights = targets.get("region_weights")
        parts = []
        for name, weight in self.style_layers.items():
            losses = self.statistic.region_losses(sums[name], targets["style"][name], form["style"])
            loss = losses[0] if region_weights is None else tf.reduce_sum(region_weights * losses)
            parts.append((weight / style_scale) * loss)
        return tf.add_n(parts)

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
            return tiled.tiled_value_and_grad(self, targets, content_weight, style_weight, tv_weight)
        form = LOSS_FORM_TERMS[self.loss_form]
        content_scale, style_scale = self.layer_scales()
        if self.statistic.name == "gram" and "masks" not in targets:
            def style_part(features):
                return tf.add_n([
                    (weight / style_scale) * form["style"](gram_matrix(features[name]), targets["style"][name])
                    for name, weight in self.style_layers.items()])
        else:
            def style_part(features):
                return self.style_loss_from_sums(tiled.untiled_sums(self, features, targets.get("masks")), targets)

        # Unmasked Gram: op for op the Stylizer's original objective; served results are
        # bit-identical to the library's only while both trace the same graph.
        def value_and_grad(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                features = self.extractor(x)
                content = tf.add_n([
                    (weight / content_scale) * form["content"](features[name], targets["content"][name])
                    for name, weight in self.content_layers.items()])
                style = style_part(features)
                tv = form["tv"](x)
                extras = [term(x, features) for term in self.extra_loss_terms]
                total, parts = total_loss(content, style, tv, extras, content_weight, style_weight, tv_weight)
            grad = tape.gradient(total, x)
            return total, parts, grad

        return value_and_grad
