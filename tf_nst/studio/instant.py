"""The studio's "Instant" preview: the bundled feed-forward model (docs/realtime.md) in one pass.

Its styles are the bundled paintings, picked by name: a style slot holding `starry_night.jpg` uses
the model's `starry_night`. The preview is the start of the next run ("Refine").
"""

import functools
import os

from tf_nst.errors import InvalidArgumentError


@functools.lru_cache(maxsize=1)
def _bundled(precision):
    from tf_nst.runs.realtime import ModelRun

    return ModelRun("bundled", precision=precision)


def bundled_instant(content_path, style_paths, settings):
    """`uint8 (H, W, 3)`: the bundled model's result for the content at the form's size, styles blended by the
    form's `style_blend` (equally without one).

    Raises:
        InvalidArgumentError: a style that is not one of the model's paintings.
    """
    from tf_nst.io.images import load_image

    run = _bundled(settings.precision)
    names = [os.path.splitext(os.path.basename(path))[0] for path in style_paths]
    unknown = [name for name in names if name not in run.style_names]
    if unknown or not names:
        raise InvalidArgumentError(
            f"expected bundled paintings for Instant ({', '.join(run.style_names)}). "
            f"Received: {', '.join(unknown) or 'no style'}")
    weights = settings.style_blend or [1.0] * len(names)  # the form's sliders, one per style
    blend = {}
    for name, weight in zip(names, weights):
        blend[name] = blend.get(name, 0.0) + weight
    return run.stylize(load_image(content_path).rgb, settings.size, blend, preserve_colors=settings.preserve_colors)
