"""Figure 3: time to quality, coarse-to-fine against single-resolution L-BFGS.

Both runs use real features (vgg16-hed) and the same content/style pair. The
reference is a single-resolution L-BFGS run of `reference_steps` evaluations;
its final loss L defines the quality bar 1.05 L. For the coarse-to-fine run we
record, after every chunk of the finest scale, the lowest full-size loss so
far and the wall time since the `stylize` call began (targets, upsampling and
coarse scales included), after a warm-up call that traces the functions.
"""

import dataclasses
import os
import time

import numpy as np
import tensorflow as tf

from tf_nst.io import images as image_io
from tf_nst.engine import pyramid
from tf_nst.engine.stylizer import Stylizer, to_batch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The bundled photo by default; TF_NST_BENCH_CONTENT picks another (RESULTS.md names the one used).
CONTENT_PATH = os.environ.get("TF_NST_BENCH_CONTENT", os.path.join(ROOT, "tf_nst", "assets", "astronaut.png"))
STYLE_PATH = os.path.join(ROOT, "tf_nst", "assets", "starry_night.jpg")
TOLERANCE = 0.05


def load_pair(content_path=CONTENT_PATH, style_path=STYLE_PATH):
    """The fixed content/style pair (falls back to the bundled astronaut if the content is absent)."""
    if not os.path.exists(content_path):
        content_path = os.path.join(ROOT, "tf_nst", "assets", "astronaut.png")
    return image_io.load_image(content_path), image_io.load_image(style_path), content_path


def warm_up(stylizer, content, style):
    """Trace every function at every scale with one step per scale (not timed)."""
    schedule = stylizer.schedule
    stylizer.schedule = dataclasses.replace(schedule, steps=[1] * len(schedule.steps))
    try:
        stylizer.stylize(content, [style], chunk_steps=1)
        stylizer.stylize(content, [style], chunk_steps=1)  # reduce_retracing: settle shapes
    finally:
        stylizer.schedule = schedule


def timed_stylize(stylizer, content, style, chunk_steps=5, keep_images=False):
    """One warm `stylize` call; returns seconds, final loss and the finest-scale trace.

    With `keep_images`, the best image after every finest-scale chunk is kept too (its copy is
    inside the timed call, so the times are, if anything, too long).
    """
    trace, snapshots = [], []
    best = [float("inf")]
    started = time.perf_counter()

    def callback(progress):
        if progress.scale_index == progress.scale_count - 1:
            best[0] = min(best[0], progress.losses["total"])
            if keep_images:
                snapshots.append(progress.best_image())
            trace.append((time.perf_counter() - started, progress.step, best[0]))

    result = stylizer.stylize(content, [style], callback=callback, chunk_steps=chunk_steps)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "best_loss": result.best_loss, "steps": result.steps, "image": result.image,
            "trace": trace, "snapshots": snapshots,
            "sizes": list(stylizer.schedule.sizes), "scale_steps": list(stylizer.schedule.steps)}


def float32_loss(stylizer, content, style, image):
    """Total loss of a `uint8` image under `stylizer`'s (float32) features at its full size."""
    settings = stylizer.settings
    size = stylizer.schedule.sizes[-1]
    content_rgb = pyramid.fit(content.rgb, size, stylizer.min_side)
    style_rgb = pyramid.fit(style.rgb, max(stylizer.min_side, round(settings.style_scale * size)), stylizer.min_side)
    objective = stylizer.objective()
    targets = objective.compute_targets(to_batch(content_rgb), [to_batch(style_rgb)], tf.constant([1.0]))
    value_and_grad = objective.value_and_grad(targets, settings.content_weight, settings.style_weight,
                                              settings.tv_weight)
    return float(value_and_grad(tf.constant(np.asarray(image, np.float32)[None]))[0])


def time_to_reach(trace, threshold):
    """Seconds (and step) at which the finest-scale best loss first reaches `threshold`, else None."""
    for seconds, step, loss in trace:
        if loss <= threshold:
            return seconds, step
    return None


def coarse_to_fine_schedule(size, steps, min_side=32):
    """`(sizes, steps)` for size/4, size/2, size, dropping coarse sizes below `min_side`."""
    sizes = sorted({max(min_side, size // 4), max(min_side, size // 2), size})
    return sizes, list(steps)[-len(sizes):]


def make_stylizer(size, scales=1, scale_steps=None, num_steps=150, backbone="vgg16-hed", **kwargs):
    return Stylizer(backbone=backbone, size=size, scales=scales, scale_steps=scale_steps,
                    num_steps=num_steps, optimizer="lbfgs", **kwargs)


def quality_run(size, candidates, reference_steps=150, backbone="vgg16-hed", content_path=CONTENT_PATH,
                log=print, bfloat16=False):
    """Reference single-resolution run, then each candidate `(scales, scale_steps)`.

    `candidates` may contain `"default"` for the Stylizer's default schedule at `size`.
    """
    content, style, used_path = load_pair(content_path)
    reference = make_stylizer(size, 1, None, reference_steps, backbone)
    warm_up(reference, content, style)
    ref = timed_stylize(reference, content, style)
    threshold = (1 + TOLERANCE) * ref["best_loss"]
    reached = time_to_reach(ref["trace"], threshold)
    ref["time_to_bar"] = reached[0] if reached else None
    ref["steps_to_bar"] = reached[1] if reached else None
    log(f"[quality {size}px] reference {reference_steps} evals: {ref['seconds']:.1f} s, loss {ref['best_loss']:.5g}, "
        f"bar {threshold:.5g} first reached at {ref['time_to_bar']} s")
    runs = []
    for candidate in candidates:
        if candidate == "default":
            stylizer = Stylizer(backbone=backbone, size=size, optimizer="lbfgs")
        else:
            scales, scale_steps = candidate
            stylizer = make_stylizer(size, scales, scale_steps, scale_steps[-1], backbone)
        warm_up(stylizer, content, style)
        run = timed_stylize(stylizer, content, style)
        reached = time_to_reach(run["trace"], threshold)
        run["default"] = candidate == "default"
        run["time_to_bar"] = reached[0] if reached else None
        run["steps_to_bar"] = reached[1] if reached else None
        run["loss_ratio"] = run["best_loss"] / ref["best_loss"]
        run["meets_bar"] = run["best_loss"] <= threshold
        run["ratio_whole_call"] = run["seconds"] / ref["seconds"]
        run["ratio_to_bar"] = (run["time_to_bar"] / ref["seconds"]) if reached else None
        # The best full-size loss reached within a third of the reference's time, if the finest
        # scale had started by then.
        early = [loss for seconds, _, loss in run["trace"] if seconds <= ref["seconds"] / 3]
        run["loss_ratio_at_third"] = (early[-1] / ref["best_loss"]) if early else None
        log(f"[quality {size}px] {run['sizes']} x {run['scale_steps']}: {run['seconds']:.1f} s "
            f"({run['ratio_whole_call']:.3f} of reference), loss {run['best_loss']:.5g} "
            f"({run['loss_ratio']:.3f}x), bar at {run['time_to_bar']} s / step {run['steps_to_bar']}")
        run.pop("image")
        run.pop("snapshots")
        runs.append(run)
    precision = None
    if bfloat16:
        # The same single-resolution run with bf16 convolutions; both final images are
        # re-scored with float32 features so the loss change is not a measuring artefact.
        # Its time to the bar is judged on the float32 loss of the best image after each chunk.
        half = make_stylizer(size, 1, None, reference_steps, backbone, precision="bfloat16")
        warm_up(half, content, style)
        run = timed_stylize(half, content, style, keep_images=True)
        reference_score = float32_loss(reference, content, style, ref["image"])
        half_score = float32_loss(reference, content, style, run["image"])
        rescored = [(seconds, step, float32_loss(reference, content, style, image))
                    for (seconds, step, _), image in zip(run["trace"], run["snapshots"])]
        reached = time_to_reach(rescored, threshold)
        precision = {"float32_seconds": ref["seconds"], "bfloat16_seconds": run["seconds"],
                     "speedup": ref["seconds"] / run["seconds"],
                     "float32_best_loss": ref["best_loss"], "bfloat16_best_loss_own_features": run["best_loss"],
                     "float32_rescored": reference_score, "bfloat16_rescored": half_score,
                     "loss_change": half_score / reference_score - 1.0,
                     "time_to_bar": reached[0] if reached else None,
                     "steps_to_bar": reached[1] if reached else None,
                     "ratio_to_bar": (reached[0] / ref["seconds"]) if reached else None}
        log(f"[quality {size}px] bfloat16 run: {run['seconds']:.1f} s ({precision['speedup']:.2f}x faster), "
            f"float32-rescored loss {half_score:.5g} vs {reference_score:.5g} ({100 * precision['loss_change']:+.1f} %), "
            f"bar (float32-rescored) at {precision['time_to_bar']} s / step {precision['steps_to_bar']}")
    ref.pop("image")
    ref.pop("snapshots")
    return {"size": size, "precision": precision, "backbone": backbone, "content": os.path.basename(used_path),
            "style": os.path.basename(STYLE_PATH), "reference_steps": reference_steps,
            "tolerance": TOLERANCE, "reference": ref, "threshold": threshold, "candidates": runs}
