"""Memory budget: parse a size, estimate an evaluation's peak, choose a tile size.

An untiled evaluation keeps every activation of the whole image for the backward
pass, so its peak grows with the pixel count; a tiled one (`tf_nst.engine.tiling`) keeps
one window's activations plus a few image-sized tensors. `plan_tiling` tiles only
when the untiled run would not fit the budget, with the largest tile that fits.

TensorFlow is imported inside the functions that need it: parsing a size must not
cost a TensorFlow import (the CLI validates options before loading anything).
"""

import math
import shutil
import subprocess

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import MIN_AUTO_TILE
from tf_nst.settings.parsing import parse_size

# Calibration, TF 2.21 CPU with oneDNN, 2-core Xeon with AMX, vgg16-hed, default layers.
# One evaluation (`python -m benchmarks.tiling`: a fresh process computes the targets and runs
# one evaluation; peak RSS = VmHWM):
#                   untiled 1024   untiled 2048   512 px tiles 1024   512 px tiles 2048
#     float32       2.69 GiB       8.52 GiB       1.88 GiB            2.27 GiB
#     bfloat16      2.36 GiB       6.86 GiB       1.58 GiB            -
# The untiled slope minus the image-sized tensors is the activations: 1.57x their float32
# bytes untiled, 2.0x per float32 tile window (pass 2's tape plus pass 1's buffers), 2.37x
# their bf16 bytes (the float32 feature casts).
# Whole L-BFGS runs with a full 10-pair history (`python -m benchmarks.print_size --steps 12
# --tile N`, bf16): 4096x3072 with 512 px tiles 8.12 GB; 2048x1536 with 512 px tiles 3.46 GB,
# with 256 px tiles 2.79 GB. Hence 4.06x the bf16 bytes per tile window (each window's
# float32 casts and bf16 copies outlive its pass) and 486 bytes per image pixel: the history
# (`benchmarks.memory --history`: 1.02 copies of each pair on a cheap objective; whole runs fit
# 1.22: 4096x3072 in 656 px tiles measured 8.36 GB after the bf16 content targets), 8 more vectors of
# the optimizer (x, gradient, best image, proposal; the driver's and the loop's), and 90 B
# of the evaluation (x, the gradient accumulator, the TV tape, content targets of 32 B/px).
BASE_BYTES = {"float32": 800 * 10**6, "bfloat16": 925 * 10**6}  # runtime, oneDNN, weights (bf16: twice)
ACTIVATION_FACTOR = {("float32", False): 1.57, ("float32", True): 2.0,
                     ("bfloat16", False): 2.37, ("bfloat16", True): 4.06}  # (precision, tiled)
IMAGE_BYTES_PER_PIXEL = 58                 # image-sized float32 tensors of an evaluation, beside content targets
OPTIMIZER_IMAGE_VECTORS = 8                # image-sized vectors of the optimizer beside its history
HISTORY_COPIES = 1.25                      # L-BFGS in place, per pair's two vectors (fit of whole runs: 1.22)
SAFETY = 1.2                               # the evaluation's part of an estimate is multiplied by this
BUDGET_SHARE = 1 / 3                       # of the device's free memory: the rest is for others


def backbone_profile(extractor, content_layers=None):
    """What the estimate needs from a `FeatureExtractor`.

    Args:
        extractor: a `FeatureExtractor`.
        content_layers: names of the content layers (their targets are image-sized);
            `None` counts every requested layer (an upper bound).

    Returns:
        `{"activation_floats": float, "content_floats": float}`: values per input pixel held by
        all the backbone's layer outputs (`Σ channels / stride²`), and by the content targets.
    """
    from tf_nst.engine import tiling  # imports TensorFlow

    strides = tiling.layer_strides(extractor)
    floats = {layer.name: layer.output.shape[-1] / strides[layer.name] ** 2
              for layer in extractor.model.layers[1:]}
    content_layers = extractor.layer_names if content_layers is None else content_layers
    return {"activation_floats": sum(floats.values()),
            "content_floats": sum(floats[name] for name in content_layers)}


def estimate_peak_bytes(height, width, activation_floats, history_size=10, precision="float32",
                        tile_size=None, halo=80, content_floats=8.0):
    """Estimated peak memory (bytes) of a run's evaluation at `height x width`.

    Args:
        height, width: image size in pixels.
        activation_floats: values per input pixel held by the backbone's layer outputs
            (`backbone_profile(extractor)["activation_floats"]`; ~296 for VGG16 up to block5_conv1).
        history_size: L-BFGS pairs kept (each pair is two image-sized float32 vectors);
            Adam: 1 (its two moments); 0 for an evaluation alone (no optimizer state).
        precision: `"float32"` or `"bfloat16"` (activations of half the size).
        tile_size: `None` for an untiled evaluation, else the tile side in pixels.
        halo: context pixels around each tile (`tiling.default_halo`).
        content_floats: values per input pixel of the content targets (8 for block4_conv2;
            float32, or bf16 when tiled in bf16).

    Returns:
        Bytes: the runtime and the optimizer's state as measured, plus the evaluation's
        activations and image-sized tensors times `SAFETY` (they vary with the backbone and
        the allocator).
    """
    pixels = height * width
    if tile_size is None:
        window = pixels
    else:
        window = min(height, tile_size + 2 * halo) * min(width, tile_size + 2 * halo)
    activation_bytes = activation_floats * (2 if precision == "bfloat16" else 4)
    precision = precision if precision in BASE_BYTES else "float32"
    # Tiled bf16 runs keep their content targets in bf16 (`StyleObjective.content_targets`).
    content_bytes = (2 if precision == "bfloat16" and tile_size is not None else 4) * content_floats
    evaluation = (ACTIVATION_FACTOR[precision, tile_size is not None] * window * activation_bytes
                  + IMAGE_BYTES_PER_PIXEL * pixels + content_bytes * pixels)
    return int(BASE_BYTES[precision] + optimizer_state_bytes(pixels, history_size) + SAFETY * evaluation)


def optimizer_state_bytes(pixels, history_size=10):
    """Bytes of the optimizer's image-sized state at `pixels`: its history (measured, in place)
    and its other vectors (x, gradient, best image, proposal; the driver's and the loop's).

    `history_size`: L-BFGS pairs; Adam: 1 (its two moments); 0: no optimizer.
    """
    if not history_size:
        return 0
    return int((2 * HISTORY_COPIES * history_size + OPTIMIZER_IMAGE_VECTORS) * 4 * 3 * pixels)


def choose_tile(height, width, budget_bytes, activation_floats, history_size=10, precision="float32",
                halo=80, grid=16, content_floats=8.0):
    """`None` if the untiled evaluation fits `budget_bytes`, else the largest tile that does.

    Tiles are multiples of `grid` (the backbone's pooling grid), at least `MIN_AUTO_TILE`, and
    smaller than the image's longer side.

    Raises:
        InvalidArgumentError: not even a `MIN_AUTO_TILE` tile fits (the message says what would).
    """
    estimate = lambda tile: estimate_peak_bytes(  # noqa: E731
        height, width, activation_floats, history_size, precision, tile, halo, content_floats)
    if estimate(None) <= budget_bytes:
        return None
    smallest = grid * math.ceil(MIN_AUTO_TILE / grid)
    for tile in range(grid * ((max(height, width) - 1) // grid), smallest - 1, -grid):
        if estimate(tile) <= budget_bytes:
            return tile
    raise InvalidArgumentError(
        f"expected a memory budget of at least {_format(estimate(smallest))} for a {width}x{height} "
        f"image (tiles of {smallest} px; the optimizer's image-sized state shrinks with fewer L-BFGS pairs, "
        f"lbfgs_history, or with Adam). Received: max_memory={_format(budget_bytes)}")


def _format(size):
    return f"{size / 10**9:.2f} GB"


def _mem_available(meminfo_path="/proc/meminfo"):
    try:
        with open(meminfo_path) as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _own_rss():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _gpu_free_bytes():
    """Free memory of the first GPU from nvidia-smi (TensorFlow reports usage, not capacity)."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        output = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits", "--id=0"],
            capture_output=True, text=True, timeout=10).stdout
        return int(output.strip().splitlines()[0]) * 2**20
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def default_budget():
    """`BUDGET_SHARE` of the free memory of the device TensorFlow runs on, in bytes.

    CPU: this process's resident memory plus the system's `MemAvailable` (Linux); a GPU
    (when TensorFlow sees one): its free memory from nvidia-smi, plus what TensorFlow already
    holds there. Without either figure: 4 GiB, the smallest memory such a device is likely to have.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        free = _gpu_free_bytes()
        if free is not None:
            try:
                free += tf.config.experimental.get_memory_info("GPU:0")["current"]
            except (ValueError, RuntimeError):
                pass
            return int(BUDGET_SHARE * free)
        return 4 * 2**30
    available = _mem_available()
    if available is None:
        return 4 * 2**30
    return int(BUDGET_SHARE * (available + _own_rss()))


def plan_tiling(extractor, height, width, history_size, max_memory=None, tile_size=None, content_layers=None):
    """Decide how one scale of a run evaluates: `(tile_size or None, estimate_bytes, budget_bytes)`.

    Args:
        extractor: the run's `FeatureExtractor`.
        height, width: the scale's image size.
        history_size: L-BFGS pairs (Adam: 1).
        max_memory: budget as bytes or a string (`"6GB"`); default `default_budget()`.
        tile_size: forces this tile size (checked against the backbone's grid); it wins over
            the budget.
        content_layers: the content layer names (default: all requested layers, an upper bound).

    Returns:
        The tile size to pass to `StyleObjective` (`None`: untiled), the estimated peak
        with that choice, and the budget it was chosen for.

    Example:
    ```python
    tile, estimate, budget = plan_tiling(extractor, 3072, 4096, history_size=10, max_memory="6GB")
    objective = StyleObjective(extractor, content_layers, style_layers, tile_size=tile)
    ```
    """
    from tf_nst.engine import tiling

    budget = default_budget() if max_memory is None else parse_size(max_memory)
    halo = tiling.default_halo(extractor)
    grid = tiling.grid_step(extractor)
    profile = backbone_profile(extractor, content_layers)
    content_floats = profile["content_floats"]
    kwargs = dict(history_size=history_size, precision=extractor.precision, halo=halo,
                  content_floats=content_floats)
    if tile_size is not None:
        tile_size, _ = tiling.check_tile_size(extractor, tile_size)
    else:
        tile_size = choose_tile(height, width, budget, profile["activation_floats"], grid=grid, **kwargs)
    estimate = estimate_peak_bytes(height, width, profile["activation_floats"], tile_size=tile_size, **kwargs)
    return tile_size, estimate, budget
