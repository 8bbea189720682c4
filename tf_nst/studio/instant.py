"""The studio's "Instant" preview: the bundled feed-forward model (docs/realtime.md) in one pass.

Its styles are the bundled paintings, picked by name: a style slot holding `starry_night.jpg` uses
the model's `starry_night`. The preview is the start of the next run ("Refine").
"""

import functools
import os

from tf_nst.errors import InvalidArgumentError


@functools.lru_cache(maxsize=1)
def _bundled(precision):
    from tf_nst.engine.feedforward import FeedForward
    from tf_nst.engine.model_files import load_model
    from tf_nst.io.model_folders import resolve_model
    from tf_nst.runs.training_models import network_policy

    folder, _ = resolve_model("bundled")
    network, _ = load_model(folder, dtype=network_policy(precision))
    return FeedForward(network)


def bundled_instant(content_path, style_paths, settings):
    """`uint8 (H, W, 3)`: the bundled model's result for the content at the form's size, styles blended equally.

    Raises:
        InvalidArgumentError: a style that is not one of the model's paintings.
    """
    from tf_nst.engine.pyramid import fit
    from tf_nst.io.images import load_image
    from tf_nst.settings.choices import MIN_SIDE

    runner = _bundled(settings.precision)
    names = [os.path.splitext(os.path.basename(path))[0] for path in style_paths]
    unknown = [name for name in names if name not in runner.style_names]
    if unknown or not names:
        raise InvalidArgumentError(
            f"expected bundled paintings for Instant ({', '.join(runner.style_names)}). "
            f"Received: {', '.join(unknown) or 'no style'}")
    photo = fit(load_image(content_path).rgb, settings.size, MIN_SIDE)
    return runner.stylize(photo, {name: 1.0 for name in names}, preserve_colors=settings.preserve_colors)
