"""tf_nst.io.inputs: files, folders and globs -> image paths (local here; remote through Beam)."""

import pytest
from fakes import FakeObjectStore
from PIL import Image

from tf_nst.errors import InvalidArgumentError
from tf_nst.io import filesystems
from tf_nst.io.inputs import expand_inputs, is_image_name, stem


@pytest.fixture
def folder(tmp_path):
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    for name in ("b.png", "a.JPG", "c10.webp", ".hidden.png", "nested/deep.png"):
        Image.new("RGB", (8, 8)).save(photos / name, format="PNG")
    (photos / "notes.txt").write_text("not an image")
    return photos


def test_a_folder_gives_its_own_visible_images_sorted(folder):
    assert expand_inputs(folder) == [str(folder / name) for name in ("a.JPG", "b.png", "c10.webp")]


def test_globs_recurse_with_double_star_and_files_are_taken_as_given(folder):
    assert expand_inputs(str(folder / "**" / "*.png")) == [str(folder / "b.png"), str(folder / "nested" / "deep.png")]
    # A file is taken whatever its extension (its pairs fail and are recorded); duplicates are dropped.
    assert expand_inputs([folder / "notes.txt", folder / "b.png", folder]) == [
        str(folder / "notes.txt"), str(folder / "b.png"), str(folder / "a.JPG"), str(folder / "c10.webp")]


def test_a_file_whose_name_looks_like_a_glob_is_a_file(tmp_path):
    odd = tmp_path / "shot[1].png"
    Image.new("RGB", (8, 8)).save(odd, format="PNG")
    assert expand_inputs(str(odd)) == [str(odd)]


@pytest.mark.parametrize("spec, message", [
    ("missing.png", r"expected an existing file, folder or glob. Received: style='.*missing.png' \(no such file\)"),
    ("empty", "expected style to contain images. Received: folder .*empty has no image files"),
    ("*.gif", "expected style to contain images. Received: glob .*gif matches no image files"),
])
def test_nothing_found_is_a_typed_error(tmp_path, spec, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match=message):
        expand_inputs([str(tmp_path / spec)], "style")


def test_names():
    assert is_image_name("X.TIFF") and not is_image_name("x.gif.txt")
    assert stem("gs://bucket/photos/city.night.png") == "city.night" and stem("/a/b/leaf.jpg") == "leaf"


def test_remote_paths_go_through_beam_filesystems(monkeypatch):
    store = FakeObjectStore({f"gs://bucket/photos/{name}": b"x" for name in ("a.png", "b.jpg", "sub/c.png", "r.txt")})
    monkeypatch.setattr(filesystems, "beam_filesystems", lambda: store)
    # A prefix ending in "/" is a folder: its own images, not those under sub-prefixes.
    assert expand_inputs("gs://bucket/photos/") == ["gs://bucket/photos/a.png", "gs://bucket/photos/b.jpg"]
    assert expand_inputs("gs://bucket/photos") == expand_inputs("gs://bucket/photos/")  # a prefix without its "/"
    with pytest.raises(InvalidArgumentError, match="no such file"):
        expand_inputs("gs://bucket/none.png")
