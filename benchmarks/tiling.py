"""Tiled vs untiled evaluation: peak memory and seconds of one loss+gradient evaluation.

    python -m benchmarks.tiling                                  # 1024, 2048 (untiled and tiled)
    python -m benchmarks.tiling --sizes 1024,2048,4096x3072      # adds the print size (minutes)
    python -m benchmarks.tiling --sizes 512 --precisions float32 # quick
    python -m benchmarks.tiling --child 1024x1024 --tile 512     # one case, one JSON line

Each case runs in a fresh Python process (vgg16-hed, the default layers, random
content and style of the same size): it builds the targets, traces one evaluation
(`StyleObjective.value_and_grad`) for any image size, then times one call. Peak RSS
is the child's `VmHWM`, so nothing from another case counts. No optimizer state is
included (`tf_nst.engine.memory.estimate_peak_bytes` adds it).
"""

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.machine import cpu_model, peak_rss_bytes, status_bytes
from tf_nst import settings
from tf_nst.settings import parse_layer_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The library's default layers (Gatys et al.'s choice).
DEFAULT_CONTENT_LAYERS = parse_layer_weights(settings.DEFAULT_CONTENT_LAYERS)
DEFAULT_STYLE_LAYERS = parse_layer_weights(settings.DEFAULT_STYLE_LAYERS)




def child(height, width, tile_size, precision, calls=2, seed=0):
    """One evaluation in this process; returns its figures (bytes, seconds)."""
    import numpy as np
    import tensorflow as tf

    from tf_nst.engine.backbones import FeatureExtractor
    from tf_nst.engine.objective import StyleObjective

    extractor = FeatureExtractor(list(DEFAULT_CONTENT_LAYERS) + list(DEFAULT_STYLE_LAYERS),
                                 backbone="vgg16-hed", precision=precision)
    objective = StyleObjective(extractor, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, tile_size=tile_size)
    rng = np.random.default_rng(seed)
    content = tf.constant(rng.uniform(0, 255, (1, height, width, 3)), tf.float32)
    style = tf.constant(rng.uniform(0, 255, (1, height, width, 3)), tf.float32)
    image = tf.constant(np.clip(content.numpy() + rng.normal(0, 20, content.shape), 0, 255), tf.float32)
    after_build = status_bytes("VmRSS")
    any_size = tf.TensorSpec([1, None, None, 3], tf.float32)
    started = time.perf_counter()
    targets = tf.function(lambda content, style: objective.compute_targets(content, [style], tf.ones([1]))
                          ).get_concrete_function(any_size, any_size)(content, style)
    targets_seconds = time.perf_counter() - started
    evaluate = tf.function(lambda x, targets: objective.value_and_grad(targets, 1.0, 10.0, 1.0)(x))
    concrete = evaluate.get_concrete_function(any_size, tf.nest.map_structure(
        lambda t: tf.TensorSpec([1, None, None, t.shape[-1]]) if t.shape.rank == 4 else tf.TensorSpec(t.shape),
        targets))
    times = []
    for _ in range(calls):  # the first call also creates oneDNN's kernels for each window shape
        started = time.perf_counter()
        total, _, grad = concrete(image, targets)
        times.append(time.perf_counter() - started)
    return {"height": height, "width": width, "tile_size": tile_size, "precision": extractor.precision,
            "tiles": objective.tile_count(height, width), "seconds": times[-1], "first_seconds": times[0], "targets_seconds": targets_seconds,
            "rss_after_build_bytes": after_build, "peak_rss_bytes": peak_rss_bytes(after_build),
            "total": float(total), "grad_norm": float(tf.norm(grad))}


def measure(height, width, tile_size=None, precision="float32", timeout=7200):
    """Run `child` in a fresh process and return its figures (or `{"error": ...}`)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "benchmarks.tiling", "--child", f"{width}x{height}",
               "--precisions", precision] + ([] if tile_size is None else ["--tile", str(tile_size)])
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        return {"height": height, "width": width, "tile_size": tile_size, "precision": precision,
                "error": (completed.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _parse_size(text):
    width, _, height = text.partition("x")
    return int(height or width), int(width)


def run(sizes, precisions, tile_size, untiled_max_pixels, log=print):
    """Measure every (size, precision): untiled (if at most `untiled_max_pixels`) and tiled."""
    results = []
    for precision in precisions:
        for height, width in sizes:
            for tile in ([None] if height * width <= untiled_max_pixels else []) + [tile_size]:
                figures = measure(height, width, tile, precision)
                results.append(figures)
                log(_line(figures))
    return results


def _line(figures):
    label = f"{figures['width']}x{figures['height']} {figures['precision']:8s} " + (
        "untiled     " if figures["tile_size"] is None else f"tile {figures['tile_size']:<6d} ")
    if "error" in figures:
        return label + f"failed: {figures['error']}"
    return label + (f"{figures.get('tiles', 1):3d} tiles  peak RSS {figures['peak_rss_bytes'] / 2**30:6.2f} GiB  "
                    f"evaluation {figures['seconds']:7.2f} s  "
                    f"({figures['seconds'] / (figures['height'] * figures['width'] / 1e6):6.2f} s/MP)")


def ratios(results):
    """Per precision: tiled s/MP ÷ untiled s/MP at the smallest size measured both ways."""
    out = {}
    for precision in {figures["precision"] for figures in results}:
        rows = [f for f in results if f["precision"] == precision and "error" not in f]
        untiled = {(f["height"], f["width"]): f for f in rows if f["tile_size"] is None}
        if not untiled:
            continue
        size = min(untiled, key=lambda hw: hw[0] * hw[1])
        reference = untiled[size]["seconds"] / (size[0] * size[1])
        out[precision] = {f"{f['width']}x{f['height']}": (f["seconds"] / (f["height"] * f["width"])) / reference
                          for f in rows if f["tile_size"] is not None}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tiling", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,2048", help="Comma list of N (NxN) or WxH.")
    parser.add_argument("--precisions", default="float32,auto",
                        help="Comma list: float32, bfloat16, auto (the machine's best).")
    parser.add_argument("--tile", type=int, help="Tile size of the tiled cases (px, default 512).")
    parser.add_argument("--untiled-max", type=float, default=2048 * 2048,
                        help="Largest pixel count also run untiled (4096x3072 untiled needs ~45 GB).")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        height, width = _parse_size(args.child)
        print(json.dumps(child(height, width, args.tile,
                               args.precisions.split(",")[0])))
        return
    from tf_nst.engine.backbones import resolve_precision

    precisions = list(dict.fromkeys(resolve_precision(p.strip()) for p in args.precisions.split(",") if p.strip()))
    sizes = [_parse_size(size.strip()) for size in args.sizes.split(",") if size.strip()]
    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} usable cores)")
    print("vgg16-hed, default layers, one evaluation (value_and_grad) after tracing; peak RSS = VmHWM "
          "of a fresh process (targets + evaluation)")
    results = run(sizes, precisions, args.tile or 512, args.untiled_max, log=lambda line: print(line, flush=True))
    for precision, by_size in ratios(results).items():
        for size, ratio in by_size.items():
            print(f"{precision}: tiled time per MP at {size} / untiled time per MP at the smallest size: {ratio:.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
