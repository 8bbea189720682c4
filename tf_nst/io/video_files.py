"""Video input: the selected frames of a video file, a folder of frames or a list of arrays.

A video file (MP4, WebM, MOV, MKV, GIF, ... through PyAV, which ships its own FFmpeg) or a
folder of PNG/JPEG frames (in natural order: `f2.png` before `f10.png`), optionally a range of
frames and every N-th one (`open_video`). The output side is `tf_nst.io.video_writer`; the
driver that stylizes a video is `tf_nst.runs.video`.
"""

import fractions
import hashlib
import os
import re

import numpy as np
from PIL import Image

from tf_nst.errors import ImageError, InvalidArgumentError
from tf_nst.io import images as image_io
from tf_nst.io.provenance import file_sha256

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_FPS = 25
MAX_FPS = 1000


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


def check_rgb_frame(frame, index):
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
    if fps is not None and not (isinstance(fps, (int, float, fractions.Fraction)) and 0 < fps <= MAX_FPS):
        raise InvalidArgumentError(f"expected fps in (0, {MAX_FPS}]. Received: fps={fps!r}")
    if isinstance(source, (list, tuple)):
        return _open_arrays(source, start, stop, every, fps)
    path = os.fspath(source)
    if not os.path.exists(path):
        raise ImageError(path, "no such file or folder")
    if os.path.isdir(path):
        return _open_folder(path, start, stop, every, fps)
    if not os.path.isfile(path):
        raise ImageError(path, "is not a regular file, expected a video file or a folder of frames")
    if os.path.getsize(path) == 0:
        raise ImageError(path, "file is empty, expected a video file")
    rate, stream_start, audio_codec, notes = _probe(path, fps)
    total, size = 0, None
    for _, frame in _decode(path):  # decoded once now: a corrupt frame fails before any work
        total += 1
        size = (frame.shape[1], frame.shape[0])
    if total == 0:
        raise ImageError(path, "has no decodable video frames, expected at least one")
    indices = _selected(total, start, stop, every, "frames", path)
    return VideoSource(path, "file", rate / every, size, indices, every, audio_codec=audio_codec, notes=notes,
                       stream_start=stream_start, input_fps=rate)


def _frame_rate(fps):
    return fractions.Fraction(fps if fps is not None else DEFAULT_FPS).limit_denominator(1001)


def _open_arrays(source, start, stop, every, fps):
    arrays = [check_rgb_frame(frame, index) for index, frame in enumerate(source)]
    sizes = {(frame.shape[1], frame.shape[0]) for frame in arrays}
    if len(sizes) > 1:
        raise InvalidArgumentError(f"expected frames of one size. Received: sizes {sorted(sizes)}")
    indices = _selected(len(arrays), start, stop, every, "frames")
    input_fps = _frame_rate(fps)
    return VideoSource(None, "arrays", input_fps / every, next(iter(sizes)), indices, every, arrays=arrays,
                       input_fps=input_fps)


def _probe(path, fps):
    """`(frame rate, stream start in seconds, audio codec or None, notes)` of a video file."""
    notes = []
    container = _open_container(path)
    try:
        if not container.streams.video:
            raise ImageError(path, "has no video stream, expected a video file")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if fps is not None:
            notes.append(f"{path}: frame rate {float(fps):g} fps given; the file says "
                         f"{float(rate) if rate else 'nothing'}")
            rate = _frame_rate(fps)
        elif not rate or not 0 < rate <= MAX_FPS:
            rate = fractions.Fraction(DEFAULT_FPS)
            notes.append(f"{path}: no frame rate in the file; using {DEFAULT_FPS} fps")
        stream_start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        audio_codec = container.streams.audio[0].codec_context.name if container.streams.audio else None
    finally:
        container.close()
    return rate, stream_start, audio_codec, notes


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
    input_fps = _frame_rate(fps)
    return VideoSource(path, "folder", input_fps / every, next(iter(sizes)), indices, every, notes=notes,
                       files=files, input_fps=input_fps)
