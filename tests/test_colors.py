import numpy as np
import pytest

from conftest import gradient_image
from tf_nst import Stylizer
from tf_nst.engine.colors import match_histogram, recombine_luminance, rgb_to_yuv
from tf_nst.errors import InvalidArgumentError


def chroma(rgb):
    return rgb_to_yuv(rgb)[..., 1:]


def test_recombine_keeps_content_chroma_and_stylized_luminance():
    # Moderately saturated colours, so that the recombination stays inside the RGB gamut.
    content = (0.4 * gradient_image(32, 32, seed=1) + 0.6 * 128).astype(np.uint8)
    stylized = (0.4 * gradient_image(32, 32, seed=9)[::-1] + 0.6 * 128).astype(np.uint8)
    combined = recombine_luminance(stylized, content)
    assert np.abs(chroma(combined) - chroma(content)).mean() < 2.0
    assert np.abs(rgb_to_yuv(combined)[..., 0] - rgb_to_yuv(stylized)[..., 0]).mean() < 2.0


def test_histogram_matching_matches_mean_and_covariance():
    rng = np.random.default_rng(0)
    style = rng.integers(0, 120, (40, 40, 3)).astype(np.uint8)
    content = gradient_image(48, 48)
    matched = match_histogram(style, content).reshape(-1, 3).astype(float)
    target = content.reshape(-1, 3).astype(float)
    # tolerance T4 (see conftest.py): equal only approximately by design (histogram matching of 8-bit images: moments to a few grey levels).
    np.testing.assert_allclose(matched.mean(0), target.mean(0), atol=3.0)
    np.testing.assert_allclose(np.cov(matched, rowvar=False), np.cov(target, rowvar=False), rtol=0.1, atol=40)


def test_luminance_mode_output_chroma_follows_content(small_content):
    # A saturated style whose colours are far from the content's.
    style = np.zeros((48, 48, 3), np.uint8)
    style[::4, :, 0] = 255
    style[:, ::3, 2] = 255
    settings = dict(backbone="vgg16-hed", size=64, num_steps=15)
    plain = Stylizer(**settings).stylize(small_content, style).image
    kept = Stylizer(preserve_colors="luminance", **settings).stylize(small_content, style).image
    plain_error = np.abs(chroma(plain) - chroma(small_content)).mean()
    kept_error = np.abs(chroma(kept) - chroma(small_content)).mean()
    assert kept_error < 2.0
    assert plain_error > 5 * kept_error
    # The luminance did change: it is stylized, not a copy.
    assert np.abs(rgb_to_yuv(kept)[..., 0] - rgb_to_yuv(small_content)[..., 0]).mean() > 3.0


def test_histogram_mode_gives_the_output_the_content_colours(small_content):
    # A blue style far from the content's colours; from a random start the output's colours come
    # from the style's statistics, so with histogram matching they move to the content's.
    rng = np.random.default_rng(3)
    style = np.stack([rng.integers(0, 40, (48, 48)), rng.integers(0, 60, (48, 48)),
                      rng.integers(180, 256, (48, 48))], axis=-1).astype(np.uint8)
    settings = dict(backbone="vgg16-hed", size=64, num_steps=30, init="random", content_weight=0.0)
    plain = Stylizer(**settings).stylize(small_content, style).image
    matched = Stylizer(preserve_colors="histogram", **settings).stylize(small_content, style).image
    target = small_content.reshape(-1, 3).mean(0)
    plain_error = np.abs(plain.reshape(-1, 3).mean(0) - target).mean()
    matched_error = np.abs(matched.reshape(-1, 3).mean(0) - target).mean()
    assert matched.shape == small_content.shape
    assert matched_error < 0.5 * plain_error


def test_unknown_mode():
    with pytest.raises(InvalidArgumentError, match="expected preserve_colors one of none, luminance, histogram"):
        Stylizer(backbone="vgg16-hed", size=64, preserve_colors="sepia")
