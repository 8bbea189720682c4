"""The vgg16-hed distances every quality benchmark reports: the engine's own normalized terms.

`distances(objective, rgb, content_rgb, style_rgb)` is `(style distance, content distance)` of
`rgb`: the normalized style term (Gram, the optimization's and the feed-forward training's loss)
against `style_rgb` and the normalized content term against `content_rgb`, from one evaluation of
`objective` (a `StyleObjective`, e.g. `Stylizer(backbone="vgg16-hed").objective()`). When several
images are measured against the same pair, build the targets once with `pair_targets` and call
`distances_to` per image.
"""

import numpy as np
import tensorflow as tf


def pair_targets(objective, content_rgb, style_rgb):
    """The objective's targets of one content (uint8 `(h, w, 3)`) and one style image."""
    return objective.compute_targets(tf.constant(np.asarray(content_rgb)[None], tf.float32),
                                     [tf.constant(np.asarray(style_rgb)[None], tf.float32)], tf.ones([1]))


def distances_to(objective, targets, rgb):
    """`(style distance, content distance)` of uint8 `rgb` (the content's shape) against `targets`."""
    _, parts, _ = objective.value_and_grad(targets, 1.0, 1.0, 0.0)(tf.constant(np.asarray(rgb, np.float32)[None]))
    return float(parts[2]), float(parts[1])


def distances(objective, rgb, content_rgb, style_rgb):
    """`(style distance, content distance)`: the engine's normalized style and content terms."""
    return distances_to(objective, pair_targets(objective, content_rgb, style_rgb), rgb)
