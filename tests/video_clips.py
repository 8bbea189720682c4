"""Generated test clips whose true optical flow is known.

A square crop window moves and zooms across a real photo (the bundled astronaut), and
an opaque textured square slides across the view on its own path, hiding and revealing
the background. Every frame is an affine resampling of the photo, so the flow from
each frame to the previous one is exact, and so is the mask of what that flow
cannot explain (background the occluder uncovered, content entering the view).
"""

import dataclasses
import os

import cv2
import numpy as np

from tf_nst.io.images import load_image

PHOTO_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "tf_nst", "assets", "astronaut.png")


@dataclasses.dataclass
class Clip:
    """A generated clip.

    Args:
        frames: `uint8 (size, size, 3)` frames.
        flows: `flows[t - 1]` takes frame t to frame t-1 (float32 `(size, size, 2)`, dx, dy).
        masks: `masks[t - 1]`: 1.0 where `flows[t - 1]` is valid, 0.0 where frame t shows
            what frame t-1 did not (disocclusion, content entering the view).
        occluder_masks: 1.0 on the occluding square, one per frame.
        fps: frame rate.
    """

    frames: list
    flows: list
    masks: list
    occluder_masks: list
    fps: float = 12.0


def _occluder_texture(side):
    """A high-contrast checkerboard with a colour ramp: easy to track, unlike the photo."""
    y, x = np.mgrid[0:side, 0:side]
    checks = ((x // max(2, side // 6) + y // max(2, side // 6)) % 2).astype(np.float32)
    texture = np.stack([230 * checks + 20, 60 + 150 * x / side, 200 - 150 * checks * y / side], axis=-1)
    return np.clip(texture, 0, 255).astype(np.float32)


def make_clip(size=96, num_frames=8, pan=(2.5, 1.5), zoom=0.97, occluder=True, occluder_speed=(4.0, -1.5),
              fps=12.0):
    """A `Clip` of `num_frames` frames of `size × size` pixels.

    Args:
        size: side of the frames.
        num_frames: frame count.
        pan: motion of the window per frame, in output pixels (dx, dy).
        zoom: window side ratio per frame (< 1 zooms in).
        occluder: add the sliding square.
        occluder_speed: its motion per frame in output pixels (dx, dy).
        fps: the clip's frame rate.
    """
    photo = load_image(PHOTO_PATH).rgb
    # Downscale the photo so the window is ~1.3x the output: bilinear sampling then barely aliases.
    window0 = 0.6 * photo.shape[0]
    scale = 1.3 * size / window0
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA).astype(np.float32)
    window0 *= scale
    center = np.array([photo.shape[1] * 0.45, photo.shape[0] * 0.4])
    # Frame t maps output pixel p to the photo point origin_t + a_t * p.
    params = []
    for t in range(num_frames):
        a = window0 / size * zoom ** t
        window_center = center + a * np.array(pan, np.float64) * t
        origin = window_center - a * (size - 1) / 2.0
        params.append((a, origin))
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float64)
    side = size // 4
    texture = _occluder_texture(side)
    start = np.array([size * 0.15, size * 0.55])
    frames, flows, masks, occluder_masks = [], [], [], []
    for t, (a, origin) in enumerate(params):
        map_x = (origin[0] + a * grid_x).astype(np.float32)
        map_y = (origin[1] + a * grid_y).astype(np.float32)
        frame = cv2.remap(photo, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        covered = np.zeros((size, size), np.float32)
        if occluder:
            x0, y0 = start + np.array(occluder_speed) * t
            # Sub-pixel placement by an affine warp, so the square's true motion is exact.
            affine = np.float32([[1, 0, x0], [0, 1, y0]])
            layer = cv2.warpAffine(texture, affine, (size, size), flags=cv2.INTER_LINEAR)
            covered = cv2.warpAffine(np.ones((side, side), np.float32), affine, (size, size),
                                     flags=cv2.INTER_LINEAR)
            frame = frame * (1 - covered[..., None]) + layer
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
        occluder_masks.append((covered > 0.5).astype(np.float32))
        if t == 0:
            continue
        a_prev, origin_prev = params[t - 1]
        # Background: the photo point of p in frame t, seen in frame t-1.
        prev_x = (origin[0] + a * grid_x - origin_prev[0]) / a_prev
        prev_y = (origin[1] + a * grid_y - origin_prev[1]) / a_prev
        flow = np.stack([prev_x - grid_x, prev_y - grid_y], axis=-1)
        valid = (prev_x >= 0) & (prev_x <= size - 1) & (prev_y >= 0) & (prev_y <= size - 1)
        if occluder:
            on_square = covered > 0.5
            flow[on_square] = -np.array(occluder_speed)
            # Background now visible whose point in frame t-1 was under the square: disoccluded.
            before = cv2.remap(occluder_masks[t - 1], prev_x.astype(np.float32), prev_y.astype(np.float32),
                               cv2.INTER_LINEAR)
            # The square's soft edge is neither background nor square.
            edge = (covered > 0.01) & (covered < 0.99)
            valid &= on_square | (before < 0.01)
            valid &= ~edge
        flows.append(flow.astype(np.float32))
        masks.append(valid.astype(np.float32))
    return Clip(frames=frames, flows=flows, masks=masks, occluder_masks=occluder_masks, fps=fps)


def leftovers(directory):
    """Temporary files or work folders left beside the outputs (an atomic write leaves none)."""
    return [name for name in os.listdir(directory) if name.startswith(".tmp-") or name.endswith(".work")]
