"""Regional control on the command line: `--style-mask`, `--style-image-mask`, replay, and their errors."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import CONTENT_PATH, STYLE_PATH
from tf_nst.cli import app as cli
from tf_nst.io.provenance import read_png_text, read_provenance

FAST = ["--size", "32", "--steps", "2", "--quiet", "--weights", "random"]
HED = ["--size", "32", "--steps", "2", "--quiet", "--backbone", "vgg16-hed"]  # fixed weights: runs repeat exactly


def run(*args):
    return CliRunner().invoke(cli.cli, ["stylize", *map(str, args)])


def write_mask(path, height, width, left=True, value=255):
    """A grey PNG: `value` on the left (or right) half, black elsewhere."""
    mask = np.zeros((height, width), np.uint8)
    if left:
        mask[:, : width // 2] = value
    else:
        mask[:, width // 2:] = value
    Image.fromarray(mask, "L").save(path)
    return str(path)


def test_two_styles_two_masks_recorded_and_replayed(tmp_path):
    left = write_mask(tmp_path / "left.png", 512, 512)
    right = write_mask(tmp_path / "right.png", 512, 512, left=False)
    sky = write_mask(tmp_path / "sky.png", 640, 1024)  # on the 1024x640 painting
    out = tmp_path / "out.png"
    result = run(CONTENT_PATH, STYLE_PATH, STYLE_PATH, "--style-mask", left, "--style-mask", right,
                 "--style-image-mask", "none", "--style-image-mask", sky, "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    stored = read_provenance(out)
    assert stored["masks"] == {"region_masks": [left, right], "style_image_masks": [None, sky]}
    assert set(stored["inputs_sha256"]) == {CONTENT_PATH, STYLE_PATH, left, right, sky}
    replay = tmp_path / "replay.png"
    result = CliRunner().invoke(cli.cli, ["stylize", "--from", str(out), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    replayed = read_provenance(replay)
    assert replayed["masks"] == stored["masks"]
    assert replayed["settings"] == stored["settings"] and replayed["inputs_sha256"] == stored["inputs_sha256"]


def test_the_png_holds_its_masks_a_replay_without_the_files_gives_the_same_pixels(tmp_path):
    """The masks' bytes are in the PNG: deleted mask files come back from it (float32: the same pixels)."""
    left = write_mask(tmp_path / "left.png", 512, 512)
    right = write_mask(tmp_path / "right.png", 512, 512, left=False, value=128)
    out = tmp_path / "out.png"
    assert run(CONTENT_PATH, STYLE_PATH, STYLE_PATH, "--region-mask", left, "--region-mask", right, "-o", out,
               "--precision", "float32", *HED).exit_code == 0
    os.remove(left)
    os.remove(right)
    replay = tmp_path / "replay.png"
    result = CliRunner().invoke(cli.cli, ["stylize", "--from", str(out), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    stored, replayed = read_provenance(out), read_provenance(replay)
    assert replayed["inputs_sha256"] != {} and sorted(replayed["inputs_sha256"].values()) == \
        sorted(stored["inputs_sha256"].values())
    assert np.array_equal(np.asarray(Image.open(replay)), np.asarray(Image.open(out)))
    shown = CliRunner().invoke(cli.cli, ["info", str(out)]).output
    assert "bytes embedded" in shown and "iVBOR" not in shown  # sizes, not base64


def test_png_with_the_old_region_mask_key_replays(tmp_path):
    """A PNG written before the region masks were named `region_masks` (provenance key `style_masks`) replays
    with `stylize --from`; `save_png(masks={"style_masks": ...})` still writes, with a DeprecationWarning."""
    from PIL import PngImagePlugin

    from tf_nst.io.images import save_png

    left = write_mask(tmp_path / "left.png", 512, 512)
    out = tmp_path / "out.png"
    assert run(CONTENT_PATH, STYLE_PATH, "--region-mask", left, "-o", out, *FAST).exit_code == 0
    old = tmp_path / "old.png"
    info = PngImagePlugin.PngInfo()
    for key, value in {**read_png_text(out), "tf_nst:masks": json.dumps({"style_masks": [left]})}.items():
        info.add_text(key, value)
    Image.open(out).save(old, pnginfo=info)
    assert read_provenance(old)["masks"] == {"region_masks": [left]}
    replay = tmp_path / "replay.png"
    result = CliRunner().invoke(cli.cli, ["stylize", "--from", str(old), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    replayed, stored = read_provenance(replay), read_provenance(out)
    assert replayed["masks"] == {"region_masks": [left]}
    assert replayed["settings"] == stored["settings"] and replayed["inputs_sha256"] == stored["inputs_sha256"]
    with pytest.warns(DeprecationWarning, match="style_masks"):
        save_png(tmp_path / "direct.png", np.zeros((8, 8, 3), np.uint8), settings={}, masks={"style_masks": [left]})
    assert read_provenance(tmp_path / "direct.png")["masks"] == {"region_masks": [left]}


@pytest.mark.parametrize("make, args, message", [
    (lambda d: [write_mask(d / "m.png", 512, 512)], lambda m: ["--style-mask", m[0], "--style-mask", m[0]],
     "expected one --region-mask per STYLE (1), received 2"),
    (lambda d: [str(d / "missing.png")], lambda m: ["--style-mask", m[0]], "missing.png"),
    (lambda d: [write_mask(d / "black.png", 512, 512, value=0)], lambda m: ["--style-mask", m[0]],
     "expected masks with a region somewhere (white or grey). Received: every mask black"),
    (lambda d: [write_mask(d / "wide.png", 256, 512)], lambda m: ["--style-mask", m[0]],
     "expected masks[0] with the aspect ratio of its image (512x512, within 1%). Received: masks[0] of 512x256"),
])
def test_bad_masks_one_error_line_nothing_written(tmp_path, make, args, message):
    masks = make(tmp_path)
    out = tmp_path / "out.png"
    result = run(CONTENT_PATH, STYLE_PATH, *args(masks), "-o", out, *FAST)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and message in lines[-1], result.output
    assert "Traceback" not in result.output
    assert not os.path.exists(out) and not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


def test_log_json_records_the_masks(tmp_path):
    mask = write_mask(tmp_path / "left.png", 512, 512)
    log = tmp_path / "log.json"
    result = run(CONTENT_PATH, STYLE_PATH, "--style-mask", mask, "-o", tmp_path / "o.png", "--log-json", log, *FAST)
    assert result.exit_code == 0, result.output
    assert json.loads(log.read_text())["masks"] == {"region_masks": [mask]}
    assert "tf_nst:masks" in read_png_text(tmp_path / "o.png")
