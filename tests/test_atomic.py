"""tf_nst.io.atomic: a file or a folder appears whole at its path, or not at all, with the umask's permissions."""

import os
import stat

import pytest

from tf_nst.errors import OutputError
from tf_nst.io.atomic import atomic_directory, atomic_output, umask


@pytest.fixture
def group_umask():
    previous = os.umask(0o027)
    yield 0o027
    os.umask(previous)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_read_without_changing_it(group_umask):
    assert umask() == 0o027 and umask() == 0o027


def test_a_file_appears_whole_with_the_umask_permissions(tmp_path, group_umask):
    target = tmp_path / "out.json"
    with atomic_output(target, mode="w") as stream:
        stream.write("{}")
        assert not target.exists()  # only the temporary file exists while writing
    assert target.read_text() == "{}" and mode(target) == 0o640
    assert os.listdir(tmp_path) == ["out.json"]


def test_a_failed_file_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_output(target) as stream:
            stream.write(b"partial")
            raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.png"]


def test_a_file_in_a_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="missing/out.png: cannot write"):
        with atomic_output(tmp_path / "missing" / "out.png") as stream:
            stream.write(b"x")


def test_a_folder_appears_whole_with_the_umask_permissions(tmp_path, group_umask):
    target = tmp_path / "frames"
    with atomic_directory(target) as temporary:
        assert os.path.basename(temporary).startswith(".tmp-") and not target.exists()
        (tmp_path / temporary / "frame_00001.png").write_bytes(b"png")
    assert os.listdir(target) == ["frame_00001.png"] and mode(target) == 0o750
    assert sorted(os.listdir(tmp_path)) == ["frames"]


def test_a_failed_folder_write_leaves_nothing_and_an_existing_folder_is_refused_or_replaced(tmp_path):
    target = tmp_path / "model" / "1"
    target.parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(target) as temporary:
            open(os.path.join(temporary, "saved_model.pb"), "wb").close()
            raise KeyboardInterrupt
    assert os.listdir(target.parent) == []
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(OutputError, match="already exists"):
        with atomic_directory(target) as temporary:
            pass
    assert os.listdir(target) == ["old.txt"] and os.listdir(target.parent) == ["1"]
    with atomic_directory(target, replace=True) as temporary:
        open(os.path.join(temporary, "new.txt"), "w").close()
    assert os.listdir(target) == ["new.txt"] and os.listdir(target.parent) == ["1"]
