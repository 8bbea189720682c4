"""Decode, resize, encode: the only module that knows pixel formats.

Images travel through the library as `uint8` numpy arrays of shape
`(height, width, 3)` (RGB). An alpha channel, when the content image has one,
travels beside it as a `(height, width)` array and is re-attached on save.
"""

import contextlib
import dataclasses
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from tf_nst.errors import ImageError, InvalidArgumentError, OutputError
from tf_nst.io.atomic import atomic_output
from tf_nst.io.provenance import mask_roles, provenance_text
from tf_nst.settings.choices import DEFAULT_MAX_INPUT_PIXELS


@dataclasses.dataclass
class LoadedImage:
    """An RGB image with its optional alpha channel and notes for the user.

    Args:
        rgb: `uint8` array `(height, width, 3)`.
        alpha: `uint8` array `(height, width)` or `None`.
        notes: things the user should know (first frame of an animation, ...).
        path: where it came from, if a file.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    notes: list = dataclasses.field(default_factory=list)
    path: str | None = None


def check_input_file(path):
    """`path` (as a string) if it is a readable, non-empty regular file, else an `ImageError` (nothing decoded)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageError(path, "no such file")
    if os.path.isdir(path):
        raise ImageError(path, "is a directory, expected an image file")
    if not os.path.isfile(path):
        # FIFOs and devices would block or stream forever.
        raise ImageError(path, "is not a regular file, expected an image file")
    if not os.access(path, os.R_OK):
        raise ImageError(path, "permission denied")
    if os.path.getsize(path) == 0:
        raise ImageError(path, "file is empty")
    return path


def load_image(path, max_input_pixels=DEFAULT_MAX_INPUT_PIXELS):
    """Read an image file into a `LoadedImage`, refusing anything not an image.

    EXIF orientation is honoured; grayscale, palette, CMYK, 16-bit and
    alpha images are converted to RGB (+ alpha).
    """
    path = check_input_file(path)
    notes = []
    try:
        with _pillow_bomb_check_off(), Image.open(path) as image:
            width, height = image.size
            if width * height > max_input_pixels:
                raise ImageError(
                    path,
                    f"image is {width}x{height} = {width * height} pixels, expected "
                    f"at most {max_input_pixels} (raise the cap with --max-input-pixels; Python: max_input_pixels=)",
                )
            if getattr(image, "n_frames", 1) > 1:
                notes.append(f"{path}: animated image, using its first frame")
                image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb, alpha = _to_rgb_alpha(image)
    except ImageError:
        raise
    except PermissionError:
        # os.access can say yes and open still fail (root on NFS, ACLs, a race).
        raise ImageError(path, "permission denied")
    except UnidentifiedImageError:
        claimed = _sniff_format(path)
        if claimed:
            raise ImageError(path, f"cannot decode image (starts like a {claimed} file but is corrupt)")
        raise ImageError(path, "not a recognised image file (expected PNG, JPEG, GIF, WebP, BMP or TIFF)")
    except (OSError, SyntaxError, ValueError) as error:
        if "truncated" in str(error).lower():  # Pillow words it differently per format
            raise ImageError(path, "cannot decode image (the file is truncated)")
        raise ImageError(path, f"cannot decode image ({error})")
    return LoadedImage(rgb=rgb, alpha=alpha, notes=notes, path=path)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"),
    (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
)


def _sniff_format(path):
    """The format a file's first bytes claim, or None: tells 'corrupt PNG' from 'not an image'."""
    with open(path, "rb") as stream:
        head = stream.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for signature, name in _SIGNATURES if head.startswith(signature)), None)


@contextlib.contextmanager
def _pillow_bomb_check_off():
    """Pillow's own cap would pre-empt ours (which the user can raise); we check the header size ourselves."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _to_rgb_alpha(image):
    """Convert any Pillow mode to (RGB uint8 array, alpha uint8 array or None)."""
    alpha = None
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: scale to 8 bits instead of clipping. "I;16" is known to be
        # 16-bit (a dark 16-bit image must stay dark); "I" can hold 8-bit values too.
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        gray = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2), None
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
        array = np.asarray(image)
        alpha = array[..., 3].copy()
        return np.ascontiguousarray(array[..., :3]), alpha
    return np.asarray(image.convert("RGB")).copy(), None


def resize_to_max_side(rgb, max_side):
    """Resize so that the longer side equals `max_side` (up or down)."""
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return resize(rgb, size)


def resize(array, size):
    """Resize a uint8 image or alpha array to `size=(width, height)` with Lanczos."""
    if (array.shape[1], array.shape[0]) == tuple(size):
        return array
    return np.asarray(Image.fromarray(array).resize(size, Image.LANCZOS))


def check_output_path(path, overwrite=False, suffix=".png"):
    """Fail early, before any work, if `path` cannot be written."""
    path = os.fspath(path)
    if not path.lower().endswith(suffix):
        raise InvalidArgumentError(f"expected an output path ending in {suffix}. Received: output={path}")
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a directory, expected a file path")
    if os.path.exists(path) and not overwrite:
        raise OutputError(f"{path}: already exists (pass --overwrite to replace it)")
    check_output_directory(path)


def check_output_directory(path, name=None):
    """Fail if the folder that would hold `path` is missing or not writable (errors name `name`)."""
    name = os.fspath(path) if name is None else name
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OutputError(f"{name}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise OutputError(f"{name}: directory {directory} is not writable")


def save_png(path, rgb, alpha=None, settings=None, inputs=(), text=None, masks=None, init=None):
    """Write a PNG atomically (temporary file in the same directory, then rename).

    Args:
        rgb: `uint8` array `(height, width, 3)`.
        alpha: optional `uint8` array `(height, width)`, resized if needed.
        settings: the run's settings (`Stylizer.get_config()`), stored with the
            SHA-256 of the `inputs` files and the package versions (`tf_nst.io.provenance`):
            `cli.py info` shows them and `--from` replays them.
        inputs: paths of the input images, hashed into the provenance.
        masks: a regional run's mask paths, `{"region_masks": [...], "style_image_masks": [...]}`
            (see `tf_nst.io.provenance.provenance_text`): hashed, and stored with their bytes.
        init: the start image's `tf_nst.io.provenance.init_record` (kind and pixels' hash), or None.
        text: further PNG text chunks.

    Example:
    ```python
    save_png("out.png", result.image, settings=stylizer.get_config(), inputs=["a.jpg", "b.jpg"])
    ```
    """
    path = os.fspath(path)
    if settings is not None:
        text = {**provenance_text(settings, inputs, mask_roles(masks), init=init), **(text or {})}
    image = Image.fromarray(np.asarray(rgb, dtype=np.uint8), "RGB")
    if alpha is not None:
        alpha = resize(np.asarray(alpha, dtype=np.uint8), image.size)
        image.putalpha(Image.fromarray(alpha, "L"))
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, str(value))
    with atomic_output(path) as stream:
        image.save(stream, format="PNG", pnginfo=info)
    return path
