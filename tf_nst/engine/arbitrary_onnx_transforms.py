"""The arbitrary-style network's feature transforms in numpy, for the TensorFlow-free runtime
(`tf_nst.engine.arbitrary_onnx`): WCT and AdaIN as `tf_nst.engine.feedforward.arbitrary` computes them,
the eigendecomposition in float64 on one BLAS thread. Features are flat `(C, N)` float32 (the NCHW
layout's own order)."""

import contextlib
import ctypes
import functools
import os

import numpy as np

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import ARBITRARY_TRANSFORMS as TRANSFORMS


@functools.lru_cache(maxsize=1)
def _openblas_threads():
    """`(get, set)` of the OpenBLAS that numpy loaded (Linux), or `None` where it cannot be found."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in os.path.basename(line.split()[-1]).lower()}
    except OSError:
        return None
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
                set_ = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    return get, set_
    return None


@contextlib.contextmanager
def _one_blas_thread():
    """numpy's BLAS on one thread for the `(C, C)` algebra: multi-threaded eigh of 512 x 512 took 1.1 s
    instead of 0.05 s on a loaded 2-core CPU, and its waiting threads slowed the next graphs by 2x."""
    found = _openblas_threads()
    if found is None:
        yield
        return
    get, set_ = found
    before = get()
    set_(1)
    try:
        yield
    finally:
        set_(before)


def covariance_roots(flat, weights=None, epsilon=1e-5):
    """`(mean (C, 1), cov^1/2, cov^-1/2)` of `(C, N)` features, each column weighted by `weights` (N,)."""
    if weights is None:
        weights = np.ones(flat.shape[1], np.float32)
    total = np.float32(max(weights.sum(dtype=np.float32), 1.0))
    mean = (flat @ weights)[:, None] / total
    centred = (flat - mean) * np.sqrt(weights)
    covariance = (centred @ centred.T) / np.float32(max(total - 1.0, 1.0))
    return (mean,) + roots(covariance, epsilon)


@_one_blas_thread()
def roots(covariance, epsilon=1e-5):
    """`(cov^1/2, cov^-1/2)` of a `(C, C)` covariance, its eigenvalues kept above `epsilon` × their mean."""
    # Relative to the average variance, so a flat painting (all channels near zero) stays finite.
    scale = np.mean(np.diag(covariance), dtype=np.float32) + np.float32(1e-8)
    # The decomposition in float64 (as fast as float32 at C <= 512): the inverse root divides by the
    # smallest eigenvalues, and a float32 solver adds its own error to theirs.
    values, vectors = np.linalg.eigh(covariance.astype(np.float64) + epsilon * scale * np.eye(len(covariance)))
    values = np.maximum(values, epsilon * scale)
    root = (vectors * np.sqrt(values)) @ vectors.T
    inverse_root = (vectors / np.sqrt(values)) @ vectors.T
    return root.astype(np.float32), inverse_root.astype(np.float32)


def moments_statistics(mean, scatter, count, transform):
    """What `transform` needs of a painting from its features' moments: `(mean, root)` or `(mean, deviation)`.

    `scatter` is `(C, C)` sum of the centred features' outer products over `count` positions.
    """
    if transform == "wct":
        return mean, roots(scatter / np.float32(max(count - 1, 1)))[0]
    return mean, np.sqrt(np.diag(scatter)[:, None] / np.float32(max(count, 1)) + np.float32(1e-5))


@_one_blas_thread()
def mixing_affine(mean, scatter, count, statistics, blend, strength, transform, epsilon=1e-5):
    """`(matrix (C, C), offset (C, 1))` float32 with `mixed = matrix @ flat + offset`, for the whole image.

    The blended transforms and the strength are affine in the features, so one product applies them:
    `strength * sum(blend_i * transform_i(flat)) + (1 - strength) * flat`.
    """
    matrix, offset = (1.0 - strength) * np.eye(len(mean)), np.zeros((len(mean), 1))
    if transform == "wct":
        inverse_root = roots(scatter / np.float32(max(count - 1, 1)), epsilon)[1].astype(np.float64)
        maps = [(style_root.astype(np.float64) @ inverse_root, style_mean) for style_mean, style_root in statistics]
    else:
        deviation = np.sqrt(np.diag(scatter).astype(np.float64)[:, None] / max(count, 1) + epsilon)
        maps = [(np.diag((style_deviation / deviation)[:, 0]), style_mean) for style_mean, style_deviation in statistics]
    for weight, (linear, style_mean) in zip(blend, maps):
        if weight > 0:
            matrix += strength * weight * linear
            offset += strength * weight * (style_mean - linear @ mean)
    return matrix.astype(np.float32), offset.astype(np.float32)


def whiten_colour(flat, style_statistics_, content_weights=None):
    """WCT: `(C, N)` content features re-coloured to `style_statistics_` = `(mean, root)`."""
    mean, _, inverse_root = covariance_roots(flat, content_weights)
    style_mean, style_root = style_statistics_
    # One (C, C) matrix instead of two (C, C) x (C, N) products: half the work at level 1.
    return (style_root @ inverse_root) @ (flat - mean) + style_mean


def adain(flat, style_statistics_, content_weights=None, epsilon=1e-5):
    """AdaIN: each channel of `(C, N)` content features given the style's mean and standard deviation."""
    if content_weights is None:
        content_weights = np.ones(flat.shape[1], np.float32)
    total = np.float32(max(content_weights.sum(dtype=np.float32), 1.0))
    mean = (flat * content_weights).sum(axis=1, keepdims=True, dtype=np.float32) / total
    deviation = np.sqrt(((flat - mean) ** 2 * content_weights).sum(axis=1, keepdims=True, dtype=np.float32) / total
                        + np.float32(epsilon))
    style_mean, style_deviation = style_statistics_
    return (flat - mean) / deviation * style_deviation + style_mean


def style_statistics(flat, transform):
    """What `transform` needs of one painting's `(C, N)` features: `(mean, root)` or `(mean, deviation)`."""
    if transform == "wct":
        mean, root, _ = covariance_roots(flat)
        return mean, root
    mean = flat.mean(axis=1, keepdims=True, dtype=np.float32)
    return mean, np.sqrt(((flat - mean) ** 2).mean(axis=1, keepdims=True, dtype=np.float32) + np.float32(1e-5))


def transform_features(flat, style_statistics_, transform, content_weights=None):
    """`transform` (`"wct"` or `"adain"`) of `(C, N)` content features to one painting's statistics."""
    if transform == "wct":
        return whiten_colour(flat, style_statistics_, content_weights)
    if transform == "adain":
        return adain(flat, style_statistics_, content_weights)
    raise InvalidArgumentError(f"expected transform one of {', '.join(TRANSFORMS)}. Received: {transform!r}")


def area_matrix(source, target):
    """`(target, source)` weights of TensorFlow's area resize along one axis (`tf.image.resize(method="area")`)."""
    scale = source / target
    matrix = np.zeros((target, source), np.float64)
    for index in range(target):
        start, end = index * scale, (index + 1) * scale
        for cell in range(int(np.floor(start)), int(np.ceil(end))):
            matrix[index, min(cell, source - 1)] += (min(cell + 1, end) - max(cell, start)) / scale
    return matrix


def area_resize(weights, shape):
    """A `(H, W)` weight map area-resized to `shape` `(h, w)`, float32."""
    weights = np.asarray(weights, np.float64)
    rows, columns = area_matrix(weights.shape[0], shape[0]), area_matrix(weights.shape[1], shape[1])
    return (rows @ weights @ columns.T).astype(np.float32)


def target_features(flat, shape, statistics, blend, transform, region_weights=None):
    """The transformed `(C, N)` features of one level: blended everywhere, or one painting per region."""
    if region_weights is None:
        parts = [np.float32(weight) * transform_features(flat, stats, transform)
                 for weight, stats in zip(blend, statistics) if weight > 0]
        return sum(parts[1:], parts[0])
    maps = [area_resize(weights, shape).reshape(-1) for weights in region_weights]
    # Where the regions cover less than the whole pixel, the photo's own features remain.
    target = (1.0 - np.minimum(sum(maps[1:], maps[0]), 1.0)) * flat
    for weights, stats in zip(maps, statistics):
        target = target + weights * transform_features(flat, stats, transform, weights)
    return target


def halve(image):
    """`(H/2, W/2, ...)`: each 2×2 block of an image with even `H`, `W` averaged (`arbitrary_transforms.halve`)."""
    image = np.asarray(image, np.float32)
    height, width = image.shape[:2]
    return image.reshape((height // 2, 2, width // 2, 2) + image.shape[2:]).mean(axis=(1, 3), dtype=np.float32)


def double(image):
    """`(2H, 2W, ...)`: bilinear ×2, pixel centres aligned, edges repeated (`arbitrary_transforms.double`)."""
    image = np.asarray(image, np.float32)
    for axis in (0, 1):
        count = image.shape[axis]
        before = np.take(image, np.r_[0, 0:count - 1], axis=axis)
        after = np.take(image, np.r_[1:count, count - 1], axis=axis)
        pair = np.stack([np.float32(0.75) * image + np.float32(0.25) * before,
                         np.float32(0.75) * image + np.float32(0.25) * after], axis=axis + 1)
        shape = list(image.shape)
        shape[axis] *= 2
        image = pair.reshape(shape)
    return image


def _keys_cubic(distance):
    """Keys' cubic kernel (a = -0.5) at `distance` >= 0, float32: TensorFlow's bicubic coefficients."""
    a, x = np.float32(-0.5), np.asarray(distance, np.float32)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, far).astype(np.float32)


def bicubic_matrix(source, target):
    """`(target, source)` float32 weights of TensorFlow's bicubic resize along one axis (`tf.image.resize(method=
    "bicubic")`: half-pixel centres, Keys' cubic from a table of 1024 steps, taps outside the image dropped
    and the others renormalized)."""
    table = 1024
    scale = np.float32(source) / np.float32(target)
    position = (np.arange(target, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    start = np.floor(position).astype(np.int64)
    step = np.rint((position - start.astype(np.float32)) * np.float32(table)).astype(np.int64)
    fraction = step.astype(np.float32) / np.float32(table)
    matrix = np.zeros((target, source), np.float32)
    rows = np.arange(target)
    taps = [(start - 1, np.float32(1) + fraction), (start, fraction), (start + 1, np.float32(1) - fraction),
            (start + 2, np.float32(2) - fraction)]
    weights = [np.where((index >= 0) & (index < source), _keys_cubic(distance), np.float32(0))
               for index, distance in taps]
    total = np.sum(weights, axis=0, dtype=np.float32)
    for (index, _), weight in zip(taps, weights):
        np.add.at(matrix, (rows, np.clip(index, 0, source - 1)), weight / total)
    return matrix


def _taps(matrix):
    """`(indices, weights)` `(target, K)` of a `(target, source)` resize matrix's non-zero weights per row (K the
    most in a row; rows with fewer padded with weight 0)."""
    counts = (matrix != 0).sum(1)
    width = max(1, int(counts.max()))
    order = np.argsort(matrix == 0, axis=1, kind="stable")[:, :width]
    return order, np.take_along_axis(matrix, order, axis=1).astype(np.float32)


def _resize_axis(image, matrix, axis):
    """`matrix` `(target, source)` applied along `axis` of `image`, as sums over each row's few taps (a dense
    product would cost source × target per line)."""
    indices, weights = _taps(matrix)
    shape = [1] * image.ndim
    shape[axis] = weights.shape[0]
    out = np.zeros(image.shape[:axis] + (weights.shape[0],) + image.shape[axis + 1:], np.float32)
    for tap in range(weights.shape[1]):
        out += weights[:, tap].reshape(shape) * np.take(image, indices[:, tap], axis=axis)
    return out


def resize_image(image, shape, method):
    """`(H, W, C)` float32 resized to `shape` `(h, w)` by TensorFlow's `"area"` or `"bicubic"` resize
    (`area_matrix`, `bicubic_matrix`): rows, then columns."""
    image = np.asarray(image, np.float32)
    matrix = {"area": lambda source, target: area_matrix(source, target).astype(np.float32),
              "bicubic": bicubic_matrix}[method]
    rows = _resize_axis(image, matrix(image.shape[0], shape[0]), 0)
    return _resize_axis(rows, matrix(image.shape[1], shape[1]), 1)


def stroke_shape(height, width, stroke_size, min_side):
    """`tf_nst.engine.feedforward.rendering.stroke_shape` without TensorFlow: `(h, w)` with the longest side
    `stroke_size` (each side at least `min_side` or its own, whichever is less), float32 as there."""
    scale = np.float32(stroke_size) / np.float32(max(height, width))

    def side(length):
        return int(max(np.round(np.float32(length) * scale), min(np.float32(length), np.float32(min_side))))

    return side(height), side(width)


def stroke_fitted(image, stroke_size, min_side):
    """`rendering.stroke_fitted` without TensorFlow: an `(H, W, C)` image area-scaled to `stroke_size` when
    its longest side is over it, else as it is (float32)."""
    image = np.asarray(image, np.float32)
    if not stroke_size or max(image.shape[:2]) <= stroke_size:
        return image
    return resize_image(image, stroke_shape(*image.shape[:2], stroke_size, min_side), "area")


def stroke_scaled(render, photo, stroke_size, min_side):
    """`rendering.stroke_scaled` without TensorFlow, on an `(H, W, 3)` photo: `render(small)` of the photo
    scaled down to `stroke_size`, scaled up (bicubic) with the photo's finer detail added back; a photo not
    over `stroke_size` (or `stroke_size` 0) rendered as it is."""
    photo = np.asarray(photo, np.float32)
    if not stroke_size or max(photo.shape[:2]) <= stroke_size:
        return render(photo)
    small = stroke_fitted(photo, stroke_size, min_side)
    detail = photo - resize_image(small, photo.shape[:2], "bicubic")
    return resize_image(render(small), photo.shape[:2], "bicubic") + detail
