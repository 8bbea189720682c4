"""tf_nst.io.video_writer: output kinds and the checks made before any work (muxing: test_video_files.py)."""

import numpy as np
import pytest

from tf_nst.errors import InvalidArgumentError, OutputError
from tf_nst.io.video_writer import check_video_output, output_kind, write_video


@pytest.mark.parametrize("output, kind", [
    ("out.mp4", "mp4"), ("OUT.GIF", "gif"), ("frames/", "folder"), ("run.v2", "folder"), ("frames", "folder")])
def test_output_kind_from_the_name(output, kind):
    assert output_kind(output) == kind


def test_formats_we_do_not_write_are_refused():
    with pytest.raises(InvalidArgumentError, match="expected an output ending in .mp4 or .gif, or a folder"):
        output_kind("clip.webm")


def test_existing_outputs_are_refused_unless_overwrite(tmp_path):
    (tmp_path / "out.mp4").write_bytes(b"old")
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "frame_00001.png").write_bytes(b"old")
    with pytest.raises(OutputError, match="already exists"):
        check_video_output(tmp_path / "out.mp4")
    assert check_video_output(tmp_path / "out.mp4", overwrite=True) == "mp4"
    with pytest.raises(OutputError, match="folder is not empty"):
        check_video_output(tmp_path / "frames")
    (tmp_path / "dir.mp4").mkdir()  # an existing folder is a folder output, whatever its name
    assert check_video_output(tmp_path / "dir.mp4") == "folder"


def test_a_folder_of_frames_is_written_whole(tmp_path):
    frames = [np.full((8, 10, 3), value, np.uint8) for value in (0, 128, 255)]
    assert write_video(tmp_path / "frames", frames, 12) == []
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "frame_00001.png", "frame_00002.png", "frame_00003.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
    with pytest.raises(InvalidArgumentError, match="expected at least one frame"):
        write_video(tmp_path / "none.gif", [], 12)
