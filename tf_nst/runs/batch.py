"""Many images on one machine: every content x every style, resumable, with a manifest.

One `Stylizer` serves the whole batch, so the backbone is built and traced once
and each style's targets are computed once (the Stylizer's style cache). Each
output `OUTDIR/<content-stem>--<style-stem>.png` is written atomically with its
provenance (settings and input hashes), which is what makes a rerun cheap: a
pair whose output already holds the same settings and input bytes is skipped.
A pair that fails (unreadable image, too large, ...) is recorded and the batch
goes on. Every pair of every run appends one JSON line to `OUTDIR/manifest.jsonl`.

Example:
```python
from tf_nst.runs import batch
from tf_nst.engine.stylizer import Stylizer

pairs = batch.make_pairs(["photos/"], ["styles/*.jpg"])
summary = batch.run_batch(Stylizer(backbone="vgg16-hed", size=256, num_steps=100), pairs, "out")
print(summary.summary_line())        # 6 pairs: 5 ok, 0 skipped, 1 error, ...
```
"""

import csv
import dataclasses
import datetime
import glob
import json
import os
import sys
import time

from tf_nst.io import images as image_io
from tf_nst.io import provenance
from tf_nst.errors import ImageError, InvalidArgumentError, NSTError, OutputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MANIFEST_NAME = "manifest.jsonl"
NAME_SEPARATOR = "--"
STATUSES = ("ok", "skipped", "error", "interrupted")
_GLOB_CHARACTERS = "*?["


@dataclasses.dataclass(frozen=True)
class Pair:
    """One content image and one style image (paths as given)."""

    content: str
    style: str


@dataclasses.dataclass
class PairResult:
    """What happened to one pair in one run: one line of the manifest.

    Args:
        content, style: input paths.
        output: the output PNG's path.
        status: `"ok"` (written), `"skipped"` (already done with the same settings and
            inputs), `"error"` (see `error`) or `"interrupted"` (stopped, nothing written).
        seconds: wall time spent on the pair (load, optimize, write).
        loss: total loss of the written image (`None` unless `ok`).
        error: the error message, for `error`.
        steps: evaluations run.
        notes: things the user should know (upscaled inputs, first frame of an animation, ...).
    """

    content: str
    style: str
    output: str
    status: str
    seconds: float = 0.0
    loss: float | None = None
    error: str | None = None
    steps: int = 0
    notes: list = dataclasses.field(default_factory=list)

    def to_json(self, **extra):
        """The manifest line (no trailing newline)."""
        return json.dumps({**extra, **dataclasses.asdict(self)}, sort_keys=True)


@dataclasses.dataclass
class BatchSummary:
    """What `run_batch` returns.

    Args:
        results: one `PairResult` per pair attempted, in order.
        total: pairs asked for.
        seconds: wall time of the batch.
        manifest: path of the manifest the results were appended to.
        interrupted: the batch was stopped (Ctrl-C or `should_stop`) before its end.
    """

    results: list
    total: int
    seconds: float
    manifest: str
    interrupted: bool = False

    def count(self, status):
        return sum(result.status == status for result in self.results)

    @property
    def ok(self):
        return self.count("ok")

    @property
    def skipped(self):
        return self.count("skipped")

    @property
    def errors(self):
        return self.count("error")

    @property
    def not_done(self):
        """Pairs interrupted or never started."""
        return self.total - self.ok - self.skipped - self.errors

    @property
    def all_ok(self):
        """Every pair has its output (written now or skipped as already done)."""
        return self.ok + self.skipped == self.total

    def summary_line(self):
        line = (f"{self.total} pairs: {self.ok} ok, {self.skipped} skipped, {self.errors} "
                f"error{'s' if self.errors != 1 else ''}")
        if self.not_done:
            line += f", {self.not_done} not done (interrupted)"
        return line + f" in {self.seconds:.1f} s; manifest {self.manifest}"


# --- inputs and names -----------------------------------------------------------------------


def is_image_name(path):
    """True for the image extensions a folder or glob contributes (case-insensitive)."""
    return os.fspath(path).lower().endswith(IMAGE_EXTENSIONS)


def expand_inputs(specs, name="inputs"):
    """Files, folders and globs -> image paths (argument order; sorted within a folder or glob).

    A folder contributes its image files (not recursive; hidden files skipped); a glob
    (`*`, `?`, `[`; `**` recurses) its matching image files; a file is taken as it is,
    whatever its extension (if it is not an image its pairs fail and are recorded).
    Duplicates are dropped.

    Raises:
        InvalidArgumentError: a spec matches nothing.
    """
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    paths = []
    for spec in specs:
        spec = os.fspath(spec)
        if os.path.isdir(spec):
            found = sorted(os.path.join(spec, entry) for entry in os.listdir(spec)
                           if not entry.startswith(".") and is_image_name(entry)
                           and os.path.isfile(os.path.join(spec, entry)))
            where = f"folder {spec} has no image files ({', '.join(IMAGE_EXTENSIONS)})"
        elif any(character in spec for character in _GLOB_CHARACTERS) and not os.path.exists(spec):
            found = sorted(path for path in glob.glob(spec, recursive=True)
                           if os.path.isfile(path) and is_image_name(path))
            where = f"glob {spec} matches no image files"
        elif os.path.exists(spec):
            found = [spec]
        else:
            raise InvalidArgumentError(
                f"expected an existing file, folder or glob. Received: {name}={spec!r} (no such file)")
        if not found:
            raise InvalidArgumentError(f"expected {name} to contain images. Received: {where}")
        paths.extend(found)
    return list(dict.fromkeys(paths))


def make_pairs(contents, styles):
    """Every content x every style (content-major), after `expand_inputs`."""
    return [Pair(content, style) for content in expand_inputs(contents, "content")
            for style in expand_inputs(styles, "style")]


def read_pairs_csv(path):
    """Pairs from a CSV file with a header holding `content` and `style` columns.

    Relative paths are taken relative to the CSV file's folder; blank rows are skipped.

    Raises:
        InvalidArgumentError: the file is missing, has no such columns or a row lacks a path.
    """
    path = os.fspath(path)
    base = os.path.dirname(path)
    try:
        with open(path, newline="") as stream:
            reader = csv.DictReader(stream)
            columns = [column.strip() for column in reader.fieldnames or []]
            if "content" not in columns or "style" not in columns:
                raise InvalidArgumentError(
                    f"expected a CSV header with content and style columns. Received: {path} with "
                    f"columns {columns}")
            pairs = []
            for row in reader:
                row = {(key or "").strip(): (value or "").strip() for key, value in row.items()}
                if not any(row.values()):
                    continue
                if not row.get("content") or not row.get("style"):
                    raise InvalidArgumentError(
                        f"expected a content and a style path on every row. Received: {path} line "
                        f"{reader.line_num}: {row}")
                pairs.append(Pair(*(value if os.path.isabs(value) else os.path.join(base, value)
                                    for value in (row["content"], row["style"]))))
    except OSError as error:
        raise InvalidArgumentError(
            f"expected a readable CSV file of pairs. Received: {path} ({error.strerror or error})") from None
    if not pairs:
        raise InvalidArgumentError(f"expected at least one pair. Received: {path} has no rows")
    return list(dict.fromkeys(pairs))


def stem(path):
    """A file name without folder and extension (works for `gs://` and `s3://` paths too)."""
    name = os.fspath(path).rstrip("/").rsplit("/", 1)[-1]
    return os.path.splitext(os.path.basename(name))[0]


def output_name(pair):
    """`<content-stem>--<style-stem>.png`."""
    return f"{stem(pair.content)}{NAME_SEPARATOR}{stem(pair.style)}.png"


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
        lines = [f"{output} <- " + " and ".join(f"({pair.content}, {pair.style})" for pair in clashing)
                 for output, clashing in list(collisions.items())[:5]]
        more = f" (and {len(collisions) - 5} more)" if len(collisions) > 5 else ""
        raise InvalidArgumentError(
            "expected one pair per output name <content-stem>--<style-stem>.png; rename the inputs "
            f"or run them separately. Received {len(collisions)} collisions{more}: " + "; ".join(lines))
    return outputs


# --- the manifest -----------------------------------------------------------------------------


class Manifest:
    """`OUTDIR/manifest.jsonl`, appended one complete line at a time (flushed and fsynced).

    Each line is written with a single `write` on a file opened for appending, so a
    crash leaves whole lines; a torn last line from a crash inside `write` is skipped by
    `read_manifest`.
    """

    def __init__(self, path, run_id=None):
        self.path = os.fspath(path)
        self.run_id = run_id or datetime.datetime.now().astimezone().isoformat(timespec="seconds")

    def append(self, result):
        line = result.to_json(run=self.run_id,
                              time=datetime.datetime.now().astimezone().isoformat(timespec="seconds"))
        try:
            with open(self.path, "a", encoding="utf-8") as stream:
                stream.write(line + "\n")
                stream.flush()
                os.fsync(stream.fileno())
        except OSError as error:
            raise OutputError(f"{self.path}: cannot append to the manifest ({error.strerror or error})") from None


def read_manifest(path):
    """The manifest's lines as dicts (a torn last line is ignored)."""
    records = []
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


# --- the batch --------------------------------------------------------------------------------


def _failure_types():
    """Failures of one pair that must not stop the batch: user errors and running out of memory."""
    import tensorflow as tf

    return (NSTError, MemoryError, tf.errors.ResourceExhaustedError)


def run_batch(stylizer, pairs, outdir, settings=None, progress=True, should_stop=None, callback=None,
              overwrite=False, max_input_pixels=image_io.DEFAULT_MAX_INPUT_PIXELS, manifest_name=MANIFEST_NAME):
    """Stylize every pair with one shared `Stylizer`; resumable; failures recorded, not fatal.

    Args:
        stylizer: the `Stylizer` used for every pair (its style cache computes each
            style's targets once).
        pairs: `Pair`s (`make_pairs`, `read_pairs_csv`).
        outdir: output folder (created); outputs are `<content-stem>--<style-stem>.png`.
        settings: the settings stored in every output (default `stylizer.get_config()`);
            the provenance adds the pair's input paths and hashes. Outputs already holding the same
            settings and input hashes are skipped.
        progress: show a progress bar over pairs with an ETA on stderr.
        should_stop: callable checked before each pair and between optimization chunks;
            when it returns True the pair in progress is dropped (nothing written, status
            `interrupted`) and the batch returns. Ctrl-C does the same.
        callback: called with each `PairResult` as it is recorded.
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
    pairs = list(pairs)
    outdir = os.fspath(outdir)
    outputs = plan_outputs(pairs, outdir)
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{outdir}: cannot create the output folder ({error.strerror or error})") from None
    manifest = Manifest(os.path.join(outdir, manifest_name))
    settings = dict(stylizer.get_config() if settings is None else settings)
    failures = _failure_types()
    loaded_styles = {}  # path -> LoadedImage or NSTError: a style is read and checked once
    results, interrupted = [], False
    started = time.perf_counter()
    bar = _progress_bar(len(pairs), progress)

    def record(result):
        results.append(result)
        manifest.append(result)
        if callback is not None:
            callback(result)
        bar.set_postfix_str(f"ok {sum(r.status == 'ok' for r in results)}, "
                            f"skipped {sum(r.status == 'skipped' for r in results)}, "
                            f"errors {sum(r.status == 'error' for r in results)}", refresh=False)
        bar.update(1)

    try:
        for pair, output in zip(pairs, outputs):
            if should_stop is not None and should_stop():
                interrupted = True
                break
            pair_started = time.perf_counter()
            stored = settings  # the pair's inputs are hashed into the provenance beside them
            inputs = [pair.content, pair.style]
            base = dict(content=pair.content, style=pair.style, output=output)
            if os.path.exists(output) and provenance.matches(output, stored, inputs):
                record(PairResult(**base, status="skipped"))
                continue
            try:
                _check_replaceable(output, overwrite)
                content = image_io.load_image(pair.content, max_input_pixels=max_input_pixels)
                if pair.style not in loaded_styles:
                    try:
                        loaded_styles[pair.style] = image_io.load_image(pair.style, max_input_pixels=max_input_pixels)
                    except NSTError as error:
                        loaded_styles[pair.style] = error
                style = loaded_styles[pair.style]
                if isinstance(style, Exception):
                    raise style
                result = stylizer.stylize(content, [style], should_stop=should_stop)
                # A time budget (max_seconds) also ends a run early, with a legitimate output.
                if result.interrupted and any(note.startswith("interrupted") for note in result.notes):
                    interrupted = True
                    record(PairResult(**base, status="interrupted", seconds=time.perf_counter() - pair_started,
                                      steps=result.steps, notes=result.notes))
                    break
                image_io.save_png(output, result.image, alpha=result.alpha, settings=stored, inputs=inputs)
            except failures as error:
                record(PairResult(**base, status="error", seconds=time.perf_counter() - pair_started,
                                  error=_message(error)))
                continue
            record(PairResult(**base, status="ok", seconds=time.perf_counter() - pair_started,
                              loss=result.best_loss, steps=result.steps, notes=result.notes))
    except KeyboardInterrupt:
        # Ctrl-C outside the optimization's own handling (loading, targets, writing): the
        # atomic write leaves either the whole output or none.
        interrupted = True
        done = {(result.content, result.style) for result in results}
        pending = next(((pair, output) for pair, output in zip(pairs, outputs)
                        if (pair.content, pair.style) not in done), None)
        if pending is not None:
            pair, output = pending
            status = "ok" if os.path.exists(output) and provenance.matches(
                output, settings, [pair.content, pair.style]) else "interrupted"
            record(PairResult(content=pair.content, style=pair.style, output=output, status=status))
    finally:
        bar.close()
    return BatchSummary(results=results, total=len(pairs), seconds=time.perf_counter() - started,
                        manifest=manifest.path, interrupted=interrupted)


def _check_replaceable(output, overwrite):
    if overwrite or not os.path.exists(output):
        return
    try:
        provenance.read_provenance(output)
    except ImageError:
        raise OutputError(f"{output}: exists and was not written by tf-nst; expected a free output name "
                          "(pass overwrite=True / --overwrite to replace it)") from None


def _message(error):
    if isinstance(error, NSTError):
        return str(error)
    if isinstance(error, MemoryError):
        return "out of memory (expected a smaller size)"
    text = getattr(error, "message", str(error)).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''} (expected a smaller size)"


def _progress_bar(total, enabled):
    from tqdm import tqdm

    return tqdm(total=total, unit="pair", file=sys.stderr, disable=not enabled, dynamic_ncols=True)
