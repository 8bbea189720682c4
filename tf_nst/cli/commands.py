"""tf-nst command line: a thin click layer over the `tf_nst` library.

    python cli.py stylize [CONTENT] [STYLE...] -o OUT.png
    python cli.py info OUT.png
    python cli.py export --output models/tf_nst
    python cli.py stylize --saved-model models/tf_nst/1 CONTENT STYLE -o OUT.png
    python cli.py request --server HOST:8500 CONTENT STYLE -o OUT.png

Every setting's option is built from its `StylizeSettings` field (tf_nst/settings/schema.py):
the option's destination is the field name and its default the field's, so a new
setting appears here by itself. Options shared by several commands are decorators
(`settings_options`, `output_options`, ...). TensorFlow is imported only when a
command runs, so `--help` and usage errors are fast.
"""

import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import threading

import click
from click.core import ParameterSource

from tf_nst import settings as settings_module
from tf_nst.errors import InvalidArgumentError, NSTError
from tf_nst.serving import contract
from tf_nst.serving.contract import EXPORT_MODEL_FIELDS
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS, EXPORT_INIT_MODES, RUNNERS, StylizeSettings, VideoSettings

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
DEFAULT_CONTENT = os.path.join(ASSETS, "astronaut.png")
DEFAULT_STYLE = os.path.join(ASSETS, "starry_night.jpg")

FIELDS = settings_module.fields_by_name()
CLI_FIELDS = tuple(name for name, field in FIELDS.items() if field.metadata["cli"])
CONTROL_SETTINGS = settings_module.control_names()  # what a request may still send (the export fixes the rest)
VIDEO_FIELDS = settings_module.fields_by_name(VideoSettings)


# --- settings as options ------------------------------------------------------------------------

class SettingType(click.ParamType):
    """A field with its own syntax (layer lists, scales, sizes): parsed by the field's parser."""

    def __init__(self, field):
        self.field = field
        self.name = field.metadata["metavar"] or field.name.upper()

    def convert(self, value, param, ctx):
        try:
            return self.field.metadata["parse"](value, self.field.name)
        except InvalidArgumentError as error:
            self.fail(str(error), param, ctx)


def option_type(field):
    meta = field.metadata
    if meta["parse"] is not None:
        return SettingType(field)
    if meta["choices"] is not None:
        return click.Choice(meta["choices"])
    if meta["kind"] is int:
        return click.IntRange(meta["minimum"], meta["maximum"], min_open=meta["min_open"], max_open=meta["max_open"])
    if meta["kind"] is float:
        return click.FloatRange(meta["minimum"], meta["maximum"], min_open=meta["min_open"],
                                max_open=meta["max_open"])
    return click.STRING


def setting_option(name, default=dataclasses.MISSING, help_suffix="", choices=None, fields=FIELDS):
    """The click option of field `name`: destination the field name, default the field's."""
    field = fields[name]
    meta = field.metadata
    if default is dataclasses.MISSING:
        default = meta["cli_default"] if meta["cli_default"] is not None else field.default
    help_text = meta["help"] + (f" {help_suffix}" if help_suffix else "")
    if meta["cli_default"] is not None and default == meta["cli_default"]:
        help_text += f" (Python API default: {field.default})"
    option = settings_module.option_name(field)
    if meta["kind"] is bool:
        return click.option(f"{option}/--no-{option[2:]}", name, default=default, show_default=True, help=help_text)
    return click.option(option, name, type=click.Choice(choices) if choices else option_type(field),
                        default=default, show_default=default is not None, help=help_text)


def settings_options(names=CLI_FIELDS, defaults=True, help_suffix="", choices=None, fields=FIELDS):
    """Add one option per settings field in `names` (defaults from the settings class, or None)."""
    choices = choices or {}

    def decorator(function):
        for name in reversed(names):
            default = dataclasses.MISSING if defaults else None
            function = setting_option(name, default, help_suffix, choices.get(name), fields)(function)
        return function

    return decorator


def output_options(default="stylized.png"):
    """`-o/--output` and `--overwrite`."""
    def decorator(function):
        function = click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")(function)
        return click.option("-o", "--output", default=default, show_default=True,
                            help="Output PNG path.")(function)
    return decorator


def input_options(function):
    """`--max-input-pixels`."""
    return click.option("--max-input-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_INPUT_PIXELS,
                        show_default=True,
                        help="Refuse input images with more pixels than this (decompression-bomb guard).")(function)


def quiet_option(function):
    return click.option("--quiet", is_flag=True, help="No progress bar.")(function)


def run_options(function):
    """Options of long runs: snapshots, TensorBoard, JSON log."""
    function = click.option("--log-json", type=click.Path(dir_okay=False), default=None,
                            help="Write settings and loss history to this JSON file.")(function)
    function = click.option("--tensorboard", type=click.Path(file_okay=False), default=None,
                            help="Write every loss part per evaluation and the snapshots as images to "
                                 "DIR/<output name> (tensorboard --logdir DIR).")(function)
    return click.option("--save-every", type=click.IntRange(min=0), default=None,
                        help="Also write OUT-000100.png style snapshots every N steps (0: none, e.g. to "
                             "override a preset's).")(function)


def replay_options(function):
    """`--preset` and `--from`: defaults for this invocation, keyed by field names."""
    function = click.option(
        "--from", "from_png", type=click.Path(exists=True, dir_okay=False), default=None, is_eager=True,
        expose_value=False, callback=_from_callback,
        help="Replay the settings (and inputs) stored in a tf-nst PNG; explicit options override.")(function)
    return click.option(
        "--preset", type=click.Choice(_preset_names()), default=None, is_eager=True, expose_value=False,
        callback=_preset_callback,
        help="Published settings (see tf_nst/settings/presets.py); explicit options override them.")(function)


def _preset_names():
    from tf_nst.settings.presets import PRESETS

    return tuple(PRESETS)


def cli_value(name, value):
    """A stored settings value as its option would be typed (for `default_map`)."""
    if name == "weights" and value is None:
        return "random"
    if isinstance(value, dict):
        return settings_module.format_layer_weights(value)
    return value  # lists (scales, scale_steps, style_blend) go to their parsers as they are


def _set_defaults(ctx, values):
    """Make `values` (field or option names) the defaults of this invocation: options given still win."""
    ctx.default_map = {**(ctx.default_map or {}), **values}


def _preset_callback(ctx, param, value):
    if value is not None:
        from tf_nst.settings.presets import get_preset

        _set_defaults(ctx, {name: cli_value(name, item) for name, item in get_preset(value).items()})
        ctx.meta["preset"] = value
    return value


def _from_callback(ctx, param, value):
    """Replay the settings stored in a tf-nst PNG."""
    if value is None:
        return value
    from tf_nst.io.provenance import read_provenance

    try:
        stored = read_provenance(value)
    except NSTError as error:
        raise click.BadParameter(str(error))
    settings = stored["settings"]
    values = {name: cli_value(name, settings[name]) for name in CLI_FIELDS
              if name in settings and not (settings[name] is None and name != "weights")}
    _set_defaults(ctx, values)
    inputs = stored.get("inputs") or []
    ctx.meta["replay_inputs"] = (inputs[0], inputs[1:]) if inputs else (None, None)
    return value


def given(name):
    """True when option `name` was typed on this command line (not a default, preset or --from)."""
    return click.get_current_context().get_parameter_source(name) == ParameterSource.COMMANDLINE


def build_settings(values):
    """`StylizeSettings` from the command's field values; library errors become usage errors."""
    try:
        return StylizeSettings(**{name: value for name, value in values.items() if name in FIELDS})
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))


# --- errors and TensorFlow ------------------------------------------------------------------------

def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up log lines (oneDNN, CUDA probes) discarded.

    They would bury the progress bar and `Error:` lines; absl prints them before
    TF_CPP_MIN_LOG_LEVEL is honoured, so stderr is muted at the file-descriptor level.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow as tf

        tf.constant(0)  # device initialisation logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def library_errors():
    """Import TensorFlow, then turn library errors into one `Error: ...` line (usage errors exit 2)."""
    import_tensorflow_quietly()
    try:
        yield
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))
    except NSTError as error:
        raise click.ClickException(str(error))


@click.group()
def cli():
    """Neural style transfer in TensorFlow/Keras."""


# --- stylize --------------------------------------------------------------------------------------

@cli.command()
@click.argument("content", required=False, type=click.Path(dir_okay=True))
@click.argument("styles", nargs=-1, type=click.Path(dir_okay=True))
@output_options()
@settings_options()
@run_options
@input_options
@click.option("--saved-model", type=click.Path(exists=True, file_okay=False), default=None,
              help="Run this export (python cli.py export) instead of building the model here.")
@replay_options
@quiet_option
def stylize(content, styles, output, overwrite, save_every, tensorboard, log_json, max_input_pixels, saved_model,
            quiet, **values):
    """Stylize CONTENT with one or more STYLE images and write a PNG.

    With no arguments, stylizes the bundled astronaut photo with The Starry Night.
    """
    replay_content, replay_styles = click.get_current_context().meta.get("replay_inputs", (None, None))
    content = content or replay_content or DEFAULT_CONTENT
    styles = list(styles) or list(replay_styles or []) or [DEFAULT_STYLE]
    # A replayed (--from) schedule belongs to the replayed size and steps: new ones given here win.
    if not given("scale_steps") and given("num_steps"):
        values["scale_steps"] = None
    if not given("scales") and given("size"):
        values["scales"] = "auto"
    if saved_model:
        return _stylize_saved_model(saved_model, content, styles, output, overwrite, max_input_pixels, quiet,
                                    values)
    settings = build_settings(values)
    if settings.style_blend is not None and len(settings.style_blend) != len(styles):
        raise click.BadParameter(
            f"expected {len(styles)} weights (one per style), received {len(settings.style_blend)}",
            param_hint="'--style-blend'")
    with _stop_signals() as stop, library_errors():
        from tf_nst.io import images as image_io
        from tf_nst.engine.stylizer import Stylizer

        # Every check that can fail runs before the (long) optimization.
        image_io.check_output_path(output, overwrite=overwrite)
        if log_json:
            image_io.check_output_path(log_json, overwrite=overwrite, suffix=".json")
        content_image = image_io.load_image(content, max_input_pixels=max_input_pixels)
        style_images = [image_io.load_image(path, max_input_pixels=max_input_pixels) for path in styles]
        if isinstance(settings.init, str) and settings.init not in settings_module.INIT_MODES:
            # Checked before the model is built, with the run's pixel cap (Stylizer's own read has neither).
            image_io.load_image(settings.init, max_input_pixels=max_input_pixels)
        _announce_download(settings.backbone, settings.weights)
        _check_preset_backbone(settings.backbone, settings.loss_form)
        stylizer = Stylizer(settings)
        config = stylizer.get_config()
        inputs = [content] + styles
        reporter = ProgressReporter(stylizer.schedule.total_steps, quiet, output, save_every, config, inputs,
                                    tensorboard, stylizer.loss_names)
        stop.optimizing = True
        try:
            result = stylizer.stylize(content_image, style_images, callback=reporter,
                                      should_stop=lambda: stop.requested,
                                      chunk_steps=math.gcd(5, save_every) if save_every else 5)
            reporter.finish(result)
        finally:
            reporter.close()
            stop.optimizing = False
        tiling = tiling_text(result.tiling)
        image_io.save_png(output, result.image, alpha=result.alpha, settings=config, inputs=inputs,
                          text={"tf_nst:tiling": json.dumps(result.tiling)})
        if log_json:
            _write_json(log_json, {"settings": config, "inputs": inputs, "loss_names": list(result.loss_names),
                                   "history": result.history.tolist(), "seconds": result.seconds,
                                   "steps": result.steps, "best_loss": result.best_loss, "tiling": result.tiling})
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{result.steps} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g}, "
                   f"{config['precision']}, {tiling})", err=True)
    if result.status == "stopped":  # tf_nst.engine.status.RunStatus.STOPPED; a time budget exits 0
        sys.exit(130)


def tiling_text(plans):
    """`untiled`, or per tiled scale `1024x768: tiles of 512 px`."""
    tiled = [f"{plan['size'][0]}x{plan['size'][1]}: tiles of {plan['tile_size']} px"
             for plan in plans if plan["tile_size"]]
    return "; ".join(tiled) if tiled else "untiled"


class _StopRequest:
    """Ctrl-C (SIGINT) and SIGTERM during the optimization ask it to stop at the next chunk.

    The run then returns the best image so far, which is written (exit 130). A signal is
    only turned into a flag: an exception raised at an arbitrary point inside TensorFlow's
    Python code could be lost. Before the optimization starts, or on a second signal, it
    raises KeyboardInterrupt at once.
    """

    def __init__(self):
        self.requested = False
        self.optimizing = False

    def __call__(self, signum, frame):
        if self.optimizing and not self.requested:
            self.requested = True
            return
        raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_signals():
    """Install `_StopRequest` for SIGINT and SIGTERM; an interrupt before the first step exits 130."""
    stop = _StopRequest()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, stop)
    try:
        yield stop
    except KeyboardInterrupt:
        click.echo("Error: interrupted before the first step; nothing written", err=True)
        sys.exit(130)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _check_preset_backbone(backbone, loss_form):
    """Warn when a preset's unnormalized weights meet features they were not set for."""
    from tf_nst.settings.presets import get_preset

    preset = click.get_current_context().meta.get("preset")
    if preset is None or loss_form == "normalized":
        return
    published = get_preset(preset)["backbone"]
    if backbone != published:
        click.echo(f"Note: preset {preset}'s weights were set for {published} features; with {backbone} its "
                   f"unnormalized {loss_form} losses strike a different balance between content and style "
                   f"(the default normalized losses carry across backbones)", err=True)


def _announce_download(backbone, weights):
    """Say so before Keras fetches ImageNet weights (it would otherwise print to stdout)."""
    from tf_nst.engine.backbones import pending_download

    url = pending_download(backbone, weights)
    if url:
        click.echo(f"Note: downloading the {backbone} ImageNet weights (once) from {url}", err=True)


class ProgressReporter:
    """tqdm progress bar with losses; snapshots every N steps (with provenance); TensorBoard."""

    def __init__(self, total, quiet, output, save_every, settings, inputs, tensorboard=None, loss_names=()):
        from tqdm import tqdm

        self.bar = None if quiet else tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stderr)
        self.output, self.save_every = output, save_every
        self.settings, self.inputs = settings, inputs
        self.logger = None
        if tensorboard:
            from tf_nst.runs.tensorboard import TensorBoardLogger

            run = os.path.splitext(os.path.basename(output))[0]
            self.logger = TensorBoardLogger(os.path.join(tensorboard, run), loss_names)

    def __call__(self, progress):
        if self.bar is not None:
            self.bar.update(progress.step - self.bar.n)
            self.bar.set_postfix(
                {name: f"{value:.3g}" for name, value in progress.losses.items()}, refresh=False)
        if self.logger is not None:
            self.logger.log_losses(progress)
        if self.save_every and progress.step % self.save_every == 0:
            from tf_nst.io.images import save_png

            image = progress.best_image()
            root, _ = os.path.splitext(self.output)
            save_png(f"{root}-{progress.step:06d}.png", image, settings=self.settings, inputs=self.inputs)
            if self.logger is not None:
                self.logger.log_image(progress.step, image)

    def finish(self, result):
        if self.logger is not None:
            self.logger.log_image(result.steps, result.image)

    def close(self):
        if self.bar is not None:
            self.bar.close()
        if self.logger is not None:
            self.logger.close()


def _write_json(path, data):
    from tf_nst.io.atomic import atomic_output

    with atomic_output(path, mode="w") as stream:
        json.dump(data, stream, indent=1)


# --- info -----------------------------------------------------------------------------------------

@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
def info(image):
    """Print the settings, input hashes and versions stored in a tf-nst PNG."""
    from tf_nst.io.provenance import read_png_text

    try:
        text = read_png_text(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise click.ClickException(f"{image}: cannot read PNG ({error})")
    entries = {key: value for key, value in text.items() if key.startswith("tf_nst:")}
    if "tf_nst:settings" not in entries:
        raise click.ClickException(f"{image}: no tf-nst settings found (not written by tf-nst)")
    for key, value in entries.items():
        click.echo(f"{key[len('tf_nst:'):]}: {value}")


# --- serving --------------------------------------------------------------------------------------

def export_controls(values):
    """The controls given for an exported model (`tf_nst.serving.contract.export_controls`); others: usage error."""
    try:
        return contract.export_controls(values, [name for name in CLI_FIELDS if given(name)])
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))


def _stylize_saved_model(path, content, styles, output, overwrite, max_input_pixels, quiet, values):
    controls = export_controls(values)
    if len(styles) != 1:
        raise click.UsageError(f"expected one STYLE with --saved-model. Received: {len(styles)}")
    with library_errors():
        from tf_nst.io import images as image_io
        from tf_nst.serving import client as serving

        image_io.check_output_path(output, overwrite=overwrite)
        content_rgb, style_rgb = _load_request_images(content, styles[0], max_input_pixels)
        model = serving.load_saved_model(path)
        min_side = model.info.get("min_side", settings_module.MIN_SIDE)
        result = model.stylize(serving.prepare_image(content_rgb, values["size"], min_side),
                               serving.prepare_image(style_rgb, values["size"], min_side),
                               **contract.wire_controls(controls))
        image_io.save_png(output, result.image, settings={"saved_model": os.path.abspath(path), **controls},
                          inputs=[content, styles[0]])
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{len(result.losses) - 1} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g})", err=True)


def _load_request_images(content, style, max_input_pixels):
    from tf_nst.io import images as image_io

    return (image_io.load_image(content, max_input_pixels=max_input_pixels).rgb,
            image_io.load_image(style, max_input_pixels=max_input_pixels).rgb)


@cli.command()
@click.option("--output", required=True, type=click.Path(file_okay=False),
              help="Model base folder (TF Serving's base_path); the export goes to OUTPUT/VERSION.")
@click.option("--version", type=click.IntRange(min=1), default=None,
              help="Integer version folder. Default: the next free one.")
@settings_options(EXPORT_MODEL_FIELDS)
@settings_options(CONTROL_SETTINGS, help_suffix="(A request's default.)", choices={"init": EXPORT_INIT_MODES})
@click.option("--max-steps", type=click.IntRange(min=1), default=contract.DEFAULT_MAX_STEPS, show_default=True,
              help="Server-side cap on a request's steps.")
@click.option("--max-pixels", type=click.IntRange(min=contract.MIN_MAX_PIXELS), default=contract.DEFAULT_MAX_PIXELS,
              show_default=True, help="Server-side cap on each image's width*height.")
@click.option("--model-name", default=contract.MODEL_NAME, show_default=True,
              help="Model name used in the warmup requests.")
def export(output, version, max_steps, max_pixels, model_name, **values):
    """Export the optimization as a SavedModel for TF Serving (OUTPUT/VERSION)."""
    import time

    settings = build_settings({**values, "precision": "float32"})  # the server's CPU is unknown
    with library_errors():
        from tf_nst.serving.export import export_model
        from tf_nst.engine.stylizer import Stylizer

        started = time.perf_counter()
        _announce_download(settings.backbone, settings.weights)
        path = export_model(Stylizer(settings), output, version=version, max_steps=max_steps,
                            max_pixels=max_pixels, model_name=model_name)
    size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)
    click.echo(f"Exported {path} ({size / 1e6:.0f} MB, {time.perf_counter() - started:.1f} s; "
               f"signatures {', '.join(contract.SIGNATURE_NAMES)})")


@cli.command()
@click.argument("content", type=click.Path(dir_okay=False))
@click.argument("style", type=click.Path(dir_okay=False))
@output_options()
@click.option("--server", default=None, help="TF Serving gRPC address HOST:PORT (port 8500).")
@click.option("--rest", default=None, help="TF Serving REST address HOST:PORT (port 8501) instead of gRPC.")
@click.option("--model", "model_name", default=contract.MODEL_NAME, show_default=True, help="Served model name.")
@click.option("--model-version", type=click.IntRange(min=1), default=None, help="Default: the latest.")
@click.option("--signature", type=click.Choice(contract.SIGNATURE_NAMES), default=contract.SERVING_DEFAULT,
              show_default=True, help="gRPC: raw uint8 tensors or PNG bytes. REST always uses stylize_bytes.")
@settings_options(("size",), help_suffix="Images are resized to it before sending.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=contract.DEFAULT_TIMEOUT, show_default=True,
              help="Deadline in seconds (the server cancels the run after it).")
@settings_options(CONTROL_SETTINGS, defaults=False, help_suffix="Default: the export's.",
                  choices={"init": EXPORT_INIT_MODES})
@input_options
@quiet_option
def request(content, style, output, overwrite, server, rest, model_name, model_version, signature, timeout,
            max_input_pixels, quiet, size, **controls):
    """Stylize CONTENT with STYLE on a TF Serving model server."""
    if bool(server) == bool(rest):
        raise click.UsageError("expected exactly one of --server HOST:8500 (gRPC) or --rest HOST:8501")
    with library_errors():
        from tf_nst.io import images as image_io
        from tf_nst.serving import client as serving

        controls = contract.wire_controls(controls)
        image_io.check_output_path(output, overwrite=overwrite)
        content_rgb, style_rgb = _load_request_images(content, style, max_input_pixels)
        content_rgb, style_rgb = serving.prepare_image(content_rgb, size), serving.prepare_image(style_rgb, size)
        if rest:
            result = serving.request_rest(rest, content_rgb, style_rgb, model_name=model_name,
                                          version=model_version, timeout=timeout, **controls)
        else:
            result = serving.request_grpc(server, content_rgb, style_rgb, model_name=model_name,
                                          version=model_version, signature=signature, timeout=timeout, **controls)
        image_io.save_png(output, result.image,
                          settings={"server": server or rest, "model": model_name, **{
                              key: value for key, value in controls.items() if value is not None}},
                          inputs=[content, style])
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{len(result.losses) - 1} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g})", err=True)


# --- batch ----------------------------------------------------------------------------------------

@cli.command()
@click.argument("contents", nargs=-1, type=click.Path())
@click.option("-s", "--style", "styles", multiple=True, type=click.Path(),
              help="Style image, folder or glob (repeatable). Every content runs with every style.")
@click.option("--pairs", "pairs_csv", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CSV with content,style columns: run these pairs instead of every content x every style.")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Output folder: OUTDIR/<content>--<style>.png and OUTDIR/manifest.jsonl.")
@click.option("--overwrite", is_flag=True, help="Replace files in OUTDIR that tf-nst did not write.")
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
@click.option("--preset", type=click.Choice(_preset_names()), default=None, is_eager=True, expose_value=False,
              callback=_preset_callback, help="Published settings (see tf_nst/settings/presets.py).")
@quiet_option
def batch(contents, styles, pairs_csv, outdir, overwrite, max_input_pixels, saved_model, runner, pipeline_options,
          quiet, **values):
    """Stylize every CONTENT with every --style into OUTDIR; resumable.

    CONTENTS and styles are files, folders or globs. A rerun skips outputs already made
    with the same settings and inputs; a failing pair is recorded in OUTDIR/manifest.jsonl
    and the batch goes on. Exit 0 when every pair succeeded, 1 otherwise.
    """
    if bool(pairs_csv) == bool(contents or styles):
        raise click.UsageError("expected CONTENT... with --style STYLE..., or --pairs FILE.csv")
    if not pairs_csv and not (contents and styles):
        raise click.UsageError("expected at least one CONTENT and one --style")
    if runner and not saved_model:
        raise click.UsageError("expected --saved-model with --runner (workers load the export)")
    if saved_model or runner:
        summary = _batch_on_export(contents, styles, pairs_csv, outdir, saved_model, runner, pipeline_options,
                                   max_input_pixels, values)
    else:
        settings = build_settings(values)
        if settings.style_blend is not None:
            raise click.BadParameter("expected no blend: a batch runs one style per output", param_hint="'--style-blend'")
        with _stop_signals() as stop, library_errors():
            from tf_nst.runs import batch as batches
            from tf_nst.engine.stylizer import Stylizer

            from tqdm import tqdm

            pairs = batches.read_pairs_csv(pairs_csv) if pairs_csv else batches.make_pairs(contents, styles)
            batches.plan_outputs(pairs, outdir)
            _announce_download(settings.backbone, settings.weights)
            stylizer = Stylizer(settings)
            bar = tqdm(total=len(pairs), unit="pair", file=sys.stderr, disable=quiet, dynamic_ncols=True)

            def progress(event):  # a tf_nst.runs.contract.PairProgress
                bar.update(event.done - bar.n)
                bar.set_postfix({status: count for status, count in event.counts.items() if count}, refresh=False)

            stop.optimizing = True
            try:
                summary = batches.run_batch(stylizer, pairs, outdir, callback=progress,
                                            should_stop=lambda: stop.requested, overwrite=overwrite,
                                            max_input_pixels=max_input_pixels)
            finally:
                bar.close()
                stop.optimizing = False
    for result in summary.results:
        if result.status == "error":
            click.echo(f"Note: {result.content} x {result.style}: {result.error}", err=True)
    click.echo(summary.summary_line(), err=True)
    if summary.interrupted:
        sys.exit(130)
    if not summary.all_ok:
        sys.exit(1)


def _batch_on_export(contents, styles, pairs_csv, outdir, saved_model, runner, pipeline_options,
                     max_input_pixels, values):
    """A batch on an exported model: an Apache Beam pipeline (DirectRunner by default)."""
    controls = export_controls(values)
    with library_errors():
        try:
            from tf_nst.runs import beam as beam_batch
        except ImportError as error:
            raise click.ClickException(str(error))
        from tf_nst.runs import batch as batches

        pairs = batches.read_pairs_csv(pairs_csv) if pairs_csv else None
        return beam_batch.run(contents=list(contents), styles=list(styles), pairs=pairs, outdir=outdir,
                              saved_model=saved_model, controls=contract.wire_controls(controls),
                              size=values["size"] if given("size") else None, runner=runner or "DirectRunner",
                              pipeline_options=pipeline_options, max_input_pixels=max_input_pixels)


# --- video ----------------------------------------------------------------------------------------

@cli.command()
@click.argument("source", type=click.Path(exists=True))
@click.argument("styles", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True,
              help="Output: OUT.mp4, OUT.gif or a folder for PNG frames (at the input's frame rate).")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@settings_options(tuple(VIDEO_FIELDS), fields=VIDEO_FIELDS)
@click.option("--keep-frames", is_flag=True, help="Keep the stylized frames (OUTPUT.work/) after assembling.")
@settings_options()
@input_options
@click.option("--preset", type=click.Choice(_preset_names()), default=None, is_eager=True, expose_value=False,
              callback=_preset_callback, help="Published settings (see tf_nst/settings/presets.py).")
@quiet_option
def video(source, styles, output, overwrite, keep_frames, max_input_pixels, quiet, **values):
    """Stylize a video (MP4, WebM, GIF) or a folder of frames with STYLE, without flicker.

    Frame 1 runs the full schedule; each later frame starts from the previous result warped
    by the optical flow and adds the temporal loss (Ruder et al. 2016). Finished frames are
    kept in OUTPUT.work/: rerun the same command to resume after an interruption.
    """
    video_settings = _build(VideoSettings, {name: values.pop(name) for name in VIDEO_FIELDS})
    settings = build_settings(values)
    with _stop_signals() as stop, library_errors():
        from tqdm import tqdm

        from tf_nst.runs import video as videos
        from tf_nst.engine.flow import TemporalLoss
        from tf_nst.engine.stylizer import Stylizer

        videos.check_video_output(output, overwrite)
        style_images = videos.load_styles(styles, max_input_pixels)  # decoded once; a bad style fails first
        clip = videos.open_video(source, frames=video_settings.frames, every=video_settings.every)
        _announce_download(settings.backbone, settings.weights)
        terms = settings.extra_loss_terms
        if video_settings.temporal_weight > 0:
            terms += (TemporalLoss(weight=video_settings.temporal_weight),)
        stylizer = Stylizer(settings, extra_loss_terms=terms)
        bar = tqdm(total=len(clip), unit="frame", dynamic_ncols=True, file=sys.stderr, disable=quiet)

        def progress(update):
            bar.update(update.frame - bar.n)
            bar.set_postfix({"s/frame": f"{update.seconds:.1f}", **{
                name: f"{value:.3g}" for name, value in list(update.losses.items())[:3]}}, refresh=False)

        stop.optimizing = True
        try:
            result = videos.stylize_video(stylizer, clip, style_images, output,
                                          frame_steps=video_settings.frame_steps,
                                          warp_start=video_settings.warp_start,
                                          flow_method=video_settings.flow_method, overwrite=overwrite,
                                          keep_frames=keep_frames, callback=progress,
                                          should_stop=lambda: stop.requested)
        finally:
            bar.close()
            stop.optimizing = False
    for note in clip.notes + result.notes:
        click.echo(f"Note: {note}", err=True)
    if result.interrupted:
        click.echo(f"Note: interrupted after {len(result.frames)} of {result.total_frames} frames; they are kept in "
                   f"{result.work_dir}: rerun the same command to resume", err=True)
        sys.exit(130)
    if not quiet:
        click.echo(f"Wrote {result.output} ({result.total_frames} frames at {float(result.fps):g} fps, "
                   f"{result.resumed} resumed from an earlier run)", err=True)


def _build(settings_class, values):
    try:
        return settings_class(**values)
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))


def main():
    cli()


if __name__ == "__main__":
    main()
