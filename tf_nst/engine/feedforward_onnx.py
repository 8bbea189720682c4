"""A trained style network (`TransformerNet`, `train`'s model folders) on onnxruntime, without TensorFlow.

`import tensorflow` alone takes several times a whole one-photo stylization, so `stylize PHOTO --model
NAME` runs the network here when it can (`tf_nst.runs.realtime.ModelRun(runtime=...)`): the model folder's
weights (`model.weights.npz`, read with numpy) become one ONNX graph, built with the `onnx` helper API on
first use and cached under `tf_nst.engine.onnx_support.cache_folder()` by the weights' hash. The graph is
`TransformerNet`'s layers in order (reflect-padded convolutions, conditional instance norms as ONNX's
`InstanceNormalization` with the blend's scale and shift as inputs, ReLUs, residual sums, nearest ×2
upsamplings, the 9×9 convolution to RGB and the sigmoid); around it `OnnxFeedForward` repeats
`tf_nst.engine.feedforward.rendering.FeedForward` step by step in numpy: the stroke scale (the numpy twins
in `tf_nst.engine.array_resize`), the 16 px reflect border margin, the texture noise (`tf_nst.engine.texture_noise`),
the padding to a multiple of 4, the blend,
the region masks (`feathered_array`, the composite), the rounding and the colour control. Float32 only; no
tiles (a pass over more than `FEEDFORWARD_MAX_TILE_PIXELS` takes TensorFlow: `ModelRun`'s runtime rule).
Equal to the TensorFlow path at float32 within float rounding (tests/feedforward/test_feedforward_onnx.py).
"""

import hashlib
import os

import numpy as np

from tf_nst.engine.array_resize import stroke_scaled
from tf_nst.engine.colors import apply_colors
from tf_nst.engine.masks import feathered_array
from tf_nst.engine.onnx_support import GraphBuilder, cache_folder, cached_graph, onnx_session
from tf_nst.engine.texture_noise import noise_amplitudes, noise_field
from tf_nst.errors import InvalidArgumentError, ModelError
from tf_nst.io.model_folders import WEIGHTS_FILE, read_model_info
from tf_nst.io.provenance import file_sha256
from tf_nst.settings import MIN_SIDE, resolve_blend
from tf_nst.settings.choices import FEEDFORWARD_BORDER_MARGIN

GRAPH_VERSION = "1"  # part of the cache key: bump when the graph's construction changes
EPSILON = 1e-5  # ConditionalInstanceNorm's


def block_plan(width, num_residual_blocks):
    """`[(filters, kernel, stride, upsample, relu, role)]` of `TransformerNet.norm_blocks()` in order (`role`:
    `"skip"` a residual block's first half, `"add"` its second, else `None`)."""
    plan = [(width, 9, 1, False, True, None), (2 * width, 3, 2, False, True, None),
            (4 * width, 3, 2, False, True, None)]
    for _ in range(num_residual_blocks):
        plan += [(4 * width, 3, 1, False, True, "skip"), (4 * width, 3, 1, False, False, "add")]
    return plan + [(2 * width, 3, 1, True, True, None), (width, 3, 1, True, True, None)]


def transformer_graph(weights, width, num_residual_blocks):
    """ONNX bytes: `image` `(1, 3, H, W)` (the photo scaled to [-1, 1], H and W multiples of 4) and `scale{i}`,
    `shift{i}` `(C,)` of each norm (the blend's) -> `image_out` `(1, 3, H, W)` RGB 0-255 (the sigmoid's).

    `weights`: the model folder's arrays in `TransformerNet.weights`' order (per block: kernel, bias, the norm's
    scale and shift; then the RGB convolution's kernel and bias)."""
    graph = GraphBuilder()
    plan = block_plan(width, num_residual_blocks)
    if len(weights) != 4 * len(plan) + 2:
        raise ModelError(f"expected {4 * len(plan) + 2} weights for width {width} and {num_residual_blocks} "
                         f"residual blocks. Received: {len(weights)}")

    def conv(x, kernel, bias, stride):
        pad = kernel.shape[0] // 2
        x = graph.node("Pad", [x, graph.constant(np.array([0, 0, pad, pad, 0, 0, pad, pad], np.int64), "pads")],
                       mode="reflect")
        weight = graph.constant(np.ascontiguousarray(np.asarray(kernel, np.float32).transpose(3, 2, 0, 1)))
        return graph.node("Conv", [x, weight, graph.constant(np.asarray(bias, np.float32))],
                          kernel_shape=list(kernel.shape[:2]), strides=[stride, stride])

    inputs, x, skip = [("image", [1, 3, None, None])], "image", None
    for index, (filters, _, stride, upsample, relu, role) in enumerate(plan):
        kernel, bias = weights[4 * index], weights[4 * index + 1]
        skip = x if role == "skip" else skip
        if upsample:
            scales = graph.constant(np.array([1, 1, 2, 2], np.float32), "scales")
            x = graph.node("Resize", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor")
        x = graph.node("InstanceNormalization", [conv(x, kernel, bias, stride), f"scale{index}", f"shift{index}"],
                       epsilon=EPSILON)
        inputs += [(f"scale{index}", [filters]), (f"shift{index}", [filters])]
        x = graph.node("Relu", [x]) if relu else x
        x = graph.node("Add", [skip, x]) if role == "add" else x
    x = graph.node("Sigmoid", [conv(x, weights[-2], weights[-1], 1)])
    graph.node("Mul", [x, graph.constant(np.float32(255.0), "full")])
    graph.nodes[-1].output[0] = "image_out"
    return graph.model(inputs, [("image_out", [1, 3, None, None])])


class OnnxFeedForward:
    """A model folder's network on onnxruntime: `FeedForward(network, stroke_size=...).stylize` without TensorFlow.

    Args:
        folder: a model folder written by `train` (`model.json`, `model.weights.npz`).
        stroke_size: photos whose longest side is over this render at it and are scaled up, their detail added
            back (`FeedForward`'s stroke scale); 0: at their own size.
        threads: onnxruntime's threads (default: its own choice).
        cache: keep the built graph under the ONNX cache folder (else built in memory each time).

    Attributes:
        tiling: always `None` (one pass; `FeedForward`'s attribute, for the front ends' messages).

    Raises:
        ModelError: not a model folder of a style network, or weights that do not fit its config.

    Example:
    ```python
    runner = OnnxFeedForward("tf_nst/assets/models/bundled", stroke_size=512)
    rgb = runner.stylize(photo, {"starry_night": 1.0})
    ```
    """

    tiling = None

    def __init__(self, folder, stroke_size=0, threads=None, cache=True):
        self.folder, self.info = os.fspath(folder), read_model_info(folder)
        config = self.info["config"]
        if not config.get("style_names"):
            raise ModelError(f"expected a model folder of a style network. Received: {self.folder}")
        self.width, self.blocks = int(config.get("width", 16)), int(config.get("num_residual_blocks", 5))
        self.texture_noise = np.array(noise_amplitudes(config.get("texture_noise", 0.0), config["style_names"]),
                                      np.float32)
        self.stroke_size, self.threads, self.cache = int(stroke_size or 0), threads, cache
        self._weights_path = os.path.join(self.folder, WEIGHTS_FILE)
        try:
            with np.load(self._weights_path) as stored:
                self._weights = [stored[key].astype(np.float32) for key in sorted(stored.files)]
        except (OSError, ValueError) as error:
            raise ModelError(f"{self._weights_path}: cannot read weights ({error})") from None
        self._check_weights()
        self._session = None

    @property
    def style_names(self):
        return list(self.info["config"]["style_names"])

    def _check_weights(self):
        styles, inputs, expected = len(self.style_names), 3, []
        for filters, kernel, *_ in block_plan(self.width, self.blocks):
            expected += [(kernel, kernel, inputs, filters), (filters,), (styles, filters), (styles, filters)]
            inputs = filters
        expected += [(9, 9, inputs, 3), (3,)]
        received = [tuple(weight.shape) for weight in self._weights]
        if received != expected:
            first = next((index for index, pair in enumerate(zip(received, expected)) if pair[0] != pair[1]),
                         min(len(received), len(expected)))
            raise ModelError(f"expected {len(expected)} weights fitting width {self.width}, {self.blocks} residual "
                             f"blocks and {styles} styles in {self._weights_path}. Received: {len(received)} "
                             f"weights, the first that does not fit: number {first}")

    def session(self):
        """The onnxruntime session of the network's graph, made on first use (graph cached by the weights' hash)."""
        if self._session is None:
            key = hashlib.sha256(f"transformer {GRAPH_VERSION} {file_sha256(self._weights_path)}".encode()).hexdigest()

            def build():
                return transformer_graph(self._weights, self.width, self.blocks)

            path = os.path.join(cache_folder(), key[:32], "transformer.onnx")
            self._session = onnx_session(cached_graph(path, build) if self.cache else build(), self.threads)
        return self._session

    def norm_inputs(self, style_weights):
        """`{scale{i}, shift{i}}` of a style-weights vector (one weight per style): each norm's blended parameters."""
        weights = np.asarray(style_weights, np.float32).reshape(1, -1)
        feeds = {}
        for index in range(len(block_plan(self.width, self.blocks))):
            feeds[f"scale{index}"] = (weights @ self._weights[4 * index + 2])[0]
            feeds[f"shift{index}"] = (weights @ self._weights[4 * index + 3])[0]
        return feeds

    def render_pass(self, photo, style_weights):
        """The network's float `(H, W, 3)` output for a float `(H, W, 3)` photo, at its own size: the border margin
        (`FEEDFORWARD_BORDER_MARGIN`, reflected), the texture noise (`TransformerNet.prepare`'s), [-1, 1], the
        padding to a multiple of 4 (symmetric), cropped back."""
        height, width = photo.shape[:2]
        margin = min(FEEDFORWARD_BORDER_MARGIN, min(height, width) - 1)
        image = np.pad(np.asarray(photo, np.float32), ((margin, margin), (margin, margin), (0, 0)), mode="reflect")
        padded_height, padded_width = image.shape[:2]
        if any(self.texture_noise):
            amplitude = np.sum(np.asarray(style_weights, np.float32).reshape(-1) * self.texture_noise, dtype=np.float32)
            image = image + noise_field(padded_height, padded_width, amplitude)[..., None]
        image = image / np.float32(127.5) - np.float32(1.0)
        image = np.pad(image, ((0, -padded_height % 4), (0, -padded_width % 4), (0, 0)), mode="symmetric")
        feeds = {"image": np.ascontiguousarray(image.transpose(2, 0, 1)[None]), **self.norm_inputs(style_weights)}
        out = self.session().run(["image_out"], feeds)[0][0].transpose(1, 2, 0)
        return out[margin:margin + height, margin:margin + width]

    def render(self, rgb, style_weights):
        """`FeedForward.render`: the network's float `(H, W, 3)` output for a uint8 photo, at the stroke scale."""
        return stroke_scaled(lambda image: self.render_pass(image, style_weights), np.asarray(rgb, np.float32),
                             self.stroke_size, MIN_SIDE)

    def stylize(self, rgb, blend=None, regions=None, preserve_colors="none"):
        """`FeedForward.stylize` (its arguments, its uint8 image within float rounding): `regions` a `Regions`
        (checked by the caller, as `ModelRun` does) or `None`."""
        blend = resolve_blend(blend, self.style_names)
        names = self.style_names

        def weights_of(mix):
            return np.array([mix.get(name, 0.0) for name in names], np.float32)

        if regions is None or regions.region_masks is None:
            out = self.render(rgb, weights_of(blend))
        else:
            masks = feathered_array(regions.region_masks, *np.shape(rgb)[:2])
            if len(masks) != len(blend):
                raise InvalidArgumentError(
                    f"expected one style mask per style ({len(blend)}). Received: {len(masks)} mask(s)")
            renderings = [self.render(rgb, weights_of({name: 1.0})) for name in blend]
            out = composite(np.asarray(rgb, np.float32), renderings, [mask[..., None] for mask in masks])
        return apply_colors(np.clip(np.round(out), 0, 255).astype(np.uint8), rgb, preserve_colors)


def composite(photo, renderings, alphas):
    """`tf_nst.engine.feedforward.rendering.composite` in numpy: each rendering by its alpha, the photo where the
    alphas leave room; alphas summing above 1 scaled to sum to 1."""
    coverage = sum(alphas[1:], alphas[0]).astype(np.float32)
    scale = np.where(coverage > 1.0, np.float32(1.0) / np.maximum(coverage, np.float32(1e-6)), np.float32(1.0))
    out = photo * (np.float32(1.0) - np.minimum(coverage, np.float32(1.0)))
    for rendered, alpha in zip(renderings, alphas):
        out = out + rendered * (alpha * scale)
    return out
