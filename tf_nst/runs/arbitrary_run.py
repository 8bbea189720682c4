"""An arbitrary-style network on files, on either runtime: `ArbitraryRun` (TensorFlow-free to import).

`ArbitraryRun` loads an arbitrary-style network folder (the bundled `arbitrary`, or one written by
`train --arbitrary`) once and stylizes photos with any paintings. Everything around the network is
here, once, for both runtimes: the photo and the paintings fitted to the size (`--size`, as the
optimization fits it), the blend over the paintings' names, the region masks (checked by
`Regions`, feathered as an export feathers a request's), the strength, colour preservation and the settings
each output stores. Only the network itself differs by runtime (`runtime=`):

- `"tensorflow"`: `tf_nst.engine.feedforward.arbitrary.ArbitraryStylizer` (float32 or bfloat16);
- `"onnxruntime"`: `tf_nst.engine.arbitrary_onnx.OnnxArbitraryStylizer`, float32 only, no TensorFlow
  import (the import alone takes longer than the pass);
- `"auto"`: onnxruntime when it is installed, the network's backbone has TensorFlow-free weights and
  `precision` is not `"bfloat16"`; TensorFlow otherwise.

TensorFlow is imported only when the TensorFlow runtime is built. The runtime and the precision that
ran are in every output's settings.

A painting's statistics depend on the painting fitted to the output's size: `fit_painting` computes
them once (a `FittedPainting`), and `stylize` takes them in place of the image.

Example:
```python
run = ArbitraryRun("arbitrary", runtime="auto")
rgb = run.stylize(load_image("photo.jpg").rgb, [load_image("painting.jpg").rgb], size=512)
run.stylize_file("photo.jpg", ["painting.jpg"], "out.png", size=512)
```
"""

import dataclasses
import os
import time

import numpy as np

from tf_nst.engine.colors import apply_colors
from tf_nst.engine.masks import Regions, feathered_array
from tf_nst.engine.pyramid import fit
from tf_nst.errors import InvalidArgumentError, ModelError
from tf_nst.io import images as image_io
from tf_nst.io import provenance
from tf_nst.io.inputs import stem
from tf_nst.io.model_folders import WEIGHTS_FILE, is_arbitrary, read_model_info, resolve_model
from tf_nst.runs.runtimes import choose_runtime, network_pixels, onnxruntime_missing  # noqa: F401 (public here too)
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, MIN_SIDE, PRESERVE_COLORS_MODES, NetworkSettings, resolve_blend
from tf_nst.settings.choices import ARBITRARY_STROKE_SIZE


def check_strength(strength):
    """`strength` as a float from 0 to 1, else an `InvalidArgumentError`."""
    if not 0.0 <= float(strength) <= 1.0:
        raise InvalidArgumentError(f"expected strength from 0 to 1. Received: strength={strength!r}")
    return float(strength)


def check_paintings(paintings):
    """`paintings` as a list, else (none) an `InvalidArgumentError`."""
    if not paintings:
        raise InvalidArgumentError("expected at least one PAINTING with --model arbitrary. Received: none")
    return list(paintings)


def painting_blend(blend, painting_names):
    """The `StyleBlend` of a request over its paintings: `blend` (`tf_nst.settings.resolve_blend`: weights in
    order or `{name: weight}`) by the paintings' names; `None`: equal weights."""
    return resolve_blend(blend or {name: 1.0 for name in painting_names}, painting_names)


def planned_runtime(model, precision="auto", runtime="auto", pixels=None, stroke_size=None):
    """The runtime (`"onnxruntime"` or `"tensorflow"`) `ArbitraryRun(model, precision, runtime=runtime,
    pixels=pixels, stroke_size=stroke_size)` will build, found without building it (so a front end can mute
    TensorFlow's start-up before importing it)."""
    folder, _ = resolve_model(model)
    info = read_model_info(folder)
    stroke_size = folder_stroke_size(info) if stroke_size is None else stroke_size
    return choose_runtime(runtime, precision, info["config"].get("backbone"), network_pixels(pixels, stroke_size))[0]


def folder_stroke_size(info):
    """A network folder's stroke size: its config's `stroke_size`, else `ARBITRARY_STROKE_SIZE`."""
    stroke_size = info["config"].get("stroke_size")
    return ARBITRARY_STROKE_SIZE if stroke_size is None else int(stroke_size)


def build_stylizer(folder, runtime, precision, transform, levels, half_size_levels=(), stroke_size=0):
    """`(stylizer, precision, feather)`: the network of `folder` on `runtime` (`"tensorflow"` or `"onnxruntime"`)
    and the function that feathers its region masks, `feather(masks, height, width) -> (R, height, width)`:
    TensorFlow's `feathered` (the export's, so library and export agree bit for bit) or its numpy twin
    `feathered_array` (equal within float32 rounding, tests/test_masks.py)."""
    if runtime == "onnxruntime":
        from tf_nst.engine.arbitrary_onnx import OnnxArbitraryStylizer

        return (OnnxArbitraryStylizer(folder, transform=transform, levels=levels, half_size_levels=half_size_levels,
                                      stroke_size=stroke_size), "float32", feathered_array)
    from tf_nst.engine.backbones import resolve_precision
    from tf_nst.engine.feedforward.arbitrary import ArbitraryStylizer, load_inverter
    from tf_nst.engine.feedforward.rendering import feathered

    def feather(masks, height, width):
        return np.stack(feathered(masks, (height, width)))

    inverter, _ = load_inverter(folder, precision=precision)
    stylizer = ArbitraryStylizer(inverter, transform=transform, levels=levels, half_size_levels=half_size_levels,
                                 stroke_size=stroke_size)
    return stylizer, resolve_precision(precision), feather


@dataclasses.dataclass(frozen=True, eq=False)
class FittedPainting:
    """A painting fitted to an output size, and its statistics per level: what `stylize` reuses across photos.

    Args:
        size: the output size (longest side) it was fitted to.
        shape: the fitted painting's shape `(h, w, 3)`.
        statistics: the stylizer's `painting_statistics` of the fitted painting.
    """

    size: int
    shape: tuple
    statistics: dict


class ArbitraryRun:
    """An arbitrary-style network loaded once, stylizing photos with any paintings.

    Args:
        model: an arbitrary-style network folder or its name (`arbitrary`).
        precision: `auto`, `float32` or `bfloat16` (the convolutions; onnxruntime runs float32).
        transform: `None` (the folder's), `"wct"` or `"adain"`.
        levels: the levels applied, deepest first (`None`: the folder's `apply_levels`, else all).
        runtime: `"tensorflow"`, `"onnxruntime"` or `"auto"` (see the module's docstring).
        pixels: with `"auto"`, the largest output's pixel count if known (`choose_runtime`: over the
            tiles' budget, TensorFlow, which tiles).
        half_size_levels: the deepest levels run on the halved photo (`ArbitraryStylizer`; about 1.7×
            faster, further from the painting: docs/arbitrary.md); `None`: the folder's
            `half_size_levels`, else none.
        stroke_size: outputs whose longest side is over this are stylized at it and scaled up, the photo's
            detail added back (`ArbitraryStylizer`'s stroke scale); `None`: the folder's `stroke_size`, else
            `ARBITRARY_STROKE_SIZE` (384); 0: at the output's own size.

    Raises:
        ModelError: no such network, a folder that is not one, onnxruntime asked for where it cannot run.
        InvalidArgumentError: an unknown runtime, onnxruntime with bfloat16.
    """

    def __init__(self, model="arbitrary", precision="auto", transform=None, levels=None, runtime="tensorflow",
                 pixels=None, half_size_levels=None, stroke_size=None):
        self.folder, _ = resolve_model(model)
        self.info = read_model_info(self.folder)
        if not is_arbitrary(self.info):
            raise ModelError(f"expected an arbitrary-style network folder. Received: {self.folder} (a model of "
                             f"styles {', '.join(self.info['config'].get('style_names', []))})")
        config = self.info["config"]
        # `NetworkSettings` checks a given stroke size (an integer >= 0), as for the CLI's --stroke-size.
        self.stroke_size = folder_stroke_size(self.info) if stroke_size is None else \
            NetworkSettings(stroke_size=stroke_size).stroke_size
        self.runtime, precision = choose_runtime(runtime, precision, config.get("backbone"),
                                                 network_pixels(pixels, self.stroke_size))
        self.transform = transform or config.get("transform", "wct")
        # The levels applied, deepest first: the folder's measured choice unless given.
        levels = levels or config.get("apply_levels")
        if half_size_levels is None:
            half_size_levels = config.get("half_size_levels") or ()
        self.stylizer, self.precision, self.feather = build_stylizer(self.folder, self.runtime, precision,
                                                                     self.transform, levels, half_size_levels,
                                                                     self.stroke_size)
        self.levels = list(self.stylizer.levels)
        self.weights_sha256 = provenance.file_sha256(os.path.join(self.folder, WEIGHTS_FILE))

    def model_settings(self):
        """What every output of this network records whatever the request: the network, its weights' hash,
        transform, levels, stroke size, precision and runtime (an export records these too)."""
        recorded = self.info.get("provenance", {})
        return {"model": os.path.basename(os.path.abspath(self.folder)), "model_sha256": self.weights_sha256,
                "transform": self.transform, "levels": self.levels, "stroke_size": self.stroke_size,
                "precision": self.precision,
                "runtime": self.runtime,
                "model_provenance": {"steps": recorded.get("steps"), "photos": {
                    key: recorded.get("photos", {}).get(key) for key in ("count", "sha256")}}}

    def settings_for(self, painting_names, size, strength=1.0, blend=None, preserve_colors="none"):
        """What an output stores as its settings: `model_settings()` and the request's."""
        return {**self.model_settings(), "strength": float(strength), "size": int(size),
                "style_blend": painting_blend(blend, painting_names) if len(painting_names) > 1 else None,
                "preserve_colors": preserve_colors}

    def fit_painting(self, painting, size):
        """The `FittedPainting` of a painting, uint8 `(h, w, 3)`, for outputs of `size` (its strokes keep their
        scale relative to the output)."""
        fitted = fit(painting, int(size), MIN_SIDE)
        statistics = self.stylizer.painting_statistics(fitted.astype(np.float32))
        return FittedPainting(int(size), tuple(fitted.shape), statistics)

    def stylize(self, rgb, paintings, size, strength=1.0, blend=None, region_masks=None, preserve_colors="none",
                painting_names=None):
        """uint8 `(h, w, 3)`: the photo fitted to `size` (longest side) in the paintings' style.

        Args:
            rgb: the photo, uint8 `(H, W, 3)`.
            paintings: one or more paintings, uint8 `(h, w, 3)`, any size (fitted to `size` too, so
                their strokes keep their scale relative to the output), or their `fit_painting` at `size`.
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
        check_paintings(paintings)
        strength = check_strength(strength)
        names = list(painting_names or [f"painting{index + 1}" for index in range(len(paintings))])
        weights = painting_blend(blend, names)
        photo = fit(rgb, int(size), MIN_SIDE)
        fitted = [item if isinstance(item, FittedPainting) else self.fit_painting(item, size) for item in paintings]
        other_sizes = sorted({item.size for item in fitted} - {int(size)})
        if other_sizes:
            raise InvalidArgumentError(f"expected paintings fitted to size={int(size)}. Received: fitted to "
                                       f"{', '.join(map(str, other_sizes))}")
        region_weights = None
        if region_masks is not None:
            regions = Regions.build(list(region_masks), None, photo.shape, [item.shape for item in fitted])
            if regions.region_masks is not None:
                region_weights = self.feather(regions.region_masks, *photo.shape[:2])
        out = np.asarray(self.stylizer.stylize(photo.astype(np.float32), [item.statistics for item in fitted],
                                               strength=strength, blend=[weights.get(name, 0.0) for name in names],
                                               region_weights=region_weights), np.float32)
        out = apply_colors(out, photo.astype(np.float32), preserve_colors)
        return np.clip(np.round(out), 0, 255).astype(np.uint8)

    def stylize_file(self, content, paintings, output, size, strength=1.0, blend=None, mask_paths=None,
                     preserve_colors="none", max_input_pixels=DEFAULT_MAX_INPUT_PIXELS, fitted=None):
        """Stylize the file `content` with the files `paintings` into the PNG `output`; `(rgb, seconds)`.

        `fitted`: the paintings' `fit_painting` at `size` when already computed (a batch's), else they are read.
        """
        def load(path):
            return image_io.load_image(path, max_input_pixels=max_input_pixels)

        photo = load(content)
        painting_images = fitted or [load(path).rgb for path in paintings]
        masks = None if not mask_paths else [load(path).rgb for path in mask_paths]
        names = [stem(path) for path in paintings]
        started = time.perf_counter()
        result = self.stylize(photo.rgb, painting_images, size, strength, blend, masks, preserve_colors, names)
        seconds = time.perf_counter() - started
        image_io.save_png(output, result, alpha=photo.alpha,
                          settings=self.settings_for(names, size, strength, blend, preserve_colors),
                          inputs=[content] + list(paintings) + list(mask_paths or []))
        return result, seconds
