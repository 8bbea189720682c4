"""tf_nst.io.video_files and video_writer together: MP4, GIF and frame folders round trip, audio copied."""


import av
import numpy as np
import pytest
from video_clips import leftovers

from tf_nst.errors import OutputError
from tf_nst.io.video_files import open_video
from tf_nst.io.video_writer import write_video


def test_mp4_gif_and_folder_round_trip(tmp_path, clip):
    write_video(tmp_path / "clip.mp4", clip.frames, clip.fps)
    write_video(tmp_path / "clip.gif", clip.frames, clip.fps)
    write_video(tmp_path / "frames", clip.frames, clip.fps)
    mp4 = open_video(tmp_path / "clip.mp4")
    assert len(mp4) == 8 and mp4.size == (96, 96) and mp4.fps == 12
    assert np.abs(np.stack(list(mp4)).astype(float) - np.stack(clip.frames)).mean() < 8
    gif = open_video(tmp_path / "clip.gif")
    assert len(gif) == 8 and abs(float(gif.fps) - 12) < 0.6  # GIF delays count in 10 ms
    folder = open_video(tmp_path / "frames", fps=12)
    assert all((a == b).all() for a, b in zip(folder, clip.frames))
    selected = open_video(tmp_path / "frames", frames=(1, 7), every=2, fps=12)
    assert len(selected) == 3 and selected.fps == 6
    assert all((a == b).all() for a, b in zip(selected, clip.frames[1:7:2]))
    assert leftovers(tmp_path) == []
    with pytest.raises(OutputError, match="already exists"):
        write_video(tmp_path / "clip.mp4", clip.frames, clip.fps)
    odd = [frame[:47, :45] for frame in clip.frames[:3]]
    notes = write_video(tmp_path / "odd.mp4", odd, 10)
    assert "needs even sides" in notes[0] and open_video(tmp_path / "odd.mp4").size == (46, 48)


def _mp4_with_audio(path, frames, fps):
    """A test input with an AAC track, written with PyAV directly."""
    container = av.open(str(path), mode="w")
    video = container.add_stream("libx264", rate=int(fps))
    video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
    audio = container.add_stream("aac", rate=44100)
    audio.layout = "mono"
    for frame in frames:
        for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    samples = (0.2 * np.sin(np.arange(int(44100 * len(frames) / fps)) / 10.0)).astype(np.float32)
    for start in range(0, len(samples), 1024):
        chunk = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 44100, start
        for packet in audio.encode(chunk):
            container.mux(packet)
    for stream in (video, audio):
        for packet in stream.encode():
            container.mux(packet)
    container.close()


def test_audio_is_copied_into_mp4_and_a_note_says_when_dropped(tmp_path, small_clip):
    _mp4_with_audio(tmp_path / "talk.mp4", small_clip.frames, small_clip.fps)
    source = open_video(tmp_path / "talk.mp4", frames=(2, 8))
    assert source.audio_codec == "aac"
    assert write_video(tmp_path / "out.mp4", list(source), source.fps, audio_from=source) == []
    with av.open(str(tmp_path / "out.mp4")) as written:
        assert written.streams.audio and written.streams.audio[0].codec_context.name == "aac"
        duration = sum(packet.duration or 0 for packet in written.demux(written.streams.audio[0]))
        assert abs(duration * written.streams.audio[0].time_base - 6 / small_clip.fps) < 0.1
    notes = write_video(tmp_path / "out.gif", list(source), source.fps, audio_from=source)
    assert notes == [f"{tmp_path / 'out.gif'}: GIF has no audio; the input's audio was dropped"]
