"""Real-time stylization: `train`, `models`, `stylize --model`, `video --model`, `export --model`,
`info MODEL_DIR`.

    python cli.py train STYLE [STYLE...] --photos DIR -o MODEL_DIR
    python cli.py stylize PHOTO --model starry_night -o out.png
    python cli.py video CLIP.mp4 --model starry_night -o out.mp4
    python cli.py models
    python cli.py export --model starry_night --output models/fast
    python cli.py export --model arbitrary -o models/arbitrary
"""

import json
import os

import click

from tf_nst.cli.feedback import import_tensorflow_quietly, library_errors, stop_signals
from tf_nst.cli.options import build_settings, given, settings_options
from tf_nst.errors import ModelError
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, TrainSettings, check_tune_styles, fields_by_name, option_name

TRAIN_FIELDS = fields_by_name(TrainSettings)


@click.command()
@click.argument("styles", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--photos", "photo_specs", multiple=True, required=True, metavar="DIR|GLOB|FILE",
              help="Training photos: folders, globs or files (repeatable).")
@click.option("-o", "--output", required=True, type=click.Path(), help="The model folder (a rerun resumes it).")
@click.option("--preview", "preview_specs", multiple=True, metavar="DIR|GLOB|FILE",
              help="Held-out photos rendered into OUTPUT/previews every --preview-every steps.")
@click.option("--add-style", "add_style", type=click.Path(file_okay=False), default=None, metavar="MODEL_DIR",
              help="Extend this trained model by STYLE(s), training only their normalization parameters.")
@click.option("--start-from", "start_from", type=click.Path(file_okay=False), default=None, metavar="MODEL_DIR",
              help="Start from this trained model's weights (the same STYLE(s), --width and --residual-blocks) "
                   "with a fresh optimizer: a fine-tune with other settings, e.g. larger --size crops.")
@click.option("--tune-style", "tune_styles", multiple=True, metavar="NAME",
              help="With --start-from: train only this style's normalization parameters (repeatable); the "
                   "convolutions and the other styles keep the model's weights exactly.")
@click.option("--tensorboard", type=click.Path(file_okay=False), default=None, help="TensorBoard log folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--connect-timeout", "connect_seconds", type=click.FloatRange(min=0), default=300.0, show_default=True,
              metavar="SECONDS", help="On a cluster (TF_CONFIG): how long each worker waits for the others.")
@click.option("--arbitrary", is_flag=True,
              help="Train an arbitrary-style network instead (no STYLE: decoders that give the photos back "
                   "from their features; any painting at run time with stylize PHOTO PAINTING --model OUTPUT).")
@settings_options(tuple(name for name, field in TRAIN_FIELDS.items() if field.metadata["cli"]), fields=TRAIN_FIELDS)
def train(styles, photo_specs, output, preview_specs, add_style, start_from, tune_styles, tensorboard, quiet,
          connect_seconds, arbitrary, **values):
    """Train a feed-forward network for STYLE(s) on photos: real-time stylization afterwards.

    Style names are the files' stems. Ctrl-C saves a checkpoint; the same command resumes.
    With --arbitrary, no STYLE: an arbitrary-style network for any painting.
    """
    settings = build_settings(values, TrainSettings)
    if arbitrary:
        from tf_nst.cli.arbitrary import ARBITRARY_TRAIN_FIELDS, train_arbitrary

        misplaced = [name for name in TRAIN_FIELDS if name not in ARBITRARY_TRAIN_FIELDS and given(name)]
        if styles or add_style or start_from or tune_styles or preview_specs or tensorboard or misplaced:
            extra = list(styles[:1]) + ["--add-style"] * bool(add_style) + ["--start-from"] * bool(start_from) + \
                ["--tune-style"] * bool(tune_styles) + \
                ["--preview"] * bool(preview_specs) + \
                ["--tensorboard"] * bool(tensorboard) + [option_name(TRAIN_FIELDS[name]) for name in misplaced]
            raise click.UsageError(f"expected no STYLE and none of the styles' options with --arbitrary (its "
                                   f"decoders learn from photos alone). Received: {', '.join(extra)}")
        return train_arbitrary(list(photo_specs), output, settings, quiet, connect_seconds)
    if not styles:
        raise click.UsageError("expected at least one STYLE image (or --arbitrary)")
    with library_errors(tensorflow=False):
        check_tune_styles(tune_styles, start_from)  # before TensorFlow loads
    with stop_signals() as stop, library_errors():
        from tf_nst.io.inputs import expand_inputs
        from tf_nst.runs.training import train as run_training

        previews = expand_inputs(preview_specs, name="--preview") if preview_specs else []
        with stop.during_optimization():
            provenance = run_training(list(styles), list(photo_specs), output, settings, preview_paths=previews,
                                      add_style=add_style, start_from=start_from, tune_styles=list(tune_styles),
                                      tensorboard=tensorboard,
                                      verbose=0 if quiet else 1,
                                      should_stop=stop, connect_seconds=connect_seconds)
    losses = " ".join(f"{name} {value:.4g}" for name, value in provenance.get("losses", {}).items())
    click.echo(f"Wrote {output} ({provenance['steps']} steps, {provenance['seconds']:.0f} s, "
               f"{provenance['photos']['count']} photos, {provenance['photos']['unreadable']} unreadable; {losses})",
               err=True)


@click.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="The new model folder.")
def average(folders, output):
    """Average the weights of trained model FOLDERS of one network into a new model.

    Checkpoints of one training, or fine-tunes of one model: the mean of points along a noisy training
    (stochastic weight averaging) is often closer to the painting than each.
    """
    with library_errors(tensorflow=False):
        from tf_nst.io.model_folders import average_models

        average_models(list(folders), output)
    click.echo(f"Wrote {output} (the mean of {len(folders)} models' weights)", err=True)


@click.command()
def models():
    """List the bundled and local trained models (local: $TF_NST_MODELS, default ~/.tf-nst/models)."""
    from tf_nst.io.model_folders import is_arbitrary, model_folders, read_model_info

    for kind, folder in model_folders():
        info = read_model_info(folder)
        provenance = info.get("provenance", {})
        name = os.path.basename(folder)
        what = (f"any painting (stylize PHOTO PAINTING... --model {name})" if is_arbitrary(info)
                else f"styles {', '.join(info['config']['style_names'])}")
        click.echo(f"{name} ({kind}, {folder}): {what}; {provenance.get('steps', '?')} steps")


def model_info_lines(folder):
    """`cli.py info MODEL_DIR`: what a model folder records, one `key: value` line each."""
    from tf_nst.io.model_folders import read_model_info

    info = read_model_info(folder)
    lines = [f"config: {json.dumps(info['config'])}"]
    for key, value in info.get("provenance", {}).items():
        if key == "photos":
            value = {name: item for name, item in value.items() if name != "hashes"}
        lines.append(f"{key}: {json.dumps(value, default=str)}")
    return lines


def stylize_with_model(model, content, output, overwrite, style_masks, values, max_input_pixels, quiet):
    """`stylize CONTENT --model NAME|MODEL_DIR`: one forward pass of a trained network, on onnxruntime where it
    can run (no TensorFlow import: most of the command's time), else TensorFlow (`--precision bfloat16`,
    onnxruntime missing, or a pass over the tiles' budget); the PNG records which ran."""
    with library_errors(tensorflow=False):
        from tf_nst.io import images as image_io
        from tf_nst.runs.realtime import ModelRun, planned_runtime
        from tf_nst.runs.runtimes import ONE_PHOTO_RUNTIME

        image_io.check_output_path(output, overwrite=overwrite)
        precision, stroke_size = values.get("precision") or "auto", values.get("stroke_size")
        pixels = values["size"] ** 2
        if planned_runtime(model, precision, ONE_PHOTO_RUNTIME, pixels, stroke_size) == "tensorflow":
            import_tensorflow_quietly()
        run = ModelRun(model, precision=precision, stroke_size=stroke_size, runtime=ONE_PHOTO_RUNTIME, pixels=pixels)
        blend = run.blend_for(values.get("style_blend"))
        result, seconds = run.stylize_file(content, output, values["size"], blend, mask_paths=list(style_masks),
                                           preserve_colors=values.get("preserve_colors", "none"),
                                           max_input_pixels=max_input_pixels)
    if not quiet:
        click.echo(f"Wrote {output} ({result.shape[1]}x{result.shape[0]}, model {os.path.basename(run.folder)}, "
                   f"{', '.join(f'{name} {weight:g}' for name, weight in blend.items())}, {run.precision} on "
                   f"{run.runtime}, {seconds:.2f} s"
                   + (", tiled {}x{} with shared norm statistics".format(*run.runner.tiling) if run.runner.tiling else "")
                   + ")", err=True)


def batch_with_model(model, contents, outdir, overwrite, max_input_pixels, quiet, values):
    """`batch CONTENT... --model NAME|MODEL_DIR -o OUTDIR`: `tf_nst.runs.realtime.run_model_batch`."""
    from tf_nst.cli.feedback import ProgressBar

    with stop_signals() as stop, library_errors():
        from tf_nst.io.inputs import expand_inputs
        from tf_nst.runs.realtime import ModelRun, run_model_batch

        run = ModelRun(model, precision=values.get("precision") or "auto", stroke_size=values.get("stroke_size"))
        total = len(expand_inputs(contents, "content")) * len(run.default_styles)
        bar = ProgressBar(total, "image", quiet)
        try:
            return run_model_batch(run, contents, run.default_styles, outdir, values["size"],
                                   preserve_colors=values.get("preserve_colors", "none"), should_stop=stop,
                                   callback=bar, overwrite=overwrite, max_input_pixels=max_input_pixels)
        finally:
            bar.close()


def video_with_model(model, source, output, overwrite, keep_frames, style_masks, settings, video_settings, quiet,
                     paintings=(), strength=1.0, max_input_pixels=DEFAULT_MAX_INPUT_PIXELS, stroke_size=None):
    """`video SOURCE --model NAME|MODEL_DIR -o OUT`: `tf_nst.runs.video_model.stylize_video_with_model`.

    With `paintings` (`video SOURCE PAINTING... --model arbitrary`), the arbitrary-style network bound to
    them (`tf_nst.runs.arbitrary.PaintingsRun`) runs each frame. `stroke_size`: `ModelRun`'s or `ArbitraryRun`'s
    (`--stroke-size`).

    Returns:
        `(clip, VideoResult)`.
    """
    from tf_nst.cli.feedback import ProgressBar

    with stop_signals() as stop, library_errors():
        from tf_nst.runs import video as videos
        from tf_nst.runs.realtime import ModelRun
        from tf_nst.runs.video_model import stylize_video_with_model

        videos.check_video_output(output, overwrite)
        clip = videos.open_video(source, frames=video_settings.frames, every=video_settings.every)
        if paintings:
            from tf_nst.runs.arbitrary import ArbitraryRun, PaintingsRun

            run = PaintingsRun(ArbitraryRun(model, precision=settings.precision, stroke_size=stroke_size), paintings,
                               strength, max_input_pixels)
        else:
            run = ModelRun(model, precision=settings.precision, stroke_size=stroke_size)
        blend = run.blend_for(settings.style_blend)
        bar = ProgressBar(len(clip), "frame", quiet)
        try:
            with stop.during_optimization():
                result = stylize_video_with_model(
                    run, clip, output, settings.size, blend, temporal_blend=video_settings.temporal_blend,
                    flow_method=video_settings.flow_method, preserve_colors=settings.preserve_colors,
                    region_masks=list(style_masks) or None, overwrite=overwrite, keep_frames=keep_frames, callback=bar,
                    should_stop=stop)
        finally:
            bar.close()
    return clip, result


def model_start(name, content_rgb, settings, styles=(), regions=None):
    """`--init model:NAME`: the trained network's result on the content (at `--size`), as the start image.

    An arbitrary-style network (`model:arbitrary`) takes the run's STYLE images as its paintings, with the
    run's blend and region masks.
    """
    import types

    from tf_nst.io.model_folders import is_arbitrary_model

    if is_arbitrary_model(name):
        from tf_nst.runs.arbitrary import ArbitraryRun

        run = ArbitraryRun(name, precision=settings.precision)
        masks = regions.region_masks if regions is not None else None
        return types.SimpleNamespace(rgb=run.stylize(content_rgb, [style.rgb for style in styles], settings.size,
                                                     blend=settings.style_blend, region_masks=masks))
    from tf_nst.runs.realtime import ModelRun

    return types.SimpleNamespace(rgb=ModelRun(name, precision=settings.precision).stylize(content_rgb, settings.size))


def export_trained_model(model, output, version, max_pixels, model_name, precision="float32", stroke_size=None):
    """`export --model NAME|MODEL_DIR --output DIR`: the network as a servable SavedModel, at `precision`
    (float32 by default: the server's CPU is unknown) and `stroke_size` (`ModelRun`'s or `ArbitraryRun`'s,
    baked into the export). An arbitrary-style network's export takes the paintings."""
    with library_errors():
        from tf_nst.io.model_folders import is_arbitrary_model

        if is_arbitrary_model(model):
            from tf_nst.runs.arbitrary import ArbitraryRun
            from tf_nst.serving.arbitrary_export import export_arbitrary

            run = ArbitraryRun(model, precision=precision, stroke_size=stroke_size)
            path = export_arbitrary(run.stylizer, output, run.model_settings(), run.info, version=version,
                                    max_pixels=max_pixels, model_name=model_name)
            click.echo(f"Exported {path} (network {os.path.basename(run.folder)}, any painting; {run.precision}; "
                       f"stroke size {run.stroke_size}; signatures serving_default, stylize_bytes)")
            return
        from tf_nst.runs.realtime import ModelRun
        from tf_nst.serving.feedforward_export import export_network

        run = ModelRun(model, precision=precision, stroke_size=stroke_size)
        path = export_network(run.runner.network, output, run.info, version=version, max_pixels=max_pixels,
                              model_name=model_name, stroke_size=run.stroke_size)
    click.echo(f"Exported {path} (styles {', '.join(run.style_names)}; {run.precision}; signatures serving_default, "
               "stylize_bytes)")


def check_model_folder(path):
    """`info` on a folder: the model's lines, or a `ModelError` (`Error:` line) for any other folder."""
    try:
        return model_info_lines(path)
    except ModelError as error:
        raise click.ClickException(str(error))
