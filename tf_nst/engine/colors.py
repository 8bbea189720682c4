"""Colour control (Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer").

- `luminance`: style transfer runs on luminance only (style luminance matched to
  the content's mean and spread); the result's luminance is then recombined with
  the content's chroma.
- `histogram`: the style image's colours are mapped linearly so their mean and
  covariance match the content's, before the run.

All functions take and return `uint8 (height, width, 3)` RGB arrays.
"""

import numpy as np

# BT.601 RGB -> YUV (Y in [0, 255], U and V centred on 0).
_RGB_TO_YUV = np.array([[0.299, 0.587, 0.114],
                        [-0.14713, -0.28886, 0.436],
                        [0.615, -0.51499, -0.10001]], np.float64)
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV)


def rgb_to_yuv(rgb):
    return np.asarray(rgb, np.float64) @ _RGB_TO_YUV.T


def yuv_to_rgb(yuv):
    return np.clip(np.round(yuv @ _YUV_TO_RGB.T), 0, 255).astype(np.uint8)


def luminance(rgb):
    """`float64 (height, width)` luminance in [0, 255]."""
    return rgb_to_yuv(rgb)[..., 0]


def gray_rgb(y):
    """A luminance map as a 3-channel uint8 image (what the backbone sees)."""
    gray = np.clip(np.round(y), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def match_luminance(style_rgb, content_rgb):
    """Style luminance, shifted and scaled to the content luminance's mean and std, as gray RGB."""
    style_y, content_y = luminance(style_rgb), luminance(content_rgb)
    scale = content_y.std() / max(style_y.std(), 1e-6)
    return gray_rgb((style_y - style_y.mean()) * scale + content_y.mean())


def recombine_luminance(stylized_rgb, content_rgb):
    """The stylized image's luminance with the content's chroma."""
    yuv = rgb_to_yuv(content_rgb)
    yuv[..., 0] = luminance(stylized_rgb)
    return yuv_to_rgb(yuv)


def match_histogram(style_rgb, content_rgb):
    """Map the style's colours so their mean and covariance equal the content's."""
    style = np.asarray(style_rgb, np.float64).reshape(-1, 3)
    content = np.asarray(content_rgb, np.float64).reshape(-1, 3)
    style_mean, content_mean = style.mean(0), content.mean(0)
    style_cov = np.cov(style, rowvar=False) + 1e-3 * np.eye(3)
    content_cov = np.cov(content, rowvar=False) + 1e-3 * np.eye(3)
    transform = _sqrtm(content_cov) @ np.linalg.inv(_sqrtm(style_cov))
    matched = (style - style_mean) @ transform.T + content_mean
    return np.clip(np.round(matched), 0, 255).astype(np.uint8).reshape(np.shape(style_rgb))


def apply_colors(stylized, photo, preserve_colors):
    """`preserve_colors` of a feed-forward result: `luminance` or `histogram` against the photo (`none`: as is).

    numpy only: the TensorFlow and onnxruntime paths of a network share it."""
    if preserve_colors == "luminance":
        return recombine_luminance(stylized, photo)
    if preserve_colors == "histogram":
        return match_histogram(stylized, photo)
    return stylized


def _sqrtm(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return vectors @ np.diag(np.sqrt(np.maximum(values, 0))) @ vectors.T
