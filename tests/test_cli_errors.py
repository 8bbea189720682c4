"""`cli.py stylize` against bad input, bad parameters, faults and Ctrl-C: one `Error:` line, nothing lost."""

import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import image_corpus as corpus
from conftest import ROOT, STYLE_PATH
from image_corpus import BAD_IMAGES
from tf_nst.cli import app as cli
from tf_nst.cli.feedback import ProgressReporter

FAST = ["--size", "32", "--steps", "2", "--quiet"]
HED = ["--backbone", "vgg16-hed"]


def run(*args):
    return CliRunner().invoke(cli.cli, ["stylize", *map(str, args)])


def last_line(result):
    return result.output.strip().splitlines()[-1]


def temporaries(directory):
    return [name for name in os.listdir(directory) if name.startswith(".tmp-")]


@pytest.fixture
def no_stylizer(monkeypatch):
    """Fail the test if the CLI gets as far as building a model."""
    import tf_nst.engine.stylizer

    def refuse(*args, **kwargs):
        raise AssertionError("Stylizer was built: the check should have failed before")

    monkeypatch.setattr(tf_nst.engine.stylizer, "Stylizer", refuse)


@pytest.fixture
def good_image(tmp_path):
    return corpus.write_webp(str(tmp_path))


# --- bad images -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["content", "style"])
@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_image_one_error_line(tmp_path, good_image, no_stylizer, case, role):
    writer, problem = BAD_IMAGES[case]
    bad = writer(str(tmp_path))
    output = tmp_path / "out.png"
    images = [bad, good_image] if role == "content" else [good_image, bad]
    result = run(*images, "-o", output, *FAST)
    assert result.exit_code == 1, result.output
    assert last_line(result) == f"Error: {bad}: {problem}"
    assert "Traceback" not in result.output
    assert not output.exists()
    assert temporaries(tmp_path) == []


def test_decompression_bomb_names_cap_and_flag(tmp_path, good_image, no_stylizer):
    bomb = corpus.write_bomb(str(tmp_path))
    result = run(bomb, good_image, "-o", tmp_path / "out.png", *FAST)
    assert result.exit_code == 1
    assert last_line(result) == (
        f"Error: {bomb}: image is 20000x20000 = 400000000 pixels, expected at most 100000000 "
        "(raise the cap with --max-input-pixels; Python: max_input_pixels=)")


def test_max_input_pixels_flag(tmp_path, good_image, no_stylizer):
    result = run(good_image, good_image, "-o", tmp_path / "out.png", "--max-input-pixels", 100, *FAST)
    assert result.exit_code == 1
    assert last_line(result).startswith(f"Error: {good_image}: image is 48x32 = 1536 pixels, expected at most 100 ")
    result = run(good_image, good_image, "-o", tmp_path / "out.png", "--max-input-pixels", 0, *FAST)
    assert result.exit_code == 2
    assert "--max-input-pixels" in last_line(result)


def test_bad_init_image(tmp_path, good_image, no_stylizer):
    bad = corpus.write_text_as_jpg(str(tmp_path))
    result = run(good_image, good_image, "--init", bad, "-o", tmp_path / "out.png", *FAST)
    assert result.exit_code == 1
    assert last_line(result) == f"Error: {bad}: {corpus.NOT_RECOGNISED}"


def test_extreme_aspect_ratio_refused_clearly(tmp_path, good_image):
    path = str(tmp_path / "sliver.png")
    Image.fromarray(np.zeros((1, 100, 3), np.uint8)).save(path)
    output = tmp_path / "out.png"
    result = run(path, good_image, "-o", output, *HED, *FAST)
    assert result.exit_code == 1, result.output
    assert last_line(result) == f"Error: {path}: is 100x1, expected an aspect ratio of at most 64:1"
    assert not output.exists() and temporaries(tmp_path) == []


# --- parameters -----------------------------------------------------------------------------

PARAMETER_CASES = {
    "steps_zero": (["--steps", "0"], "Invalid value for '--steps': 0 is not in the range 1<=x<=100000."),
    "steps_huge": (["--steps", "1000000"],
                   "Invalid value for '--steps': 1000000 is not in the range 1<=x<=100000."),
    "size_zero": (["--size", "0"], "Invalid value for '--size': 0 is not in the range 32<=x<=16384."),
    "negative_style_weight": (["--style-weight", "-1"],
                              "Invalid value for '--style-weight': -1.0 is not in the range x>=0.0."),
    "nan_content_weight": (["--content-weight", "nan"],
                           "expected content_weight a finite number. Received: content_weight=nan"),
    "inf_tv_weight": (["--tv-weight", "inf"], "expected tv_weight a finite number. Received: tv_weight=inf"),
    "blend_count": (["--style-blend", "1,2"],
                    "Invalid value for '--style-blend': expected 1 weights (one per style), received 2"),
    "blend_negative": (["--style-blend", "-1"],
                       "Invalid value for '--style-blend': expected non-negative finite numbers, "
                       "not all zero. Received: style_blend='-1'"),
    "blend_text": (["--style-blend", "a"],
                   "Invalid value for '--style-blend': expected style_blend as comma-separated numbers. "
                   "Received: style_blend='a'"),
    "unknown_backbone": (["--backbone", "resnet50"], "Invalid value for '--backbone': 'resnet50' is not one of "
                         "'vgg19', 'vgg16', 'vgg16-hed'."),
    "scales": (["--scales", "9"], "Invalid value for '--scales': expected scales 'auto' or in [1, 6]. "
               "Received: scales=9"),
    "scale_steps_text": (["--scale-steps", "3,x"], "Invalid value for '--scale-steps': expected scale_steps as "
                         "comma-separated integers. Received: scale_steps='3,x'"),
    "scale_steps_negative": (["--scale-steps", "3,-1"], "Invalid value for '--scale-steps': expected integers "
                             "in [0, 100000], the last >= 1. Received: scale_steps='3,-1'"),
    "scale_steps_count": (["--size", "48", "--scales", "32,48", "--scale-steps", "3"],
                          "expected scale_steps: one integer per scale (2: [32, 48]). Received: scale_steps=[3]"),
    "max_memory": (["--max-memory", "lots"], "Invalid value for '--max-memory': expected max_memory a size such "
                   "as 6GB, 512MB or 1.5GiB. Received: max_memory='lots'"),
    "tile_not_on_grid": (["--tile", "100"], "expected tile_size a multiple of 16 (the pooling grid). "
                         "Received: tile_size=100"),
    "output_not_png": (["-o", "out.jpg"], "expected an output path ending in .png. Received: output=out.jpg"),
    "empty_layers": (["--content-layers", ","],
                     "Invalid value for '--content-layers': expected at least one layer. Received: content_layers=','"),
    "bad_layer_weight": (["--style-layers", "block1_conv1:x"],
                         "Invalid value for '--style-layers': expected style_layers as 'layer[:weight],...'. "
                         "Received: style_layers='block1_conv1:x'"),
    "zero_layer_weights": (["--style-layers", "block1_conv1:0"],
                           "Invalid value for '--style-layers': expected non-negative layer weights, not all zero. "
                           "Received: style_layers='block1_conv1:0'"),
    "init_missing": (["--init", "nowhere.png"],
                     "Invalid value for '--init': expected init one of content, random, mean-noise, an image "
                     "file or model:NAME (a trained model's result). Received: init='nowhere.png'"),
}


@pytest.mark.parametrize("case", sorted(PARAMETER_CASES))
def test_bad_parameter_is_a_usage_error(tmp_path, good_image, monkeypatch, case):
    args, message = PARAMETER_CASES[case]
    monkeypatch.chdir(tmp_path)
    result = run(good_image, good_image, *FAST, *args)
    assert result.exit_code == 2, result.output
    assert last_line(result) == f"Error: {message}"
    assert "Traceback" not in result.output
    assert os.listdir(tmp_path) == [os.path.basename(good_image)]


def test_unknown_layer_lists_valid_layers(tmp_path, good_image):
    result = run(good_image, good_image, "-o", tmp_path / "out.png", "--style-layers", "block9_conv9", *FAST)
    assert result.exit_code == 2
    line = last_line(result)
    assert line.startswith("Error: expected layer names of the backbone, one of block1_conv1, block1_conv2, ")
    assert "block5_conv4" in line
    assert line.endswith("Received: unknown layers block9_conv9")


# --- outputs ----------------------------------------------------------------------------------

def test_existing_output_needs_overwrite(tmp_path, good_image, no_stylizer):
    output = tmp_path / "out.png"
    output.write_bytes(b"earlier work")
    result = run(good_image, good_image, "-o", output, *FAST)
    assert result.exit_code == 1
    assert last_line(result) == f"Error: {output}: already exists (pass --overwrite to replace it)"
    assert output.read_bytes() == b"earlier work"


def test_overwrite_replaces_atomically(tmp_path, good_image):
    output = tmp_path / "out.png"
    output.write_bytes(b"earlier work")
    result = run(good_image, good_image, "-o", output, "--overwrite", *HED, *FAST)
    assert result.exit_code == 0, result.output
    with Image.open(output) as image:
        assert image.size == (48, 32)
    assert temporaries(tmp_path) == []


def test_missing_output_directory_fails_before_any_work(tmp_path, good_image, no_stylizer):
    output = tmp_path / "no" / "such" / "dir" / "out.png"
    result = run(good_image, good_image, "-o", output, *FAST)
    assert result.exit_code == 1
    assert last_line(result) == f"Error: {output}: directory {output.parent} does not exist"


def test_output_is_a_directory(tmp_path, good_image, no_stylizer):
    output = tmp_path / "out.png"
    output.mkdir()
    result = run(good_image, good_image, "-o", output, *FAST)
    assert result.exit_code == 1
    assert last_line(result) == f"Error: {output}: is a directory, expected a file path"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_read_only_output_directory_fails_before_any_work(tmp_path, good_image, no_stylizer):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        result = run(good_image, good_image, "-o", directory / "out.png", *FAST)
    finally:
        directory.chmod(0o755)
    assert result.exit_code == 1
    assert last_line(result) == f"Error: {directory / 'out.png'}: directory {directory} is not writable"


def test_log_json_checked_before_any_work(tmp_path, good_image, no_stylizer):
    log = tmp_path / "missing" / "log.json"
    result = run(good_image, good_image, "-o", tmp_path / "out.png", "--log-json", log, *FAST)
    assert result.exit_code == 1
    assert last_line(result) == f"Error: {log}: directory {log.parent} does not exist"


def test_failed_write_leaves_nothing(tmp_path, good_image, monkeypatch):
    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    output = tmp_path / "out.png"
    result = run(good_image, good_image, "-o", output, *HED, *FAST)
    assert result.exit_code == 1
    assert last_line(result) == f"Error: {output}: cannot write (No space left on device)"
    assert not output.exists() and temporaries(tmp_path) == []


# --- odd but valid inputs work end to end --------------------------------------------------------

def test_tiny_rgba_content_and_animated_style(tmp_path):
    content = corpus.write_tiny(str(tmp_path), 1)
    rgba = corpus.write_rgba(str(tmp_path))
    gif = corpus.write_animated_gif(str(tmp_path))
    output = tmp_path / "out.png"
    result = run(content, gif, "-o", output, *HED, *FAST)
    assert result.exit_code == 0, result.output
    assert f"Note: {content}: 1x1 is smaller than the backbone's minimum side 32; upscaled" in result.output
    assert f"Note: {gif}: animated image, using its first frame" in result.output
    result = run(rgba, gif, "-o", tmp_path / "alpha.png", *HED, *FAST)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "alpha.png") as image:
        assert image.mode == "RGBA"
        alpha = np.asarray(image)[..., 3]
    assert alpha[0, 0] < 20 and alpha[0, -1] > 235


def test_exif_rotated_content_gives_portrait_output(tmp_path):
    content = corpus.write_exif_rotated(str(tmp_path))
    output = tmp_path / "out.png"
    result = run(content, STYLE_PATH, "-o", output, *HED, *FAST)
    assert result.exit_code == 0, result.output
    with Image.open(output) as image:
        assert image.size == (32, 48)


# --- weights ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def weights_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("weights")
    corrupt = directory / "corrupt.h5"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    vgg16 = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    wrong = directory / "vgg16.weights.h5"
    vgg16.save_weights(str(wrong))
    return {"corrupt": str(corrupt), "wrong": str(wrong)}


def test_offline_vgg19_names_the_file_to_provide(tmp_path, good_image, isolated_machine):
    expected = isolated_machine / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    result = run(good_image, good_image, "-o", tmp_path / "out.png", *FAST)
    assert result.exit_code == 1
    line = last_line(result)
    assert line.startswith("Error: could not download the ImageNet weights for vgg19 (")
    assert f"place it at {expected}." in line
    assert "--weights PATH" in line and "--backbone vgg16-hed" in line
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.png").exists()
    # Keras' own "Downloading data from ..." (stdout) is replaced by one note on stderr.
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Note: downloading the vgg19 ImageNet weights (once) from https://storage.googleapis.com/tensorflow/"
        "keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", line]
    assert keras.config.is_interactive_logging_enabled()  # Keras' logging is given back


def test_corrupt_weights_file(tmp_path, good_image, weights_files):
    path = weights_files["corrupt"]
    result = run(good_image, good_image, "-o", tmp_path / "out.png", "--weights", path, *FAST)
    assert result.exit_code == 1
    assert last_line(result) == (
        f"Error: could not load weights from {path}: expected a Keras weights file (.h5 or .weights.h5) "
        "for vgg19 with include_top=False. Received: Unable to synchronously open file (file signature not found)")


def test_wrong_architecture_weights_file(tmp_path, good_image, weights_files):
    path = weights_files["wrong"]
    result = run(good_image, good_image, "-o", tmp_path / "out.png", "--weights", path, *FAST)
    assert result.exit_code == 1
    line = last_line(result)
    assert line.startswith(f"Error: could not load weights from {path}: expected a Keras weights file "
                           "(.h5 or .weights.h5) for vgg19 with include_top=False. Received: ")
    assert "could not be loaded" in line
    assert "Traceback" not in result.output and "UserWarning" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_weights_file(tmp_path, good_image):
    path = tmp_path / "nothing.h5"
    result = run(good_image, good_image, "-o", tmp_path / "out.png", "--weights", path, *FAST)
    assert result.exit_code == 1
    assert last_line(result) == f"Error: expected a weights file. Received: weights={path} (no such file)"


# --- interrupts -------------------------------------------------------------------------------

def test_interrupt_in_callback_writes_best_image(tmp_path, good_image, monkeypatch):
    """Ctrl-C as Python sees it: a KeyboardInterrupt out of whatever ran between chunks."""
    def interrupt(self, progress):
        raise KeyboardInterrupt

    monkeypatch.setattr(ProgressReporter, "__call__", interrupt)
    output = tmp_path / "out.png"
    result = run(good_image, good_image, "-o", output, *HED, "--size", "32", "--steps", "50")
    assert result.exit_code == 130, result.output
    assert "Note: interrupted after 5 steps" in result.output
    with Image.open(output) as image:
        assert image.size == (48, 32)
    assert temporaries(tmp_path) == []


def _wait_for(process, stream_text, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if predicate(stream_text()):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signal_subprocess_writes_best_image_and_exits_130(tmp_path, stop_signal):
    output = tmp_path / "out.png"
    stderr_path = tmp_path / "stderr.txt"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "cli.py"), "stylize", STYLE_PATH, STYLE_PATH,
             *HED, "--size", "64", "--steps", "100000", "-o", str(output)],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=str(tmp_path), env=env)
        try:
            # Wait for real steps: the bar appears at 0/100000 before the first step, and Ctrl-C
            # before any step has nothing to save (click's "Aborted!", exit 1).
            started = _wait_for(process, stderr_path.read_text,
                                lambda text: re.search(r"\b[1-9][0-9]*/100000", text), 120)
            assert started, stderr_path.read_text()
            process.send_signal(stop_signal)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = stderr_path.read_text()
    assert code == 130, text
    assert "Note: interrupted after " in text
    assert "Traceback" not in text
    with Image.open(output) as image:
        image.load()
        assert image.format == "PNG" and max(image.size) == 64
    assert temporaries(tmp_path) == []
