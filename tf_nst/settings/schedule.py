"""The coarse-to-fine schedule of a run: which sizes, and how many evaluations each.

Like pystiche's `ImagePyramid(edge_sizes, num_steps)`, the schedule is kept apart from the
optimization loop (`tf_nst.engine.pyramid` resizes the images for each scale).

Example:
```python
schedule(StylizeSettings(size=1024, num_steps=100))    # Schedule(sizes=[256, 512, 1024], steps=[100, 100, 50])
```
"""

import dataclasses

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import MIN_SIDE

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
