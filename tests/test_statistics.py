"""Style statistics: weighted position sums, the Gram and the mean + covariance (Wasserstein-2) losses."""

import numpy as np
import pytest
import tensorflow as tf

from tf_nst.engine.backbones import FeatureExtractor
from tf_nst.engine.losses import gram_matrix, normalized_squared_error
from tf_nst.engine.objective import StyleObjective
from tf_nst.engine.statistics import STATISTICS, get_statistic, position_sums
from tf_nst.errors import InvalidArgumentError

SHALLOW_CONTENT = {"block2_conv2": 1.0}
SHALLOW_STYLE = {"block1_conv1": 1.0, "block2_conv1": 0.5}


def _sqrtm(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.maximum(values, 0))) @ vectors.T


def _w2(mean_a, cov_a, mean_b, cov_b):
    """W2² between two Gaussians, from numpy's eigh (the textbook formula)."""
    root_b = _sqrtm(cov_b)
    return (np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
            - 2 * np.trace(_sqrtm(root_b @ cov_a @ root_b)))


def _target(statistic, flat, weights=None):
    return statistic.target(statistic.moments(position_sums(tf.constant(flat), weights, statistic.with_first)))


def test_weighted_position_sums_are_the_weighted_moments():
    rng = np.random.default_rng(0)
    flat = rng.normal(size=(50, 4)).astype("float32")
    weights = rng.uniform(size=(50, 2)).astype("float32")
    sums = position_sums(tf.constant(flat), tf.constant(weights))
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(sums["count"], weights.sum(0), rtol=1e-5)
    np.testing.assert_allclose(sums["first"], weights.T @ flat, rtol=1e-4, atol=1e-5)
    for region in range(2):
        np.testing.assert_allclose(sums["second"][region], (flat * weights[:, [region]]).T @ flat,
                                   rtol=1e-4, atol=1e-4)
    unweighted = position_sums(tf.constant(flat))
    np.testing.assert_allclose(unweighted["second"][0], flat.T @ flat, rtol=1e-5, atol=1e-4)


def test_gram_statistic_is_the_normalized_gram_error():
    rng = np.random.default_rng(1)
    features = tf.constant(rng.uniform(0, 5, (1, 6, 7, 3)).astype("float32"))
    style = tf.constant(rng.uniform(0, 5, (1, 5, 5, 3)).astype("float32"))
    gram = STATISTICS["gram"]
    target = _target(gram, tf.reshape(style, [-1, 3]))
    # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
    np.testing.assert_allclose(target, gram_matrix(style), rtol=1e-6)
    loss = gram.region_losses(position_sums(tf.reshape(features, [-1, 3]), with_first=False), target,
                              normalized_squared_error)
    np.testing.assert_allclose(loss[0], normalized_squared_error(gram_matrix(features), gram_matrix(style)),
                               rtol=1e-5)


def test_mean_cov_loss_is_the_wasserstein_distance_over_the_style_energy():
    rng = np.random.default_rng(2)
    a = (rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5)) + 3.0).astype("float32")
    b = (rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) - 1.0).astype("float32")
    statistic = STATISTICS["mean-cov"]
    target = _target(statistic, b)
    loss = statistic.region_losses(position_sums(tf.constant(a)), target)[0].numpy()
    cov_a, cov_b = np.cov(a.T, bias=True), np.cov(b.T, bias=True)
    expected = _w2(a.mean(0), cov_a, b.mean(0), cov_b)
    energy = np.trace(cov_b) + np.sum(b.mean(0) ** 2)
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    assert loss == pytest.approx(expected / energy, rel=1e-4)
    assert float(statistic.region_losses(position_sums(tf.constant(b)), target)[0]) == pytest.approx(0.0, abs=1e-5)


def test_an_empty_region_has_no_loss_and_no_nan():
    flat = tf.constant(np.random.default_rng(3).normal(size=(20, 3)).astype("float32"))
    weights = tf.concat([tf.ones([20, 1]), tf.zeros([20, 1])], 1)
    for statistic in STATISTICS.values():
        target = _target(statistic, flat, tf.ones([20, 2]))
        with tf.GradientTape() as tape:
            tape.watch(flat)
            losses = statistic.region_losses(position_sums(flat * 2.0, weights, statistic.with_first), target,
                                             normalized_squared_error)
            total = tf.reduce_sum(losses)
        grad = tape.gradient(total, flat)
        assert losses[1] == 0.0 and losses[0] > 0.0
        assert np.all(np.isfinite(grad.numpy())) and np.abs(grad.numpy()).max() > 0


def test_mean_cov_gradient_has_no_nan_with_dead_channels():
    """Constant regions leave ReLU channels dead: singular covariances on both sides."""
    extractor = FeatureExtractor(list(SHALLOW_CONTENT) + list(SHALLOW_STYLE), backbone="vgg19", weights=None)
    objective = StyleObjective(extractor, SHALLOW_CONTENT, SHALLOW_STYLE, style_statistic="mean-cov")
    flat_grey = np.full((1, 40, 48, 3), 128.0, np.float32)
    x = flat_grey.copy()
    x[:, :, 24:] = np.random.default_rng(4).uniform(0, 255, (1, 40, 24, 3))
    style = np.zeros((1, 32, 32, 3), np.float32)  # black: most channels dead, Σₛ singular
    style[:, 8:16, 8:16] = 255.0
    targets = objective.compute_targets(tf.constant(flat_grey), [tf.constant(style)], tf.ones([1]))
    covariance = targets["style"]["block1_conv1"]["root"].numpy()[0]
    assert np.linalg.matrix_rank(covariance, tol=1e-6 * np.abs(covariance).max()) < covariance.shape[0]
    for image in (tf.constant(x), tf.constant(flat_grey)):
        _, parts, grad = objective.value_and_grad(targets, 1.0, 10.0, 1.0)(image)
        assert np.all(np.isfinite(parts.numpy())) and np.all(np.isfinite(grad.numpy()))
        assert np.abs(grad.numpy()).max() > 0


def test_unknown_statistic_and_unnormalized_mean_cov_are_refused():
    with pytest.raises(InvalidArgumentError, match="expected style_statistic one of gram, mean-cov"):
        get_statistic("moments")
    extractor = FeatureExtractor(list(SHALLOW_STYLE), backbone="vgg19", weights=None)
    with pytest.raises(InvalidArgumentError, match="expected loss_form='normalized'"):
        StyleObjective(extractor, {"block1_conv1": 1.0}, SHALLOW_STYLE, loss_form="jcjohnson",
                       style_statistic="mean-cov")


def test_mean_cov_with_bfloat16_convolutions_stays_float32_and_close():
    layers = list(SHALLOW_CONTENT) + list(SHALLOW_STYLE)
    full = FeatureExtractor(layers, backbone="vgg19", weights=None)
    half = FeatureExtractor(layers, backbone="vgg19", weights=None, precision="bfloat16")
    half.model.set_weights(full.model.get_weights())
    rng = np.random.default_rng(5)
    content, style = (tf.constant(rng.uniform(0, 255, (1, 32, 40, 3)).astype("float32")) for _ in range(2))
    parts = []
    for extractor in (full, half):
        objective = StyleObjective(extractor, SHALLOW_CONTENT, SHALLOW_STYLE, style_statistic="mean-cov")
        targets = objective.compute_targets(content, [style], tf.ones([1]))
        _, values, grad = objective.value_and_grad(targets, 1.0, 10.0, 1.0)(content)
        assert values.dtype == tf.float32 and np.all(np.isfinite(grad.numpy()))
        parts.append(values.numpy())
    # tolerance T4 (see conftest.py): equal only approximately by design (bf16 convolutions against float32: bf16 keeps 8 bits, ~0.4 % per value).
    np.testing.assert_allclose(parts[1][2], parts[0][2], rtol=0.05)  # the style part
    assert parts[0][2] > 0
