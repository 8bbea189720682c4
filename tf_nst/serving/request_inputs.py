"""What a request to an export sends: the signatures' inputs built from arrays (the wire contract's
names, `tf_nst.serving.contract`), PNG-encoded for `stylize_bytes`.

One painting or style is one array; several paintings (an arbitrary-style network's export) are a list,
with a mask per painting and their blend as `style_weights`.
"""

import numpy as np

from tf_nst.errors import InvalidArgumentError
from tf_nst.serving import contract as names


def encode_png(rgb):
    import tensorflow as tf

    return tf.io.encode_png(np.asarray(rgb, np.uint8)).numpy()


def decode_png(data):
    import tensorflow as tf

    return tf.io.decode_png(data, channels=3).numpy()


def mask_array(mask):
    """A grey mask array as the export takes it: `uint8 (h, w, 1)`."""
    mask = np.asarray(mask)
    if mask.dtype != np.uint8:
        raise InvalidArgumentError(f"expected a uint8 mask (0-255). Received: dtype={mask.dtype}")
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise InvalidArgumentError(f"expected a grey mask of shape (height, width). Received: shape={mask.shape}")
    return mask[..., None]


def weights_input(style_weights):
    """`{style_weights: float32 (1, P)}` of a blend over several paintings, or `{}` for none (the export's: equal)."""
    if style_weights is None:
        return {}
    return {names.STYLE_WEIGHTS: np.asarray(style_weights, np.float32).reshape(1, -1)}


def image_inputs(content, style, mask=None, style_weights=None):
    """`serving_default`'s image inputs (the mask only when given: the export's default is everywhere).

    `style` may be a list of paintings of one size (an arbitrary-style network's export), `mask` then a list
    of one mask per painting (None: everywhere) and `style_weights` their blend.
    """
    inputs = {names.CONTENT: np.asarray(content, np.uint8)[None]}
    if isinstance(style, (list, tuple)):
        shapes = {np.shape(painting) for painting in style}
        if len(shapes) != 1:
            raise InvalidArgumentError(f"expected paintings of one size as tensors (serving_default; stylize_bytes "
                                       f"takes any sizes). Received: shapes {sorted(shapes)}")
        inputs[names.STYLE] = np.stack([np.asarray(painting, np.uint8) for painting in style])
        if mask is not None:
            inputs[names.MASK] = np.stack([np.full(np.shape(content)[:2] + (1,), 255, np.uint8) if one is None
                                           else mask_array(one) for one in mask])
    else:
        inputs[names.STYLE] = np.asarray(style, np.uint8)[None]
        if mask is not None:
            inputs[names.MASK] = mask_array(mask)[None]
    return {**inputs, **weights_input(style_weights)}


def encode_mask(mask):
    """A grey mask PNG-encoded as the export decodes it (RGB), or `b""` for None (everywhere)."""
    return b"" if mask is None else encode_png(np.repeat(mask_array(mask), 3, axis=2))


def bytes_inputs(content, style, mask=None, style_weights=None):
    """`stylize_bytes`' inputs: the arrays PNG-encoded (`style` may be a list of paintings of any sizes, `mask` then
    one per painting; `image_inputs`)."""
    inputs = {names.CONTENT_BYTES: np.array(encode_png(content), object)}
    if isinstance(style, (list, tuple)):
        inputs[names.STYLE_BYTES] = np.array([encode_png(painting) for painting in style], object)
        if mask is not None:
            inputs[names.MASK_BYTES] = np.array([encode_mask(one) for one in mask], object)
    else:
        inputs[names.STYLE_BYTES] = np.array(encode_png(style), object)
        if mask is not None:
            inputs[names.MASK_BYTES] = np.array(encode_mask(mask), object)
    return {**inputs, **weights_input(style_weights)}
