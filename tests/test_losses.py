import numpy as np
import pytest
import tensorflow as tf

from tf_nst.engine.losses import (
    content_loss, gram_matrix, normalized_squared_error, style_loss, total_variation_loss)


def numpy_gram(features):
    batch, height, width, channels = features.shape
    flat = features.reshape(batch, height * width, channels)
    return np.einsum("bpi,bpj->bij", flat, flat) / (height * width)


@pytest.fixture
def features():
    return np.random.default_rng(0).normal(size=(1, 7, 5, 4)).astype(np.float32)


def test_gram_matches_numpy(features):
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(gram_matrix(features).numpy(), numpy_gram(features), rtol=1e-5)


def test_gram_is_symmetric_and_float32_from_float16(features):
    gram = gram_matrix(tf.constant(features, tf.float16))
    assert gram.dtype == tf.float32
    np.testing.assert_allclose(gram.numpy(), np.transpose(gram.numpy(), (0, 2, 1)))


def test_gram_is_independent_of_spatial_size(features):
    # Tiling the same features 2x2 keeps the position-averaged Gram unchanged.
    tiled = np.tile(features, (1, 2, 2, 1))
    # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
    np.testing.assert_allclose(gram_matrix(tiled).numpy(), gram_matrix(features).numpy(), rtol=1e-5)


def test_content_loss_matches_numpy(features):
    target = features + np.random.default_rng(1).normal(size=features.shape).astype(np.float32)
    expected = np.sum((features - target) ** 2) / np.sum(target ** 2)
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(content_loss(features, target).numpy(), expected, rtol=1e-5)


def test_style_loss_matches_numpy(features):
    other = np.random.default_rng(1).normal(size=(1, 9, 3, 4)).astype(np.float32)
    target = numpy_gram(other)
    expected = np.sum((numpy_gram(features) - target) ** 2) / np.sum(target ** 2)
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(style_loss(features, target).numpy(), expected, rtol=1e-4)


def test_total_variation_matches_numpy():
    image = np.random.default_rng(0).uniform(0, 255, (1, 6, 8, 3)).astype(np.float32)
    unit = image / 255.0
    expected = np.mean(np.diff(unit, axis=1) ** 2) + np.mean(np.diff(unit, axis=2) ** 2)
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(total_variation_loss(image).numpy(), expected, rtol=1e-5)


def test_total_variation_zero_for_flat_image():
    assert float(total_variation_loss(np.full((1, 8, 8, 3), 77.0, np.float32))) == 0.0


def test_normalized_losses_are_scale_invariant(features):
    target = np.random.default_rng(3).normal(size=features.shape).astype(np.float32)
    base_content = content_loss(features, target).numpy()
    base_style = style_loss(features, numpy_gram(target)).numpy()
    for scale in (1e-3, 7.0, 1e4):
        # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
        np.testing.assert_allclose(content_loss(scale * features, scale * target).numpy(), base_content, rtol=1e-4)
        np.testing.assert_allclose(
            style_loss(scale * features, numpy_gram(scale * target)).numpy(), base_style, rtol=1e-4)


def test_normalized_error_is_zero_at_target_and_one_at_zero(features):
    assert float(normalized_squared_error(features, features)) == 0.0
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(normalized_squared_error(np.zeros_like(features), features).numpy(), 1.0, rtol=1e-6)


def test_published_loss_forms_match_numpy(features):
    from tf_nst.engine.losses import (
        jcjohnson_style_error, mean_squared_error, total_variation_abs, total_variation_squared_sum)

    other = np.random.default_rng(4).normal(size=features.shape).astype(np.float32)
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(mean_squared_error(features, other).numpy(), np.mean((features - other) ** 2), rtol=1e-5)
    gram, target = numpy_gram(features), numpy_gram(other)
    # neural_style.lua: Gram / (C*H*W), MSECriterion (mean over C*C).
    hw, channels = features.shape[1] * features.shape[2], features.shape[3]
    expected = np.mean((gram * hw / (channels * hw) - target * hw / (channels * hw)) ** 2)
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(jcjohnson_style_error(gram, target).numpy(), expected, rtol=1e-5)
    image = np.random.default_rng(0).uniform(0, 255, (1, 6, 8, 3)).astype(np.float32)
    unit = image / 255.0
    expected_abs = np.abs(np.diff(unit, axis=1)).sum() + np.abs(np.diff(unit, axis=2)).sum()
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(total_variation_abs(image).numpy(), expected_abs, rtol=1e-5)
    dx = image[:, :-1, :-1] - image[:, :-1, 1:]
    dy = image[:, :-1, :-1] - image[:, 1:, :-1]
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(total_variation_squared_sum(image).numpy(), 0.5 * np.sum(dx ** 2 + dy ** 2), rtol=1e-5)


def test_every_loss_form_setting_has_its_terms():
    from tf_nst.engine.losses import LOSS_FORM_TERMS
    from tf_nst.settings import LOSS_FORMS

    assert tuple(LOSS_FORM_TERMS) == LOSS_FORMS
