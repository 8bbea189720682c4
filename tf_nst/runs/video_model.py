"""A video through a trained feed-forward network, with the flicker reduced by the optical flow.

Each frame runs once through the network (`tf_nst.runs.realtime.ModelRun`). A network's
output on two nearly equal frames differs in its texture (strided convolutions are not shift
invariant), which flickers. So frame t's output is the blend

    out_t = (1 - a) · net(frame_t) + a · warp(out_{t-1}, flow_t),   a = temporal_blend · reliable(p)

where `flow_t` brings frame t-1 onto frame t (measured on the content) and `reliable` is the
forward-backward consistency / motion-boundary / in-view mask of `tf_nst.engine.flow`: new
content, disoccluded background and fast edges take the network's output alone, so a moving
object leaves no trail; after a scene cut (`SCENE_CUT_RELIABILITY`) the frame starts afresh. Along the flow this is an exponential moving average of the network's
outputs (Ruder et al. 2016 and Huang et al. 2017 warp the previous output the same way).
`temporal_blend=0` gives independent frames, exactly `ModelRun.stylize` on each.

The work folder, resume, progress events and output writing are the optimization's
(`tf_nst.runs.video_work`): a rerun with the same model, settings and masks resumes after the
last finished frame.
"""

import time

import numpy as np

from tf_nst.engine.masks import renamed
from tf_nst.engine.status import RunStatus
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import images as image_io
from tf_nst.io.video_files import VideoSource, open_video
from tf_nst.io.video_writer import check_video_output
from tf_nst.runs.video import open_masks
from tf_nst.runs.video_masks import fit_mask
from tf_nst.runs.video_work import finish_video, open_work, run_frames
from tf_nst.settings import FLOW_METHODS, PRESERVE_COLORS_MODES, VideoSettings

MODEL_VIDEO_DEFAULTS = VideoSettings()  # temporal_blend, flow_method (tf_nst/settings/schema.py)
# A frame whose flow follows less of the previous frame than this (mean reliability) is a new shot:
# its output is the network's alone. Measured (DIS, 192 px): a 3-px pan 0.97; cuts between unrelated
# photos 0.004-0.11, where the few pixels the flow matches by chance would otherwise carry ghosts.
SCENE_CUT_RELIABILITY = 0.3


def blend_with_previous(styled, warped, reliable, strength):
    """`(1 - a) · styled + a · warped` with `a = strength · reliable`, rounded to uint8.

    Args:
        styled: the network's output on this frame, uint8 `(h, w, 3)`.
        warped: the previous output warped onto this frame, float `(h, w, 3)` in 0-255.
        reliable: float `(h, w)` in [0, 1]: where the flow can be trusted.
        strength: the `temporal_blend` in [0, 1].
    """
    weight = (float(strength) * np.asarray(reliable, np.float32))[..., None]
    blended = (1.0 - weight) * np.asarray(styled, np.float32) + weight * np.asarray(warped, np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


class _ModelFrames:
    """The frames of one run: the network's output blended with the previous output warped by the flow."""

    def __init__(self, run, size, blend, preserve_colors, strength, flow_method, settings, paths):
        self.run, self.size, self.blend, self.preserve_colors = run, size, blend, preserve_colors
        self.strength, self.flow_method, self.settings, self.paths = strength, flow_method, settings, paths
        self.previous_content = self.previous_result = None
        self.frame_seconds, self.losses, self.notes = {}, {}, []
        self.status = RunStatus.DONE

    def resume_from(self, index, content):
        """The last finished frame of an earlier run: what the next frame is blended with."""
        self.previous_result = image_io.load_image(self.paths[index]).rgb
        height, width = self.previous_result.shape[:2]
        self.previous_content = image_io.resize(content, (width, height))

    def smoothed(self, content, styled, region):
        """`styled` blended with the warped previous output (`region`: None or where any style applies)."""
        from tf_nst.engine import flow

        optical_flow, reliable = flow.previous_frame_flow(self.previous_content, content, self.flow_method)
        if float(np.mean(reliable)) < SCENE_CUT_RELIABILITY:  # a scene cut: nothing of the last shot carries over
            return styled
        if region is not None:  # outside every region the output is the frame itself: nothing to carry
            reliable = reliable * region
        # Bicubic: the output is warped again every frame, and bilinear sampling blurs it each time.
        warped = flow.warp(self.previous_result, optical_flow, cubic=True)
        return blend_with_previous(styled, warped, reliable, self.strength)

    def frame(self, index, content, should_stop=None, frame_masks=None):
        """Stylize and save frame `index` (`frame_masks`: None or `(label, grey mask)` per style); its image."""
        started = time.perf_counter()
        masks = [mask for _, mask in frame_masks] if frame_masks is not None else []
        styled = self.run.stylize(content, self.size, self.blend, masks, self.preserve_colors)
        height, width = styled.shape[:2]
        content = image_io.resize(content, (width, height))
        if index > 0 and self.strength > 0 and self.previous_result is not None:
            region = None if not masks else np.clip(np.sum([fit_mask(mask, height, width) for mask in masks],
                                                           axis=0), 0.0, 1.0)
            styled = self.smoothed(content, styled, region)
        image_io.save_png(self.paths[index], styled, settings=self.settings,
                          masks=None if frame_masks is None else {"region_masks": [label for label, _ in frame_masks]})
        self.previous_content, self.previous_result = content, styled
        self.frame_seconds[index] = time.perf_counter() - started
        self.losses[index] = {}
        return styled


def model_video_settings(run, video, size, blend, preserve_colors, temporal_blend, flow_method, masks=None):
    """What every frame records: the model's settings (`ModelRun.settings_for`) plus the video options."""
    settings = {**run.settings_for(blend, size, preserve_colors), "video": {
        **video.describe(), "temporal_blend": float(temporal_blend), "flow_method": flow_method}}
    if masks is not None:
        settings["video"]["region_masks"] = [frame_masks.describe() for frame_masks in masks]
    return settings


def _check_options(size, temporal_blend, flow_method, preserve_colors):
    if not (isinstance(size, int) and size > 0):
        raise InvalidArgumentError(f"expected size a positive integer. Received: size={size!r}")
    if not (isinstance(temporal_blend, (int, float)) and 0.0 <= temporal_blend <= 1.0):
        raise InvalidArgumentError(f"expected temporal_blend a number in [0, 1]. Received: "
                                   f"temporal_blend={temporal_blend!r}")
    if flow_method not in FLOW_METHODS:
        raise InvalidArgumentError(
            f"expected flow_method one of {', '.join(FLOW_METHODS)}. Received: flow_method={flow_method!r}")
    if preserve_colors not in PRESERVE_COLORS_MODES:
        raise InvalidArgumentError(f"expected preserve_colors in {PRESERVE_COLORS_MODES}. "
                                   f"Received: {preserve_colors!r}")


def stylize_video_with_model(run, video, output, size, blend=None, temporal_blend=MODEL_VIDEO_DEFAULTS.temporal_blend,
                             flow_method=MODEL_VIDEO_DEFAULTS.flow_method, preserve_colors="none", region_masks=None,
                             overwrite=False, keep_frames=False, callback=None, should_stop=None, masks=None):
    """Every frame of `video` through a trained network, the flicker reduced along the optical flow.

    Frame t's output is the network's, blended with the previous output warped onto frame t where
    the flow is reliable, by `temporal_blend` (module docstring). Finished frames go to
    `<output>.work` with provenance (the model's weights hash, the blend, size, the video
    options); a rerun with the same settings resumes after the last finished one, Ctrl-C or
    `should_stop` stops between frames keeping them. When all are done the output is written.

    Args:
        run: a `tf_nst.runs.realtime.ModelRun`.
        video: a path (video file or frame folder), a `VideoSource` or a list of uint8 frames.
        output: `*.mp4`, `*.gif` or a folder for PNG frames.
        size: the output's longest side.
        blend: `{style: weight}` of the model's styles (default `run.blend_for(None)`).
        temporal_blend: weight in [0, 1] of the warped previous output where the flow is reliable
            (0: independent frames; benchmarks/video.py measures the trade-off).
        flow_method: one of `tf_nst.settings.FLOW_METHODS`.
        preserve_colors: one of `PRESERVE_COLORS_MODES`.
        region_masks: None or one mask path per style of the blend (as `stylize_video`'s).
        masks: the old name of `region_masks` (deprecated).
        overwrite, keep_frames, callback, should_stop: as `tf_nst.runs.video.stylize_video`'s.

    Returns:
        A `VideoResult` (`losses` are empty: a network has none).

    Example:
    ```python
    run = ModelRun("starry_night")
    result = stylize_video_with_model(run, "clip.mp4", "clip_starry.mp4", size=512, temporal_blend=0.6)
    ```
    """
    check_video_output(output, overwrite)
    _check_options(size, temporal_blend, flow_method, preserve_colors)
    blend = run.blend_for(blend)
    video = video if isinstance(video, VideoSource) else open_video(video)
    masks, mask_notes = open_masks(renamed(region_masks, masks, "region_masks", "masks"), video, list(blend))
    settings = model_video_settings(run, video, size, blend, preserve_colors, temporal_blend, flow_method, masks)
    work = open_work(output, len(video), settings, [], masks)
    loop = _ModelFrames(run, size, blend, preserve_colors, temporal_blend, flow_method, settings, work.paths)
    status = run_frames(loop, video, masks, work.resumed, callback, should_stop)
    return finish_video(loop, video, output, status, work, mask_notes, overwrite, keep_frames)
