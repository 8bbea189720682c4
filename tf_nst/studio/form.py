"""The settings form, generated from the schema (`tf_nst.settings.StylizeSettings`): no second list.

Every field the command line offers becomes one control: its label from the option's name, its
default, limits and choices from the field's metadata, its help as the hint under it. The basic
ones stay in view, the rest go under "Advanced". Two fields are not controls of their own: the
style blend (each style's weight slider says it) and, on a page that others may reach, no field
names a file on the server (`init` and `weights` offer their modes, not a path).

Gradio is imported by the functions that build controls only, so the mapping is testable without it.
"""

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import INIT_MODES, StylizeSettings, fields_by_name, format_layer_weights, option_name

BASIC_SETTINGS = ("size", "num_steps", "style_weight", "preserve_colors", "style_statistic")
BLEND_FIELD = "style_blend"  # set from the styles' weight sliders
# Fields whose values may be a path on the server: the page offers their modes only.
PATH_FREE_CHOICES = {"init": INIT_MODES, "weights": ("default", "random")}


def form_fields():
    """The `StylizeSettings` fields of the form, basic ones first, in schema order otherwise."""
    fields = [field for name, field in fields_by_name().items()
              if field.metadata["cli"] and name != BLEND_FIELD]
    order = {name: position for position, name in enumerate(BASIC_SETTINGS)}
    return sorted(fields, key=lambda field: order.get(field.name, len(order)))


def label(field):
    """`Steps` for `num_steps` (the option's name), `Style weight` for `style_weight`."""
    return option_name(field)[2:].replace("-", " ").capitalize()


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
    """The field's help, with its limits: `Longest side of the output in pixels. (32 to 16384)`."""
    meta = field.metadata
    low, high = meta["minimum"], meta["maximum"]
    if low is None and high is None:
        return meta["help"]
    low_text = "" if low is None else f"{'above' if meta['min_open'] else 'from'} {low:g}"
    high_text = "" if high is None else f"{'below' if meta['max_open'] else 'to'} {high:g}"
    return f"{meta['help']} ({' '.join(part for part in (low_text, high_text) if part)})"


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


def build_controls(gr):
    """The form's Gradio controls, `{field name: component}`: basic ones here, the rest in an accordion."""
    fields = form_fields()
    controls = {}
    with gr.Row():
        for field in fields[:len(BASIC_SETTINGS)]:
            controls[field.name] = control(gr, field)
    with gr.Accordion("Advanced", open=False, elem_id="studio-advanced"):
        with gr.Row(equal_height=False):
            for field in fields[len(BASIC_SETTINGS):]:
                controls[field.name] = control(gr, field)
    return controls


def control(gr, field):
    """One Gradio control for `field`: a dropdown, a number box (with the schema's limits) or a text box."""
    meta, kind = field.metadata, control_kind(field)
    common = dict(label=label(field), info=hint(field), value=default_value(field),
                  elem_id=f"setting-{field.name}", min_width=180)
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

