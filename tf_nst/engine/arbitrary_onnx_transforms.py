"""The arbitrary-style network's feature transforms in numpy, for the TensorFlow-free runtime
(`tf_nst.engine.arbitrary_onnx`): WCT and AdaIN as `tf_nst.engine.feedforward.arbitrary` computes them,
the eigendecomposition in float64 on one BLAS thread. Features are flat `(C, N)` float32 (the NCHW
layout's own order)."""

import contextlib
import ctypes
import functools
import os

import numpy as np

from tf_nst.engine.array_resize import area_matrix
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
