"""Library-level bad input: parameters, odd image sizes, weights files, Ctrl-C inside `Stylizer.stylize`."""

import math

import keras
import numpy as np
import pytest

from conftest import gradient_image
from tf_nst.engine.backbones import FeatureExtractor, build_vgg
from tf_nst.errors import ImageError, InvalidArgumentError, NSTError, WeightsError
from tf_nst.engine.stylizer import Stylizer

LAYERS = {"content_layers": ["block2_conv1"], "style_layers": ["block1_conv1", "block2_conv1"]}


@pytest.fixture(scope="module")
def stylizer():
    return Stylizer(backbone="vgg19", weights=None, size=32, num_steps=4, **LAYERS)


BAD_SETTINGS = {
    "negative_content_weight": ({"content_weight": -1.0}, "Received: content_weight=-1.0"),
    "nan_style_weight": ({"style_weight": math.nan}, "Received: style_weight=nan"),
    "text_tv_weight": ({"tv_weight": "1"}, "Received: tv_weight='1'"),
    "zero_steps": ({"num_steps": 0}, "Received: num_steps=0"),
    "huge_steps": ({"num_steps": 10**7}, "Received: num_steps=10000000"),
    "float_steps": ({"num_steps": 2.5}, "Received: num_steps=2.5"),
    "zero_size": ({"size": 0}, "Received: size=0"),
    "small_size": ({"size": 16}, "Received: size=16"),
    "zero_scales": ({"scales": 0}, "Received: scales=0"),
    "decreasing_scales": ({"scales": [64, 32], "size": 32}, "Received: scales=[64, 32]"),
    "zero_style_scale": ({"style_scale": 0}, "Received: style_scale=0"),
    "negative_layer_weight": ({"style_layers": {"block1_conv1": -1}}, "Received: style_layers="),
    "no_content_layers": ({"content_layers": []}, "Received: content_layers=[]"),
    "unknown_backbone": ({"backbone": "resnet50"}, "Received: backbone='resnet50'"),
    "unknown_pooling": ({"pooling": "min"}, "Received: pooling='min'"),
    "unknown_optimizer": ({"optimizer": "sgd"}, "sgd"),
    "negative_learning_rate": ({"learning_rate": -1.0}, "Received: learning_rate=-1.0"),
    "unknown_preprocessing": ({"preprocessing": "tf"}, "Received: preprocessing='tf'"),
    "blend_negative": ({"style_blend": [-1.0]}, "Received: style_blend=[-1.0]"),
    "blend_zero": ({"style_blend": [0.0]}, "Received: style_blend=[0.0]"),
    "unknown_setting": ({"steps": 3}, "Received: steps"),
    "max_memory_text": ({"max_memory": "lots"}, "Received: max_memory='lots'"),
    "tile_too_small": ({"tile_size": 16}, "Received: tile_size=16"),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_bad_setting_raises_value_error(case):
    settings, received = BAD_SETTINGS[case]
    kwargs = {"backbone": "vgg19", "weights": None, "size": 32, "num_steps": 2, **LAYERS, **settings}
    with pytest.raises(InvalidArgumentError) as info:
        Stylizer(**kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, NSTError)
    message = str(info.value)
    assert message.startswith("expected "), message
    assert received in message


def test_unknown_layer_lists_valid_ones():
    with pytest.raises(InvalidArgumentError) as info:
        Stylizer(backbone="vgg16", weights=None, content_layers=["block4_conv2"], style_layers=["conv9"])
    message = str(info.value)
    assert message.startswith("expected layer names of the backbone, one of block1_conv1, block1_conv2, ")
    assert "block5_conv3" in message and "block5_conv4" not in message  # VGG16's list, not VGG19's
    assert message.endswith("Received: unknown layers conv9")


def test_unknown_layers_checked_before_weights_are_fetched(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("weights fetched before the layer names were checked")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    with pytest.raises(InvalidArgumentError):
        build_vgg("vgg19", layer_names=["nope"])


BAD_CALLS = {
    "no_styles": ({"styles": []}, "expected at least one style image. Received: styles=[]"),
    "gray_array": ({"content": np.zeros((32, 32), np.uint8)}, "Received: shape=(32, 32), dtype=uint8"),
    "float_array": ({"content": np.zeros((32, 32, 3), np.float32)}, "dtype=float32"),
    "rgba_array": ({"content": np.zeros((32, 32, 4), np.uint8)}, "shape=(32, 32, 4)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_stylize_call(stylizer, case):
    overrides, expected = BAD_CALLS[case]
    arguments = {"content": gradient_image(32, 32), "styles": [gradient_image(32, 32, seed=3)], **overrides}
    with pytest.raises(InvalidArgumentError, match="^expected ") as info:
        stylizer.stylize(arguments.pop("content"), arguments.pop("styles"), **arguments)
    assert expected in str(info.value)


def test_one_blend_weight_per_style():
    stylizer = Stylizer(backbone="vgg19", weights=None, size=32, num_steps=1, style_blend=[1.0, 2.0], **LAYERS)
    with pytest.raises(InvalidArgumentError, match=r"^expected one blend weight per style \(1\)"):
        stylizer.stylize(gradient_image(32, 32), [gradient_image(32, 32, seed=3)])


@pytest.mark.parametrize("side", [1, 8])
def test_tiny_images_are_upscaled_with_a_note(stylizer, side):
    tiny = gradient_image(side, side)
    result = stylizer.stylize(tiny, [tiny])
    assert result.image.shape == (32, 32, 3)
    assert f"image: {side}x{side} is smaller than the backbone's minimum side 32; upscaled" in result.notes
    assert np.isfinite(result.best_loss)


def test_extreme_aspect_ratio_is_an_image_error(stylizer):
    with pytest.raises(ImageError) as info:
        stylizer.stylize(np.zeros((2, 200, 3), np.uint8), [gradient_image(32, 32)])
    assert str(info.value) == "image: is 200x2, expected an aspect ratio of at most 64:1"


def test_wide_but_reasonable_image_works(stylizer):
    content = gradient_image(4, 64)  # red rises from left to right
    result = stylizer.stylize(content, [gradient_image(32, 32, seed=5)])
    assert result.image.shape == (32, 512, 3)  # upscaled to the minimum side, aspect ratio kept
    assert "image: 64x4 is smaller than the backbone's minimum side 32; upscaled" in result.notes
    # The optimization ran on the whole strip: the loss went down and the layout is the content's.
    assert result.best_loss < result.history[0, 0] and np.isfinite(result.history).all()
    red = result.image[..., 0].astype(float)
    assert red[:, -128:].mean() > red[:, :128].mean() + 100


def test_missing_image_path_is_an_image_error(stylizer, tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        stylizer.stylize(str(tmp_path / "nope.png"), [gradient_image(32, 32)])


# --- Ctrl-C -----------------------------------------------------------------------------------

def test_interrupt_between_chunks_keeps_best_image(stylizer):
    calls = []

    def interrupt(progress):
        calls.append(progress.step)
        raise KeyboardInterrupt

    result = stylizer.stylize(gradient_image(32, 32), [gradient_image(32, 32, seed=3)], callback=interrupt,
                              chunk_steps=2)
    assert result.interrupted and result.steps == 2 and calls == [2]
    assert result.notes == ["interrupted after 2 steps"]
    assert result.image.shape == (32, 32, 3) and result.image.dtype == np.uint8


def test_interrupt_before_any_step_propagates(monkeypatch):
    stylizer = Stylizer(backbone="vgg19", weights=None, size=32, num_steps=2, **LAYERS)

    def interrupted_targets(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stylizer, "targets", interrupted_targets)
    with pytest.raises(KeyboardInterrupt):
        stylizer.stylize(gradient_image(32, 32), [gradient_image(32, 32)])


def test_interrupt_while_building_next_scale_keeps_coarse_result():
    stylizer = Stylizer(backbone="vgg19", weights=None, size=64, scales=2, num_steps=2, **LAYERS)
    real_targets = stylizer.targets
    calls = []

    def targets_then_interrupt(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_targets(*args)

    stylizer.targets = targets_then_interrupt
    result = stylizer.stylize(gradient_image(64, 64), [gradient_image(64, 64)])
    assert result.interrupted and result.steps == 2
    assert result.image.shape == (32, 32, 3)
    assert result.notes == ["interrupted after 2 steps"]


# --- weights ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("weights")
    (directory / "random.h5").write_bytes(bytes(range(256)) * 16)
    (directory / "random.weights.h5").write_bytes(bytes(range(256)) * 16)
    (directory / "weights.bin").write_bytes(b"\0" * 64)
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3)).save_weights(
        str(directory / "vgg16.weights.h5"))
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    small.save_weights(str(directory / "dense.weights.h5"))
    vgg19 = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    vgg19.save_weights(str(directory / "vgg19.weights.h5"))
    return directory


@pytest.mark.parametrize("name, received", [
    ("random.h5", "Received: Unable to synchronously open file (file signature not found)"),
    ("random.weights.h5", "Received: Unable to synchronously open file (file signature not found)"),
    ("weights.bin", "Received: File format not supported: filepath="),
    ("vgg16.weights.h5", "could not be loaded"),
    ("dense.weights.h5", "could not be loaded"),
])
def test_unusable_weights_file_is_a_weights_error(weights_dir, name, received):
    path = str(weights_dir / name)
    with pytest.raises(WeightsError) as info:
        FeatureExtractor(["block1_conv1"], backbone="vgg19", weights=path)
    message = str(info.value)
    assert message.startswith(f"could not load weights from {path}: expected a Keras weights file "
                              "(.h5 or .weights.h5) for vgg19 with include_top=False. ")
    assert received in message
    assert "\n" not in message and len(message) < 600


def test_vgg19_weights_refused_by_vgg16(weights_dir):
    with pytest.raises(WeightsError, match="for vgg16 with include_top=False"):
        build_vgg("vgg16", weights=str(weights_dir / "vgg19.weights.h5"), layer_names=["block1_conv1"])


def test_matching_weights_file_loads(weights_dir):
    extractor = FeatureExtractor(["block1_conv1"], backbone="vgg19", weights=str(weights_dir / "vgg19.weights.h5"))
    assert extractor(np.zeros((1, 32, 32, 3), "float32"))["block1_conv1"].shape == (1, 32, 32, 64)


def test_offline_imagenet_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(WeightsError) as info:
        build_vgg("vgg19", layer_names=["block1_conv1"])
    message = str(info.value)
    assert not isinstance(info.value, ValueError)
    assert f"place it at {tmp_path}/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5." in message
    assert "--weights PATH (Python: weights=PATH)" in message
    assert "no network" in message


def test_missing_weights_path(tmp_path):
    with pytest.raises(WeightsError, match=r"^expected a weights file\. Received: weights=.*nope\.h5 \(no such file\)$"):
        build_vgg("vgg19", weights=str(tmp_path / "nope.h5"), layer_names=["block1_conv1"])
