"""A video through a trained network (`tf_nst.runs.video_model`, `video --model`): frames, the
flicker-reducing blend along the optical flow, resume and the command's errors."""

import os

import numpy as np
import pytest
from click.testing import CliRunner

from video_clips import leftovers, make_clip
from tf_nst.cli import app as cli
from tf_nst.engine.flow import warping_error
from tf_nst.engine.status import RunStatus
from tf_nst.runs.realtime import ModelRun
from tf_nst.runs.video import open_video, work_dir_for, write_video
from tf_nst.runs.video_model import blend_with_previous, stylize_video_with_model

SIZE = 48


@pytest.fixture(scope="module")
def run(model_folder):
    return ModelRun(model_folder, precision="float32")


@pytest.fixture(scope="module")
def clip():
    return make_clip(size=SIZE, num_frames=6)


def frames_of(output):
    return list(open_video(output))


def test_strength_zero_is_the_network_on_each_frame(tmp_path, run, clip):
    """Independent frames are exactly `ModelRun.stylize` per frame (T1: the same ops on the same inputs)."""
    events = []
    result = stylize_video_with_model(run, clip.frames, tmp_path / "out", SIZE, {"wild": 1.0}, temporal_blend=0.0,
                                      callback=events.append)
    assert result.status is RunStatus.DONE and result.total_frames == 6 and result.resumed == 0
    assert sorted(os.listdir(tmp_path / "out")) == [f"frame_{index:05d}.png" for index in range(1, 7)]
    assert [event.frame for event in events] == list(range(1, 7))
    for frame, written in zip(clip.frames, frames_of(result.output)):
        np.testing.assert_array_equal(written, run.stylize(frame, SIZE, {"wild": 1.0}))
    assert leftovers(tmp_path) == [] and not os.path.exists(work_dir_for(tmp_path / "out"))


def test_blend_weights_the_warped_previous_output_by_reliability():
    styled = np.full((2, 2, 3), 100, np.uint8)
    warped = np.full((2, 2, 3), 200.0, np.float32)
    reliable = np.array([[1.0, 0.0], [0.5, 1.0]], np.float32)
    blended = blend_with_previous(styled, warped, reliable, 0.6)
    # Exact: 100 + 100 a, with a = 0.6 and 0.3, rounds to whole grey levels (T4: uint8 rounding, none here).
    np.testing.assert_array_equal(blended[..., 0], [[160, 100], [130, 160]])
    np.testing.assert_array_equal(blend_with_previous(styled, warped, reliable, 0.0), styled)


def test_blend_reduces_the_warping_error_on_a_moving_clip(tmp_path, run, clip):
    """The blended video flickers less along the flow than the independent frames, and stays close to them."""
    independent = frames_of(stylize_video_with_model(run, clip.frames, tmp_path / "a", SIZE, temporal_blend=0.0).output)
    blended = frames_of(stylize_video_with_model(run, clip.frames, tmp_path / "b", SIZE, temporal_blend=0.6).output)
    error_independent = warping_error(independent, content_frames=clip.frames, absolute=True)
    error_blended = warping_error(blended, content_frames=clip.frames, absolute=True)
    assert error_independent > 1.0  # the tiny network does flicker under the pan and zoom
    assert error_blended < 0.75 * error_independent, (error_blended, error_independent)
    np.testing.assert_array_equal(blended[0], independent[0])  # the first frame has nothing to blend with


def test_a_scene_cut_starts_afresh(tmp_path, run, clip):
    """After a cut to an unrelated shot the frame is the network's alone (T1: exact), then blending resumes."""
    from PIL import Image

    from conftest import ASSETS
    from tf_nst.engine.flow import previous_frame_flow
    from tf_nst.runs.video_model import SCENE_CUT_RELIABILITY

    # A cut to a painting: the flow matches ~10 % of its pixels by chance, which would carry ghosts.
    shot = np.asarray(Image.open(os.path.join(ASSETS, "starry_night.jpg")).convert("RGB").resize((SIZE, SIZE)))
    frames = list(clip.frames[:3]) + [np.roll(shot, shift, axis=1) for shift in (0, 2, 4)]
    assert 0 < np.mean(previous_frame_flow(frames[2], frames[3])[1]) < SCENE_CUT_RELIABILITY  # a cut, not empty
    assert np.mean(previous_frame_flow(frames[3], frames[4])[1]) >= SCENE_CUT_RELIABILITY  # the pan is not
    blended = frames_of(stylize_video_with_model(run, frames, tmp_path / "cut", SIZE, temporal_blend=0.6).output)
    np.testing.assert_array_equal(blended[3], run.stylize(frames[3], SIZE))
    assert not np.array_equal(blended[4], run.stylize(frames[4], SIZE))  # the new shot blends again


def test_interrupted_run_resumes_to_the_same_video(tmp_path, run, clip):
    full = frames_of(stylize_video_with_model(run, clip.frames, tmp_path / "full", SIZE, temporal_blend=0.6).output)
    answers = iter([False, False, True])
    stopped = stylize_video_with_model(run, clip.frames, tmp_path / "out", SIZE, temporal_blend=0.6,
                                       should_stop=lambda: next(answers, True))
    assert stopped.status is RunStatus.STOPPED and stopped.output is None and len(stopped.frames) == 2
    assert not os.path.exists(tmp_path / "out")
    resumed = stylize_video_with_model(run, clip.frames, tmp_path / "out", SIZE, temporal_blend=0.6)
    assert resumed.resumed == 2 and sorted(resumed.frame_seconds) == [2, 3, 4, 5]
    for expected, written in zip(full, frames_of(resumed.output)):
        np.testing.assert_array_equal(written, expected)  # T1: the saved uint8 frame is the blend's input
    other = stylize_video_with_model(run, clip.frames, tmp_path / "other", SIZE, temporal_blend=0.6,
                                     should_stop=lambda: len(os.listdir(work_dir_for(tmp_path / "other"))) >= 2)
    again = stylize_video_with_model(run, clip.frames, tmp_path / "other", SIZE, temporal_blend=0.3)
    assert other.status is RunStatus.STOPPED and again.resumed == 0  # other settings: nothing reused


def run_video(*args):
    return CliRunner().invoke(cli.cli, ["video", *map(str, args)])


def test_cli_video_with_a_model(tmp_path, model_folder, clip):
    write_video(tmp_path / "clip", clip.frames, clip.fps)
    result = run_video(tmp_path / "clip", "--model", model_folder, "--size", SIZE, "--style-blend", "calm:1,wild:1",
                       "--temporal-blend", "0.5", "-o", tmp_path / "out.mp4", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(open_video(tmp_path / "out.mp4")) == 6 and leftovers(tmp_path) == []


def test_cli_video_model_errors_are_one_error_line(tmp_path, model_folder, clip):
    write_video(tmp_path / "clip", clip.frames[:2], clip.fps)
    out = tmp_path / "out.mp4"
    cases = [
        (["--model", model_folder, __file__], 2, "Error: expected no STYLE with --model (the styles are in the "
                                                 f"model). Received: {__file__}"),
        ([], 2, "Error: expected at least one STYLE, or --model NAME|MODEL_DIR"),
        (["--model", "no_such_model"], 1, "Error: expected a model folder, a model name or a style of one"),
        (["--model", model_folder, "--style-blend", "bold:1"], 2, "Error: expected styles of the model (calm, wild)"),
        (["--model", model_folder, "--temporal-blend", "1.5"], 2, "Error: Invalid value for '--temporal-blend'"),
        (["--model", model_folder, "--frame-steps", "3"], 2,
         "Error: expected --frame-steps only without --model (a trained network has no optimization)"),
        ([__file__, "--temporal-blend", "0.3"], 2,
         "Error: expected --temporal-blend only with --model (the optimization has its temporal loss)"),
    ]
    for args, code, message in cases:
        result = run_video(tmp_path / "clip", *args, "--size", SIZE, "-o", out, "--quiet")
        assert result.exit_code == code, (args, result.output)
        assert result.output.strip().splitlines()[-1].startswith(message), (args, result.output)
        assert "Traceback" not in result.output and result.output.count("Error:") == 1
    assert not out.exists() and not os.path.exists(work_dir_for(out))


def test_outside_the_region_masks_nothing_is_blended(tmp_path, run, clip):
    """Where no style applies the frame is the photo: the warped previous output is not carried there."""
    from PIL import Image

    left = np.zeros((SIZE, SIZE), np.uint8)
    left[:, :SIZE // 2] = 255
    Image.fromarray(left).save(tmp_path / "left.png")
    result = stylize_video_with_model(run, clip.frames, tmp_path / "out", SIZE, {"calm": 1.0}, temporal_blend=0.6,
                                      region_masks=[str(tmp_path / "left.png")])
    right = slice(SIZE // 2 + 2, None)  # past the mask's resampled edge
    for index, (frame, written) in enumerate(zip(clip.frames, frames_of(result.output))):
        alone = run.stylize(frame, SIZE, {"calm": 1.0}, [left])
        # T1: with no region there the blend's weight is 0: the network's masked output, exactly.
        np.testing.assert_array_equal(written[:, right], alone[:, right])
        assert index == 0 or np.any(written[:, :SIZE // 2] != alone[:, :SIZE // 2])  # blended inside the region


def test_warping_error_in_grey_levels_and_bicubic_warp():
    frames = [np.full((8, 8, 3), 10, np.uint8), np.full((8, 8, 3), 20, np.uint8)]
    zero = [np.zeros((8, 8, 2), np.float32)]
    # T3: float32 against the exact 10 grey levels (a division by 255 and a product by 255).
    np.testing.assert_allclose(warping_error(frames, flows=zero, absolute=True), 10.0, rtol=1e-5)
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    shift = np.zeros((8, 8, 2), np.float32)
    shift[..., 0] = 1.0  # whole-pixel motion: bicubic samples the pixels themselves
    from tf_nst.engine.flow import warp

    np.testing.assert_array_equal(warp(image, shift, cubic=True)[:, :-1], image[:, 1:].astype(np.float32))
