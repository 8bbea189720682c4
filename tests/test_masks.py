"""Region masks: reading, checks, fitting to a scale and carrying to each layer's grid."""

import numpy as np
import pytest
import tensorflow as tf

from tf_nst.engine.feedforward.rendering import feathered
from tf_nst.engine.masks import (feather_masks, feather_masks_array, feathered_array, fit_masks, fit_masks_array,
                                 layer_masks, load_mask, prepare_masks)
from tf_nst.errors import ImageError, InvalidArgumentError
from tf_nst.io.images import save_png


def test_layer_masks_average_each_pooling_cell():
    rng = np.random.default_rng(0)
    mask = rng.uniform(size=(1, 37, 50, 2)).astype("float32")
    carried = layer_masks(tf.constant(mask), {"a": 1, "b": 4, "c": 16})
    np.testing.assert_array_equal(carried["a"], mask)
    assert carried["b"].shape == (1, 9, 12, 2) and carried["c"].shape == (1, 2, 3, 2)  # floor, like VGG pooling
    expected = mask[:, :36, :48].reshape(1, 9, 4, 12, 4, 2).mean(axis=(2, 4))
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(carried["b"], expected, rtol=1e-5)


def test_erosion_keeps_only_positions_far_from_the_boundary():
    mask = np.zeros((1, 64, 64, 1), np.float32)
    mask[:, :, :32] = 1.0
    plain = layer_masks(tf.constant(mask), {"a": 1})["a"].numpy()[0, :, :, 0]
    eroded = layer_masks(tf.constant(mask), {"a": 1}, {"a": 10})["a"].numpy()[0, :, :, 0]
    assert plain[:, :32].min() == 1.0
    assert eroded[:, :22].min() == 1.0 and eroded[:, 22:].max() == 0.0
    assert eroded[0, 0] == 1.0  # the image border is not a region boundary
    # Eroded by 30 px, 2 of 32 columns would be left: the layer keeps the plain mask.
    np.testing.assert_array_equal(layer_masks(tf.constant(mask), {"a": 1}, {"a": 30})["a"].numpy()[0, :, :, 0],
                                  plain)


def test_two_regions_meet_and_erode_only_from_the_photo():
    # Columns 0-23: style 0; 24-47: style 1 (a soft 8 px ramp between them); 48-63: the photo.
    masks = np.zeros((1, 64, 64, 2), np.float32)
    ramp = np.linspace(1.0, 0.0, 8, dtype=np.float32)
    masks[..., :20, 0], masks[..., 20:28, 0] = 1.0, ramp
    masks[..., 20:28, 1], masks[..., 28:48, 1] = 1.0 - ramp, 1.0
    eroded = layer_masks(tf.constant(masks), {"a": 1}, {"a": 10})["a"].numpy()[0]
    # Where the styles meet, each keeps its plain mask: no band where neither is matched.
    np.testing.assert_array_equal(eroded[:, :38], masks[0, :, :38])
    # Towards the photo, style 1 is eroded by the radius, as one region over both would be.
    assert eroded[:, 38:].max() == 0.0
    both = layer_masks(tf.constant(masks.sum(-1, keepdims=True)), {"a": 1}, {"a": 10})["a"].numpy()[0, :, :, 0]
    np.testing.assert_array_equal(eroded[:, 28:, 1], both[:, 28:])


def test_load_mask_conventions(tmp_path):
    grey = np.array([[0, 255], [51, 102]], np.uint8)
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(load_mask(grey), grey / 255.0, rtol=1e-6)
    np.testing.assert_allclose(load_mask(np.repeat(grey[..., None], 3, axis=2)), grey / 255.0, atol=1e-6)
    np.testing.assert_allclose(load_mask(grey[..., None] / 255.0), grey / 255.0, rtol=1e-6)
    path = tmp_path / "mask.png"
    save_png(str(path), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_allclose(load_mask(str(path)), grey / 255.0, atol=1e-6)
    with pytest.raises(InvalidArgumentError, match=r"expected mask values in \[0, 1\]"):
        load_mask(np.full((4, 4), 2.0))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ImageError):
        load_mask(str(tmp_path / "junk.png"))


def test_prepare_masks_errors_and_notes():
    content, styles = (100, 200, 3), [(50, 50, 3), (60, 80, 3)]
    white, black = np.ones((100, 200), np.float32), np.zeros((100, 200), np.float32)
    with pytest.raises(InvalidArgumentError, match=r"expected one entry of masks per style \(2\). Received: 1"):
        prepare_masks([white], None, content, styles)
    with pytest.raises(InvalidArgumentError, match="expected masks with a region somewhere"):
        prepare_masks([black, black], None, content, styles)
    with pytest.raises(InvalidArgumentError, match=r"expected masks\[1\] with the aspect ratio of its image"):
        prepare_masks([white, np.ones((100, 150), np.float32)], None, content, styles)
    masks, style_image_masks, notes = prepare_masks([white, np.ones((100, 201), np.float32)], [None, None], content,
                                              styles)
    assert style_image_masks is None and len(masks) == 2
    assert notes == ["masks[1]: 201x100 resized to its image's 200x100"]
    _, _, notes = prepare_masks([white, black], None, content, styles)
    assert notes == ["masks[1] is black everywhere: style 1 is not used"]
    with pytest.raises(InvalidArgumentError, match=r"expected style_image_masks\[0\] with a region"):
        prepare_masks(None, [np.zeros((50, 50)), None], content, styles)


def test_fit_masks_resizes_and_keeps_a_fitting_mask():
    mask = np.random.default_rng(1).uniform(size=(30, 40)).astype("float32")
    same = fit_masks([mask], 30, 40).numpy()
    np.testing.assert_array_equal(same[0, :, :, 0], mask)
    smaller = fit_masks([mask, 1.0 - mask], 15, 20).numpy()
    assert smaller.shape == (1, 15, 20, 2) and 0.0 <= smaller.min() and smaller.max() <= 1.0
    # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
    np.testing.assert_allclose(smaller.sum(-1), 1.0, atol=1e-5)


# The numpy twins (the onnxruntime path's) against TensorFlow's: both float32 with the same taps; they
# differ only in how the sums are ordered and fused (numpy's einsum against oneDNN's depthwise kernels,
# which block them by the CPU's vector width: AVX2, AVX-512; AMX serves bf16 and int8, not float32).
# A sum of at most ~100 products of weights summing to 1 errs by about 100 eps = 6e-6: compared at 2e-5.
MASK_ATOL = 2e-5


@pytest.mark.parametrize("mask_shape, height, width", [
    ((48, 64), 48, 64),     # at the size: feathered only
    ((24, 32), 75, 100),    # enlarged
    ((300, 400), 48, 64),   # shrunk (the kernel widens)
    ((97, 61), 130, 82),    # odd sizes, slightly different ratio
])
def test_feather_masks_array_equals_feather_masks(mask_shape, height, width):
    rng = np.random.default_rng(0)
    hard = np.zeros(mask_shape, np.float32)
    hard[:, : mask_shape[1] // 3] = 1.0
    masks = [hard, 1.0 - hard, rng.uniform(0, 1, mask_shape).astype(np.float32)]
    stack = tf.constant(np.stack(masks, -1)[None])
    expected = np.moveaxis(feather_masks(stack, height, width).numpy()[0], -1, 0)
    found = feather_masks_array(masks, height, width)
    assert found.shape == expected.shape == (3, height, width) and found.dtype == np.float32
    np.testing.assert_allclose(found, expected, atol=MASK_ATOL, rtol=0)
    fitted = fit_masks_array(masks, height, width)
    np.testing.assert_allclose(fitted, fit_masks(masks, height, width).numpy()[0], atol=MASK_ATOL, rtol=0)


def test_a_flat_mask_is_fitted_not_blurred():
    white = np.ones((20, 30), np.float32)
    assert np.array_equal(feather_masks_array([white], 40, 60), np.ones((1, 40, 60), np.float32))


def test_feathered_array_equals_feathered():
    """Each mask fitted, made grey uint8 and feathered alone (the export's way). The uint8 step can round a
    value within float32 rounding of a half grey level the other way: one grey level (1/255) before the blur
    at most, at a few pixels; everything else within `MASK_ATOL`."""
    rng = np.random.default_rng(1)
    hard = np.zeros((90, 120), np.float32)
    hard[20:70, 30:80] = 1.0
    masks = [hard, rng.uniform(0, 1, (90, 120)).astype(np.float32), np.ones((90, 120), np.float32)]
    for height, width in ((90, 120), (60, 80), (150, 200)):
        expected = np.stack(feathered(masks, (height, width, 3)))
        found = feathered_array(masks, height, width)
        assert found.shape == expected.shape == (3, height, width)
        difference = np.abs(found - expected)
        assert difference.max() <= 1 / 255 and np.mean(difference > MASK_ATOL) < 1e-3
