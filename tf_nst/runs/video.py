"""The video driver: stylize a video frame by frame, consistently in time (Ruder et al. 2016).

Frame 1 runs the stylizer's full schedule; frame t starts from the stylized frame t-1 warped by
the optical flow (the content fills what the flow cannot explain) and runs `frame_steps`
evaluations of the usual loss plus, when the stylizer has one, a `TemporalLoss`
(tf_nst/engine/flow.py). The styles are decoded once per video. Finished frames go to a work
folder beside the output, so a rerun with the same settings resumes after the last finished
frame and Ctrl-C loses at most the frame in progress. Input and output files are
`tf_nst.io.video_files` (`open_video`) and `tf_nst.io.video_writer` (`write_video`).
"""

import hashlib
import os
import time

import numpy as np

from tf_nst.engine.masks import renamed
from tf_nst.engine.status import RunStatus
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import images as image_io
from tf_nst.io.video_files import VideoSource, open_video
from tf_nst.io.video_writer import check_video_output, write_video  # noqa: F401 (write_video: public here)
from tf_nst.runs.contract import FrameProgress
from tf_nst.runs.video_masks import check_frame_masks, fit_mask, open_frame_masks
from tf_nst.runs.video_work import VideoResult, finish_video, open_work, run_frames, work_dir_for  # noqa: F401
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, FLOW_METHODS, MAX_STEPS, VideoSettings

VIDEO_DEFAULTS = VideoSettings()  # defaults of the driver's options (tf_nst/settings/schema.py)
VideoProgress = FrameProgress  # what `stylize_video` passes its callback (tf_nst.runs.contract)


def load_styles(styles, max_input_pixels=DEFAULT_MAX_INPUT_PIXELS):
    """Style paths, `LoadedImage`s or arrays -> `LoadedImage`s, each file decoded once with the pixel cap."""
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    return [image_io.load_image(style, max_input_pixels=max_input_pixels) if isinstance(style, (str, os.PathLike))
            else style if isinstance(style, image_io.LoadedImage) else image_io.LoadedImage(rgb=np.asarray(style))
            for style in styles]


def _check_options(output, overwrite, frame_steps, flow_method):
    check_video_output(output, overwrite)
    if frame_steps is not None and not (isinstance(frame_steps, int) and 1 <= frame_steps <= MAX_STEPS):
        raise InvalidArgumentError(
            f"expected frame_steps an integer in [1, {MAX_STEPS}] or None. Received: frame_steps={frame_steps!r}")
    if flow_method not in FLOW_METHODS:
        raise InvalidArgumentError(
            f"expected flow_method one of {', '.join(FLOW_METHODS)}. Received: flow_method={flow_method!r}")


def frame_settings(stylizer, video, styles, frame_steps, warp_start, flow_method, masks=None):
    """The settings every frame records (the stylizer's plus the video options) and the style files.

    `masks`: None or one `tf_nst.runs.video_masks.FrameMasks` per style (their kinds are recorded;
    the mask files themselves are hashed with each frame's inputs).
    """
    style_paths = [style.path for style in styles if style.path is not None]
    # Style files are hashed by the provenance (`inputs`); pixels given directly are hashed here.
    style_arrays = [hashlib.sha256(np.ascontiguousarray(style.rgb).tobytes()).hexdigest()
                    for style in styles if style.path is None]
    settings = {**stylizer.get_config(), "video": {
        **video.describe(), "frame_steps": frame_steps, "warp_start": warp_start, "flow_method": flow_method,
        "style_arrays_sha256": style_arrays}}
    if masks is not None:  # only then: frames made before masks existed still resume
        settings["video"]["region_masks"] = [frame_masks.describe() for frame_masks in masks]
    return settings, style_paths


def open_masks(masks, video, styles):
    """`stylize_video`'s `masks` as one `FrameMasks` per style, checked against the clip; and notes."""
    if masks is None:
        return None, []
    masks = list(masks) if isinstance(masks, (list, tuple)) else [masks]
    if len(masks) != len(styles):
        raise InvalidArgumentError(
            f"expected one mask per style ({len(styles)}). Received: {len(masks)} masks")
    names = [f"masks[{index}]" for index in range(len(masks))]
    sequences = [open_frame_masks(mask, len(video), name) for mask, name in zip(masks, names)]
    return sequences, check_frame_masks(sequences, video.size, names)


class _FrameLoop:
    """The frames of one run: each started from the previous result warped by the optical flow."""

    def __init__(self, stylizer, styles, settings, style_paths, paths, frame_steps, warp_start, flow_method):
        from tf_nst.engine.flow import TemporalLoss

        self.stylizer, self.styles, self.settings, self.style_paths = stylizer, styles, settings, style_paths
        self.paths, self.frame_steps, self.warp_start, self.flow_method = paths, frame_steps, warp_start, flow_method
        self.temporal_terms = [term for term in stylizer.settings.extra_loss_terms if isinstance(term, TemporalLoss)]
        self.uses_flow = warp_start or any(term.weight > 0 for term in self.temporal_terms)
        self.previous_content = self.previous_result = self.out_size = None
        self.frame_seconds, self.losses, self.notes = {}, {}, []
        self.status = RunStatus.DONE

    def resume_from(self, index, content):
        """The last finished frame of an earlier run: the start of the next one."""
        self.previous_result = image_io.load_image(self.paths[index]).rgb
        self.out_size = (self.previous_result.shape[1], self.previous_result.shape[0])
        self.previous_content = image_io.resize(content, self.out_size)

    def start(self, content, region=None):
        """The warped previous result (content where the flow is unreliable), or None for a fresh start.

        `region`: None, or where any style applies (`float32 (h, w)`, the union of the frame's masks).
        """
        from tf_nst.engine import flow

        if not self.uses_flow:
            return None
        optical_flow, mask = flow.previous_frame_flow(self.previous_content, content, self.flow_method)
        if region is not None:
            # Outside every region the target is the frame itself: start from it and leave it to the
            # content loss, else a pan carries stylized pixels across the boundary and the temporal
            # loss holds them there.
            mask = mask * region
        warped = flow.warp(self.previous_result, optical_flow)
        for term in self.temporal_terms:
            term.set_previous(warped, mask)
        if not self.warp_start:
            return None
        filled = mask[..., None] * warped + (1.0 - mask[..., None]) * content
        return np.clip(np.round(filled), 0, 255).astype(np.uint8)

    def frame(self, index, content, should_stop, frame_masks=None):
        """Stylize and save frame `index`; returns its image, or None when the run ended early (`self.status`).

        `frame_masks`: None or `(label, grey uint8 mask)` per style for this frame.
        """
        started = time.perf_counter()
        if self.out_size is not None:
            content = image_io.resize(content, self.out_size)
        masks = labels = None
        if frame_masks is not None:  # at the frame's size: checked against the clip once, no note per frame
            labels = [label for label, _ in frame_masks]
            masks = [fit_mask(mask, *content.shape[:2]) for _, mask in frame_masks]
        if index == 0:
            for term in self.temporal_terms:
                term.reset()
            result = self.stylizer.stylize(content, self.styles, should_stop=should_stop, region_masks=masks)
        else:
            region = None if masks is None else np.clip(np.sum(masks, axis=0), 0.0, 1.0)
            result = self.stylizer.stylize(content, self.styles, init=self.start(content, region),
                                           region_masks=masks, num_steps=self.frame_steps, should_stop=should_stop)
        if result.interrupted:  # stopped, or the time budget (max_seconds) ran out inside the frame
            self.status = result.status
            return None
        if self.out_size is None:
            self.out_size = (result.image.shape[1], result.image.shape[0])
            content = image_io.resize(content, self.out_size)
        image_io.save_png(self.paths[index], result.image, settings=self.settings, inputs=self.style_paths,
                          masks=None if labels is None else {"region_masks": labels})
        self.previous_content, self.previous_result = content, result.image
        self.frame_seconds[index] = time.perf_counter() - started
        best = result.history[int(np.argmin(result.history[:, 0]))] if len(result.history) else []
        self.losses[index] = dict(zip(result.loss_names, map(float, best)))
        self.notes += [note for note in result.notes if note not in self.notes]
        return result.image


def stylize_video(stylizer, video, styles, output, frame_steps=VIDEO_DEFAULTS.frame_steps,
                  warp_start=VIDEO_DEFAULTS.warp_start, flow_method=VIDEO_DEFAULTS.flow_method, overwrite=False,
                  keep_frames=False, callback=None, should_stop=None, max_input_pixels=DEFAULT_MAX_INPUT_PIXELS,
                  region_masks=None, masks=None):
    """Stylize a video frame by frame, consistently in time (Ruder et al. 2016).

    Frame 1 runs `stylizer`'s full schedule. Each later frame starts from the previous
    stylized frame warped onto it by the optical flow of the content (the content fills
    what the flow cannot explain) and runs `frame_steps` evaluations. If the stylizer's
    `extra_loss_terms` hold a `TemporalLoss`, it is given the warped frame and the
    reliability mask before each frame: its weight is the temporal weight.

    Finished frames are written as PNGs (with provenance: the stylizer's settings plus
    the video options) to `<output>.work`. A rerun with the same settings and inputs
    resumes after the last finished frame; Ctrl-C or `should_stop` stops after keeping
    every finished frame. When all frames are done the output is assembled atomically
    and the work folder is removed (unless `keep_frames`). Deterministic for a seed.

    Args:
        stylizer: a `Stylizer`; add `TemporalLoss(weight=...)` to its `extra_loss_terms`
            for the temporal loss.
        video: a path (video file or frame folder), a `VideoSource` from `open_video`, or a
            list of `uint8 (height, width, 3)` frames.
        styles: style image(s): paths, `LoadedImage`s or arrays; decoded once for the whole video.
        output: `*.mp4`, `*.gif` or a folder for PNG frames.
        frame_steps: evaluations per frame after the first (None: the full schedule).
        warp_start: start later frames from the warped previous result; False starts them
            like the first (independent frames: the flicker baseline).
        flow_method: one of `tf_nst.settings.FLOW_METHODS` (`tf_nst.engine.flow.optical_flow`).
        overwrite: replace an existing output.
        keep_frames: keep the work folder after assembling the output.
        callback: called with a `tf_nst.runs.contract.FrameProgress` after each finished frame.
        should_stop: callable (e.g. a `StopRequest`) checked between and inside frames; True stops cleanly.
        max_input_pixels: style files larger than this are refused.
        region_masks: None (every style everywhere) or one mask path per style, where it applies (white)
            and where the frame is kept (black): a grey image for every frame, a folder of mask
            images or a video of masks, one per frame of the selection (the first with its first
            frame; `tf_nst.runs.video_masks.open_frame_masks`). Checked before any frame runs.
        masks: the old name of `region_masks` (deprecated).

    Returns:
        A `VideoResult`.

    Example:
    ```python
    temporal = TemporalLoss()                      # the default temporal weight
    stylizer = Stylizer(backbone="vgg16-hed", size=256, extra_loss_terms=[temporal])
    result = stylize_video(stylizer, "clip.mp4", ["starry_night.jpg"], "clip_starry.mp4", frame_steps=50)
    print(result.output, result.notes)
    ```
    """
    _check_options(output, overwrite, frame_steps, flow_method)
    video = video if isinstance(video, VideoSource) else open_video(video)
    styles = load_styles(styles, max_input_pixels)
    masks, mask_notes = open_masks(renamed(region_masks, masks, "region_masks", "masks"), video, styles)
    settings, style_paths = frame_settings(stylizer, video, styles, frame_steps, warp_start, flow_method, masks)
    work = open_work(output, len(video), settings, style_paths, masks)
    loop = _FrameLoop(stylizer, styles, settings, style_paths, work.paths, frame_steps, warp_start, flow_method)
    status = run_frames(loop, video, masks, work.resumed, callback, should_stop)
    return finish_video(loop, video, output, status, work, mask_notes, overwrite, keep_frames)
