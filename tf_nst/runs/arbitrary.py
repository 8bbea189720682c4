"""An arbitrary-style network on files: `stylize PHOTO PAINTING... --model arbitrary`.

`ArbitraryRun` loads an arbitrary-style network folder (the bundled `arbitrary`, or one written by
`train --arbitrary`) once and stylizes photos with any paintings: the size (`--size`, as the
optimization fits it), the strength, a blend of several paintings (`--style-blend`, over the
paintings' file names or in their order), a painting per region (`--region-mask`, checked and
feathered by the engine's `Regions` and `feather_masks`, as everywhere), colour preservation, and
the settings each output stores (the weights' hash and the precision; the paintings' hashes are
the PNG's inputs).

Example:
```python
run = ArbitraryRun("arbitrary")
rgb = run.stylize(load_image("photo.jpg").rgb, [load_image("painting.jpg").rgb], size=512)
run.stylize_file("photo.jpg", ["painting.jpg"], "out.png", size=512)
```
"""

import os
import time

import numpy as np

from tf_nst.engine.feedforward.arbitrary import ArbitraryStylizer, load_inverter
from tf_nst.engine.backbones import resolve_precision
from tf_nst.engine.feedforward.rendering import apply_colors
from tf_nst.engine.masks import Regions, feather_masks
from tf_nst.engine.pyramid import fit
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import images as image_io
from tf_nst.io import provenance
from tf_nst.io.inputs import stem
from tf_nst.io.model_folders import WEIGHTS_FILE, resolve_model
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, MIN_SIDE, PRESERVE_COLORS_MODES, resolve_blend


class ArbitraryRun:
    """An arbitrary-style network loaded once, stylizing photos with any paintings.

    Args:
        model: an arbitrary-style network folder or its name (`arbitrary`).
        precision: `auto`, `float32` or `bfloat16` (the convolutions).
        transform: `None` (the folder's), `"wct"` or `"adain"`.

    Raises:
        ModelError: no such network, or a folder that is not one.
    """

    def __init__(self, model="arbitrary", precision="auto", transform=None):
        self.folder, _ = resolve_model(model)
        inverter, self.info = load_inverter(self.folder, precision=precision)
        self.precision = resolve_precision(precision)
        self.transform = transform or self.info["config"].get("transform", "wct")
        self.stylizer = ArbitraryStylizer(inverter, transform=self.transform)
        self.weights_sha256 = provenance.file_sha256(os.path.join(self.folder, WEIGHTS_FILE))

    def settings_for(self, painting_names, size, strength=1.0, blend=None, preserve_colors="none"):
        """What an output stores as its settings."""
        recorded = self.info.get("provenance", {})
        return {"model": os.path.basename(os.path.abspath(self.folder)), "model_sha256": self.weights_sha256,
                "transform": self.transform, "strength": float(strength), "size": int(size),
                "style_blend": resolve_blend(blend, painting_names) if len(painting_names) > 1 else None,
                "preserve_colors": preserve_colors, "precision": self.precision,
                "model_provenance": {"steps": recorded.get("steps"),
                                     "photos": {key: recorded.get("photos", {}).get(key) for key in ("count", "sha256")}}}

    def stylize(self, rgb, paintings, size, strength=1.0, blend=None, region_masks=None, preserve_colors="none",
                painting_names=None):
        """uint8 `(h, w, 3)`: the photo fitted to `size` (longest side) in the paintings' style.

        Args:
            rgb: the photo, uint8 `(H, W, 3)`.
            paintings: one or more paintings, uint8 `(h, w, 3)`, any size (fitted to `size` too, so
                their strokes keep their scale relative to the output).
            size: the output's longest side.
            strength: from 0 (the photo) to 1 (the full style).
            blend: weights over the paintings (`tf_nst.settings.resolve_blend`: in their order or
                `{name: weight}` by `painting_names`); default: equal.
            region_masks: `None` or one grey mask per painting (white: that painting, black: the
                photo), any size of the photo's aspect ratio; checked by `Regions`, edges feathered.
            preserve_colors: one of `PRESERVE_COLORS_MODES`.
            painting_names: the paintings' names for `blend` (default `painting1`, `painting2`, ...).
        """
        if preserve_colors not in PRESERVE_COLORS_MODES:
            raise InvalidArgumentError(f"expected preserve_colors in {PRESERVE_COLORS_MODES}. "
                                       f"Received: {preserve_colors!r}")
        if not paintings:
            raise InvalidArgumentError("expected at least one PAINTING with --model arbitrary. Received: none")
        if not 0.0 <= float(strength) <= 1.0:
            raise InvalidArgumentError(f"expected strength from 0 to 1. Received: strength={strength!r}")
        names = list(painting_names or [f"painting{index + 1}" for index in range(len(paintings))])
        weights = resolve_blend(blend or {name: 1.0 for name in names}, names)
        photo = fit(rgb, int(size), MIN_SIDE)
        fitted = [fit(painting, int(size), MIN_SIDE) for painting in paintings]
        region_weights = None
        if region_masks is not None:
            regions = Regions.build(list(region_masks), None, photo.shape, [p.shape for p in fitted])
        if region_masks is not None and regions.region_masks is not None:
            stack = np.stack([np.asarray(mask, np.float32) for mask in regions.region_masks], -1)[None]
            region_weights = np.moveaxis(feather_masks(stack, *photo.shape[:2]).numpy()[0], -1, 0)
        out = self.stylizer.stylize(photo.astype(np.float32), [p.astype(np.float32) for p in fitted],
                                    strength=float(strength), blend=[weights[name] for name in names],
                                    region_weights=region_weights).numpy()
        out = apply_colors(out, photo.astype(np.float32), preserve_colors)
        return np.clip(np.round(out), 0, 255).astype(np.uint8)

    def stylize_file(self, content, paintings, output, size, strength=1.0, blend=None, mask_paths=None,
                     preserve_colors="none", max_input_pixels=DEFAULT_MAX_INPUT_PIXELS):
        """Stylize the file `content` with the files `paintings` into the PNG `output`; `(rgb, seconds)`."""
        def load(path):
            return image_io.load_image(path, max_input_pixels=max_input_pixels)

        photo = load(content)
        painting_images = [load(path).rgb for path in paintings]
        masks = None if not mask_paths else [load(path).rgb for path in mask_paths]
        names = [stem(path) for path in paintings]
        started = time.perf_counter()
        result = self.stylize(photo.rgb, painting_images, size, strength, blend, masks, preserve_colors, names)
        seconds = time.perf_counter() - started
        image_io.save_png(output, result, alpha=photo.alpha,
                          settings=self.settings_for(names, size, strength, blend, preserve_colors),
                          inputs=[content] + list(paintings) + list(mask_paths or []))
        return result, seconds
