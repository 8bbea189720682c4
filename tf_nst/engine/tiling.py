"""Exact tile-by-tile evaluation: features, Grams and the loss gradient in bounded memory.

Memory of an untiled evaluation grows with the pixel count (every VGG activation
of the whole image is kept for the backward pass). The objective only needs
*global* statistics of the features, and those are sums over feature positions:

- a Gram matrix is `Σ_p F_p F_pᵀ / N`, accumulated tile by tile;
- the content terms used here are `Σ_p φ(F_p, T_p) / Z(T)`, with `Z` fixed by the
  target (see `CONTENT_DECOMPOSITIONS`).

So an evaluation runs in two passes over tiles (Galerne et al., "Scaling Painting
Style Transfer", arXiv 2212.13459):

1. forward only: each tile's features, restricted to the tile's own *core*
   positions, are added into the global Grams and content sums; the loss is then
   a function of those small tensors and `∂L/∂G` comes from a tape on them;
2. each tile again, under a tape: `Σ_l ⟨∂L/∂G_l, F_coreᵀF_core / N_l⟩` plus the
   tile's content part is differentiated with respect to the tile's window, and
   that window gradient (halo included) is added into the full gradient.

Features inside a tile equal the untiled ones because every window carries a halo
at least the receptive-field radius of the deepest layer (`receptive_field_radius`),
and window origins lie on the backbone's pooling grid (`FeatureExtractor.spatial_divisor`):
zero padding then only happens where the untiled network pads too, at the true
image border.

Everything here runs inside a graph with unknown image sizes: the tile plan is
computed from `tf.shape(image)` and the tiles are visited by `tf.while_loop`. The objective's
two passes for any style statistic and region masks are in `tf_nst.engine.tiled`.
"""

import collections
import math

import keras
import tensorflow as tf

from tf_nst.errors import InvalidArgumentError
from tf_nst.engine.losses import mean_squared_error, normalized_squared_error

# Layers that read one position of their input per output position: they do not widen
# the receptive field or move the pooling grid.
_POINTWISE_LAYERS = (
    keras.layers.InputLayer, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
    keras.layers.BatchNormalization, keras.layers.LayerNormalization, keras.layers.Rescaling,
    keras.layers.Dropout, keras.layers.Identity, keras.layers.Add, keras.layers.Multiply,
    keras.layers.Concatenate,
)
_CONV_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
_POOL_LAYERS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)

# Everything here is plain TensorFlow ops with Python control flow on Python values only:
# AutoGraph has nothing to convert, and a converted helper once failed with a signature
# mismatch (`tf___size() takes 1 positional argument`) in a benchmark run.
_no_autograph = tf.autograph.experimental.do_not_convert

Tile = collections.namedtuple(
    "Tile", ["core_top", "core_bottom", "core_left", "core_right", "top", "bottom", "left", "right"])
Tile.__doc__ = """One tile: its core `[core_top, core_bottom) x [core_left, core_right)` (the pixels
whose features it owns) and its window `[top, bottom) x [left, right)` (core plus halo, clipped
to the image), in image pixels."""


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _walk(extractor):
    """Yield `(layer, receptive_field, stride)` after each layer of the extractor's model."""
    field, stride = 1, 1
    for layer in extractor.model.layers:
        if isinstance(layer, _CONV_LAYERS):
            if layer.padding != "same" or max(_pair(layer.strides)) != 1:
                raise InvalidArgumentError(
                    "expected stride-1 'same'-padded convolutions for tiling. "
                    f"Received: layer {layer.name} with padding={layer.padding!r}, strides={layer.strides}")
            kernel = max(_pair(layer.kernel_size))
            dilation = max(_pair(layer.dilation_rate))
            field += (kernel - 1) * dilation * stride
        elif isinstance(layer, _POOL_LAYERS):
            pool, pool_stride = max(_pair(layer.pool_size)), max(_pair(layer.strides))
            if layer.padding != "valid" or pool != pool_stride:
                raise InvalidArgumentError(
                    "expected non-overlapping 'valid' pooling for tiling. "
                    f"Received: layer {layer.name} with pool_size={layer.pool_size}, strides={layer.strides}")
            field += (pool - 1) * stride
            stride *= pool_stride
        elif not isinstance(layer, _POINTWISE_LAYERS):
            raise InvalidArgumentError(
                "expected a backbone of convolutions, pooling and pointwise layers for tiling. "
                f"Received: layer {layer.name} of type {type(layer).__name__}")
        yield layer, field, stride


def receptive_field_radius(extractor):
    """Half the receptive field (pixels) of the deepest layer of `extractor`.

    For VGG19 up to `block5_conv1` the field is 156 px, so the radius is 78 px.
    Branching models are walked layer by layer, which can only overestimate.
    """
    field = 1
    for _, field, _ in _walk(extractor):
        pass
    return math.ceil(field / 2)


def receptive_field_radii(extractor):
    """`{layer_name: half its receptive field in px}` for the extractor's requested layers."""
    radii = {layer.name: math.ceil(field / 2) for layer, field, _ in _walk(extractor)}
    return {name: radii[name] for name in extractor.layer_names}


def layer_strides(extractor):
    """`{layer_name: downsampling factor}` for every layer of the extractor's model."""
    return {layer.name: stride for layer, _, stride in _walk(extractor)}


def feature_strides(extractor):
    """`{layer_name: downsampling factor}` for the extractor's requested layers (1, 2, ..., 16)."""
    strides = layer_strides(extractor)
    return {name: strides[name] for name in extractor.layer_names}


def grid_step(extractor):
    """Alignment of tile origins: the coarsest pooling grid of the extractor (16 px at block5)."""
    strides = [stride for _, _, stride in _walk(extractor)]
    return max([extractor.spatial_divisor] + strides)


def default_halo(extractor):
    """The receptive-field radius rounded up to the pooling grid: 80 px for VGG up to block5."""
    step = grid_step(extractor)
    return step * math.ceil(receptive_field_radius(extractor) / step)


def check_tile_size(extractor, tile_size, halo=None):
    """Return `(tile_size, halo)` checked against the extractor's grid (`halo=None`: `default_halo`)."""
    step = grid_step(extractor)
    if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < step or tile_size % step:
        raise InvalidArgumentError(
            f"expected tile_size a positive multiple of {step} px (the backbone's pooling grid). "
            f"Received: tile_size={tile_size!r}")
    if halo is None:
        halo = default_halo(extractor)
    if isinstance(halo, bool) or not isinstance(halo, int) or halo < 0 or halo % step:
        raise InvalidArgumentError(
            f"expected halo a non-negative multiple of {step} px. Received: halo={halo!r}")
    return tile_size, halo


def _bounds(index, columns, height, width, tile_size, halo, minimum, maximum):
    row, column = index // columns, index % columns
    core_top, core_left = row * tile_size, column * tile_size
    core_bottom = minimum(core_top + tile_size, height)
    core_right = minimum(core_left + tile_size, width)
    return Tile(core_top, core_bottom, core_left, core_right,
                maximum(core_top - halo, 0), minimum(core_bottom + halo, height),
                maximum(core_left - halo, 0), minimum(core_right + halo, width))


def tile_grid(height, width, tile_size):
    """`(rows, columns)` of tiles covering a `height x width` image (ints or scalar tensors)."""
    return (height + tile_size - 1) // tile_size, (width + tile_size - 1) // tile_size


def tile_plan(height, width, tile_size, halo):
    """The tiles of a `height x width` image, row by row, as a list of `Tile`.

    Cores are `tile_size` squares from the top-left corner (the last row and column
    are cut by the image); windows add `halo` on every side, clipped at the border.

    Example:
    ```python
    plan = tile_plan(160, 224, 64, 80)
    len(plan)  # 12 (3 rows x 4 columns)
    plan[-1]   # Tile(core_top=128, core_bottom=160, core_left=192, core_right=224,
               #      top=48, bottom=160, left=112, right=224)
    ```
    """
    rows, columns = tile_grid(height, width, tile_size)
    return [_bounds(index, columns, height, width, tile_size, halo, min, max) for index in range(rows * columns)]


def tile_at(index, columns, height, width, tile_size, halo):
    """In-graph `Tile` number `index` (row-major) as scalar int32 tensors."""
    return _bounds(index, columns, height, width, tile_size, halo, tf.minimum, tf.maximum)


def window(image, tile):
    """The tile's window of a `(1, H, W, C)` image."""
    return image[:, tile.top:tile.bottom, tile.left:tile.right, :]


def core_features(features, tile, stride):
    """The tile's own positions of window features of a layer downsampled `stride` times.

    Window origins lie on the pooling grid, so the window's feature `i` is the image's
    feature `top // stride + i`; a core ending at the image border ends where the untiled
    (floor-divided) feature map ends.
    """
    top, left = tile.top // stride, tile.left // stride
    return features[:, tile.core_top // stride - top:tile.core_bottom // stride - top,
                    tile.core_left // stride - left:tile.core_right // stride - left, :]


def core_target(target, tile, stride):
    """The tile's core positions of an image-sized target feature map."""
    return target[:, tile.core_top // stride:tile.core_bottom // stride,
                  tile.core_left // stride:tile.core_right // stride, :]


@_no_autograph
def for_each_tile(image, tile_size, halo, body, initial):
    """Fold `body(tile, state) -> state` over the image's tiles in a `tf.while_loop`.

    One tile at a time (`parallel_iterations=1`): running tiles concurrently would hold
    several windows' activations at once, which is what tiling exists to avoid.
    """
    shape = tf.shape(image)
    height, width = shape[1], shape[2]
    rows, columns = tile_grid(height, width, tile_size)

    def step(index, state):
        return index + 1, body(tile_at(index, columns, height, width, tile_size, halo), state)

    _, state = tf.while_loop(lambda index, _: index < rows * columns, step, (tf.constant(0), initial),
                             parallel_iterations=1)
    return state


def _flat(features):
    return tf.reshape(features, [-1, tf.shape(features)[-1]])


def _channels(extractor, name):
    return extractor.model.get_layer(name).output.shape[-1]


@_no_autograph
def tiled_grams(extractor, image, layer_names, tile_size, halo=None):
    """Gram matrices (as `losses.gram_matrix`: averaged over positions) accumulated tile by tile.

    Args:
        extractor: a `FeatureExtractor` returning `layer_names`.
        image: `(1, H, W, 3)` float 0-255.
        layer_names: layers whose Grams to return.
        tile_size, halo: see `check_tile_size`.

    Returns:
        `{layer_name: (1, C, C) float32}`.
    """
    tile_size, halo = check_tile_size(extractor, tile_size, halo)
    strides = feature_strides(extractor)
    image = tf.cast(image, tf.float32)
    initial = ({name: tf.zeros([_channels(extractor, name)] * 2) for name in layer_names},
               {name: tf.constant(0) for name in layer_names})

    def body(tile, state):
        sums, counts = dict(state[0]), dict(state[1])
        features = extractor(window(image, tile))
        for name in layer_names:
            flat = _flat(core_features(features[name], tile, strides[name]))
            sums[name] += tf.matmul(flat, flat, transpose_a=True)
            counts[name] += tf.shape(flat)[0]
        return sums, counts

    sums, counts = for_each_tile(image, tile_size, halo, body, initial)
    return {name: (sums[name] / tf.cast(counts[name], tf.float32))[None] for name in layer_names}


@_no_autograph
def tiled_features(extractor, image, layer_names, tile_size, halo=None, dtype=tf.float32):
    """Image-sized feature maps computed tile by tile (equal to `extractor(image)`).

    `dtype=tf.bfloat16` stores them at half the size; for a bfloat16 extractor that is
    lossless (its float32 features are casts of bfloat16 values).

    The cores are assembled row by row: a row's cores share their height, so they are
    concatenated (transposed, along the width) in a `TensorArray`, then the rows along the height.

    Returns:
        `{layer_name: (1, h, w, C) dtype}`.
    """
    tile_size, halo = check_tile_size(extractor, tile_size, halo)
    strides = feature_strides(extractor)
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    height, width = shape[1], shape[2]
    rows, columns = tile_grid(height, width, tile_size)

    def array(name):
        return tf.TensorArray(dtype, size=0, dynamic_size=True, infer_shape=False,
                              element_shape=tf.TensorShape([None, None, _channels(extractor, name)]))

    def row_step(row, row_arrays):
        def column_step(column, column_arrays):
            tile = tile_at(row * columns + column, columns, height, width, tile_size, halo)
            features = extractor(window(image, tile))
            return column + 1, {
                name: column_arrays[name].write(
                    column, tf.transpose(tf.cast(core_features(features[name], tile, strides[name])[0], dtype), [1, 0, 2]))
                for name in layer_names}

        _, column_arrays = tf.while_loop(
            lambda column, _: column < columns, column_step,
            (tf.constant(0), {name: array(name) for name in layer_names}), parallel_iterations=1)
        return row + 1, {name: row_arrays[name].write(row, tf.transpose(column_arrays[name].concat(), [1, 0, 2]))
                         for name in layer_names}

    _, row_arrays = tf.while_loop(
        lambda row, _: row < rows, row_step, (tf.constant(0), {name: array(name) for name in layer_names}),
        parallel_iterations=1)
    return {name: row_arrays[name].concat()[None] for name in layer_names}


def _energy(target):
    energy = tf.reduce_sum(tf.square(tf.cast(target, tf.float32)))
    return tf.where(energy > 0.0, energy, 1.0)


def _element_count(target):
    return tf.cast(tf.size(target), tf.float32)


# Content losses as `Σ_p (F_p - T_p)² / Z(T)`: the sum splits over tiles, `Z` depends on the
# whole target only. Keyed by the loss function of `losses.LOSS_FORM_TERMS[form]["content"]`.
CONTENT_DECOMPOSITIONS = {
    normalized_squared_error: _energy,   # ||F - T||² / ||T||² (plain error for an all-zero T)
    mean_squared_error: _element_count,  # mean((F - T)²)
}


@_no_autograph
def content_denominator(content_function, target):
    """`Z(target)` of a content loss `Σ (F - T)² / Z(target)`; raises if the loss has no such split."""
    if content_function not in CONTENT_DECOMPOSITIONS:
        raise InvalidArgumentError(
            "expected a content loss that splits over positions for tiling (one of "
            f"{', '.join(f.__name__ for f in CONTENT_DECOMPOSITIONS)}). "
            f"Received: {getattr(content_function, '__name__', content_function)}")
    return CONTENT_DECOMPOSITIONS[content_function](target)
