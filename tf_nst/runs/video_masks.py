"""Region masks for a video: one grey image for every frame, or a folder or a video of per-frame masks.

`open_frame_masks` reads a mask source for one style of `tf_nst.runs.video.stylize_video` and
checks it against the clip before any frame runs: readable, enough masks for the selected frames
(the first mask goes with the first frame of the selection, after `frames` / `every`), the
frames' aspect ratio (within 1%, like every mask) and, over all styles, a region at every frame.
Each frame then gets its masks as grey `uint8 (h, w)` arrays with a label for its provenance:
the file of an image or a folder, `clip.mp4#frame N` for a frame of a mask video.

Example:
```python
masks = open_frame_masks("masks/", len(video), video.size)      # frame_0001.png, frame_0002.png, ...
for frame, (label, mask) in zip(video, masks):
    ...
```
"""

import dataclasses
import os
import re

import numpy as np

from tf_nst.engine import masks as region_masks
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import images as image_io
from tf_nst.io.inputs import is_image_name
from tf_nst.io.provenance import file_sha256
from tf_nst.io.video_files import FRAME_SUFFIXES, open_video

MASK_KINDS = ("image", "folder", "video")


def natural_key(name):
    """Sort key putting `m2.png` before `m10.png`, like the frames of a folder (`tf_nst.io.video_files`)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def grey(rgb):
    """A decoded mask image or frame as grey `uint8 (h, w)` (RGB taken as its luminance)."""
    return np.round(region_masks.load_mask(np.asarray(rgb)) * 255.0).astype(np.uint8)


@dataclasses.dataclass
class FrameMasks:
    """The masks of one style over the selected frames of a clip (build it with `open_frame_masks`).

    Args:
        path: the mask image, folder or video.
        kind: one of `MASK_KINDS`.
        count: how many frames it is used for (the clip's selection).
        files: a folder's mask files, in order (one per frame).
        video: a mask video's `VideoSource`.

    Iterating yields `(label, mask)` per frame: `mask` a grey `uint8 (h, w)` array, `label` the
    mask file (stored and hashed in the frame's provenance) or `clip.mp4#frame N` (1-based).
    """

    path: str
    kind: str
    count: int
    files: list = dataclasses.field(default_factory=list)
    video: object = None

    def __iter__(self):
        if self.kind == "image":
            mask = grey(image_io.load_image(self.path).rgb)  # decoded once for every frame
            for _ in range(self.count):
                yield self.path, mask
        elif self.kind == "folder":
            for path in self.files:
                yield path, grey(image_io.load_image(path).rgb)
        else:
            for label, frame in zip(self.labels(), self.video):
                yield label, grey(frame)

    def labels(self):
        """Each frame's label, without decoding anything."""
        if self.kind == "image":
            return [self.path] * self.count
        if self.kind == "folder":
            return list(self.files)
        return [f"{self.path}#frame {number}" for number in range(1, self.count + 1)]

    def describe(self):
        """What the frames' settings record: the kind, and a mask video's hash (its frames are no files)."""
        described = {"kind": self.kind}
        if self.kind == "video":
            described["sha256"] = file_sha256(self.path)
        return described


def open_frame_masks(source, count, name="style mask"):
    """A mask source for `count` frames: an image (every frame), a folder of images or a video of masks.

    Args:
        source: a grey image path; a folder of PNG/JPEG masks (natural order: `m2.png` before
            `m10.png`); or a video file whose frames are the masks.
        count: frames of the clip's selection; a folder or video needs at least that many masks
            (extra ones at the end are not used).
        name: what to call it in errors.

    Raises:
        InvalidArgumentError: not a path, or fewer masks than frames.
        ImageError: a missing, unreadable or corrupt file.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"expected {name} a path (an image, a folder of images or a video). Received: {type(source).__name__}")
    path = os.fspath(source)
    if os.path.isdir(path):
        files = [os.path.join(path, entry) for entry in sorted(os.listdir(path), key=natural_key)
                 if entry.lower().endswith(FRAME_SUFFIXES) and not entry.startswith(".")]
        _check_count(name, path, len(files), count)
        return FrameMasks(path, "folder", count, files=files[:count])
    if is_image_name(path) or not os.path.exists(path):
        image_io.load_image(path)  # a missing or corrupt mask fails here, before any frame
        return FrameMasks(path, "image", count)
    video = open_video(path)
    _check_count(name, path, len(video), count)
    return FrameMasks(path, "video", count, video=video)


def _check_count(name, path, found, count):
    if found < count:
        raise InvalidArgumentError(
            f"expected {name} with one mask per frame ({count} frames). Received: {path} has {found}")


def check_frame_masks(sequences, frame_size, names):
    """Every frame's masks, before any frame runs: each of the frames' aspect ratio, some region at every frame.

    Args:
        sequences: one `FrameMasks` per style.
        frame_size: the clip's `(width, height)`.
        names: what to call each sequence in errors.

    Returns:
        Notes for the user (masks of another size than the frames are resized to them).

    Raises:
        InvalidArgumentError: another aspect ratio, or every mask black at some frame.
    """
    width, height = frame_size
    notes = []
    for number, frame_masks in enumerate(zip(*sequences), start=1):
        for name, (label, mask) in zip(names, frame_masks):
            region_masks.check_aspect(mask, (height, width), f"{name} {label}", [])
            if number == 1 and mask.shape[:2] != (height, width):
                notes.append(f"{name} {label}: {mask.shape[1]}x{mask.shape[0]} resized to the frames' "
                             f"{width}x{height}")
        if not any(region_masks.has_region(mask) for _, mask in frame_masks):
            labels = ", ".join(label for label, _ in frame_masks)
            raise InvalidArgumentError(
                f"expected masks with a region (white or grey) at every frame. Received: frame {number} "
                f"black everywhere ({labels})")
    return notes


def fit_mask(mask, height, width):
    """A grey `uint8` mask as `float32 (height, width)` in [0, 1], resized as the engine resizes masks."""
    values = region_masks.load_mask(mask)
    if values.shape == (height, width):
        return values
    return region_masks.fit_masks([values], height, width).numpy()[0, :, :, 0]


def frame_mask_files(labels):
    """The mask files among one frame's labels (a mask video's frames are hashed in the settings)."""
    return [label for label in labels if os.path.isfile(label)]
