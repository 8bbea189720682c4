"""An arbitrary-style network on an image of any size: tiles with a halo, the whole image's statistics.

One untiled pass holds every activation of the whole image (level 1's features alone are 64 floats
per pixel), so a photo or painting over `ArbitraryStylizer.max_tile_pixels` is processed in
overlapping tiles. WCT and AdaIN move the features with the *whole* image's mean and covariance:
a tile alone would whiten with its own, and tone would jump at the seams. So each level, coarse to
fine, takes two passes over the tiles of the previous level's whole image:

1. statistics: each window is encoded, and its core's features (each position counted by exactly
   one tile) are reduced to `Moments` — weighted count, mean and centred scatter, weighted by the
   region weights where given — merged in float64 (Chan, Golub and LeVeque's pairwise update).
   `content_statistics` turns them into what the transform needs, by the untiled formulas; the
   window's halo covers the encoder's reach (`halos`), so core features equal the untiled ones;
2. rendering: each window is encoded again, moved to the paintings' statistics with those of the
   whole image (`ArbitraryStylizer.transformed`), mixed by the strength, decoded and clipped; its
   core is written into the level's output. The halo covers the encoder's and the decoder's reach
   together (26 px at level 3 of VGG-16, 28 on the grid).

The image is reflect-padded to the deepest level's pooling grid as the untiled pass pads it, and
tile origins lie on that grid, so a window's pooling and upsampling grids are the image's: zero
padding (encoder) and reflect padding (decoder) only differ from the untiled pass within a halo's
width of an interior window border, outside the core. Cores are the untiled result up to float
rounding and are placed without blending. A painting's statistics (`tiled_painting_statistics`)
take pass 1 alone, on the painting as it is (the untiled pass does not pad it either).

Memory: one window's activations (`max_tile_pixels`) and a few image-sized float32 arrays (the
level's input and output, the region maps); measured in docs/arbitrary.md.

Example:
```python
stylizer = ArbitraryStylizer(FeatureInverter(backbone="vgg16", weights=None, levels=2))
image = stylize_tiled(stylizer, np.zeros((96, 80, 3), "float32"), [np.ones((32, 32, 3), "float32")], tile_size=32)
```
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tf_nst.engine.feedforward.arbitrary_transforms import flat_features, matrix_roots, region_maps
from tf_nst.engine.feedforward.tiling import tile_size_for
from tf_nst.engine.tiling import core_features, tile_plan, window
from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import VGG_BLOCK_CONVS, arbitrary_decoder_plan


def encoder_reach(level, convs):
    """How far (px) a feature of `level` reads beyond its own pixels: each 3×3 convolution adds one
    position of its input's scale, each 2×2 pooling one more (conservative). `convs`: per VGG block."""
    radius, scale = 0, 1
    for block in range(level - 1):
        radius += convs[block] * scale + scale
        scale *= 2
    return radius + scale  # the level's own first convolution


def decoder_reach(level, convs):
    """How far (px) a decoded pixel reads beyond the features under it: each 3×3 convolution adds one
    position of its scale, each nearest ×2 upsampling one of its output's (conservative)."""
    radius, scale = 0, 2 ** (level - 1)
    for step in arbitrary_decoder_plan(level, convs):
        if step[0] == "upsample":
            scale //= 2
        radius += scale
    return radius


def halos(stylizer, level):
    """`(statistics, rendering)` halos (px, on the stylizer's grid) of `level`: the encoder's reach,
    and the encoder's and the decoder's together (16 and 28 px at level 3 of VGG-16)."""
    convs, grid = VGG_BLOCK_CONVS[stylizer.inverter.backbone], stylizer.grid
    encoder = encoder_reach(level, convs)
    return tuple(grid * -(-radius // grid) for radius in (encoder, encoder + decoder_reach(level, convs)))


def plan(stylizer, height, width, halo, tile_size=None):
    """The `tiling.Tile`s of a `height x width` image: cores of `tile_size` (a multiple of the stylizer's
    grid), or of the largest side whose windows fit `stylizer.max_tile_pixels` when `None`.

    Raises:
        InvalidArgumentError: a tile size that is not a positive multiple of the grid.
    """
    grid = stylizer.grid
    if tile_size is None:
        tile_size = tile_size_for(height, width, stylizer.max_tile_pixels, halo, grid)
    elif int(tile_size) <= 0 or int(tile_size) % grid:
        raise InvalidArgumentError(f"expected tile_size a positive multiple of {grid} (the deepest level's pooling "
                                   f"grid). Received: tile_size={tile_size!r}")
    return tile_plan(height, width, int(tile_size), halo)


@dataclasses.dataclass(frozen=True)
class Moments:
    """Weighted count, mean `(C,)` and scatter `Σ w (x - mean)(x - mean)ᵀ` `(C, C)` of features, float64."""

    count: float
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def of(cls, flat, weights=None):
        """The moments of `(C, N)` float32 features, each column weighted by `weights` `(N,)` (default 1);
        centred on their own mean in float32, as `covariance_roots` centres the whole image's."""
        if weights is None:
            weights = tf.ones([tf.shape(flat)[1]], tf.float32)
        count = float(np.sum(np.asarray(weights, np.float64)))
        channels = int(flat.shape[0])
        if count == 0.0:
            return cls(0.0, np.zeros(channels), np.zeros((channels, channels)))
        mean = tf.reduce_sum(flat * weights, axis=1, keepdims=True) / tf.reduce_sum(weights)
        centred = (flat - mean) * tf.sqrt(weights)
        scatter = tf.matmul(centred, centred, transpose_b=True)
        return cls(count, mean.numpy()[:, 0].astype(np.float64), scatter.numpy().astype(np.float64))


def merge_moments(parts):
    """The `Moments` of the union of `parts` (Chan, Golub and LeVeque's pairwise update, float64)."""
    parts = list(parts)
    count, mean, scatter = 0.0, np.zeros_like(parts[0].mean), np.zeros_like(parts[0].scatter)
    for part in parts:
        if part.count == 0.0:
            continue
        total = count + part.count
        delta = part.mean - mean
        mean = mean + delta * (part.count / total)
        scatter = scatter + part.scatter + np.outer(delta, delta) * (count * part.count / total)
        count = total
    return Moments(count, mean, scatter)


def whole_statistics(moments, transform, epsilon=1e-5):
    """The untiled formulas on the whole image's `Moments`: WCT `(mean (C, 1), cov^1/2, cov^-1/2)`
    (`covariance_roots`: the mean over `max(count, 1)`, the covariance over `max(count - 1, 1)`), AdaIN
    `(mean, deviation)` (`adain`: the variance over `max(count, 1)`), float32."""
    total = max(moments.count, 1.0)
    mean = moments.mean * (moments.count / total)
    delta = moments.mean - mean
    scatter = moments.scatter + np.outer(delta, delta) * moments.count
    column = tf.constant(mean[:, None], tf.float32)
    if transform == "wct":
        return (column,) + matrix_roots(tf.constant(scatter / max(total - 1.0, 1.0), tf.float64), epsilon)
    deviation = np.sqrt(np.diag(scatter) / total + epsilon)
    return column, tf.constant(deviation[:, None], tf.float32)


def content_statistics(moments, transform):
    """What `ArbitraryStylizer.transformed` needs of the whole image's features: WCT `(mean, cov^-1/2)`,
    AdaIN `(mean, deviation)`."""
    statistics = whole_statistics(moments, transform)
    return (statistics[0], statistics[2]) if transform == "wct" else statistics


def painting_statistics_of(moments, transform):
    """A painting's statistics at one level from its features' `Moments`: WCT `(mean, cov^1/2)`, AdaIN
    `(mean, deviation)` (`style_statistics`)."""
    return whole_statistics(moments, transform)[:2]


def accumulate(stylizer, image, level, tiles, region_weights=None):
    """`[Moments]` of `level`'s features of `image` `(1, H, W, 3)`, each tile's core counted once: one
    unweighted, or one per `(H, W)` region weight map."""
    scale = 2 ** (level - 1)
    parts = []
    for tile in tiles:
        features = core_features(stylizer.encode(window(image, tile), level), tile, scale)[0]
        flat = flat_features(features)
        if region_weights is None:
            parts.append([Moments.of(flat)])
            continue
        cores = [weights[tile.core_top:tile.core_bottom, tile.core_left:tile.core_right] for weights in region_weights]
        parts.append([Moments.of(flat, tf.reshape(core, [-1]))
                      for core in region_maps(cores, tf.shape(features)[:2])])
    return [merge_moments(column) for column in zip(*parts)]


def render_level(stylizer, image, level, tiles, statistics, blend, strength, content, region_weights=None):
    """The next image `(1, H, W, 3)` float32 numpy: each window of `image` encoded at `level`, moved to
    the paintings' `statistics` with the whole image's `content` statistics, mixed, decoded, clipped, and
    its core placed."""
    out = np.empty(image.shape, np.float32)
    for tile in tiles:
        features = stylizer.encode(window(image, tile), level)[0]
        maps = None
        if region_weights is not None:
            maps = region_maps([weights[tile.top:tile.bottom, tile.left:tile.right] for weights in region_weights],
                               tf.shape(features)[:2])
        target = stylizer.transformed(features, statistics, blend, maps, content)
        mixed = strength * target + (1.0 - strength) * features
        decoded = tf.clip_by_value(stylizer.decode(level, mixed[None]), 0.0, 255.0)
        out[:, tile.core_top:tile.core_bottom, tile.core_left:tile.core_right] = core_features(decoded, tile, 1)
    return out


def tiled_painting_statistics(stylizer, painting, tile_size=None):
    """`ArbitraryStylizer.painting_statistics` of a painting `(h, w, 3)` RGB 0-255, tile by tile."""
    image = np.asarray(painting, np.float32)[None]
    height, width = image.shape[1:3]
    statistics = {}
    for level in stylizer.levels:
        tiles = plan(stylizer, height, width, halos(stylizer, level)[0], tile_size)
        statistics[level] = painting_statistics_of(accumulate(stylizer, image, level, tiles)[0], stylizer.transform)
    return statistics


def stylize_tiled(stylizer, photo, paintings, strength=1.0, blend=None, region_weights=None, tile_size=None):
    """`ArbitraryStylizer.stylize` tile by tile: the same image up to float rounding, in bounded memory.

    Args:
        stylizer: an `ArbitraryStylizer`.
        photo, paintings, strength, blend, region_weights: as `ArbitraryStylizer.stylize`'s.
        tile_size: the tiles' core side (px, a multiple of `stylizer.grid`; paintings given as images
            are tiled alike); `None`: the largest whose windows fit `stylizer.max_tile_pixels`. Where
            one tile covers the padded photo, the photo is one untiled pass.

    Returns:
        `(H, W, 3)` float32 0-255.
    """
    photo = np.asarray(photo, np.float32)
    height, width = photo.shape[:2]
    grid = stylizer.grid
    padded = (height + -height % grid, width + -width % grid)
    rendering = {level: plan(stylizer, *padded, halos(stylizer, level)[1], tile_size) for level in stylizer.levels}
    if all(len(tiles) == 1 for tiles in rendering.values()):
        return stylizer.stylize_whole(photo, paintings, strength, blend, region_weights)
    statistics = [item if isinstance(item, dict) else
                  stylizer.painting_statistics(item) if tile_size is None else
                  tiled_painting_statistics(stylizer, item, tile_size) for item in paintings]
    strength = tf.cast(strength, tf.float32)
    if blend is None:
        blend = [1.0 / len(statistics)] * len(statistics)
    padding = [[0, padded[0] - height], [0, padded[1] - width]]
    image = tf.pad(tf.convert_to_tensor(photo, tf.float32), padding + [[0, 0]], mode="REFLECT").numpy()[None]
    if region_weights is not None:
        region_weights = [tf.pad(tf.convert_to_tensor(weights, tf.float32), padding, mode="REFLECT").numpy()
                          for weights in region_weights]
    for level in stylizer.levels:
        tiles = plan(stylizer, *padded, halos(stylizer, level)[0], tile_size)
        content = [content_statistics(moments, stylizer.transform)
                   for moments in accumulate(stylizer, image, level, tiles, region_weights)]
        image = render_level(stylizer, image, level, rendering[level], [stats[level] for stats in statistics],
                             blend, strength, content[0] if region_weights is None else content, region_weights)
    return tf.constant(image[0, :height, :width])
