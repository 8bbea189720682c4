"""Traced graph pieces shared by the driver and the export: one objective's loop, any image size.

`LoopPieces` holds a `StyleObjective`'s target functions and the optimizer's `start` / `run`,
each an `AnySizeFunction` (traced once for unknown height and width, like the exported
graph). Start images (`random_image`, `mean_noise_image`) and tensor helpers live here too.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tf_nst.engine.backbones import CAFFE_MEAN_BGR
from tf_nst.engine.optimizers import run_steps


@dataclasses.dataclass(frozen=True)
class LoopPieces:
    """The traced graph pieces of one objective, each compiled once for any image size.

    Args:
        objective: the `StyleObjective` (untiled, or tiled with `tile_size`).
        content_targets: `fn(content (1, H, W, 3)) -> {layer: features}`.
        style_grams: `fn(style (1, h, w, 3)) -> {layer: Gram}`.
        style_statistics: `fn(style, style_mask or None) -> {layer: moments}` (`StyleObjective.style_statistics`).
        start: `fn(x, targets, content_weight, style_weight, tv_weight) -> optimizer state` (one evaluation).
        run: `fn(state, targets, content_weight, style_weight, tv_weight, num_steps) -> (state, history)`.
    """

    objective: object
    content_targets: object
    style_grams: object
    style_statistics: object
    start: object
    run: object


def build_pieces(objective, optimizer):
    """`LoopPieces` of `objective` run by `optimizer` (targets traced for any size)."""
    return LoopPieces(
        objective=objective, content_targets=AnySizeFunction(objective.content_targets),
        style_grams=AnySizeFunction(objective.style_grams),
        style_statistics=AnySizeFunction(objective.style_statistics),
        start=start_function(objective, optimizer), run=run_function(objective, optimizer))


def start_function(objective, optimizer):
    """`fn(x, targets, content_weight, style_weight, tv_weight) -> optimizer state`, any size."""
    def start(x, targets, content_weight, style_weight, tv_weight):
        return optimizer.initialize(x, objective.value_and_grad(targets, content_weight, style_weight, tv_weight))

    return AnySizeFunction(start)


def run_function(objective, optimizer):
    """`fn(state, targets, weights..., num_steps) -> (state, history)`, any size."""
    def run(state, targets, content_weight, style_weight, tv_weight, num_steps):
        value_and_grad = objective.value_and_grad(targets, content_weight, style_weight, tv_weight)
        return run_steps(optimizer, state, value_and_grad, num_steps)

    return AnySizeFunction(run)


def any_size_spec(value):
    """`value`'s `TensorSpec` with the image-size dimensions unknown, as in the exported signature.

    `(1, H, W, C)` images, features and Adam moments -> `(1, None, None, C)`;
    `(history, H*W*3)` L-BFGS buffers -> `(history, None)`; Grams, scalars and loss vectors keep
    their shapes. Anything that is not a tensor is returned unchanged.
    """
    if not isinstance(value, (tf.Tensor, np.ndarray)):
        return value
    shape = list(value.shape)
    if len(shape) == 4:
        shape[1:3] = [None, None]
    elif len(shape) == 2:
        shape[1] = None
    return tf.TensorSpec(shape, tf.as_dtype(value.dtype))


class AnySizeFunction:
    """`tf.function(fn)` traced once per structure for any image size, never for one size.

    The export traces `Stylizer.stylize_graph` with unknown height and width. With static
    shapes grappler's constant folding rewrites shape-derived arithmetic (such as the Gram
    normalisation and the `reduce_mean` gradients), which rounds differently; L-BFGS amplifies
    that to tens of grey levels within 20 steps (128 px, vgg16-hed). Tracing
    the library's pieces with the same unknown sizes makes library and served results
    bit-identical (and avoids a retrace per scale).
    """

    def __init__(self, fn):
        self.python_function = fn
        self._function = tf.function(fn)

    def __call__(self, *args):
        specs = tf.nest.map_structure(any_size_spec, args)
        return self._function.get_concrete_function(*specs)(*args)


def random_image(shape, seed):
    """Seeded grey noise image (same seed, same image on any run)."""
    seed = tf.cast(tf.stack([seed, 0]), tf.int64) if isinstance(seed, tf.Tensor) else [int(seed), 0]
    noise = tf.random.stateless_normal(shape, seed=seed)
    return tf.clip_by_value(127.5 + 40.0 * noise, 0.0, 255.0)


IMAGENET_MEAN_RGB = tuple(reversed(CAFFE_MEAN_BGR))


def mean_noise_image(shape, seed):
    """The ImageNet mean colour plus N(0, 0.001) noise, seeded (jcjohnson's `-init random`).

    neural_style.lua draws `0.001 * randn` in its mean-subtracted input space, so its
    random start is the mean pixel up to a thousandth of a grey level.
    """
    noise = tf.random.stateless_normal(shape, seed=[int(seed), 0])
    return tf.constant(IMAGENET_MEAN_RGB, tf.float32) + 0.001 * noise


def to_uint8(x):
    """Round a 0-255 float image to uint8."""
    return tf.cast(tf.round(tf.clip_by_value(x, 0.0, 255.0)), tf.uint8)


def to_batch(rgb):
    """A `uint8 (H, W, 3)` array as a `(1, H, W, 3)` float32 tensor."""
    return tf.constant(np.asarray(rgb, np.float32)[None])
