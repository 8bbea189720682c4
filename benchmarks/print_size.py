"""Whole runs at print size: the Stylizer with its memory budget, L-BFGS state included.

    python -m benchmarks.print_size --size 4096x3072 --steps 2           # default budget
    python -m benchmarks.print_size --size 1024 --steps 2 --max-memory none --tile none
    python -m benchmarks.print_size --size 2048 --scales auto --steps 200 --max-memory 4GB
    python -m benchmarks.print_size --fits     # docs/print-size.md's table: what fits 8/16/24/80 GB

Each case runs in a fresh process (vgg16-hed, the bundled astronaut photo resized to the
size, The Starry Night): it prints the tiling chosen per scale, the peak RSS (VmHWM, the
whole process: TensorFlow, targets, optimizer state, evaluations), the seconds of each
finest-scale evaluation after the first chunk (tracing excluded) and the whole run's wall
time. `benchmarks.tiling` measures one evaluation alone.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENT = os.path.join(ROOT, "tf_nst", "assets", "astronaut.png")
STYLE = os.path.join(ROOT, "tf_nst", "assets", "starry_night.jpg")


def child(width, height, steps, scales, max_memory, tile_size, precision, output=None, optimizer="lbfgs",
          lbfgs_history=None):
    import numpy as np

    from benchmarks.memory import peak_rss_bytes
    from tf_nst.io import images as image_io
    from tf_nst.engine.stylizer import Stylizer

    content = image_io.resize(image_io.load_image(CONTENT).rgb, (width, height))  # any aspect: a crop-free stretch
    stylizer = Stylizer(backbone="vgg16-hed", size=max(width, height), num_steps=steps, scales=scales,
                        max_memory=max_memory, tile_size=tile_size, precision=precision, optimizer=optimizer,
                        **({} if lbfgs_history is None else {"lbfgs_history": lbfgs_history}))
    marks = []
    started = time.perf_counter()
    result = stylizer.stylize(content, STYLE, chunk_steps=1,
                              callback=lambda progress: marks.append((progress.scale_index, time.perf_counter())))
    seconds = time.perf_counter() - started
    finest = [moment for scale, moment in marks if scale == len(stylizer.schedule.sizes) - 1]
    per_evaluation = float(np.median(np.diff(finest))) if len(finest) >= 2 else None
    if output:
        image_io.save_png(output, result.image, settings=stylizer.get_config(), inputs=[CONTENT, STYLE])
    return {"size": [width, height], "steps": result.steps, "precision": stylizer.settings.precision,
            "optimizer": stylizer.settings.optimizer, "lbfgs_history": stylizer.settings.lbfgs_history,
            "tiling": result.tiling, "peak_rss_bytes": peak_rss_bytes(), "seconds": seconds,
            "seconds_per_evaluation": per_evaluation, "best_loss": result.best_loss}


def largest_fitting(memory_bytes, profile, tile_size=None, aspect=(4, 3), history_size=10,
                    precision="float32"):
    """The largest `aspect` image (width, height) whose estimated peak fits `memory_bytes`."""
    from tf_nst.engine.memory import estimate_peak_bytes

    def fits(unit):
        width, height = aspect[0] * unit, aspect[1] * unit
        return estimate_peak_bytes(height, width, profile["activation_floats"], history_size, precision,
                                   tile_size, content_floats=profile["content_floats"]) <= memory_bytes

    low, high = 1, 1
    while fits(high):
        low, high = high, high * 2
    while high - low > 1:  # fits(low), not fits(high)
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return aspect[0] * low, aspect[1] * low


def fits_table(memories_gb=(8, 16, 24, 80), tile_size=1024):
    """Markdown rows: per device memory, the largest 4:3 image untiled and tiled (VGG19, float32)."""
    from tf_nst.engine.backbones import FeatureExtractor
    from tf_nst.engine.memory import backbone_profile
    from tf_nst.settings import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, parse_layer_weights

    layers = list(parse_layer_weights(DEFAULT_CONTENT_LAYERS)) + list(parse_layer_weights(DEFAULT_STYLE_LAYERS))
    extractor = FeatureExtractor(layers, backbone="vgg19", weights=None)
    profile = backbone_profile(extractor, list(parse_layer_weights(DEFAULT_CONTENT_LAYERS)))
    rows = [f"| memory | untiled up to | tiled ({tile_size} px tiles) up to |", "|---|---|---|"]
    for memory in memories_gb:
        cells = []
        for tile in (None, tile_size):
            width, height = largest_fitting(memory * 10**9, profile, tile)
            cells.append(f"{width}×{height} ({width * height / 1e6:.1f} MP)")
        rows.append(f"| {memory} GB | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


def _size(text):
    width, _, height = text.partition("x")
    return int(width), int(height or width)


def _optional(text):
    return None if text in (None, "none", "None") else text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.print_size", description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="4096x3072", help="N or WxH.")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--scales", default="1", help="1 (single resolution) or auto (coarse-to-fine).")
    parser.add_argument("--max-memory", default=None, help="Budget, e.g. 4GB (default: the library's).")
    parser.add_argument("--tile", default=None, help="Force a tile size (none: as the budget decides).")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--output", default=None, help="Also write the image (with provenance) here.")
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--lbfgs-history", type=int, default=None)
    parser.add_argument("--fits", action="store_true",
                        help="Print what fits 8/16/24/80 GB by the library's estimate, and exit.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fits:
        print("By tf_nst.engine.memory.estimate_peak_bytes: VGG19, default layers, float32, L-BFGS with 10 pairs, 4:3")
        print(fits_table())
        return
    width, height = _size(args.size)
    scales = "auto" if args.scales == "auto" else int(args.scales)
    tile = _optional(args.tile)
    if args.child:
        print(json.dumps(child(width, height, args.steps, scales, _optional(args.max_memory),
                               None if tile is None else int(tile), args.precision, args.output,
                               args.optimizer, args.lbfgs_history)))
        return
    from benchmarks.tiling import cpu_model

    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} usable cores)")
    command = [sys.executable, "-m", "benchmarks.print_size", "--child", *(argv or sys.argv[1:])]
    completed = subprocess.run(command, cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                               capture_output=True, text=True)
    if completed.returncode != 0:
        print("failed:", (completed.stderr.strip().splitlines() or ["killed"])[-1])
        return
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    for plan in figures["tiling"]:
        tile = f"tiles of {plan['tile_size']} px" if plan["tile_size"] else "untiled"
        print(f"  scale {plan['size'][0]}x{plan['size'][1]}: {tile} (estimate {plan['estimate'] / 1e9:.2f} GB, "
              f"budget {plan['budget'] / 1e9:.2f} GB)")
    per_evaluation = figures["seconds_per_evaluation"]
    megapixels = width * height / 1e6
    print(f"{width}x{height} {figures['precision']} {figures['optimizer']}, {figures['steps']} evaluations: peak RSS "
          f"{figures['peak_rss_bytes'] / 1e9:.2f} GB, wall {figures['seconds']:.1f} s"
          + (f", {per_evaluation:.2f} s per evaluation ({per_evaluation / megapixels:.2f} s/MP)"
             if per_evaluation else ""))
    print(json.dumps(figures))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
