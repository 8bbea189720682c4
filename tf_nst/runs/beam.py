"""Batches beyond one machine: an Apache Beam pipeline around the exported SavedModel.

Runs on Beam's DirectRunner, Flink, Spark or Dataflow. The pipeline matches the
inputs with Beam's `FileSystems` (local paths, `gs://`, `s3://`), forms the pairs
(every content x every style, or given pairs, optionally with a region mask each),
reads and resizes each pair as `tf_nst.serving.client.prepare_image` does (the pieces
of `tf_nst.runs.pairs`), runs `RunInference` with `SavedModelHandler` (the export
loaded once per worker with `tf.saved_model.load` and called through its
`serving_default` signature), and writes `OUTDIR/<content-stem>--<style-stem>.png`
(`...--<mask-stem>.png` for a pair with a mask) with provenance plus
`OUTDIR/manifest.jsonl`, all through `FileSystems`.

Beam's own `TFModelHandlerTensor` cannot load the export: it calls
`tf.keras.models.load_model`, feeds one stacked tensor and names no signature.

The export is bit-identical to `Stylizer.stylize` at one scale with one style, so
the pipeline writes the same pixels as `tf_nst.runs.batch.run_batch` with a
`Stylizer(..., scales=1, precision="float32")` of the same settings (exports are float32; a
`precision="auto"` run is bf16 on a CPU with native bf16, and its pixels differ). A pair that fails (unreadable
image, over the export's pixel cap) is a manifest line with status `error`; the
pipeline goes on. Outputs already holding the same settings and input hashes are
skipped, so a rerun does no work. Unlike the library batch, the manifest is
rewritten by each run (Beam's sinks do not append).

Needs `pip install -r requirements-beam.txt` (`apache-beam[gcp]` / `[aws]` for `gs://` / `s3://`).

Example:
```python
from tf_nst.runs import beam as nst_beam

summary = nst_beam.run(["photos/"], ["styles/*.jpg"], "out", "models/tf_nst",
                       controls={"steps": 100}, size=256,
                       pipeline_options=["--direct_num_workers=2",
                                         "--direct_running_mode=multi_processing"])
print(summary.summary_line())
```
"""

import dataclasses
import datetime
import json
import os
import shutil
import tempfile
import time

try:
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference
    from apache_beam.options.pipeline_options import PipelineOptions
except ImportError as error:  # pragma: no cover - depends on the optional install
    raise ImportError(
        f"tf_nst.runs.beam needs Apache Beam: pip install -r requirements-beam.txt ({error})") from error


from tf_nst.io import filesystems
from tf_nst.io import images as image_io
from tf_nst.io.inputs import expand_inputs
from tf_nst.runs import batch
from tf_nst.runs import pairs as pair_runs
from tf_nst.runs.contract import RecordProgress
from tf_nst.runs.records import MANIFEST_NAME, BatchSummary, Pair, PairResult
from tf_nst.serving import contract as names
from tf_nst.serving.export_files import resolve_version
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, RUNNERS


# --- inputs and the export ---------------------------------------------------------------------


def match_inputs(specs, name="inputs"):
    """`tf_nst.io.inputs.expand_inputs`: files, folders (a remote one ends in `/`) and globs on any filesystem."""
    return expand_inputs(specs, name)


def match_pairs(contents, styles):
    """Every content x every style (content-major), on any Beam filesystem."""
    return [Pair(content, style) for content in expand_inputs(contents, "content")
            for style in expand_inputs(styles, "style")]


def resolve_export(path):
    """A version folder as is; a base folder -> its highest integer version, on any filesystem."""
    return resolve_version(path)


def _localize(version_path):
    """A local folder holding the export (remote exports are copied once per worker)."""
    if filesystems.is_local(version_path):
        return version_path
    local = tempfile.mkdtemp(prefix="tf_nst-export-")
    prefix = version_path.rstrip("/") + "/"
    for path in filesystems.match(prefix + "**"):
        target = os.path.join(local, *path[len(prefix):].split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as destination:
            destination.write(filesystems.read_bytes(path))
    return local


# --- pipeline pieces: thin wrappers over the one request path (tf_nst.runs.pairs) ---------------


class BeamFiles(pair_runs.LocalFiles):
    """The request path's file access on any Beam filesystem: an object store gets whole files only."""

    def save_png(self, path, rgb, alpha, settings, text):
        if filesystems.is_local(path):
            return super().save_png(path, rgb, alpha, settings, text)
        # Object stores publish an object only when its upload completes: no partial files.
        with tempfile.TemporaryDirectory() as local:
            written = image_io.save_png(os.path.join(local, "out.png"), rgb, alpha=alpha, settings=settings, text=text)
            with open(written, "rb") as source, FileSystems.create(path, mime_type="image/png") as target:
                shutil.copyfileobj(source, target)


BEAM_FILES = BeamFiles()


class ReadPair(beam.DoFn):
    """(pair, output) -> `tf_nst.runs.pairs.prepare_pair`: a `PreparedPair`, or its record (skipped / error) on `done`."""

    DONE = "done"

    def __init__(self, plan):
        self.plan = plan
        self._styles = {}  # sha256 -> (prepared style, notes): each style decoded once per worker

    def process(self, element):
        prepared = pair_runs.prepare_pair(self.plan, *element, files=BEAM_FILES, style_cache=self._styles)
        yield beam.pvalue.TaggedOutput(self.DONE, prepared) if isinstance(prepared, PairResult) else prepared


class SavedModelHandler(ModelHandler):
    """Beam `ModelHandler` for a tf-nst export: loaded once per worker, one pair per call.

    Args:
        saved_model: the export's version folder (any Beam filesystem; remote exports
            are copied to the worker's local disk first).
        controls: `{steps, content_weight, style_weight, tv_weight, seed, init}` given to
            every call (missing ones: the export's defaults).

    `run_inference` never raises for a pair the model rejects (over the export's pixel
    cap, ...) or that runs out of memory: its `PredictionResult.inference` is then a
    `NSTError` for the manifest.
    """

    def __init__(self, saved_model, controls=None):
        super().__init__(max_batch_size=1)  # images of different sizes cannot share a batch
        self.saved_model = saved_model
        self.controls = dict(controls or {})

    def load_model(self):
        from tf_nst.serving.client import load_saved_model

        return load_saved_model(_localize(self.saved_model))

    def run_inference(self, batch_of_examples, model, inference_args=None):
        for example in batch_of_examples:  # `stylize`: the pair's NSTError instead of raising
            yield PredictionResult(example, pair_runs.stylize(model, example.content, example.style,
                                                              self.controls, example.mask))

    def get_num_bytes(self, batch_of_examples):
        return sum(example.content.nbytes + example.style.nbytes for example in batch_of_examples)

    def get_metrics_namespace(self):
        return "tf_nst"


class WriteOutput(beam.DoFn):
    """A `PredictionResult` -> `tf_nst.runs.pairs.write_pair`: the output PNG (with provenance) and its record."""

    def __init__(self, plan):
        self.plan = plan

    def process(self, prediction):
        yield pair_runs.write_pair(self.plan, prediction.example, prediction.inference, BEAM_FILES)


def build_pipeline(pipeline, pairs, outdir, saved_model, controls=None, size=None,
                   max_input_pixels=DEFAULT_MAX_INPUT_PIXELS, manifest_name=MANIFEST_NAME, run_id=None):
    """Add the batch to `pipeline`; returns the PCollection of `PairResult`s.

    Args:
        pipeline: a `beam.Pipeline`.
        pairs: `tf_nst.runs.batch.Pair`s (`match_pairs`, `tf_nst.runs.batch.read_pairs_csv`).
        outdir: output folder on any Beam filesystem.
        saved_model: the export's version or base folder (`python cli.py export`),
            readable by every worker.
        controls: `{steps, content_weight, style_weight, tv_weight, seed, init}`;
            missing ones are the export's defaults.
        size: longest side of the outputs (default: the exported Stylizer's size).
        max_input_pixels: inputs larger than this are recorded as errors.
        manifest_name: the manifest's file name in `outdir` (rewritten by each run).
        run_id: the `run` field of the manifest lines.

    Raises:
        InvalidArgumentError: unknown controls, or two pairs would write the same output.
        ServingError: `saved_model` is not a tf-nst export.
    """
    controls = dict(controls or {})
    names.control_values(controls)  # rejects unknown names before anything runs
    outdir = os.fspath(outdir).rstrip("/") or "/"
    pairs = list(pairs)
    outputs = batch.plan_outputs(pairs, outdir, join=filesystems.join)
    plan = pair_runs.PairPlan.from_export(saved_model, controls, size, max_input_pixels)
    if filesystems.is_local(outdir):
        os.makedirs(outdir, exist_ok=True)
    run_id = run_id or datetime.datetime.now().astimezone().isoformat(timespec="seconds")

    read = (pipeline
            | "Pairs" >> beam.Create(list(zip(pairs, outputs)))
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadPair(plan))
            .with_outputs(ReadPair.DONE, main="examples"))
    written = (read.examples
               | "Stylize" >> RunInference(SavedModelHandler(plan.saved_model, controls))
               | "Write" >> beam.ParDo(WriteOutput(plan)))
    records = (written, read[ReadPair.DONE]) | "Records" >> beam.Flatten()
    _ = (records
         | "ToJson" >> beam.Map(lambda record: record.to_json(run=run_id))
         | "Manifest" >> beam.io.WriteToText(filesystems.join(outdir, manifest_name), shard_name_template="",
                                             num_shards=1))
    return records


def pipeline_options_from(runner, pipeline_options=()):
    """`PipelineOptions` from a runner name and `K=V` / `--k=v` strings (the CLI's `--pipeline-option`)."""
    flags = [f"--runner={runner}"]
    for option in pipeline_options or ():
        option = str(option)
        flags.append(option if option.startswith("--") else f"--{option}")
    return PipelineOptions(flags)


def run(contents=None, styles=None, outdir=None, saved_model=None, pairs=None, controls=None, size=None,
        runner=RUNNERS[0], pipeline_options=(), max_input_pixels=DEFAULT_MAX_INPUT_PIXELS,
        manifest_name=MANIFEST_NAME, callback=None):
    """Build and run the batch pipeline; wait for it; return a `tf_nst.runs.records.BatchSummary`.

    Args:
        contents, styles: files, folders or globs on any Beam filesystem (every content
            x every style), or give `pairs` instead.
        outdir: output folder; `saved_model`, `controls`, `size`: see `build_pipeline`.
        runner: one of `tf_nst.settings.RUNNERS` (`DirectRunner`, `FlinkRunner`, `SparkRunner`,
            `DataflowRunner`), or any runner name Beam knows (`PortableRunner`, ...).
        pipeline_options: `K=V` or `--k=v` strings for the runner (e.g.
            `direct_num_workers=2`, `project=...`, `temp_location=gs://...`).
        callback: called with a `tf_nst.runs.contract.RecordProgress` per record, read back from
            the manifest once the pipeline finished.

    Returns:
        A `BatchSummary` read back from the manifest (`all_ok` when every pair has its output).
    """
    pairs = pair_runs.batch_pairs(outdir, saved_model, pairs, contents, styles, match_pairs)
    started = time.perf_counter()
    with beam.Pipeline(options=pipeline_options_from(runner, pipeline_options)) as pipeline:
        build_pipeline(pipeline, pairs, outdir, saved_model, controls=controls, size=size,
                       max_input_pixels=max_input_pixels, manifest_name=manifest_name)
    manifest = filesystems.join(os.fspath(outdir).rstrip("/"), manifest_name)
    results = read_records(manifest, pairs)
    for number, result in enumerate(results, start=1):
        if callback is not None:
            callback(RecordProgress(done=number, total=len(pairs), seconds=result.seconds, result=result))
    return BatchSummary(results=results, total=len(pairs), seconds=time.perf_counter() - started, manifest=manifest)


def read_records(manifest, pairs):
    """The `PairResult`s of a manifest written by the pipeline, in the order of `pairs`."""
    lines = filesystems.read_bytes(manifest).decode("utf-8").splitlines()
    fields = {field.name for field in dataclasses.fields(PairResult)}
    results = [PairResult(**{key: value for key, value in json.loads(line).items() if key in fields})
               for line in lines if line.strip()]
    order = {pair.key: index for index, pair in enumerate(pairs)}
    results.sort(key=lambda result: order.get(result.key, len(order)))
    return results
