import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import ASSETS, gradient_image
from tf_nst import LossTerm, Regions, Stylizer, load_image
from tf_nst.engine.backbones import FeatureExtractor
from tf_nst.errors import InvalidArgumentError
from tf_nst.io.images import resize
from tf_nst.engine import pyramid


def tiny_stylizer(**kwargs):
    settings = dict(backbone="vgg16-hed", size=64, num_steps=6)
    settings.update(kwargs)
    return Stylizer(**settings)


def test_result_shape_history_and_best(small_content, small_style):
    stylizer = tiny_stylizer(num_steps=7)
    result = stylizer.stylize(small_content, small_style, chunk_steps=3)
    assert result.image.shape == (48, 64, 3) and result.image.dtype == np.uint8
    assert result.history.shape == (8, 4)  # initial evaluation + 7 steps
    assert result.loss_names == ("total", "content", "style", "tv")
    assert result.steps == 7
    # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
    assert result.best_loss == pytest.approx(float(result.history[:, 0].min()), rel=1e-5)
    assert result.best_loss < result.history[0, 0]


def test_same_seed_is_bit_identical_and_seeds_differ(small_content, small_style):
    first = tiny_stylizer(init="random", seed=3).stylize(small_content, small_style).image
    again = tiny_stylizer(init="random", seed=3).stylize(small_content, small_style).image
    other = tiny_stylizer(init="random", seed=4).stylize(small_content, small_style).image
    np.testing.assert_array_equal(first, again)
    assert np.mean(np.abs(first.astype(int) - other.astype(int))) > 1.0


def test_mean_noise_init_starts_at_the_imagenet_mean(small_content, small_style):
    from tf_nst.engine.pieces import IMAGENET_MEAN_RGB

    stylizer = tiny_stylizer(init="mean-noise", num_steps=1)
    start = stylizer.initial_image(resize(small_content, (64, 48))).numpy()[0]
    assert start.shape == (48, 64, 3)
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(start.astype(np.float64).mean(axis=(0, 1)), IMAGENET_MEAN_RGB, atol=1e-4)
    assert 0 < start.std(axis=(0, 1)).max() < 0.01
    # jcjohnson's preset settings stylize from there. torch's tiny first step makes the
    # first ~150 steps creep (curvature measured over a 1/|g|_1 step), then the loss drops.
    result = tiny_stylizer(init="mean-noise", num_steps=300, loss_form="jcjohnson", content_weight=5.0,
                           style_weight=100.0, tv_weight=1e-3,
                           lbfgs_history=100, lbfgs_first_step="torch").stylize(small_content, small_style)
    assert result.best_loss < 0.1 * result.history[0, 0]
    assert result.image.std() > 10  # no longer a flat mean-coloured image


def test_lbfgs_beats_adam_on_style_transfer(small_content, small_style):
    lbfgs = tiny_stylizer(num_steps=25).stylize(small_content, small_style)
    adam = tiny_stylizer(num_steps=25, optimizer="adam").stylize(small_content, small_style)
    assert adam.best_loss < adam.history[0, 0]
    assert lbfgs.best_loss < adam.best_loss


def test_chunking_does_not_change_the_result(small_content, small_style):
    stylizer = tiny_stylizer(num_steps=6)
    one = stylizer.stylize(small_content, small_style, chunk_steps=6)
    many = stylizer.stylize(small_content, small_style, chunk_steps=2)
    np.testing.assert_array_equal(one.image, many.image)


def test_callback_reports_progress(small_content, small_style):
    seen = []
    tiny_stylizer(num_steps=6).stylize(small_content, small_style, chunk_steps=2, callback=seen.append)
    assert [p.step for p in seen] == [2, 4, 6]
    assert set(seen[-1].losses) == {"total", "content", "style", "tv"}
    assert seen[-1].best_image().shape == (48, 64, 3)


def test_style_blend_is_a_weighted_gram_blend(small_content):
    red = np.zeros((32, 32, 3), np.uint8); red[..., 0] = 200
    blue = np.zeros((32, 32, 3), np.uint8); blue[..., 2] = 200
    stylizer = tiny_stylizer()
    content = tf.constant(small_content[None], tf.float32)
    styles = [tf.constant(red[None], tf.float32), tf.constant(blue[None], tf.float32)]
    objective = stylizer.objective()
    blended = objective.compute_targets(content, styles, tf.constant([0.25, 0.75]))
    only_red = objective.compute_targets(content, styles[:1], tf.constant([1.0]))
    only_blue = objective.compute_targets(content, styles[1:], tf.constant([1.0]))
    for name in stylizer.settings.style_layers:
        expected = 0.25 * only_red["style"][name] + 0.75 * only_blue["style"][name]
        # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
        np.testing.assert_allclose(blended["style"][name].numpy(), expected.numpy(), rtol=1e-4, atol=1e-3)


def test_coarse_to_fine_ends_at_full_size(small_content, small_style):
    stylizer = tiny_stylizer(size=64, scales=2, num_steps=3)
    assert stylizer.schedule.sizes == [32, 64]
    result = stylizer.stylize(small_content, small_style)
    assert result.image.shape == (48, 64, 3)
    assert result.steps == 6


def test_tiny_input_is_upscaled_with_a_note(small_style):
    result = tiny_stylizer(num_steps=2).stylize(np.full((8, 8, 3), 90, np.uint8), small_style)
    assert min(result.image.shape[:2]) >= 32
    assert any("smaller than the backbone's minimum" in note for note in result.notes)


def test_max_seconds_stops_early(small_content, small_style):
    result = tiny_stylizer(num_steps=500, max_seconds=1e-9).stylize(small_content, small_style)
    assert result.interrupted and result.steps == 0
    assert any("time budget" in note for note in result.notes)


def test_custom_loss_term_is_added(small_content, small_style):
    class Darkness(LossTerm):
        def call(self, image, features):
            return tf.reduce_mean(image) / 255.0

    plain = tiny_stylizer(num_steps=10).stylize(small_content, small_style)
    dark = tiny_stylizer(num_steps=10, extra_loss_terms=[Darkness(weight=20.0)]).stylize(
        small_content, small_style)
    assert dark.loss_names[-1] == "Darkness"
    assert dark.image.mean() < plain.image.mean() - 5


def test_custom_keras_backbone():
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(x)
    model = keras.Model(inputs, x)
    stylizer = Stylizer(backbone=model, content_layers="conv_b", style_layers="conv_a,conv_b:2",
                        size=48, num_steps=3, preprocessing="unit")
    result = stylizer.stylize(gradient_image(32, 48), gradient_image(32, 32, seed=5))
    assert result.image.shape == (32, 48, 3)
    assert stylizer.settings.style_layers == {"conv_a": 1.0, "conv_b": 2.0}
    # The config stores the extractor (architecture), so from_config rebuilds the custom backbone.
    clone = Stylizer.from_config(json.loads(json.dumps(stylizer.get_config())))
    assert [layer.name for layer in clone.extractor.custom_model.layers] == [layer.name for layer in model.layers]
    assert clone.stylize(gradient_image(32, 48), gradient_image(32, 32, seed=5)).image.shape == (32, 48, 3)


def test_feature_extractor_config_round_trip():
    extractor = FeatureExtractor(["block1_conv1", "block2_conv1"], backbone="vgg19", weights=None,
                                 pooling="avg")
    config = extractor.get_config()
    clone = FeatureExtractor.from_config(config)
    assert clone.get_config() == config
    # Truncated at the deepest requested layer: block2_conv1 follows one pooling layer.
    assert clone.spatial_divisor == 2
    features = clone(np.zeros((1, 32, 32, 3), np.float32))
    assert features["block2_conv1"].shape == (1, 16, 16, 128)


def test_stylizer_config_round_trip():
    stylizer = tiny_stylizer(optimizer="adam", learning_rate=3.0, style_layers="block1_conv1:2,block2_conv1",
                             scales=2, preserve_colors="luminance", init="random", seed=9)
    config = stylizer.get_config()
    assert Stylizer.from_config(config).get_config() == config


def test_loss_term_config_round_trip():
    import keras

    term = LossTerm(weight=3.0, layer_names=["block1_conv1"])
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(term))
    assert restored.get_config() == term.get_config()


def test_blend_weights_validated(small_content, small_style):
    stylizer = tiny_stylizer()
    with pytest.raises(InvalidArgumentError, match="expected one blend weight per style"):
        tiny_stylizer(style_blend=[1.0]).stylize(small_content, [small_style, small_style])
    with pytest.raises(InvalidArgumentError, match="not all zero"):
        tiny_stylizer(style_blend=[0, 0])


@pytest.mark.large
def test_vgg16_hed_really_stylizes(content_path, style_path):
    """At 128 px the output's Grams approach the style's while content features stay close."""
    stylizer = Stylizer(backbone="vgg16-hed", size=128, num_steps=100)
    content, style = load_image(content_path), load_image(style_path)
    result = stylizer.stylize(content, style)
    content_rgb = pyramid.fit(content.rgb, 128, stylizer.min_side)
    height, width = content_rgb.shape[:2]
    objective = stylizer.objective()
    targets = objective.compute_targets(
        tf.constant(content_rgb[None], tf.float32),
        [tf.constant(pyramid.fit(style.rgb, 128, stylizer.min_side)[None], tf.float32)], tf.ones([1]))
    measure = objective.value_and_grad(targets, 1.0, 1.0, 0.0)

    def parts(rgb):
        return dict(zip(stylizer.loss_names, measure(tf.constant(rgb[None], tf.float32))[1].numpy()))

    output, original = parts(result.image), parts(content_rgb)
    unrelated = parts(resize(style.rgb, (width, height)))
    assert output["style"] < 0.1 * original["style"]
    assert output["content"] < 0.6 * unrelated["content"]
    # Not grey, not unchanged.
    assert result.image.std() > 30
    assert np.mean(np.abs(result.image.astype(int) - content_rgb.astype(int))) > 10


@pytest.mark.parametrize("style_scale, expected_side", [(0.75, 48), (1.0, 64), (2.0, 128)])
def test_style_scale_resizes_the_style_relative_to_the_output(small_content, style_scale, expected_side):
    stylizer = tiny_stylizer(num_steps=1, style_scale=style_scale)
    seen = []
    targets = stylizer.targets

    def spy(content_rgb, style_rgbs, blend, *args):
        seen.append([style.shape for style in style_rgbs])
        return targets(content_rgb, style_rgbs, blend, *args)

    stylizer.targets = spy
    stylizer.stylize(small_content, gradient_image(80, 100, seed=3))
    assert seen == [[(round(expected_side * 80 / 100), expected_side, 3)]]


def test_tf_tutorial_loss_form_is_the_tutorials_objective(small_content, small_style):
    """Weights 1e4/1e-2/30 on plain means and tf.image.total_variation, as in the tutorial."""
    stylizer = tiny_stylizer(loss_form="tf-tutorial", content_layers="block5_conv2")
    content = tf.constant(small_content[None], tf.float32)
    objective = stylizer.objective()
    targets = objective.compute_targets(content, [tf.constant(small_style[None], tf.float32)], tf.ones([1]))
    x = tf.constant(gradient_image(48, 64, seed=7)[None], tf.float32)
    total, parts, _ = objective.value_and_grad(targets, 1e4, 1e-2, 30.0)(x)
    features = stylizer.extractor(x)
    style = np.mean([np.mean((tf_gram(features[name]) - targets["style"][name].numpy()) ** 2)
                     for name in stylizer.settings.style_layers])
    content_term = np.mean((features["block5_conv2"].numpy() - targets["content"]["block5_conv2"].numpy()) ** 2)
    tv = float(tf.reduce_sum(tf.image.total_variation(x / 255.0)))
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(parts.numpy()[1:4], [content_term, style, tv], rtol=1e-4)
    np.testing.assert_allclose(float(total), 1e4 * content_term + 1e-2 * style + 30 * tv, rtol=1e-4)


def tf_gram(features):
    from tf_nst.engine.losses import gram_matrix

    return gram_matrix(features).numpy()


def test_should_stop_ends_the_run_cleanly_between_chunks(small_content, small_style):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 2  # let two chunks run

    result = tiny_stylizer(num_steps=50).stylize(small_content, small_style, chunk_steps=3, should_stop=should_stop)
    assert result.interrupted and result.steps == 6
    assert "interrupted after 6 steps" in result.notes
    # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
    assert result.best_loss == pytest.approx(float(result.history[:, 0].min()), rel=1e-6)


def test_coarse_to_fine_upsampling_restores_the_content_detail(small_content):
    # The next scale starts from the coarse result plus the band of the content that the
    # coarse scale could not hold: upsampling the content's own coarse version gives it back.
    coarse = tf.image.resize(tf.constant(small_content[None], tf.float32), (24, 32), method="area")
    start = pyramid.upsample(coarse, small_content).numpy()[0]
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(start, small_content, atol=1e-3)
    plain = tf.image.resize(coarse, (48, 64), method="bicubic").numpy()[0]
    assert np.abs(plain - small_content).mean() > 1.0  # what plain upsampling would lose


# --- region masks ----------------------------------------------------------------------------


def _halves(height, width):
    """`(left, right)` uint8 masks splitting an image down the middle."""
    left = np.zeros((height, width), np.uint8)
    left[:, :width // 2] = 255
    return left, 255 - left


def test_all_white_mask_equals_the_unmasked_run(small_content, small_style):
    stylizer = tiny_stylizer(num_steps=6)
    plain = stylizer.stylize(small_content, small_style)
    white = stylizer.stylize(small_content, small_style, masks=[np.full((48, 64), 255, np.uint8)])
    # Exact by construction on every CPU: one all-white mask runs the unmasked ops (as the export
    # does), so no reassociation of the masked sums can make the trajectories drift apart.
    np.testing.assert_array_equal(white.history, plain.history)
    np.testing.assert_array_equal(white.image, plain.image)
    assert "masks[0] is white everywhere: the style applies everywhere, as without a mask" in white.notes
    assert np.mean(np.abs(white.image.astype(int) - small_content.astype(int))) > 1  # it did stylize


def test_mask_errors_are_typed(small_content, small_style):
    stylizer = tiny_stylizer(num_steps=1)
    left, right = _halves(48, 64)
    with pytest.raises(InvalidArgumentError, match=r"expected one entry of masks per style \(1\). Received: 2"):
        stylizer.stylize(small_content, small_style, region_masks=[left, right])
    with pytest.raises(InvalidArgumentError, match="expected masks with a region somewhere"):
        stylizer.stylize(small_content, [small_style, small_style], region_masks=[left * 0, right * 0])
    with pytest.raises(InvalidArgumentError, match=r"expected masks\[0\] with the aspect ratio"):
        stylizer.stylize(small_content, small_style, region_masks=[np.full((48, 48), 255, np.uint8)])
    with pytest.raises(InvalidArgumentError, match=r"expected region_masks= only \(masks= is its old name\)"):
        stylizer.stylize(small_content, small_style, region_masks=[left], masks=[left])
    with pytest.warns(DeprecationWarning, match=r"masks= is deprecated; use region_masks="):
        result = stylizer.stylize(small_content, small_style, masks=[np.full((24, 32), 255, np.uint8)])
    assert "masks[0]: 32x24 resized to its image's 64x48" in result.notes


def test_regions_built_at_the_edge_are_used_as_they_are(small_content, small_style):
    stylizer = tiny_stylizer(num_steps=2)
    left, _ = _halves(48, 64)
    regions = Regions.build([left], None, small_content.shape, [small_style.shape])
    assert regions.region_masks[0].dtype == np.float32 and regions.style_image_masks is None
    built_here = stylizer.stylize(small_content, small_style, region_masks=[left])
    np.testing.assert_array_equal(stylizer.stylize(small_content, small_style, regions=regions).image,
                                  built_here.image)


def test_masks_with_tiles_scales_colours_and_style_masks(small_style):
    content = gradient_image(72, 96, seed=5)
    left, right = _halves(72, 96)
    stylizer = tiny_stylizer(size=96, scales="48,96", scale_steps="4,4", tile_size=64,
                             preserve_colors="luminance", style_statistic="mean-cov")
    style_mask = np.zeros((40, 40), np.uint8)
    style_mask[:20] = 255
    with pytest.warns(DeprecationWarning, match="style_masks= is deprecated; use style_image_masks="):
        result = stylizer.stylize(content, [small_style, small_style[::-1]], region_masks=[left, right * 0],
                                  style_masks=[style_mask, None])
    assert [plan["tile_size"] for plan in result.tiling] == [64, 64] and result.steps == 8
    assert "masks[1] is black everywhere: style 1 is not used" in result.notes
    changed = np.abs(result.image.astype(int) - content.astype(int)).mean(-1)
    assert changed[:, :40].mean() > 2 * changed[:, 56:].mean()


def test_stylize_graph_takes_a_mask_per_request(small_content, small_style):
    stylizer = tiny_stylizer()
    image = tf.TensorSpec([1, None, None, 3], tf.uint8)

    @tf.function(input_signature=[image, image, tf.TensorSpec([1, None, None, 1], tf.uint8)])
    def served(content, style, mask):
        return stylizer.stylize_graph(content, style, 2, 1.0, 10.0, 1.0, 0, mask=mask)[1]

    content, style = tf.constant(small_content[None]), tf.constant(small_style[None])
    plain = stylizer.stylize_graph(content, style, 2, 1.0, 10.0, 1.0, 0)[1].numpy()
    everywhere = served(content, style, tf.fill([1, 12, 16, 1], tf.constant(255, tf.uint8))).numpy()
    nowhere = served(content, style, tf.zeros([1, 48, 64, 1], tf.uint8)).numpy()
    # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
    np.testing.assert_allclose(everywhere[0], plain[0], rtol=1e-5)  # a resized white mask: everywhere
    assert plain[0, 2] > 0 and np.all(nowhere[:, 2] == 0.0)  # black: no style term at all


def _style_distances(extractor, image, styles):
    """Mean-cov W2 (normalized) of `image`'s block1-3 features to each style's."""
    from tf_nst.engine.statistics import STATISTICS, position_sums

    statistic = STATISTICS["mean-cov"]

    def sums(rgb):
        features = extractor(tf.constant(rgb[None], tf.float32))
        return {name: position_sums(tf.reshape(value, [-1, value.shape[-1]])) for name, value in features.items()}

    mine = sums(image)
    return [float(np.mean([statistic.region_losses(mine[name], statistic.target(statistic.moments(theirs[name])))[0]
                           for name in mine])) for theirs in map(sums, styles)]


def test_vgg16_hed_two_styles_on_two_halves_each_dominate_their_half(content_path):
    from tf_nst.engine.pyramid import fit

    content = fit(load_image(content_path).rgb, 96)
    styles = [fit(load_image(f"{ASSETS}/{name}").rgb, 96) for name in ("starry_night.jpg", "the_scream.jpg")]
    height, width = content.shape[:2]
    left, right = _halves(height, width)
    stylizer = Stylizer(backbone="vgg16-hed", size=96, num_steps=20)
    image = stylizer.stylize(content, styles, region_masks=[left, right]).image
    extractor = FeatureExtractor([f"block{i}_conv1" for i in (1, 2, 3)], backbone="vgg16-hed")
    half, margin = width // 2, 12
    for part, own in ((np.s_[:, :half - margin], 0), (np.s_[:, half + margin:], 1)):
        after = _style_distances(extractor, image[part], styles)
        before = _style_distances(extractor, content[part], styles)
        assert after[own] < after[1 - own], (own, after)
        assert after[own] - after[1 - own] < before[own] - before[1 - own]
        assert np.mean(np.abs(image[part].astype(int) - content[part].astype(int))) > 10  # both regions moved


def test_vgg16_hed_unmasked_half_stays_close_to_the_content(content_path, style_path):
    from tf_nst.engine.pyramid import fit

    content = fit(load_image(content_path).rgb, 96)
    height, width = content.shape[:2]
    left, _ = _halves(height, width)
    result = Stylizer(backbone="vgg16-hed", size=96, num_steps=20).stylize(content, style_path, region_masks=[left])
    change = np.abs(result.image.astype(int) - content.astype(int)).mean(-1)
    styled, kept = change[:, :width // 2 - 12].mean(), change[:, width // 2 + 16:].mean()
    assert styled > 15 and kept < 4 and kept < 0.2 * styled, (styled, kept)


def test_stylize_graph_with_a_mask_equals_the_library(small_content, small_style):
    """What the export runs with a per-request mask is the library's masked run, bit for bit."""
    stylizer = tiny_stylizer(num_steps=6, scales=1)
    left, _ = _halves(48, 64)
    small_style = resize(small_style, (64, 64))  # at the output's size: the library's style_scale=1
    library = stylizer.stylize(small_content, small_style, region_masks=[left])
    image = tf.TensorSpec([1, None, None, 3], tf.uint8)

    @tf.function(input_signature=[image, image, tf.TensorSpec([1, None, None, 1], tf.uint8)])
    def served(content, style, mask):
        return stylizer.stylize_graph(content, style, 6, 1.0, 10.0, 1.0, 0, mask=mask)

    stylized, losses = served(tf.constant(small_content[None]), tf.constant(small_style[None]),
                              tf.constant(left[None, :, :, None]))
    np.testing.assert_array_equal(stylized.numpy()[0], library.image)
    # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
    np.testing.assert_allclose(losses.numpy(), library.history, rtol=1e-6)
