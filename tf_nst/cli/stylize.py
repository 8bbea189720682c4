"""`stylize` (one image, here or on an export) and `info` (what a tf-nst PNG stores)."""

import json
import math
import os
import sys

import click

from tf_nst.cli.feedback import (ProgressReporter, announce_download, import_tensorflow_quietly, library_errors,
                                 stop_signals, tiling_text, write_json)
from tf_nst.cli.arbitrary import refuse_strength
from tf_nst.cli.options import (ARBITRARY_FIELDS, DEFAULT_CONTENT, DEFAULT_STYLE, build_settings, input_options,
                                network_options, output_options, quiet_option, refuse_network_options,
                                replay_options, reset_replayed_schedule, run_options, settings_options,
                                style_image_mask_option, style_mask_option)
from tf_nst.cli.serving import stylize_saved_model
from tf_nst.engine.status import RunStatus
from tf_nst.settings import INIT_MODES, MODEL_INIT_PREFIX


def check_preset_backbone(backbone, loss_form):
    """Say so when a preset's unnormalized weights meet features they were not set for."""
    from tf_nst.settings.presets import backbone_note

    preset = click.get_current_context().meta.get("preset")
    note = preset and backbone_note(preset, backbone, loss_form)
    if note:
        click.echo(f"Note: {note}", err=True)


@click.command()
@click.argument("content", required=False, type=click.Path(dir_okay=True))
@click.argument("styles", nargs=-1, type=click.Path(dir_okay=True))
@output_options()
@settings_options()
@style_mask_option()
@style_image_mask_option
@run_options
@input_options
@click.option("--saved-model", type=click.Path(exists=True, file_okay=False), default=None,
              help="Run this export (python cli.py export) instead of building the model here.")
@click.option("--model", default=None, metavar="NAME|MODEL_DIR",
              help="Real time: one pass of a trained network (python cli.py models; e.g. starry_night) instead "
                   "of the optimization; no STYLE. --style-blend takes its style names (name:weight,...). "
                   "--model arbitrary: any PAINTING(s) given as STYLE.")
@settings_options(tuple(ARBITRARY_FIELDS), fields=ARBITRARY_FIELDS)
@network_options
@replay_options
@quiet_option
def stylize(content, styles, output, overwrite, style_masks, style_image_masks, save_every, tensorboard, log_json,
            max_input_pixels, saved_model, model, quiet, **values):
    """Stylize CONTENT with one or more STYLE images and write a PNG.

    With no arguments, stylizes the bundled astronaut photo with The Starry Night.
    """
    strength = values.pop("strength")
    if model:
        with library_errors(tensorflow=False):
            arbitrary = check_model_inputs(model, content or DEFAULT_CONTENT, style_masks, output, overwrite, styles)
        if arbitrary:
            from tf_nst.cli.arbitrary import stylize_with_arbitrary

            return stylize_with_arbitrary(model, content or DEFAULT_CONTENT, styles, output, overwrite, style_masks,
                                          values, strength, max_input_pixels, quiet)
        refuse_strength(model)
        return stylize_model_command(model, content, styles, output, overwrite, style_masks, values,
                                     max_input_pixels, quiet)
    if not saved_model:  # an arbitrary-style network's export takes --strength (the request path checks)
        refuse_strength()
    refuse_network_options()
    replay = click.get_current_context().meta.get("replay_inputs", (None, None, {}))
    replayed_masks = replay[2] if not (styles or style_masks or style_image_masks) else {}
    content = content or replay[0] or DEFAULT_CONTENT
    styles = list(styles) or list(replay[1] or []) or [DEFAULT_STYLE]
    masks = mask_arguments(styles, style_masks, style_image_masks, replayed_masks)
    reset_replayed_schedule(values)
    if saved_model:
        return stylize_saved_model(saved_model, content, styles, output, overwrite, max_input_pixels, quiet,
                                   values, masks, strength)
    settings = build_settings(values)
    if isinstance(settings.style_blend, dict):
        raise click.BadParameter("expected weights (numbers), one per STYLE; style names only with --model",
                                 param_hint="'--style-blend'")
    if settings.style_blend is not None and len(settings.style_blend) != len(styles):
        raise click.BadParameter(
            f"expected {len(styles)} weights (one per style), received {len(settings.style_blend)}",
            param_hint="'--style-blend'")
    with stop_signals() as stop, library_errors(tensorflow=False):
        from tf_nst.io import images as image_io

        # Every check that can fail runs before the (long) optimization; those that need no
        # TensorFlow (outputs, inputs, masks) before its import, so a wrong command answers at once.
        image_io.check_output_path(output, overwrite=overwrite)
        if log_json:
            image_io.check_output_path(log_json, overwrite=overwrite, suffix=".json")
        loaded = load_run_inputs(content, styles, masks, settings, max_input_pixels)
        import_tensorflow_quietly()
        announce_download(settings.backbone, settings.weights)
        check_preset_backbone(settings.backbone, settings.loss_form)
        config, result = _run(settings, loaded, [content] + styles, masks, output, save_every, tensorboard,
                              quiet, stop)
        image_io.save_png(output, result.image, alpha=result.alpha, settings=config, inputs=[content] + styles,
                          masks=masks or None, init=start_record(settings, loaded["init"], quiet),
                          text={"tf_nst:tiling": json.dumps(result.tiling)})
        if log_json:
            write_json(log_json, {"settings": config, "inputs": [content] + styles, "masks": masks,
                                  "loss_names": list(result.loss_names), "history": result.history.tolist(),
                                  "seconds": result.seconds, "steps": result.steps, "best_loss": result.best_loss,
                                  "tiling": result.tiling})
    _report(output, result, config, quiet)


def stylize_model_command(model, content, styles, output, overwrite, style_masks, values, max_input_pixels, quiet):
    """`stylize CONTENT --model NAME`: checks, then `tf_nst.cli.realtime.stylize_with_model`."""
    from tf_nst.cli.realtime import stylize_with_model

    if styles:
        raise click.UsageError(f"expected no STYLE with --model (the styles are in the model). "
                               f"Received: {', '.join(styles)}")
    return stylize_with_model(model, content or DEFAULT_CONTENT, output, overwrite, style_masks, values,
                              max_input_pixels, quiet)


def check_model_inputs(model, content, style_masks, output, overwrite, paintings=()):
    """`stylize --model`'s checks that need no TensorFlow: the output, the input files, the model's name.

    Returns whether the model is an arbitrary-style network (which takes PAINTINGs).
    """
    from tf_nst.io import images as image_io
    from tf_nst.io.model_folders import is_arbitrary_model

    image_io.check_output_path(output, overwrite=overwrite)
    for path in (content, *paintings, *style_masks):
        image_io.check_input_file(path)
    return is_arbitrary_model(model)


def mask_arguments(styles, style_masks, style_image_masks, replayed=None):
    """`{"region_masks": [...], "style_image_masks": [...]}` of the command line (or a replay, its old
    `style_masks` read as `region_masks` by `read_provenance`), checked for count."""
    masks = dict(replayed or {})
    if style_masks:
        masks["region_masks"] = list(style_masks)
    if style_image_masks:
        masks["style_image_masks"] = [None if path.lower() == "none" else path for path in style_image_masks]
    for role, option in (("region_masks", "--region-mask"), ("style_image_masks", "--style-image-mask")):
        if role in masks and len(masks[role]) != len(styles):
            raise click.BadParameter(f"expected one {option} per STYLE ({len(styles)}), received "
                                     f"{len(masks[role])}", param_hint=f"'{option}'")
    return masks


def load_run_inputs(content, styles, masks, settings, max_input_pixels):
    """Read every input once, with the pixel cap, and build the run's `Regions` from them (before the model).

    TensorFlow is imported only for `--init model:NAME` (the network's result), after the other inputs.
    """
    from tf_nst.engine.masks import Regions
    from tf_nst.io import images as image_io

    def load(path):
        return None if path is None else image_io.load_image(path, max_input_pixels=max_input_pixels)

    loaded = {"content": load(content), "styles": [load(path) for path in styles]}
    # A start image is read here once, with the cap, and given to the run (the Stylizer does not read it again).
    loaded["init"] = load(settings.init) if isinstance(settings.init, str) and settings.init not in INIT_MODES \
        and not settings.init.startswith(MODEL_INIT_PREFIX) else None
    loaded["regions"] = Regions.build([load(path) for path in masks.get("region_masks", ())] or None,
                                      [load(path) for path in masks.get("style_image_masks", ())] or None,
                                      loaded["content"].rgb.shape, [style.rgb.shape for style in loaded["styles"]])
    if isinstance(settings.init, str) and settings.init.startswith(MODEL_INIT_PREFIX):
        from tf_nst.cli.realtime import model_start
        from tf_nst.io.model_folders import resolve_model

        name = settings.init[len(MODEL_INIT_PREFIX):]
        resolve_model(name)  # a wrong name answers before TensorFlow's import
        import_tensorflow_quietly()
        loaded["init"] = model_start(name, loaded["content"].rgb, settings, loaded["styles"], loaded["regions"])
    return loaded


def start_record(settings, init, quiet):
    """The start image's `init_record` for the PNG (None for a mode), and a note when a replay's differs."""
    from tf_nst.io.provenance import init_record

    if init is None:
        return None
    kind = settings.init if settings.init.startswith(MODEL_INIT_PREFIX) else "file"
    record = init_record(kind, init.rgb)
    replayed = click.get_current_context().meta.get("replay_init")
    if replayed and replayed.get("sha256") != record["sha256"] and not quiet:
        click.echo(f"Note: the start image ({kind}) differs from the one the replayed PNG records "
                   "(another CPU or precision?)", err=True)
    return record


def _run(settings, loaded, inputs, masks, output, save_every, tensorboard, quiet, stop):
    """Build the Stylizer and run it with the progress bar, snapshots and TensorBoard."""
    from tf_nst.engine.stylizer import Stylizer

    stylizer = Stylizer(settings)
    config = stylizer.get_config()
    if not quiet:  # said before the (long) run, so a surprise can be stopped early
        click.echo(f"Running in {config['precision']}, "
                   f"{tiling_text(stylizer.plan_run(loaded['content'].rgb))}", err=True)
    reporter = ProgressReporter(stylizer.schedule.total_steps, quiet, output, save_every, config, inputs,
                                tensorboard, stylizer.loss_names)
    try:
        with stop.during_optimization():
            result = stylizer.stylize(loaded["content"], loaded["styles"], callback=reporter, should_stop=stop,
                                      chunk_steps=math.gcd(5, save_every) if save_every else 5,
                                      regions=loaded["regions"],
                                      init=loaded["init"].rgb if loaded["init"] is not None else None)
        reporter.finish(result)
    finally:
        reporter.close()
    return config, result


def _report(output, result, config, quiet):
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{result.steps} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g}, "
                   f"{config['precision']}, {tiling_text(result.tiling)})", err=True)
    if result.status is RunStatus.STOPPED:  # a time budget that ran out exits 0
        sys.exit(130)


@click.command()
@click.argument("image", type=click.Path(exists=True))
def info(image):
    """Print the settings, input hashes and versions stored in a tf-nst PNG (or a trained MODEL_DIR)."""
    from tf_nst.io.provenance import FILE_PREFIX, read_png_text

    if os.path.isdir(image):
        from tf_nst.cli.realtime import check_model_folder

        for line in check_model_folder(image):
            click.echo(line)
        return

    try:
        text = read_png_text(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise click.ClickException(f"{image}: cannot read PNG ({error})")
    entries = {key: value for key, value in text.items() if key.startswith("tf_nst:")}
    if "tf_nst:settings" not in entries:
        raise click.ClickException(f"{image}: no tf-nst settings found (not written by tf-nst)")
    for key, value in entries.items():
        if key.startswith(FILE_PREFIX):  # a mask's bytes: their size, not the base64
            value = f"{len(value) * 3 // 4} bytes embedded"
        click.echo(f"{key[len('tf_nst:'):]}: {value}")
