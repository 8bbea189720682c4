"""Any painting in one pass: `stylize PHOTO PAINTING... --model arbitrary` and `train --arbitrary`.

    python cli.py stylize photo.jpg painting.jpg --model arbitrary -o out.png
    python cli.py stylize photo.jpg a.jpg b.jpg --model arbitrary --style-blend a:2,b:1 --strength 0.8
    python cli.py batch photos/ -s paintings/ --model arbitrary -o out/
    python cli.py video clip.mp4 painting.jpg --model arbitrary -o clip_painted.mp4
    python cli.py train --arbitrary --photos photos/ -o models/mine --steps 20000
"""

import os

import click

from tf_nst.cli.feedback import ProgressBar, import_tensorflow_quietly, library_errors, stop_signals
from tf_nst.cli.options import given
from tf_nst.runs.runtimes import ONE_PHOTO_RUNTIME

# TrainSettings fields an arbitrary-style network's training reads (the rest are the losses of a
# network trained for given styles).
ARBITRARY_TRAIN_FIELDS = ("backbone", "precision", "size", "batch_size", "num_steps", "learning_rate",
                          "checkpoint_every", "seed", "transfer_weight")


def refuse_strength(model=None):
    """`--strength` typed without an arbitrary-style network (`model`: the other network, or None): a usage error."""
    if not given("strength"):
        return
    if model:
        raise click.UsageError(f"expected --strength only with an arbitrary-style network (--model arbitrary). "
                               f"Received: --model {model}")
    raise click.UsageError("expected --strength only with --model arbitrary (the optimization weighs the style with "
                           "--style-weight)")


def stylize_with_arbitrary(model, content, paintings, output, overwrite, region_masks, values, strength,
                           max_input_pixels, quiet):
    """`stylize PHOTO PAINTING... --model arbitrary`: the arbitrary-style network, any painting."""
    if not paintings:
        raise click.UsageError(f"expected at least one PAINTING after the photo with --model {model} (any painting "
                               "works). Received: none")
    if region_masks and len(region_masks) != len(paintings):
        raise click.BadParameter(f"expected one --region-mask per PAINTING ({len(paintings)}), received "
                                 f"{len(region_masks)}", param_hint="'--region-mask'")
    with library_errors(tensorflow=False):
        from tf_nst.runs.arbitrary_run import ArbitraryRun, planned_runtime

        # One photo: onnxruntime where it can run (no TensorFlow import, most of the command's time), else
        # TensorFlow (--precision bfloat16, or onnxruntime missing); the PNG records which ran.
        # A network pass over more pixels than the tiles' budget (at most --size squared, or the stroke size's
        # square at the stroke scale) goes to TensorFlow, which works in tiles.
        precision, pixels = values.get("precision") or "auto", values["size"] ** 2
        stroke_size = values.get("stroke_size")
        if planned_runtime(model, precision, ONE_PHOTO_RUNTIME, pixels, stroke_size) == "tensorflow":
            import_tensorflow_quietly()
        run = ArbitraryRun(model, precision=precision, runtime=ONE_PHOTO_RUNTIME, pixels=pixels,
                           stroke_size=stroke_size)
        result, seconds = run.stylize_file(content, list(paintings), output, values["size"], strength=strength,
                                           blend=values.get("style_blend"), mask_paths=list(region_masks) or None,
                                           preserve_colors=values.get("preserve_colors", "none"),
                                           max_input_pixels=max_input_pixels)
    if not quiet:
        click.echo(f"Wrote {output} ({result.shape[1]}x{result.shape[0]}, network {os.path.basename(run.folder)}, "
                   f"{len(paintings)} painting(s), strength {strength:g}, {run.precision} on {run.runtime}, "
                   f"{seconds:.2f} s)",
                   err=True)


def batch_with_arbitrary(model, contents, paintings, misplaced, outdir, overwrite, max_input_pixels, quiet, values,
                         strength):
    """`batch PHOTO... -s PAINTING... --model arbitrary -o OUTDIR`: `tf_nst.runs.arbitrary.run_arbitrary_batch`;
    inputs and outputs checked before TensorFlow's import (`misplaced`: --pairs or an engine was given)."""
    if misplaced or not (contents and paintings):
        raise click.UsageError(f"expected CONTENT... with -s PAINTING... and --model {model} (every photo with every "
                               "painting; no --pairs, --saved-model, --runner or --engine)")
    with stop_signals() as stop, library_errors(tensorflow=False):
        from tf_nst.runs import batch as batches

        pairs = batches.make_pairs(contents, paintings)
        batches.plan_outputs(pairs, outdir)
        import_tensorflow_quietly()
        from tf_nst.runs.arbitrary import ArbitraryRun, run_arbitrary_batch

        run = ArbitraryRun(model, precision=values.get("precision") or "auto", stroke_size=values.get("stroke_size"))
        bar = ProgressBar(len(pairs), "image", quiet)
        try:
            return run_arbitrary_batch(run, contents, paintings, outdir, values["size"], strength,
                                       preserve_colors=values.get("preserve_colors", "none"), should_stop=stop,
                                       callback=bar, overwrite=overwrite, max_input_pixels=max_input_pixels)
        finally:
            bar.close()


def train_arbitrary(photo_specs, output, settings, quiet, connect_seconds=300.0):
    """`train --arbitrary --photos DIR -o FOLDER`: the decoders of an arbitrary-style network, resumable; under
    `TF_CONFIG`, on every worker of the cluster (the chief writes the folder)."""
    with stop_signals() as stop, library_errors():
        from tf_nst.runs.arbitrary_training import train_inverter

        with stop.during_optimization():
            provenance = train_inverter(photo_specs, output, backbone=settings.backbone, size=settings.size,
                                        batch_size=settings.batch_size, num_steps=settings.num_steps,
                                        learning_rate=settings.learning_rate,
                                        checkpoint_every=settings.checkpoint_every, precision=settings.precision,
                                        seed=settings.seed, transfer_weight=settings.transfer_weight,
                                        verbose=0 if quiet else 1, should_stop=stop, connect_seconds=connect_seconds)
    if not quiet:
        click.echo(f"Wrote {output} ({provenance['steps']} steps, {provenance['photos']['count']} photos, "
                   f"{provenance['seconds']:.0f} s of training)", err=True)
