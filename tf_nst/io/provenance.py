"""Provenance: the settings, input hashes and versions stored in every PNG tf-nst writes.

`save_png(path, image, settings=..., inputs=...)` (tf_nst/io/images.py) stores them as
PNG text chunks; `read_provenance` reads them back for `cli.py info`, `--from` and
for batches that skip outputs already made with the same settings and inputs.

The PNG is the whole record of a regional run: each mask file's bytes are stored in it too (one
`tf_nst:file:SHA256` chunk per file, base64), so `restore_masks` brings a replay's masks back when
the files are gone. A start image other than a mode (`init`: a file or a network's result) is
recorded by its kind and the SHA-256 of its pixels (`init_record`). PNGs written before either are
read as they were.
TensorFlow-free: versions are those of the numerical packages this process imported (`versions`).
"""

import base64
import hashlib
import json
import os
import sys
import warnings

import numpy as np
from PIL import Image

from tf_nst.errors import ImageError

PREFIX = "tf_nst:"
SETTINGS_KEY = PREFIX + "settings"
INPUTS_KEY = PREFIX + "inputs_sha256"
INPUT_ORDER_KEY = PREFIX + "inputs"  # the input paths in order: content first, then the styles
VERSIONS_KEY = PREFIX + "versions"
MASKS_KEY = PREFIX + "masks"  # {"region_masks": [path or null per style], "style_image_masks": [...]}
MASK_ROLES = ("region_masks", "style_image_masks")  # the CLI's --region-mask and --style-image-mask
OLD_REGION_MASKS = "style_masks"  # the region masks' role before tf-nst named them region_masks
FILE_PREFIX = PREFIX + "file:"  # a mask file's bytes, base64, keyed by their SHA-256
INIT_KEY = PREFIX + "init"  # {"kind": "file" or "model:NAME", "sha256": of the start image's pixels}
VERSION = "0.2.0"
# The packages whose numerics decide the pixels (onnxruntime: the TensorFlow-free network runs).
PIXEL_PACKAGES = ("tensorflow", "keras", "onnxruntime")


def file_sha256(path):
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_hashes(paths):
    """`{path: sha256}` for input files; non-path inputs (arrays) are left out."""
    hashes = {}
    for path in paths:
        if isinstance(path, (str, os.PathLike)) and os.path.isfile(path):
            hashes[os.fspath(path)] = file_sha256(path)
    return hashes


def versions():
    """Versions of tf-nst and of the packages whose numerics decided the pixels: those of `PIXEL_PACKAGES`
    this process has imported (a network run on onnxruntime never imports TensorFlow or Keras, so they
    are left out of its record). Read from the modules themselves: importing `importlib.metadata` alone
    cost 0.06 s of a 1.7 s command."""
    found = {"tf_nst": VERSION}
    for package in PIXEL_PACKAGES:
        module = sys.modules.get(package)
        if module is not None:
            found[package] = getattr(module, "__version__", None)
    return found


def mask_paths(masks):
    """The mask files of `masks` (`{role: [path or None, ...]}`, see `provenance_text`), in order."""
    masks = mask_roles(masks)
    return [os.fspath(path) for role in MASK_ROLES for path in (masks or {}).get(role) or ()
            if isinstance(path, (str, os.PathLike))]


def init_record(kind, rgb):
    """What a PNG stores of a start image: `{"kind", "sha256"}` (SHA-256 of its shape and uint8 pixels).

    Args:
        kind: `"file"` (an image file) or `"model:NAME"` (a trained network's result).
        rgb: the start image, `uint8 (H, W, 3)`.
    """
    pixels = np.ascontiguousarray(np.asarray(rgb, np.uint8))
    digest = hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).hexdigest()
    return {"kind": str(kind), "sha256": digest}


def provenance_text(settings, inputs=(), masks=None, init=None):
    """PNG text chunks for `settings` (a JSON-serializable dict) and input files `inputs`.

    `masks`: `{"region_masks": [path or None per style], "style_image_masks": [...]}` of a regional
    run (either key optional; `style_masks`, the old name of `region_masks`, warns); the mask files
    are hashed with the inputs, their paths stored and their bytes embedded. `init`: an `init_record`.
    """
    masks = mask_roles(masks)
    text = {
        SETTINGS_KEY: json.dumps(settings, sort_keys=True),
        INPUTS_KEY: json.dumps(input_hashes(list(inputs) + mask_paths(masks)), sort_keys=True),
        INPUT_ORDER_KEY: json.dumps([os.fspath(path) for path in inputs
                                     if isinstance(path, (str, os.PathLike))]),
        VERSIONS_KEY: json.dumps(versions(), sort_keys=True),
        "Software": f"tf-nst {VERSION}",
    }
    stored_masks = {role: [None if path is None else os.fspath(path) for path in paths]
                    for role, paths in (masks or {}).items() if role in MASK_ROLES and paths}
    if stored_masks:
        text[MASKS_KEY] = json.dumps(stored_masks, sort_keys=True)
    for path in mask_paths(masks):
        if os.path.isfile(path):
            with open(path, "rb") as stream:
                data = stream.read()
            text[FILE_PREFIX + hashlib.sha256(data).hexdigest()] = base64.b64encode(data).decode("ascii")
    if init is not None:
        text[INIT_KEY] = json.dumps(init, sort_keys=True)
    return text


def embedded_files(path):
    """`{sha256: bytes}` of the files a tf-nst PNG holds (its masks); `{}` for older PNGs.

    Raises:
        ImageError: the file is unreadable.
    """
    try:
        text = read_png_text(path)
    except (OSError, SyntaxError, ValueError):
        raise ImageError(path, "cannot read PNG") from None
    files = {}
    for key, value in text.items():
        if key.startswith(FILE_PREFIX):
            data = base64.b64decode(value)
            if hashlib.sha256(data).hexdigest() == key[len(FILE_PREFIX):]:  # a damaged chunk is not a mask
                files[key[len(FILE_PREFIX):]] = data
    return files


def restore_masks(stored, files, folder):
    """The replayed masks of `stored` (`read_provenance`) as paths, `{role: [path or None, ...]}`.

    A stored path holding the recorded bytes is kept; otherwise the bytes embedded in the PNG
    (`files`, from `embedded_files`) are written to `folder` under the mask's own file name; a mask
    found neither way keeps its stored path (the run then says it is missing).
    """
    hashes = stored.get("inputs_sha256") or {}
    restored = {}
    for role, paths in (stored.get("masks") or {}).items():
        restored[role] = [None if path is None else _restored_file(path, hashes.get(path), files, folder)
                          for path in paths]
    return restored


def _restored_file(path, sha256, files, folder):
    if sha256 is None or (os.path.isfile(path) and file_sha256(path) == sha256) or sha256 not in files:
        return path
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{sha256[:12]}-{os.path.basename(path)}")
    with open(target, "wb") as stream:
        stream.write(files[sha256])
    return target


def mask_roles(masks, stacklevel=3):
    """`masks` with the region masks under `region_masks` (given as `style_masks`: a `DeprecationWarning`)."""
    if not masks or OLD_REGION_MASKS not in masks:
        return masks
    warnings.warn(f"masks={{{OLD_REGION_MASKS!r}: ...}} is deprecated; use {{'region_masks': ...}} (same values)",
                  DeprecationWarning, stacklevel=stacklevel)
    masks = dict(masks)
    masks.setdefault(MASK_ROLES[0], masks.pop(OLD_REGION_MASKS))
    return masks


def read_png_text(path):
    """Return the text chunks of a PNG written by `save_png`."""
    with Image.open(path) as image:
        image.load()
        return dict(getattr(image, "text", {}) or {})


def read_provenance(path):
    """`{"settings", "inputs_sha256", "inputs", "versions"[, "masks", "init"]}` stored in a tf-nst PNG.

    Keys the PNG does not hold (older files) are missing from the result; `settings` is always there.

    Raises:
        ImageError: the file is unreadable or was not written by tf-nst.
    """
    try:
        text = read_png_text(path)
        stored = {key[len(PREFIX):]: json.loads(text[key]) for key in (SETTINGS_KEY, INPUTS_KEY, INPUT_ORDER_KEY, VERSIONS_KEY, MASKS_KEY, INIT_KEY)
                  if key in text} | {"settings": json.loads(text[SETTINGS_KEY])}
    except (OSError, SyntaxError, ValueError):
        raise ImageError(path, "cannot read PNG") from None
    except KeyError:
        raise ImageError(path, "no tf-nst settings found (not written by tf-nst)") from None
    return _upgrade(stored)


# tf-nst 0.1 stored the optimizer's own config and the inputs inside the settings.
_OPTIMIZER_CONFIG_FIELDS = {"history_size": "lbfgs_history", "first_step": "lbfgs_first_step",
                            "beta_1": "adam_beta1", "beta_2": "adam_beta2", "epsilon": "adam_epsilon"}


def _upgrade(stored):
    """Settings of PNGs written by earlier versions, in today's field names."""
    settings = stored["settings"]
    settings.setdefault("precision", "float32")  # written before precision was recorded: float32
    for key, field in _OPTIMIZER_CONFIG_FIELDS.items():
        if key in settings.get("optimizer_config", {}):
            settings.setdefault(field, settings["optimizer_config"][key])
    settings.pop("optimizer_config", None)
    content, styles = settings.pop("content", None), settings.pop("styles", None)
    if "inputs" not in stored and content:
        stored["inputs"] = [content] + list(styles or [])
    masks = stored.get("masks") or {}
    if OLD_REGION_MASKS in masks:  # written before the region masks were named region_masks
        stored["masks"] = {MASK_ROLES[0]: masks[OLD_REGION_MASKS],
                           **{role: paths for role, paths in masks.items() if role != OLD_REGION_MASKS}}
    return stored


def matches(source, settings, inputs=(), hashes=None):
    """Was `source` already made with exactly these settings and inputs? The one check of every driver.

    Args:
        source: a PNG path or a binary file object (a remote output read through Beam).
        settings: the JSON-serializable settings the output would store.
        inputs: the input files (hashed here), or give their `hashes` (`{path: sha256}`) instead.

    Returns:
        True when `source` is a tf-nst PNG holding `settings` and the same input bytes. Inputs
        are compared by their bytes, not their paths: moved or renamed inputs still match.
    """
    hashes = input_hashes(inputs) if hashes is None else hashes
    try:
        stored = read_provenance(source)
    except ImageError:
        return False
    same_settings = stored["settings"] == json.loads(json.dumps(settings, sort_keys=True))
    return same_settings and sorted(stored.get("inputs_sha256", {}).values()) == sorted(hashes.values())
