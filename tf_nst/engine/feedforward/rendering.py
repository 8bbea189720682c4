"""Stylizing with a trained network: one forward pass, any size, blended styles, masks, colours.

`FeedForward` wraps a `TransformerNet` in a `tf.function` traced once for any height and width,
and adds what the optimization offers around it: a blend of the model's styles, region masks
(the engine's `Regions`: the style where the mask is white, the photo where it is black, soft
edges in between; one mask per style of a blend), and `preserve_colors` (`luminance`: the photo's colours with the
stylized luminance; `histogram`: the stylized colours matched to the photo's). A photo of more
than `max_tile_pixels` pixels is rendered in tiles with the whole image's statistics
(`tf_nst.engine.feedforward.tiling`). Every render runs on the photo with a reflect margin
(`with_margin`, `FEEDFORWARD_BORDER_MARGIN`) cropped off after (`without_margin`): the network's border
effects fall in the margin.

**Stroke scale.** A network paints the painting's strokes at their size in the style image it was trained
on (`train --style-size`, the model's `stroke_size`) and keeps that size in pixels, so a larger photo got
strokes too small for the picture (docs/realtime.md). A photo whose longest side is over `stroke_size` is
rendered at that size and the result scaled up, with the photo's own finer detail (what the scaling
down removed) added back (`stroke_scaled`, shared with the export): the strokes keep their size relative to
the picture at any output size, as the painting's, and edges stay sharp. `stroke_size=0` renders at the
photo's own size.

The steps after the network are functions shared with the SavedModel of
`tf_nst.serving.feedforward_export`, so a photo gives the same pixels through either: `soft_alpha`
(a grey uint8 mask to feathered weights), `composite` (renderings placed by their masks over the
photo) and `to_uint8` (the one rounding).
"""

import logging

import numpy as np
import tensorflow as tf

from tf_nst.engine.colors import apply_colors  # noqa: F401 (re-exported: the feed-forward paths' colour control)
from tf_nst.engine.feedforward.tiling import render_tiled
from tf_nst.engine.masks import FEATHER, Regions, as_uint8, feather_masks, fit_masks
from tf_nst.engine.feedforward.transformer import style_weights_for
from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import resolve_blend
from tf_nst.settings.choices import FEEDFORWARD_BORDER_MARGIN, FEEDFORWARD_MAX_TILE_PIXELS, MIN_SIDE


class FeedForward:
    """A trained network ready to stylize images.

    Args:
        network: a `TransformerNet` (e.g. from `tf_nst.engine.feedforward.model_files.load_model`).
        max_tile_pixels: a photo with more pixels is rendered in tiles (windows of at most this
            many pixels, halos included); `None` for `FEEDFORWARD_MAX_TILE_PIXELS`.
        stroke_size: a photo whose longest side is over this is rendered at this size and scaled up,
            its finer detail added back (the stroke scale above; `model_files.stroke_size(info)` gives a
            model folder's); 0 renders every photo at its own size.

    Attributes:
        tiling: `(rows, columns)` of the last render's tiles, or `None` when it ran in one pass.

    Example:
    ```python
    network, info = load_model("tf_nst/assets/models/bundled")
    result = FeedForward(network).stylize(photo_rgb, blend={"starry_night": 0.7, "the_scream": 0.3})
    ```
    """

    def __init__(self, network, max_tile_pixels=None, stroke_size=0):
        self.network = network
        self.stroke_size = int(stroke_size or 0)
        self.max_tile_pixels = FEEDFORWARD_MAX_TILE_PIXELS if max_tile_pixels is None else int(max_tile_pixels)
        self.tiling = None
        self.forward = tf.function(
            lambda image, weights: network({"image": image, "style_weights": weights}),
            input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32),
                             tf.TensorSpec([1, network.num_styles], tf.float32)], reduce_retracing=True)

    @property
    def style_names(self):
        return list(self.network.style_names)

    def render(self, rgb, weights):
        """The network's float output `(H, W, 3)` in [0, 255] for a uint8 `(H, W, 3)` photo, at the stroke scale
        (`stroke_scaled`: scaled down to `stroke_size`, rendered, scaled up, its detail added back) when the
        photo is larger than `stroke_size`; `tiling` says whether the pass ran in tiles."""
        photo = tf.constant(np.asarray(rgb, np.float32)[None])
        return np.asarray(stroke_scaled(lambda image: self.render_pass(image, weights)[None], photo,
                                        self.stroke_size)[0])

    def render_pass(self, photo, weights):
        """The network's float output `(H, W, 3)` for a float `(1, H, W, 3)` photo (`with_margin`): one pass, or
        tiles when the photo and its margin have more than `max_tile_pixels` pixels (`tiling` says which)."""
        height, width = photo.shape[1], photo.shape[2]
        image, margin = with_margin(photo)
        self.tiling = None
        if image.shape[1] * image.shape[2] <= self.max_tile_pixels:
            return without_margin(self.forward(image, weights), margin, height, width)[0].numpy()
        out, self.tiling = render_tiled(self.network, image, weights, self.max_tile_pixels)
        logging.getLogger(__name__).info("tiled %d×%d (more than %d pixels)", *self.tiling, self.max_tile_pixels)
        return without_margin(out[None], int(margin), height, width)[0]

    def stylize(self, rgb, blend=None, regions=None, preserve_colors="none"):
        """A uint8 `(H, W, 3)` stylization of the uint8 photo `rgb`.

        Args:
            rgb: `(H, W, 3)` uint8.
            blend: a `StyleBlend` (`tf_nst.settings.resolve_blend`), what it resolves (weights in
                the network's style order or `{style name: weight}`), or `None` for the first style.
            regions: `None`, a `Regions` (`tf_nst.engine.masks`, checked where it was built), or
                one region mask per style of `blend` (in its order; paths, images or arrays, read
                and checked by `Regions.build` against `rgb`): each style is rendered alone and
                placed where its mask says, the photo where no mask covers, edges feathered
                (`feathered`).
            preserve_colors: `"none"`, `"luminance"` or `"histogram"`.

        Raises:
            InvalidArgumentError: unknown style names, a mask count that is not the blend's, a mask
                of another aspect ratio, or masks black everywhere.
        """
        blend = resolve_blend(blend, self.style_names)
        if regions is not None and not isinstance(regions, Regions):
            regions = Regions.build(list(regions), None, np.shape(rgb), [np.shape(rgb)] * len(blend))
        if regions is None or regions.region_masks is None:
            out = self.render(rgb, style_weights_for(self.style_names, blend))
        else:
            out = self.masked(rgb, blend, feathered(regions.region_masks, np.shape(rgb)))
        return apply_colors(to_uint8(out).numpy(), rgb, preserve_colors)

    def masked(self, rgb, blend, masks):
        """Each style where its mask says (mask-weighted), the photo where no mask covers.

        `masks`: one float `(H, W)` mask in [0, 1] per style of `blend`, at the photo's size, used as they are."""
        if len(masks) != len(blend):
            raise InvalidArgumentError(
                f"expected one style mask per style ({len(blend)}). Received: {len(masks)} mask(s)")
        renderings = [self.render(rgb, style_weights_for(self.style_names, {name: 1.0})) for name in blend]
        alphas = [np.clip(np.asarray(mask, np.float32), 0.0, 1.0)[..., None] for mask in masks]
        return composite(np.asarray(rgb, np.float32), renderings, alphas).numpy()


def with_margin(image):
    """`(image, margin)`: a `(1, H, W, 3)` image reflect-padded by `margin` px on every side
    (`FEEDFORWARD_BORDER_MARGIN`, less for an image smaller than it). In-graph: the export pads alike."""
    shape = tf.shape(image)
    margin = tf.minimum(FEEDFORWARD_BORDER_MARGIN, tf.minimum(shape[1], shape[2]) - 1)
    return tf.pad(image, [[0, 0], [margin, margin], [margin, margin], [0, 0]], mode="REFLECT"), margin


def stroke_shape(height, width, stroke_size):
    """`(h, w)` int32 tensors: `(height, width)` scaled so the longest side is `stroke_size` (each side at least
    `MIN_SIDE` or its own, whichever is less). In-graph: the export sizes alike."""
    height, width = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    scale = tf.cast(stroke_size, tf.float32) / tf.maximum(height, width)

    def side(length):
        return tf.cast(tf.maximum(tf.round(length * scale), tf.minimum(length, float(MIN_SIDE))), tf.int32)

    return side(height), side(width)


def stroke_scaled(render, photo, stroke_size):
    """`render` (float `(1, h, w, 3)` → float `(1, h, w, 3)`) of a float `(1, H, W, 3)` photo at the stroke
    scale: a photo whose longest side is over `stroke_size` is scaled down to it (antialiased: `stroke_fitted`),
    rendered, scaled up again (bicubic) and given back its finer detail (the photo less its scaled-down copy
    scaled up alike); any other photo, or `stroke_size` 0, is rendered as it is. Eager (the library) or
    in-graph (the export), the same ops; `render` is called once (traced once in a graph)."""
    if not stroke_size:
        return render(photo)
    shape = tf.shape(photo)
    small = stroke_fitted(photo, stroke_size)
    rendered = render(small)

    def scaled_up():
        detail = photo - tf.image.resize(small, shape[1:3], "bicubic")
        return tf.image.resize(rendered, shape[1:3], "bicubic") + detail

    return tf.cond(tf.maximum(shape[1], shape[2]) > stroke_size, scaled_up, lambda: rendered)


def stroke_fitted(image, stroke_size):
    """A float `(n, H, W, C)` image scaled down (antialiased, as `stroke_scaled` scales the photo) so that its
    longest side is `stroke_size` when it is over it (`stroke_shape`), else as it is; `stroke_size` 0: as it
    is. The arbitrary-style network's painting at the stroke scale. Eager or in-graph, the same ops."""
    image = tf.cast(image, tf.float32)
    if not stroke_size:
        return image
    shape = tf.shape(image)
    return tf.cond(tf.maximum(shape[1], shape[2]) > stroke_size,
                   lambda: tf.image.resize(image, stroke_shape(shape[1], shape[2], stroke_size), "area"),
                   lambda: image)


def area_fitted(maps, height, width):
    """Float `(n, H, W, C)` maps (region weights) at `height`×`width`: as they are when already that size, else
    area-resized (the stroke scale's photo's resize). Eager or in-graph."""
    maps = tf.cast(maps, tf.float32)
    shape = tf.shape(maps)
    same = tf.logical_and(tf.equal(shape[1], height), tf.equal(shape[2], width))
    return tf.cond(same, lambda: maps, lambda: tf.image.resize(maps, tf.stack([height, width]), "area"))


def without_margin(image, margin, height, width):
    """The `(n, height, width, 3)` picture inside `with_margin`'s margin of a rendered `(n, H', W', 3)` image."""
    return image[:, margin:margin + height, margin:margin + width, :]


def composite(photo, renderings, alphas):
    """Float `(..., H, W, 3)`: each rendering weighted by its alpha `(..., H, W, 1)` in [0, 1], the photo
    where the alphas leave room; where they sum above 1 they are scaled to sum to 1.

    The library's masked renders and the export's masked requests both mix with this."""
    coverage = tf.add_n(alphas) if len(alphas) > 1 else tf.convert_to_tensor(alphas[0])
    scale = tf.where(coverage > 1.0, 1.0 / tf.maximum(coverage, 1e-6), 1.0)
    out = photo * (1.0 - tf.minimum(coverage, 1.0))
    for rendered, alpha in zip(renderings, alphas):
        out += rendered * (alpha * scale)
    return out


def to_uint8(image):
    """A float image in [0, 255] as uint8: rounded half to even, then clipped (every feed-forward output)."""
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def soft_alpha(mask, height, width, feather=FEATHER):
    """Float `(n, height, width, 1)` weights of a grey uint8 mask `(n, h, w, 1)`: divided by 255, fitted
    and feathered (`tf_nst.engine.masks.feather_masks`). In-graph: the export calls it on a request's mask."""
    return feather_masks(tf.cast(mask, tf.float32) / 255.0, height, width, feather=feather)


def feathered(region_masks, shape, feather=FEATHER):
    """`Regions.region_masks` (float `(h, w)` in [0, 1]) as float `(H, W)` masks at `shape`: each fitted to
    the photo's size and made the grey uint8 a request sends (`as_uint8`, as `tf_nst.runs.pairs.prepare_mask`
    does), then `soft_alpha` as in the export, so a mask gives the same edge on every path."""
    height, width = shape[:2]
    return [soft_alpha(as_uint8(fit_masks([mask], height, width)), height, width, feather=feather)[0, ..., 0].numpy()
            for mask in region_masks]
