"""Video: frame input and output, and the driver that stylizes a video frame by frame.

Input: a video file (MP4, WebM, MOV, MKV, GIF, ... through PyAV, which ships its own
FFmpeg) or a folder of PNG/JPEG frames (in natural order: `f2.png` before `f10.png`),
optionally a range of frames and every N-th one (`open_video`). Output: an MP4 (H.264,
yuv420p), a GIF, or a folder of PNG frames, at the input's frame rate divided by
`every`, so the video keeps its duration and the audio stays in sync (`write_video`).
Every output appears atomically: written under a temporary name beside it, then renamed.

`stylize_video` follows Ruder, Dosovitskiy and Brox (2016): frame 1 runs the
stylizer's full schedule; frame t starts from the stylized frame t-1 warped by the
optical flow (the content fills what the flow cannot explain) and runs `frame_steps`
evaluations of the usual loss plus, when the stylizer has one, a `TemporalLoss`
(tf_nst/engine/flow.py). Finished frames go to a work folder beside the output, so a rerun
with the same settings resumes after the last finished frame and Ctrl-C loses at most
the frame in progress.
"""

import dataclasses
import fractions
import hashlib
import json
import os
import re
import shutil
import time

import numpy as np
from PIL import Image

from tf_nst.io import images as image_io
from tf_nst.errors import ImageError, InvalidArgumentError, OutputError
from tf_nst.io.atomic import atomic_directory, atomic_output
from tf_nst.settings import VideoSettings

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif")
OUTPUT_SUFFIXES = (".mp4", ".gif")
DEFAULT_FPS = 25
VIDEO_DEFAULTS = VideoSettings()  # defaults of the driver's options (tf_nst/settings/schema.py)
DEFAULT_FRAME_STEPS = VIDEO_DEFAULTS.frame_steps
WORK_SUFFIX = ".work"
FRAME_NAME = "frame_{:05d}.png"
MP4_CRF = 18  # visually lossless for x264: the strokes, not the encoder, should show
# Audio codecs the MP4 muxer takes as they are (no re-encoding).
MP4_AUDIO_CODECS = ("aac", "mp3", "alac", "ac3", "eac3", "opus", "flac")


def _natural_key(name):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _check_selection(frames, every):
    if not (isinstance(every, int) and not isinstance(every, bool) and every >= 1):
        raise InvalidArgumentError(f"expected every an integer >= 1. Received: every={every!r}")
    if frames is None:
        return 0, None
    try:
        start, stop = frames
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"expected frames=(start, stop) like a Python slice. Received: frames={frames!r}") from None
    start = 0 if start is None else start
    valid = isinstance(start, int) and start >= 0 and (stop is None or (isinstance(stop, int) and stop > start))
    if not valid:
        raise InvalidArgumentError(
            "expected frames=(start, stop) with 0 <= start < stop (stop may be None), counted from 0, "
            f"stop excluded. Received: frames={frames!r}")
    return start, stop


def _check_rgb_frame(frame, index):
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise InvalidArgumentError(
            f"expected frames as uint8 (height, width, 3) arrays. "
            f"Received: frame {index} shape={frame.shape}, dtype={frame.dtype}")
    return frame


class VideoSource:
    """The selected frames of a video file, a folder of frames or a list of arrays.

    Build it with `open_video`. Iterating yields `uint8 (height, width, 3)` RGB frames
    (it can be iterated again); the file is decoded once on opening, to count and check
    the frames before any work starts.

    Attributes:
        path: the file or folder (None for arrays).
        kind: `"file"`, `"folder"` or `"arrays"`.
        fps: frame rate of the selected frames (the input's divided by `every`), a `Fraction`.
        size: `(width, height)` of the frames.
        start, every: the selection: frames `start, start + every, ...`.
        audio_codec: name of the input's audio codec, or None.
        notes: things the user should know.
    """

    def __init__(self, path, kind, fps, size, indices, every, audio_codec=None, notes=(), arrays=None,
                 files=None, stream_start=0.0, input_fps=None):
        self.path = path
        self.kind = kind
        self.fps = fps
        self.size = size
        self.indices = list(indices)
        self.start = self.indices[0]
        self.every = every
        self.audio_codec = audio_codec
        self.notes = list(notes)
        self._arrays = arrays
        self._files = files
        self._stream_start = stream_start
        self.input_fps = input_fps if input_fps is not None else fps * every
        self._digest = None

    def __len__(self):
        return len(self.indices)

    def __iter__(self):
        if self.kind == "arrays":
            for index in self.indices:
                yield self._arrays[index]
        elif self.kind == "folder":
            for index in self.indices:
                yield image_io.load_image(self._files[index]).rgb
        else:
            wanted = set(self.indices)
            last = self.indices[-1]
            for index, frame in _decode(self.path):
                if index in wanted:
                    yield frame
                if index >= last:
                    break

    def time_range(self):
        """`(start, end)` of the selected frames in seconds on the input's clock (for the audio)."""
        start = self._stream_start + self.start / float(self.input_fps)
        return start, start + len(self) * self.every / float(self.input_fps)

    def digest(self):
        """SHA-256 of the input (file bytes, the frame files' bytes, or the arrays), computed once."""
        if self._digest is None:
            from tf_nst.io.provenance import file_sha256

            digest = hashlib.sha256()
            if self.kind == "file":
                digest.update(file_sha256(self.path).encode())
            elif self.kind == "folder":
                for index in self.indices:
                    digest.update(os.path.basename(self._files[index]).encode())
                    digest.update(file_sha256(self._files[index]).encode())
            else:
                for index in self.indices:
                    digest.update(np.ascontiguousarray(self._arrays[index]).tobytes())
            self._digest = digest.hexdigest()
        return self._digest

    def describe(self):
        """The selection as a JSON-serializable dict (recorded with every stylized frame)."""
        # The bytes, not the name: a renamed or moved input still resumes.
        return {"kind": self.kind, "sha256": self.digest(), "frames": [self.start, self.indices[-1] + 1],
                "every": self.every, "count": len(self), "fps": str(self.fps)}


def _open_container(path):
    import av

    try:
        return av.open(path, mode="r")
    except av.FFmpegError as error:
        raise ImageError(path, f"cannot read video (expected a video file FFmpeg can decode: {error})") from None


def _decode(path):
    """Yield `(index, rgb)` for every frame of the first video stream; decode errors become ImageError."""
    import av

    container = _open_container(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        for frame in container.decode(stream):
            yield index, frame.to_ndarray(format="rgb24")
            index += 1
    except av.FFmpegError as error:
        raise ImageError(path, f"cannot decode video frame (the file is corrupt: {error})") from None
    finally:
        container.close()


def open_video(source, frames=None, every=1, fps=None):
    """Open a video file, a folder of frames or a list of frames, and check it.

    Args:
        source: a video file path (MP4, WebM, MOV, MKV, AVI, GIF), a folder of PNG/JPEG
            frames (natural order), or a list of `uint8 (height, width, 3)` arrays.
        frames: `(start, stop)` indices counted from 0, stop excluded (None: to the end).
        every: keep every N-th frame of the range.
        fps: frame rate of a folder or array list (default 25); a video file has its own.

    Returns:
        A `VideoSource`.

    Raises:
        ImageError: the file is missing, unreadable or corrupt, has no video stream, a
            folder's frames differ in size, or the selection holds no frame.
        InvalidArgumentError: a bad `frames`, `every` or `fps`.

    Example:
    ```python
    video = open_video("clip.mp4", frames=(0, 48), every=2)
    print(len(video), video.fps, video.size)
    ```
    """
    start, stop = _check_selection(frames, every)
    if fps is not None and not (isinstance(fps, (int, float, fractions.Fraction)) and 0 < fps <= 1000):
        raise InvalidArgumentError(f"expected fps in (0, 1000]. Received: fps={fps!r}")
    notes = []
    if isinstance(source, (list, tuple)):
        arrays = [_check_rgb_frame(frame, index) for index, frame in enumerate(source)]
        total, label = len(arrays), "frames"
        sizes = {(frame.shape[1], frame.shape[0]) for frame in arrays}
        if len(sizes) > 1:
            raise InvalidArgumentError(
                f"expected frames of one size. Received: sizes {sorted(sizes)}")
        indices = _selected(total, start, stop, every, label)
        input_fps = fractions.Fraction(fps if fps is not None else DEFAULT_FPS).limit_denominator(1001)
        return VideoSource(None, "arrays", input_fps / every, next(iter(sizes)), indices, every, arrays=arrays,
                           input_fps=input_fps)
    path = os.fspath(source)
    if not os.path.exists(path):
        raise ImageError(path, "no such file or folder")
    if os.path.isdir(path):
        return _open_folder(path, start, stop, every, fps)
    if not os.path.isfile(path):
        raise ImageError(path, "is not a regular file, expected a video file or a folder of frames")
    if os.path.getsize(path) == 0:
        raise ImageError(path, "file is empty, expected a video file")
    container = _open_container(path)
    try:
        if not container.streams.video:
            raise ImageError(path, "has no video stream, expected a video file")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if fps is not None:
            notes.append(f"{path}: frame rate {float(fps):g} fps given; the file says "
                         f"{float(rate) if rate else 'nothing'}")
            rate = fractions.Fraction(fps).limit_denominator(1001)
        elif not rate or not 0 < rate <= 1000:
            rate = fractions.Fraction(DEFAULT_FPS)
            notes.append(f"{path}: no frame rate in the file; using {DEFAULT_FPS} fps")
        stream_start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        audio_codec = container.streams.audio[0].codec_context.name if container.streams.audio else None
    finally:
        container.close()
    total, size = 0, None
    for _, frame in _decode(path):
        total += 1
        size = (frame.shape[1], frame.shape[0])
    if total == 0:
        raise ImageError(path, "has no decodable video frames, expected at least one")
    indices = _selected(total, start, stop, every, "frames", path)
    return VideoSource(path, "file", rate / every, size, indices, every, audio_codec=audio_codec, notes=notes,
                       stream_start=stream_start, input_fps=rate)


def _selected(total, start, stop, every, label, path=None):
    indices = list(range(start, total if stop is None else min(stop, total), every))
    if not indices:
        message = (f"has no frames in the selection, expected at least one. "
                   f"Received: frames=({start}, {stop}) of {total} {label}")
        if path is None:
            raise InvalidArgumentError(f"expected at least one frame. Received: frames=({start}, {stop}) of "
                                       f"{total} {label}")
        raise ImageError(path, message)
    return indices


def _header_size(path):
    """`(width, height)` after EXIF orientation, from the header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated by 90 degrees
                width, height = height, width
            return width, height
    except (OSError, SyntaxError, ValueError):
        image_io.load_image(path)  # raises the precise ImageError
        raise


def _open_folder(path, start, stop, every, fps):
    names = sorted((name for name in os.listdir(path)
                    if name.lower().endswith(FRAME_SUFFIXES) and not name.startswith(".")), key=_natural_key)
    if not names:
        raise ImageError(path, "contains no PNG or JPEG frames, expected at least one")
    files = [os.path.join(path, name) for name in names]
    indices = _selected(len(files), start, stop, every, "frames", path)
    sizes = {}
    for index in indices:
        sizes.setdefault(_header_size(files[index]), names[index])
    if len(sizes) > 1:
        (first_size, first), (other_size, other) = list(sizes.items())[:2]
        raise ImageError(
            path, f"frames differ in size, expected all {first_size[0]}x{first_size[1]} like {first}. "
                  f"Received: {other} is {other_size[0]}x{other_size[1]}")
    notes = []
    if fps is None:
        notes.append(f"{path}: a folder has no frame rate; using {DEFAULT_FPS} fps")
    input_fps = fractions.Fraction(fps if fps is not None else DEFAULT_FPS).limit_denominator(1001)
    return VideoSource(path, "folder", input_fps / every, next(iter(sizes)), indices, every, notes=notes,
                       files=files, input_fps=input_fps)


# --- output ------------------------------------------------------------------------------------

def output_kind(output):
    """`"mp4"`, `"gif"` or `"folder"` for an output path (a folder: any name not ending like a video or image)."""
    output = os.fspath(output)
    suffix = os.path.splitext(output.rstrip("/" + os.sep))[1].lower()
    if os.path.isdir(output) or output.endswith(("/", os.sep)):
        return "folder"
    if suffix in OUTPUT_SUFFIXES:
        return suffix[1:]
    if suffix not in VIDEO_SUFFIXES + FRAME_SUFFIXES:
        return "folder"  # "run.v2" is a folder name, "clip.webm" a format we do not write
    raise InvalidArgumentError(
        f"expected an output ending in .mp4 or .gif, or a folder for PNG frames. Received: output={output}")


def check_video_output(output, overwrite=False):
    """Fail early, before any work, if `output` cannot be written. Returns its kind."""
    output = os.fspath(output)
    kind = output_kind(output)
    target = output.rstrip("/" + os.sep) or output
    if kind == "folder":
        if os.path.isfile(target):
            raise OutputError(f"{output}: is a file, expected a folder for the PNG frames")
        if os.path.isdir(target) and os.listdir(target) and not overwrite:
            raise OutputError(f"{output}: folder is not empty (pass --overwrite to replace it)")
    else:
        if os.path.isdir(target):
            raise OutputError(f"{output}: is a directory, expected a file path")
        if os.path.exists(target) and not overwrite:
            raise OutputError(f"{output}: already exists (pass --overwrite to replace it)")
    image_io.check_output_directory(target, output)
    return kind


def _rgb(item):
    if isinstance(item, (str, os.PathLike)):
        return image_io.load_image(item).rgb
    return _check_rgb_frame(item, "?")


def write_video(output, frames, fps, audio_from=None, overwrite=False):
    """Write frames as an MP4 (H.264, yuv420p), a GIF or a folder of PNG frames, atomically.

    Args:
        output: `*.mp4`, `*.gif`, or a folder (written as `frame_00001.png`, ...).
        frames: a sequence of `uint8 (height, width, 3)` arrays or PNG paths, one size.
        fps: frame rate (a number or `Fraction`).
        audio_from: a `VideoSource` whose audio (for its selected time range) is copied
            into an MP4 when the codec allows it without re-encoding.
        overwrite: replace an existing output.

    Returns:
        A list of notes (audio dropped, odd size padded, ...).

    Example:
    ```python
    video = open_video("clip.mp4")
    write_video("copy.mp4", list(video), video.fps, audio_from=video)
    ```
    """
    kind = check_video_output(output, overwrite)
    if len(frames) == 0:
        raise InvalidArgumentError("expected at least one frame to write. Received: 0 frames")
    fps = fractions.Fraction(fps).limit_denominator(1001)
    notes = []
    has_audio = audio_from is not None and audio_from.audio_codec is not None
    if kind == "folder":
        _write_folder(output, frames, overwrite)
        if has_audio:
            notes.append(f"{output}: a folder of frames holds no audio; the input's audio was dropped")
    elif kind == "gif":
        with atomic_output(output) as stream:
            _write_gif(stream, frames, fps)
        if has_audio:
            notes.append(f"{output}: GIF has no audio; the input's audio was dropped")
    else:
        audio = None
        if has_audio:
            if audio_from.audio_codec in MP4_AUDIO_CODECS:
                audio = audio_from
            else:
                notes.append(f"{output}: the input's audio ({audio_from.audio_codec}) cannot be copied into "
                             f"MP4 without re-encoding; dropped")
        with atomic_output(output) as stream:
            notes += _write_mp4(stream, frames, fps, audio)
    return notes


def _write_folder(output, frames, overwrite):
    target = os.fspath(output).rstrip("/" + os.sep)
    if os.path.isdir(target) and not overwrite and os.listdir(target):
        raise OutputError(f"{output}: folder is not empty (pass --overwrite to replace it)")
    with atomic_directory(target, replace=True) as temporary:
        for number, item in enumerate(frames, start=1):
            destination = os.path.join(temporary, FRAME_NAME.format(number))
            if isinstance(item, (str, os.PathLike)) and os.fspath(item).lower().endswith(".png"):
                shutil.copyfile(item, destination)  # keeps the frame's provenance
            else:
                Image.fromarray(_rgb(item)).save(destination, format="PNG")


def _write_gif(stream, frames, fps):
    """One palette for the whole clip and no dithering: a per-frame palette or dither pattern flickers."""
    step = max(1, len(frames) // 8)
    sample = [_rgb(frames[index]) for index in range(0, len(frames), step)]
    palette = Image.fromarray(np.concatenate(sample, axis=0)).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    duration = max(20, round(1000 / float(fps)))  # GIF counts in 10 ms; browsers slow down delays < 20 ms

    def quantized(items):
        for item in items:
            yield Image.fromarray(_rgb(item)).quantize(palette=palette, dither=Image.Dither.NONE)

    images = quantized(frames)
    first = next(images)
    first.save(stream, format="GIF", save_all=True, append_images=list(images), duration=duration, loop=0,
               optimize=False, disposal=1)


def _even(frame):
    """Pad to even sides by repeating the last row/column (yuv420p halves the chroma)."""
    height, width = frame.shape[:2]
    if height % 2 or width % 2:
        frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return frame


def _write_mp4(stream, frames, fps, audio_source):
    import av

    notes = []
    first = _rgb(frames[0])
    height, width = first.shape[:2]
    if height % 2 or width % 2:
        notes.append(f"frames are {width}x{height}; H.264 in yuv420p needs even sides, so the last "
                     "row/column is repeated")
    container = av.open(stream, mode="w", format="mp4")
    try:
        video = container.add_stream("libx264", rate=fps, options={"crf": str(MP4_CRF), "preset": "medium"})
        video.width, video.height = width + width % 2, height + height % 2
        video.pix_fmt = "yuv420p"
        video.time_base = 1 / fps
        audio_packets, audio = [], None
        if audio_source is not None:
            audio_packets, audio = _audio_packets(audio_source, container)
            if not audio_packets:
                notes.append("the input's audio has no packets in the selected frames; no audio written")
        pending = list(audio_packets)
        for number, item in enumerate(frames):
            rgb = _rgb(item) if number else first
            if rgb.shape != first.shape:
                raise InvalidArgumentError(
                    f"expected frames of one size {width}x{height}. Received: frame {number} is "
                    f"{rgb.shape[1]}x{rgb.shape[0]}")
            frame = av.VideoFrame.from_ndarray(_even(rgb), format="rgb24").reformat(format="yuv420p")
            frame.pts = number
            frame.time_base = video.time_base
            for packet in video.encode(frame):
                container.mux(packet)
            # Interleave the audio up to this frame's time.
            while pending and pending[0][0] <= (number + 1) / fps:
                container.mux(pending.pop(0)[1])
        for packet in video.encode():
            container.mux(packet)
        for _, packet in pending:
            container.mux(packet)
    finally:
        container.close()
    return notes


def _audio_packets(source, output_container):
    """The source's audio packets in its selected time range, retimed to start at 0, as `(seconds, packet)`."""
    import av

    start, end = source.time_range()
    container = av.open(source.path, mode="r")
    try:
        in_audio = container.streams.audio[0]
        out_audio = output_container.add_stream_from_template(in_audio)
        time_base = in_audio.time_base
        offset = round(start / time_base)
        packets = []
        for packet in container.demux(in_audio):
            if packet.pts is None or packet.size == 0:
                continue
            seconds = float(packet.pts * time_base)
            if seconds < start or seconds >= end:
                continue
            packet.pts -= offset
            packet.dts = packet.pts if packet.dts is None else packet.dts - offset
            packet.stream = out_audio
            packets.append((seconds - start, packet))
    except av.FFmpegError as error:
        raise ImageError(source.path, f"cannot read the audio (the file is corrupt: {error})") from None
    finally:
        container.close()
    return packets, out_audio


# --- the driver ------------------------------------------------------------------------------------

@dataclasses.dataclass
class VideoProgress:
    """Passed to the `callback` of `stylize_video` after each finished frame.

    Args:
        frame: frames finished so far (resumed ones included).
        total_frames: frames in the selection.
        seconds: wall time of this frame (flow + optimization + save).
        losses: loss parts of this frame's result (`{name: value}`).
        resumed: frames found finished in the work folder at the start.
        image: the stylized frame, `uint8 (height, width, 3)`.
    """

    frame: int
    total_frames: int
    seconds: float
    losses: dict
    resumed: int
    image: np.ndarray = dataclasses.field(repr=False, default=None)


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
        interrupted: stopped by Ctrl-C / `should_stop`; every finished frame is kept.
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
    interrupted: bool
    work_dir: str
    notes: list


def work_dir_for(output):
    """The work folder of `output`: `<output>.work` beside it."""
    return os.fspath(output).rstrip("/" + os.sep) + WORK_SUFFIX


def _temporal_terms(stylizer):
    from tf_nst.engine.flow import TemporalLoss

    return [term for term in stylizer.settings.extra_loss_terms if isinstance(term, TemporalLoss)]


def _finished_frames(work_dir, count, settings, inputs):
    """How many frames at the start of the work folder were made with exactly `settings` and `inputs`.

    Stale frames (after the first mismatch) are removed.
    """
    from tf_nst.io.provenance import input_hashes, read_provenance

    expected = json.loads(json.dumps(settings, sort_keys=True))
    # Compare the style files' bytes, not their paths: a rerun from another directory still resumes.
    hashes = sorted(input_hashes(inputs).values())
    done = 0
    while done < count:
        path = os.path.join(work_dir, FRAME_NAME.format(done + 1))
        if not os.path.isfile(path):
            break
        try:
            stored = read_provenance(path)
        except ImageError:
            break
        if stored["settings"] != expected or sorted(stored.get("inputs_sha256", {}).values()) != hashes:
            break
        done += 1
    # Later frames depend on the earlier ones: anything after the first mismatch is stale.
    for name in os.listdir(work_dir):
        match = re.fullmatch(r"frame_(\d+)\.png", name)
        if match and int(match.group(1)) > done:
            os.unlink(os.path.join(work_dir, name))
    return done


def stylize_video(stylizer, video, styles, output, frame_steps=DEFAULT_FRAME_STEPS,
                  warp_start=VIDEO_DEFAULTS.warp_start, flow_method=VIDEO_DEFAULTS.flow_method, overwrite=False, keep_frames=False, callback=None, should_stop=None):
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
        styles: style image(s), as for `Stylizer.stylize`.
        output: `*.mp4`, `*.gif` or a folder for PNG frames.
        frame_steps: evaluations per frame after the first (None: the full schedule).
        warp_start: start later frames from the warped previous result; False starts them
            like the first (independent frames: the flicker baseline).
        flow_method: `"dis"` or `"farneback"` (`tf_nst.engine.flow.optical_flow`).
        overwrite: replace an existing output.
        keep_frames: keep the work folder after assembling the output.
        callback: called with a `VideoProgress` after each finished frame.
        should_stop: callable checked between and inside frames; True stops cleanly.

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
    from tf_nst.engine import flow as flow_module

    check_video_output(output, overwrite)
    if frame_steps is not None and not (isinstance(frame_steps, int) and 1 <= frame_steps <= 100_000):
        raise InvalidArgumentError(
            f"expected frame_steps an integer in [1, 100000] or None. Received: frame_steps={frame_steps!r}")
    if flow_method not in flow_module.FLOW_METHODS:
        raise InvalidArgumentError(
            f"expected flow_method one of {', '.join(flow_module.FLOW_METHODS)}. Received: flow_method={flow_method!r}")
    if not isinstance(video, VideoSource):
        video = open_video(video)
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    temporal_terms = _temporal_terms(stylizer)
    uses_flow = warp_start or any(term.weight > 0 for term in temporal_terms)
    style_paths = [style for style in style_list if isinstance(style, (str, os.PathLike))]
    # Style files are hashed by the provenance (`inputs`); pixels given directly are hashed here.
    style_arrays = [hashlib.sha256(np.ascontiguousarray(getattr(style, "rgb", style)).tobytes()).hexdigest()
                    for style in style_list if not isinstance(style, (str, os.PathLike))]
    settings = {**stylizer.get_config(), "video": {
        **video.describe(), "frame_steps": frame_steps, "warp_start": warp_start, "flow_method": flow_method,
        "style_arrays_sha256": style_arrays}}
    work_dir = work_dir_for(output)
    os.makedirs(work_dir, exist_ok=True)
    count = len(video)
    resumed = _finished_frames(work_dir, count, settings, style_paths)
    notes = list(video.notes)
    if resumed:
        notes.append(f"resumed after frame {resumed} of {count} from {work_dir}")
    paths = [os.path.join(work_dir, FRAME_NAME.format(index + 1)) for index in range(count)]
    frame_seconds, losses = {}, {}
    previous_content = previous_result = out_size = None
    interrupted = False
    try:
        for index, content in enumerate(video):
            if index < resumed - 1:
                continue
            if index == resumed - 1:
                # The last finished frame: the start of the next one.
                previous_result = image_io.load_image(paths[index]).rgb
                out_size = (previous_result.shape[1], previous_result.shape[0])
                previous_content = image_io.resize(content, out_size)
                continue
            if should_stop is not None and should_stop():
                interrupted = True
                break
            started = time.perf_counter()
            init = None
            if out_size is not None:
                content = image_io.resize(content, out_size)
            if index == 0:
                for term in temporal_terms:
                    term.reset()
                result = stylizer.stylize(content, style_list, should_stop=should_stop)
            else:
                if uses_flow:
                    flow, mask = flow_module.previous_frame_flow(previous_content, content, flow_method)
                    warped = flow_module.warp(previous_result, flow)
                    for term in temporal_terms:
                        term.set_previous(warped, mask)
                    if warp_start:
                        filled = mask[..., None] * warped + (1.0 - mask[..., None]) * content
                        init = np.clip(np.round(filled), 0, 255).astype(np.uint8)
                result = stylizer.stylize(content, style_list, init=init, num_steps=frame_steps,
                                          should_stop=should_stop)
            if result.interrupted:
                interrupted = True
                break
            image = result.image
            if out_size is None:
                out_size = (image.shape[1], image.shape[0])
                content = image_io.resize(content, out_size)
            image_io.save_png(paths[index], image, settings=settings, inputs=style_paths)
            previous_content, previous_result = content, image
            frame_seconds[index] = time.perf_counter() - started
            best = result.history[int(np.argmin(result.history[:, 0]))] if len(result.history) else []
            losses[index] = dict(zip(result.loss_names, map(float, best)))
            notes += [note for note in result.notes if note not in notes]
            if callback is not None:
                callback(VideoProgress(frame=index + 1, total_frames=count, seconds=frame_seconds[index],
                                       losses=losses[index], resumed=resumed, image=image))
    except KeyboardInterrupt:
        interrupted = True
    finished = [path for path in paths if os.path.isfile(path)]
    if interrupted or len(finished) < count:
        notes.append(f"interrupted: {len(finished)} of {count} frames kept in {work_dir}; "
                     "rerun with the same settings to resume")
        return VideoResult(output=None, frames=finished, total_frames=count, resumed=resumed,
                           frame_seconds=frame_seconds, losses=losses, fps=video.fps, interrupted=True,
                           work_dir=work_dir, notes=notes)
    notes += write_video(output, finished, video.fps, audio_from=video if video.kind == "file" else None,
                         overwrite=overwrite)
    if not keep_frames:
        shutil.rmtree(work_dir, ignore_errors=True)
    return VideoResult(output=os.fspath(output), frames=finished if keep_frames else [], total_frames=count,
                       resumed=resumed, frame_seconds=frame_seconds, losses=losses, fps=video.fps,
                       interrupted=False, work_dir=work_dir, notes=notes)
