"""The network a training run starts from: a new one, a trained one's weights (`--start-from`), or a trained one
extended by styles (`--add-style`)."""

import os

import numpy as np

from tf_nst.engine.backbones import resolve_precision
from tf_nst.engine.feedforward.model_files import load_model
from tf_nst.engine.feedforward.transformer import TransformerNet
from tf_nst.errors import InvalidArgumentError
from tf_nst.io.model_folders import WEIGHTS_FILE, read_model_info
from tf_nst.io.provenance import file_sha256
from tf_nst.settings import check_tune_styles


def network_policy(precision):
    """The Keras dtype policy of the network for a precision setting (`auto` resolved)."""
    return "mixed_bfloat16" if resolve_precision(precision) == "bfloat16" else "float32"


def build_network(settings, styles, add_style=None, resume_folder=None, start_from=None, tune_styles=()):
    """`(network, base provenance or None, indices of the styles to train or None)`.

    Args:
        settings: `TrainSettings` (width, residual blocks, precision).
        styles: `[{"name", ...}]` of the styles trained now.
        add_style: a model folder extended by `styles` (its convolutions and styles kept), or `None`.
        resume_folder: unused for the shape (a checkpoint restores every weight), kept for clarity.
        start_from: a model folder of the same styles and shape whose weights the network starts from (a
            fine-tune with other settings, e.g. larger crops), or `None`.
        tune_styles: with `start_from`, the names of the styles whose normalization parameters alone are
            trained (the indices returned); every other weight stays the model's. Empty: all weights train.

    Raises:
        InvalidArgumentError: `add_style` with a style name the base model already has; `start_from` with other
            styles or another shape than the settings', or with `add_style`; `tune_styles` without `start_from`
            or naming a style the network does not have.
    """
    names = [style["name"] for style in styles]
    policy = network_policy(settings.precision)
    tuned = tuned_indices(names, tune_styles, start_from)
    if start_from is not None:
        return started_network(settings, names, start_from, add_style), None, tuned
    if add_style is None:
        return TransformerNet(names, width=settings.width, num_residual_blocks=settings.num_residual_blocks,
                              texture_noise=settings.texture_noise or 0.0, dtype=policy), None, None
    base, info = load_model(add_style)
    existing = [name for name in names if name in base.style_names]
    if existing:
        raise InvalidArgumentError(
            f"expected new style names for --add-style (the model has {', '.join(base.style_names)}). "
            f"Received: {', '.join(existing)}")
    network = TransformerNet(base.style_names + names, width=base.width,
                             num_residual_blocks=base.num_residual_blocks,
                             texture_noise=extended_noise(base, names, settings.texture_noise), dtype=policy)
    copy_extended(base, network)
    first = base.num_styles
    return network, info["provenance"], list(range(first, first + len(names)))


def tuned_indices(names, tune_styles, start_from):
    """The indices in `names` of `tune_styles` (`--tune-style`), or `None` when none is named.

    Raises:
        InvalidArgumentError: names without `start_from`, or a name that is not one of `names`.
    """
    check_tune_styles(tune_styles, start_from)
    if not tune_styles:
        return None
    unknown = [name for name in tune_styles if name not in names]
    if unknown:
        raise InvalidArgumentError(f"expected --tune-style names among the styles ({', '.join(names)}). "
                                   f"Received: {', '.join(unknown)}")
    return sorted({names.index(name) for name in tune_styles})


def started_network(settings, names, start_from, add_style=None):
    """A network of `names` holding the weights of the model in `start_from` (same styles, width and blocks)."""
    if add_style is not None:
        raise InvalidArgumentError(f"expected --start-from or --add-style, not both. Received: --start-from "
                                   f"{start_from} and --add-style {add_style}")
    base, _ = load_model(start_from)
    if base.style_names != names:
        raise InvalidArgumentError(f"expected the styles of the model in {start_from} ({', '.join(base.style_names)}, "
                                   f"in that order) for --start-from. Received: {', '.join(names)}")
    shape, wanted = (base.width, base.num_residual_blocks), (settings.width, settings.num_residual_blocks)
    if shape != wanted:
        raise InvalidArgumentError(f"expected --width {shape[0]} --residual-blocks {shape[1]}, the shape of the model "
                                   f"in {start_from}, for --start-from. Received: --width {wanted[0]} "
                                   f"--residual-blocks {wanted[1]}")
    network = TransformerNet(names, width=base.width, num_residual_blocks=base.num_residual_blocks,
                             texture_noise=given(settings.texture_noise, base.texture_noise),
                             dtype=network_policy(settings.precision))
    copy_extended(base, network)
    return network


def extended_noise(base, names, value):
    """`--add-style`'s texture noise: the model's styles keep theirs; the new `names` take `value` (one number, or
    `{name: grey}`), 0 when it is not given.

    Raises:
        InvalidArgumentError: `value` names a style that is not new (the model's keep theirs: it is part of them).
    """
    if isinstance(value, dict) and any(name not in names for name in value):
        raise InvalidArgumentError(f"expected --texture-noise names among the new styles ({', '.join(names)}) with "
                                   f"--add-style (the model's keep theirs). Received: {', '.join(map(str, value))}")
    new = [value.get(name, 0.0) for name in names] if isinstance(value, dict) else [value or 0.0] * len(names)
    return list(base.texture_noise) + new


def given(value, model_value):
    """A setting left unset (`None`: `--texture-noise`) takes the model's value."""
    return model_value if value is None else value


def started_provenance(folder):
    """What a fine-tune (`--start-from`) records of the model it started from: its folder, weights' hash and steps."""
    stored = read_model_info(folder)["provenance"]
    return {"model": folder, "weights_sha256": file_sha256(os.path.join(folder, WEIGHTS_FILE)),
            "steps": stored.get("steps"), "size": (stored.get("settings") or {}).get("size")}


def copy_extended(base, network):
    """Copy `base`'s weights into `network` (more styles): new norm rows start at the mean of the old."""
    for source, variable in zip(base.weights, network.weights):  # the same architecture: the same order
        value = np.asarray(source.numpy())
        if tuple(value.shape) != tuple(variable.shape):
            extra = variable.shape[0] - value.shape[0]
            value = np.concatenate([value, np.repeat(value.mean(0, keepdims=True), extra, 0)], 0)
        variable.assign(value.astype(np.float32))
