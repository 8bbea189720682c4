"""StyleObjective: the untiled objective, the exact tiled evaluation, and the memory planner."""

import numpy as np
import pytest
import tensorflow as tf

from tf_nst.engine import tiling
from tf_nst.engine.backbones import FeatureExtractor
from tf_nst.errors import InvalidArgumentError
from tf_nst.engine.losses import LOSS_FORM_TERMS, LossTerm, gram_matrix
from tf_nst.engine.objective import StyleObjective

CONTENT_LAYERS = {"block4_conv2": 1.0}
STYLE_LAYERS = {f"block{i}_conv1": 1.0 for i in range(1, 6)}
SHALLOW_CONTENT = {"block2_conv2": 1.0}
SHALLOW_STYLE = {"block1_conv1": 1.0, "block2_conv1": 0.5}
ANY_SIZE = tf.TensorSpec([1, None, None, 3], tf.float32)


def _random_images(height, width, seed=0):
    """Content, a differently sized style, and a noisy start image (float 0-255, batch of 1)."""
    rng = np.random.default_rng(seed)
    content = rng.uniform(0, 255, (1, height, width, 3)).astype("float32")
    style = rng.uniform(0, 255, (1, 96, 80, 3)).astype("float32")
    x = np.clip(content + rng.normal(0, 20, content.shape), 0, 255).astype("float32")
    return tf.constant(content), tf.constant(style), tf.constant(x)


def _evaluate(objective, content, style, x, weight_sets):
    """`[(parts, grad)]` per `(content, style, tv)` weights, traced for any size like the library."""

    @tf.function(input_signature=[ANY_SIZE, ANY_SIZE, ANY_SIZE])
    def run(content, style, x):
        targets = objective.compute_targets(content, [style], tf.ones([1]))
        outputs = []
        for weights in weight_sets:
            _, parts, grad = objective.value_and_grad(targets, *weights)(x)
            outputs.append((parts, grad))
        return outputs

    return [(parts.numpy(), grad.numpy()) for parts, grad in run(content, style, x)]


def _relative(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def vgg19():
    return FeatureExtractor(list(CONTENT_LAYERS) + list(STYLE_LAYERS), backbone="vgg19", weights=None)


@pytest.fixture(scope="module")
def hed():
    return FeatureExtractor(list(CONTENT_LAYERS) + list(STYLE_LAYERS), backbone="vgg16-hed")


@pytest.fixture(scope="module")
def shallow():
    return FeatureExtractor(list(SHALLOW_CONTENT) + list(SHALLOW_STYLE), backbone="vgg19", weights=None)


# --- the untiled objective ------------------------------------------------------------------


@pytest.mark.parametrize("loss_form", list(LOSS_FORM_TERMS))
def test_untiled_objective_is_the_losses_module_objective(vgg19, loss_form):
    content, style, x = _random_images(64, 80)
    objective = StyleObjective(vgg19, CONTENT_LAYERS, STYLE_LAYERS, loss_form=loss_form)
    [(parts, grad)] = _evaluate(objective, content, style, x, [(1.0, 10.0, 2.0)])

    # Reference written from tf_nst.engine.losses alone.
    form = LOSS_FORM_TERMS[loss_form]
    layer_mean = form["layers"] == "mean"
    content_target = vgg19(content)
    style_grams = {name: gram_matrix(feature) for name, feature in vgg19(style).items()}
    with tf.GradientTape() as tape:
        tape.watch(x)
        features = vgg19(x)
        content_part = sum(weight * form["content"](features[name], content_target[name])
                           for name, weight in CONTENT_LAYERS.items())
        style_part = sum(weight * form["style"](gram_matrix(features[name]), style_grams[name])
                         for name, weight in STYLE_LAYERS.items())
        if layer_mean:
            content_part /= sum(CONTENT_LAYERS.values())
            style_part /= sum(STYLE_LAYERS.values())
        tv_part = form["tv"](x)
        total = 1.0 * content_part + 10.0 * style_part + 2.0 * tv_part
    expected_grad = tape.gradient(total, x).numpy()
    # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
    np.testing.assert_allclose(parts, [total, content_part, style_part, tv_part], rtol=1e-5)
    assert _relative(grad, expected_grad) < 1e-5
    assert objective.loss_names == ("total", "content", "style", "tv")


@pytest.mark.parametrize("tile_size", [None, 32])
def test_compute_targets_is_content_targets_plus_blended_style_grams(shallow, tile_size):
    content, style, _ = _random_images(64, 96)
    second_style = tf.reverse(content, [2])[:, :80]
    objective = StyleObjective(shallow, SHALLOW_CONTENT, SHALLOW_STYLE, tile_size=tile_size)
    blend = tf.constant([0.25, 0.75])
    targets = objective.compute_targets(content, [style, second_style], blend)
    content_targets = objective.content_targets(content)
    grams = [objective.style_grams(style), objective.style_grams(second_style)]
    for name in SHALLOW_CONTENT:
        np.testing.assert_array_equal(targets["content"][name], content_targets[name])
    for name in SHALLOW_STYLE:
        # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
        np.testing.assert_allclose(targets["style"][name], 0.25 * grams[0][name] + 0.75 * grams[1][name],
                                   rtol=1e-6)


# --- exactness of the tiled evaluation ------------------------------------------------------


def _assert_tiled_matches(extractor, height, width, loss_form, weight_sets, tile_size=64):
    content, style, x = _random_images(height, width, seed=height)
    # 64 px tiles do not divide 160x224 evenly in either direction once odd sizes come in,
    # and never divide 161x225: the last row and column are partial.
    assert StyleObjective(extractor, CONTENT_LAYERS, STYLE_LAYERS, tile_size=tile_size).tile_count(
        height, width) == len(tiling.tile_plan(height, width, tile_size, 80)) > 1
    untiled = _evaluate(StyleObjective(extractor, CONTENT_LAYERS, STYLE_LAYERS, loss_form=loss_form),
                        content, style, x, weight_sets)
    tiled = _evaluate(StyleObjective(extractor, CONTENT_LAYERS, STYLE_LAYERS, loss_form=loss_form,
                                     tile_size=tile_size), content, style, x, weight_sets)
    for weights, (parts, grad), (tiled_parts, tiled_grad) in zip(weight_sets, untiled, tiled):
        # every part: total, content, style, tv
        # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
        np.testing.assert_allclose(tiled_parts, parts, rtol=1e-5, err_msg=f"weights={weights}")
        assert np.linalg.norm(grad) > 0
        assert _relative(tiled_grad, grad) <= 1e-4, f"weights={weights}"


CONTENT_ONLY, STYLE_ONLY = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)


def test_tiled_equals_untiled_vgg19(vgg19):
    # Every loss form is checked tiled on vgg16-hed at an odd size below; VGG19 with the default form.
    # TV and image-only terms with the tiled gradient: test_traced_once_for_any_size_with_an_image_term.
    _assert_tiled_matches(vgg19, 160, 224, "normalized", [CONTENT_ONLY, STYLE_ONLY])


@pytest.mark.parametrize("loss_form", list(LOSS_FORM_TERMS))
def test_tiled_equals_untiled_vgg16_hed_odd_size(hed, loss_form):
    _assert_tiled_matches(hed, 161, 225, loss_form, [CONTENT_ONLY, STYLE_ONLY])


def test_bfloat16_content_targets_are_stored_losslessly():
    # A bf16 extractor's float32 features are casts of bf16 values: the tiled objective keeps
    # its image-sized content targets in bf16 (half the memory) without changing one value.
    extractor = FeatureExtractor(list(SHALLOW_CONTENT) + list(SHALLOW_STYLE), backbone="vgg19", weights=None,
                                 precision="bfloat16")
    content, _, _ = _random_images(72, 88)
    stored = StyleObjective(extractor, SHALLOW_CONTENT, SHALLOW_STYLE, tile_size=32).content_targets(content)
    full = tiling.tiled_features(extractor, content, list(SHALLOW_CONTENT), 32, dtype=tf.float32)
    for name in SHALLOW_CONTENT:
        assert stored[name].dtype == tf.bfloat16
        np.testing.assert_array_equal(tf.cast(stored[name], tf.float32).numpy(), full[name].numpy())


def test_too_small_halo_breaks_the_agreement(vgg19):
    """Negative control: with a halo below the receptive field the test above would fail."""
    content, style, x = _random_images(160, 224)
    [(parts, grad)] = _evaluate(StyleObjective(vgg19, CONTENT_LAYERS, STYLE_LAYERS), content, style, x,
                                [(1.0, 10.0, 1.0)])
    [(short_parts, short_grad)] = _evaluate(
        StyleObjective(vgg19, CONTENT_LAYERS, STYLE_LAYERS, tile_size=64, halo=16), content, style, x,
        [(1.0, 10.0, 1.0)])
    assert _relative(short_grad, grad) > 1e-2
    assert abs(short_parts[2] - parts[2]) > 1e-3 * abs(parts[2])


def test_receptive_field_and_halo(vgg19, hed, shallow):
    assert tiling.receptive_field_radius(vgg19) == 78  # VGG19 up to block5_conv1
    assert tiling.default_halo(vgg19) == 80 and tiling.grid_step(vgg19) == 16
    assert tiling.default_halo(hed) % 16 == 0 and tiling.default_halo(hed) >= tiling.receptive_field_radius(hed)
    assert tiling.feature_strides(vgg19)["block4_conv2"] == 8
    assert tiling.receptive_field_radius(shallow) == 7 and tiling.default_halo(shallow) == 8


def test_tile_plan_covers_the_image_once():
    height, width, tile_size, halo = 161, 225, 64, 80
    plan = tiling.tile_plan(height, width, tile_size, halo)
    covered = np.zeros((height, width), int)
    for tile in plan:
        covered[tile.core_top:tile.core_bottom, tile.core_left:tile.core_right] += 1
        assert tile.top % 16 == 0 and tile.left % 16 == 0
        assert 0 <= tile.top <= tile.core_top and tile.core_bottom <= tile.bottom <= height
        assert tile.core_top - tile.top in (tile.core_top, halo)  # clipped only at the border
    assert (covered == 1).all() and len(plan) == 3 * 4


class RecordingExtractor(FeatureExtractor):
    """Remembers the size of every image it is called on (eager runs only)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def call(self, images):
        self.calls.append(tuple(images.shape[1:3]))
        return super().call(images)


def test_tiles_are_really_visited_one_window_at_a_time():
    extractor = RecordingExtractor(list(SHALLOW_CONTENT) + list(SHALLOW_STYLE), backbone="vgg19", weights=None)
    content, style, x = _random_images(64, 96)
    objective = StyleObjective(extractor, SHALLOW_CONTENT, SHALLOW_STYLE, tile_size=32)
    plan = tiling.tile_plan(64, 96, 32, objective.halo)
    windows = [(tile.bottom - tile.top, tile.right - tile.left) for tile in plan]
    targets = objective.compute_targets(content, [style], tf.ones([1]))  # eager: while loops run in Python
    style_windows = [(tile.bottom - tile.top, tile.right - tile.left)
                     for tile in tiling.tile_plan(96, 80, 32, objective.halo)]
    assert extractor.calls == windows + style_windows  # content targets, then the style's Grams
    extractor.calls.clear()
    total, parts, grad = objective.value_and_grad(targets, 1.0, 10.0, 1.0)(x)
    assert extractor.calls == windows + windows  # pass 1, then pass 2
    assert len(windows) == 6 and all(h < 64 or w < 96 for h, w in windows)
    # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
    np.testing.assert_allclose(targets["content"]["block2_conv2"], extractor(content)["block2_conv2"],
                               rtol=1e-5, atol=1e-4)


class Brightness(LossTerm):
    """Reads only the image: allowed with tiling."""

    def call(self, image, features):
        return tf.square(tf.reduce_mean(image) / 255.0 - 0.3)


class FeatureEnergy(LossTerm):
    """Reads a feature map: refused with tiling."""

    def call(self, image, features):
        return tf.reduce_mean(features["block1_conv1"])


def test_traced_once_for_any_size_with_an_image_term(shallow):
    traces = []
    extras = [Brightness(weight=3.0)]
    tiled = StyleObjective(shallow, SHALLOW_CONTENT, SHALLOW_STYLE, extra_loss_terms=extras, tile_size=32)
    untiled = StyleObjective(shallow, SHALLOW_CONTENT, SHALLOW_STYLE, extra_loss_terms=extras)
    assert tiled.loss_names == ("total", "content", "style", "tv", "Brightness")

    def evaluate(objective):
        def run(content, style, x):
            traces.append(objective)
            targets = objective.compute_targets(content, [style], tf.ones([1]))
            return objective.value_and_grad(targets, 1.0, 10.0, 1.0)(x)
        return tf.function(run, input_signature=[ANY_SIZE, ANY_SIZE, ANY_SIZE])

    run_tiled, run_untiled = evaluate(tiled), evaluate(untiled)
    for height, width in [(64, 96), (72, 50)]:
        content, style, x = _random_images(height, width, seed=width)
        _, parts, grad = run_tiled(content, style, x)
        _, expected_parts, expected_grad = run_untiled(content, style, x)
        # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
        np.testing.assert_allclose(parts, expected_parts, rtol=1e-5)
        assert _relative(grad.numpy(), expected_grad.numpy()) <= 1e-4
    assert traces.count(tiled) == 1 and traces.count(untiled) == 1


def test_tiling_refuses_feature_terms_and_misaligned_tiles(shallow):
    with pytest.raises(InvalidArgumentError, match="expected extra loss terms that read only the image"):
        StyleObjective(shallow, SHALLOW_CONTENT, SHALLOW_STYLE, tile_size=32,
                       extra_loss_terms=[FeatureEnergy(layer_names=["block1_conv1"])])
    StyleObjective(shallow, SHALLOW_CONTENT, SHALLOW_STYLE,  # untiled: fine
                   extra_loss_terms=[FeatureEnergy(layer_names=["block1_conv1"])])
    with pytest.raises(InvalidArgumentError, match="expected tile_size a positive multiple of 16"):
        StyleObjective(FeatureExtractor(["block5_conv1"], backbone="vgg19", weights=None), {"block5_conv1": 1},
                       {"block5_conv1": 1}, tile_size=100)
    with pytest.raises(InvalidArgumentError, match="expected halo"):
        StyleObjective(shallow, SHALLOW_CONTENT, SHALLOW_STYLE, tile_size=32, halo=3)
    with pytest.raises(InvalidArgumentError, match="expected loss_form"):
        StyleObjective(shallow, SHALLOW_CONTENT, SHALLOW_STYLE, loss_form="l1")
