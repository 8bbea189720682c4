"""The exact tiled evaluation with region masks and both style statistics (vgg16-hed, odd size)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_nst.engine.backbones import FeatureExtractor
from tf_nst.engine.objective import StyleObjective

# Up to block3 (pooling grid 4 px, halo 16 px): many tiles on a small image, so the test stays quick.
CONTENT_LAYERS = {"block3_conv2": 1.0}
STYLE_LAYERS = {f"block{i}_conv1": 1.0 for i in range(1, 4)}
ANY_SIZE = tf.TensorSpec([1, None, None, 3], tf.float32)
ANY_MASK = tf.TensorSpec([1, None, None, 2], tf.float32)


@pytest.fixture(scope="module")
def hed():
    return FeatureExtractor(list(CONTENT_LAYERS) + list(STYLE_LAYERS), backbone="vgg16-hed")


def _inputs(height, width):
    rng = np.random.default_rng(height)
    content = rng.uniform(0, 255, (1, height, width, 3)).astype("float32")
    styles = [rng.uniform(0, 255, (1, 40, 52, 3)).astype("float32"),
              np.linspace(0, 255, 36 * 36 * 3).reshape(1, 36, 36, 3).astype("float32")]
    x = np.clip(content + rng.normal(0, 20, content.shape), 0, 255).astype("float32")
    # Two soft regions split by a diagonal ramp, and a band where no style applies.
    row, column = np.mgrid[0:height, 0:width]
    left = np.clip((width / 2 - column + 0.3 * row) / 6.0, 0.0, 1.0)
    masks = np.stack([left, (1.0 - left) * (row > 6)], -1)[None].astype("float32")
    return [tf.constant(value) for value in (content, *styles, x, masks)]


def _evaluate(objective, content, style_a, style_b, x, masks, weights):
    @tf.function(input_signature=[ANY_SIZE, ANY_SIZE, ANY_SIZE, ANY_SIZE, ANY_MASK])
    def run(content, style_a, style_b, x, masks):
        targets = objective.compute_targets(content, [style_a, style_b], tf.constant([0.3, 0.7]), region_masks=masks,
                                            style_image_masks=[None, masks[:, :36, :36, :1]])
        _, parts, grad = objective.value_and_grad(targets, *weights)(x)
        return parts, grad

    parts, grad = run(content, style_a, style_b, x, masks)
    return parts.numpy(), grad.numpy()


@pytest.mark.parametrize("statistic", ["gram", "mean-cov"])
def test_masked_tiled_equals_untiled_odd_size(hed, statistic):
    inputs = _inputs(61, 77)
    weights = (1.0, 10.0, 0.0)
    untiled = _evaluate(StyleObjective(hed, CONTENT_LAYERS, STYLE_LAYERS, style_statistic=statistic),
                        *inputs, weights)
    tiled_objective = StyleObjective(hed, CONTENT_LAYERS, STYLE_LAYERS, style_statistic=statistic, tile_size=24)
    assert tiled_objective.halo == 16 and tiled_objective.tile_count(61, 77) == 12
    tiled = _evaluate(tiled_objective, *inputs, weights)
    # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
    np.testing.assert_allclose(tiled[0], untiled[0], rtol=1e-5)
    assert np.linalg.norm(untiled[1]) > 0
    assert np.linalg.norm(tiled[1] - untiled[1]) / np.linalg.norm(untiled[1]) <= 1e-4
