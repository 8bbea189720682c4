"""load_image / save_png against the generated corpus: typed errors for bad files, odd files work."""

import builtins
import os

import numpy as np
import pytest
from PIL import Image

import image_corpus as corpus
from image_corpus import BAD_IMAGES, DECODE_PREFIX, HEIGHT, ODD_IMAGES, WIDTH
from tf_nst.errors import ImageError, InvalidArgumentError, OutputError
from tf_nst.io.images import check_output_path, load_image, save_png
from tf_nst.io.provenance import read_png_text


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_image_raises_image_error(tmp_path, case):
    writer, problem = BAD_IMAGES[case]
    path = writer(str(tmp_path))
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert info.value.path == path
    assert info.value.problem == problem
    assert str(info.value) == f"{path}: {info.value.problem}"


def test_image_error_is_not_a_value_error():
    # A broken file is not a programming mistake: callers catch NSTError, not ValueError.
    assert not issubclass(ImageError, ValueError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read chmod-000 files")
def test_unreadable_file(tmp_path):
    path = corpus.write_webp(str(tmp_path))
    os.chmod(path, 0)
    try:
        with pytest.raises(ImageError, match="permission denied"):
            load_image(path)
    finally:
        os.chmod(path, 0o644)


def test_open_permission_error_is_reported_as_such(tmp_path, monkeypatch):
    """When os.access says yes but open() still fails (root on NFS, ACLs), same message."""
    path = corpus.write_gray(str(tmp_path))
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert info.value.problem == "permission denied"


def test_fifo_is_refused_without_blocking(tmp_path):
    path = str(tmp_path / "pipe.png")
    os.mkfifo(path)
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert info.value.problem == "is not a regular file, expected an image file"


def test_decompression_bomb_refused_before_decoding(tmp_path):
    path = corpus.write_bomb(str(tmp_path))
    assert os.path.getsize(path) < 1000
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert info.value.problem == (
        "image is 20000x20000 = 400000000 pixels, expected at most 100000000 "
        "(raise the cap with --max-input-pixels; Python: max_input_pixels=)")


def test_pixel_cap_can_be_lowered_and_raised(tmp_path):
    path = corpus.write_webp(str(tmp_path))
    with pytest.raises(ImageError, match=r"expected at most 1000 \(raise the cap"):
        load_image(path, max_input_pixels=1000)
    assert load_image(path, max_input_pixels=WIDTH * HEIGHT).rgb.shape == (HEIGHT, WIDTH, 3)


def test_raising_the_cap_lets_the_bomb_through_to_decoding(tmp_path):
    # The crafted file has almost no pixel data: past the cap it fails as a decode error, not OOM.
    path = corpus.write_bomb(str(tmp_path), width=3000, height=3000)
    with pytest.raises(ImageError) as info:
        load_image(path, max_input_pixels=10_000_000)
    assert info.value.problem.startswith(DECODE_PREFIX)


@pytest.mark.parametrize("case", sorted(ODD_IMAGES))
def test_odd_but_valid_images_load_as_rgb(tmp_path, case):
    loaded = load_image(ODD_IMAGES[case](str(tmp_path)))
    expected_shape = (WIDTH, HEIGHT, 3) if case == "exif_rotated" else (HEIGHT, WIDTH, 3)
    assert loaded.rgb.shape == expected_shape
    assert loaded.rgb.dtype == np.uint8
    assert loaded.rgb.flags["C_CONTIGUOUS"]
    has_alpha = case in ("rgba", "palette_transparent")
    assert (loaded.alpha is not None) == has_alpha
    if case != "animated_gif":
        # The pattern ramps from dark (top-left) to bright (bottom-right): not black, not clipped.
        assert loaded.rgb.max() > 200 and loaded.rgb.min() < 60


def test_exif_orientation_is_honoured(tmp_path):
    loaded = load_image(corpus.write_exif_rotated(str(tmp_path)))
    stored = corpus.pattern()
    # Orientation 6: displayed = stored rotated 90 degrees clockwise.
    expected = np.rot90(stored, k=-1)
    assert loaded.rgb.shape == expected.shape
    assert np.abs(loaded.rgb.astype(int) - expected).mean() < 6


def test_rgba_alpha_is_carried(tmp_path):
    loaded = load_image(corpus.write_rgba(str(tmp_path)))
    assert loaded.alpha.shape == (HEIGHT, WIDTH)
    assert loaded.alpha[0, 0] == 0 and loaded.alpha[0, -1] == 255
    np.testing.assert_array_equal(loaded.rgb, corpus.pattern())


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    gray = load_image(corpus.write_gray16(str(tmp_path)))
    # tolerance T4 (see conftest.py): equal only approximately by design (16 bits to 8: one grey level of rounding).
    np.testing.assert_allclose(gray.rgb[..., 0], corpus.pattern()[..., 0], atol=1)
    rgb = load_image(corpus.write_rgb16(str(tmp_path)))
    np.testing.assert_allclose(rgb.rgb, corpus.pattern(), atol=1)


def test_dark_sixteen_bit_gray_stays_dark(tmp_path):
    path = str(tmp_path / "dark16.png")
    Image.fromarray(np.full((16, 16), 200, np.uint16)).save(path)  # 200/65535: almost black
    assert load_image(path).rgb.max() <= 1


def test_cmyk_jpeg_colours(tmp_path):
    loaded = load_image(corpus.write_cmyk_jpeg(str(tmp_path)))
    assert np.abs(loaded.rgb.astype(int) - corpus.pattern()).mean() < 8


def test_animated_gif_uses_first_frame_with_a_note(tmp_path):
    path = corpus.write_animated_gif(str(tmp_path))
    loaded = load_image(path)
    assert loaded.notes == [f"{path}: animated image, using its first frame"]
    assert abs(int(loaded.rgb.mean()) - 30) <= 2


def test_tiny_images_load(tmp_path):
    for side in (1, 8):
        loaded = load_image(corpus.write_tiny(str(tmp_path), side))
        np.testing.assert_array_equal(loaded.rgb, corpus.pattern(side, side))  # the pixels, not just the shape
        assert loaded.alpha is None and loaded.notes == []


# --- output -----------------------------------------------------------------------------------

def test_check_output_path(tmp_path):
    existing = tmp_path / "exists.png"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match=r"already exists \(pass --overwrite to replace it\)"):
        check_output_path(str(existing))
    check_output_path(str(existing), overwrite=True)
    missing_dir = tmp_path / "nope" / "out.png"
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(str(missing_dir))
    with pytest.raises(InvalidArgumentError, match=r"expected an output path ending in \.png"):
        check_output_path(str(tmp_path / "out.jpg"))
    with pytest.raises(OutputError, match="is a directory"):
        (tmp_path / "dir.png").mkdir()
        check_output_path(str(tmp_path / "dir.png"))
    assert existing.read_bytes() == b"keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_check_output_path_read_only_directory(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="is not writable"):
            check_output_path(str(directory / "out.png"))
    finally:
        directory.chmod(0o755)


def test_save_png_round_trip_with_alpha_and_text(tmp_path):
    path = str(tmp_path / "out.png")
    rgb = corpus.pattern()
    alpha = np.full((HEIGHT, WIDTH), 128, np.uint8)
    save_png(path, rgb, alpha=alpha, text={"tf_nst:settings": "{}"})
    with Image.open(path) as image:
        assert image.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(image)[..., :3], rgb)
    assert read_png_text(path)["tf_nst:settings"] == "{}"
    assert [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")] == []


def test_failed_save_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    path.write_bytes(b"previous result")

    def failing_save(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OutputError) as info:
        save_png(str(path), corpus.pattern())
    assert str(info.value) == f"{path}: cannot write (No space left on device)"
    assert path.read_bytes() == b"previous result"
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_interrupted_save_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted_save(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        save_png(str(tmp_path / "out.png"), corpus.pattern())
    assert os.listdir(tmp_path) == []


def test_save_into_vanished_directory_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="cannot write"):
        save_png(str(tmp_path / "gone" / "out.png"), corpus.pattern())
