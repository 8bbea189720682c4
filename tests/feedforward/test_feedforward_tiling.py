"""A feed-forward network in tiles: halo and grid arithmetic, the whole image's statistics, no seams."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from conftest import gradient_image
from tf_nst.engine.feedforward.rendering import FeedForward
from tf_nst.engine.feedforward.tiling import (
    TILE_GRID, default_halo, norm_scales, padded_size, plan_stages, plan_tiles, receptive_radius, render_tiled,
    seam_ratio, stage_halos, stages, tiled_statistics)
from tf_nst.engine.tiling import core_features, window
from tf_nst.engine.feedforward.transformer import TransformerNet, style_weights_for
from tf_nst.errors import InvalidArgumentError

STYLES = ["a", "b"]
# T2, one evaluation in two orders: tiles see the untiled features (halo >= receptive radius, same
# grid) and statistics equal up to how the float32 sums are associated (tf.nn.moments over the
# image against per-tile moments merged in float64); through 7 norm layers that moved grey levels
# by at most about 1e-3 here, so 1e-2 grey levels keeps a 10x margin. Naive per-tile statistics
# miss it by four orders of magnitude (180 levels; test_per_tile_statistics_would_show_seams).
TILED_ATOL = 1e-2


def tiny(seed=0):
    """A width-8, one-block network with distinct, non-trivial per-style scales and shifts."""
    keras.utils.set_random_seed(seed)
    network = TransformerNet(STYLES, width=8, num_residual_blocks=1)
    rng = np.random.default_rng(seed)
    for variable in network.weights:
        if variable.path.endswith(("/scale", "/shift")):
            variable.assign(rng.normal(1.0 if variable.path.endswith("scale") else 0.0, 0.5, variable.shape))
    return network


def untiled(network, rgb, weights):
    return network({"image": tf.constant(rgb[None], tf.float32), "style_weights": weights})[0].numpy()


def test_receptive_radius_and_halo_of_the_johnson_network():
    network = TransformerNet(["a"])  # 9x9, two stride-2, 5 residual blocks, two upsamplings, 9x9
    assert receptive_radius(network) == 57
    assert default_halo(network) == 60
    assert norm_scales(network) == [1, 2, 4] + [4] * 10 + [2, 1]
    assert receptive_radius(tiny()) == 25 and default_halo(tiny()) == 28
    # front: 9x9 -> 4, stride-2 3x3 -> 1 + 2 = 7; back: upsample + 3x3 -> 2 + 2, 1 + 1, 9x9 -> 4 = 10
    assert stages(network) == (3, 13) and stage_halos(network) == (8, 12)
    assert stages(tiny()) == (3, 5) and stage_halos(tiny()) == (8, 12)


def test_receptive_radius_bounds_the_reach_of_one_pixel():
    """With fixed statistics the network is local: changing one pixel changes nothing farther
    than `receptive_radius` away (and something near it: the bound is not loose by much)."""
    network, weights = tiny(), tf.constant([[1.0, 0.0]])
    rgb = gradient_image(96, 96).astype(np.float32)
    prepared = network.prepare(tf.constant(rgb[None]), weights)
    statistics = tiled_statistics(network, prepared, weights, plan_tiles(96, 96, 96 * 96, 0)[0])
    changed = rgb.copy()
    changed[48, 48] = 255.0 - changed[48, 48]
    outputs = [network({"image": tf.constant(image[None]), "style_weights": weights}, statistics=statistics)[0]
               for image in (rgb, changed)]
    rows, columns = np.nonzero(np.abs(outputs[0].numpy() - outputs[1].numpy()).max(-1) > 0)
    reach = max(np.abs(rows - 48).max(), np.abs(columns - 48).max())
    assert receptive_radius(network) - 8 <= reach <= receptive_radius(network)


@pytest.mark.parametrize("height, width, budget, halo", [
    (150, 97, 64 * 64, 16), (160, 64, 88 * 88, 28), (33, 301, 100 * 100, 28), (1, 1, 40 * 40, 12)])
def test_tiles_cover_the_padded_image_on_the_grid(height, width, budget, halo):
    tiles, (rows, columns) = plan_tiles(height, width, budget, halo)
    padded_height, padded_width = padded_size(height, width)
    assert padded_height % TILE_GRID == 0 and padded_width % TILE_GRID == 0
    assert len(tiles) == rows * columns
    covered = np.zeros((padded_height, padded_width), int)
    for tile in tiles:
        covered[tile.core_top:tile.core_bottom, tile.core_left:tile.core_right] += 1
        assert all(value % TILE_GRID == 0 for value in tile)
        assert (tile.top, tile.left) == (max(tile.core_top - halo, 0), max(tile.core_left - halo, 0))
        assert (tile.bottom, tile.right) == (min(tile.core_bottom + halo, padded_height),
                                             min(tile.core_right + halo, padded_width))
        assert (tile.bottom - tile.top) * (tile.right - tile.left) <= budget
    assert (covered == 1).all()


def test_tile_sizes_are_even_and_a_small_budget_is_refused():
    tiles, grid = plan_tiles(150, 97, 64 * 64, 16)
    assert grid == (5, 4) and {tile.core_bottom - tile.core_top for tile in tiles} == {32, 24}
    with pytest.raises(InvalidArgumentError, match=r"expected max_tile_pixels at least 1600 .* Received: "
                                                   r"max_tile_pixels=1599"):
        plan_tiles(64, 64, 1599, 18)


@pytest.mark.parametrize("height, width", [(150, 97), (64, 160), (131, 131)])
def test_tiled_equals_untiled_without_seams(height, width):
    network = tiny()
    rgb = gradient_image(height, width, seed=2)
    weights = style_weights_for(STYLES, {"a": 0.3, "b": 0.7})
    expected = untiled(network, rgb, weights)
    out, grid = render_tiled(network, tf.constant(rgb[None], tf.float32), weights, 88 * 88)
    assert grid[0] * grid[1] > 2
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=TILED_ATOL)  # T2 (see TILED_ATOL)
    (front_tiles, tiles), _ = plan_stages(height, width, 88 * 88, stage_halos(network))
    assert [tile[:4] for tile in front_tiles] == [tile[:4] for tile in tiles]  # the same cores
    # T4: two renders of one image, equal to 1e-2 grey levels: their seam ratios agree closely.
    assert seam_ratio(out, tiles) < 1.05 * seam_ratio(expected, tiles)


def test_halos_below_the_stage_reach_would_differ():
    """The stage halos are needed: 4 px (below both stages' reach, on the grid) moves the output."""
    network, rgb = tiny(), gradient_image(150, 97, seed=2)
    weights = style_weights_for(STYLES, {"a": 0.3, "b": 0.7})
    expected = untiled(network, rgb, weights)
    for halos in [(4, 12), (8, 4)]:
        out, _ = render_tiled(network, tf.constant(rgb[None], tf.float32), weights, 88 * 88, halos=halos)
        assert np.abs(out - expected).max() > 10 * TILED_ATOL, halos


def test_per_tile_statistics_would_show_seams():
    """The test above can fail: tiles normalized with their own statistics (halos and grid as
    above) differ from the untiled output by whole grey levels, with steps at the tile borders."""
    network, rgb = tiny(), gradient_image(150, 97, seed=2)
    weights = style_weights_for(STYLES, {"a": 0.3, "b": 0.7})
    expected = untiled(network, rgb, weights)
    tiles, _ = plan_tiles(150, 97, 88 * 88, default_halo(network))
    prepared = network.prepare(tf.constant(rgb[None], tf.float32), weights)
    naive = np.zeros(padded_size(150, 97) + (3,), np.float32)
    for tile in tiles:
        rendered = network.head(network.features(window(prepared, tile), weights))
        naive[tile.core_top:tile.core_bottom, tile.core_left:tile.core_right] = core_features(rendered, tile, 1)[0]
    naive = naive[:150, :97]
    assert np.abs(naive - expected).max() > 100 * TILED_ATOL
    assert seam_ratio(naive, tiles) > 1.2 * seam_ratio(expected, tiles)


def test_feedforward_tiles_above_its_budget_only():
    network, rgb = tiny(), gradient_image(120, 90, seed=3)
    blend = {"b": 1.0}
    runner = FeedForward(network, max_tile_pixels=88 * 88)
    tiled = runner.stylize(rgb, blend)
    # With its 16 px reflect margin (rendering.with_margin) the photo is 152 x 122, padded 152 x 124: cores of
    # 88 - 2 * 12 = 64 px (back halo 12).
    assert runner.tiling == (3, 2)
    whole = FeedForward(network)
    reference = whole.stylize(rgb, blend)
    assert whole.tiling is None
    # T4, uint8 rounding of outputs equal to 1e-2 grey levels: at most one level apart.
    assert np.abs(tiled.astype(int) - reference.astype(int)).max() <= 1
    small = gradient_image(40, 40)
    assert np.array_equal(runner.stylize(small, blend), whole.stylize(small, blend))
    assert runner.tiling is None


def test_features_in_stages_equal_one_run():
    """`features(start=, stop=)` resumes where the previous stage stopped (residual skips included)."""
    network, weights = tiny(), tf.constant([[0.4, 0.6]])
    prepared = network.prepare(tf.constant(gradient_image(40, 36, seed=4)[None], tf.float32), weights)
    front, back = stages(network)
    x = network.features(prepared, weights, stop=front)
    assert x.shape[1:3] == (10, 9)
    x = network.features(network.features(x, weights, start=front, stop=back), weights, start=back)
    np.testing.assert_array_equal(x.numpy(), network.features(prepared, weights).numpy())  # T1: same ops
