"""Video: flow, mask and warp on a generated clip; the driver; bad inputs (frame I/O: test_video_files.py)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import STYLE_PATH
from video_clips import leftovers, make_clip
from tf_nst import Stylizer
from tf_nst.errors import ImageError, InvalidArgumentError
from tf_nst.engine.flow import (
    TemporalLoss, inside_mask, optical_flow, previous_frame_flow, reliability_mask, warp, warping_error)
from tf_nst.io.images import load_image
from tf_nst.io.provenance import read_png_text
from tf_nst.runs.video import open_video, stylize_video, work_dir_for, write_video

TINY = dict(backbone="vgg16-hed", size=48, num_steps=6)


def test_flow_mask_and_warp_match_the_true_motion(clip):
    for t in (1, 4, 7):
        flow, mask = previous_frame_flow(clip.frames[t - 1], clip.frames[t])
        valid = clip.masks[t - 1] > 0
        reliable = (mask > 0) & valid
        # The flow recovers the window's pan and zoom and the occluder's slide.
        assert np.median(np.linalg.norm(flow - clip.flows[t - 1], axis=-1)[valid]) < 0.3
        warped = warp(clip.frames[t - 1], flow)
        error = np.abs(warped - clip.frames[t].astype(np.float32)).mean(axis=-1)
        assert error[reliable].mean() < 5.0  # grey levels; resampling the photo alone costs ~2
        assert reliable.sum() > 0.8 * valid.sum()
        # What the previous frame did not show (uncovered by the square, entering the view) is masked.
        assert (mask[~valid] == 0).mean() > 0.75
        assert ((mask > 0) & ~valid).mean() < 0.02
    assert (inside_mask(np.full((8, 8, 2), 3.0, np.float32))[:5, :5] == 1).all()
    with pytest.raises(InvalidArgumentError, match="expected method one of dis, farneback"):
        optical_flow(clip.frames[0], clip.frames[1], method="lk")
    with pytest.raises(InvalidArgumentError, match="expected reverse_flow of shape"):
        reliability_mask(np.zeros((8, 8, 2)), np.zeros((4, 4, 2)))


def test_warping_error_is_zero_for_a_perfectly_consistent_video(clip):
    # Frame t-1 warped by the true flow is, by construction, what frame t shows where valid.
    warped = [clip.frames[0]] + [np.clip(np.round(warp(clip.frames[0], clip.flows[0])), 0, 255).astype(np.uint8)]
    assert warping_error(warped, flows=clip.flows[:1], masks=clip.masks[:1]) < 1e-5
    shuffled = [clip.frames[3], clip.frames[0], clip.frames[6]]
    assert warping_error(shuffled, content_frames=clip.frames[:3]) > warping_error(
        clip.frames[:3], content_frames=clip.frames[:3])


def test_temporal_loss_follows_new_frames_without_retracing():
    term = TemporalLoss(weight=2.0)
    function = tf.function(lambda image: term(image, {}),
                           input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    rng = np.random.default_rng(0)
    assert float(function(tf.fill([1, 20, 30, 3], 100.0))) == 0.0  # no previous frame yet
    for height, width in ((20, 30), (33, 17)):
        image = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
        previous = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
        mask = (rng.uniform(size=(height, width)) > 0.5).astype(np.float32)
        term.set_previous(previous, mask)
        expected = 2.0 * np.mean(mask[..., None] * ((image - previous) / 255.0) ** 2)
        # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
        np.testing.assert_allclose(float(function(image[None])), expected, rtol=1e-5)
    term.reset()
    assert float(function(tf.fill([1, 9, 9, 3], 5.0))) == 0.0
    assert function.experimental_get_tracing_count() == 1
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(term))
    assert isinstance(restored, TemporalLoss) and restored.get_config() == term.get_config()
    with pytest.raises(InvalidArgumentError, match="expected no layer_names"):
        TemporalLoss(layer_names=["block1_conv1"])


def test_stylize_video_mp4_and_folder_in_and_out(tmp_path, small_clip):
    write_video(tmp_path / "in.mp4", small_clip.frames, small_clip.fps)
    write_video(tmp_path / "in_frames", small_clip.frames, small_clip.fps)
    stylizer = Stylizer(**TINY, extra_loss_terms=[TemporalLoss()])
    seen = []
    result = stylize_video(stylizer, str(tmp_path / "in.mp4"), STYLE_PATH, tmp_path / "out.mp4", frame_steps=3,
                           callback=lambda progress: seen.append(progress.frame))
    assert seen == list(range(1, 9)) and result.output == str(tmp_path / "out.mp4") and not result.interrupted
    out = open_video(tmp_path / "out.mp4")
    assert len(out) == 8 and out.fps == small_clip.fps and out.size == (48, 48)
    result = stylize_video(stylizer, open_video(tmp_path / "in_frames", fps=12), STYLE_PATH, tmp_path / "out_frames",
                           frame_steps=3)
    names = sorted(os.listdir(tmp_path / "out_frames"))
    assert names == [f"frame_{index:05d}.png" for index in range(1, 9)]
    settings = read_png_text(tmp_path / "out_frames" / names[-1])["tf_nst:settings"]
    assert '"frame_steps": 3' in settings and '"TemporalLoss"' in settings
    assert leftovers(tmp_path) == []


def test_resume_after_interruption_gives_the_uninterrupted_frames(tmp_path, small_clip):
    frames = small_clip.frames[:6]

    def run(output, stop_after=None):
        done = []
        stylizer = Stylizer(**TINY, extra_loss_terms=[TemporalLoss()])
        return stylize_video(stylizer, frames, STYLE_PATH, output, frame_steps=4, keep_frames=True,
                             callback=lambda progress: done.append(progress.frame),
                             should_stop=lambda: stop_after is not None and len(done) >= stop_after)

    full = run(tmp_path / "full")
    stopped = run(tmp_path / "resumed", stop_after=3)
    assert stopped.interrupted and stopped.output is None and len(stopped.frames) == 3
    assert not os.path.exists(tmp_path / "resumed")  # nothing assembled from a partial run
    first = os.path.getmtime(stopped.frames[0])
    resumed = run(tmp_path / "resumed")
    assert resumed.resumed == 3 and sorted(resumed.frame_seconds) == [3, 4, 5]
    assert os.path.getmtime(resumed.frames[0]) == first  # regenerated nothing done
    for a, b in zip(full.frames, resumed.frames):
        assert (load_image(a).rgb == load_image(b).rgb).all()
    # Other settings: the finished frames are stale and redone.
    changed = stylize_video(Stylizer(**TINY), frames, STYLE_PATH, tmp_path / "resumed", frame_steps=4,
                            keep_frames=True, overwrite=True)
    assert changed.resumed == 0 and len(changed.frame_seconds) == 6


def test_temporal_loss_lowers_the_warping_error(tmp_path):
    clip = make_clip(size=64, num_frames=5)
    errors = {}
    for weight in (0.0, 200.0):
        stylizer = Stylizer(backbone="vgg16-hed", size=64, num_steps=25, extra_loss_terms=[TemporalLoss(weight)])
        result = stylize_video(stylizer, clip.frames, STYLE_PATH, tmp_path / f"w{weight:g}", frame_steps=10)
        stylized = list(open_video(result.output))
        errors[weight] = (warping_error(stylized, content_frames=clip.frames),
                          warping_error(stylized, flows=clip.flows, masks=clip.masks))
    assert errors[200.0][0] < 0.7 * errors[0.0][0]
    assert errors[200.0][1] < errors[0.0][1]


def test_styles_are_decoded_once_per_video_with_the_pixel_cap(tmp_path, small_clip, monkeypatch):
    import tf_nst.io.images as images

    with pytest.raises(ImageError, match="pixels, expected at most 1000 "):
        stylize_video(Stylizer(**TINY), small_clip.frames[:2], STYLE_PATH, tmp_path / "capped.gif",
                      max_input_pixels=1000)
    assert os.listdir(tmp_path) == []  # refused before any frame or work folder
    decoded = []
    real_load = images.load_image
    monkeypatch.setattr(images, "load_image", lambda path, **kwargs: decoded.append(str(path)) or real_load(
        path, **kwargs))
    result = stylize_video(Stylizer(**TINY), small_clip.frames[:3], STYLE_PATH, tmp_path / "out.gif", frame_steps=2)
    assert result.output == str(tmp_path / "out.gif") and decoded.count(STYLE_PATH) == 1


def test_bad_inputs_raise_typed_errors_and_leave_nothing(tmp_path, small_clip):
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    write_video(tmp_path / "good.mp4", small_clip.frames, small_clip.fps)
    data = (tmp_path / "good.mp4").read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.mp4").write_bytes(b"")
    for name in ("noise.mp4", "truncated.mp4"):
        with pytest.raises(ImageError, match=f"{name}: cannot read video \\(expected a video file FFmpeg can decode"):
            open_video(tmp_path / name)
    with pytest.raises(ImageError, match="empty.mp4: file is empty, expected a video file"):
        open_video(tmp_path / "empty.mp4")
    mixed = tmp_path / "mixed"
    write_video(mixed, small_clip.frames[:3], 12)
    write_video(tmp_path / "big", [np.zeros((50, 48, 3), np.uint8)], 12)
    os.replace(tmp_path / "big" / "frame_00001.png", mixed / "frame_00004.png")
    with pytest.raises(ImageError, match="mixed: frames differ in size, expected all 48x48 like frame_00001.png. "
                                         "Received: frame_00004.png is 48x50"):
        open_video(mixed)
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "notes.txt").write_text("no frames here")
    with pytest.raises(ImageError, match="none: contains no PNG or JPEG frames, expected at least one"):
        open_video(tmp_path / "none")
    with pytest.raises(ImageError, match=r"has no frames in the selection, expected at least one. "
                                         r"Received: frames=\(20, None\) of 8 frames"):
        open_video(tmp_path / "good.mp4", frames=(20, None))
    with pytest.raises(InvalidArgumentError, match="expected every an integer >= 1. Received: every=0"):
        open_video(tmp_path / "good.mp4", every=0)
    with pytest.raises(InvalidArgumentError, match="expected an output ending in .mp4 or .gif"):
        write_video(tmp_path / "out.webm", small_clip.frames, 12)
    before = sorted(os.listdir(tmp_path))
    stylizer = Stylizer(**TINY)
    for source in ("noise.mp4", "mixed", "none"):
        with pytest.raises(ImageError):
            stylize_video(stylizer, str(tmp_path / source), STYLE_PATH, tmp_path / "styled.mp4")
    # A frame of another size fails the MP4 writer half-way: no output, no temporary file.
    with pytest.raises(InvalidArgumentError, match="expected frames of one size 48x48"):
        write_video(tmp_path / "half.mp4", small_clip.frames[:4] + [np.zeros((50, 48, 3), np.uint8)], 12)
    assert sorted(os.listdir(tmp_path)) == before
    assert not os.path.exists(work_dir_for(tmp_path / "styled.mp4"))


# --- the command ----------------------------------------------------------------------------------

def run_video(*args):
    from click.testing import CliRunner

    from tf_nst.cli import app as cli

    return CliRunner().invoke(cli.cli, ["video", *map(str, args)])


CLI_TINY = ["--backbone", "vgg16-hed", "--size", "48", "--steps", "6", "--frame-steps", "3", "--quiet"]


def test_cli_video_mp4_in_mp4_and_frames_out(tmp_path, small_clip):
    source = tmp_path / "clip.mp4"
    write_video(source, small_clip.frames, small_clip.fps)
    result = run_video(source, STYLE_PATH, "-o", tmp_path / "out.mp4", *CLI_TINY)
    assert result.exit_code == 0, result.output
    assert len(open_video(tmp_path / "out.mp4")) == 8
    result = run_video(source, STYLE_PATH, "-o", tmp_path / "frames", "--frames", "2:5", *CLI_TINY)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path / "frames")) == [f"frame_{index:05d}.png" for index in (1, 2, 3)]
    assert leftovers(tmp_path) == []


def test_cli_video_bad_inputs_are_one_error_line(tmp_path, small_clip):
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    mixed = tmp_path / "mixed"
    write_video(mixed, small_clip.frames[:2], 12)
    write_video(tmp_path / "big", [np.zeros((50, 48, 3), np.uint8)], 12)
    os.replace(tmp_path / "big" / "frame_00001.png", mixed / "frame_00003.png")
    (tmp_path / "none").mkdir()
    cases = {
        "noise.mp4": f"Error: {tmp_path / 'noise.mp4'}: cannot read video (expected a video file FFmpeg can decode",
        "mixed": f"Error: {mixed}: frames differ in size, expected all 48x48 like frame_00001.png. "
                 "Received: frame_00003.png is 48x50",
        "none": f"Error: {tmp_path / 'none'}: contains no PNG or JPEG frames, expected at least one",
    }
    for source, message in cases.items():
        result = run_video(tmp_path / source, STYLE_PATH, "-o", tmp_path / "out.mp4", *CLI_TINY)
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1].startswith(message)
        assert "Traceback" not in result.output
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []
    result = run_video(tmp_path / "mixed", STYLE_PATH, "-o", tmp_path / "out.mp4", "--frames", "5:2", *CLI_TINY)
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: Invalid value for '--frames': expected frames as START:STOP with 0 <= START < STOP. "
        "Received: frames='5:2'")


# --- region masks -------------------------------------------------------------------------------

def _half_mask(size, left=True):
    mask = np.zeros((size, size), np.uint8)
    mask[:, : size // 2] = 255
    return mask if left else 255 - mask


def test_a_masked_video_keeps_the_black_half_resumes_and_redoes_a_changed_mask(tmp_path, small_clip):
    from PIL import Image

    frames = small_clip.frames[:4]
    Image.fromarray(_half_mask(96)).save(tmp_path / "left.png")  # another size than the frames: resized
    stylizer = Stylizer(**TINY, extra_loss_terms=[TemporalLoss()])
    result = stylize_video(stylizer, frames, STYLE_PATH, tmp_path / "one", frame_steps=3, keep_frames=True,
                           region_masks=[str(tmp_path / "left.png")])
    assert f"masks[0] {tmp_path / 'left.png'}: 96x96 resized to the frames' 48x48" in result.notes
    for frame, path in zip(frames, result.frames):
        change = np.abs(load_image(path).rgb.astype(np.float32) - frame).mean(axis=-1)
        # The style changes the white half; the black half keeps the content (edge strip left out; unmasked,
        # both halves change alike), on later frames too: a pan carries no style across the boundary.
        assert change[:, 30:].mean() < 0.35 * change[:, :20].mean(), (change[:, 30:].mean(), change[:, :20].mean())
    text = read_png_text(result.frames[2])
    assert json.loads(text["tf_nst:masks"]) == {"region_masks": [str(tmp_path / "left.png")]}
    assert str(tmp_path / "left.png") in json.loads(text["tf_nst:inputs_sha256"])

    folder = tmp_path / "masks"
    folder.mkdir()
    for index in range(4):
        Image.fromarray(_half_mask(48, left=index < 2)).save(folder / f"mask_{index + 1}.png")
    done = []
    stopped = stylize_video(stylizer, frames, STYLE_PATH, tmp_path / "per-frame", frame_steps=3, keep_frames=True,
                            region_masks=[str(folder)], callback=lambda progress: done.append(progress.frame),
                            should_stop=lambda: len(done) >= 3)
    assert stopped.interrupted and len(stopped.frames) == 3
    assert json.loads(read_png_text(stopped.frames[2])["tf_nst:masks"]) == {"region_masks": [str(folder / "mask_3.png")]}
    resumed = stylize_video(stylizer, frames, STYLE_PATH, tmp_path / "per-frame", frame_steps=3, keep_frames=True,
                            region_masks=[str(folder)])
    assert resumed.resumed == 3 and sorted(resumed.frame_seconds) == [3]
    Image.fromarray(_half_mask(48, left=True)).save(folder / "mask_3.png")  # frame 3's mask changed
    redone = stylize_video(stylizer, frames, STYLE_PATH, tmp_path / "per-frame", frame_steps=3, keep_frames=True,
                           region_masks=[str(folder)], overwrite=True)
    assert redone.resumed == 2 and sorted(redone.frame_seconds) == [2, 3]


def test_cli_video_with_a_mask_and_too_few_masks(tmp_path, small_clip):
    from PIL import Image

    source = tmp_path / "clip.mp4"
    write_video(source, small_clip.frames, small_clip.fps)
    Image.fromarray(_half_mask(48)).save(tmp_path / "left.png")
    result = run_video(source, STYLE_PATH, "-o", tmp_path / "out", "--frames", "0:2", "--style-mask",
                       tmp_path / "left.png", *CLI_TINY)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path / "out")) == ["frame_00001.png", "frame_00002.png"]
    folder = tmp_path / "masks"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(_half_mask(48)).save(folder / f"m{index}.png")
    result = run_video(source, STYLE_PATH, "-o", tmp_path / "out.mp4", "--every", "2", "--style-mask", folder,
                       *CLI_TINY)
    assert result.exit_code == 2, result.output  # a usage error, like every InvalidArgumentError
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        f"Error: expected masks[0] with one mask per frame (4 frames). Received: {folder} has 3"]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []
