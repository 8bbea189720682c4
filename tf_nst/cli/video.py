"""`video`: a clip or a folder of frames, stylized without flicker; resumable."""

import sys

import click

from tf_nst.cli.arbitrary import refuse_strength
from tf_nst.cli.feedback import ProgressBar, announce_download, import_tensorflow_quietly, library_errors, stop_signals
from tf_nst.cli.options import (ARBITRARY_FIELDS, VIDEO_FIELDS, build_settings, given, input_options, network_options,
                                overwrite_option, preset_option, quiet_option, refuse_network_options,
                                settings_options, style_mask_option)
from tf_nst.settings import VideoSettings

MODEL_ONLY = ("temporal_blend",)  # VideoSettings fields of `video --model` alone
OPTIMIZATION_ONLY = ("temporal_weight", "frame_steps", "warp_start")


@click.command()
@click.argument("source", type=click.Path(exists=True))
@click.argument("styles", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True,
              help="Output: OUT.mp4, OUT.gif or a folder for PNG frames (at the input's frame rate).")
@overwrite_option()
@settings_options(tuple(VIDEO_FIELDS), fields=VIDEO_FIELDS)
@click.option("--keep-frames", is_flag=True, help="Keep the stylized frames (OUTPUT.work/) after assembling.")
@style_mask_option(help="Where each STYLE applies (white; black keeps the frame), one per STYLE in order: a grey "
                        "image for every frame, a folder of mask images (sorted) or a video of masks, one per "
                        "selected frame (after --frames/--every).", folders=True)
@settings_options()
@click.option("--model", default=None, metavar="NAME|MODEL_DIR",
              help="Real time: each frame through a trained network (python cli.py models; e.g. starry_night) "
                   "instead of the optimization, the flicker reduced by --temporal-blend; no STYLE. "
                   "--style-blend takes its style names (name:weight,...). --model arbitrary: any PAINTING(s) "
                   "given as STYLE.")
@settings_options(tuple(ARBITRARY_FIELDS), fields=ARBITRARY_FIELDS)
@network_options
@input_options
@preset_option
@quiet_option
def video(source, styles, output, overwrite, keep_frames, style_masks, max_input_pixels, model, quiet, **values):
    """Stylize a video (MP4, WebM, GIF) or a folder of frames with STYLE, without flicker.

    Frame 1 runs the full schedule; each later frame starts from the previous result warped
    by the optical flow and adds the temporal loss (Ruder et al. 2016). With --model, each
    frame runs through a trained network, blended with the previous output warped by the flow.
    Finished frames are kept in OUTPUT.work/: rerun the same command to resume after an interruption.
    """
    strength, stroke_size = values.pop("strength"), values.pop("stroke_size")
    paintings = _check_model_styles(model, styles) if model else ()
    if not model:
        refuse_network_options()
    if not model and not styles:
        raise click.UsageError("expected at least one STYLE, or --model NAME|MODEL_DIR")
    _check_video_options(model)
    video_settings = build_settings({name: values.pop(name) for name in VIDEO_FIELDS}, VideoSettings)
    settings = build_settings(values)
    if model:
        from tf_nst.cli.realtime import video_with_model

        clip, result = video_with_model(model, source, output, overwrite, keep_frames, style_masks, settings,
                                        video_settings, quiet, paintings, strength, max_input_pixels, stroke_size)
    else:
        with stop_signals() as stop, library_errors(tensorflow=False):
            clip, result = _stylize_video(source, styles, output, overwrite, keep_frames, max_input_pixels, quiet,
                                          settings, video_settings, stop, style_masks)
    for note in clip.notes + result.notes:
        click.echo(f"Note: {note}", err=True)
    if result.interrupted:
        click.echo(f"Note: interrupted after {len(result.frames)} of {result.total_frames} frames; they are kept in "
                   f"{result.work_dir}: rerun the same command to resume", err=True)
        sys.exit(130)
    if not quiet:
        click.echo(f"Wrote {result.output} ({result.total_frames} frames at {float(result.fps):g} fps, "
                   f"{result.resumed} resumed from an earlier run)", err=True)


def _check_model_styles(model, styles):
    """The PAINTINGs of an arbitrary-style network (checked files; none for another network, which takes no STYLE),
    before TensorFlow's import."""
    from tf_nst.io.images import check_input_file
    from tf_nst.io.model_folders import is_arbitrary_model

    with library_errors(tensorflow=False):
        if not is_arbitrary_model(model):
            if styles:
                raise click.UsageError(f"expected no STYLE with --model (the styles are in the model). "
                                       f"Received: {', '.join(styles)}")
            refuse_strength(model)
            return ()
        if not styles:
            raise click.UsageError(f"expected at least one PAINTING after the clip with --model {model} (any "
                                   "painting works). Received: none")
        return tuple(check_input_file(path) for path in styles)


def _check_video_options(model):
    """Options of the optimization's video typed with --model, or --temporal-blend without it: a usage error."""
    if not model:
        refuse_strength()
    misplaced = [name for name in (OPTIMIZATION_ONLY if model else MODEL_ONLY) if given(name)]
    if misplaced:
        names = ", ".join("--" + name.replace("_", "-") for name in misplaced)
        reason = "a trained network has no optimization" if model else "the optimization has its temporal loss"
        raise click.UsageError(f"expected {names} only {'without' if model else 'with'} --model ({reason})")


def _stylize_video(source, styles, output, overwrite, keep_frames, max_input_pixels, quiet, settings,
                   video_settings, stop, style_masks=()):
    """Check the output and styles, open the clip (before TensorFlow's import), build the Stylizer and run
    `tf_nst.runs.video`."""
    from tf_nst.runs import video as videos

    videos.check_video_output(output, overwrite)
    style_images = videos.load_styles(styles, max_input_pixels)  # decoded once; a bad style fails first
    clip = videos.open_video(source, frames=video_settings.frames, every=video_settings.every)
    import_tensorflow_quietly()
    from tf_nst.engine.flow import TemporalLoss
    from tf_nst.engine.stylizer import Stylizer

    announce_download(settings.backbone, settings.weights)
    terms = settings.extra_loss_terms
    if video_settings.temporal_weight > 0:
        terms += (TemporalLoss(weight=video_settings.temporal_weight),)
    stylizer = Stylizer(settings, extra_loss_terms=terms)
    bar = ProgressBar(len(clip), "frame", quiet, postfix_losses=3)
    try:
        with stop.during_optimization():
            result = videos.stylize_video(stylizer, clip, style_images, output,
                                          frame_steps=video_settings.frame_steps,
                                          warp_start=video_settings.warp_start,
                                          flow_method=video_settings.flow_method, overwrite=overwrite,
                                          keep_frames=keep_frames, callback=bar, should_stop=stop,
                                          max_input_pixels=max_input_pixels, region_masks=list(style_masks) or None)
    finally:
        bar.close()
    return clip, result
