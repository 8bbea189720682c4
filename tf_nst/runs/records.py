"""The records of a batch: pairs, one outcome per pair, the summary and the append-only manifest.

Shared by the local batch (`tf_nst.runs.batch`) and the cluster batches (`tf_nst.runs.beam`):
every pair of every run is one JSON line of `OUTDIR/manifest.jsonl`. TensorFlow-free.
"""

import dataclasses
import datetime
import json
import os

from tf_nst.errors import OutputError

MANIFEST_NAME = "manifest.jsonl"
# A pair's outcome in the manifest: written, already made (skipped), failed, or stopped by the user.
STATUSES = ("ok", "skipped", "error", "interrupted")


@dataclasses.dataclass(frozen=True)
class Pair:
    """One content image and one style image (paths as given), optionally a region mask.

    Args:
        content, style: image paths.
        mask: `None` (the style everywhere) or a grey image path on the content: white is where
            the style applies, black keeps the content (`Stylizer.stylize(..., region_masks=[mask])`).
        blend: `None`, or for a request with several paintings (an arbitrary-style network's export:
            `style` a tuple of paths, `mask` `None` or a tuple of one path per painting) the items of
            their resolved `tf_nst.settings.StyleBlend` (`((painting stem, weight), ...)`).
    """

    content: str
    style: str | tuple
    mask: str | tuple | None = None
    blend: tuple | None = None

    @property
    def styles(self):
        """The style (or painting) paths, in order: one, or a request's several."""
        return tuple(self.style) if isinstance(self.style, tuple) else (self.style,)

    @property
    def masks(self):
        """The region mask paths, in the styles' order (empty: none)."""
        if self.mask is None:
            return ()
        return tuple(self.mask) if isinstance(self.mask, tuple) else (self.mask,)

    @property
    def inputs(self):
        """The files the pair's output is made from (hashed into its provenance): content, style(s)[, mask(s)]."""
        return [self.content, *self.styles, *self.masks]

    @property
    def key(self):
        """What identifies the pair in a manifest: `(content, style, mask)`."""
        return (self.content, self.style, self.mask)


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
        mask: the pair's mask path, or None (then left out of the manifest line, as before masks).
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
    mask: str | None = None

    @property
    def key(self):
        """The `Pair.key` of the pair this result is for."""
        return (self.content, self.style, self.mask)

    def to_json(self, **extra):
        """The manifest line (no trailing newline); `mask` only when the pair has one."""
        fields = dataclasses.asdict(self)
        if fields["mask"] is None:
            del fields["mask"]
        return json.dumps({**extra, **fields}, sort_keys=True)


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
