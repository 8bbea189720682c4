"""The feature transforms of the arbitrary-style network: one image's features moved to a painting's statistics.

- WCT (Li et al. 2017, `whiten_colour`): the features' mean and covariance become the painting's
  (`covariance_roots`, `matrix_roots`: eigendecompositions in float64; `recolour` given both
  sides' statistics);
- AdaIN (Huang & Belongie 2017, `adain`): each channel's mean and standard deviation become the
  painting's (`renormalize` given both sides').

Statistics are float32 whatever the convolutions' precision; region weights restrict the content's
own statistics to a region (`region_maps` gives them at a level's feature size).

Example:
```python
features = tf.random.normal([12, 10, 6])
moved = whiten_colour(features, style_statistics(tf.random.normal([9, 7, 6]), "wct"))
```
"""

import tensorflow as tf

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import ARBITRARY_TRANSFORMS


def flat_features(features):
    """`(C, N)` float32 of one image's `(H, W, C)` features."""
    return tf.transpose(tf.reshape(tf.cast(features, tf.float32), [-1, tf.shape(features)[-1]]))


def covariance_roots(flat, weights=None, epsilon=1e-5):
    """`(mean (C, 1), cov^1/2, cov^-1/2)` of `(C, N)` features, each column weighted by `weights` (N,)."""
    if weights is None:
        weights = tf.ones([tf.shape(flat)[1]], tf.float32)
    total = tf.maximum(tf.reduce_sum(weights), 1.0)
    mean = tf.reduce_sum(flat * weights, axis=1, keepdims=True) / total
    centred = (flat - mean) * tf.sqrt(weights)
    covariance = tf.matmul(centred, centred, transpose_b=True) / tf.maximum(total - 1.0, 1.0)
    return (mean,) + matrix_roots(covariance, epsilon)


def matrix_roots(covariance, epsilon=1e-5):
    """`(cov^1/2, cov^-1/2)` float32 of a `(C, C)` covariance, regularized by `epsilon` times its average variance."""
    # The eigendecomposition in float64 (it costs little at C <= 512): in float32, near-degenerate deep
    # features left a few pixels 5 grey levels apart between kernels.
    covariance = tf.cast(covariance, tf.float64)
    channels = tf.shape(covariance)[0]
    # Relative to the average variance, so a flat painting (all channels near zero) stays finite.
    scale = tf.reduce_mean(tf.linalg.diag_part(covariance)) + 1e-8
    values, vectors = tf.linalg.eigh(covariance + epsilon * scale * tf.eye(channels, dtype=tf.float64))
    values = tf.maximum(values, epsilon * scale)
    root = tf.matmul(vectors * tf.sqrt(values), vectors, transpose_b=True)
    inverse_root = tf.matmul(vectors * tf.math.rsqrt(values), vectors, transpose_b=True)
    return tf.cast(root, tf.float32), tf.cast(inverse_root, tf.float32)


def whiten_colour(content, style_statistics, content_weights=None):
    """WCT: `content` `(H, W, C)` features re-coloured to `style_statistics` = `(mean, root)`.

    `content_weights` `(H*W,)` restricts the content's own statistics to a region.
    """
    flat = flat_features(content)
    mean, _, inverse_root = covariance_roots(flat, content_weights)
    return tf.reshape(tf.transpose(recolour(flat, (mean, inverse_root), style_statistics)), tf.shape(content))


def recolour(flat, content_statistics, style_statistics):
    """WCT of `(C, N)` features given their own `(mean, cov^-1/2)` and the painting's `(mean, cov^1/2)`."""
    mean, inverse_root = content_statistics
    style_mean, style_root = style_statistics
    return tf.matmul(style_root, tf.matmul(inverse_root, flat - mean)) + style_mean


def adain(content, style_statistics, content_weights=None, epsilon=1e-5):
    """AdaIN: each channel of `content` `(H, W, C)` given the style's mean and standard deviation."""
    flat = flat_features(content)
    if content_weights is None:
        content_weights = tf.ones([tf.shape(flat)[1]], tf.float32)
    total = tf.maximum(tf.reduce_sum(content_weights), 1.0)
    mean = tf.reduce_sum(flat * content_weights, axis=1, keepdims=True) / total
    deviation = tf.sqrt(tf.reduce_sum(tf.square(flat - mean) * content_weights, axis=1, keepdims=True) / total
                        + epsilon)
    return tf.reshape(tf.transpose(renormalize(flat, (mean, deviation), style_statistics)), tf.shape(content))


def renormalize(flat, content_statistics, style_statistics):
    """AdaIN of `(C, N)` features given their own `(mean, deviation)` and the painting's, per channel."""
    mean, deviation = content_statistics
    style_mean, style_deviation = style_statistics
    return (flat - mean) / deviation * style_deviation + style_mean


def style_statistics(features, transform):
    """What `transform` needs of one painting's `(H, W, C)` features: `(mean, root)` or `(mean, deviation)`."""
    flat = flat_features(features)
    if transform == "wct":
        mean, root, _ = covariance_roots(flat)
        return mean, root
    mean = tf.reduce_mean(flat, axis=1, keepdims=True)
    return mean, tf.sqrt(tf.reduce_mean(tf.square(flat - mean), axis=1, keepdims=True) + 1e-5)


def transform_features(content, style_statistics_, transform):
    """`transform` (`"wct"` or `"adain"`) of `(H, W, C)` content features to one painting's statistics."""
    if transform == "wct":
        return whiten_colour(content, style_statistics_)
    if transform == "adain":
        return adain(content, style_statistics_)
    raise InvalidArgumentError(f"expected transform one of {', '.join(ARBITRARY_TRANSFORMS)}. Received: {transform!r}")


def region_maps(region_weights, shape):
    """Each `(H, W)` region weight map at a level's feature size `shape` `(h, w)`, as `(h, w, 1)` (area averages)."""
    return [tf.image.resize(tf.convert_to_tensor(weights, tf.float32)[None, ..., None], shape, method="area")[0]
            for weights in region_weights]


def halve(image):
    """`(H/2, W/2, C)`: each 2×2 block of an `(H, W, C)` image (H, W even) averaged (the deep levels' input)."""
    image = tf.convert_to_tensor(image, tf.float32)
    height, width, channels = tf.unstack(tf.shape(image))
    blocks = tf.reshape(image, [height // 2, 2, width // 2, 2, channels])
    return tf.reduce_mean(blocks, axis=[1, 3])


def double(image):
    """`(2H, 2W, C)`: bilinear ×2 of an `(H, W, C)` image, pixel centres aligned, edges repeated
    (`tf.image.resize(..., "bilinear")` at exactly twice the size; written out so the onnxruntime
    path's numpy twin computes the same sums)."""
    image = tf.convert_to_tensor(image, tf.float32)
    for axis in (0, 1):
        before = tf.concat([tf.gather(image, [0], axis=axis), tf.gather(image, tf.range(tf.shape(image)[axis] - 1),
                                                                          axis=axis)], axis)
        after = tf.concat([tf.gather(image, tf.range(1, tf.shape(image)[axis]), axis=axis),
                           tf.gather(image, [tf.shape(image)[axis] - 1], axis=axis)], axis)
        pair = tf.stack([0.75 * image + 0.25 * before, 0.75 * image + 0.25 * after], axis=axis + 1)
        shape = tf.shape(image)
        image = tf.reshape(pair, tf.tensor_scatter_nd_update(shape, [[axis]], [2 * shape[axis]]))
    return image
