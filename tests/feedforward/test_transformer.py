"""The feed-forward network: shapes at any size, config round trip, style mixing, model folders, inference."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from conftest import gradient_image
from tf_nst.engine.feedforward.rendering import FeedForward, apply_colors, feathered
from tf_nst.engine.masks import Regions
from tf_nst.engine.feedforward.model_files import load_model, save_model
from tf_nst.engine.feedforward.transformer import TransformerNet, style_weights_for
from tf_nst.errors import InvalidArgumentError, ModelError
from tf_nst.io.model_folders import read_model_info, resolve_model

STYLES = ["a", "b"]


def tiny(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return TransformerNet(STYLES, width=4, num_residual_blocks=1, **kwargs)


def randomize_norms(network, seed=1):
    """Distinct per-style scales and shifts (a fresh network has equal rows)."""
    rng = np.random.default_rng(seed)
    for variable in network.weights:
        if variable.path.endswith(("/scale", "/shift")):
            variable.assign(rng.normal(1.0 if variable.path.endswith("scale") else 0.0, 0.5, variable.shape))


@pytest.mark.parametrize("height, width", [(32, 32), (37, 50), (33, 61)])
def test_any_size_keeps_shape_and_range(height, width):
    network = tiny()
    out = network({"image": tf.fill([2, height, width, 3], 100.0), "style_weights": tf.constant([[1., 0.], [0., 1.]])})
    assert out.shape == (2, height, width, 3)
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 255.0


def test_config_round_trip_and_registered():
    network = tiny()
    config = network.get_config()
    assert set(config) == {"style_names", "width", "num_residual_blocks", "name", "dtype"}
    again = TransformerNet.from_config(config)
    assert again.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(network))
    assert isinstance(restored, TransformerNet) and restored.style_names == STYLES


def test_style_weights_mix_the_norm_parameters():
    """A 50/50 blend is the network whose scales and shifts are the rows' mean (Dumoulin et al.)."""
    network = tiny()
    randomize_norms(network)
    image = tf.constant(gradient_image(32, 40)[None], tf.float32)
    blended = network({"image": image, "style_weights": tf.constant([[0.5, 0.5]])})
    mean_network = tiny()
    for target, source in zip(mean_network.weights, network.weights):
        value = source.numpy()
        target.assign(np.repeat(value.mean(0, keepdims=True), 2, 0) if source.path.endswith(("/scale", "/shift"))
                      else value)
    expected = mean_network({"image": image, "style_weights": tf.constant([[1.0, 0.0]])})
    np.testing.assert_allclose(blended.numpy(), expected.numpy(), atol=1e-3)
    first = network({"image": image, "style_weights": tf.constant([[1.0, 0.0]])})
    assert float(tf.reduce_max(tf.abs(first - blended))) > 1.0


def test_style_weights_for_checks_names_and_weights():
    np.testing.assert_allclose(style_weights_for(STYLES, {"b": 3.0, "a": 1.0}).numpy(), [[0.25, 0.75]])
    np.testing.assert_allclose(style_weights_for(STYLES).numpy(), [[1.0, 0.0]])
    with pytest.raises(InvalidArgumentError, match=r"expected styles of the model \(a, b\). Received: c"):
        style_weights_for(STYLES, {"c": 1.0})
    with pytest.raises(InvalidArgumentError, match="not all zero"):
        style_weights_for(STYLES, {"a": 0.0})
    with pytest.raises(InvalidArgumentError, match="distinct style names"):
        TransformerNet(["a", "a"], width=4, num_residual_blocks=1)


def test_model_folder_round_trip_float16(tmp_path):
    network = tiny()
    randomize_norms(network)
    save_model(network, str(tmp_path / "m"), {"steps": 3})
    loaded, info = load_model(str(tmp_path / "m"))
    assert info["provenance"] == {"steps": 3} and loaded.style_names == STYLES
    image = tf.constant(gradient_image(32, 32)[None], tf.float32)
    weights = tf.constant([[0.0, 1.0]])
    np.testing.assert_allclose(loaded({"image": image, "style_weights": weights}).numpy(),
                               network({"image": image, "style_weights": weights}).numpy(), atol=1.0)
    assert resolve_model(str(tmp_path / "m")) == (str(tmp_path / "m"), None)


def test_not_a_model_folder(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(ModelError, match="expected a model folder with model.json"):
        read_model_info(str(tmp_path / "x"))
    (tmp_path / "x" / "model.json").write_text('{"format": "other"}')
    with pytest.raises(ModelError, match="of format 'tf-nst-feedforward'"):
        load_model(str(tmp_path / "x"))
    with pytest.raises(ModelError, match="Received: --model nothing_like_this"):
        resolve_model("nothing_like_this")


def test_masks_place_each_style_and_keep_the_photo():
    network = tiny()
    randomize_norms(network)
    runner = FeedForward(network)
    photo = gradient_image(40, 48, seed=2)
    left = np.zeros((40, 48), np.float32)
    left[:, :24] = 1.0
    styled_a = runner.stylize(photo, {"a": 1.0})
    styled_b = runner.stylize(photo, {"b": 1.0})
    only_a = runner.stylize(photo, {"a": 1.0}, regions=[left])  # edges feathered: sigma 1 px, 3 px reach
    np.testing.assert_array_equal(only_a[:, 28:], photo[:, 28:])
    np.testing.assert_allclose(only_a[:, :20].astype(int), styled_a[:, :20].astype(int), atol=1)
    both = runner.stylize(photo, {"a": 1.0, "b": 1.0}, regions=[left, 1.0 - left])
    np.testing.assert_allclose(both[:, 28:].astype(int), styled_b[:, 28:].astype(int), atol=1)
    exact = np.clip(np.round(runner.masked(photo, {"a": 1.0}, [left])), 0, 255).astype(np.uint8)  # unfeathered
    np.testing.assert_array_equal(exact[:, 24:], photo[:, 24:])
    with pytest.raises(InvalidArgumentError, match=r"expected one entry of masks per style \(1\). Received: 2"):
        runner.stylize(photo, {"a": 1.0}, regions=[left, left])


def test_region_masks_are_the_engines_regions_with_soft_edges():
    """The masks of `Regions` (luminance of RGB, checked), each feathered to the photo's size."""
    mask = np.zeros((40, 40), np.uint8)
    mask[:, 20:] = 255
    soft = feathered(Regions.build([mask], None, (80, 80), [(80, 80)]).region_masks, (80, 80, 3))[0]
    assert soft.shape == (80, 80)
    assert soft[40, 0] < 0.01 and soft[40, 79] > 0.99 and 0.2 < soft[40, 40] < 0.8
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 255
    assert Regions.build([red], None, (40, 40), [(40, 40)]).region_masks[0][0, 0] == np.float32(76 / 255)


def test_colours_are_kept():
    photo = gradient_image(32, 32, seed=3)
    grey = np.full_like(photo, 128)
    kept = apply_colors(grey, photo, "luminance")
    assert np.abs(kept.astype(int) - photo.astype(int)).mean() > 5  # the photo's chroma on a grey luminance
    assert apply_colors(grey, photo, "none") is grey


def test_renders_run_with_a_reflect_margin_cropped_off():
    """`FeedForward` renders the photo with its `FEEDFORWARD_BORDER_MARGIN` reflect margin and crops it off: the
    pixels of the network on the padded photo, cropped; not those of the bare photo (whose borders the network
    sees); an image smaller than the margin takes a smaller one."""
    from tf_nst.engine.feedforward.rendering import to_uint8, with_margin
    from tf_nst.settings.choices import FEEDFORWARD_BORDER_MARGIN

    network = TransformerNet(["a"], width=4, num_residual_blocks=1)
    photo = gradient_image(40, 52, seed=7)
    weights = tf.constant([[1.0]])
    margin = FEEDFORWARD_BORDER_MARGIN
    padded = np.pad(photo.astype(np.float32), [[margin, margin], [margin, margin], [0, 0]], mode="reflect")
    expected = to_uint8(network({"image": padded[None], "style_weights": weights})[0, margin:-margin, margin:-margin])
    rendered = FeedForward(network).stylize(photo, {"a": 1.0})
    np.testing.assert_array_equal(rendered, expected.numpy())
    bare = to_uint8(network({"image": photo[None].astype(np.float32), "style_weights": weights})[0]).numpy()
    assert np.abs(rendered.astype(int) - bare.astype(int)).max() > 0
    small, small_margin = with_margin(tf.zeros([1, 9, 30, 3]))
    assert int(small_margin) == 8 and small.shape == (1, 25, 46, 3)
