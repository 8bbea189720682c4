"""A run's inputs, read and checked before any work: images, blend weights, masks, colour handling.

`prepare_inputs` turns what `Stylizer.stylize` receives (paths, `LoadedImage`s or arrays) into
a `RunInputs`: loaded images (the colour mode applied), normalized blend weights, the
`Regions` (built once, at the edge), and the notes the user should see.
"""

import dataclasses

import numpy as np

from tf_nst.engine import colors
from tf_nst.engine import masks as masks_module
from tf_nst.errors import ImageError, InvalidArgumentError
from tf_nst.io import images as image_io

MAX_ASPECT_RATIO = 64


@dataclasses.dataclass
class RunInputs:
    """The checked inputs of one run.

    Args:
        content: the content `LoadedImage` (grey for `preserve_colors="luminance"`).
        styles: the style `LoadedImage`s (colour-matched when colours are preserved).
        content_colors: the content's original `uint8 (H, W, 3)` pixels (for recombination).
        blend: `(len(styles),)` float32 weights summing to 1.
        regions: the run's `tf_nst.engine.masks.Regions` (no masks: every style everywhere).
        init: `None` or a `uint8 (h, w, 3)` start image.
        notes: things the user should know.
    """

    content: image_io.LoadedImage
    styles: list
    content_colors: np.ndarray
    blend: np.ndarray
    regions: masks_module.Regions = masks_module.Regions()
    init: np.ndarray | None = None
    notes: list = dataclasses.field(default_factory=list)


def prepare_inputs(settings, content, styles, min_side, region_masks=None, style_image_masks=None, regions=None,
                   init=None):
    """Load and check a run's inputs (see `Stylizer.stylize` for the arguments).

    `regions`: a `Regions` built at an edge (kept as it is), else one is built here from
    `region_masks` and `style_image_masks`.
    """
    content = as_loaded(content)
    if not isinstance(styles, (list, tuple)):
        styles = [styles]
    styles = [as_loaded(style) for style in styles]
    if not styles:
        raise InvalidArgumentError("expected at least one style image. Received: styles=[]")
    blend = blend_weights(settings.style_blend, len(styles))
    notes = list(content.notes) + [note for style in styles for note in style.notes]
    if regions is None:
        regions = masks_module.Regions.build(region_masks, style_image_masks, content.rgb.shape,
                                             [style.rgb.shape for style in styles])
    notes += list(regions.notes)
    content_colors = content.rgb
    content, styles = apply_color_mode(settings.preserve_colors, content, styles)
    for loaded in [content] + styles:
        notes += check_sides(loaded, min_side)
    return RunInputs(content=content, styles=styles, content_colors=content_colors, blend=blend,
                     regions=regions, init=None if init is None else as_loaded(init).rgb, notes=notes)


def apply_color_mode(mode, content, styles):
    """`(content, styles)` as the backbone sees them under `preserve_colors=mode`."""
    content_colors = content.rgb
    if mode == "luminance":
        content = dataclasses.replace(content, rgb=colors.gray_rgb(colors.luminance(content.rgb)))
        styles = [dataclasses.replace(style, rgb=colors.match_luminance(style.rgb, content_colors))
                  for style in styles]
    elif mode == "histogram":
        styles = [dataclasses.replace(style, rgb=colors.match_histogram(style.rgb, content_colors))
                  for style in styles]
    return content, styles


def check_sides(loaded, min_side):
    """Refuse an extreme aspect ratio; return a note when the image is below the backbone's minimum."""
    height, width = loaded.rgb.shape[:2]
    if max(height, width) > MAX_ASPECT_RATIO * min(height, width):
        # The short side is upscaled to the backbone's minimum, so the long side would explode.
        raise ImageError(loaded.path or "image",
                         f"is {width}x{height}, expected an aspect ratio of at most {MAX_ASPECT_RATIO}:1")
    if min(height, width) < min_side:
        return [(f"{loaded.path or 'image'}: {width}x{height} is smaller than the backbone's minimum side "
                 f"{min_side}; upscaled")]
    return []


def as_loaded(image):
    """A path, `LoadedImage` or `uint8 (H, W, 3)` array as a `LoadedImage`."""
    if isinstance(image, image_io.LoadedImage):
        return image
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InvalidArgumentError(
                f"expected a uint8 array of shape (height, width, 3). "
                f"Received: shape={image.shape}, dtype={image.dtype}")
        return image_io.LoadedImage(rgb=image)
    return image_io.load_image(image)


def blend_weights(weights, count):
    """The settings' `style_blend` (checked there) for `count` styles, normalized; equal by default."""
    if weights is None:
        return np.full([count], 1.0 / count, np.float32)
    if len(weights) != count:
        raise InvalidArgumentError(
            f"expected one blend weight per style ({count}). Received: style_blend={weights}")
    return np.asarray(weights, np.float32) / sum(weights)
