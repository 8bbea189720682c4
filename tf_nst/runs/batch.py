"""Many images on one machine: every content x every style, resumable, with a manifest.

One `Stylizer` serves the whole batch, so the backbone is built and traced once
and each style's targets are computed once (the Stylizer's style cache). Each
output `OUTDIR/<content-stem>--<style-stem>.png` (`...--<mask-stem>.png` for a pair
with a region mask, see `read_pairs_csv`) is written atomically with its
provenance (settings, input and mask hashes), which is what makes a rerun cheap: a
pair whose output already holds the same settings and input bytes is skipped.
A pair that fails (unreadable image, too large, ...) is recorded and the batch
goes on. Every pair of every run appends one JSON line to `OUTDIR/manifest.jsonl`
(`tf_nst.runs.records`); each outcome is also a `PairProgress` event for the front end.

Example:
```python
from tf_nst.runs import batch
from tf_nst.engine.stylizer import Stylizer

pairs = batch.make_pairs(["photos/"], ["styles/*.jpg"])
summary = batch.run_batch(Stylizer(backbone="vgg16-hed", size=256, num_steps=100), pairs, "out",
                          callback=lambda event: print(event.done, event.total, event.result.status))
print(summary.summary_line())        # 6 pairs: 5 ok, 0 skipped, 1 error, ...
```
"""


import csv
import os
import time

from tf_nst.engine.status import RunStatus
from tf_nst.errors import ImageError, InvalidArgumentError, NSTError, OutputError
from tf_nst.io import images as image_io
from tf_nst.io import provenance
from tf_nst.io.inputs import expand_inputs, stem
from tf_nst.runs.contract import PairProgress
from tf_nst.runs.records import MANIFEST_NAME, STATUSES, BatchSummary, Manifest, Pair, PairResult
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS

NAME_SEPARATOR = "--"


# --- pairs and names --------------------------------------------------------------------------


def make_pairs(contents, styles):
    """Every content x every style (content-major), after `tf_nst.io.inputs.expand_inputs`."""
    return [Pair(content, style) for content in expand_inputs(contents, "content")
            for style in expand_inputs(styles, "style")]


def read_pairs_csv(path):
    """Pairs from a CSV file with a header holding `content` and `style` columns, optionally `mask`.

    Relative paths are taken relative to the CSV file's folder; blank rows are skipped. The
    optional `mask` column holds a grey image on the content per row (white: the style, black:
    the content kept); an empty cell means no mask (the style everywhere).

    Raises:
        InvalidArgumentError: the file is missing, has no such columns or a row lacks a path.
    """
    path = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            pairs = _csv_pairs(path, csv.DictReader(stream))
    except OSError as error:
        raise InvalidArgumentError(
            f"expected a readable CSV file of pairs. Received: {path} ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise InvalidArgumentError(
            f"expected a UTF-8 CSV file of pairs. Received: {path} (byte 0x{error.object[error.start]:02x} at "
            f"offset {error.start} is not UTF-8)") from None
    if not pairs:
        raise InvalidArgumentError(f"expected at least one pair. Received: {path} has no rows")
    return list(dict.fromkeys(pairs))


def _csv_pairs(path, reader):
    base = os.path.dirname(path)
    columns = [column.strip() for column in reader.fieldnames or []]
    if "content" not in columns or "style" not in columns:
        raise InvalidArgumentError(
            f"expected a CSV header with content and style columns (and optionally mask). Received: {path} "
            f"with columns {columns}")

    def located(value):
        return value if os.path.isabs(value) else os.path.join(base, value)

    pairs = []
    for row in reader:
        row = {(key or "").strip(): (value or "").strip() for key, value in row.items()}
        if not any(row.values()):
            continue
        if not row.get("content") or not row.get("style"):
            raise InvalidArgumentError(
                f"expected a content and a style path on every row. Received: {path} line "
                f"{reader.line_num}: {row}")
        mask = row.get("mask")
        pairs.append(Pair(located(row["content"]), located(row["style"]), located(mask) if mask else None))
    return pairs


def output_name(pair):
    """`<content-stem>--<style-stem>.png`, or `<content-stem>--<style-stem>--<mask-stem>.png` with a mask."""
    parts = [pair.content, pair.style] + ([pair.mask] if pair.mask is not None else [])
    return NAME_SEPARATOR.join(stem(part) for part in parts) + ".png"


def plan_outputs(pairs, outdir, join=os.path.join):
    """The output path of each pair, refusing two different pairs that would share one.

    Raises:
        InvalidArgumentError: naming collisions (e.g. `a/x.jpg` and `b/x.png` as contents).
    """
    owners, collisions = {}, {}
    outputs = []
    for pair in pairs:
        output = join(os.fspath(outdir), output_name(pair))
        owner = owners.setdefault(output, pair)
        if owner != pair:
            collisions.setdefault(output, [owner]).append(pair)
        outputs.append(output)
    if collisions:
        lines = [f"{output} <- " + " and ".join("(" + ", ".join(pair.inputs) + ")" for pair in clashing)
                 for output, clashing in list(collisions.items())[:5]]
        more = f" (and {len(collisions) - 5} more)" if len(collisions) > 5 else ""
        raise InvalidArgumentError(
            "expected one pair per output name <content-stem>--<style-stem>[--<mask-stem>].png; rename the inputs "
            f"or run them separately. Received {len(collisions)} collisions{more}: " + "; ".join(lines))
    return outputs


# --- the batch --------------------------------------------------------------------------------


def failure_types():
    """Failures of one pair that must not stop the batch: user errors and running out of memory."""
    import tensorflow as tf

    return (NSTError, MemoryError, tf.errors.ResourceExhaustedError)


class StylizerPairs:
    """`run_pairs`' job for the optimization: one shared `Stylizer`, each style decoded once per batch."""

    def __init__(self, stylizer, settings, overwrite, max_input_pixels):
        self.stylizer, self.settings = stylizer, settings
        self.overwrite, self.max_input_pixels = overwrite, max_input_pixels
        self.styles = {}  # path -> LoadedImage or NSTError: a style is decoded and checked once per batch

    def style(self, path):
        if path not in self.styles:
            try:
                self.styles[path] = image_io.load_image(path, max_input_pixels=self.max_input_pixels)
            except NSTError as error:
                self.styles[path] = error
        if isinstance(self.styles[path], Exception):
            raise self.styles[path]
        return self.styles[path]

    def made(self, pair, output):
        """Already written with these settings from these input bytes (mask included)?"""
        return os.path.exists(output) and provenance.matches(output, self.settings, pair.inputs)

    def pair(self, pair, output, should_stop):
        """Stylize one pair (or skip it when already made): its `PairResult`."""
        started = time.perf_counter()
        # The content and style paths are stored in order; the mask is stored and hashed as a mask.
        masks = None if pair.mask is None else {"region_masks": [pair.mask]}
        base = dict(content=pair.content, style=pair.style, output=output, mask=pair.mask)
        if self.made(pair, output):
            return PairResult(**base, status="skipped")
        try:
            check_replaceable(output, self.overwrite)
            content = image_io.load_image(pair.content, max_input_pixels=self.max_input_pixels)
            result = self.stylizer.stylize(content, [self.style(pair.style)], should_stop=should_stop,
                                           region_masks=None if pair.mask is None else [pair.mask])
            # Only a stop drops the pair: a time budget (max_seconds) ends a run with a legitimate output.
            if result.status is RunStatus.STOPPED:
                return PairResult(**base, status="interrupted", seconds=time.perf_counter() - started,
                                  steps=result.steps, notes=result.notes)
            image_io.save_png(output, result.image, alpha=result.alpha, settings=self.settings,
                              inputs=[pair.content, pair.style], masks=masks)
        except failure_types() as error:
            return PairResult(**base, status="error", seconds=time.perf_counter() - started,
                              error=failure_message(error))
        return PairResult(**base, status="ok", seconds=time.perf_counter() - started, loss=result.best_loss,
                          steps=result.steps, notes=result.notes)


class _Records:
    """One batch's records: the manifest, the results so far, the front end's callback."""

    def __init__(self, manifest, total, callback):
        self.manifest, self.total, self.callback = manifest, total, callback
        self.results = []

    def record(self, result):
        self.results.append(result)
        self.manifest.append(result)
        if self.callback is not None:
            counts = {status: sum(r.status == status for r in self.results) for status in STATUSES}
            self.callback(PairProgress(done=len(self.results), total=self.total, seconds=result.seconds,
                                       losses={} if result.loss is None else {"total": result.loss},
                                       result=result, counts=counts))
        return result

    def record_pending(self, job, pairs, outputs):
        """After Ctrl-C outside the optimization: the pair in progress, written whole or not at all."""
        done = {result.key for result in self.results}
        pending = next(((pair, output) for pair, output in zip(pairs, outputs) if pair.key not in done), None)
        if pending is not None:
            pair, output = pending
            self.record(PairResult(content=pair.content, style=pair.style, output=output, mask=pair.mask,
                                   status="ok" if job.made(pair, output) else "interrupted"))


def run_batch(stylizer, pairs, outdir, settings=None, should_stop=None, callback=None, overwrite=False,
              max_input_pixels=DEFAULT_MAX_INPUT_PIXELS, manifest_name=MANIFEST_NAME):
    """Stylize every pair with one shared `Stylizer`; resumable; failures recorded, not fatal.

    Args:
        stylizer: the `Stylizer` used for every pair (its style cache computes each
            style's targets once; each style file is decoded once per batch).
        pairs: `Pair`s (`make_pairs`, `read_pairs_csv`).
        outdir: output folder (created); outputs are `<content-stem>--<style-stem>.png`
            (`...--<mask-stem>.png` for a pair with a mask, whose region the style is confined to).
        settings: the settings stored in every output (default `stylizer.get_config()`);
            the provenance adds the pair's input (and mask) paths and hashes. Outputs already holding the
            same settings and input bytes (mask included) are skipped (`tf_nst.io.provenance.matches`).
        should_stop: callable (e.g. a `tf_nst.runs.contract.StopRequest`) checked before each pair
            and between optimization chunks; when it returns True the pair in progress is dropped
            (nothing written, status `interrupted`) and the batch returns. Ctrl-C does the same.
        callback: called with a `tf_nst.runs.contract.PairProgress` as each pair is recorded
            (its `result` is the `PairResult`); front ends render it.
        overwrite: replace existing files that tf-nst did not write (an existing tf-nst
            output made with other settings or inputs is always replaced).
        max_input_pixels: inputs larger than this fail (recorded as errors).
        manifest_name: the manifest's file name inside `outdir`.

    Returns:
        A `BatchSummary`; `summary.all_ok` is False when any pair failed or was not done.

    Raises:
        InvalidArgumentError: two pairs would write the same output.
        OutputError: `outdir` cannot be created or the manifest cannot be written.
    """
    job = StylizerPairs(stylizer, dict(stylizer.get_config() if settings is None else settings), overwrite,
                        max_input_pixels)
    return run_pairs(job, pairs, outdir, should_stop=should_stop, callback=callback, manifest_name=manifest_name)


def run_pairs(job, pairs, outdir, should_stop=None, callback=None, manifest_name=MANIFEST_NAME):
    """The batch loop of any job: outputs planned, the manifest, the stop, Ctrl-C; a `BatchSummary`.

    Args:
        job: `job.pair(pair, output, should_stop)` returns the pair's `PairResult` (status
            `interrupted` ends the batch); `job.made(pair, output)` says whether the output is
            already whole (`StylizerPairs`, `tf_nst.runs.realtime.ModelPairs`).
        pairs, outdir, should_stop, callback, manifest_name: as `run_batch`.
    """
    pairs = list(pairs)
    outdir = os.fspath(outdir)
    outputs = plan_outputs(pairs, outdir)
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{outdir}: cannot create the output folder ({error.strerror or error})") from None
    records = _Records(Manifest(os.path.join(outdir, manifest_name)), len(pairs), callback)
    started, interrupted = time.perf_counter(), False
    try:
        for pair, output in zip(pairs, outputs):
            if should_stop is not None and should_stop():
                interrupted = True
                break
            if records.record(job.pair(pair, output, should_stop)).status == "interrupted":
                interrupted = True
                break
    except KeyboardInterrupt:
        # Ctrl-C outside the optimization's own handling (loading, targets, writing): the
        # atomic write leaves either the whole output or none.
        interrupted = True
        records.record_pending(job, pairs, outputs)
    return BatchSummary(results=records.results, total=len(pairs), seconds=time.perf_counter() - started,
                        manifest=records.manifest.path, interrupted=interrupted)


def check_replaceable(output, overwrite):
    """Raise `OutputError` for an existing file tf-nst did not write, unless `overwrite`."""
    if overwrite or not os.path.exists(output):
        return
    try:
        provenance.read_provenance(output)
    except ImageError:
        raise OutputError(f"{output}: exists and was not written by tf-nst; expected a free output name "
                          "(pass overwrite=True / --overwrite to replace it)") from None


def failure_message(error):
    """One line for a pair's failure (an out-of-memory error suggests a smaller size)."""
    if isinstance(error, NSTError):
        return str(error)
    if isinstance(error, MemoryError):
        return "out of memory (expected a smaller size)"
    text = getattr(error, "message", str(error)).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''} (expected a smaller size)"
