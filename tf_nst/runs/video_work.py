"""The work folder of a video run, shared by the optimization's driver (tf_nst/runs/video.py) and
the trained network's (tf_nst/runs/video_model.py).

Finished frames are PNGs with provenance in `<output>.work`; a rerun with the same settings
resumes after the last frame that matches (`open_work`), `run_frames` runs the remaining ones
through a frame loop with progress events, and `finish_video` assembles the output (or keeps the
frames when interrupted) and returns the `VideoResult`.
"""

import dataclasses
import fractions
import itertools
import os
import re
import shutil

from tf_nst.engine.status import RunStatus
from tf_nst.io.provenance import input_hashes, matches
from tf_nst.io.video_writer import FRAME_NAME, write_video
from tf_nst.runs.contract import FrameProgress
from tf_nst.runs.video_masks import frame_mask_files

WORK_SUFFIX = ".work"


@dataclasses.dataclass
class VideoResult:
    """What `stylize_video` returns.

    Args:
        output: the written video, or None when interrupted.
        frames: stylized frame paths in the work folder (deleted with it unless `keep_frames`).
        total_frames: frames in the selection.
        resumed: frames reused from an earlier run.
        frame_seconds: `{frame index: seconds}` for the frames stylized in this run.
        losses: `{frame index: {name: value}}` for the frames stylized in this run.
        fps: frame rate of the output.
        status: a `RunStatus`: `done`, or `stopped` (Ctrl-C / `should_stop`; every finished frame is kept).
        work_dir: the folder of finished frames.
        notes: things the user should know.
    """

    output: str | None
    frames: list
    total_frames: int
    resumed: int
    frame_seconds: dict
    losses: dict
    fps: fractions.Fraction
    status: RunStatus
    work_dir: str
    notes: list

    @property
    def interrupted(self):
        return not self.status.finished


def work_dir_for(output):
    """The work folder of `output`: `<output>.work` beside it."""
    return os.fspath(output).rstrip("/" + os.sep) + WORK_SUFFIX

def frame_labels(masks, count):
    """Per frame, the mask labels of every style (stored in the frame's provenance); None without masks."""
    if masks is None:
        return [None] * count
    return [list(labels) for labels in zip(*(frame_masks.labels() for frame_masks in masks))]


def finished_frames(work_dir, count, settings, style_paths, labels):
    """How many frames at the start of the work folder were made with exactly `settings`, the styles and masks.

    Stale frames (after the first mismatch) are removed. `labels`: each frame's mask labels or None.
    """
    hashes = input_hashes(style_paths)  # the styles' bytes: a rerun from another directory still resumes
    mask_hashes = {}  # mask file -> sha256, each file hashed once

    def frame_hashes(index):
        files = frame_mask_files(labels[index] or [])
        mask_hashes.update(input_hashes([path for path in files if path not in mask_hashes]))
        return {**hashes, **{path: mask_hashes[path] for path in files}}

    done = 0
    while done < count and matches(os.path.join(work_dir, FRAME_NAME.format(done + 1)), settings,
                                   hashes=frame_hashes(done)):
        done += 1
    # Later frames depend on the earlier ones: anything after the first mismatch is stale.
    for name in os.listdir(work_dir):
        match = re.fullmatch(r"frame_(\d+)\.png", name)
        if match and int(match.group(1)) > done:
            os.unlink(os.path.join(work_dir, name))
    return done

def run_frames(loop, video, masks, resumed, callback, should_stop):
    """Every frame after the `resumed` ones (`masks`: None or one `FrameMasks` per style); returns the `RunStatus`.

    `loop`: `resume_from(index, content)`, `frame(index, content, should_stop, frame_masks)` (the image,
    or None when stopped: then `loop.status`), `frame_seconds` and `losses` (per frame index).
    """
    per_frame = itertools.repeat(None) if masks is None else zip(*masks)
    try:
        for index, (content, frame_masks) in enumerate(zip(video, per_frame)):
            if index < resumed - 1:
                continue
            if index == resumed - 1:
                loop.resume_from(index, content)
                continue
            if should_stop is not None and should_stop():
                return RunStatus.STOPPED
            image = loop.frame(index, content, should_stop, frame_masks)
            if image is None:
                return loop.status
            if callback is not None:
                callback(FrameProgress(done=index + 1, total=len(video), seconds=loop.frame_seconds[index],
                                       losses=loop.losses[index], resumed=resumed, image=image))
    except KeyboardInterrupt:
        return RunStatus.STOPPED
    return RunStatus.DONE

@dataclasses.dataclass
class WorkFolder:
    """`<output>.work`: `paths` of every frame's PNG, the first `resumed` finished by an earlier run."""

    work_dir: str
    paths: list
    resumed: int


def open_work(output, count, settings, style_paths, masks=None):
    """The work folder of `output` (made if missing), stale frames removed: a `WorkFolder`.

    Args:
        output: the video's output path.
        count: frames in the selection.
        settings: what every frame's provenance must match to be reused.
        style_paths: input files hashed with each frame.
        masks: None or one `FrameMasks` per style (their files are hashed with each frame).
    """
    work_dir = work_dir_for(output)
    os.makedirs(work_dir, exist_ok=True)
    resumed = finished_frames(work_dir, count, settings, style_paths, frame_labels(masks, count))
    return WorkFolder(work_dir, [os.path.join(work_dir, FRAME_NAME.format(index + 1)) for index in range(count)],
                      resumed)


def finish_video(loop, video, output, status, work, notes=(), overwrite=False, keep_frames=False):
    """The `VideoResult` of a run; when every frame is finished, the output written and the work folder removed.

    Args:
        loop: the run's frame loop (`frame_seconds`, `losses`, `notes`).
        video: the `VideoSource` (its notes, frame rate and audio).
        output, overwrite, keep_frames: as `stylize_video`'s.
        status: what `run_frames` returned.
        work: the `WorkFolder`.
        notes: notes of the run so far (e.g. the masks').
    """
    count, resumed, work_dir = len(work.paths), work.resumed, work.work_dir
    notes = list(video.notes) + list(notes)
    notes += [f"resumed after frame {resumed} of {count} from {work_dir}"] if resumed else []
    notes += loop.notes
    finished = [path for path in work.paths if os.path.isfile(path)]
    result = VideoResult(output=None, frames=finished, total_frames=count, resumed=resumed,
                         frame_seconds=loop.frame_seconds, losses=loop.losses, fps=video.fps,
                         status=status, work_dir=work_dir, notes=notes)
    if status is not RunStatus.DONE or len(finished) < count:
        notes.append(f"interrupted: {len(finished)} of {count} frames kept in {work_dir}; "
                     "rerun with the same settings to resume")
        return result
    notes += write_video(output, finished, video.fps, audio_from=video if video.kind == "file" else None,
                         overwrite=overwrite)
    if not keep_frames:
        shutil.rmtree(work_dir, ignore_errors=True)
    return dataclasses.replace(result, output=os.fspath(output), frames=finished if keep_frames else [],
                               status=RunStatus.DONE)
