"""A feed-forward network on an image of any size: tiles with a halo, the whole image's statistics.

Memory of one pass grows with the pixel count (about 330 bytes per pixel for the bundled network
in bfloat16, see docs/realtime.md), so an image larger than a pixel budget is rendered in tiles.
Two things would make naive tiles differ from the untiled result:

- every convolution reads its neighbours, and a tile's border is reflect-padded where the untiled
  network sees real pixels: each window carries a halo covering the receptive radius of what it
  computes, and only the window's core is kept;
- every conditional instance norm normalizes with the mean and variance of its whole input: a
  tile alone would normalize with its own, and tone would jump at the seams. `tiled_statistics`
  computes them exactly, norm layer by norm layer: the features of layer `l` before its norm are
  computed tile by tile (with the statistics of layers `< l` already known), their core positions
  are reduced to a count, mean and sum of squared deviations per tile, and those are merged in
  float64 (Chan et al.'s parallel variance).

The network runs in three stages (`stages`), so that only 5 of its 15 norm layers (Johnson
network) need a pass over the tiles each:

1. front (the down blocks, full to quarter resolution), tiled with a halo of `stage_halos[0]`
   (the blocks' reach, 7 px: 9×9 → 4, two stride-2 3×3 → 1 + 2; 8 px on the grid). Statistics of
   down_1 and down_2 take one pass each; the last pass keeps down_3's pre-norm cores, which are
   assembled into the whole image's quarter-resolution map and normalized there (no 4th pass);
2. middle (the residual blocks) on that whole map in one untiled pass with its own statistics:
   the untiled computation itself, on 1/16 of the pixels (4× the channels);
3. back (the up blocks and the 9×9 to RGB), tiled again from the quarter-resolution map with a
   halo of `stage_halos[1]` (10 px: upsampling + 3×3 → 2 + 2 and 1 + 1, 9×9 → 4; 12 px on the
   grid, 3 quarter-resolution positions). Statistics of up_1 and up_2 take a pass each, then
   every tile is rendered.

Tile origins lie on the 4-px grid and the padded image (reflect-padded to a multiple of 4 by
`TransformerNet.prepare`, as untiled) is what is tiled, so a window's stride-2 and upsampling
grids are the image's and its quarter-resolution origin is an integer: cores are the untiled
result up to float rounding, and are simply cropped and placed (no blending is needed where both
sides compute the same values). The middle pass holds the whole quarter-resolution map: its
memory grows with the image's pixel count (about 50 bytes per image pixel for the bundled network
in bfloat16, against 330 for an untiled pass; see docs/realtime.md).
"""

import math

import numpy as np
import tensorflow as tf

from tf_nst.engine.tiling import core_features, tile_plan, window
from tf_nst.engine.feedforward.transformer import NormStatistics
from tf_nst.errors import InvalidArgumentError

TILE_GRID = 4  # tile origins: two stride-2 convolutions


def norm_scales(network):
    """Input pixels per feature position at each norm layer (1, 2, 4, ..., 4, 2, 1)."""
    scales, scale = [], 1
    for block, _ in network.norm_blocks():
        scale = scale // 2 if block.upsample else scale * block.strides
        scales.append(scale)
    return scales


def _reach(blocks, scale):
    """`(radius px, scale after)` of norm blocks entered at `scale` input px per position: each
    convolution adds `kernel // 2` positions at its input's scale; a nearest ×2 upsampling adds at
    most one position of its output's scale (conservative)."""
    radius = 0
    for block, _ in blocks:
        if block.upsample:
            scale //= 2
            radius += scale
        radius += (block.kernel_size // 2) * scale
        scale *= block.strides
    return radius, scale


def receptive_radius(network):
    """How far (px) an output pixel's value reaches into the input: 57 px for the Johnson network.

    9×9 → 4, two stride-2 3×3 → 1 + 2, ten residual 3×3 at ¼ → 40, two upsample + 3×3 → 2 + 2 and
    1 + 1, 9×9 → 4 (`_reach`).
    """
    radius, scale = _reach(network.norm_blocks(), 1)
    return radius + (network.to_rgb.kernel_size[0] // 2) * scale


def stages(network):
    """`(front, back)`: the `norm_blocks()` indices where the residual blocks start and end."""
    front = len(network.down)
    return front, front + 2 * len(network.residual)


def stage_halos(network):
    """`(front, back)` halos (px, on the tile grid): the down blocks' reach (7 → 8 px for the
    Johnson network) and that of the up blocks and the 9×9 to RGB (10 → 12 px)."""
    front, back = stages(network)
    blocks = network.norm_blocks()
    front_radius, scale = _reach(blocks[:front], 1)
    _, scale = _reach(blocks[front:back], scale)
    back_radius, scale = _reach(blocks[back:], scale)
    back_radius += (network.to_rgb.kernel_size[0] // 2) * scale
    return tuple(TILE_GRID * math.ceil(radius / TILE_GRID) for radius in (front_radius, back_radius))


def default_halo(network):
    """`receptive_radius` rounded up to the tile grid: 60 px for the Johnson network (the halo
    tiles of the whole network would need; `render_tiled` tiles its stages with `stage_halos`)."""
    return TILE_GRID * math.ceil(receptive_radius(network) / TILE_GRID)


def tile_size_for(height, width, max_tile_pixels, halo, grid=TILE_GRID):
    """The core side (a multiple of `grid`) whose windows (core + 2 halos) fit `max_tile_pixels`,
    evened out over the tile rows and columns it needs, so the last row and column are not slivers.

    Raises:
        InvalidArgumentError: a budget below a window of one grid step plus its halos.
    """
    largest = (math.isqrt(int(max_tile_pixels)) - 2 * halo) // grid * grid
    if largest < grid:
        raise InvalidArgumentError(
            f"expected max_tile_pixels at least {(grid + 2 * halo) ** 2} (a {grid}-px core "
            f"and a {halo}-px halo on each side). Received: max_tile_pixels={max_tile_pixels}")
    rows, columns = math.ceil(height / largest), math.ceil(width / largest)
    even = max(math.ceil(height / rows), math.ceil(width / columns))
    return grid * math.ceil(even / grid)


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
    return moments(core_features(features, tile, scale))


def moments(features):
    """`(count, mean, squared deviations)` float64 over all positions of `(1, h, w, C)` features."""
    core = tf.reshape(features, [-1, features.shape[-1]])
    mean, variance = tf.nn.moments(core, axes=[0])
    count = int(core.shape[0])
    return count, mean.numpy().astype(np.float64), variance.numpy().astype(np.float64) * count


def plan_stages(height, width, max_tile_pixels, halos):
    """The front and back stages' `tiling.Tile`s (same cores, halos `halos`), and `(rows, columns)`:
    the core side is the one the larger halo allows within `max_tile_pixels`."""
    padded = padded_size(height, width)
    size = tile_size_for(*padded, max_tile_pixels, max(halos))
    tiles = [tile_plan(*padded, size, halo) for halo in halos]
    return tiles, (math.ceil(padded[0] / size), math.ceil(padded[1] / size))


def window_at(features, tile, stride):
    """The tile's window of a `(1, H, W, C)` map at `stride` image px per position."""
    return features[:, tile.top // stride:tile.bottom // stride, tile.left // stride:tile.right // stride, :]


def tiled_statistics(network, x, style_weights, tiles, statistics=(), stop=None, stride=1):
    """Norm layers' `NormStatistics` over the whole image, computed tile by tile.

    Args:
        network: a `TransformerNet`.
        x: the input of norm block `len(statistics)` for the whole image, `stride` px per position:
            `network.prepare(image, style_weights)` (stride 1) for block 0.
        style_weights: `(1, num_styles)` float32.
        tiles: in image px, with halos covering the reach of blocks `len(statistics)` to `stop`.
        statistics: those of the norm layers before (`None` for one normalized untiled).
        stop: the norm layer to stop before; `None`: all.

    Returns:
        `statistics` followed by the `NormStatistics` of layers `len(statistics)` to `stop`.
    """
    statistics, start = list(statistics), len(statistics)
    for scale in norm_scales(network)[start:stop]:
        parts = [core_moments(network.features(window_at(x, tile, stride), style_weights, statistics, probe=True,
                                               start=start), tile, scale)
                 for tile in tiles]
        statistics.append(merged_moments(parts))
    return statistics


def front_stage(network, prepared, style_weights, tiles):
    """The down blocks' output for the whole prepared image (quarter resolution) and their statistics.

    The statistics pass of the last down block keeps its pre-norm cores, placed into the whole
    quarter-resolution map, which is then normalized in one piece (no extra pass over the tiles).
    """
    front, _ = stages(network)
    statistics = tiled_statistics(network, prepared, style_weights, tiles, stop=front - 1)
    scale = norm_scales(network)[front - 1]
    height, width = int(prepared.shape[1]) // scale, int(prepared.shape[2]) // scale
    pre_norm = np.empty((1, height, width, network.down[-1].filters), np.float32)
    parts = []
    for tile in tiles:
        core = core_features(network.features(window_at(prepared, tile, 1), style_weights, statistics, probe=True),
                             tile, scale)
        pre_norm[:, tile.core_top // scale:tile.core_bottom // scale,
                 tile.core_left // scale:tile.core_right // scale] = core.numpy()
        parts.append(moments(core))
    statistics.append(merged_moments(parts))
    block = network.down[-1]
    x = block.norm(tf.cast(pre_norm, network.compute_dtype), style_weights, statistics=statistics[-1])
    return (tf.nn.relu(x) if block.activation else x), statistics


def render_tiled(network, image, style_weights, max_tile_pixels, halos=None):
    """The network's output for a `(1, H, W, 3)` float 0-255 image, rendered in three stages: the
    down blocks in tiles, the residual blocks untiled at quarter resolution, the up blocks in tiles.

    Args:
        network: a `TransformerNet`.
        image: `(1, H, W, 3)` float32.
        style_weights: `(1, num_styles)` float32.
        max_tile_pixels: the most pixels of one window (core and halo).
        halos: `(front, back)` px around each core; `None` for `stage_halos(network)`.

    Returns:
        `(output (H, W, 3) float32 numpy in [0, 255], (rows, columns))`.
    """
    height, width = int(image.shape[1]), int(image.shape[2])
    halos = stage_halos(network) if halos is None else halos
    (front_tiles, back_tiles), grid = plan_stages(height, width, max_tile_pixels, halos)
    style_weights = tf.cast(style_weights, tf.float32)
    prepared = network.prepare(tf.cast(image, tf.float32), style_weights)
    x, statistics = front_stage(network, prepared, style_weights, front_tiles)
    front, back = stages(network)
    # Traced: a graph reuses its buffers (about 50 bytes per image px at the peak, 115 eagerly).
    x = tf.function(lambda x: network.features(x, style_weights, start=front, stop=back))(x)
    statistics += [None] * (back - front)
    stride = norm_scales(network)[back - 1]
    statistics = tiled_statistics(network, x, style_weights, back_tiles, statistics, stride=stride)
    out = np.empty(padded_size(height, width) + (3,), np.float32)
    for tile in back_tiles:
        rendered = network.head(network.features(window_at(x, tile, stride), style_weights, statistics, start=back))
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
