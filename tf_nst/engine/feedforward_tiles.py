"""A feed-forward network on an image of any size: tiles with a halo, the whole image's statistics.

Memory of one pass grows with the pixel count (about 330 bytes per pixel for the bundled network
in bfloat16, see docs/realtime.md), so an image larger than a pixel budget is rendered in tiles.
Two things would make naive tiles differ from the untiled result:

- every convolution reads its neighbours, and a tile's border is reflect-padded where the untiled
  network sees real pixels: each window carries a halo of `receptive_radius` px (57 px for the
  Johnson network, rounded up to 60 on the 4-px grid of its two stride-2 convolutions), and only
  the window's core is kept;
- every conditional instance norm normalizes with the mean and variance of its whole input: a
  tile alone would normalize with its own, and tone would jump at the seams. `tiled_statistics`
  computes them exactly, norm layer by norm layer: the features of layer `l` before its norm are
  computed tile by tile (with the statistics of layers `< l` already known), their core positions
  are reduced to a count, mean and sum of squared deviations per tile, and those are merged in
  float64 (Chan et al.'s parallel variance). The last pass renders every tile with all of them.

Exact statistics cost `L + 1` passes up to growing depths (L = 15 norm layers for 5 residual
blocks: about 7.5 untiled passes of compute) instead of one; statistics from a downscaled copy
would cost one small pass but shift the tone wherever the network is not scale-invariant.
Tiling only happens above the budget, where one untiled pass would not fit.

Tile origins lie on the 4-px grid and the padded image (reflect-padded to a multiple of 4 by
`TransformerNet.prepare`, as untiled) is what is tiled, so a window's stride-2 and upsampling
grids are the image's: cores are the untiled result up to float rounding, and are simply
cropped and placed (no blending is needed where both sides compute the same values).
"""

import math

import numpy as np
import tensorflow as tf

from tf_nst.engine.tiling import core_features, tile_plan, window
from tf_nst.engine.transformer import NormStatistics
from tf_nst.errors import InvalidArgumentError

TILE_GRID = 4  # tile origins: two stride-2 convolutions


def norm_scales(network):
    """Input pixels per feature position at each norm layer (1, 2, 4, ..., 4, 2, 1)."""
    scales, scale = [], 1
    for block, _ in network.norm_blocks():
        scale = scale // 2 if block.upsample else scale * block.strides
        scales.append(scale)
    return scales


def receptive_radius(network):
    """How far (px) an output pixel's value reaches into the input: 57 px for the Johnson network.

    Each convolution adds `kernel // 2` positions at its input's scale; a nearest ×2 upsampling
    adds at most one position of its output's scale (conservative). 9×9 → 4, two stride-2 3×3
    → 1 + 2, ten residual 3×3 at ¼ → 40, two upsample + 3×3 → 2 + 2 and 1 + 1, 9×9 → 4.
    """
    radius, scale = 0, 1
    for block, _ in network.norm_blocks():
        if block.upsample:
            scale //= 2
            radius += scale
        radius += (block.kernel_size // 2) * scale
        scale *= block.strides
    return radius + (network.to_rgb.kernel_size[0] // 2) * scale


def default_halo(network):
    """`receptive_radius` rounded up to the tile grid: 60 px for the Johnson network."""
    return TILE_GRID * math.ceil(receptive_radius(network) / TILE_GRID)


def tile_size_for(height, width, max_tile_pixels, halo):
    """The core side (a multiple of `TILE_GRID`) whose windows (core + 2 halos) fit `max_tile_pixels`,
    evened out over the tile rows and columns it needs, so the last row and column are not slivers.

    Raises:
        InvalidArgumentError: a budget below a window of one grid step plus its halos.
    """
    largest = (math.isqrt(int(max_tile_pixels)) - 2 * halo) // TILE_GRID * TILE_GRID
    if largest < TILE_GRID:
        raise InvalidArgumentError(
            f"expected max_tile_pixels at least {(TILE_GRID + 2 * halo) ** 2} (a {TILE_GRID}-px core "
            f"and a {halo}-px halo on each side). Received: max_tile_pixels={max_tile_pixels}")
    rows, columns = math.ceil(height / largest), math.ceil(width / largest)
    even = max(math.ceil(height / rows), math.ceil(width / columns))
    return TILE_GRID * math.ceil(even / TILE_GRID)


def padded_size(height, width):
    """The size `TransformerNet.prepare` pads an image to: multiples of `TILE_GRID`."""
    return height + (-height) % TILE_GRID, width + (-width) % TILE_GRID


def plan_tiles(height, width, max_tile_pixels, halo):
    """The `tiling.Tile`s of an image's padded size, row by row, and `(rows, columns)`.

    Example:
    ```python
    tiles, grid = plan_tiles(150, 97, 64 * 64, 16)  # padded 152 x 100, core 32 px
    grid  # (5, 4)
    ```
    """
    height, width = padded_size(height, width)
    size = tile_size_for(height, width, max_tile_pixels, halo)
    tiles = tile_plan(height, width, size, halo)
    return tiles, (math.ceil(height / size), math.ceil(width / size))


def merged_moments(parts):
    """`NormStatistics` of the union of parts `(count, mean (C,), squared deviations (C,))`,
    merged in float64 (Chan, Golub and LeVeque's pairwise update)."""
    count, mean, squares = 0, 0.0, 0.0
    for part_count, part_mean, part_squares in parts:
        total = count + part_count
        delta = part_mean - mean
        mean = mean + delta * (part_count / total)
        squares = squares + part_squares + delta ** 2 * (count * part_count / total)
        count = total
    shape = (1, 1, 1, -1)
    return NormStatistics(np.reshape(mean, shape).astype(np.float32),
                          np.reshape(squares / count, shape).astype(np.float32))


def core_moments(features, tile, scale):
    """`(count, mean, squared deviations)` float64 over the tile's core positions of features."""
    core = tf.reshape(core_features(features, tile, scale), [-1, features.shape[-1]])
    mean, variance = tf.nn.moments(core, axes=[0])
    count = int(core.shape[0])
    return count, mean.numpy().astype(np.float64), variance.numpy().astype(np.float64) * count


def tiled_statistics(network, prepared, style_weights, tiles):
    """Every norm layer's `NormStatistics` over the whole prepared image, computed tile by tile.

    Args:
        network: a `TransformerNet`.
        prepared: `network.prepare(image)` of the whole `(1, H, W, 3)` image.
        style_weights: `(1, num_styles)` float32.
        tiles: `plan_tiles` of the image, with a halo of at least `receptive_radius`.

    Returns:
        A list of `NormStatistics`, one per norm layer in `network.norm_blocks()` order.
    """
    statistics = []
    for scale in norm_scales(network):
        parts = [core_moments(network.features(window(prepared, tile), style_weights, statistics, probe=True),
                              tile, scale)
                 for tile in tiles]
        statistics.append(merged_moments(parts))
    return statistics


def render_tiled(network, image, style_weights, max_tile_pixels, halo=None):
    """The network's output for a `(1, H, W, 3)` float 0-255 image, rendered tile by tile.

    Args:
        network: a `TransformerNet`.
        image: `(1, H, W, 3)` float32.
        style_weights: `(1, num_styles)` float32.
        max_tile_pixels: the most pixels of one window (core and halo).
        halo: px around each core; `None` for `default_halo(network)`.

    Returns:
        `(output (H, W, 3) float32 numpy in [0, 255], (rows, columns))`.
    """
    height, width = int(image.shape[1]), int(image.shape[2])
    halo = default_halo(network) if halo is None else halo
    tiles, grid = plan_tiles(height, width, max_tile_pixels, halo)
    style_weights = tf.cast(style_weights, tf.float32)
    prepared = network.prepare(tf.cast(image, tf.float32))
    statistics = tiled_statistics(network, prepared, style_weights, tiles)
    padded = padded_size(height, width)
    out = np.empty(padded + (3,), np.float32)
    for tile in tiles:
        rendered = network.head(network.features(window(prepared, tile), style_weights, statistics))
        out[tile.core_top:tile.core_bottom, tile.core_left:tile.core_right] = core_features(rendered, tile, 1)[0]
    return out[:height, :width], grid


def seam_ratio(image, tiles):
    """How much stronger the image changes across tile borders than elsewhere: the mean absolute
    difference of neighbouring pixels straddling an interior core border, over that of all other
    neighbouring pairs (about 1 for no seam; a tone step at the seams raises it).

    Args:
        image: `(H, W, C)` (or `(H, W)`) array.
        tiles: the `tiling.Tile`s it was rendered in.

    Returns:
        A float, or `nan` for a single tile.
    """
    image = np.asarray(image, np.float64)
    height, width = image.shape[:2]
    rows = sorted({tile.core_top for tile in tiles if 0 < tile.core_top < height})
    columns = sorted({tile.core_left for tile in tiles if 0 < tile.core_left < width})
    across_rows = np.abs(np.diff(image, axis=0))  # entry i: rows i and i + 1
    across_columns = np.abs(np.diff(image, axis=1))
    seam_rows = np.zeros(across_rows.shape[0], bool)
    seam_rows[[row - 1 for row in rows]] = True
    seam_columns = np.zeros(across_columns.shape[1], bool)
    seam_columns[[column - 1 for column in columns]] = True
    seams = np.concatenate([across_rows[seam_rows].ravel(), across_columns[:, seam_columns].ravel()])
    others = np.concatenate([across_rows[~seam_rows].ravel(), across_columns[:, ~seam_columns].ravel()])
    return float(seams.mean() / others.mean()) if seams.size else float("nan")
