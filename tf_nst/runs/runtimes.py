"""Which runtime runs a network: onnxruntime (float32, no TensorFlow import) or TensorFlow.

`import tensorflow` takes longer than a whole one-photo stylization, so both networks — the arbitrary-style
network (`tf_nst.runs.arbitrary_run.ArbitraryRun`) and a trained style network (`tf_nst.runs.realtime.ModelRun`)
— can run on onnxruntime. `choose_runtime` is the one rule for both; `ONE_PHOTO_RUNTIME` is what `stylize`'s
one photo asks for. TensorFlow-free to import.
"""

import importlib.util

from tf_nst.errors import InvalidArgumentError, ModelError, NSTError
from tf_nst.settings import ARBITRARY_RUNTIMES, PRECISIONS
from tf_nst.settings.choices import ARBITRARY_MAX_TILE_PIXELS

# What runs `stylize PHOTO [PAINTING...] --model NAME` (`choose_runtime`): onnxruntime float32 unless --precision
# bfloat16, a pass over the tiles' budget (TensorFlow works in tiles) or onnxruntime is missing. Batches, videos,
# the studio and exports stay on TensorFlow, whose bfloat16 pass is faster warm on CPUs with native bf16
# (docs/arbitrary.md and docs/realtime.md).
ONE_PHOTO_RUNTIME = "auto"


def onnxruntime_missing(backbone):
    """Why the onnxruntime runtime cannot run a network on `backbone` (a sentence), or `None` if it can;
    `backbone` `None`: a network without one (a trained style network: its weights are all in its folder)."""
    from tf_nst.engine.arbitrary_onnx import ONNX_BACKBONES, hed_weights_file

    for package in ("onnxruntime", "onnx"):
        if importlib.util.find_spec(package) is None:
            return f"no module {package}"
    if backbone is None:
        return None
    if backbone not in ONNX_BACKBONES:
        return f"backbone={backbone!r} (its weights are read by TensorFlow)"
    try:
        hed_weights_file()
    except NSTError as error:
        return str(error)
    return None


def choose_runtime(runtime, precision, backbone, pixels=None, max_pixels=ARBITRARY_MAX_TILE_PIXELS):
    """`(runtime, precision)` that will run: `runtime` one of `ARBITRARY_RUNTIMES`, `precision` one of
    `PRECISIONS` (`"auto"` is resolved by TensorFlow, on its runtime only).

    `pixels`: the most pixels one pass of the network will see, when known (`network_pixels`: at the stroke
    scale, at most its square). Over `max_pixels` (the network's tile budget: `ARBITRARY_MAX_TILE_PIXELS`,
    `FEEDFORWARD_MAX_TILE_PIXELS` for a style network), `"auto"` takes TensorFlow, whose stylizer works in
    tiles (bounded memory); onnxruntime makes one pass over the whole. `backbone`: the network's (`None` for a
    style network, which needs none).

    Raises:
        InvalidArgumentError: an unknown runtime or precision, or onnxruntime with bfloat16.
        ModelError: `runtime="onnxruntime"` where it cannot run (not installed, another backbone).
    """
    if runtime not in ARBITRARY_RUNTIMES:
        raise InvalidArgumentError(f"expected runtime one of {', '.join(ARBITRARY_RUNTIMES)}. "
                                   f"Received: runtime={runtime!r}")
    if precision not in PRECISIONS:
        raise InvalidArgumentError(f"expected precision one of {', '.join(PRECISIONS)}. "
                                   f"Received: precision={precision!r}")
    large = pixels is not None and int(pixels) > max_pixels
    if runtime == "tensorflow" or (runtime == "auto" and (precision == "bfloat16" or large)):
        return "tensorflow", precision
    if precision == "bfloat16":
        raise InvalidArgumentError("expected precision float32 or auto with runtime onnxruntime (it has no bfloat16 "
                                   "here). Received: precision='bfloat16'")
    missing = onnxruntime_missing(backbone)
    if missing is None:
        return "onnxruntime", "float32"
    if runtime == "auto":
        return "tensorflow", precision
    raise ModelError(f"expected onnxruntime able to run the network (pip install onnxruntime onnx). "
                     f"Received: {missing}")


def network_pixels(pixels, stroke_size):
    """The most pixels one pass of the network sees for an output of `pixels` pixels: at the stroke scale, at
    most `stroke_size` squared (`None` when `pixels` is unknown)."""
    if pixels is None or not stroke_size:
        return pixels
    return min(int(pixels), int(stroke_size) ** 2)
