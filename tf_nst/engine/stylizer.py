"""The Stylizer: the driver that runs a `StyleObjective` through the coarse-to-fine schedule.

Data path, top-down: `StylizeSettings` (`tf_nst.settings`) -> `FeatureExtractor` (backbones.py)
-> `StyleObjective` (objective.py: targets once, then `value_and_grad`, tiled when the memory
budget requires, memory.py / tiling.py) -> optimizer steps in a `tf.while_loop` (optimizers.py)
-> per scale of the `Schedule` (`tf_nst.settings.schedule`) -> best image.

The driver runs the loop in chunks (progress, snapshots, a time budget, Ctrl-C); `stylize_graph`
runs the same pieces as one graph for export. Its pieces: `inputs.py` (a run's checked inputs),
`masks.py` (its `Regions`), `pieces.py` (the traced loop pieces), `targets.py` (the style cache).
"""

import dataclasses
import threading
import time

import keras
import numpy as np
import tensorflow as tf

from tf_nst.engine import colors, pyramid
from tf_nst.engine import masks as masks_module
from tf_nst.engine.backbones import FeatureExtractor
from tf_nst.engine.inputs import prepare_inputs
from tf_nst.engine.objective import StyleObjective
from tf_nst.engine.optimizers import LBFGS, Adam, run_steps
from tf_nst.engine.pieces import (
    build_pieces,
    mean_noise_image,
    random_image,
    run_function,
    start_function,
    to_batch,
    to_uint8,
)
from tf_nst.engine.results import Progress, RunRecord, StylizeResult
from tf_nst.engine.status import RunStatus
from tf_nst.engine.targets import StyleCache
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import images as image_io
from tf_nst.settings import INIT_MODES, Schedule, StylizeSettings, schedule


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
    # One painting for the sky, another for the ground (grey masks, white = the style's region):
    result = stylizer.stylize("content.jpg", ["starry_night.jpg", "the_scream.jpg"],
                              region_masks=["sky.png", "ground.png"])
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
        self.init = settings.init  # a start image's path is read when first needed, once
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
        self._style_cache = StyleCache()

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
            tile_size=tile_size, style_statistic=self.settings.style_statistic)

    def pieces(self, tile_size=None, in_place=False):
        """The `LoopPieces` for `tile_size` (None: untiled), traced once for any image size.

        `in_place=True` (what `stylize` runs): the L-BFGS history lives in variables shared by
        all in-place pieces of this Stylizer, one copy instead of the caller's and the loop's;
        a state from `start` is then valid until the next `start`. Default: states are
        values, as in the export.
        """
        key = (tile_size, bool(in_place))
        if key not in self._pieces:
            if in_place and self._in_place_optimizer is None:
                self._in_place_optimizer = self.build_optimizer(self.settings, in_place=True)
            optimizer = self._in_place_optimizer if in_place else self.optimizer
            other = self._pieces.get((tile_size, not in_place))
            if other is None:
                self._pieces[key] = build_pieces(self.objective(tile_size), optimizer)
            else:
                # The objective and its target functions do not depend on where the history
                # lives: built and traced once per tile size.
                self._pieces[key] = dataclasses.replace(
                    other, start=start_function(other.objective, optimizer),
                    run=run_function(other.objective, optimizer))
        return self._pieces[key]

    def stylize_graph(self, content, style, num_steps, content_weight, style_weight, tv_weight, seed,
                      random_init=False, mask=None, style_mask=None):
        """The whole optimization as one graph (single scale, one style, untiled): for export.

        Args:
            content, style: `(1, H, W, 3)` uint8 or float 0-255.
            mask: `None` (the style everywhere: today's graph, op for op) or `(1, h, w, 1)` uint8
                (0-255) or float (0-1) tensor: where the style applies, resized to the content
                (`masks.fit_masks`; unchanged at the content's size). Black: content and TV only.
            style_mask: `None` or `(1, h, w, 1)` likewise, on the style: the part that feeds the region.
        Returns:
            `(stylized uint8 (1, H, W, 3), history (num_steps + 1, parts))`.
        """
        objective = self.objective()
        content = tf.cast(content, tf.float32)
        style = tf.cast(style, tf.float32)
        if mask is not None:
            shape = tf.shape(content)
            mask = masks_module.fit_masks(masks_module.as_unit_tensor(mask), shape[1], shape[2])
        style_image_masks = None
        if style_mask is not None:
            shape = tf.shape(style)
            style_image_masks = [masks_module.fit_masks(masks_module.as_unit_tensor(style_mask), shape[1], shape[2])]
        targets = objective.compute_targets(content, [style], tf.ones([1]), mask, style_image_masks)  # region, image
        x = tf.cond(tf.convert_to_tensor(random_init), lambda: random_image(tf.shape(content), seed),
                    lambda: content)
        value_and_grad = objective.value_and_grad(targets, content_weight, style_weight, tv_weight)
        state = self.optimizer.initialize(x, value_and_grad)
        first = state["parts"][None]
        state, history = run_steps(self.optimizer, state, value_and_grad, num_steps)
        return to_uint8(state["best_x"]), tf.concat([first, history], 0)

    # --- targets ------------------------------------------------------------------------------

    def targets(self, content_rgb, style_rgbs, blend, tile_size=None, region_masks=None, style_image_masks=None):
        """Content features and style targets for one scale.

        Args:
            content_rgb, style_rgbs: `uint8` arrays at this scale.
            blend: `(len(style_rgbs),)` weights summing to 1.
            region_masks: `None` or `(1, H, W, len(style_rgbs))` float32 at the content's size.
            style_image_masks: `None` or per style `None` or a `(1, h, w, 1)` float32 tensor at the style's size.

        Each style's statistics are kept (by pixels, mask and tiling) and reused: a batch that
        runs many contents against one style computes that style's targets once per scale.
        """
        pieces = self.pieces(tile_size)
        style_image_masks = [None] * len(style_rgbs) if style_image_masks is None else style_image_masks
        moments = [self._style_cache.get(style_rgb, mask, tile_size,
                                         lambda rgb=style_rgb, mask=mask: self._style_moments(pieces, rgb, mask))
                   for style_rgb, mask in zip(style_rgbs, style_image_masks)]
        return pieces.objective.assemble_targets(pieces.content_targets(to_batch(content_rgb)), moments,
                                                 blend, region_masks)

    def _style_moments(self, pieces, style_rgb, style_mask):
        if style_mask is None and self.settings.style_statistic == "gram":
            return pieces.style_grams(to_batch(style_rgb))
        return pieces.style_statistics(to_batch(style_rgb), style_mask)

    def style_cache_info(self):
        """`{"hits": n, "misses": n, "size": n}` of the style-target cache."""
        return self._style_cache.info()

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

    def plan_run(self, content_rgb):
        """The tiling plan of every scale `stylize` will run on `content_rgb`, decided before any work."""
        return [self.plan_tiling(*pyramid.fit(content_rgb, size, self.min_side).shape[:2])
                for size in self.schedule.sizes]

    # --- Python driver ----------------------------------------------------------------------

    def stylize(self, content, styles, callback=None, should_stop=None, chunk_steps=5, init=None,
                num_steps=None, region_masks=None, style_image_masks=None, regions=None, masks=None,
                style_masks=None):
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
            region_masks: `None` (every style everywhere, blended) or one mask per style: a grey image
                path, `LoadedImage` or array (`uint8` 0-255 or float 0-1, `(H, W)`, `(H, W, 1)`
                or `(H, W, 3)`); white is that style's region, soft edges allowed, resized to
                every scale (aspect ratio within 1% of the content's). Style `r` is matched in
                its region only, its part scaled by its `style_blend` weight; where every mask
                is black only the content and TV terms apply.
            style_image_masks: `None` or, per style, a mask on that style image (which part of
                the painting feeds its region) or `None` (all of it). CLI: `--region-mask` and
                `--style-image-mask`.
            regions: instead of the two above, a `tf_nst.engine.masks.Regions` already built
                (and checked) at an edge: used as it is.
            masks, style_masks: old names of `region_masks`, `style_image_masks` (deprecated).

        Returns:
            A `StylizeResult`. Ctrl-C stops the run and returns the best image so far
            with `status=RunStatus.STOPPED`.

        One run at a time per Stylizer (the L-BFGS history is its variables): concurrent
        calls from several threads wait for each other.
        """
        region_masks = masks_module.renamed(region_masks, masks, "region_masks", "masks")
        style_image_masks = masks_module.renamed(style_image_masks, style_masks, "style_image_masks", "style_masks")
        with self._run_lock:
            inputs = prepare_inputs(self.settings, content, styles, self.min_side, region_masks, style_image_masks,
                                    regions, init=init)
            schedule = self.schedule
            if num_steps is not None:
                schedule = Schedule(sizes=[self.settings.size], steps=[int(num_steps)])
            run = RunRecord(schedule=schedule, notes=list(inputs.notes), callback=callback,
                       should_stop=should_stop, chunk_steps=chunk_steps)
            try:
                for scale_index in range(len(schedule.sizes)):
                    self._run_scale(run, inputs, scale_index)
                    if run.status is not RunStatus.DONE:
                        break
            except KeyboardInterrupt:
                # Ctrl-C lands wherever Python next runs: between chunks, in a callback, or while
                # the next scale's targets are built. Before the first state there is nothing to keep.
                if run.state is None:
                    raise
                run.status = RunStatus.STOPPED
                run.notes.append(f"interrupted after {run.done} steps")
            return self._result(run, inputs)

    def scale_inputs(self, inputs, scale_size):
        """`(content_rgb, style_rgbs, region_masks, style_image_masks)` of a `RunInputs` at one scale
        (masks as tensors, fitted by the one resizer: `masks.fit_masks`)."""
        content_rgb = pyramid.fit(inputs.content.rgb, scale_size, self.min_side)
        style_side = max(self.min_side, round(self.settings.style_scale * scale_size))
        style_rgbs = [pyramid.fit(style.rgb, style_side, self.min_side) for style in inputs.styles]
        regions, region_masks, style_image_masks = inputs.regions, None, None
        if regions.region_masks is not None:
            region_masks = masks_module.fit_masks(regions.region_masks, *content_rgb.shape[:2])
        if regions.style_image_masks is not None:
            style_image_masks = [None if mask is None else masks_module.fit_masks([mask], *rgb.shape[:2])
                                 for mask, rgb in zip(regions.style_image_masks, style_rgbs)]
        return content_rgb, style_rgbs, region_masks, style_image_masks

    def _run_scale(self, run, inputs, scale_index):
        """Targets, start and chunks of steps of one scale of the schedule."""
        scale_size, scale_steps = run.schedule.sizes[scale_index], run.schedule.steps[scale_index]
        content_rgb, style_rgbs, *masks = self.scale_inputs(inputs, scale_size)  # region, style image
        height, width = content_rgb.shape[:2]
        plan = self.plan_tiling(height, width)
        run.tiling.append(plan)
        pieces = self.pieces(plan["tile_size"], in_place=True)
        targets = self.targets(content_rgb, style_rgbs, inputs.blend, plan["tile_size"], *masks)
        if run.state is None:
            x = self.initial_image(content_rgb, inputs.init)
        else:
            x = pyramid.upsample(run.state["best_x"], content_rgb)
        weights = self.loss_weights()
        run.state = pieces.start(x, targets, *weights)
        run.rows.append(run.state["parts"].numpy())
        steps_here = 0
        while steps_here < scale_steps:
            run.status = run.stop_reason(self.settings.max_seconds)
            if run.status is not RunStatus.DONE:
                return
            chunk = min(run.chunk_steps, scale_steps - steps_here)
            run.state, history = pieces.run(run.state, targets, *weights, tf.constant(chunk))
            history = history.numpy()
            run.rows.extend(history)
            steps_here += chunk
            run.done += chunk
            if run.callback is not None:
                run.callback(Progress(
                    step=run.done, total_steps=run.schedule.total_steps,
                    losses=dict(zip(self.loss_names, map(float, run.rows[-1]))), rows=history,
                    scale_index=scale_index, scale_count=len(run.schedule.sizes), size=(width, height),
                    best_image=lambda current=run.state: to_uint8(current["best_x"]).numpy()[0]))

    def loss_weights(self):
        """`(content_weight, style_weight, tv_weight)` of the settings as tensors."""
        settings = self.settings
        return (tf.constant(settings.content_weight), tf.constant(settings.style_weight),
                tf.constant(settings.tv_weight))

    def _result(self, run, inputs):
        image = to_uint8(run.state["best_x"]).numpy()[0]
        if self.settings.preserve_colors == "luminance":
            chroma_source = image_io.resize(inputs.content_colors, (image.shape[1], image.shape[0]))
            image = colors.recombine_luminance(image, chroma_source)
        alpha = None
        if inputs.content.alpha is not None:
            alpha = image_io.resize(inputs.content.alpha, (image.shape[1], image.shape[0]))
        return StylizeResult(
            image=image, alpha=alpha, history=np.asarray(run.rows, np.float32),
            loss_names=self.loss_names, best_loss=float(run.state["best_loss"]), steps=run.done,
            seconds=time.perf_counter() - run.started, status=run.status, notes=run.notes, tiling=run.tiling)

    def initial_image(self, content_rgb, init=None):
        """The start image `(1, H, W, 3)` float at `content_rgb`'s size: the settings' `init` or `init`."""
        if init is None and isinstance(self.init, str) and self.init not in INIT_MODES:
            self.init = image_io.load_image(self.init).rgb  # the settings' start image (a path)
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

