"""`export` (the optimization as a SavedModel), `request` (TF Serving), and `stylize --saved-model`."""

import math
import os

import click
from tf_nst import settings as settings_module
from tf_nst.cli.feedback import announce_download, import_tensorflow_quietly, library_errors
from tf_nst.cli.options import (ARBITRARY_FIELDS, CLI_FIELDS, build_settings, given, input_options, network_options,
                                output_options, quiet_option, refuse_network_options, settings_options,
                                style_mask_option)
from tf_nst.errors import InvalidArgumentError
from tf_nst.serving import contract
from tf_nst.serving.contract import EXPORT_MODEL_FIELDS
from tf_nst.settings import EXPORT_INIT_MODES

CONTROL_SETTINGS = settings_module.control_names()  # what a request may still send (the export fixes the rest)


def export_controls(values, allowed=()):
    """The controls given for an exported model (`tf_nst.serving.contract.export_controls`); others but `allowed`
    (options the front end takes itself): usage error."""
    try:
        return contract.export_controls(values, [name for name in CLI_FIELDS if given(name) and name not in allowed])
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))


def request_controls(values, strength=None, allowed=()):
    """The wire controls of a run on an export: the given controls, and `--strength` when typed (an
    arbitrary-style network's export; the request path refuses it for any other)."""
    controls = contract.wire_controls(export_controls(values, allowed))
    if given("strength"):
        controls[contract.STRENGTH] = strength
    return controls


def stylize_saved_model(path, content, styles, output, overwrite, max_input_pixels, quiet, values, masks=None,
                        strength=None):
    """`stylize --saved-model`: one style or painting (and optionally one `--region-mask`), or several paintings
    on an arbitrary-style network's export (`--style-blend`, a `--region-mask` per painting), in process,
    through the one request path (`tf_nst.runs.pairs`): sizes, style scale, masks and provenance as a batch's."""
    controls = request_controls(values, strength, allowed=("style_blend",))
    masks = masks or {}
    if masks.get("style_image_masks"):
        raise click.UsageError("expected no --style-image-mask with --saved-model (an export takes a region mask "
                               "on the content only)")
    with library_errors(tensorflow=False):
        from tf_nst.runs import pairs

        check_request_files(output, overwrite, content, styles, masks.get("region_masks"))
        pair = request_pair(path, content, styles, masks.get("region_masks"),
                            values.get("style_blend") if given("style_blend") else None)
        import_tensorflow_quietly()
        from tf_nst.serving.client import load_saved_model

        plan = pairs.PairPlan.from_export(path, controls,
                                          values["size"] if given("size") else None, max_input_pixels)
        served, notes = pairs.run_request(plan, pair, output, load_saved_model(plan.saved_model))
    report_served(output, served, notes, quiet)


def check_request_files(output, overwrite, content, styles, style_masks):
    """The output and input files of a request, checked before TensorFlow's import (an answer at once)."""
    from tf_nst.io import images as image_io

    image_io.check_output_path(output, overwrite=overwrite)
    for path in (content, *styles, *(style_masks or ())):
        image_io.check_input_file(path)


def request_pair(export, content, styles, region_masks, blend=None):
    """The `Pair` of a request: one STYLE (`region_masks`: none or one `--region-mask` path), or several
    paintings for an arbitrary-style network's `export` (its folder, or None for a server; a mask per painting
    or none; `blend`: `--style-blend`, weights in order or `name:weight` by the paintings' stems, resolved as
    `stylize --model arbitrary` does)."""
    from tf_nst.io.inputs import stem
    from tf_nst.runs.arbitrary_run import painting_blend
    from tf_nst.runs.records import Pair
    from tf_nst.serving.export_files import read_export_info, resolve_version
    from tf_nst.settings import ARBITRARY_KIND

    region_masks = list(region_masks or [])
    if len(styles) == 1:
        if blend is not None:
            raise click.UsageError("expected --style-blend on an export only for several paintings (an "
                                   "arbitrary-style network's). Received: one STYLE")
        if len(region_masks) > 1:
            raise InvalidArgumentError(f"expected one --region-mask for the one STYLE. Received: {len(region_masks)}")
        return Pair(content, styles[0], region_masks[0] if region_masks else None)
    kind = ARBITRARY_KIND if export is None else read_export_info(resolve_version(os.fspath(export)),
                                                                   required=False).get("kind")
    if kind != ARBITRARY_KIND:  # (a server's model is not known here: it answers for itself)
        raise click.UsageError(f"expected one STYLE with --saved-model (several paintings need an arbitrary-style "
                               f"network's export: export --model arbitrary). Received: {len(styles)}")
    if region_masks and len(region_masks) != len(styles):
        raise click.BadParameter(f"expected one --region-mask per PAINTING ({len(styles)}), received "
                                 f"{len(region_masks)}", param_hint="'--region-mask'")
    resolved = painting_blend(blend, [stem(path) for path in styles])
    return Pair(content, tuple(styles), tuple(region_masks) or None, tuple(resolved.items()))


def report_served(output, served, notes, quiet):
    for note in notes:
        click.echo(f"Note: {note}", err=True)
    if quiet:
        return
    size = f"{served.image.shape[1]}x{served.image.shape[0]}"
    if math.isnan(served.best_loss):  # a network's export: one pass, nothing optimized
        click.echo(f"Wrote {output} ({size}, one pass, {served.seconds:.1f} s)", err=True)
    else:
        click.echo(f"Wrote {output} ({size}, {len(served.losses) - 1} steps, {served.seconds:.1f} s, "
                   f"loss {served.best_loss:.4g})", err=True)


@click.command()
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
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
              help="Export this trained network (python cli.py models) instead of the optimization; an "
                   "arbitrary-style network (arbitrary) takes the painting(s) with each request.")
@click.option("--precision", "model_precision", type=click.Choice(settings_module.PRECISIONS), default=None,
              help="With --model: the network's precision in the export (auto: this machine's choice, as "
                   "stylize --model). Default: float32 (the server's CPU is unknown).")
@network_options
def export(output, version, max_steps, max_pixels, model_name, trained_model, model_precision, stroke_size,
           **values):
    """Export the optimization (or a trained network, --model) as a SavedModel for TF Serving (OUTPUT/VERSION)."""
    import time

    if trained_model:
        from tf_nst.cli.realtime import export_trained_model

        return export_trained_model(trained_model, output, version, max_pixels, model_name,
                                    precision=model_precision or "float32", stroke_size=stroke_size)
    refuse_network_options()
    if model_precision:
        raise click.UsageError("expected --precision only with --model (the optimization's export runs float32)")

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
@click.argument("styles", nargs=-1, required=True, type=click.Path(dir_okay=False), metavar="STYLE...")
@output_options()
@click.option("--server", default=None, help="TF Serving gRPC address HOST:PORT (port 8500).")
@click.option("--rest", default=None, help="TF Serving REST address HOST:PORT (port 8501) instead of gRPC.")
@click.option("--model", "model_name", default=contract.MODEL_NAME, show_default=True, help="Served model name.")
@click.option("--model-version", type=click.IntRange(min=1), default=None, help="Default: the latest.")
@click.option("--signature", type=click.Choice(contract.SIGNATURE_NAMES), default=contract.SERVING_DEFAULT,
              show_default=True, help="gRPC: raw uint8 tensors or PNG bytes. REST always uses stylize_bytes, and so "
                                      "does gRPC for several paintings unless --signature is given.")
@settings_options(("size",), help_suffix="Images are resized to it before sending.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=contract.DEFAULT_TIMEOUT,
              show_default=True,
              help="Deadline in seconds (the server cancels the run after it).")
@settings_options(CONTROL_SETTINGS, defaults=False, help_suffix="Default: the export's.",
                  choices={"init": EXPORT_INIT_MODES})
@settings_options(("strength",), defaults=False, fields=ARBITRARY_FIELDS,
                  help_suffix="(An arbitrary-style network's server; default: the export's.)")
@settings_options(("style_blend",), defaults=False,
                  help_suffix="(Several paintings on an arbitrary-style network's server.)")
@style_mask_option("Where STYLE applies on CONTENT: a grey image with CONTENT's aspect ratio (white: the "
                   "style; black: the photo kept), one per painting with several. Default: everywhere.")
@input_options
@quiet_option
def request(content, styles, output, overwrite, server, rest, model_name, model_version, signature, timeout,
            style_masks, max_input_pixels, quiet, size, strength, style_blend, **controls):
    """Stylize CONTENT with STYLE on a TF Serving model server (an arbitrary-style network's: one or more
    paintings)."""
    if bool(server) == bool(rest):
        raise click.UsageError("expected exactly one of --server HOST:8500 (gRPC) or --rest HOST:8501")
    with library_errors(tensorflow=False):
        from tf_nst.runs import pairs

        controls = contract.wire_controls(controls)
        if strength is not None:
            controls[contract.STRENGTH] = strength
        check_request_files(output, overwrite, content, styles, style_masks)
        pair = request_pair(None, content, list(styles), style_masks, style_blend)
        if len(styles) > 1 and not given("signature"):
            signature = contract.STYLIZE_BYTES  # paintings of any sizes
        import_tensorflow_quietly()
        from tf_nst.serving import client as serving

        stored = {"server": server or rest, "model": model_name,
                  **{key: value for key, value in controls.items() if value is not None}}
        plan = pairs.PairPlan(saved_model=None, controls=controls, settings=stored, size=size, style_size=size,
                              min_side=settings_module.MIN_SIDE, max_input_pixels=max_input_pixels)
        model = serving.ServedModel(server or rest, rest=bool(rest), model_name=model_name, version=model_version,
                                    signature=signature, timeout=timeout)
        served, notes = pairs.run_request(plan, pair, output, model)
    report_served(output, served, notes, quiet)
