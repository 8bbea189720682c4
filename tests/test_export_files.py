"""tf_nst.serving.export_files: the latest version of an export and its info, read the same way everywhere."""

import json

import pytest

from tf_nst.errors import ServingError
from tf_nst.serving import export_files
from tf_nst.serving.contract import EXPORT_INFO_FILE


def make_version(base, version, info=None):
    folder = base / str(version)
    (folder / "assets.extra").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")
    if info is not None:
        (folder / EXPORT_INFO_FILE).write_text(json.dumps(info))
    return folder


def test_the_highest_integer_version_is_served(tmp_path):
    for version in (1, 2, 10):
        make_version(tmp_path, version)
    (tmp_path / "11").mkdir()  # no saved_model.pb: not a version (a partial copy)
    (tmp_path / ".tmp-abc").mkdir()
    assert export_files.resolve_version(tmp_path) == str(tmp_path / "10")
    assert export_files.resolve_version(tmp_path / "2") == str(tmp_path / "2")
    with pytest.raises(ServingError, match="expected a SavedModel folder .* Received: .*11"):
        export_files.resolve_version(tmp_path / "11")


def test_export_info_is_read_once_and_required_unless_told(tmp_path):
    folder = make_version(tmp_path, 1, {"max_steps": 9})
    assert export_files.read_export_info(folder) == {"max_steps": 9}
    bare = make_version(tmp_path, 2)
    assert export_files.read_export_info(bare, required=False) == {}
    with pytest.raises(ServingError, match="expected a tf-nst export with assets.extra/tf_nst_export.json"):
        export_files.read_export_info(bare)
    (folder / EXPORT_INFO_FILE).write_text("{not json")
    with pytest.raises(ServingError, match="expected a tf-nst export"):
        export_files.read_export_info(folder, required=False)
