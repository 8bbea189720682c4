"""The one request path to an export: one (content, style[, mask]) pair, from files to a PNG.

A pair may also carry several paintings for an arbitrary-style network's export (`Pair(photo, (a, b),
blend=...)`, a region mask per painting or none): `stylize --saved-model PHOTO A B`.

Every front end on an export calls it: `stylize --saved-model` and `request` (`run_request`,
errors raised), the Beam pipeline (its DoFns wrap `prepare_pair` and `write_pair`) and Spark
tasks (`run_pair`). It owns, once: the sizes (`PairPlan.from_export`: the request's size, the
export's style scale and smallest side), reading the inputs, "already made?"
(`tf_nst.io.provenance.matches` on the input bytes, so a renamed input is skipped alike on
every engine), decoding with the pixel cap, the region mask (`prepare_mask`: checked and
resized by `tf_nst.engine.masks`), the call (`stylize`), and the PNG with its provenance
(`write_pair`). The settings stored are those a one-scale `Stylizer` run records, so the
pixels and the provenance equal the local batch's. The batch functions return the pair's
`tf_nst.runs.batch.PairResult` instead of raising for a pair that fails.

File access goes through a `LocalFiles`-like object (`read`, `exists`, `save_png`),
so an engine with its own filesystems (Beam's `FileSystems`) can pass its own.

Example:
```python
from tf_nst.runs import batch, pairs
from tf_nst.serving.client import load_saved_model

plan = pairs.PairPlan.from_export("models/tf_nst", controls={"steps": 50}, size=256)
export = load_saved_model(plan.saved_model)
result = pairs.run_pair(plan, batch.Pair("photo.jpg", "style.jpg"), "out/photo--style.png", lambda: export)
```
"""

import dataclasses
import hashlib
import io
import json
import os
import tempfile
import time

from tf_nst.errors import ImageError, InvalidArgumentError, NSTError
from tf_nst.io import filesystems
from tf_nst.io import images as image_io
from tf_nst.io import provenance
from tf_nst.io.inputs import stem
from tf_nst.runs import batch
from tf_nst.serving import contract as names
from tf_nst.serving.export_files import read_export_info, resolve_version
from tf_nst.settings import ARBITRARY_KIND, MIN_SIDE, StyleBlend, StylizeSettings


class LocalFiles:
    """Files on a path every worker sees (a local disk, NFS, a FUSE mount such as `/dbfs/`); reads
    and checks go through `tf_nst.io.filesystems`, so remote inputs are read too."""

    def read(self, path):
        return filesystems.read_bytes(path)

    def exists(self, path):
        return filesystems.exists(path)

    def save_png(self, path, rgb, alpha, settings, text):
        image_io.save_png(path, rgb, alpha=alpha, settings=settings, text=text)  # atomic: whole file or none


LOCAL_FILES = LocalFiles()


def served_settings(info, controls, size):
    """The settings stored in the outputs: what a one-scale `Stylizer` run would record.

    The export's settings with the request's controls and size; equal to
    `Stylizer(..., scales=1).get_config()` when the settings are the same.
    """
    if info.get("kind") == ARBITRARY_KIND:  # what `ArbitraryRun.settings_for` records for one painting
        strength = controls.get(names.STRENGTH)
        return {**info["settings"], "strength": float(info["strength"] if strength is None else strength),
                "size": int(size), "style_blend": None, "preserve_colors": "none"}
    if info.get("kind") == names.FEEDFORWARD_KIND:  # a trained network: its model, styles and the size
        return {"kind": names.FEEDFORWARD_KIND, "size": int(size), "style_names": list(info["style_names"]),
                "model": (info.get("model") or {}).get("config")}
    values = {**info.get("defaults", {}), **{k: v for k, v in controls.items() if v is not None}}
    init = values[names.INIT]
    changes = {"num_steps": int(values[names.STEPS]), "size": int(size),
               "content_weight": float(values[names.CONTENT_WEIGHT]),
               "style_weight": float(values[names.STYLE_WEIGHT]), "tv_weight": float(values[names.TV_WEIGHT]),
               "seed": int(values[names.SEED]), "init": init.decode() if isinstance(init, bytes) else init,
               "preserve_colors": "none"}  # what the export runs: one scale, one style, no colour transfer
    stored = dict(info["settings"])
    extra_loss_terms = stored.pop("extra_loss_terms", [])
    changes.update(scales=1, scale_steps=None, style_blend=None, max_seconds=None)
    return {**StylizeSettings.from_dict(stored).replace(**changes).to_dict(), "extra_loss_terms": extra_loss_terms}


@dataclasses.dataclass(frozen=True)
class PairPlan:
    """What every pair of a batch on an export shares (small: it travels with each task).

    Args:
        saved_model: the export's version folder, readable by every worker (None for an export
            on TF Serving: `request`).
        controls: `{steps, content_weight, ...}` sent with every call (wire names).
        settings: the settings stored in every output (`served_settings`).
        size, style_size: longest side the content and the style are resized to.
        min_side: the export's smallest side.
        max_input_pixels: larger inputs are recorded as errors.
    """

    saved_model: str
    controls: dict
    settings: dict
    size: int
    style_size: int
    min_side: int
    max_input_pixels: int = image_io.DEFAULT_MAX_INPUT_PIXELS

    @classmethod
    def from_export(cls, saved_model, controls=None, size=None, max_input_pixels=image_io.DEFAULT_MAX_INPUT_PIXELS):
        """Read the export (a version or a base folder) and check the controls and the size.

        Raises:
            InvalidArgumentError: unknown controls or a size below the export's smallest side.
            ServingError: `saved_model` is not a tf-nst export.
        """
        controls = dict(controls or {})
        names.control_values(controls)  # rejects unknown names before anything runs
        version_path = resolve_version(os.fspath(saved_model))
        info = read_export_info(version_path)
        names.check_export_controls(info.get("kind"), controls)
        # A network's export has no optimization settings: the CLI's default size, the style at that size.
        stored = info.get("settings") or {}
        size = int(size if size is not None else stored.get("size", StylizeSettings().size))
        min_side = int(info.get("min_side", MIN_SIDE))
        if size < min_side:
            raise InvalidArgumentError(f"expected size >= {min_side}. Received: size={size}")
        style_size = max(min_side, round(float(stored.get("style_scale", 1.0)) * size))
        return cls(saved_model=version_path, controls=controls, settings=served_settings(info, controls, size),
                   size=size, style_size=style_size, min_side=min_side, max_input_pixels=int(max_input_pixels))


def batch_pairs(outdir, saved_model, pairs, contents, styles, make_pairs):
    """The pairs of a batch on an export: `pairs`, or `make_pairs(contents, styles)`; the arguments checked."""
    if outdir is None or saved_model is None:
        raise InvalidArgumentError(
            f"expected outdir and saved_model. Received: outdir={outdir!r}, saved_model={saved_model!r}")
    if pairs is None:
        if not contents or not styles:
            raise InvalidArgumentError("expected contents and styles, or pairs. Received: neither")
        pairs = make_pairs(contents, styles)
    return list(pairs)


def record(pair, output, status, started, **fields):
    """The pair's `PairResult`, timed from `started` (`time.time()`)."""
    return batch.PairResult(content=pair.content, style=pair.style, output=output, status=status,
                            seconds=time.time() - started, mask=pair.mask, **fields)


def prepare_mask(mask, content_shape, prepared_shape):
    """A pair's mask as the export takes it: grey `uint8 (h, w)` at the prepared content's size.

    Args:
        mask: the decoded mask (a `LoadedImage` or an array, see `tf_nst.engine.masks.load_mask`), or a
            list of them (one per painting of a pair with several: then a list comes back).
        content_shape: the content's shape as decoded (the aspect ratio is checked against it,
            within 1%, as the library does).
        prepared_shape: the content's shape as sent to the export.

    Returns:
        `(mask, notes)`; `mask` is None for a mask white everywhere (the style everywhere).

    Raises:
        InvalidArgumentError: another aspect ratio, or black everywhere (no region for the style):
            the library's checks and messages (`tf_nst.engine.masks.prepare_masks`).
    """
    from tf_nst.engine import masks as region_masks

    listed = isinstance(mask, list)
    given = mask if listed else [mask]
    masks, _, notes = region_masks.prepare_masks(given, None, content_shape, [content_shape] * len(given))
    if masks is None:  # white everywhere: the unmasked request, as the library runs it
        return None, notes
    fitted = region_masks.fit_masks(masks, *prepared_shape[:2])  # (1, h, w, masks)
    fitted = [region_masks.as_uint8(fitted[0, :, :, index]) for index in range(fitted.shape[-1])]
    return (fitted if listed else fitted[0]), notes


def pair_settings(plan, pair):
    """The settings stored in the pair's output: the plan's, with the blend of a pair of several paintings
    (as `tf_nst.runs.arbitrary_run.ArbitraryRun.settings_for` records it)."""
    if len(pair.styles) == 1:
        return plan.settings
    return {**plan.settings, "style_blend": StyleBlend(pair.blend)}


def style_weights(pair):
    """The weights a pair of several paintings sends (its blend, in the paintings' order), or None."""
    if len(pair.styles) == 1:
        return None
    blend = dict(pair.blend)
    return [blend.get(stem(path), 0.0) for path in pair.styles]


def provenance_chunks(pair, hashes):
    """The provenance text of a pair's output beside its settings: hashes, input order, mask path(s).

    The same chunks `tf_nst.io.images.save_png(inputs=[content, style], masks=...)` writes in
    the local batch, from the `hashes` (`{path: sha256}`) of the bytes read (remote files too).
    """
    text = {provenance.INPUTS_KEY: json.dumps(hashes, sort_keys=True),
            provenance.INPUT_ORDER_KEY: json.dumps([pair.content, *pair.styles])}  # lets `--from` replay the pair
    if pair.masks:
        text[provenance.MASKS_KEY] = json.dumps({"region_masks": list(pair.masks)}, sort_keys=True)
    return text


def already_made(files, output, settings, hashes):
    """`tf_nst.io.provenance.matches` on `output` read through `files`: made with `settings` from these bytes?"""
    try:
        return files.exists(output) and provenance.matches(io.BytesIO(files.read(output)), settings, hashes=hashes)
    except OSError:
        return False


def decode(path, data, max_input_pixels):
    """Decode bytes with `tf_nst.io.images.load_image` (its checks, EXIF, alpha) from a local copy."""
    suffix = os.path.splitext(os.fspath(path).rsplit("/", 1)[-1])[1]  # the decoder sniffs, the suffix helps notes
    with tempfile.NamedTemporaryFile(suffix=suffix) as local:
        local.write(data)
        local.flush()
        try:
            loaded = image_io.load_image(local.name, max_input_pixels=max_input_pixels)
        except ImageError as error:
            raise ImageError(path, error.problem) from None
    loaded.notes = [note.replace(local.name, path) for note in loaded.notes]
    return loaded


def stylize(export, content, style, controls, mask=None, weights=None):
    """The export's result, or an `NSTError` for a pair it rejects or that runs out of memory.

    `export`: anything with the export's `stylize(content, style, mask=..., style_weights=..., **controls)`
    (a loaded export, `tf_nst.serving.client.ServedModel`); `mask`: None (the style everywhere) or the
    pair's `prepare_mask`; `style` a list of paintings for a pair of several, `weights` their `style_weights`.
    """
    import tensorflow as tf

    try:
        return export.stylize(content, style, mask=mask, style_weights=weights, **controls)
    except NSTError as error:
        return error
    except (MemoryError, tf.errors.ResourceExhaustedError) as error:
        return NSTError(f"out of memory ({type(error).__name__}); expected a smaller size")


@dataclasses.dataclass
class PreparedPair:
    """One pair read, checked and resized, on its way to the export.

    Args:
        pair, output: the `Pair` and its output path.
        content, style: `uint8 (H, W, 3)` arrays as the export takes them (`style` a list for several paintings).
        alpha: the content's alpha channel or None.
        input_hashes: `{path: sha256}` of the bytes read.
        notes: the decoder's notes for the user.
        started: `time.time()` when the pair was picked up.
        mask: None or grey `uint8 (H, W)` at the content's size (`prepare_mask`; a list for several paintings).
    """

    pair: batch.Pair
    output: str
    content: object
    style: object
    alpha: object
    input_hashes: dict
    notes: list
    started: float
    mask: object = None


def read_inputs(pair, files=LOCAL_FILES):
    """`({path: bytes}, {path: sha256})` of the pair's inputs (mask included); `OSError` if one cannot be read."""
    data = {path: files.read(path) for path in dict.fromkeys(pair.inputs)}
    return data, {path: hashlib.sha256(value).hexdigest() for path, value in data.items()}


def prepare(plan, pair, output, data, hashes, started, style_cache=None):
    """The pair decoded, checked and resized for the export (a `PreparedPair`); raises `NSTError`.

    `style_cache`: a dict kept by a worker, so each style (by its bytes) is decoded once.
    """
    from tf_nst.serving.client import prepare_image

    def prepared_style(path):
        style = decode(path, data[path], plan.max_input_pixels)
        return prepare_image(style.rgb, plan.style_size, plan.min_side), style.notes

    cache = {} if style_cache is None else style_cache
    styles, style_notes = [], []
    for path in pair.styles:
        if hashes[path] not in cache:
            cache[hashes[path]] = prepared_style(path)
        styles.append(cache[hashes[path]][0])
        style_notes += cache[hashes[path]][1]
    content = decode(pair.content, data[pair.content], plan.max_input_pixels)
    prepared = prepare_image(content.rgb, plan.size, plan.min_side)
    several = len(pair.styles) > 1
    masks = [decode(path, data[path], plan.max_input_pixels) for path in pair.masks]
    mask, mask_notes = prepare_mask(masks if several else masks[0], content.rgb.shape, prepared.shape) if masks \
        else (None, [])
    return PreparedPair(pair=pair, output=output, content=prepared, style=styles if several else styles[0],
                        alpha=content.alpha, input_hashes=hashes, notes=content.notes + style_notes + mask_notes,
                        started=started, mask=mask)


def prepare_pair(plan, pair, output, files=LOCAL_FILES, style_cache=None):
    """Read the pair's files; a `PairResult` when the pair is done (`skipped`) or fails, else a `PreparedPair`."""
    started = time.time()
    try:
        data, hashes = read_inputs(pair, files)
    except OSError as error:
        return record(pair, output, "error", started, error=f"cannot read input ({error})")
    if already_made(files, output, pair_settings(plan, pair), hashes):
        return record(pair, output, "skipped", started)
    try:
        return prepare(plan, pair, output, data, hashes, started, style_cache)
    except NSTError as error:
        return record(pair, output, "error", started, error=str(error))


def save(plan, prepared, served, files=LOCAL_FILES):
    """Write the served image with the pair's provenance (raises `NSTError` / `OSError`)."""
    files.save_png(prepared.output, served.image, prepared.alpha, pair_settings(plan, prepared.pair),
                   provenance_chunks(prepared.pair, prepared.input_hashes))


def write_pair(plan, prepared, served, files=LOCAL_FILES):
    """The output PNG with provenance, and the pair's `PairResult` (`served` may be the pair's `NSTError`)."""
    pair, output = prepared.pair, prepared.output
    if isinstance(served, Exception):
        return record(pair, output, "error", prepared.started, error=str(served))
    try:
        save(plan, prepared, served, files)
    except (NSTError, OSError) as error:
        return record(pair, output, "error", prepared.started, error=f"cannot write output ({error})")
    return record(pair, output, "ok", prepared.started, loss=served.best_loss,
                  steps=int(served.losses.shape[0]) - 1, notes=prepared.notes)


def run_pair(plan, pair, output, get_export, files=LOCAL_FILES):
    """`prepare_pair`, `stylize`, `write_pair`: one pair's `PairResult` (never raises for the pair).

    Args:
        plan: the batch's `PairPlan`.
        pair, output: the `Pair` and its output path.
        get_export: returns the loaded export (called only when the pair needs it, so a
            rerun with every output done loads nothing).
        files: file access (`LocalFiles`).
    """
    prepared = prepare_pair(plan, pair, output, files)
    if isinstance(prepared, batch.PairResult):
        return prepared
    try:
        export = get_export()
    except NSTError as error:  # the export does not load on this worker
        return record(pair, output, "error", prepared.started, error=str(error))
    served = stylize(export, prepared.content, prepared.style, plan.controls, prepared.mask, style_weights(pair))
    return write_pair(plan, prepared, served, files)


def run_request(plan, pair, output, export, files=LOCAL_FILES):
    """One pair for a front end that reports errors itself (`stylize --saved-model`, `request`).

    The same reading, sizes, mask, call and provenance as `run_pair`, always run (the caller
    decided about an existing output); raises the typed error instead of recording it.

    Returns:
        `(served, notes)`: the export's `ServedResult` (written to `output`) and the notes.
    """
    started = time.time()
    try:
        data, hashes = read_inputs(pair, files)
    except OSError as error:
        raise ImageError(getattr(error, "filename", None) or pair.content, f"cannot read ({error})") from None
    prepared = prepare(plan, pair, output, data, hashes, started)
    served = export.stylize(prepared.content, prepared.style, mask=prepared.mask, style_weights=style_weights(pair),
                            **plan.controls)
    save(plan, prepared, served, files)
    return served, prepared.notes
