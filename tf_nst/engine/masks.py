"""Region masks: read and check them, fit them to a scale, carry them to each layer's grid.

A mask is a grey image, one per style: white (1) is that style's region, black (0) none of
it, grey a soft edge. In the engine a set of `R` masks is one float32 tensor `(1, H, W, R)` in
[0, 1] at the content's size (`fit_masks`); `layer_masks` carries it to every feature map on
the backbone's pooling grid: feature position `i` of a layer downsampled `s` times covers
pixels `[i·s, (i+1)·s)`, so its weight is the mask's mean over that cell (average pooling,
'valid' like the backbone's pooling, hence the same `floor(H / s)` size). The statistics
(`tf_nst.engine.statistics`) weight each position by it and divide by the region's area.

Erosion (Gatys et al. 2017: count only positions whose receptive field lies inside the
region) is `erosion_radii` in `layer_masks`: a min-filter of the layer's receptive-field size
before pooling, except at layers where it would leave less than a quarter of a region (there the
plain mask). It erodes against the unstyled photo only: where two regions meet, each keeps its
plain mask, so the styles meet (or blend across a soft edge) instead of leaving a seam where
neither is matched. The Stylizer erodes: measured (benchmarks/RESULTS.md, Round 3; vgg16-hed, 192 px, one
style on the left half), the change 0-8 px across the boundary fell from 11.6 to 3.2 grey
levels and 8-16 px from 8.6 to 1.8, at the cost of a weaker style in the region's last ~16 px.
"""

import dataclasses
import warnings

import numpy as np

from tf_nst.engine import colors
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import images as image_io

ASPECT_TOLERANCE = 0.01  # a mask whose aspect ratio differs more from its image's is refused
ERODE_BY_DEFAULT = True  # StyleObjective(erode_masks=...): measured, see above
MIN_ERODED_AREA = 0.25   # erosion that keeps less of a region at a layer falls back to the plain mask
FEATHER = 0.02           # feed-forward soft edges: a Gaussian of this fraction of the longer side


def load_mask(mask, name="mask"):
    """A mask as `float32 (H, W)` in [0, 1].

    Args:
        mask: an image path (read by `tf_nst.io.images.load_image`: unreadable files raise
            `ImageError`), a `LoadedImage`, or an array: `uint8` (0-255) or float (0-1),
            `(H, W)`, `(H, W, 1)` or `(H, W, 3)` (RGB is taken as its luminance).
        name: what to call it in errors.
    """
    if isinstance(mask, image_io.LoadedImage):
        mask = mask.rgb
    elif not isinstance(mask, np.ndarray):
        mask = image_io.load_image(mask).rgb
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim == 3 and mask.shape[2] == 3:
        # Luminance is linear: a float mask in [0, 1] stays in [0, 1].
        luminance = colors.luminance(mask)
        mask = np.clip(np.round(luminance), 0, 255).astype(np.uint8) if mask.dtype == np.uint8 else luminance
    if mask.ndim != 2 or min(mask.shape) < 1:
        raise InvalidArgumentError(
            f"expected {name} a grey image (height, width[, 1 or 3]). Received: shape={mask.shape}")
    if mask.dtype == np.uint8:
        return mask.astype(np.float32) / 255.0
    mask = np.asarray(mask, np.float32)
    if not np.all(np.isfinite(mask)) or mask.min() < 0.0 or mask.max() > 1.0:
        raise InvalidArgumentError(
            f"expected {name} values in [0, 1] (float) or 0-255 (uint8). "
            f"Received: range [{np.nanmin(mask):g}, {np.nanmax(mask):g}]")
    return mask


def check_aspect(mask, image_shape, name, notes):
    """Refuse a mask whose aspect ratio differs from `image_shape`'s by more than 1%; note a resize."""
    height, width = image_shape[:2]
    mask_height, mask_width = mask.shape[:2]
    ratio = (mask_width / mask_height) / (width / height)
    if abs(ratio - 1.0) > ASPECT_TOLERANCE:
        raise InvalidArgumentError(
            f"expected {name} with the aspect ratio of its image ({width}x{height}, within "
            f"{ASPECT_TOLERANCE:.0%}). Received: {name} of {mask_width}x{mask_height}")
    if (mask_height, mask_width) != (height, width):
        notes.append(f"{name}: {mask_width}x{mask_height} resized to its image's {width}x{height}")


def has_region(mask):
    """Is `mask` above 0 anywhere? The one "has a region" check: a bool for an array, a bool
    tensor for a tensor (inside the export's graph)."""
    if isinstance(mask, np.ndarray):
        return bool(np.any(mask > 0))
    import tensorflow as tf

    return tf.reduce_any(tf.convert_to_tensor(mask) > 0)


def check_region(mask, image_shape, name, notes):
    """A mask read (`load_mask`) and checked against its image (`check_aspect`); black everywhere is refused."""
    values = load_mask(mask, name)
    check_aspect(values, image_shape, name, notes)
    if not has_region(values):
        raise InvalidArgumentError(f"expected {name} with a region somewhere (white or grey). "
                                   "Received: black everywhere")
    return values


def as_uint8(mask):
    """A mask in [0, 1] (array or tensor) as grey `uint8` 0-255, as the export takes it."""
    return np.clip(np.round(np.asarray(mask, np.float32) * 255.0), 0, 255).astype(np.uint8)


def prepare_masks(masks, style_image_masks, content_shape, style_shapes):
    """Read and check the masks of a run.

    Args:
        masks: `None` or one region mask per style (see `load_mask`), on the content.
        style_image_masks: `None` or one entry per style: a mask on that style image, or `None`.
        content_shape: the content's `(H, W, ...)`.
        style_shapes: each style's `(h, w, ...)`.

    Returns:
        `(masks, style_image_masks, notes)`: lists of `float32 (H, W)` arrays (or `None`) and notes.
    """
    count, notes = len(style_shapes), []
    if masks is not None:
        masks = _listed(masks, count, "masks")
        masks = [load_mask(mask, f"masks[{index}]") for index, mask in enumerate(masks)]
        for index, mask in enumerate(masks):
            check_aspect(mask, content_shape, f"masks[{index}]", notes)
            if not has_region(mask):
                notes.append(f"masks[{index}] is black everywhere: style {index} is not used")
        if not any(has_region(mask) for mask in masks):
            raise InvalidArgumentError(
                "expected masks with a region somewhere (white or grey). Received: every mask black")
        if len(masks) == 1 and masks[0].min() == 1.0:
            # One style everywhere is the unmasked run: take its ops (the export does the same), so
            # the result does not depend on how the CPU's kernels order the masked sums.
            notes.append("masks[0] is white everywhere: the style applies everywhere, as without a mask")
            masks = None
    if style_image_masks is not None:
        style_image_masks = _listed(style_image_masks, count, "style_image_masks")
        style_image_masks = [None if mask is None else check_region(mask, shape, f"style_image_masks[{index}]", notes)
                             for index, (mask, shape) in enumerate(zip(style_image_masks, style_shapes))]
        if all(mask is None for mask in style_image_masks):
            style_image_masks = None
    return masks, style_image_masks, notes


@dataclasses.dataclass(frozen=True)
class Regions:
    """Where each style of a run applies: read and checked once at an edge, then carried unchanged.

    Args:
        region_masks: `None` (every style everywhere, blended) or one `float32 (H, W)` mask in
            [0, 1] per style, on the content: white is that style's region, grey a soft edge.
        style_image_masks: `None` or, per style, a `float32 (h, w)` mask on that style image
            (the part of the painting that feeds its region) or `None` (all of it).
        notes: what the user should know (a mask resized, a style left unused).

    Example:
    ```python
    regions = Regions.build(["sky.png", "ground.png"], None, content.shape, [s.shape for s in styles])
    stylizer.stylize(content, styles, regions=regions)  # not read or checked again
    ```
    """

    region_masks: tuple | None = None
    style_image_masks: tuple | None = None
    notes: tuple = ()

    @classmethod
    def build(cls, region_masks, style_image_masks, content_shape, style_shapes):
        """Read and check the masks of a run (`prepare_masks`: paths, `LoadedImage`s or arrays)."""
        masks, style_image_masks, notes = prepare_masks(region_masks, style_image_masks, content_shape, style_shapes)
        return cls(None if masks is None else tuple(masks),
                   None if style_image_masks is None else tuple(style_image_masks), tuple(notes))


def renamed(new_value, old_value, new_name, old_name):
    """A keyword's value under its new name, or under its old one with a `DeprecationWarning`."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise InvalidArgumentError(f"expected {new_name}= only ({old_name}= is its old name). Received: both")
    warnings.warn(f"{old_name}= is deprecated; use {new_name}= (same values)", DeprecationWarning, stacklevel=3)
    return old_value


def _listed(masks, count, name):
    if not isinstance(masks, (list, tuple)):
        masks = [masks]
    if len(masks) != count:
        raise InvalidArgumentError(
            f"expected one entry of {name} per style ({count}). Received: {len(masks)} {name}")
    return list(masks)


def as_unit_tensor(mask):
    """A mask tensor as float32 in [0, 1]: `uint8` is divided by 255, floats are clipped."""
    import tensorflow as tf

    mask = tf.convert_to_tensor(mask)
    if mask.dtype == tf.uint8:
        return tf.cast(mask, tf.float32) / 255.0
    return tf.clip_by_value(tf.cast(mask, tf.float32), 0.0, 1.0)


def fit_masks(masks, height, width):
    """`(1, height, width, R)` float32 tensor of `R` masks (arrays `(h, w)` or a `(1, h, w, R)` tensor).

    Bilinear with antialiasing (an area average when shrinking), clipped to [0, 1]; a mask
    already at the size is returned unchanged. The export resizes its mask input with this too.
    """
    import tensorflow as tf

    if isinstance(masks, (list, tuple)):
        masks = tf.constant(np.stack([np.asarray(mask, np.float32) for mask in masks], -1)[None])
    masks = tf.cast(masks, tf.float32)
    shape = tf.shape(masks)

    def resized():
        return tf.clip_by_value(tf.image.resize(masks, tf.stack([height, width]), "bilinear", antialias=True),
                                0.0, 1.0)

    same = tf.logical_and(tf.equal(shape[1], height), tf.equal(shape[2], width))
    return tf.cond(same, lambda: masks, resized)


def feather_masks(masks, height, width, feather=FEATHER):
    """Masks `(n, h, w, R)` float in [0, 1] fitted to `height`×`width` (`fit_masks`), edges feathered.

    A separable Gaussian of sigma `feather` × the longer side (at least 1 px), symmetric padding, so
    hard edges come out soft; a mask without an edge (one value everywhere) is returned fitted, unblurred.
    In-graph (sizes may be tensors): the library's feed-forward masks and the export call this one function.

    Returns:
        `(n, height, width, R)` float32 in [0, 1].
    """
    import tensorflow as tf

    fitted = fit_masks(masks, height, width)
    sigma = tf.maximum(1.0, feather * tf.cast(tf.maximum(height, width), tf.float32))
    radius = tf.cast(3.0 * sigma, tf.int32)
    offsets = tf.cast(tf.range(-radius, radius + 1), tf.float32)
    taps = tf.exp(-0.5 * tf.square(offsets / sigma))
    taps = taps / tf.reduce_sum(taps)
    channels = tf.shape(fitted)[-1]

    def blurred():
        padded = tf.pad(fitted, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
        rows = tf.tile(tf.reshape(taps, [-1, 1, 1, 1]), [1, 1, channels, 1])
        columns = tf.tile(tf.reshape(taps, [1, -1, 1, 1]), [1, 1, channels, 1])
        out = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
        return tf.clip_by_value(tf.nn.depthwise_conv2d(out, columns, [1, 1, 1, 1], "VALID"), 0.0, 1.0)

    flat = tf.equal(tf.reduce_min(fitted), tf.reduce_max(fitted))
    return tf.cond(flat, lambda: fitted, blurred)


def _resize_weights(in_size, out_size):
    """`(out_size, in_size)` float32 weights of TensorFlow's antialiased bilinear resize along one axis:
    `scale_and_translate`'s triangle kernel, widened by the shrink factor, each row normalized."""
    inv_scale = np.float32(in_size) / np.float32(out_size)
    kernel_scale = max(inv_scale, np.float32(1.0))
    sample = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * inv_scale
    start = np.clip(np.ceil(sample - kernel_scale - np.float32(0.5)), 0, in_size - 1).astype(np.int64)
    end = np.clip(np.floor(sample + kernel_scale - np.float32(0.5)), 0, in_size - 1).astype(np.int64) + 1
    source = np.arange(in_size)
    inside = (source[None] >= start[:, None]) & (source[None] < end[:, None])
    position = (source.astype(np.float32)[None] + np.float32(0.5) - sample[:, None]) * (np.float32(1.0) / kernel_scale)
    weights = np.where(inside, np.maximum(np.float32(0.0), np.float32(1.0) - np.abs(position)), np.float32(0.0))
    totals = weights.sum(1, keepdims=True, dtype=np.float32)
    return np.where(totals > 0, weights / np.where(totals > 0, totals, 1), weights).astype(np.float32)


def fit_masks_array(masks, height, width):
    """`fit_masks` without TensorFlow: float32 `(height, width, R)` of `R` masks `(h, w)` in [0, 1].

    The same antialiased bilinear resize (`_resize_weights`, rows then columns), clipped; a mask already
    at the size is returned unchanged. Equal to `fit_masks` within float32 rounding (tests/test_masks.py).
    """
    stack = np.stack([np.asarray(mask, np.float32) for mask in masks], -1)
    if stack.shape[:2] == (height, width):
        return stack
    rows, columns = _resize_weights(stack.shape[0], height), _resize_weights(stack.shape[1], width)
    resized = np.einsum("hi,iwr->hwr", rows, np.einsum("wj,ijr->iwr", columns, stack))
    return np.clip(resized, 0.0, 1.0).astype(np.float32)


def feather_masks_array(masks, height, width, feather=FEATHER):
    """`feather_masks` without TensorFlow, for the onnxruntime path: float32 `(R, height, width)` of `R`
    masks `(h, w)` in [0, 1], fitted (`fit_masks_array`) and blurred by the same separable Gaussian with
    symmetric padding; a mask stack without an edge is returned fitted, unblurred."""
    fitted = fit_masks_array(masks, height, width)
    if fitted.min() == fitted.max():
        return np.ascontiguousarray(np.moveaxis(fitted, -1, 0))
    sigma = max(np.float32(1.0), np.float32(feather) * np.float32(max(height, width)))
    radius = int(np.float32(3.0) * sigma)
    offsets = np.arange(-radius, radius + 1, dtype=np.float32)
    taps = np.exp(np.float32(-0.5) * np.square(offsets / sigma)).astype(np.float32)
    taps = taps / taps.sum(dtype=np.float32)
    padded = np.pad(np.moveaxis(fitted, -1, 0), [(0, 0), (radius, radius), (radius, radius)], mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view
    out = np.einsum("rhwk,k->rhw", windows(padded, 2 * radius + 1, axis=1), taps)
    out = np.einsum("rhwk,k->rhw", windows(out, 2 * radius + 1, axis=2), taps)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def feathered_array(region_masks, height, width, feather=FEATHER):
    """`tf_nst.engine.feedforward.rendering.feathered` without TensorFlow: float32 `(R, height, width)`.

    Each mask fitted to the photo's size (`fit_masks_array`), made the grey uint8 a request sends
    (`as_uint8`), then feathered alone (`feather_masks_array`), as the export feathers a request's mask.
    """
    greys = [as_uint8(fit_masks_array([mask], height, width)[..., 0]) for mask in region_masks]
    return np.stack([feather_masks_array([grey.astype(np.float32) / np.float32(255.0)], height, width, feather)[0]
                     for grey in greys])


def layer_masks(masks, strides, erosion_radii=None, min_kept=MIN_ERODED_AREA):
    """Masks `(1, H, W, R)` carried to each layer's grid: `{layer: (1, H // s, W // s, R)}`.

    Args:
        masks: `(1, H, W, R)` float32 in [0, 1] at the image's size.
        strides: `{layer: downsampling factor}` (`tiling.feature_strides`).
        erosion_radii: `None`, or `{layer: receptive-field radius in px}`: erode each layer's
            mask by that radius first (a soft min-filter), so only positions that see the
            region alone keep their weight.
        min_kept: where erosion leaves less than this share of a region's area at a layer, that
            layer keeps the plain mask (a region narrower than the receptive field would
            otherwise lose the layer's style altogether).
    """
    import tensorflow as tf

    masks = tf.cast(masks, tf.float32)
    radii = {name: 0 for name in strides} if erosion_radii is None else erosion_radii
    return {name: _eroded(masks, stride, radii[name], min_kept) if radii[name] > 0 else _pooled(masks, stride)
            for name, stride in strides.items()}


def _eroded(masks, stride, radius, min_kept):
    """`masks` eroded away from the unstyled area and pooled, or plain where that keeps too little.

    The min-filter runs over the styled area (every region together), and each region keeps
    `min(its mask, that)`: a region shrinks from the photo it would bleed into, not from a
    neighbouring region, so two styles meet (or blend across a soft edge) instead of leaving a
    band where neither is matched. With one region this is the plain min-filter of its mask.
    """
    import tensorflow as tf

    plain = _pooled(masks, stride)
    styled = tf.minimum(tf.reduce_sum(masks, -1, keepdims=True), 1.0)
    # max_pool pads with -inf: the image border is no region boundary.
    inside = -tf.nn.max_pool2d(-styled, 2 * radius + 1, 1, "SAME")
    eroded = _pooled(tf.minimum(masks, inside), stride)
    kept = tf.reduce_sum(eroded, [0, 1, 2]) >= min_kept * tf.reduce_sum(plain, [0, 1, 2])
    return tf.where(kept, eroded, plain)


def _pooled(mask, stride):
    import tensorflow as tf

    return tf.nn.avg_pool2d(mask, stride, stride, "VALID") if stride > 1 else mask
