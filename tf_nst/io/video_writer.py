"""Video output: an MP4 (H.264, yuv420p), a GIF or a folder of PNG frames, each written atomically.

At the input's frame rate divided by `every`, so the video keeps its duration and the audio
stays in sync; an MP4 copies the input's audio when its codec needs no re-encoding. Every output
appears whole or not at all (`tf_nst.io.atomic`).
"""

import fractions
import os
import shutil

import numpy as np
from PIL import Image

from tf_nst.errors import ImageError, InvalidArgumentError, OutputError
from tf_nst.io import images as image_io
from tf_nst.io.atomic import atomic_directory, atomic_output
from tf_nst.io.video_files import FRAME_SUFFIXES, check_rgb_frame

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif")
OUTPUT_SUFFIXES = (".mp4", ".gif")
FRAME_NAME = "frame_{:05d}.png"
MP4_CRF = 18  # visually lossless for x264: the strokes, not the encoder, should show
# Audio codecs the MP4 muxer takes as they are (no re-encoding).
MP4_AUDIO_CODECS = ("aac", "mp3", "alac", "ac3", "eac3", "opus", "flac")


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
    return check_rgb_frame(item, "?")


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
