"""The arbitrary-style network: feature transforms, decoders, training, its folder (random weights)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_nst.engine.feedforward.arbitrary import (ArbitraryStylizer, FeatureInverter, InverterTrainer, adain,
                                                 batch_whiten_colour, covariance_roots, load_inverter,
                                                 moment_distance, save_inverter, style_statistics, whiten_colour)
from tf_nst.errors import InvalidArgumentError, ModelError
from tf_nst.io.model_folders import is_arbitrary, read_model_info


def _features(seed, shape=(12, 10, 6)):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(shape[-1], shape[-1]))
    return tf.constant(rng.normal(size=shape) @ mixing + rng.normal(size=shape[-1]), tf.float32)


def _moments(features):
    flat = features.numpy().reshape(-1, features.shape[-1])
    return flat.mean(0), np.cov(flat, rowvar=False)


def test_wct_gives_the_painting_mean_and_covariance():
    content, style = _features(0), _features(1, (9, 7, 6))
    moved = whiten_colour(content, style_statistics(style, "wct"))
    mean, covariance = _moments(moved)
    style_mean, style_covariance = _moments(style)
    np.testing.assert_allclose(mean, style_mean, atol=1e-3)
    np.testing.assert_allclose(covariance, style_covariance, rtol=2e-3, atol=2e-3 * np.abs(style_covariance).max())


def test_batch_wct_is_each_images_wct():
    contents = tf.stack([_features(10), _features(11)])
    styles = tf.stack([_features(12, (9, 7, 6)), _features(13, (9, 7, 6))])
    moved = batch_whiten_colour(contents, styles).numpy()
    for index in range(2):
        one = whiten_colour(contents[index], style_statistics(styles[index], "wct")).numpy()
        np.testing.assert_allclose(moved[index], one, rtol=1e-3, atol=1e-3 * np.abs(one).max())


def test_moment_distance_is_zero_only_for_equal_moments():
    features = _features(14)[None]
    assert float(moment_distance(features, features)) < 1e-6
    assert float(moment_distance(features * 2.0 + 1.0, features)) > 0.1


def test_the_transfer_loss_trains_the_decoders_toward_other_photos_statistics():
    inverter = FeatureInverter(backbone="vgg16", weights=None, levels=2)
    inverter.build()
    photos = tf.constant(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)), tf.float32)
    plain = InverterTrainer(inverter)
    plain.compile(optimizer="adam")
    assert "transfer_content1" not in plain.train_step(photos)
    trainer = InverterTrainer(inverter, transfer_weight=0.5, transfer_levels=(2,))
    trainer.compile(optimizer="adam")
    metrics = trainer.train_step(photos)
    assert sorted(name for name in metrics if name.startswith("transfer")) == ["transfer_content2",
                                                                               "transfer_style2"]
    recon = sum(float(metrics[f"pixel{level}"]) + float(metrics[f"feature{level}"]) for level in (1, 2))
    transfer = float(metrics["transfer_content2"]) + float(metrics["transfer_style2"])
    np.testing.assert_allclose(float(metrics["loss"]), recon + 0.5 * transfer, rtol=1e-4)


def test_adain_gives_the_painting_mean_and_deviation_per_channel():
    content, style = _features(2), _features(3, (9, 7, 6))
    moved = adain(content, style_statistics(style, "adain")).numpy().reshape(-1, 6)
    flat = style.numpy().reshape(-1, 6)
    np.testing.assert_allclose(moved.mean(0), flat.mean(0), atol=1e-3)
    np.testing.assert_allclose(moved.std(0), flat.std(0), rtol=1e-3)


def test_a_flat_painting_gives_finite_features():
    flat_style = tf.fill([8, 8, 6], 3.0)
    moved = whiten_colour(_features(4), style_statistics(flat_style, "wct"))
    assert np.all(np.isfinite(moved.numpy()))
    np.testing.assert_allclose(moved.numpy(), 3.0, atol=1e-2)


def test_region_weights_restrict_the_content_statistics():
    content = _features(5)
    weights = tf.constant(np.r_[np.ones(60), np.zeros(60)], tf.float32)
    mean_all, _, _ = covariance_roots(tf.transpose(tf.reshape(content, [-1, 6])))
    mean_half, _, _ = covariance_roots(tf.transpose(tf.reshape(content, [-1, 6])), weights)
    np.testing.assert_allclose(mean_half.numpy()[:, 0], content.numpy().reshape(-1, 6)[:60].mean(0), atol=1e-4)
    assert not np.allclose(mean_all.numpy(), mean_half.numpy())


def test_decoders_mirror_the_backbone_back_to_rgb():
    inverter = FeatureInverter(backbone="vgg16", weights=None, levels=3)
    images = np.random.default_rng(0).uniform(0, 255, (1, 40, 48, 3)).astype("float32")
    for level in (1, 2, 3):
        features = inverter.encode(images, level)
        assert features.shape[1:3] == (40 // 2 ** (level - 1), 48 // 2 ** (level - 1))
        assert inverter.decode(level, features).shape == (1, 40, 48, 3)


def test_a_bad_backbone_or_level_is_refused():
    with pytest.raises(InvalidArgumentError, match="expected backbone one of"):
        FeatureInverter(backbone="resnet", weights=None)
    with pytest.raises(InvalidArgumentError, match="expected levels from 1 to 4"):
        FeatureInverter(backbone="vgg16", weights=None, levels=5)
    with pytest.raises(InvalidArgumentError, match="expected transform one of"):
        ArbitraryStylizer(FeatureInverter(backbone="vgg16", weights=None, levels=1), transform="gram")


def test_stylize_keeps_the_photo_size_and_range():
    stylizer = ArbitraryStylizer(FeatureInverter(backbone="vgg16", weights=None, levels=2))
    rng = np.random.default_rng(1)
    photo, painting = rng.uniform(0, 255, (36, 44, 3)), rng.uniform(0, 255, (30, 30, 3))
    out = stylizer.stylize(photo, [painting, painting], blend=[0.5, 0.5]).numpy()
    assert out.shape == (36, 44, 3)
    assert out.min() >= 0 and out.max() <= 255


def test_a_region_of_nothing_leaves_the_photo_features():
    """Weights of zero everywhere give the strength-0 image: the photo's features, decoded."""
    stylizer = ArbitraryStylizer(FeatureInverter(backbone="vgg16", weights=None, levels=1))
    rng = np.random.default_rng(2)
    photo, painting = rng.uniform(0, 255, (16, 16, 3)), rng.uniform(0, 255, (16, 16, 3))
    none = stylizer.stylize(photo, [painting], region_weights=[np.zeros((16, 16), np.float32)]).numpy()
    photo_only = stylizer.stylize(photo, [painting], strength=0.0).numpy()
    np.testing.assert_allclose(none, photo_only, atol=1e-3)


def test_folder_round_trip(tmp_path):
    inverter = FeatureInverter(backbone="vgg16", weights=None, levels=2)
    inverter.build()
    folder = tmp_path / "mine"
    save_inverter(inverter, folder, {"steps": 3})
    assert is_arbitrary(read_model_info(folder))
    loaded, info = load_inverter(folder, precision="float32", weights=None)
    assert info["provenance"] == {"steps": 3}
    for before, after in zip(inverter.decoders[1].weights, loaded.decoders[1].weights):
        np.testing.assert_array_equal(before.numpy().astype(np.float16), after.numpy())


def test_a_styles_model_is_not_an_arbitrary_network(model_folder):
    with pytest.raises(ModelError, match="expected an arbitrary-style network folder"):
        load_inverter(model_folder, weights=None)


def test_any_photo_size_comes_back_whole():
    """Sizes that are not multiples of the pooling grid are padded and cropped back."""
    stylizer = ArbitraryStylizer(FeatureInverter(backbone="vgg16", weights=None, levels=3))
    rng = np.random.default_rng(3)
    out = stylizer.stylize(rng.uniform(0, 255, (37, 45, 3)), [rng.uniform(0, 255, (20, 24, 3))],
                           region_weights=[np.ones((37, 45), np.float32)])
    assert out.shape == (37, 45, 3)
