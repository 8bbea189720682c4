"""The wire contract of an export: names, controls, dtypes, caps and what an export fixes (TensorFlow-free).

The export (`tf_nst.serving.export`), the clients (`tf_nst.serving.client`), the Beam driver and
the CLI all read these names; nothing else spells a signature, tensor or control name.

- Signatures: `serving_default` takes uint8 `content` / `style` `(1, H, W, 3)`; `stylize_bytes`
  takes PNG/JPEG strings `content_bytes` / `style_bytes`. Both take the scalar controls and return
  `losses` plus `stylized` (uint8) or `stylized_bytes` (PNG).
- Controls: the `StylizeSettings` fields marked `control=True` (tf_nst/settings/schema.py), each
  under its option's name (`num_steps` is `steps`); their dtypes are strings, resolved to
  TensorFlow dtypes only by `tf_dtype` (TensorFlow is imported there, lazily).
- What an export fixes: every other setting but the request's `size`.

Example:
```python
from tf_nst.serving import contract

contract.CONTROL_FIELDS["steps"]                                  # 'num_steps'
contract.wire_controls({"num_steps": 50, "seed": None})           # {'steps': 50, 'seed': None}
contract.export_controls({"num_steps": 50}, given=["num_steps"])  # {'num_steps': 50}
```
"""

import posixpath

import numpy as np

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import ARBITRARY_KIND, EXPORT_INIT_MODES, MIN_SIDE, fields_by_name, option_name

# --- signatures and tensors -------------------------------------------------------------------------
MODEL_NAME = "tf_nst"
SERVING_DEFAULT = "serving_default"
STYLIZE_BYTES = "stylize_bytes"
SIGNATURE_NAMES = (SERVING_DEFAULT, STYLIZE_BYTES)

CONTENT = "content"
STYLE = "style"
CONTENT_BYTES = "content_bytes"
STYLE_BYTES = "style_bytes"
MASK = "mask"                # optional uint8 (1, h, w, 1): where the style applies (default: everywhere)
MASK_BYTES = "mask_bytes"    # optional PNG/JPEG of that mask ("" = everywhere)
STYLIZED = "stylized"
STYLIZED_BYTES = "stylized_bytes"
LOSSES = "losses"  # (steps + 1, parts): row 0 is the start image; columns as Stylizer.loss_names
STYLE_WEIGHTS = "style_weights"  # feed-forward exports: optional float32 (1, styles) blend (serving/feedforward_export.py)
# Arbitrary-style exports (serving/arbitrary_export.py): `style` / `style_bytes` hold one or more paintings
# ((P, h, w, 3) of one size / P strings), `mask` / `mask_bytes` one region per painting, `style_weights`
# (1, P) their blend (empty: equal) and `strength` a control.
STRENGTH = "strength"

# --- controls: scalars a request may send, in the signatures' argument order --------------------------
STEPS = "steps"
CONTENT_WEIGHT = "content_weight"
STYLE_WEIGHT = "style_weight"
TV_WEIGHT = "tv_weight"
SEED = "seed"
INIT = "init"
CONTROL_DTYPES = {STEPS: "int32", CONTENT_WEIGHT: "float32", STYLE_WEIGHT: "float32", TV_WEIGHT: "float32",
                  SEED: "int64", INIT: "string"}
CONTROL_NAMES = tuple(CONTROL_DTYPES)
# What an arbitrary-style export takes instead (its strength; the optimization's controls mean nothing there).
ARBITRARY_CONTROL_DTYPES = {STRENGTH: "float32"}
ARBITRARY_CONTROL_NAMES = tuple(ARBITRARY_CONTROL_DTYPES)

# --- caps, defaults and files of an export --------------------------------------------------------
DEFAULT_MAX_STEPS = 1000
DEFAULT_MAX_PIXELS = 1024 * 1024
MIN_MAX_PIXELS = MIN_SIDE * MIN_SIDE  # a cap below this refuses every image
WARMUP_SIDE = 64
DEFAULT_TIMEOUT = 600.0  # seconds a client waits; the optimization takes a while at full size
WARMUP_FILE = posixpath.join("assets.extra", "tf_serving_warmup_requests")  # relative, "/"-separated
EXPORT_INFO_FILE = posixpath.join("assets.extra", "tf_nst_export.json")
FEEDFORWARD_KIND = "feedforward"  # the "kind" in the info file of a feed-forward export (no optimization settings)
# An arbitrary-style network's export has the "kind" of its model folder, tf_nst.settings.ARBITRARY_KIND.
MAX_PAINTINGS = 4  # paintings one request to an arbitrary-style export may send (a graph branch each)

# --- what an export fixes --------------------------------------------------------------------------
# Offered by `cli.py export` as the model's settings; a request can change none of them.
EXPORT_MODEL_FIELDS = ("backbone", "weights", "pooling", "content_layers", "style_layers", "loss_form",
                       "optimizer", "learning_rate", "adam_beta1", "adam_beta2", "adam_epsilon", "lbfgs_history",
                       "lbfgs_first_step")
REQUEST_SIZE_FIELD = "size"  # a request resizes its images: the one non-control setting it may give


def _control_fields():
    """`{control: settings field}`: the control fields of the schema under their option's name."""
    fields = {option_name(field)[2:].replace("-", "_"): name for name, field in fields_by_name().items()
              if field.metadata["control"]}
    if set(fields) != set(CONTROL_NAMES):
        raise ImportError(f"expected the schema's control fields to be {', '.join(CONTROL_NAMES)}. "
                          f"Received: {', '.join(fields)}")
    return {name: fields[name] for name in CONTROL_NAMES}


CONTROL_FIELDS = _control_fields()


def numpy_dtype(name):
    """The numpy dtype of control `name` (`object` for strings)."""
    dtype = {**CONTROL_DTYPES, **ARBITRARY_CONTROL_DTYPES}[name]
    return np.dtype(object) if dtype == "string" else np.dtype(dtype)


def tf_dtype(name):
    """The TensorFlow dtype of control `name` (imports TensorFlow)."""
    import tensorflow as tf

    return tf.as_dtype({**CONTROL_DTYPES, **ARBITRARY_CONTROL_DTYPES}[name])


def control_values(controls):
    """Typed numpy scalars for the controls given by wire name (None = leave to the model's default).

    Raises:
        InvalidArgumentError: a name that is not a control.
    """
    known = CONTROL_NAMES + ARBITRARY_CONTROL_NAMES
    unknown = sorted(set(controls) - set(known))
    if unknown:
        raise InvalidArgumentError(f"expected controls among {', '.join(known)}. Received: {', '.join(unknown)}")
    values = {}
    for name, value in controls.items():
        if value is None:
            continue
        if name == INIT:
            values[name] = np.array(value.encode() if isinstance(value, str) else value, object)
        else:
            values[name] = np.array(value, numpy_dtype(name))
    return values


def check_export_controls(kind, controls):
    """The controls a request sends, checked against the export's `kind` (`EXPORT_INFO_FILE`'s "kind").

    Raises:
        InvalidArgumentError: `strength` to an export that is not an arbitrary-style network's, or the
            optimization's controls to one that is.
    """
    given = [name for name, value in controls.items() if value is not None]
    arbitrary = kind == ARBITRARY_KIND
    wrong = [name for name in given if (name in ARBITRARY_CONTROL_NAMES) != arbitrary]
    if wrong:
        expected = (f"only {', '.join(ARBITRARY_CONTROL_NAMES)} for an arbitrary-style network's export" if arbitrary
                    else f"{', '.join(ARBITRARY_CONTROL_NAMES)} only for an arbitrary-style network's export")
        raise InvalidArgumentError(f"expected {expected}. Received: {', '.join(wrong)}")
    return controls


def wire_controls(field_values):
    """`{settings field: value}` of control fields -> `{control: value}` (the names a request sends)."""
    controls = {field: name for name, field in CONTROL_FIELDS.items()}
    return {controls[field]: value for field, value in field_values.items()}


def export_controls(values, given):
    """The control settings given for a run on an export; any other setting given is refused.

    Args:
        values: `{settings field: value}`.
        given: the fields the user set explicitly (the rest are defaults).

    Returns:
        `{settings field: value}` of the controls given.

    Raises:
        InvalidArgumentError: a setting fixed by the export was given, or an init the export lacks.
    """
    fields = fields_by_name()
    given = [name for name in fields if name in set(given)]
    controls = tuple(CONTROL_FIELDS.values())
    fixed = [option_name(fields[name]) for name in given if name not in controls and name != REQUEST_SIZE_FIELD]
    if fixed:
        allowed = ", ".join(option_name(fields[name]) for name in (REQUEST_SIZE_FIELD,) + tuple(
            name for name in fields if name in controls))
        raise InvalidArgumentError(f"{', '.join(fixed)}: fixed when the model was exported, expected only "
                                   f"{allowed} with --saved-model")
    chosen = {name: values[name] for name in given if name in controls}
    if chosen.get(CONTROL_FIELDS[INIT]) not in (None,) + EXPORT_INIT_MODES:
        raise InvalidArgumentError(f"expected init one of {', '.join(EXPORT_INIT_MODES)} with --saved-model. "
                                   f"Received: init={chosen[CONTROL_FIELDS[INIT]]!r}")
    return chosen
