"""The exact two-pass tiled evaluation of a `StyleObjective`, for any style statistic and masks.

Every style statistic is a function of sums over feature positions (`statistics.position_sums`,
weighted by the region masks carried to each layer), so (see `tf_nst.engine.tiling`):

1. forward only, tile by tile: each tile's *core* positions are added into the global sums
   (and the content error); the style loss is a function of those small tensors and
   `∂L/∂sums` comes from a tape on them;
2. each tile again, under a tape: `Σ_l Σ_k ⟨∂L/∂S_{l,k}, S_{l,k}(tile core)⟩` plus the tile's
   content part is differentiated with respect to the tile's window, and that window
   gradient (halo included) is added into the full gradient.

Masks are image-sized constants (one channel per region): each tile reads its core cells of
the layer masks, so masked tiled evaluations stay exact too.
"""

import tensorflow as tf

from tf_nst.engine import tiling
from tf_nst.engine.losses import LOSS_FORM_TERMS, total_loss
from tf_nst.engine.statistics import position_sums

_no_autograph = tf.autograph.experimental.do_not_convert  # plain TF ops (see tiling._no_autograph)


def _region_count(masks):
    return 1 if masks is None else next(iter(masks.values())).shape[-1]


def zero_sums(objective, regions):
    """`{layer: sums}` of zeros: the start of an accumulation over tiles."""
    sums = {}
    for name in objective.style_layers:
        channels = objective.channels(name)
        sums[name] = {"count": tf.zeros([regions]), "second": tf.zeros([regions, channels, channels])}
        if objective.statistic.with_first:
            sums[name]["first"] = tf.zeros([regions, channels])
    return sums


def untiled_sums(objective, features, masks=None):
    """`{style layer: position sums}` of whole-image features, weighted by layer masks if given."""
    sums = {}
    for name in objective.style_layers:
        weights = None if masks is None else tf.reshape(masks[name], [-1, masks[name].shape[-1]])
        flat = tf.reshape(features[name], [-1, features[name].shape[-1]])
        sums[name] = position_sums(flat, weights, objective.statistic.with_first)
    return sums


def core_sums(objective, features, tile, masks=None):
    """`{style layer: position sums}` of a tile's core positions of its window features."""
    strides = objective.strides
    sums = {}
    for name in objective.style_layers:
        core = tiling.core_features(features[name], tile, strides[name])
        weights = None
        if masks is not None:
            weights = tf.reshape(tiling.core_target(masks[name], tile, strides[name]), [-1, masks[name].shape[-1]])
        sums[name] = position_sums(tf.reshape(core, [-1, core.shape[-1]]), weights,
                                   objective.statistic.with_first)
    return sums


def _add(total, part):
    return tf.nest.map_structure(tf.add, total, part)


@_no_autograph
def tiled_sums(objective, image, masks=None):
    """`{style layer: position sums}` of an image `(1, H, W, 3)` accumulated tile by tile."""
    image = tf.cast(image, tf.float32)

    def body(tile, sums):
        features = objective.extractor(tiling.window(image, tile))
        return _add(sums, core_sums(objective, features, tile, masks))

    return tiling.for_each_tile(image, objective.tile_size, objective.halo, body,
                                zero_sums(objective, _region_count(masks)))


def _content_part_function(objective, content_targets):
    """`fn(features, tile)`: a tile's share of the weighted content loss (before `content_weight`)."""
    form = LOSS_FORM_TERMS[objective.loss_form]
    content_scale, _ = objective.layer_scales()
    strides = objective.strides
    # Outside the returned function: inside the optimizer's loop these are computed once.
    denominators = {name: tiling.content_denominator(form["content"], content_targets[name])
                    for name in objective.content_layers}

    def content_part(features, tile):
        return tf.add_n([
            (weight / content_scale) * tf.reduce_sum(tf.square(
                tiling.core_features(features[name], tile, strides[name])
                - tf.cast(tiling.core_target(content_targets[name], tile, strides[name]), tf.float32)))
            / denominators[name]
            for name, weight in objective.content_layers.items()])

    return content_part


def _image_terms(objective, x, tv_weight):
    """TV and image-only extra terms, cheap enough for the whole image: `(grad, tv, extras)`."""
    form = LOSS_FORM_TERMS[objective.loss_form]
    with tf.GradientTape() as image_tape:
        image_tape.watch(x)
        tv = form["tv"](x)
        extras = [term(x, {}) for term in objective.extra_loss_terms]
        image_terms = tv_weight * tv
        for extra in extras:
            image_terms = image_terms + extra
    return image_tape.gradient(image_terms, x), tv, extras


def _sums_product(sum_grads, sums):
    """`Σ_l Σ_k ⟨∂L/∂S_{l,k}, S_{l,k}⟩` over the sums that depend on the image (not `count`)."""
    return tf.add_n([tf.reduce_sum(sum_grads[name][key] * sums[name][key])
                     for name in sums for key in sums[name]
                     if key != "count" and sum_grads[name][key] is not None])


def tiled_value_and_grad(objective, targets, content_weight, style_weight, tv_weight):
    """`StyleObjective.value_and_grad` tile by tile: the same `fn(x) -> (total, parts, grad)`."""
    extractor, masks = objective.extractor, targets.get("masks")
    content_part = _content_part_function(objective, targets["content"])

    @_no_autograph
    def value_and_grad(x):
        x = tf.convert_to_tensor(x, tf.float32)

        # Pass 1, forward only: global sums and content error.
        def accumulate(tile, state):
            features = extractor(tiling.window(x, tile))
            return (_add(state[0], core_sums(objective, features, tile, masks)),
                    state[1] + content_part(features, tile))

        initial = (zero_sums(objective, _region_count(masks)), tf.constant(0.0))
        sums, content = tiling.for_each_tile(x, objective.tile_size, objective.halo, accumulate, initial)

        # The loss as a function of the global sums; its derivative drives pass 2.
        with tf.GradientTape() as sums_tape:
            sums_tape.watch(sums)
            style = objective.style_loss_from_sums(sums, targets)
            weighted_style = style_weight * style
        sum_grads = sums_tape.gradient(weighted_style, sums)
        image_grad, tv, extras = _image_terms(objective, x, tv_weight)

        # Pass 2: each window's gradient of its share of the loss, at fixed global sums.
        def backpropagate(tile, grad):
            tile_x = tiling.window(x, tile)
            with tf.GradientTape() as tape:
                tape.watch(tile_x)
                features = extractor(tile_x)
                share = content_weight * content_part(features, tile)
                share += _sums_product(sum_grads, core_sums(objective, features, tile, masks))
            tile_grad = tape.gradient(share, tile_x)
            # Added into the window in place (the accumulator is the loop's alone): padding
            # the tile's gradient to the image and adding would allocate two image-sized
            # tensors and sweep the whole image once per tile.
            begin, end = [0, tile.top, tile.left, 0], [1, tile.bottom, tile.right, 3]
            return tf.raw_ops.TensorStridedSliceUpdate(
                input=grad, begin=tf.stack(begin), end=tf.stack(end), strides=[1, 1, 1, 1],
                value=tiling.window(grad, tile) + tile_grad)

        grad = tiling.for_each_tile(x, objective.tile_size, objective.halo, backpropagate, image_grad)
        total, parts = total_loss(content, style, tv, extras, content_weight, style_weight, tv_weight)
        return total, parts, grad

    return value_and_grad
