"""A trained network on files: the one path of `stylize --model`, `batch --model`, `video --model`
and the studio's Instant.

`ModelRun` loads a model folder (or a bundled model, or one style of one, by name) once and
stylizes photos with it: the size (`--size`, as the optimization fits it), the style blend, the
region masks (the engine's `Regions`, edges feathered by `tf_nst.engine.feedforward.rendering`),
colour preservation, and the
settings stored in each output's provenance (`settings_for`: the model's weights hash, not its
path, so a copied model still matches). `run_model_batch` runs every content in every chosen
style of the model through `tf_nst.runs.batch.run_pairs`: the same manifest, resume and error
records as the optimization's batch.

The network runs on TensorFlow (`FeedForward`, float32 or bfloat16, tiles for huge photos) or, without
importing TensorFlow, on onnxruntime (`tf_nst.engine.feedforward_onnx.OnnxFeedForward`, float32; the same
image within float rounding): `runtime=` as `tf_nst.runs.runtimes.choose_runtime` rules, `"auto"` for
`stylize`'s one photo. TensorFlow is imported only when its runtime is built; the PNG records which ran.

Example:
```python
run = ModelRun("starry_night")
rgb = run.stylize(load_image("photo.jpg").rgb, size=512)
run.stylize_file("photo.jpg", "out.png", size=512)
summary = run_model_batch(run, ["photos/"], run.default_styles, "out/", size=512)
```
"""

import os
import time

import numpy as np

from tf_nst.engine.masks import Regions
from tf_nst.engine.pyramid import fit
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import images as image_io
from tf_nst.io import provenance
from tf_nst.io.inputs import expand_inputs
from tf_nst.io.model_folders import WEIGHTS_FILE, read_model_info, resolve_model, trained_stroke_size
from tf_nst.runs import batch as batches
from tf_nst.runs.runtimes import choose_runtime, network_pixels
from tf_nst.runs.records import Pair, PairResult
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, MIN_SIDE, PRESERVE_COLORS_MODES, NetworkSettings, resolve_blend
from tf_nst.settings.choices import FEEDFORWARD_MAX_TILE_PIXELS


def planned_runtime(model, precision="auto", runtime="auto", pixels=None, stroke_size=None):
    """The runtime (`"onnxruntime"` or `"tensorflow"`) `ModelRun(model, precision, stroke_size, runtime,
    pixels)` will build, found without building it (a front end imports TensorFlow, quietly, only for it)."""
    folder, _ = resolve_model(model)
    stroke_size = trained_stroke_size(read_model_info(folder)) if stroke_size is None else int(stroke_size)
    return choose_runtime(runtime, precision, None, network_pixels(pixels, stroke_size),
                          FEEDFORWARD_MAX_TILE_PIXELS)[0]


class ModelRun:
    """A trained network loaded once, stylizing photos at a size with a blend, masks and colours.

    Args:
        model: a model folder, a model's name (`bundled`) or a style of one (`starry_night`).
        precision: `auto`, `float32` or `bfloat16` (the network's dtype policy).
        stroke_size: photos larger than this render at it and are scaled up, their detail added back
            (`tf_nst.engine.feedforward.rendering`'s stroke scale); `None`: the model's own (the style size it
            was trained at, `trained_stroke_size`); 0: every photo at its own size.
        runtime: `"tensorflow"` (default), `"onnxruntime"` (float32, no TensorFlow import) or `"auto"`
            (onnxruntime where it is installed, unless bfloat16 is asked for or a pass is over the tiles' budget).
        pixels: with `"auto"`, the largest output's pixel count if known.

    Raises:
        ModelError: no such model, or a folder that is not one.
    """

    def __init__(self, model, precision="auto", stroke_size=None, runtime="tensorflow", pixels=None):
        self.folder, self.chosen_style = resolve_model(model)
        self.info = read_model_info(self.folder)
        # `NetworkSettings` checks a given stroke size (an integer >= 0), as for the CLI's --stroke-size.
        self.stroke_size = trained_stroke_size(self.info) if stroke_size is None else \
            NetworkSettings(stroke_size=stroke_size).stroke_size
        self.runtime, precision = choose_runtime(runtime, precision, None, network_pixels(pixels, self.stroke_size),
                                                 FEEDFORWARD_MAX_TILE_PIXELS)
        if self.runtime == "onnxruntime":
            from tf_nst.engine.feedforward_onnx import OnnxFeedForward

            self.precision, self.runner = "float32", OnnxFeedForward(self.folder, stroke_size=self.stroke_size)
        else:
            from tf_nst.engine.backbones import resolve_precision
            from tf_nst.engine.feedforward.model_files import load_model
            from tf_nst.engine.feedforward.rendering import FeedForward
            from tf_nst.runs.training_models import network_policy

            self.precision = resolve_precision(precision)  # recorded with every output
            network, self.info = load_model(self.folder, dtype=network_policy(precision))
            self.runner = FeedForward(network, stroke_size=self.stroke_size)
        self.weights_sha256 = provenance.file_sha256(os.path.join(self.folder, WEIGHTS_FILE))

    @property
    def style_names(self):
        return self.runner.style_names

    @property
    def default_styles(self):
        """The style named by `model` when it named one, else every style of the model."""
        return [self.chosen_style] if self.chosen_style else list(self.style_names)

    def blend_for(self, blend=None):
        """`blend` (`tf_nst.settings.resolve_blend`: weights in the model's style order or
        `{style: weight}`) as a `StyleBlend`, or the chosen (else first) style alone."""
        return resolve_blend(blend or {self.default_styles[0]: 1.0}, self.style_names)

    def settings_for(self, blend, size, preserve_colors="none"):
        """What an output stores as its settings (and what "already made?" compares)."""
        provenance_info = self.info.get("provenance", {})
        settings = {"model": os.path.basename(os.path.abspath(self.folder)), "model_sha256": self.weights_sha256,
                    "style_blend": self.blend_for(blend), "size": int(size), "preserve_colors": preserve_colors,
                    "precision": self.precision, "runtime": self.runtime, "stroke_size": self.stroke_size,
                    "model_provenance": {key: provenance_info.get(key) for key in ("styles", "steps")}}
        noise = self.info["config"].get("texture_noise")
        if noise:  # not in the weights' hash: a config value that changes the image
            settings["texture_noise"] = noise
        return settings

    def stylize(self, rgb, size, blend=None, region_masks=None, preserve_colors="none"):
        """uint8 `(h, w, 3)`: the photo fitted to `size` (longest side) through the network.

        Args:
            rgb: the photo, uint8 `(H, W, 3)`.
            size: the output's longest side.
            blend: `{style: weight}`, weights in the model's style order or a `StyleBlend`
                (default `blend_for(None)`).
            region_masks: `None`, a `Regions`, or one mask per style of the blend (paths, images or
                arrays; white: the style, black: the photo), read and checked by `Regions.build`
                against the photo as the optimization does; edges are feathered.
            preserve_colors: one of `PRESERVE_COLORS_MODES`.
        """
        if preserve_colors not in PRESERVE_COLORS_MODES:
            raise InvalidArgumentError(f"expected preserve_colors in {PRESERVE_COLORS_MODES}. Received: {preserve_colors!r}")
        blend = self.blend_for(blend)
        regions = region_masks
        if region_masks is not None and not isinstance(region_masks, Regions):
            regions = Regions.build(list(region_masks) or None, None, np.shape(rgb), [np.shape(rgb)] * len(blend))
        return self.runner.stylize(fit(rgb, int(size), MIN_SIDE), blend, regions, preserve_colors)

    def stylize_file(self, content, output, size, blend=None, mask_paths=(), preserve_colors="none",
                     max_input_pixels=DEFAULT_MAX_INPUT_PIXELS):
        """Stylize the file `content` into the PNG `output` (atomic, with provenance); `(rgb, seconds)`."""
        photo = image_io.load_image(content, max_input_pixels=max_input_pixels)
        masks = [image_io.load_image(path, max_input_pixels=max_input_pixels) for path in mask_paths] or None
        started = time.perf_counter()
        result = self.stylize(photo.rgb, size, blend, masks, preserve_colors)
        seconds = time.perf_counter() - started
        image_io.save_png(output, result, alpha=photo.alpha, settings=self.settings_for(blend, size, preserve_colors),
                          inputs=[content] + list(mask_paths))
        return result, seconds


class ModelPairs:
    """`run_pairs`' job for a model: each pair is (content, style name of the model).

    A job of another network overrides `settings`, `inputs` and `write` (`tf_nst.runs.arbitrary.ArbitraryPairs`).
    """

    def __init__(self, run, size, preserve_colors, overwrite, max_input_pixels):
        self.run, self.size, self.preserve_colors = run, size, preserve_colors
        self.overwrite, self.max_input_pixels = overwrite, max_input_pixels

    def settings(self, pair):
        return self.run.settings_for({pair.style: 1.0}, self.size, self.preserve_colors)

    def inputs(self, pair):
        """The files an output is made from (hashed into its provenance): the content alone."""
        return [pair.content]

    def write(self, pair, output):
        """Stylize the pair's content into `output` (atomic, with provenance)."""
        self.run.stylize_file(pair.content, output, self.size, {pair.style: 1.0},
                              preserve_colors=self.preserve_colors, max_input_pixels=self.max_input_pixels)

    def made(self, pair, output):
        """Already written with these settings from these input bytes?"""
        return os.path.exists(output) and provenance.matches(output, self.settings(pair), self.inputs(pair))

    def pair(self, pair, output, should_stop=None):
        """One content through the network in one style: its `PairResult` (failures recorded)."""
        started = time.perf_counter()
        base = dict(content=pair.content, style=pair.style, output=output)
        if self.made(pair, output):
            return PairResult(**base, status="skipped")
        try:
            batches.check_replaceable(output, self.overwrite)
            self.write(pair, output)
        except batches.failure_types() as error:
            return PairResult(**base, status="error", seconds=time.perf_counter() - started,
                              error=batches.failure_message(error))
        return PairResult(**base, status="ok", seconds=time.perf_counter() - started, steps=0)


def run_model_batch(run, contents, style_names, outdir, size, preserve_colors="none", should_stop=None,
                    callback=None, overwrite=False, max_input_pixels=DEFAULT_MAX_INPUT_PIXELS):
    """Every content in every style of `style_names` through the network into `outdir`; resumable.

    Outputs are `<content-stem>--<style>.png` with a manifest, as `tf_nst.runs.batch.run_batch`
    writes them; a rerun skips outputs made with the same model, style, size and content bytes.

    Returns:
        A `BatchSummary`.

    Raises:
        InvalidArgumentError: a style the model does not have, or no content.
    """
    run.blend_for({name: 1.0 for name in style_names})  # checks the names
    pairs = [Pair(content, name) for content in expand_inputs(contents, "content") for name in style_names]
    job = ModelPairs(run, size, preserve_colors, overwrite, max_input_pixels)
    return batches.run_pairs(job, pairs, outdir, should_stop=should_stop, callback=callback)

