"""`export` (the optimization as a SavedModel), `request` (TF Serving), and `stylize --saved-model`."""

import os

import click
import numpy as np

from tf_nst import settings as settings_module
from tf_nst.cli.feedback import announce_download, library_errors
from tf_nst.cli.options import (CLI_FIELDS, build_settings, given, input_options, output_options,
                                quiet_option, settings_options, style_mask_option)
from tf_nst.errors import InvalidArgumentError
from tf_nst.serving import contract
from tf_nst.serving.contract import EXPORT_MODEL_FIELDS
from tf_nst.settings import EXPORT_INIT_MODES

CONTROL_SETTINGS = settings_module.control_names()  # what a request may still send (the export fixes the rest)


def export_controls(values):
    """The controls given for an exported model (`tf_nst.serving.contract.export_controls`); others: usage error."""
    try:
        return contract.export_controls(values, [name for name in CLI_FIELDS if given(name)])
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))


def stylize_saved_model(path, content, styles, output, overwrite, max_input_pixels, quiet, values, masks=None):
    """`stylize --saved-model`: one style (and optionally one `--style-mask`) on an export, in process."""
    controls = export_controls(values)
    masks = masks or {}
    if len(styles) != 1:
        raise click.UsageError(f"expected one STYLE with --saved-model. Received: {len(styles)}")
    if masks.get("style_image_masks"):
        raise click.UsageError("expected no --style-image-mask with --saved-model (an export takes a mask "
                               "on the content only)")
    with library_errors():
        from tf_nst.io import images as image_io
        from tf_nst.serving import client as serving

        image_io.check_output_path(output, overwrite=overwrite)
        content_rgb, style_rgb = load_request_images(content, styles[0], max_input_pixels)
        model = serving.load_saved_model(path)
        min_side = model.info.get("min_side", settings_module.MIN_SIDE)
        content_rgb = serving.prepare_image(content_rgb, values["size"], min_side)
        mask = request_mask(masks.get("style_masks"), content_rgb, max_input_pixels)
        result = model.stylize(content_rgb, serving.prepare_image(style_rgb, values["size"], min_side), mask=mask,
                               **contract.wire_controls(controls))
        image_io.save_png(output, result.image, settings={"saved_model": os.path.abspath(path), **controls},
                          inputs=[content, styles[0]], masks=masks or None)
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{len(result.losses) - 1} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g})", err=True)


def request_mask(paths, content_rgb, max_input_pixels):
    """The one `--style-mask` of a request as a grey uint8 array at the (prepared) content's size, or None."""
    if not paths:
        return None
    from tf_nst.engine.masks import check_aspect, load_mask
    from tf_nst.io import images as image_io

    mask = load_mask(image_io.load_image(paths[0], max_input_pixels=max_input_pixels), "--style-mask")
    check_aspect(mask, content_rgb.shape, "--style-mask", [])
    if not mask.any():
        raise InvalidArgumentError("expected --style-mask with a region somewhere (white or grey). "
                                   "Received: black everywhere")
    grey = np.clip(np.round(mask * 255.0), 0, 255).astype(np.uint8)
    return image_io.resize(grey, (content_rgb.shape[1], content_rgb.shape[0]))


def load_request_images(content, style, max_input_pixels):
    from tf_nst.io import images as image_io

    return (image_io.load_image(content, max_input_pixels=max_input_pixels).rgb,
            image_io.load_image(style, max_input_pixels=max_input_pixels).rgb)


@click.command()
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
@click.option("--model", "trained_model", default=None, metavar="NAME|MODEL_DIR",
              help="Export this trained network (python cli.py models) instead of the optimization.")
def export(output, version, max_steps, max_pixels, model_name, trained_model, **values):
    """Export the optimization (or a trained network, --model) as a SavedModel for TF Serving (OUTPUT/VERSION)."""
    import time

    if trained_model:
        from tf_nst.cli.realtime import export_trained_model

        return export_trained_model(trained_model, output, version, max_pixels, model_name)

    settings = build_settings({**values, "precision": "float32"})  # the server's CPU is unknown
    with library_errors():
        from tf_nst.serving.export import export_model
        from tf_nst.engine.stylizer import Stylizer

        started = time.perf_counter()
        announce_download(settings.backbone, settings.weights)
        path = export_model(Stylizer(settings), output, version=version, max_steps=max_steps,
                            max_pixels=max_pixels, model_name=model_name)
    size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)
    click.echo(f"Exported {path} ({size / 1e6:.0f} MB, {time.perf_counter() - started:.1f} s; "
               f"signatures {', '.join(contract.SIGNATURE_NAMES)})")


@click.command()
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
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=contract.DEFAULT_TIMEOUT,
              show_default=True,
              help="Deadline in seconds (the server cancels the run after it).")
@settings_options(CONTROL_SETTINGS, defaults=False, help_suffix="Default: the export's.",
                  choices={"init": EXPORT_INIT_MODES})
@style_mask_option("Where STYLE applies on CONTENT: a grey image with CONTENT's aspect ratio (white: the "
                   "style; black: the photo kept). Default: everywhere.")
@input_options
@quiet_option
def request(content, style, output, overwrite, server, rest, model_name, model_version, signature, timeout,
            style_masks, max_input_pixels, quiet, size, **controls):
    """Stylize CONTENT with STYLE on a TF Serving model server."""
    if bool(server) == bool(rest):
        raise click.UsageError("expected exactly one of --server HOST:8500 (gRPC) or --rest HOST:8501")
    with library_errors():
        from tf_nst.io import images as image_io
        from tf_nst.serving import client as serving

        controls = contract.wire_controls(controls)
        image_io.check_output_path(output, overwrite=overwrite)
        content_rgb, style_rgb = load_request_images(content, style, max_input_pixels)
        if len(style_masks) > 1:
            raise InvalidArgumentError(f"expected one --style-mask for the one STYLE. Received: {len(style_masks)}")
        content_rgb, style_rgb = serving.prepare_image(content_rgb, size), serving.prepare_image(style_rgb, size)
        mask = request_mask(style_masks, content_rgb, max_input_pixels)
        if rest:
            result = serving.request_rest(rest, content_rgb, style_rgb, model_name=model_name,
                                          version=model_version, timeout=timeout, mask=mask, **controls)
        else:
            result = serving.request_grpc(server, content_rgb, style_rgb, model_name=model_name, mask=mask,
                                          version=model_version, signature=signature, timeout=timeout, **controls)
        image_io.save_png(output, result.image,
                          settings={"server": server or rest, "model": model_name, **{
                              key: value for key, value in controls.items() if value is not None}},
                          inputs=[content, style], masks={"style_masks": list(style_masks)} if style_masks else None)
    if not quiet:
        click.echo(f"Wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
                   f"{len(result.losses) - 1} steps, {result.seconds:.1f} s, loss {result.best_loss:.4g})", err=True)
