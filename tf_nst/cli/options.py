"""Click options built from the settings schema, and the options several commands share.

Every setting's option comes from its `StylizeSettings` field (tf_nst/settings/schema.py): the
option's destination is the field name and its default the field's, so a new setting appears in
every command by itself. Shared options are decorators (`settings_options`, `output_options`,
`preset_option`, ...), declared once here. TensorFlow-free, so `--help` and usage errors are fast.
"""

import dataclasses
import os

import click
from click.core import ParameterSource

from tf_nst import settings as settings_module
from tf_nst.errors import InvalidArgumentError, NSTError
from tf_nst.io.inputs import ASSETS
from tf_nst.settings import (ArbitrarySettings, DEFAULT_MAX_INPUT_PIXELS, NetworkSettings, StylizeSettings,
                             VideoSettings)

DEFAULT_CONTENT = os.path.join(ASSETS, "astronaut.png")
DEFAULT_STYLE = os.path.join(ASSETS, "starry_night.jpg")

FIELDS = settings_module.fields_by_name()
CLI_FIELDS = tuple(name for name, field in FIELDS.items() if field.metadata["cli"])
VIDEO_FIELDS = settings_module.fields_by_name(VideoSettings)
ARBITRARY_FIELDS = settings_module.fields_by_name(ArbitrarySettings)
NETWORK_FIELDS = settings_module.fields_by_name(NetworkSettings)


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


def network_options(function):
    """The `NetworkSettings` options (`--stroke-size`): a network's own settings (`--model NAME`)."""
    return settings_options(tuple(NETWORK_FIELDS), fields=NETWORK_FIELDS)(function)


def refuse_network_options():
    """`--stroke-size` typed without a network (the optimization, or `--saved-model`: an export bakes its own):
    a usage error."""
    if not given("stroke_size"):
        return
    raise click.UsageError("expected --stroke-size only with a network (--model NAME, e.g. starry_night or "
                           "arbitrary). Received: no --model")


def output_options(default="stylized.png"):
    """`-o/--output` and `--overwrite`."""
    def decorator(function):
        function = overwrite_option()(function)
        return click.option("-o", "--output", default=default, show_default=True,
                            help="Output PNG path.")(function)
    return decorator


def input_options(function):
    """`--max-input-pixels`."""
    return click.option("--max-input-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_INPUT_PIXELS,
                        show_default=True,
                        help="Refuse input images with more pixels than this (decompression-bomb guard).")(function)


def style_mask_option(help="Where each STYLE applies on the content: one grey image per STYLE, in order "
                            "(white: that style; black: no style, the photo kept; grey: a soft edge), "
                            "resized to every scale.", folders=False):
    """`--region-mask PATH` (repeatable; `--style-mask` is its old name): regional control, one mask per
    style, the library's `region_masks=` (`folders`: a folder too)."""
    return click.option("--region-mask", "--style-mask", "style_masks", multiple=True,
                        type=click.Path(dir_okay=folders), metavar="PATH", help=help)


def style_image_mask_option(function):
    """`--style-image-mask PATH|none` (repeatable): which part of each style image feeds its region."""
    return click.option("--style-image-mask", "style_image_masks", multiple=True, metavar="PATH|none",
                        help="Which part of each STYLE image feeds its region: one grey image per STYLE, in "
                             "order ('none': the whole style image).")(function)


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
    return preset_option(function)


def preset_option(function):
    """`--preset NAME`: published settings as this invocation's defaults."""
    return click.option(
        "--preset", type=click.Choice(_preset_names()), default=None, is_eager=True, expose_value=False,
        callback=_preset_callback,
        help="Published settings (see tf_nst/settings/presets.py); explicit options override them.")(function)


def overwrite_option(help="Replace OUTPUT if it exists."):
    """`--overwrite`."""
    return click.option("--overwrite", is_flag=True, help=help)


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
    from tf_nst.io.provenance import embedded_files, read_provenance, restore_masks

    try:
        stored = read_provenance(value)
        files = embedded_files(value)
    except NSTError as error:
        raise click.BadParameter(str(error))
    settings = stored["settings"]
    values = {name: cli_value(name, settings[name]) for name in CLI_FIELDS
              if name in settings and not (settings[name] is None and name != "weights")}
    _set_defaults(ctx, values)
    inputs = stored.get("inputs") or []
    ctx.meta["replay_inputs"] = (inputs[0], inputs[1:]) if inputs else (None, None)
    ctx.meta["replay_inputs"] += (restore_masks(stored, files, _replay_folder(ctx)),)
    ctx.meta["replay_init"] = stored.get("init")
    return value


def _replay_folder(ctx):
    """A folder for the masks a replayed PNG holds, removed when the command ends."""
    import shutil
    import tempfile
    import uuid

    folder = os.path.join(tempfile.gettempdir(), f"tf-nst-replay-{uuid.uuid4().hex[:12]}")  # made when needed
    ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder


def given(name):
    """True when option `name` was typed on this command line (not a default, preset or --from)."""
    return click.get_current_context().get_parameter_source(name) == ParameterSource.COMMANDLINE


def build_settings(values, settings_class=StylizeSettings):
    """`settings_class` from the command's field values; library errors become usage errors."""
    fields = settings_module.fields_by_name(settings_class)
    try:
        return settings_class(**{name: value for name, value in values.items() if name in fields})
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))


def reset_replayed_schedule(values):
    """A replayed (--from) schedule belongs to the replayed size and steps: new ones given here win."""
    if not given("scale_steps") and given("num_steps"):
        values["scale_steps"] = None
    if not given("scales") and given("size"):
        values["scales"] = "auto"
    return values
