"""Generated image corpus for the bad-input tests: broken files and valid-but-odd ones.

Every file is made on the fly in a test's directory (no checked-in binaries).
`BAD_IMAGES` maps a case name to `(writer, problem)`: the writer creates the
file and returns its path; `problem` is the exact text after `<path>: ` in the
error a user sees.
"""

import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 48, 32


def pattern(height=HEIGHT, width=WIDTH):
    """An RGB test pattern whose corners differ, so rotations are detectable."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([255 * x / max(1, width - 1), 255 * y / max(1, height - 1),
                      np.full_like(x, 80, dtype=float)], axis=-1)
    return image.astype(np.uint8)


def jpeg_bytes(height=HEIGHT, width=WIDTH):
    stream = io.BytesIO()
    Image.fromarray(pattern(height, width)).save(stream, format="JPEG", quality=90)
    return stream.getvalue()


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width, height, bit_depth, color_type, rows):
    """A PNG written by hand (for 16-bit RGB, and headers that lie about their size)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = zlib.compress(b"".join(b"\x00" + row for row in rows))
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


# --- bad inputs -----------------------------------------------------------------------------

def write_missing(directory):
    return os.path.join(directory, "missing.png")


def write_directory(directory):
    path = os.path.join(directory, "folder.png")
    os.mkdir(path)
    return path


def write_empty(directory):
    path = os.path.join(directory, "empty.png")
    open(path, "wb").close()
    return path


def write_text_as_jpg(directory):
    path = os.path.join(directory, "notes.jpg")
    with open(path, "w") as stream:
        stream.write("shopping list: eggs, milk\n" * 20)
    return path


def write_truncated_jpeg(directory):
    path = os.path.join(directory, "truncated.jpg")
    data = jpeg_bytes(64, 64)
    with open(path, "wb") as stream:
        stream.write(data[: len(data) // 2])
    return path


def write_corrupt_png(directory):
    path = os.path.join(directory, "corrupt.png")
    garbage = np.random.default_rng(0).integers(0, 256, 512, dtype=np.uint8).tobytes()
    with open(path, "wb") as stream:
        stream.write(b"\x89PNG\r\n\x1a\n" + garbage)
    return path


def write_corrupt_png_data(directory):
    """A valid header and IHDR, then an IDAT chunk of garbage (fails only at decode)."""
    path = os.path.join(directory, "bad_pixels.png")
    png = raw_png(16, 16, 8, 2, [bytes(48)] * 16)
    start = png.index(b"IDAT") + 4
    garbage = bytes(range(256))[: len(png) - start - 16]
    with open(path, "wb") as stream:
        stream.write(png[:start] + garbage + png[start + len(garbage):])
    return path


def write_bomb(directory, width=20_000, height=20_000):
    """A 400-megapixel PNG that is a few hundred bytes on disk (the header lies)."""
    path = os.path.join(directory, "bomb.png")
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 4096)
    with open(path, "wb") as stream:
        stream.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data)
                     + _png_chunk(b"IEND", b""))
    return path


NOT_RECOGNISED = "not a recognised image file (expected PNG, JPEG, GIF, WebP, BMP or TIFF)"

BAD_IMAGES = {
    "missing": (write_missing, "no such file"),
    "directory": (write_directory, "is a directory, expected an image file"),
    "empty": (write_empty, "file is empty"),
    "text_as_jpg": (write_text_as_jpg, NOT_RECOGNISED),
    "truncated_jpeg": (write_truncated_jpeg, "cannot decode image (the file is truncated)"),
    "corrupt_png": (write_corrupt_png, "cannot decode image (starts like a PNG file but is corrupt)"),
    "corrupt_png_data": (
        write_corrupt_png_data, "cannot decode image (broken data stream when reading image file)"),
}
DECODE_PREFIX = "cannot decode image"


# --- valid but odd inputs ---------------------------------------------------------------------

def write_gray(directory):
    path = os.path.join(directory, "gray.png")
    Image.fromarray(pattern()[..., 0], "L").save(path)
    return path


def write_palette(directory):
    path = os.path.join(directory, "palette.png")
    Image.fromarray(pattern()).convert("P", palette=Image.ADAPTIVE, colors=16).save(path)
    return path


def write_palette_transparent(directory):
    path = os.path.join(directory, "palette_transparent.png")
    image = Image.fromarray(pattern()).convert("P", palette=Image.ADAPTIVE, colors=16)
    image.save(path, transparency=0)
    return path


def write_cmyk_jpeg(directory):
    path = os.path.join(directory, "cmyk.jpg")
    Image.fromarray(pattern()).convert("CMYK").save(path, quality=95)
    return path


def write_gray16(directory):
    path = os.path.join(directory, "gray16.png")
    values = (pattern()[..., 0].astype(np.uint16) * 257)  # full 16-bit range
    Image.fromarray(values).save(path)
    return path


def write_rgb16(directory):
    """16 bits per channel RGB, written by hand (Pillow cannot write it)."""
    path = os.path.join(directory, "rgb16.png")
    rgb = pattern().astype(">u2") * 257
    with open(path, "wb") as stream:
        stream.write(raw_png(WIDTH, HEIGHT, 16, 2, [row.tobytes() for row in rgb]))
    return path


def write_rgba(directory):
    path = os.path.join(directory, "rgba.png")
    alpha = np.tile(np.linspace(0, 255, WIDTH).astype(np.uint8), (HEIGHT, 1))
    Image.fromarray(np.dstack([pattern(), alpha]), "RGBA").save(path)
    return path


def write_exif_rotated(directory):
    """Stored as 48x32 landscape with Orientation=6: viewers show it 32x48 portrait."""
    path = os.path.join(directory, "rotated.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pattern()).save(path, quality=95, exif=exif.tobytes())
    return path


def write_animated_gif(directory):
    path = os.path.join(directory, "animated.gif")
    frames = [Image.fromarray(np.full((HEIGHT, WIDTH, 3), value, np.uint8)) for value in (30, 220)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def write_webp(directory):
    path = os.path.join(directory, "image.webp")
    Image.fromarray(pattern()).save(path, quality=90)
    return path


def write_tiny(directory, side):
    path = os.path.join(directory, f"tiny{side}.png")
    Image.fromarray(pattern(side, side)).save(path)
    return path


ODD_IMAGES = {
    "gray": write_gray,
    "palette": write_palette,
    "palette_transparent": write_palette_transparent,
    "cmyk_jpeg": write_cmyk_jpeg,
    "gray16": write_gray16,
    "rgb16": write_rgb16,
    "rgba": write_rgba,
    "exif_rotated": write_exif_rotated,
    "animated_gif": write_animated_gif,
    "webp": write_webp,
}
