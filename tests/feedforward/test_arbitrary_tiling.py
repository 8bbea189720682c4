"""The arbitrary-style network in tiles: the untiled result in bounded memory (random weights, float32)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_nst.engine.feedforward import arbitrary_tiling
from tf_nst.engine.feedforward.arbitrary import ArbitraryStylizer, FeatureInverter, covariance_roots
from tf_nst.engine.feedforward.arbitrary_tiling import (Moments, accumulate, decoder_reach, encoder_reach, halos,
                                                        merge_moments, plan, stylize_tiled, tiled_painting_statistics,
                                                        whole_statistics)
from tf_nst.engine.tiling import tile_plan
from tf_nst.errors import InvalidArgumentError

# Grey levels (0-255). Cores are the untiled values up to float32 rounding; random weights amplify it,
# WCT most (its whitening of ill-conditioned random features): 0.09 at most here (AdaIN 0.006), where a
# halo short of the decoder's reach gives differences of up to 255 (test_the_halos_are_needed).
TOLERANCE = 0.5


@pytest.fixture(scope="module")
def stylizer():
    return ArbitraryStylizer(FeatureInverter(backbone="vgg16", weights=None, levels=3))


def _images(seed, photo_shape=(90, 130)):
    rng = np.random.default_rng(seed)
    photo = rng.uniform(0, 255, photo_shape + (3,)).astype(np.float32)
    paintings = [rng.uniform(0, 255, (40, 52, 3)).astype(np.float32), rng.uniform(0, 120, (36, 30, 3)).astype(np.float32)]
    return photo, paintings


def test_reaches_of_vgg16():
    """Level 3: 2 + 1 + 2 x 2 + 2 + 4 px into the image, and 4 + 2 + 2 x 2 + 1 + 2 px back out."""
    convs = (2, 2, 3, 3)
    assert [encoder_reach(level, convs) for level in (1, 2, 3, 4)] == [1, 5, 13, 33]
    assert [decoder_reach(level, convs) for level in (1, 2, 3, 4)] == [1, 5, 13, 33]


def test_halos_lie_on_the_grid(stylizer):
    assert stylizer.grid == 4
    assert [halos(stylizer, level) for level in stylizer.levels] == [(16, 28), (8, 12), (4, 4)]


def test_moments_merged_over_parts_are_the_whole_ones():
    rng = np.random.default_rng(0)
    flat = tf.constant(rng.normal(size=(6, 500)) * 3.0 + 40.0, tf.float32)
    weights = tf.constant(rng.uniform(size=500), tf.float32)
    for given in (None, weights):
        parts = [Moments.of(flat[:, start:start + 120], None if given is None else given[start:start + 120])
                 for start in range(0, 500, 120)]
        mean, root, inverse_root = whole_statistics(merge_moments(parts), "wct")
        expected = covariance_roots(flat, given)
        np.testing.assert_allclose(mean.numpy(), expected[0].numpy(), rtol=1e-5)
        np.testing.assert_allclose(root.numpy(), expected[1].numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(inverse_root.numpy(), expected[2].numpy(), rtol=1e-4, atol=1e-4)


def test_statistics_over_tiles_count_each_position_once(stylizer):
    """Each tile's core, encoded within its window, gives the untiled features' mean and covariance."""
    photo, _ = _images(1, (96, 128))
    image = photo[None]
    features = stylizer.encode(tf.constant(image), 3)[0].numpy().reshape(-1, 256).astype(np.float64)
    tiles = tile_plan(96, 128, 32, halos(stylizer, 3)[0])
    moments = accumulate(stylizer, image, 3, tiles)[0]
    assert moments.count == features.shape[0]
    np.testing.assert_allclose(moments.mean, features.mean(0), rtol=1e-5, atol=1e-5 * np.abs(features).max())
    expected = np.cov(features, rowvar=False) * (features.shape[0] - 1)
    np.testing.assert_allclose(moments.scatter, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("transform", ["wct", "adain"])
def test_small_tiles_give_the_untiled_image(transform):
    stylizer = ArbitraryStylizer(FeatureInverter(backbone="vgg16", weights=None, levels=3), transform=transform)
    photo, paintings = _images(2)
    whole = stylizer.stylize_whole(photo, paintings, strength=0.8, blend=[0.7, 0.3]).numpy()
    tiled = stylize_tiled(stylizer, photo, paintings, strength=0.8, blend=[0.7, 0.3], tile_size=32).numpy()
    assert tiled.shape == whole.shape == (90, 130, 3)
    assert np.abs(tiled - whole).max() <= TOLERANCE


def test_the_halos_are_needed(stylizer, monkeypatch):
    """Without the decoder's reach in the halo, cores differ at their borders: what the tolerance guards."""
    photo, paintings = _images(2)
    whole = stylizer.stylize_whole(photo, paintings).numpy()
    monkeypatch.setattr(arbitrary_tiling, "halos", lambda stylizer, level: (16, 4))
    short = stylize_tiled(stylizer, photo, paintings, tile_size=32).numpy()
    assert np.abs(short - whole).max() > 10 * TOLERANCE


def test_region_weights_in_tiles(stylizer):
    photo, paintings = _images(3)
    left = np.clip(np.linspace(-0.5, 1.5, 130, dtype=np.float32), 0, 1)[None].repeat(90, 0)
    weights = [left, 1.0 - left]
    whole = stylizer.stylize_whole(photo, paintings, region_weights=weights).numpy()
    tiled = stylize_tiled(stylizer, photo, paintings, region_weights=weights, tile_size=32).numpy()
    assert np.abs(tiled - whole).max() <= TOLERANCE


def test_one_tile_is_the_untiled_pass(stylizer):
    photo, paintings = _images(4)
    whole = stylizer.stylize_whole(photo, paintings).numpy()
    np.testing.assert_array_equal(stylize_tiled(stylizer, photo, paintings, tile_size=132).numpy(), whole)


def test_the_budget_chooses_tiles():
    """Over `max_tile_pixels` `stylize` and `painting_statistics` go tile by tile, each to the untiled result."""
    inverter = FeatureInverter(backbone="vgg16", weights=None, levels=3)
    whole, tight = ArbitraryStylizer(inverter), ArbitraryStylizer(inverter, max_tile_pixels=64 * 64)
    photo, paintings = _images(5)
    assert len(plan(tight, 92, 132, halos(tight, 3)[1])) > 1
    assert np.abs(tight.stylize(photo, paintings).numpy() - whole.stylize(photo, paintings).numpy()).max() <= TOLERANCE
    painting = np.random.default_rng(6).uniform(0, 255, (75, 101, 3)).astype(np.float32)
    expected, tiled = whole.painting_statistics(painting), tight.painting_statistics(painting)
    for level in whole.levels:
        for value, reference in zip(tiled[level], expected[level]):
            np.testing.assert_allclose(value.numpy(), reference.numpy(), rtol=1e-3,
                                       atol=1e-4 * np.abs(reference.numpy()).max())


def test_a_painting_of_any_size_in_tiles(stylizer):
    """Sizes off the pooling grid: cores at the border end where the untiled (floored) features end."""
    painting = np.random.default_rng(7).uniform(0, 255, (45, 61, 3)).astype(np.float32)
    expected, tiled = stylizer.painting_statistics(painting), tiled_painting_statistics(stylizer, painting, 16)
    for level in stylizer.levels:
        for value, reference in zip(tiled[level], expected[level]):
            np.testing.assert_allclose(value.numpy(), reference.numpy(), rtol=1e-3,
                                       atol=1e-4 * np.abs(reference.numpy()).max())


def test_a_tile_off_the_grid_is_refused(stylizer):
    photo, paintings = _images(8)
    with pytest.raises(InvalidArgumentError, match=r"expected tile_size a positive multiple of 4 \(the deepest "
                                                   r"level's pooling grid\). Received: tile_size=30"):
        stylize_tiled(stylizer, photo, paintings, tile_size=30)
    with pytest.raises(InvalidArgumentError, match="expected max_tile_pixels at least"):
        ArbitraryStylizer(stylizer.inverter, max_tile_pixels=100).stylize(photo, paintings)


@pytest.fixture(scope="module")
def bundled():
    """The bundled network on TensorFlow in float32, and Matisse's painting."""
    from tf_nst.io.images import load_image
    from tf_nst.runs.arbitrary_run import ArbitraryRun

    run = ArbitraryRun("arbitrary", precision="float32", runtime="tensorflow")
    return run, load_image("docs/gallery/paintings/woman-with-hat-matisse.jpg").rgb


def _astronaut(size):
    from tf_nst.engine.pyramid import fit
    from tf_nst.io.images import load_image

    return fit(load_image("tf_nst/assets/astronaut.png").rgb, size, 1)


@pytest.mark.large
def test_the_bundled_network_in_small_tiles_is_the_untiled_image(bundled):
    """1024 px in 256-px tiles, float32: max 0.04 and 99.9th percentile 0.015 grey levels on a Xeon with AMX
    (docs/arbitrary.md); the bounds leave room for other kernels' rounding (AVX2, AVX-512)."""
    run, painting = bundled
    photo = _astronaut(1024).astype(np.float32)
    statistics = [run.fit_painting(painting, 1024).statistics]
    whole = run.stylizer.stylize_whole(photo, statistics).numpy()
    tiled = stylize_tiled(run.stylizer, photo, statistics, tile_size=256).numpy()
    difference = np.abs(tiled - whole)
    assert difference.max() <= 0.25
    assert np.percentile(difference, 99.9) <= 0.05


@pytest.mark.large
def test_arbitrary_run_tiles_large_photos(bundled, monkeypatch):
    """`ArbitraryRun.stylize` over the stylizer's budget goes tile by tile: the untiled PNG's pixels, within one
    grey level (rounding)."""
    run, painting = bundled
    photo = _astronaut(512)
    monkeypatch.setattr(run.stylizer, "max_tile_pixels", 2 ** 40)
    whole = run.stylize(photo, [painting], 512).astype(int)
    monkeypatch.setattr(run.stylizer, "max_tile_pixels", 200 * 200)
    calls = []
    monkeypatch.setattr(arbitrary_tiling, "stylize_tiled",
                        lambda *args, **kwargs: calls.append(1) or stylize_tiled(*args, **kwargs))
    tiled = run.stylize(photo, [painting], 512).astype(int)
    assert calls == [1]
    assert np.abs(tiled - whole).max() <= 1
    assert np.mean(tiled != whole) < 0.01
