"""`batch`: every content x every style into a folder, here or on an export (Apache Beam); resumable."""

import sys

import click

from tf_nst.cli.arbitrary import batch_with_arbitrary, refuse_strength
from tf_nst.cli.feedback import ProgressBar, announce_download, import_tensorflow_quietly, library_errors, stop_signals
from tf_nst.cli.options import (ARBITRARY_FIELDS, build_settings, given, input_options, network_options,
                                overwrite_option, preset_option, quiet_option, refuse_network_options,
                                settings_options)
from tf_nst.cli.serving import request_controls
from tf_nst.settings import RUNNERS


@click.command()
@click.argument("contents", nargs=-1, type=click.Path())
@click.option("-s", "--style", "styles", multiple=True, type=click.Path(),
              help="Style image, folder or glob (repeatable). Every content runs with every style.")
@click.option("--pairs", "pairs_csv", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CSV with content,style columns: run these pairs instead of every content x every style. "
                   "An optional mask column holds a grey image per row (white: the style, black: the photo "
                   "kept; empty: no mask); the output is then <content>--<style>--<mask>.png. Relative paths "
                   "are relative to the CSV.")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Output folder: OUTDIR/<content>--<style>.png and OUTDIR/manifest.jsonl.")
@overwrite_option("Replace files in OUTDIR that tf-nst did not write.")
@settings_options()
@input_options
@click.option("--saved-model", type=click.Path(), default=None,
              help="Run this export instead of building the model here (required with --runner; a local "
                   "folder, gs:// or s3://).")
@click.option("--runner", type=click.Choice(RUNNERS),
              default=None, help="Run as an Apache Beam pipeline on this runner (pip install -r "
                                 "requirements-beam.txt).")
@click.option("--pipeline-option", "pipeline_options", multiple=True, metavar="K=V",
              help="Beam pipeline option, e.g. direct_num_workers=2 or temp_location=gs://... (repeatable).")
@click.option("--model", default=None, metavar="NAME|MODEL_DIR",
              help="Real time: every CONTENT through a trained network (python cli.py models) instead of the "
                   "optimization; a style name (starry_night) runs that style, a model (bundled) every style of it; "
                   "an arbitrary-style network (arbitrary) every --style PAINTING.")
@click.option("--engine", type=click.Choice(["beam", "spark"]), default=None,
              help="With --saved-model: beam (the default; see --runner) or spark (see --master).")
@click.option("--master", default=None, metavar="URL",
              help="Spark master with --engine spark: local[N] (default local[*]), spark://HOST:PORT, yarn, "
                   "k8s://https://HOST:PORT.")
@click.option("--conf", "spark_conf", multiple=True, metavar="K=V",
              help="Spark setting with --engine spark, e.g. spark.executor.memory=4g (repeatable).")
@settings_options(tuple(ARBITRARY_FIELDS), fields=ARBITRARY_FIELDS)
@network_options
@preset_option
@quiet_option
def batch(contents, styles, pairs_csv, outdir, overwrite, max_input_pixels, saved_model, model, runner,
          pipeline_options, engine, master, spark_conf, quiet, **values):
    """Stylize every CONTENT with every --style into OUTDIR; resumable.

    CONTENTS and styles are files, folders or globs. A rerun skips outputs already made
    with the same settings and inputs; a failing pair is recorded in OUTDIR/manifest.jsonl
    and the batch goes on. Exit 0 when every pair succeeded, 1 otherwise.
    """
    strength = values.pop("strength")
    if model:
        summary = _batch_with_model(model, contents, styles, pairs_csv, outdir, overwrite, max_input_pixels, quiet,
                                    values, saved_model or runner or engine or master or spark_conf, strength)
    else:
        if not saved_model:  # an arbitrary-style network's export takes --strength (the request path checks)
            refuse_strength()
        refuse_network_options()
        summary = _batch_with_styles(contents, styles, pairs_csv, outdir, overwrite, max_input_pixels, saved_model,
                                     runner, pipeline_options, engine, master, spark_conf, quiet, values, strength)
    for result in summary.results:
        if result.status == "error":
            masked = f" (mask {result.mask})" if result.mask else ""
            click.echo(f"Note: {result.content} x {result.style}{masked}: {result.error}", err=True)
    click.echo(summary.summary_line(), err=True)
    if summary.interrupted:
        sys.exit(130)
    if not summary.all_ok:
        sys.exit(1)


def _batch_with_styles(contents, styles, pairs_csv, outdir, overwrite, max_input_pixels, saved_model, runner,
                       pipeline_options, engine, master, spark_conf, quiet, values, strength=None):
    """The optimization's batch: here, on an export with Beam, or on Spark."""
    if bool(pairs_csv) == bool(contents or styles):
        raise click.UsageError("expected CONTENT... with --style STYLE..., or --pairs FILE.csv")
    if not pairs_csv and not (contents and styles):
        raise click.UsageError("expected at least one CONTENT and one --style")
    if runner and not saved_model:
        raise click.UsageError("expected --saved-model with --runner (workers load the export)")
    if engine and not saved_model:
        raise click.UsageError(f"expected --saved-model with --engine {engine} (workers load the export)")
    if engine == "spark" or master or spark_conf:
        return _batch_on_spark(contents, styles, pairs_csv, outdir, saved_model, engine, runner, master,
                                  spark_conf, max_input_pixels, values, strength)
    elif saved_model or runner:
        return _batch_on_export(contents, styles, pairs_csv, outdir, saved_model, runner, pipeline_options,
                                   max_input_pixels, values, strength)
    else:
        settings = build_settings(values)
        _refuse_blend(settings.style_blend)
        with stop_signals() as stop, library_errors(tensorflow=False):
            return _batch_here(settings, contents, styles, pairs_csv, outdir, overwrite, max_input_pixels,
                                  quiet, stop)


def _refuse_blend(style_blend):
    """A batch here writes one style per output: a `--style-blend` is a usage error."""
    if style_blend is not None:
        raise click.BadParameter("expected no blend: a batch runs one style per output", param_hint="'--style-blend'")


def _batch_with_model(model, contents, styles, pairs_csv, outdir, overwrite, max_input_pixels, quiet, values,
                      engine_given, strength):
    """`batch CONTENT... --model NAME`: checks, then `tf_nst.cli.realtime.batch_with_model` (an arbitrary-style
    network: `tf_nst.cli.arbitrary.batch_with_arbitrary`)."""
    from tf_nst.cli.realtime import batch_with_model
    from tf_nst.io.model_folders import is_arbitrary_model

    _refuse_blend(values.get("style_blend"))
    with library_errors(tensorflow=False):
        arbitrary = is_arbitrary_model(model)
    if arbitrary:
        return batch_with_arbitrary(model, contents, styles, pairs_csv or engine_given, outdir, overwrite,
                                    max_input_pixels, quiet, values, strength)
    refuse_strength(model)
    if styles or pairs_csv or engine_given:
        raise click.UsageError("expected CONTENT... alone with --model (the styles are in the model; no --style, "
                               "--pairs, --saved-model, --runner or --engine)")
    if not contents:
        raise click.UsageError("expected at least one CONTENT with --model")
    return batch_with_model(model, contents, outdir, overwrite, max_input_pixels, quiet, values)


def _batch_here(settings, contents, styles, pairs_csv, outdir, overwrite, max_input_pixels, quiet, stop):
    """A batch with a model built here (`tf_nst.runs.batch.run_batch`); inputs and outputs checked before TensorFlow."""
    from tf_nst.runs import batch as batches

    pairs = batches.read_pairs_csv(pairs_csv) if pairs_csv else batches.make_pairs(contents, styles)
    batches.plan_outputs(pairs, outdir)
    import_tensorflow_quietly()
    from tf_nst.engine.stylizer import Stylizer

    announce_download(settings.backbone, settings.weights)
    stylizer = Stylizer(settings)
    bar = ProgressBar(len(pairs), "pair", quiet)
    try:
        with stop.during_optimization():
            return batches.run_batch(stylizer, pairs, outdir, callback=bar, should_stop=stop, overwrite=overwrite,
                                     max_input_pixels=max_input_pixels)
    finally:
        bar.close()


def _batch_on_export(contents, styles, pairs_csv, outdir, saved_model, runner, pipeline_options,
                     max_input_pixels, values, strength=None):
    """A batch on an exported model: an Apache Beam pipeline (DirectRunner by default)."""
    def run(**common):
        from tf_nst.runs import beam as beam_batch

        return beam_batch.run(runner=runner or "DirectRunner", pipeline_options=pipeline_options, **common)

    return _on_engine(run, contents, styles, pairs_csv, outdir, saved_model, max_input_pixels, values, strength)


def _batch_on_spark(contents, styles, pairs_csv, outdir, saved_model, engine, runner, master, spark_conf,
                    max_input_pixels, values, strength=None):
    """A batch on an exported model as an Apache Spark job (`tf_nst.runs.spark`)."""
    if engine != "spark" or runner:
        raise click.UsageError("expected --engine spark with --master/--conf, and no --runner")

    def run(**common):
        from tf_nst.runs import spark as spark_batch

        return spark_batch.run_on_master(master or "local[*]", spark_conf, **common)

    return _on_engine(run, contents, styles, pairs_csv, outdir, saved_model, max_input_pixels, values, strength)


def _on_engine(run, contents, styles, pairs_csv, outdir, saved_model, max_input_pixels, values, strength=None):
    """What every engine on an export shares: controls (`--strength` for an arbitrary-style network's export),
    pairs, size; a missing optional install is one line."""
    controls = request_controls(values, strength)
    with library_errors():
        from tf_nst.runs import batch as batches

        pairs = batches.read_pairs_csv(pairs_csv) if pairs_csv else None
        try:
            return run(contents=list(contents), styles=list(styles), pairs=pairs, outdir=outdir,
                       saved_model=saved_model, controls=controls,
                       size=values["size"] if given("size") else None, max_input_pixels=max_input_pixels)
        except ImportError as error:  # the engine's optional install (apache-beam, pyspark)
            raise click.ClickException(str(error))
