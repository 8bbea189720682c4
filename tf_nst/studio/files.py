"""The studio's files: uploads checked, painted masks written, results kept, inputs found again.

The server serves one temporary folder (Gradio's upload cache, `StudioFiles.root`) and the bundled
samples, nothing else. Each browser session has a folder of its own under `root/sessions` (its
masks, the editor's layers, preview frames, results); its uploads land in Gradio's hash folders
under `root` and are tracked by session. When a tab closes both go (an upload another open tab also
holds stays); when the server stops, `root` goes. Files are named by their SHA-256, so a replayed
PNG finds its inputs by the hashes its provenance stores. A session finds only the bundled samples
and its own files. TensorFlow-free.
"""

import hashlib
import io
import os
import re
import shutil
import tempfile
import threading

import numpy as np
from PIL import Image

from tf_nst.errors import ImageError
from tf_nst.io.images import load_image, resize
from tf_nst.io.inputs import ASSETS
from tf_nst.io.provenance import file_sha256

BUNDLED_STYLES = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg")
BUNDLED_CONTENTS = ("astronaut.png",) + BUNDLED_STYLES
DEFAULT_MAX_UPLOAD_BYTES = 25_000_000
PAINT_OPACITY = 0.5  # the brushes paint translucent, so the photo stays visible under the regions
EDITOR_SIDE = 512  # the mask editor shows a larger content photo scaled to this longest side (cheap strokes)
PREVIEWS_KEPT = 3  # preview frames a session keeps: the newest, and the ones a slow browser may still fetch


def bundled(names):
    return [os.path.join(ASSETS, name) for name in names]


def display_name(path):
    """The file name a user knows: Gradio keeps an upload's own name as the last part of its path."""
    return os.path.basename(os.fspath(path))


class StudioFiles:
    """The studio's temporary folder and what each session keeps in it.

    Args:
        root: the folder (created); Gradio's uploads go here too (`GRADIO_TEMP_DIR`).
        max_upload_bytes, max_input_pixels: caps of every upload (bytes on disk; pixels by the
            image header, before decoding, as the CLI's `--max-input-pixels`).
    """

    def __init__(self, root=None, max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES, max_input_pixels=None):
        self.root = os.path.abspath(root or tempfile.mkdtemp(prefix="tf-nst-studio-"))
        os.makedirs(self.root, exist_ok=True)
        self.max_upload_bytes = max_upload_bytes
        self.max_input_pixels = max_input_pixels
        self._bundled = {file_sha256(path): path for path in bundled(BUNDLED_CONTENTS)}
        self._uploads = {}  # session -> Gradio hash folders of its uploads
        self._previews = {}  # session -> its preview frames, oldest first
        self._lock = threading.Lock()

    def _session_path(self, session):
        return os.path.join(self.root, "sessions", hashlib.sha256(session.encode()).hexdigest()[:16])

    def session_folder(self, session):
        folder = self._session_path(session)
        os.makedirs(folder, exist_ok=True)
        return folder

    def track(self, session, *paths):
        """Note the uploads among `paths` (files in Gradio's hash folders under `root`) as `session`'s.

        A copy of a bundled sample is nobody's: Gradio serves the sample galleries of every tab from it (a
        sample clicked, or the same bytes uploaded, land in that folder), so it stays when a tab closes.
        """
        sessions = os.path.join(self.root, "sessions") + os.sep
        for path in paths:
            if not path or not isinstance(path, (str, os.PathLike)):
                continue
            folder = os.path.dirname(os.path.abspath(os.fspath(path)))
            if not folder.startswith(self.root + os.sep) or (folder + os.sep).startswith(sessions):
                continue
            if os.path.isfile(path) and file_sha256(path) in self._bundled:
                continue
            with self._lock:
                self._uploads.setdefault(session, set()).add(folder)

    def forget_session(self, session):
        """Remove a closed session's folder (masks, layers, previews, results) and its uploads no other
        open session holds."""
        with self._lock:
            mine = self._uploads.pop(session, set())
            others = set().union(*self._uploads.values())
            self._previews.pop(session, None)
        for folder in [self._session_path(session)] + sorted(mine - others):
            shutil.rmtree(folder, ignore_errors=True)

    def remove_all(self):
        """Remove the whole temporary folder (the server stops)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def write_preview(self, session, rgb):
        """A preview frame as a PNG in the session's folder; only the newest `PREVIEWS_KEPT` stay."""
        path = self.write_png(session, rgb, "preview")
        with self._lock:
            frames = self._previews.setdefault(session, [])
            if path not in frames:
                frames.append(path)
            old, frames[:] = frames[:-PREVIEWS_KEPT], frames[-PREVIEWS_KEPT:]
        for frame in old:
            if os.path.exists(frame):
                os.remove(frame)
        return path

    def public_text(self, text):
        """`text` as a page may show it: no path on the server (a file's own name instead), no command-line
        option (a parenthesis naming one goes)."""
        text = str(text)
        for folder in (self.root, ASSETS, tempfile.gettempdir()):
            text = re.sub(re.escape(folder.rstrip(os.sep)) + r"[^\s'\",:;)]*?([^/\s'\",:;)]+)(?=[\s'\",:;)]|$)",
                          r"\1", text)
        return re.sub(r"\s*\([^()]*(?:--[a-z][a-z-]+|Python:)[^()]*\)", "", text)

    def check_upload(self, path):
        """Read an uploaded (or bundled) image with the byte and pixel caps.

        Returns:
            `(LoadedImage, path)`: a bundled sample's own path when the bytes are a bundled
            sample's (so provenance names `tf_nst/assets/...`, not a temporary copy).
        Raises:
            ImageError: too many bytes or pixels, or not an image (its message names the upload).
        """
        path = os.fspath(path)
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        if size > self.max_upload_bytes:
            raise ImageError(display_name(path), f"file is {size} bytes, expected at most {self.max_upload_bytes}")
        path = self._bundled.get(file_sha256(path), path) if os.path.isfile(path) else path
        caps = {} if self.max_input_pixels is None else {"max_input_pixels": self.max_input_pixels}
        try:
            return load_image(path, **caps), path
        except ImageError as error:
            raise ImageError(display_name(path), error.problem) from None

    def write_png(self, session, array, prefix):
        """Write `array` (grey or RGB uint8) as a PNG named by its SHA-256 in the session's folder."""
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(array, np.uint8)).save(buffer, format="PNG")
        data = buffer.getvalue()
        path = os.path.join(self.session_folder(session), f"{prefix}-{hashlib.sha256(data).hexdigest()[:16]}.png")
        if not os.path.exists(path):
            with open(path, "wb") as stream:
                stream.write(data)
        return path

    def editor_background(self, session, loaded):
        """The content as the mask editor shows it: itself, or scaled to `EDITOR_SIDE` when larger."""
        height, width = loaded.rgb.shape[:2]
        if max(height, width) <= EDITOR_SIDE:
            return loaded.rgb
        scale = EDITOR_SIDE / max(height, width)
        return resize(loaded.rgb, (max(1, round(width * scale)), max(1, round(height * scale))))

    def editor_value(self, session, loaded, masks=()):
        """The mask editor's value for a content photo: its background and a layer per stored mask, as
        files in the session's folder (`{"background", "layers", "composite"}`)."""
        background = self.editor_background(session, loaded)
        size = (background.shape[1], background.shape[0])
        layers = [self.write_png(session, mask_layer(mask, size), "layer") for mask in masks]
        return {"background": self.write_png(session, background, "content"), "layers": layers, "composite": None}

    def find(self, session_files, sha256):
        """A file with these bytes among the bundled samples and this session's files, or None."""
        path = self._bundled.get(sha256) or session_files.get(sha256)
        return path if path and os.path.isfile(path) else None


def painted_masks(layers, count, content_shape):
    """Masks of the editor's layers: `uint8 (H, W)` per style, or None when nothing is painted.

    The paint's grey level is the mask: white paint is the style's region, grey a soft one, black
    paint or no paint the photo. Brushes paint at `PAINT_OPACITY`, so the photo shows through;
    a stroke's coverage up to that opacity counts in full and its antialiased edge in part.
    Layers come at the editor's size and are scaled to the content's (the same aspect ratio; bilinear).
    """
    full = int(PAINT_OPACITY * 255)
    masks = []
    layers = [_rgba(layer) for layer in list(layers or [])[:count]]
    for layer in layers:
        rgba = np.asarray(layer)
        if rgba.ndim != 3 or rgba.shape[2] != 4:
            masks.append(None)
            continue
        grey = rgba[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        coverage = np.minimum(rgba[..., 3].astype(np.float32) / full, 1.0)
        masks.append(np.clip(np.round(grey * coverage), 0, 255).astype(np.uint8))
    if not any(_painted(layer) for layer in list(layers or [])[:count]):
        return None
    height, width = content_shape[:2]
    return [np.zeros((height, width), np.uint8) if mask is None else _scaled(mask, (width, height))
            for mask in masks + [None] * (count - len(masks))]


def _rgba(layer):
    """An editor layer as an array: as given, or read from its file (the editor hands over paths)."""
    if isinstance(layer, (str, os.PathLike)):
        with Image.open(layer) as image:
            return np.asarray(image.convert("RGBA"))
    return layer


def _scaled(mask, size):
    """A mask at `size=(width, height)`, bilinear: no ringing, so unpainted stays 0 and full paint 255."""
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask
    return np.asarray(Image.fromarray(mask).resize(size, Image.BILINEAR))


def _painted(layer):
    """Any paint at all on the layer (black paint included: an explicit 'no style here')."""
    rgba = np.asarray(layer)
    return rgba.ndim == 3 and rgba.shape[2] == 4 and bool((rgba[..., 3] > 0).any())


def mask_layer(mask, size):
    """A stored grey mask as an editor layer at `size=(width, height)`: its grey painted where it is not 0."""
    mask = _scaled(np.asarray(mask, np.uint8), size)
    layer = np.repeat(mask[..., None], 4, axis=2)
    layer[..., 3] = np.where(mask > 0, int(PAINT_OPACITY * 255), 0)
    return layer
