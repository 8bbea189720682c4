"""The coarse-to-fine schedule: which sizes, how many evaluations each, and how a result moves up.

Like pystiche's `ImagePyramid(edge_sizes, num_steps)`, the schedule is kept apart from the
optimization loop: `schedule(settings)` gives the sizes and evaluations, `fit` resizes an
input for one scale, `upsample` carries the coarse result to the next scale.

Example:
```python
schedule(StylizeSettings(size=1024, num_steps=100))    # Schedule(sizes=[256, 512, 1024], steps=[100, 100, 50])
```
"""

import dataclasses
import math

import numpy as np

from tf_nst import images as image_io
from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import MIN_SIDE

# scales="auto": outputs longer than this run coarse-to-fine, from the halving of the size that
# stays >= AUTO_COARSEST_SIZE. Beyond ~512 px the style's large structures (Starry Night's swirls)
# outgrow VGG's receptive field (~200 px at block5_conv1) and a single-resolution run only
# paints small strokes over the photo; a coarse start keeps them (benchmarks/RESULTS.md).
AUTO_SCALES_ABOVE = 512
AUTO_COARSEST_SIZE = 256


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Sizes (longest side, coarsest first) and evaluations per size."""

    sizes: list
    steps: list

    @property
    def total_steps(self):
        return sum(self.steps)


def scale_sizes(scales, size):
    """The sizes of `scales` (`"auto"`, a count, or a list of sizes) for an output of `size`."""
    if scales == "auto":
        sizes = [size]
        while size > AUTO_SCALES_ABOVE and sizes[0] // 2 >= AUTO_COARSEST_SIZE:
            sizes.insert(0, sizes[0] // 2)
        return sizes
    if isinstance(scales, int):
        return sorted({max(MIN_SIDE, round(size / 2 ** k)) for k in range(scales)})
    return list(scales)


def schedule(settings):
    """The `Schedule` of a `StylizeSettings`."""
    sizes = scale_sizes(settings.scales, settings.size)
    steps = settings.scale_steps
    if steps is None:
        steps = [settings.num_steps] * len(sizes)
        if settings.scales == "auto" and len(sizes) > 1:
            # The finest scale starts from the upsampled result, close to where it ends.
            steps[-1] = max(1, settings.num_steps // 2)
    if len(steps) != len(sizes):
        raise InvalidArgumentError(
            f"expected scale_steps: one integer per scale ({len(sizes)}: {sizes}). "
            f"Received: scale_steps={steps!r}")
    return Schedule(sizes=sizes, steps=list(steps))


def fit(rgb, max_side, min_side=MIN_SIDE):
    """Resize to `max_side`, never letting the short side fall below `min_side`."""
    height, width = rgb.shape[:2]
    max_side = max(max_side, math.ceil(min_side * max(height, width) / min(height, width)))
    return image_io.resize_to_max_side(rgb, max_side)


def upsample(x, content_rgb):
    """The previous scale's best image `x` `(1, h, w, 3)` at `content_rgb`'s size, with the content's detail.

    Bicubic upsampling plus the band of the content that the coarser scale could not
    hold (`content_detail`): the content loss wants that detail back whatever the start.
    """
    import tensorflow as tf

    upsampled = tf.image.resize(x, content_rgb.shape[:2], method="bicubic")
    upsampled += content_detail(content_rgb, tuple(x.shape[1:3]))
    return tf.clip_by_value(upsampled, 0.0, 255.0)


def content_detail(content_rgb, coarse_shape):
    """What the content loses when taken down to `coarse_shape` and back (a Laplacian band).

    Added to the upsampled coarse result, it restores the photo's fine detail that the
    coarse scale could not hold: at 256 px (Tübingen × Starry Night, vgg16-hed) the
    full-size start after 100 evaluations at 128 px fell from 5.01 to 3.73 with it.
    """
    import tensorflow as tf

    content = tf.constant(np.asarray(content_rgb, np.float32)[None])
    low = tf.image.resize(tf.image.resize(content, coarse_shape, method="area"),
                          content_rgb.shape[:2], method="bicubic")
    return content - low
