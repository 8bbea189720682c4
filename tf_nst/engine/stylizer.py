"""The Stylizer: the driver that runs a `StyleObjective` through the coarse-to-fine schedule.

Data path, top-down: `StylizeSettings` (settings.py) -> `FeatureExtractor` (backbones.py)
-> `StyleObjective` (objective.py: targets once, then `value_and_grad`, tile by tile when
the memory budget requires, memory.py / tiling.py) -> optimizer steps in a `tf.while_loop`
(optimizers.py) -> per scale of the `Schedule` (pyramid.py) -> best image.

The driver runs the loop in chunks so it can report progress, save snapshots, honour a
time budget and stop on Ctrl-C; `stylize_graph` runs the same pieces as one graph for
export.
"""

import dataclasses
import hashlib
import threading
import time

import keras
import numpy as np
import tensorflow as tf

from tf_nst.engine import colors
from tf_nst.io import images as image_io
from tf_nst.engine import pyramid
from tf_nst.engine.backbones import CAFFE_MEAN_BGR, FeatureExtractor
from tf_nst.errors import ImageError, InvalidArgumentError
from tf_nst.engine.objective import StyleObjective
from tf_nst.engine.status import RunStatus
from tf_nst.engine.optimizers import LBFGS, Adam, run_steps
from tf_nst.settings import INIT_MODES, Schedule, StylizeSettings, schedule

MAX_ASPECT_RATIO = 64
STYLE_CACHE_SIZE = 32  # style Gram sets kept for reuse (a batch reuses each style's targets)


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
        status: a `RunStatus`: `done`, `stopped` (Ctrl-C, SIGTERM, `should_stop`) or `time-budget`.
        notes: things the user should know.
        tiling: per scale, `{"size": (width, height), "tile_size": int or None, "estimate": bytes,
            "budget": bytes}`: how each scale was evaluated.
    """

    image: np.ndarray
    alpha: np.ndarray | None
    history: np.ndarray
    loss_names: tuple
    best_loss: float
    steps: int
    seconds: float
    status: RunStatus = RunStatus.DONE
    notes: list = dataclasses.field(default_factory=list)
    tiling: list = dataclasses.field(default_factory=list)

    @property
    def interrupted(self):
        """True when the run ended before every planned evaluation (stopped or out of time)."""
        return not self.status.finished

    def losses(self):
        """History as a list of `{name: value}` dicts, one per evaluation."""
        return [dict(zip(self.loss_names, map(float, row))) for row in self.history]


@dataclasses.dataclass
class Progress:
    """Passed to the `callback` of `Stylizer.stylize` after each chunk of steps.

    Args:
        step: evaluations done so far (all scales).
        total_steps: evaluations planned.
        losses: `{name: value}` of the newest evaluation.
        rows: `(chunk, parts)` loss parts of every evaluation of this chunk.
        scale_index, scale_count: position in the coarse-to-fine schedule.
        size: `(width, height)` of this scale.
        best_image: callable returning the lowest-loss image so far, `uint8 (height, width, 3)`.
    """

    step: int
    total_steps: int
    losses: dict
    scale_index: int
    scale_count: int
    size: tuple
    rows: np.ndarray = None
    best_image: object = None


@dataclasses.dataclass(frozen=True)
class LoopPieces:
    """The traced graph pieces of one objective, each compiled once for any image size.

    Args:
        objective: the `StyleObjective` (untiled, or tiled with `tile_size`).
        content_targets: `fn(content (1, H, W, 3)) -> {layer: features}`.
        style_grams: `fn(style (1, h, w, 3)) -> {layer: Gram}`.
        start: `fn(x, targets, content_weight, style_weight, tv_weight) -> optimizer state` (one evaluation).
        run: `fn(state, targets, content_weight, style_weight, tv_weight, num_steps) -> (state, history)`.
    """

    objective: object
    content_targets: object
    style_grams: object
    start: object
    run: object


class Stylizer:
    """Gatys-style neural style transfer with an in-graph L-BFGS or Adam loop.

    Args:
        settings: a `StylizeSettings` (default: all defaults).
        **overrides: any `StylizeSettings` field, e.g. `size=256`, `backbone="vgg16-hed"`,
            `style_layers="block1_conv1,block2_conv1:0.5"`, `optimizer="adam"`,
            `max_memory="6GB"`; see `tf_nst/settings/schema.py` for every field, its default and limits.
            `backbone` may also be a `keras.Model` (name its layers in `content_layers` /
            `style_layers`) or a `FeatureExtractor`.

    Example:
    ```python
    stylizer = Stylizer(backbone="vgg16-hed", size=256, num_steps=150)
    result = stylizer.stylize("content.jpg", ["starry_night.jpg"])
    tf_nst.save_png("out.png", result.image, settings=stylizer.get_config(),
                    inputs=["content.jpg", "starry_night.jpg"])
    ```
    """

    def __init__(self, settings=None, **overrides):
        if settings is None:
            settings = StylizeSettings()
        elif isinstance(settings, dict):
            settings = StylizeSettings.from_dict(settings)
        elif not isinstance(settings, StylizeSettings):
            raise InvalidArgumentError(
                f"expected settings a StylizeSettings or dict. Received: settings={type(settings).__name__}")
        settings = settings.replace(**overrides)
        self.schedule = schedule(settings)
        init = settings.init
        if isinstance(init, str) and init not in INIT_MODES:
            init = image_io.load_image(init).rgb  # a path
        self.init = init
        self.optimizer = self.build_optimizer(settings)
        layer_names = list(settings.content_layers) + list(settings.style_layers)
        for term in settings.extra_loss_terms:
            layer_names += list(term.layer_names)
        if isinstance(settings.backbone, FeatureExtractor):
            self.extractor = settings.backbone
        else:
            self.extractor = FeatureExtractor(
                layer_names, backbone=settings.backbone, weights=settings.weights, pooling=settings.pooling,
                preprocessing=settings.preprocessing, precision=settings.precision)
        # "auto" is resolved here; the record says what ran.
        self.settings = settings.replace(precision=self.extractor.precision)
        self.min_side = max(pyramid.MIN_SIDE, self.extractor.spatial_divisor)
        self._pieces = {}
        self._in_place_optimizer = None
        self._run_lock = threading.Lock()
        self._style_cache = {}
        self._style_cache_stats = {"hits": 0, "misses": 0}

    @staticmethod
    def build_optimizer(settings, in_place=False):
        """The `Optimizer` of `settings` (L-BFGS or Adam with their fields).

        `in_place=True`: an L-BFGS keeps its history in variables (`LBFGS(in_place=True)`).
        """
        step = {} if settings.learning_rate is None else {"learning_rate": settings.learning_rate}
        if settings.optimizer == "adam":
            return Adam(beta_1=settings.adam_beta1, beta_2=settings.adam_beta2, epsilon=settings.adam_epsilon,
                        **step)
        return LBFGS(history_size=settings.lbfgs_history, first_step=settings.lbfgs_first_step,
                     in_place=in_place, **step)

    def get_config(self):
        """The settings as a JSON-serializable dict (field names; not the weights).

        A custom backbone is stored as its serialized `FeatureExtractor` (architecture only),
        extra loss terms as their Keras serialization, an array `init` as `"array"`.
        """
        config = self.settings.to_dict()
        if not isinstance(config["backbone"], str):
            config["backbone"] = keras.saving.serialize_keras_object(self.extractor)
        config["extra_loss_terms"] = [keras.saving.serialize_keras_object(term)
                                      for term in config["extra_loss_terms"]]
        if not isinstance(config["init"], str):
            config["init"] = "array"
        return config

    @classmethod
    def from_config(cls, config, **overrides):
        """Rebuild a Stylizer from `get_config()` output (a custom backbone gets fresh weights)."""
        config = {**config, **overrides}
        if config.get("init") == "array":
            raise InvalidArgumentError(
                "expected the init image as init=array or path: configs do not store pixels. "
                "Received: init='array'")
        if isinstance(config.get("backbone"), dict):
            config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["extra_loss_terms"] = tuple(
            keras.saving.deserialize_keras_object(term) if isinstance(term, dict) else term
            for term in config.get("extra_loss_terms", ()))
        return cls(**config)

    @property
    def loss_names(self):
        return self.pieces().objective.loss_names

    # --- graph pieces -----------------------------------------------------------------------

    def objective(self, tile_size=None):
        """The `StyleObjective` of these settings, evaluated tile by tile when `tile_size` is set."""
        return StyleObjective(
            self.extractor, self.settings.content_layers, self.settings.style_layers,
            loss_form=self.settings.loss_form, extra_loss_terms=self.settings.extra_loss_terms,
            tile_size=tile_size)

    def pieces(self, tile_size=None, in_place=False):
        """The `LoopPieces` for `tile_size` (None: untiled), traced once for any image size.

        `in_place=True` (what `stylize` runs): the L-BFGS history lives in variables shared by
        all in-place pieces of this Stylizer, one copy instead of the caller's and the loop's;
        a state from `start` is then valid until the next `start`. Default: states are
        values, as in the export.
        """
        key = (tile_size, bool(in_place))
        if key not in self._pieces:
            other = self._pieces.get((tile_size, not in_place))
            # The objective and its target functions do not depend on where the history lives:
            # built and traced once per tile size.
            objective = other.objective if other else self.objective(tile_size)
            content_targets = other.content_targets if other else AnySizeFunction(objective.content_targets)
            style_grams = other.style_grams if other else AnySizeFunction(objective.style_grams)
            if in_place and self._in_place_optimizer is None:
                self._in_place_optimizer = self.build_optimizer(self.settings, in_place=True)
            optimizer = self._in_place_optimizer if in_place else self.optimizer

            def start(x, targets, content_weight, style_weight, tv_weight):
                return optimizer.initialize(
                    x, objective.value_and_grad(targets, content_weight, style_weight, tv_weight))

            def run(state, targets, content_weight, style_weight, tv_weight, num_steps):
                value_and_grad = objective.value_and_grad(targets, content_weight, style_weight, tv_weight)
                return run_steps(optimizer, state, value_and_grad, num_steps)

            # Traced for any image size, exactly as the exported graph is (see `AnySizeFunction`).
            self._pieces[key] = LoopPieces(
                objective=objective, content_targets=content_targets, style_grams=style_grams,
                start=AnySizeFunction(start), run=AnySizeFunction(run))
        return self._pieces[key]

    def stylize_graph(self, content, style, num_steps, content_weight, style_weight, tv_weight, seed,
                      random_init=False):
        """The whole optimization as one graph (single scale, one style, untiled): for export.

        Args:
            content, style: `(1, H, W, 3)` uint8 or float 0-255.
        Returns:
            `(stylized uint8 (1, H, W, 3), history (num_steps + 1, parts))`.
        """
        objective = self.objective()
        content = tf.cast(content, tf.float32)
        targets = objective.compute_targets(content, [tf.cast(style, tf.float32)], tf.ones([1]))
        x = tf.cond(tf.convert_to_tensor(random_init), lambda: random_image(tf.shape(content), seed),
                    lambda: content)
        value_and_grad = objective.value_and_grad(targets, content_weight, style_weight, tv_weight)
        state = self.optimizer.initialize(x, value_and_grad)
        first = state["parts"][None]
        state, history = run_steps(self.optimizer, state, value_and_grad, num_steps)
        return to_uint8(state["best_x"]), tf.concat([first, history], 0)

    # --- targets ------------------------------------------------------------------------------

    def targets(self, content_rgb, style_rgbs, blend, tile_size=None):
        """Content features and blended style Grams for one scale.

        Each style's Grams are kept (by pixels and tiling) and reused: a batch that runs many
        contents against one style computes that style's targets once per scale.
        """
        pieces = self.pieces(tile_size)
        grams = [self._cached_style_grams(style_rgb, tile_size) for style_rgb in style_rgbs]
        return {"content": pieces.content_targets(to_batch(content_rgb)),
                "style": pieces.objective.blend(grams, blend)}

    def _cached_style_grams(self, style_rgb, tile_size):
        style_rgb = np.ascontiguousarray(style_rgb, np.uint8)
        key = (hashlib.sha256(style_rgb.tobytes()).hexdigest(), style_rgb.shape, tile_size)
        if key in self._style_cache:
            self._style_cache_stats["hits"] += 1
            self._style_cache[key] = self._style_cache.pop(key)  # most recently used last
            return self._style_cache[key]
        self._style_cache_stats["misses"] += 1
        grams = self.pieces(tile_size).style_grams(to_batch(style_rgb))
        self._style_cache[key] = grams
        while len(self._style_cache) > STYLE_CACHE_SIZE:
            self._style_cache.pop(next(iter(self._style_cache)))
        return grams

    def style_cache_info(self):
        """`{"hits": n, "misses": n, "size": n}` of the style-target cache."""
        return {**self._style_cache_stats, "size": len(self._style_cache)}

    def clear_style_cache(self):
        self._style_cache.clear()

    def plan_tiling(self, height, width):
        """`{"tile_size", "estimate", "budget"}` for an evaluation at `height x width` (memory.py)."""
        from tf_nst.engine.memory import plan_tiling

        history = self.settings.lbfgs_history if self.settings.optimizer == "lbfgs" else 1
        tile_size, estimate, budget = plan_tiling(
            self.extractor, height, width, history_size=history, max_memory=self.settings.max_memory,
            tile_size=self.settings.tile_size, content_layers=list(self.settings.content_layers))
        return {"size": (width, height), "tile_size": tile_size, "estimate": estimate, "budget": budget}

    # --- Python driver ----------------------------------------------------------------------

    def stylize(self, content, styles, callback=None, should_stop=None, chunk_steps=5, init=None,
                num_steps=None):
        """Stylize `content` with one or more `styles`.

        Args:
            content: image path, `LoadedImage` or `uint8 (H, W, 3)` array.
            styles: one or a list of the same (blended by the `style_blend` setting).
            callback: called with a `Progress` after each chunk of steps.
            should_stop: callable checked between chunks; when it returns True the run stops
                cleanly like Ctrl-C (how the CLI turns SIGINT/SIGTERM into a clean stop).
            chunk_steps: steps per in-graph call between callbacks.
            init: for this call, a `uint8 (h, w, 3)` start image instead of the settings' `init`
                (resized to the output; a video's warped previous frame).
            num_steps: for this call, a single resolution at the final size with this many
                evaluations instead of the schedule (a video's later frames start close).

        Returns:
            A `StylizeResult`. Ctrl-C stops the run and returns the best image so far
            with `status=RunStatus.STOPPED`.

        One run at a time per Stylizer (the L-BFGS history is its variables): concurrent
        calls from several threads wait for each other.
        """
        with self._run_lock:
            return self._stylize(content, styles, callback, should_stop, chunk_steps, init, num_steps)

    def _stylize(self, content, styles, callback, should_stop, chunk_steps, init, num_steps):
        settings = self.settings
        content = _as_loaded(content)
        if not isinstance(styles, (list, tuple)):
            styles = [styles]
        styles = [_as_loaded(style) for style in styles]
        if not styles:
            raise InvalidArgumentError("expected at least one style image. Received: styles=[]")
        blend = _blend_weights(settings.style_blend, len(styles))
        notes = list(content.notes) + [note for style in styles for note in style.notes]
        content_colors = content.rgb
        if settings.preserve_colors == "luminance":
            content = dataclasses.replace(content, rgb=colors.gray_rgb(colors.luminance(content.rgb)))
            styles = [dataclasses.replace(style, rgb=colors.match_luminance(style.rgb, content_colors))
                      for style in styles]
        elif settings.preserve_colors == "histogram":
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
        if init is not None:
            init = _as_loaded(init).rgb
        schedule = self.schedule
        if num_steps is not None:
            schedule = Schedule(sizes=[settings.size], steps=[int(num_steps)])
        weights = (tf.constant(settings.content_weight), tf.constant(settings.style_weight),
                   tf.constant(settings.tv_weight))
        started = time.perf_counter()
        rows, done, status, state, tiling = [], 0, RunStatus.DONE, None, []
        try:
            for scale_index, (scale_size, scale_steps) in enumerate(zip(schedule.sizes, schedule.steps)):
                content_rgb = pyramid.fit(content.rgb, scale_size, self.min_side)
                height, width = content_rgb.shape[:2]
                plan = self.plan_tiling(height, width)
                tiling.append(plan)
                pieces = self.pieces(plan["tile_size"], in_place=True)
                style_rgbs = [pyramid.fit(style.rgb, max(self.min_side, round(settings.style_scale * scale_size)),
                                          self.min_side) for style in styles]
                targets = self.targets(content_rgb, style_rgbs, blend, plan["tile_size"])
                if state is None:
                    x = self.initial_image(content_rgb, init)
                else:
                    x = pyramid.upsample(state["best_x"], content_rgb)
                state = pieces.start(x, targets, *weights)
                rows.append(state["parts"].numpy())
                steps_here = 0
                while steps_here < scale_steps:
                    if settings.max_seconds is not None and time.perf_counter() - started >= settings.max_seconds:
                        status = RunStatus.TIME_BUDGET
                        notes.append(f"time budget of {settings.max_seconds:g} s reached after {done} steps")
                        break
                    if should_stop is not None and should_stop():
                        status = RunStatus.STOPPED
                        notes.append(f"interrupted after {done} steps")
                        break
                    chunk = min(chunk_steps, scale_steps - steps_here)
                    state, history = pieces.run(state, targets, *weights, tf.constant(chunk))
                    history = history.numpy()
                    rows.extend(history)
                    steps_here += chunk
                    done += chunk
                    if callback is not None:
                        callback(Progress(
                            step=done, total_steps=schedule.total_steps,
                            losses=dict(zip(self.loss_names, map(float, rows[-1]))), rows=history,
                            scale_index=scale_index, scale_count=len(schedule.sizes), size=(width, height),
                            best_image=lambda current=state: to_uint8(current["best_x"]).numpy()[0]))
                if status is not RunStatus.DONE:
                    break
        except KeyboardInterrupt:
            # Ctrl-C lands wherever Python next runs: between chunks, in a callback, or while
            # the next scale's targets are built. Before the first state there is nothing to keep.
            if state is None:
                raise
            status = RunStatus.STOPPED
            notes.append(f"interrupted after {done} steps")
        image = to_uint8(state["best_x"]).numpy()[0]
        if settings.preserve_colors == "luminance":
            chroma_source = image_io.resize(content_colors, (image.shape[1], image.shape[0]))
            image = colors.recombine_luminance(image, chroma_source)
        alpha = None
        if content.alpha is not None:
            alpha = image_io.resize(content.alpha, (image.shape[1], image.shape[0]))
        return StylizeResult(
            image=image, alpha=alpha, history=np.asarray(rows, np.float32),
            loss_names=self.loss_names, best_loss=float(state["best_loss"]), steps=done,
            seconds=time.perf_counter() - started, status=status, notes=notes, tiling=tiling)

    def initial_image(self, content_rgb, init=None):
        """The start image `(1, H, W, 3)` float at `content_rgb`'s size: the settings' `init` or `init`."""
        init = self.init if init is None else init
        shape = tf.constant([1, *content_rgb.shape])
        if isinstance(init, str) and init == "content":
            return tf.constant(content_rgb[None], tf.float32)
        if isinstance(init, str) and init == "mean-noise":
            return mean_noise_image(shape, self.settings.seed)
        if isinstance(init, str):  # "random"
            return random_image(shape, self.settings.seed)
        init = image_io.resize(np.asarray(init, np.uint8), (content_rgb.shape[1], content_rgb.shape[0]))
        return tf.constant(init[None], tf.float32)


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


def to_batch(rgb):
    """A `uint8 (H, W, 3)` array as a `(1, H, W, 3)` float32 tensor."""
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
    """The settings' `style_blend` (checked there) for `count` styles, normalized; equal by default."""
    if weights is None:
        return np.full([count], 1.0 / count, np.float32)
    if len(weights) != count:
        raise InvalidArgumentError(
            f"expected one blend weight per style ({count}). Received: style_blend={weights}")
    return np.asarray(weights, np.float32) / sum(weights)
