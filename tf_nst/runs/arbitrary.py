"""An arbitrary-style network on files: `stylize PHOTO PAINTING... --model arbitrary`.

`ArbitraryRun` loads an arbitrary-style network folder (the bundled `arbitrary`, or one written by
`train --arbitrary`) once and stylizes photos with any paintings: the size (`--size`, as the
optimization fits it), the strength, a blend of several paintings (`--style-blend`, over the
paintings' file names or in their order), a painting per region (`--region-mask`, checked and
feathered by the engine's `Regions` and `feather_masks`, as everywhere), colour preservation, and
the settings each output stores (the weights' hash and the precision; the paintings' hashes are
the PNG's inputs).

A painting's statistics depend on the painting fitted to the output's size: `fit_painting` computes
them once (a `FittedPainting`), and `stylize` takes them in place of the image. The batch
(`ArbitraryPairs`, `run_arbitrary_batch`: every photo x every painting through
`tf_nst.runs.batch.run_pairs`) fits each painting once per batch; the video (`PaintingsRun`, the
network bound to its paintings with `ModelRun`'s interface, for
`tf_nst.runs.video_model.stylize_video_with_model`) once per video.

Example:
```python
run = ArbitraryRun("arbitrary")
rgb = run.stylize(load_image("photo.jpg").rgb, [load_image("painting.jpg").rgb], size=512)
run.stylize_file("photo.jpg", ["painting.jpg"], "out.png", size=512)
summary = run_arbitrary_batch(run, ["photos/"], ["paintings/"], "out/", size=512)
stylize_video_with_model(PaintingsRun(run, ["painting.jpg"]), "clip.mp4", "clip_painted.mp4", size=512)
```
"""

import dataclasses
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
from tf_nst.runs import batch as batches
from tf_nst.runs.realtime import ModelPairs
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, MIN_SIDE, PRESERVE_COLORS_MODES, StyleBlend, resolve_blend


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


@dataclasses.dataclass(frozen=True, eq=False)
class FittedPainting:
    """A painting fitted to an output size, and its statistics per level: what `stylize` reuses across photos.

    Args:
        size: the output size (longest side) it was fitted to.
        shape: the fitted painting's shape `(h, w, 3)`.
        statistics: `ArbitraryStylizer.painting_statistics` of the fitted painting.
    """

    size: int
    shape: tuple
    statistics: dict


class ArbitraryRun:
    """An arbitrary-style network loaded once, stylizing photos with any paintings.

    Args:
        model: an arbitrary-style network folder or its name (`arbitrary`).
        precision: `auto`, `float32` or `bfloat16` (the convolutions).
        transform: `None` (the folder's), `"wct"` or `"adain"`.
        levels: the levels applied, deepest first (`None`: the folder's `apply_levels`, else all).

    Raises:
        ModelError: no such network, or a folder that is not one.
    """

    def __init__(self, model="arbitrary", precision="auto", transform=None, levels=None):
        self.folder, _ = resolve_model(model)
        inverter, self.info = load_inverter(self.folder, precision=precision)
        self.precision = resolve_precision(precision)
        self.transform = transform or self.info["config"].get("transform", "wct")
        # The levels applied, deepest first: the folder's measured choice unless given.
        levels = levels or self.info["config"].get("apply_levels")
        self.stylizer = ArbitraryStylizer(inverter, transform=self.transform, levels=levels)
        self.levels = list(self.stylizer.levels)
        self.weights_sha256 = provenance.file_sha256(os.path.join(self.folder, WEIGHTS_FILE))

    def settings_for(self, painting_names, size, strength=1.0, blend=None, preserve_colors="none"):
        """What an output stores as its settings."""
        recorded = self.info.get("provenance", {})
        return {"model": os.path.basename(os.path.abspath(self.folder)), "model_sha256": self.weights_sha256,
                "transform": self.transform, "levels": self.levels, "strength": float(strength), "size": int(size),
                "style_blend": resolve_blend(blend, painting_names) if len(painting_names) > 1 else None,
                "preserve_colors": preserve_colors, "precision": self.precision,
                "model_provenance": {"steps": recorded.get("steps"),
                                     "photos": {key: recorded.get("photos", {}).get(key) for key in ("count", "sha256")}}}

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
        weights = resolve_blend(blend or {name: 1.0 for name in names}, names)
        photo = fit(rgb, int(size), MIN_SIDE)
        fitted = [item if isinstance(item, FittedPainting) else self.fit_painting(item, size) for item in paintings]
        other_sizes = sorted({item.size for item in fitted} - {int(size)})
        if other_sizes:
            raise InvalidArgumentError(f"expected paintings fitted to size={int(size)}. Received: fitted to "
                                       f"{', '.join(map(str, other_sizes))}")
        region_weights = None
        if region_masks is not None:
            regions = Regions.build(list(region_masks), None, photo.shape, [item.shape for item in fitted])
        if region_masks is not None and regions.region_masks is not None:
            stack = np.stack([np.asarray(mask, np.float32) for mask in regions.region_masks], -1)[None]
            region_weights = np.moveaxis(feather_masks(stack, *photo.shape[:2]).numpy()[0], -1, 0)
        out = self.stylizer.stylize(photo.astype(np.float32), [item.statistics for item in fitted],
                                    strength=strength, blend=[weights.get(name, 0.0) for name in names],
                                    region_weights=region_weights).numpy()
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


class ArbitraryPairs(ModelPairs):
    """`run_pairs`' job for an arbitrary-style network: each pair is (photo, painting path).

    "Already made?" compares the settings and the photo's and the painting's bytes; each painting is read
    and fitted once per batch (a painting that fails is recorded with each of its pairs).
    """

    def __init__(self, run, size, strength, preserve_colors, overwrite, max_input_pixels):
        super().__init__(run, size, preserve_colors, overwrite, max_input_pixels)
        self.strength = check_strength(strength)
        self.fitted = {}  # (painting path, size) -> FittedPainting or the NSTError it raised

    def painting(self, path):
        """The painting at `path` fitted to the batch's size, computed once."""
        key = (path, int(self.size))
        if key not in self.fitted:
            try:
                image = image_io.load_image(path, max_input_pixels=self.max_input_pixels).rgb
                self.fitted[key] = self.run.fit_painting(image, self.size)
            except batches.failure_types() as error:
                self.fitted[key] = error
        if isinstance(self.fitted[key], Exception):
            raise self.fitted[key]
        return self.fitted[key]

    def settings(self, pair):
        return self.run.settings_for([stem(pair.style)], self.size, self.strength, None, self.preserve_colors)

    def inputs(self, pair):
        return pair.inputs

    def write(self, pair, output):
        self.run.stylize_file(pair.content, [pair.style], output, self.size, self.strength,
                              preserve_colors=self.preserve_colors, max_input_pixels=self.max_input_pixels,
                              fitted=[self.painting(pair.style)])


def run_arbitrary_batch(run, contents, paintings, outdir, size, strength=1.0, preserve_colors="none",
                        should_stop=None, callback=None, overwrite=False, max_input_pixels=DEFAULT_MAX_INPUT_PIXELS):
    """Every photo with every painting through the network into `outdir`; resumable.

    Outputs are `<photo-stem>--<painting-stem>.png` with a manifest, as `tf_nst.runs.batch.run_batch`
    writes them; a rerun skips outputs made with the same network, settings, photo and painting bytes.

    Args:
        run: an `ArbitraryRun`.
        contents, paintings: files, folders or globs (`tf_nst.io.inputs.expand_inputs`).
        outdir, should_stop, callback, overwrite, max_input_pixels: as `run_batch`'s.
        size, strength, preserve_colors: as `ArbitraryRun.stylize`'s.

    Returns:
        A `BatchSummary`.

    Raises:
        InvalidArgumentError: inputs that match no image, two pairs with one output name, a strength out of range.
    """
    job = ArbitraryPairs(run, size, strength, preserve_colors, overwrite, max_input_pixels)
    return batches.run_pairs(job, batches.make_pairs(contents, paintings), outdir, should_stop=should_stop,
                             callback=callback)


class PaintingsRun:
    """An `ArbitraryRun` bound to paintings, with the interface of `tf_nst.runs.realtime.ModelRun` that
    `tf_nst.runs.video_model.stylize_video_with_model` uses: the paintings are its styles (named by their
    files' stems), fitted once per size.

    Args:
        run: an `ArbitraryRun`.
        paintings: painting files (their hashes go into the settings: a video resumes only with the same ones).
        strength: from 0 (the photo) to 1 (the full style).
        max_input_pixels: paintings larger than this fail.

    Raises:
        InvalidArgumentError: no painting, two with one name, a strength out of range.
        ImageError: a painting that cannot be read.

    Example:
    ```python
    paintings = PaintingsRun(ArbitraryRun("arbitrary"), ["a.jpg", "b.jpg"], strength=0.8)
    stylize_video_with_model(paintings, "clip.mp4", "out.mp4", size=512, blend={"a": 2, "b": 1})
    ```
    """

    def __init__(self, run, paintings, strength=1.0, max_input_pixels=DEFAULT_MAX_INPUT_PIXELS):
        self.run, self.strength = run, check_strength(strength)
        paths = [os.fspath(path) for path in check_paintings(paintings)]
        self.style_names = [stem(path) for path in paths]
        if len(set(self.style_names)) != len(paths):
            raise InvalidArgumentError(f"expected paintings with distinct file names (the blend and masks name "
                                       f"them). Received: {', '.join(paths)}")
        self.images = [image_io.load_image(path, max_input_pixels=max_input_pixels).rgb for path in paths]
        self.paintings = [{"name": name, "sha256": provenance.file_sha256(path)}
                          for name, path in zip(self.style_names, paths)]
        self.fitted = {}  # size -> [FittedPainting]

    def blend_for(self, blend=None):
        """`blend` over the paintings (default: equal) as a `StyleBlend` naming every painting, in their order."""
        chosen = resolve_blend(blend or {name: 1.0 for name in self.style_names}, self.style_names)
        return StyleBlend({name: chosen.get(name, 0.0) for name in self.style_names})

    def settings_for(self, blend, size, preserve_colors="none"):
        """`ArbitraryRun.settings_for` with the paintings' names and hashes."""
        settings = self.run.settings_for(self.style_names, size, self.strength, self.blend_for(blend), preserve_colors)
        return {**settings, "paintings": self.paintings}

    def stylize(self, rgb, size, blend=None, region_masks=None, preserve_colors="none"):
        """`ArbitraryRun.stylize` of the photo with the bound paintings (`region_masks`: one per painting)."""
        if int(size) not in self.fitted:
            self.fitted[int(size)] = [self.run.fit_painting(image, size) for image in self.images]
        return self.run.stylize(rgb, self.fitted[int(size)], size, self.strength, self.blend_for(blend),
                                list(region_masks or []) or None, preserve_colors, self.style_names)
