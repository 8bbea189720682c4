"""Optical flow, the reliability mask, warping, the temporal loss and the warping error.

The video method of Ruder, Dosovitskiy and Brox, "Artistic style transfer for videos"
(2016): frame t starts from the stylized frame t-1 warped by the optical flow, and a
temporal loss keeps it close to that warped frame wherever the flow is reliable.

Conventions (as OpenCV's): a flow `w` from frame `a` to frame `b` is a float32
`(height, width, 2)` array of `(dx, dy)` such that `a[y, x] ≈ b[y + dy, x + dx]`.
`warp(b, w)` samples `b` at `p + w(p)` and so brings `b` into `a`'s pixel grid. The
driver computes the flow from the current frame to the previous one, warps the
previous stylized frame with it, and masks what that flow cannot explain.
"""

import cv2
import keras
import numpy as np
import tensorflow as tf

from tf_nst.engine.losses import LossTerm
from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import FLOW_METHODS, VideoSettings

# Ruder et al.'s thresholds: forward-backward consistency and motion boundaries.
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5
BOUNDARY_RELATIVE = 0.01
BOUNDARY_ABSOLUTE = 0.002
DEFAULT_TEMPORAL_WEIGHT = VideoSettings().temporal_weight  # tf_nst/settings/schema.py


def _check_frame(name, frame):
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InvalidArgumentError(
            f"expected {name} an (height, width, 3) RGB array. Received: {name}.shape={frame.shape}")
    return frame


def _check_flow(name, flow, shape=None):
    flow = np.asarray(flow, np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2 or (shape is not None and flow.shape[:2] != tuple(shape)):
        expected = f"({shape[0]}, {shape[1]}, 2)" if shape is not None else "(height, width, 2)"
        raise InvalidArgumentError(f"expected {name} of shape {expected}. Received: {name}.shape={flow.shape}")
    return flow


def _gray(frame):
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = np.clip(np.round(frame), 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def optical_flow(source, target, method="dis"):
    """Dense optical flow from `source` to `target` (RGB frames of equal size).

    Args:
        source, target: `(height, width, 3)` RGB arrays (uint8, or float in 0-255).
        method: `"dis"` (OpenCV's DIS, medium preset: fast and good on large motion) or
            `"farneback"`.

    Returns:
        float32 `(height, width, 2)`: `source[y, x] ≈ target[y + dy, x + dx]`.

    Example:
    ```python
    flow = optical_flow(frame_a, frame_b)
    approx_a = warp(frame_b, flow)
    ```
    """
    source = _check_frame("source", source)
    target = _check_frame("target", target)
    if source.shape != target.shape:
        raise InvalidArgumentError(
            f"expected frames of equal size. Received: source.shape={source.shape}, target.shape={target.shape}")
    if method not in FLOW_METHODS:
        raise InvalidArgumentError(
            f"expected method one of {', '.join(FLOW_METHODS)}. Received: method={method!r}")
    a, b = _gray(source), _gray(target)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(a, b, None)
    else:
        flow = cv2.calcOpticalFlowFarneback(
            a, b, None, pyr_scale=0.5, levels=4, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
    return np.asarray(flow, np.float32)


def _sample_points(flow):
    height, width = flow.shape[:2]
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    return grid_x + flow[..., 0], grid_y + flow[..., 1]


def warp(image, flow, cubic=False):
    """`image` sampled at `p + flow(p)` (bilinear, or bicubic with `cubic`; edges replicated), as float32.

    With `flow` from frame t to frame t-1, `warp(stylized[t-1], flow)` is frame t-1's
    result moved onto frame t. Bicubic keeps more detail when a frame is warped again and
    again (tf_nst/runs/video_model.py); it can overshoot 0-255 slightly.
    """
    image = np.asarray(image)
    flow = _check_flow("flow", flow, image.shape[:2])
    map_x, map_y = _sample_points(flow)
    return cv2.remap(np.asarray(image, np.float32), map_x, map_y,
                     interpolation=cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliability_mask(flow, reverse_flow):
    """Where `flow` can be trusted: 1.0, else 0.0 (float32 `(height, width)`).

    Ruder et al. (2016): with `w = flow` (frame t -> t-1) and `ŵ = reverse_flow`
    (t-1 -> t) read at `p + w(p)`, a pixel is unreliable when
    - forward and backward flow disagree (disocclusion):
      `|w + ŵ|² > 0.01 (|w|² + |ŵ|²) + 0.5`;
    - it lies on a motion boundary: `|∇u|² + |∇v|² > 0.01 |w|² + 0.002`;
    - `p + w(p)` falls outside the previous frame (content entering the view).
    """
    flow = _check_flow("flow", flow)
    reverse_flow = _check_flow("reverse_flow", reverse_flow, flow.shape[:2])
    height, width = flow.shape[:2]
    back = warp(reverse_flow, flow)
    disagreement = np.sum(np.square(flow + back), axis=-1)
    magnitudes = np.sum(np.square(flow), axis=-1) + np.sum(np.square(back), axis=-1)
    consistent = disagreement <= CONSISTENCY_RELATIVE * magnitudes + CONSISTENCY_ABSOLUTE
    du_y, du_x = np.gradient(flow[..., 0])
    dv_y, dv_x = np.gradient(flow[..., 1])
    gradient = du_x ** 2 + du_y ** 2 + dv_x ** 2 + dv_y ** 2
    smooth = gradient <= BOUNDARY_RELATIVE * np.sum(np.square(flow), axis=-1) + BOUNDARY_ABSOLUTE
    map_x, map_y = _sample_points(flow)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return (consistent & smooth & inside).astype(np.float32)


def previous_frame_flow(previous, current, method="dis"):
    """`(flow, mask)` bringing frame t-1 onto frame t: `warp(x[t-1], flow)`, reliable where `mask` is 1."""
    flow = optical_flow(current, previous, method)
    reverse_flow = optical_flow(previous, current, method)
    return flow, reliability_mask(flow, reverse_flow)


def inside_mask(flow):
    """1.0 where `p + flow(p)` lies inside the frame (the only mask a given flow implies)."""
    flow = _check_flow("flow", flow)
    height, width = flow.shape[:2]
    map_x, map_y = _sample_points(flow)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return inside.astype(np.float32)


def warping_error(frames, content_frames=None, flows=None, masks=None, method="dis", absolute=False):
    """Temporal warping error of a stylized video (Lai et al. 2018), in [0, 1] pixel units.

    The mean over t >= 1 of `Σ M_t ‖V_t − warp(V_{t−1}, w_t)‖² / (3 Σ M_t)`: the masked
    mean squared difference between frame t and frame t-1 warped onto it (channels
    averaged, pixel values divided by 255). With `absolute`, the masked mean absolute
    difference in grey levels (0-255) instead.

    Args:
        frames: the stylized frames, `(height, width, 3)` arrays of one size.
        content_frames: the input frames the flow is measured on (resized to `frames`' size
            if needed); used when `flows` is not given.
        flows: optional known flows, one per frame after the first: `flows[t - 1]` takes
            frame t to frame t-1 (e.g. a generated clip's true flow).
        masks: with `flows`, optional reliability masks (default: only the in-frame test).
        method: flow method for `content_frames`.
        absolute: the mean absolute difference in grey levels rather than the mean squared one.

    Returns:
        float: the mean error (0.0 for fewer than two frames).

    Example:
    ```python
    error = warping_error(stylized_frames, content_frames=video_frames)
    ```
    """
    frames = [np.asarray(frame, np.float32) / 255.0 for frame in frames]
    if len(frames) < 2:
        return 0.0
    shape = frames[0].shape
    if any(frame.shape != shape for frame in frames):
        raise InvalidArgumentError(
            f"expected frames of one size. Received: shapes {sorted({frame.shape for frame in frames})}")
    if flows is None:
        if content_frames is None or len(content_frames) != len(frames):
            raise InvalidArgumentError(
                "expected content_frames (one per frame) or flows. "
                f"Received: {0 if content_frames is None else len(content_frames)} content frames "
                f"for {len(frames)} frames")
        from tf_nst.io.images import resize

        content = [resize(np.asarray(frame, np.uint8), (shape[1], shape[0])) for frame in content_frames]
        pairs = [previous_frame_flow(content[t - 1], content[t], method) for t in range(1, len(frames))]
        flows, masks = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
    else:
        if len(flows) != len(frames) - 1 or (masks is not None and len(masks) != len(flows)):
            raise InvalidArgumentError(
                f"expected one flow (and mask) per frame after the first ({len(frames) - 1}). "
                f"Received: {len(flows)} flows, {None if masks is None else len(masks)} masks")
        if masks is None:
            masks = [inside_mask(flow) for flow in flows]
    errors = []
    for t in range(1, len(frames)):
        mask = np.asarray(masks[t - 1], np.float32)
        warped = warp(frames[t - 1], flows[t - 1])
        difference = frames[t] - warped
        per_pixel = 255.0 * np.mean(np.abs(difference), axis=-1) if absolute else np.mean(np.square(difference), -1)
        errors.append(float(np.sum(mask * per_pixel) / max(float(np.sum(mask)), 1.0)))
    return float(np.mean(errors))


@keras.saving.register_keras_serializable(package="tf_nst")
class TemporalLoss(LossTerm):
    """Keeps each video frame close to the previous stylized frame warped onto it.

    `weight × mean over pixels and channels of mask · (x − warped_previous)²`, with
    pixel values in [0, 1] (divided by 255) and the mean taken over all `H·W·3` values,
    unreliable pixels counting as zero: Ruder et al.'s `1/D Σ c (x − ω)²`. The term
    reads only the image. The warped previous frame and the mask live in `tf.Variable`s
    of unknown shape, so the stylizer's loss, traced once for any image size, follows
    new frames without retracing; `stylize_video` assigns them before each frame. Until
    `set_previous` is called (and after `reset`), the mask is zero and so is the term:
    the first frame runs the plain objective.

    Args:
        weight: multiplier of the term (default: `VideoSettings.temporal_weight`; benchmarks/video.py).
        layer_names: must be empty (the term reads no features).

    Example:
    ```python
    temporal = TemporalLoss(weight=100.0)
    stylizer = Stylizer(backbone="vgg16-hed", size=256, extra_loss_terms=[temporal])
    temporal.set_previous(warped_previous_frame, mask)
    result = stylizer.stylize(frame, ["starry_night.jpg"], init=warped_previous_frame, num_steps=50)
    ```
    """

    def __init__(self, weight=DEFAULT_TEMPORAL_WEIGHT, layer_names=()):
        if list(layer_names):
            raise InvalidArgumentError(
                f"expected no layer_names: TemporalLoss reads only the image. Received: layer_names={layer_names!r}")
        if not (isinstance(weight, (int, float)) and np.isfinite(weight) and weight >= 0):
            raise InvalidArgumentError(f"expected weight a finite number >= 0. Received: weight={weight!r}")
        super().__init__(weight=weight, layer_names=())
        self.previous = tf.Variable(tf.zeros([1, 1, 1, 3]), shape=tf.TensorShape(None), trainable=False,
                                    name="temporal_previous")
        self.mask = tf.Variable(tf.zeros([1, 1, 1, 1]), shape=tf.TensorShape(None), trainable=False,
                                name="temporal_mask")

    def set_previous(self, warped_previous, mask):
        """Use `warped_previous` (`(H, W, 3)`, 0-255) where `mask` (`(H, W)`, 0..1) is set."""
        warped_previous = _check_frame("warped_previous", warped_previous)
        mask = np.asarray(mask, np.float32)
        if mask.shape != warped_previous.shape[:2]:
            raise InvalidArgumentError(
                f"expected mask of shape {warped_previous.shape[:2]}. Received: mask.shape={mask.shape}")
        self.previous.assign(np.asarray(warped_previous, np.float32)[None])
        self.mask.assign(mask[None, :, :, None])

    def reset(self):
        """No previous frame: the term is zero for an image of any size."""
        self.previous.assign(tf.zeros([1, 1, 1, 3]))
        self.mask.assign(tf.zeros([1, 1, 1, 1]))

    def call(self, image, features):
        difference = (tf.cast(image, tf.float32) - self.previous) / 255.0
        return tf.reduce_mean(self.mask * tf.square(difference))
