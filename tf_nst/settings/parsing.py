"""Parsers: a CLI string (or a stored JSON value) to a setting's value (TensorFlow-free)."""

import math
import os
import re

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import INIT_MODES, MAX_SCALES, MAX_STEPS, MAX_TEXTURE_NOISE, MIN_SIDE, MODEL_INIT_PREFIX

_UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
          "T": 10**12, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_layer_weights(spec, name="layers"):
    """Normalize `"a,b:0.5"`, `["a", "b"]` or `{"a": 1, "b": 0.5}` to a dict of weights."""
    if isinstance(spec, str):
        parsed = {}
        for item in (item.strip() for item in spec.split(",")):
            if not item:
                continue
            layer, _, weight = item.partition(":")
            try:
                parsed[layer.strip()] = float(weight) if weight else 1.0
            except ValueError:
                raise InvalidArgumentError(
                    f"expected {name} as 'layer[:weight],...'. Received: {name}={spec!r}") from None
    elif isinstance(spec, dict):
        try:
            parsed = {str(layer): float(weight) for layer, weight in spec.items()}
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"expected numeric layer weights. Received: {name}={spec!r}") from None
    elif isinstance(spec, (list, tuple)):
        parsed = {str(layer): 1.0 for layer in spec}
    else:
        raise InvalidArgumentError(f"expected {name} as 'layer[:weight],...'. Received: {name}={spec!r}")
    if not parsed:
        raise InvalidArgumentError(f"expected at least one layer. Received: {name}={spec!r}")
    bad = {layer: weight for layer, weight in parsed.items() if not (weight >= 0 and math.isfinite(weight))}
    if bad or sum(parsed.values()) <= 0:
        raise InvalidArgumentError(
            f"expected non-negative layer weights, not all zero. Received: {name}={spec!r}")
    return parsed


def format_layer_weights(layers):
    """The CLI spelling of a `{layer: weight}` dict: `"a:1,b:0.5"`."""
    return ",".join(f"{layer}:{weight:g}" for layer, weight in layers.items())


def _number_list(value, name, kind):
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    try:
        numbers = [kind(item) for item in items]
        if kind is int and any(float(item) != int(item) for item in items):
            raise ValueError
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"expected {name} as comma-separated {'integers' if kind is int else 'numbers'}. "
            f"Received: {name}={value!r}") from None
    if not numbers:
        raise InvalidArgumentError(f"expected at least one value. Received: {name}={value!r}")
    return numbers


def parse_scales(value, name="scales"):
    """`"auto"`, a number of resolutions (1-6) or an increasing list of sizes."""
    if value == "auto":
        return "auto"
    if isinstance(value, bool):
        raise InvalidArgumentError(f"expected {name} 'auto', a number or a list of sizes. Received: {name}={value!r}")
    if isinstance(value, str) and "," not in value:
        try:
            value = int(value)
        except ValueError:
            raise InvalidArgumentError(
                f"expected {name} 'auto', a number of scales or comma-separated sizes. "
                f"Received: {name}={value!r}") from None
    if isinstance(value, int):
        if not 1 <= value <= MAX_SCALES:
            raise InvalidArgumentError(f"expected {name} 'auto' or in [1, {MAX_SCALES}]. Received: {name}={value}")
        return value
    sizes = _number_list(value, name, int)
    if sizes != sorted(set(sizes)) or sizes[0] < MIN_SIDE:
        raise InvalidArgumentError(
            f"expected increasing scale sizes >= {MIN_SIDE}. Received: {name}={value!r}")
    return sizes if len(sizes) > 1 else 1


def parse_scale_steps(value, name="scale_steps"):
    """Evaluations per scale, coarsest first (`"200,200,100"`), or `None`."""
    if value is None:
        return None
    steps = _number_list(value, name, int)
    if any(not 0 <= step <= MAX_STEPS for step in steps) or steps[-1] < 1:
        raise InvalidArgumentError(
            f"expected integers in [0, {MAX_STEPS}], the last >= 1. Received: {name}={value!r}")
    return steps


def parse_blend(value, name="style_blend"):
    """One non-negative weight per style (`"1,3"`), `{style name: weight}` of a trained model's styles
    (`"starry_night:0.7,the_scream:0.3"`, `stylize --model`), or `None` for equal weights."""
    if value is None:
        return None
    if isinstance(value, dict) or (isinstance(value, str) and ":" in value):
        return _named_blend(value, name)
    weights = _number_list(value, name, float)
    if any(not (weight >= 0 and math.isfinite(weight)) for weight in weights) or sum(weights) <= 0:
        raise InvalidArgumentError(
            f"expected non-negative finite numbers, not all zero. Received: {name}={value!r}")
    return weights


def parse_named_weights(value, name="per_style_weight"):
    """`{name: weight}` from `"a:12,b:6"` or a dict (non-negative finite weights), or `None`."""
    if value is None:
        return None
    if not isinstance(value, dict) and not (isinstance(value, str) and ":" in value):
        raise InvalidArgumentError(f"expected name:weight pairs. Received: {name}={value!r}")
    return _named_blend(value, name)


def check_tune_styles(tune_styles, start_from):
    """`train --tune-style` needs `--start-from` (it tunes a trained model's styles): checked where TensorFlow is
    not loaded yet (the CLI) and in the library alike.

    Raises:
        InvalidArgumentError: style names without `start_from`.
    """
    if tune_styles and start_from is None:
        raise InvalidArgumentError(f"expected --start-from MODEL_DIR with --tune-style (it tunes a trained model's "
                                   f"styles). Received: --tune-style {', '.join(tune_styles)} alone")


def parse_texture_noise(value, name="texture_noise"):
    """`train --texture-noise`: `None`, one number from 0 to `MAX_TEXTURE_NOISE` (every style) or `{name: grey}` from
    `"a:16,b:0"` (the names checked against the network's styles where it is built:
    `tf_nst.engine.texture_noise.noise_amplitudes`)."""
    if value is None:
        return None
    if isinstance(value, dict) or (isinstance(value, str) and ":" in value):
        pairs = _name_pairs(value, f"expected a number or name:grey pairs. Received: {name}={value!r}")
        return {style: _grey(grey, name, value) for style, grey in pairs}
    return _grey(value, name, value)


def _grey(grey, name, value):
    try:
        grey = float(grey)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"expected a number or name:grey pairs. Received: {name}={value!r}") from None
    if not (0.0 <= grey <= MAX_TEXTURE_NOISE):
        raise InvalidArgumentError(f"expected a number from 0 to {MAX_TEXTURE_NOISE:g}. Received: {name}={value!r}")
    return grey


def _name_pairs(value, message):
    """`[(name, value)]` of a `{name: value}` dict or a `"a:1,b:2"` string; `message` for a part that is not one pair."""
    pairs = list(value.items()) if isinstance(value, dict) else [
        part.split(":") for part in value.split(",") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise InvalidArgumentError(message)
    return [(str(style).strip(), number) for style, number in pairs]


def _named_blend(value, name):
    pairs = _name_pairs(value, f"expected name:weight pairs. Received: {name}={value!r}")
    try:
        blend = {style: float(weight) for style, weight in pairs}
    except ValueError:
        raise InvalidArgumentError(f"expected name:weight pairs. Received: {name}={value!r}")
    if any(not (weight >= 0 and math.isfinite(weight)) for weight in blend.values()) or sum(blend.values()) <= 0:
        raise InvalidArgumentError(f"expected non-negative finite numbers, not all zero. Received: {name}={value!r}")
    return blend


class StyleBlend(dict):
    """A checked blend of named styles: `{style name: weight}`, weights summing to 1 (`resolve_blend`)."""


def resolve_blend(blend, style_names, name="style_blend"):
    """`blend` over the named styles of a network, checked and normalized: the one place a blend is.

    Args:
        blend: what `parse_blend` takes or returns (weights in `style_names`' order, or
            `{style name: weight}`), or `None`/empty for the first style alone. A `StyleBlend` of
            these styles comes back as it is.
        style_names: the network's styles, in order.

    Returns:
        A `StyleBlend`.

    Raises:
        InvalidArgumentError: a style that is not one of `style_names`, a weight count that is not
            theirs, or weights that are negative, not finite or all zero.

    Example:
    ```python
    resolve_blend("starry_night:2,the_scream:1", ["starry_night", "the_scream"])
    # {'starry_night': 0.666..., 'the_scream': 0.333...}
    ```
    """
    style_names = [str(style) for style in style_names]
    if isinstance(blend, StyleBlend) and set(blend) <= set(style_names):
        return blend
    parsed = parse_blend(blend or {style_names[0]: 1.0}, name)
    if not isinstance(parsed, dict):
        if len(parsed) != len(style_names):
            raise InvalidArgumentError(f"expected {len(style_names)} weights, one per style of the model "
                                       f"({', '.join(style_names)}). Received: {len(parsed)}")
        parsed = dict(zip(style_names, parsed))
    unknown = [style for style in parsed if style not in style_names]
    if unknown:
        raise InvalidArgumentError(f"expected styles of the model ({', '.join(style_names)}). "
                                   f"Received: {', '.join(unknown)}")
    total = sum(parsed.values())
    return StyleBlend({style: weight / total for style, weight in parsed.items()})


def parse_init(value, name="init"):
    """`content`, `random`, `mean-noise`, an image path, or (Python) a uint8 array."""
    if value is None:
        raise InvalidArgumentError(f"expected {name} one of {', '.join(INIT_MODES)} or an image. Received: {name}=None")
    if not isinstance(value, (str, os.PathLike)):
        return value  # an array: checked where it is used
    value = os.fspath(value)
    if value in INIT_MODES or os.path.isfile(value) or (value.startswith(MODEL_INIT_PREFIX) and
                                                        len(value) > len(MODEL_INIT_PREFIX)):
        return value
    raise InvalidArgumentError(
        f"expected {name} one of {', '.join(INIT_MODES)}, an image file or {MODEL_INIT_PREFIX}NAME (a trained "
        f"model's result). Received: {name}={value!r}")


def parse_weights(value, name="weights"):
    """`default` (ImageNet), `random` / `None` (random init) or a weights-file path."""
    if value is None or value == "random":
        return None
    return os.fspath(value)


def parse_memory(value, name="max_memory"):
    """A memory size such as `6GB`, `512MB` or bytes, or `None` (a share of the free memory)."""
    if value is None:
        return None
    return parse_size(value)



def parse_size(size, name="max_memory"):
    """Bytes of `"6GB"`, `"512MB"`, `"1.5GiB"`, `"800M"` or an int of bytes.

    Decimal units (kB, MB, GB, TB; bare K, M, G, T) are powers of 1000, binary ones
    (KiB, MiB, GiB, TiB) powers of 1024; case is ignored.

    Example:
    ```python
    parse_size("6GB")     # 6000000000
    parse_size("1.5GiB")  # 1610612736
    ```
    """
    if isinstance(size, bool):
        raise InvalidArgumentError(f"expected {name} a size such as 6GB or 512MB. Received: {name}={size!r}")
    if isinstance(size, int):
        value = size
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(size))
        unit = match.group(2).upper() if match else None
        if unit not in _UNITS:
            raise InvalidArgumentError(
                f"expected {name} a size such as 6GB, 512MB or 1.5GiB. Received: {name}={size!r}")
        value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise InvalidArgumentError(f"expected {name} > 0 bytes. Received: {name}={size!r}")
    return value


def parse_frame_range(value, name="frames"):
    """`"A:B"` (frames A to B-1, counted from 0; either side may be empty) as `[A, B]`, or `None`."""
    if value is None:
        return None
    received = value
    if isinstance(value, str):
        start, colon, stop = value.partition(":")
        try:
            value = [int(start) if start.strip() else 0, int(stop) if stop.strip() else None]
        except ValueError:
            value = None
        if not colon:
            value = None
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or not isinstance(value[0], int)
            or value[0] < 0 or (value[1] is not None and (not isinstance(value[1], int) or value[1] <= value[0]))):
        raise InvalidArgumentError(
            f"expected {name} as START:STOP with 0 <= START < STOP. Received: {name}={received!r}")
    return list(value)
