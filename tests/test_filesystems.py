"""tf_nst.io.filesystems: local paths directly, paths with a scheme through Beam's FileSystems."""

import os

import pytest
from fakes import FakeObjectStore

from tf_nst.errors import InvalidArgumentError
from tf_nst.io import filesystems


def test_schemes_and_names():
    assert filesystems.scheme("gs://bucket/x") == "gs" and filesystems.scheme("/tmp/x") is None
    assert filesystems.is_local("file:///tmp/x") and filesystems.local_path("file:///tmp/x") == "/tmp/x"
    assert filesystems.join("gs://bucket/out/", "a.png") == "gs://bucket/out/a.png"
    assert filesystems.join("out", "a.png") == os.path.join("out", "a.png")
    assert filesystems.basename("s3://b/p/x.png") == "x.png" and filesystems.parent("s3://b/p/x.png") == "s3://b/p"


def test_local_reads_and_matches(tmp_path):
    (tmp_path / "a.png").write_bytes(b"a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"b")
    assert filesystems.read_bytes(f"file://{tmp_path}/a.png") == b"a"
    assert filesystems.match(str(tmp_path / "**" / "*.png")) == [str(tmp_path / "a.png"), str(tmp_path / "sub" / "b.png")]
    assert filesystems.exists(tmp_path / "a.png") and filesystems.is_folder(tmp_path / "sub")
    with pytest.raises(OSError):
        filesystems.read_bytes(tmp_path / "missing.png")


def test_remote_paths_go_through_beam(monkeypatch):
    store = FakeObjectStore({"gs://bucket/x/a.png": b"remote"})
    monkeypatch.setattr(filesystems, "beam_filesystems", lambda: store)
    assert filesystems.read_bytes("gs://bucket/x/a.png") == b"remote"
    assert filesystems.exists("gs://bucket/x/a.png") and not filesystems.exists("gs://bucket/x/b.png")
    assert filesystems.is_folder("gs://bucket/x/") and not filesystems.is_folder("gs://bucket/x")


def test_remote_paths_without_beam_are_a_typed_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_beam(name, *args, **kwargs):
        if name.startswith("apache_beam"):
            raise ImportError("No module named 'apache_beam'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_beam)
    with pytest.raises(InvalidArgumentError, match="expected a local path, or Apache Beam installed"):
        filesystems.read_bytes("gs://bucket/x.png")
