"""A trained style network on onnxruntime (`tf_nst.engine.feedforward_onnx`): the same image as the TensorFlow
path at float32, and `stylize PHOTO --model NAME` without importing TensorFlow.

Tolerance (conftest's class T4, two float32 implementations of the same layers): the bundled model's uint8
images differ where float rounding moves a pixel across a rounding boundary; measured at most 1 grey level,
0.0003 on average (Xeon AMX, 300×200 and 512 px, one style and a blend); compared at 2 and 0.03 as
tests/feedforward/test_arbitrary_runtime.py compares the arbitrary network's runtimes. The steps around the
network (margin, stroke scale, masks, colours) are the same math in numpy and TensorFlow."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT
from test_cli_before_tensorflow import REPORTING_CLI
from tf_nst.cli import app as cli
from tf_nst.engine.feedforward_onnx import OnnxFeedForward
from tf_nst.errors import ModelError
from tf_nst.io.images import load_image
from tf_nst.io.provenance import read_png_text
from tf_nst.runs.realtime import ModelRun, planned_runtime

pytest.importorskip("onnxruntime")

PHOTO = os.path.join(ROOT, "tf_nst", "assets", "astronaut.png")
IMAGE_MAX, IMAGE_MEAN = 2, 0.03  # grey levels, see above


def settings_of(path):
    return json.loads(read_png_text(str(path))["tf_nst:settings"])


@pytest.fixture(scope="module")
def runs():
    return {runtime: ModelRun("bundled", precision="float32", runtime=runtime, stroke_size=256)
            for runtime in ("tensorflow", "onnxruntime")}


@pytest.mark.parametrize("size, options", [
    (96, {"blend": {"starry_night": 1.0}}),
    (160, {"blend": {"the_scream": 0.3, "shipwreck": 0.7}, "preserve_colors": "luminance"}),
    (320, {"blend": {"starry_night": 0.5, "shipwreck": 0.5}}),  # over the stroke size: scaled down, rendered, up
])
def test_onnxruntime_gives_the_tensorflow_image(runs, size, options):
    photo = load_image(PHOTO).rgb[:, 40:]
    images = {runtime: run.stylize(photo, size, **options).astype(np.int32) for runtime, run in runs.items()}
    assert images["onnxruntime"].shape == images["tensorflow"].shape
    difference = np.abs(images["onnxruntime"] - images["tensorflow"])
    assert difference.max() <= IMAGE_MAX and difference.mean() <= IMAGE_MEAN, (difference.max(), difference.mean())


def test_regions_on_onnxruntime_are_the_tensorflow_regions(runs):
    left = np.zeros((64, 64), np.uint8)
    left[:, :32] = 255
    images = {runtime: run.stylize(load_image(PHOTO).rgb, 128, {"starry_night": 1, "the_scream": 1},
                                   region_masks=[left, 255 - left]).astype(np.int32) for runtime, run in runs.items()}
    difference = np.abs(images["onnxruntime"] - images["tensorflow"])
    assert difference.max() <= IMAGE_MAX and difference.mean() <= IMAGE_MEAN
    one = runs["onnxruntime"].stylize(load_image(PHOTO).rgb, 128, {"starry_night": 1}).astype(np.int32)
    assert np.abs(images["onnxruntime"][:, :40] - one[:, :40]).mean() < 2  # the left: Starry Night alone
    assert np.abs(images["onnxruntime"][:, 90:] - one[:, 90:]).mean() > 10  # the right: The Scream


def test_the_runtime_rule():
    assert planned_runtime("starry_night") == "onnxruntime"
    assert planned_runtime("starry_night", precision="bfloat16") == "tensorflow"
    assert planned_runtime("starry_night", runtime="tensorflow") == "tensorflow"
    # At the stroke scale a pass stays small; at its own size a huge photo takes TensorFlow's tiles.
    assert planned_runtime("starry_night", pixels=8192 * 8192) == "onnxruntime"
    assert planned_runtime("starry_night", pixels=8192 * 8192, stroke_size=0) == "tensorflow"


def test_stylize_with_a_model_runs_without_tensorflow(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", REPORTING_CLI, "stylize", PHOTO, "--model", "starry_night", "--size",
                             "96", "-o", str(tmp_path / "onnx.png")], capture_output=True, text=True, cwd=tmp_path,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "tensorflow imported: False"
    assert "float32 on onnxruntime" in result.stderr
    settings = settings_of(tmp_path / "onnx.png")
    assert (settings["runtime"], settings["precision"], settings["stroke_size"]) == ("onnxruntime", "float32", 512)
    output = tmp_path / "bf16.png"
    result = CliRunner().invoke(cli.cli, ["stylize", PHOTO, "--model", "starry_night", "--size", "96",
                                          "--precision", "bfloat16", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert settings_of(output)["runtime"] == "tensorflow"


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(os.path.join(ROOT, "tf_nst", "assets", "models", "bundled"), folder)
    info = json.loads((folder / "model.json").read_text())
    info["config"]["width"] = 16
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelError, match="expected 62 weights fitting width 16, 5 residual blocks and 3 styles"):
        OnnxFeedForward(folder)
