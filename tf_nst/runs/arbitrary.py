"""An arbitrary-style network over many images: the batch and the video drivers of `ArbitraryRun`.

`ArbitraryRun` (tf_nst/runs/arbitrary_run.py, TensorFlow-free to import, re-exported here) loads an
arbitrary-style network folder once and stylizes photos with any paintings on TensorFlow or
onnxruntime: the size, the strength, the blend, a painting per region (`--region-mask`, checked by
`Regions`, feathered as an export feathers a request's), colour preservation and the settings each
output stores.

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

import os

from tf_nst.errors import InvalidArgumentError
from tf_nst.io import images as image_io
from tf_nst.io import provenance
from tf_nst.io.inputs import stem
from tf_nst.runs import batch as batches
# The run itself (one path for both runtimes, TensorFlow-free to import); re-exported for the drivers here.
from tf_nst.runs.arbitrary_run import ArbitraryRun, FittedPainting, check_paintings, check_strength  # noqa: F401
from tf_nst.runs.realtime import ModelPairs
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, StyleBlend, resolve_blend


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
