"""The studio's "Instant" preview: the bundled arbitrary-style network (docs/arbitrary.md) in one pass.

Any painting works, uploads included, with the form's size, the styles' blend and the painted
regions. The preview is what `--init model:arbitrary` computes for the same inputs, so the next run
("Refine") starts from it and records it as its start (`INSTANT_INIT`): `stylize --from` remakes it.
"""

import functools

INSTANT_INIT = "model:arbitrary"  # the start a Refine after Instant records (the settings' init)


@functools.lru_cache(maxsize=1)
def _network(precision):
    from tf_nst.runs.arbitrary import ArbitraryRun

    return ArbitraryRun(INSTANT_INIT.split(":", 1)[1], precision=precision)


def arbitrary_instant(content_path, style_paths, settings, mask_paths=None):
    """`uint8 (H, W, 3)`: the arbitrary network's image of the content with the paintings at the form's size.

    Args:
        content_path, style_paths: the content photo and the paintings (any images).
        settings: the form's `StylizeSettings` (size, style blend, precision).
        mask_paths: one painted region mask per painting, or None (every painting everywhere).

    Raises:
        NSTError: an unreadable image or a mask the regions refuse (its message says why).
    """
    from tf_nst.engine.masks import Regions
    from tf_nst.io.images import load_image

    content = load_image(content_path)
    paintings = [load_image(path) for path in style_paths]
    regions = Regions.build([load_image(path) for path in mask_paths] if mask_paths else None, None,
                            content.rgb.shape, [painting.rgb.shape for painting in paintings])
    return _network(settings.precision).stylize(content.rgb, [painting.rgb for painting in paintings],
                                                settings.size, blend=settings.style_blend,
                                                region_masks=regions.region_masks)
