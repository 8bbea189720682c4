"""An arbitrary-style network on the batch and video paths (`tf_nst.runs.arbitrary`): `batch -s PAINTING...
--model arbitrary` through `run_pairs` (manifest, resume, error records), `video CLIP PAINTING... --model
arbitrary` through the flow-blend loop of `video --model`, and their errors (random decoders: these check the
paths, not the look)."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import gradient_image, write_batch_inputs
from test_cli_before_tensorflow import assert_answered_before_tensorflow, run_cli
from video_clips import make_clip
from tf_nst.cli import app as cli
from tf_nst.engine.status import RunStatus
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import provenance
from tf_nst.runs.arbitrary import ArbitraryRun, PaintingsRun, run_arbitrary_batch
from tf_nst.runs.video import open_video
from tf_nst.runs.video_model import stylize_video_with_model

SIZE = 48


@pytest.fixture(scope="module")
def run(arbitrary_folder):
    return ArbitraryRun(arbitrary_folder, precision="float32")


def rgb_of(path):
    return np.asarray(Image.open(path).convert("RGB"))


def counting_fits(run, monkeypatch):
    """The paintings `run.fit_painting` fits, in order."""
    fitted, fit = [], run.fit_painting

    def counted(painting, size):
        fitted.append((painting.shape, size))
        return fit(painting, size)

    monkeypatch.setattr(run, "fit_painting", counted)
    return fitted


def test_batch_is_every_photo_with_every_painting_resumable(run, tmp_path, monkeypatch):
    contents, paintings = write_batch_inputs(tmp_path)  # city, leaf (RGBA), broken.jpg; waves, dots
    (tmp_path / "torn.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 30)
    fits = counting_fits(run, monkeypatch)
    outdir = tmp_path / "out"
    summary = run_arbitrary_batch(run, [str(contents)], [str(paintings), str(tmp_path / "torn.jpg")], outdir, SIZE,
                                  strength=0.8)
    by_status = {status: sorted(os.path.basename(r.output) for r in summary.results if r.status == status)
                 for status in ("ok", "error")}
    assert by_status["ok"] == ["city--dots.png", "city--waves.png", "leaf--dots.png", "leaf--waves.png"]
    assert len(by_status["error"]) == 5  # the broken photo with each painting, the torn painting with each photo
    assert len(fits) == 2  # each painting fitted once for the batch, not once per photo
    expected = run.stylize(rgb_of(contents / "city.png"), [rgb_of(paintings / "dots.jpg")], SIZE, strength=0.8)
    np.testing.assert_array_equal(rgb_of(outdir / "city--dots.png"), expected)  # T1: the same ops, exact
    assert Image.open(outdir / "leaf--waves.png").mode == "RGBA"  # the photo's alpha travels
    stored = provenance.read_provenance(str(outdir / "city--dots.png"))
    assert stored["settings"] == json.loads(json.dumps(run.settings_for(["dots"], SIZE, 0.8)))
    assert set(stored["inputs_sha256"]) == {str(contents / "city.png"), str(paintings / "dots.jpg")}

    again = run_arbitrary_batch(run, [str(contents)], [str(paintings), str(tmp_path / "torn.jpg")], outdir, SIZE,
                                strength=0.8)
    assert sorted(r.status for r in again.results) == ["error"] * 5 + ["skipped"] * 4
    Image.fromarray(gradient_image(30, 40, seed=9)).save(paintings / "waves.png")  # a new painting, same name
    changed = run_arbitrary_batch(run, [str(contents / "city.png")], [str(paintings)], outdir, SIZE, strength=0.8)
    assert {os.path.basename(r.output): r.status for r in changed.results} == {"city--dots.png": "skipped",
                                                                              "city--waves.png": "ok"}
    lines = (outdir / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 20 and json.loads(lines[-1])["status"] == "ok"


def test_cli_batch_with_paintings(arbitrary_folder, tmp_path):
    contents, paintings = write_batch_inputs(tmp_path)
    args = ["batch", str(contents / "city.png"), str(contents / "leaf.png"), "-s", str(paintings / "waves.png"),
            "-s", str(paintings / "dots.jpg"), "--model", arbitrary_folder, "--size", str(SIZE), "--strength", "0.5",
            "--precision", "float32", "-o", str(tmp_path / "out"), "--quiet"]
    first = CliRunner().invoke(cli.cli, args)
    assert first.exit_code == 0, first.output
    assert sorted(path.name for path in (tmp_path / "out").glob("*.png")) == [
        "city--dots.png", "city--waves.png", "leaf--dots.png", "leaf--waves.png"]
    assert "4 pairs: 4 ok" in first.output
    assert provenance.read_provenance(str(tmp_path / "out" / "leaf--dots.png"))["settings"]["strength"] == 0.5
    second = CliRunner().invoke(cli.cli, args)
    assert second.exit_code == 0 and "4 pairs: 0 ok, 4 skipped" in second.output, second.output


def test_video_through_the_paintings_with_the_flow_blend(run, tmp_path, monkeypatch):
    """Independent frames are `ArbitraryRun.stylize` per frame (T1, exact); the paintings are fitted once per
    video; a rerun resumes, unless a painting's bytes changed."""
    clip = make_clip(size=SIZE, num_frames=4)
    for name, seed in (("sky", 3), ("sea", 4)):
        Image.fromarray(gradient_image(40, 56, seed=seed)).save(tmp_path / f"{name}.png")
    paths = [str(tmp_path / "sky.png"), str(tmp_path / "sea.png")]
    fits = counting_fits(run, monkeypatch)
    bound = PaintingsRun(run, paths, strength=0.7)
    result = stylize_video_with_model(bound, clip.frames, tmp_path / "out", SIZE, {"sky": 3, "sea": 1},
                                      temporal_blend=0.0, keep_frames=True)
    assert result.status is RunStatus.DONE and result.total_frames == 4 and len(fits) == 2
    images = [rgb_of(path) for path in paths]
    for frame, written in zip(clip.frames, open_video(str(result.output))):
        expected = run.stylize(frame, images, SIZE, 0.7, {"sky": 3, "sea": 1}, painting_names=["sky", "sea"])
        np.testing.assert_array_equal(written, expected)
    settings = provenance.read_provenance(result.frames[0])["settings"]
    assert settings["strength"] == 0.7 and settings["style_blend"] == {"sky": 0.75, "sea": 0.25}
    assert [item["sha256"] for item in settings["paintings"]] == [provenance.file_sha256(path) for path in paths]
    assert settings["video"]["temporal_blend"] == 0.0

    again = stylize_video_with_model(bound, clip.frames, tmp_path / "out", SIZE, {"sky": 3, "sea": 1},
                                     temporal_blend=0.0, keep_frames=True, overwrite=True)
    assert again.resumed == 4
    Image.fromarray(gradient_image(40, 56, seed=5)).save(tmp_path / "sea.png")
    repainted = stylize_video_with_model(PaintingsRun(run, paths, strength=0.7), clip.frames, tmp_path / "out", SIZE,
                                         {"sky": 3, "sea": 1}, temporal_blend=0.0, overwrite=True)
    assert repainted.resumed == 0 and repainted.status is RunStatus.DONE


def test_paintings_are_named_once_each(run, tmp_path):
    (tmp_path / "a").mkdir()
    for path in (tmp_path / "sky.png", tmp_path / "a" / "sky.png"):
        Image.fromarray(gradient_image(20, 20)).save(path)
    with pytest.raises(InvalidArgumentError, match="expected paintings with distinct file names"):
        PaintingsRun(run, [tmp_path / "sky.png", tmp_path / "a" / "sky.png"])
    with pytest.raises(InvalidArgumentError, match="expected at least one PAINTING"):
        PaintingsRun(run, [])
    with pytest.raises(InvalidArgumentError, match="expected paintings fitted to size=48"):
        run.stylize(gradient_image(20, 20), [run.fit_painting(gradient_image(20, 20), 40)], 48)


def test_cli_video_with_a_painting_writes_frames_and_settings(arbitrary_folder, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, frame in enumerate(make_clip(size=SIZE, num_frames=3).frames):
        Image.fromarray(frame).save(frames / f"{index:03d}.png")
    painting = tmp_path / "dots.png"
    Image.fromarray(gradient_image(40, 40, seed=7)).save(painting)
    result = CliRunner().invoke(cli.cli, ["video", str(frames), str(painting), "--model", arbitrary_folder, "--size",
                                          str(SIZE), "--temporal-blend", "0.5", "--strength", "0.9", "--precision",
                                          "float32", "-o", str(tmp_path / "out"), "--keep-frames", "--quiet"])
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "out").glob("*.png"))
    assert len(written) == 3
    settings = provenance.read_provenance(str(tmp_path / "out.work" / "frame_00001.png"))["settings"]
    assert settings["strength"] == 0.9 and settings["video"]["temporal_blend"] == 0.5
    assert settings["paintings"] == [{"name": "dots", "sha256": provenance.file_sha256(str(painting))}]


def error_lines(result):
    return [line for line in result.output.splitlines() if line.strip()]


@pytest.mark.parametrize("args, message", [
    (("batch", "{photo}", "--model", "{folder}", "-o", "out"),
     "Error: expected CONTENT... with -s PAINTING... and --model {folder} (every photo with every painting; no "
     "--pairs, --saved-model, --runner or --engine)"),
    (("video", "{photo}", "--model", "{folder}", "-o", "out.gif"),
     "Error: expected at least one PAINTING after the clip with --model {folder} (any painting works). "
     "Received: none"),
    (("batch", "{photo}", "-s", "{photo}", "--model", "{model}", "--strength", "0.5", "-o", "out"),
     "Error: expected --strength only with an arbitrary-style network (--model arbitrary). Received: --model "
     "{model}"),
    (("video", "{photo}", "--model", "{model}", "--strength", "0.5", "-o", "out.gif"),
     "Error: expected --strength only with an arbitrary-style network (--model arbitrary). Received: --model "
     "{model}"),
    (("batch", "{photo}", "-s", "{photo}", "--strength", "0.5", "-o", "out"),
     "Error: expected --strength only with --model arbitrary (the optimization weighs the style with "
     "--style-weight)"),
])
def test_bad_commands_are_one_error_line(arbitrary_folder, model_folder, tmp_path, args, message):
    photo = tmp_path / "photo.png"
    Image.fromarray(gradient_image(20, 20)).save(photo)
    names = {"photo": str(photo), "folder": arbitrary_folder, "model": model_folder}
    result = CliRunner().invoke(cli.cli, [arg.format(**names) for arg in args])
    assert result.exit_code == 2 and error_lines(result) == [message.format(**names)], result.output


@pytest.mark.parametrize("command", [("batch", "photo.png", "-s", "missing.jpg", "-o", "out"),
                                     ("video", "photo.png", "missing.jpg", "-o", "out.gif")])
def test_a_missing_painting_answers_before_tensorflow(arbitrary_folder, tmp_path, command):
    Image.fromarray(gradient_image(20, 20)).save(tmp_path / "photo.png")
    line = {"batch": "Error: expected an existing file, folder or glob. Received: style='missing.jpg' (no such file)",
            "video": "Error: missing.jpg: no such file"}[command[0]]
    assert_answered_before_tensorflow(run_cli(tmp_path, *command, "--model", arbitrary_folder), line,
                                      2 if command[0] == "batch" else 1)
