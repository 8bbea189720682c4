"""Large images through the feed-forward network: tiled against untiled, on a real photo.

    python -m benchmarks.realtime_tiling --sizes 2048             # the bundled model, bfloat16
    python -m benchmarks.realtime_tiling --sizes 1024 --max-tile-pixels 400000 --precision float32

Each render runs in a fresh process (peak RSS is a process's high-water mark): the untiled pass
(`max_tile_pixels` above the image) and the tiled one (`--max-tile-pixels`, default a quarter of
the image). Printed per size: max and mean absolute difference of the uint8 results in grey
levels, the seam ratio (`tf_nst.engine.feedforward.tiling.seam_ratio`: gradient across tile borders over
elsewhere, about 1 without a seam) of both, seconds (one cold call: tracing included) and peak
RSS of each, with the CPU model, the precision and the machine's load. The tiled result is saved
as a PNG under `--out` to look at.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from benchmarks.machine import cpu_model, peak_rss_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "tf_nst", "assets", "astronaut.png")
POLICIES = {"bfloat16": "mixed_bfloat16", "float32": "float32"}


def load():
    return "load %.1f %.1f %.1f" % os.getloadavg()


def photo_at(path, size):
    """The photo resized (bicubic) to `size` x `size`, uint8."""
    return np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.BICUBIC))


def child(arguments):
    """One render in this process: writes the uint8 result to `--result`, prints its figures as JSON."""
    from tf_nst.engine.feedforward.rendering import FeedForward
    from tf_nst.engine.feedforward.model_files import load_model
    from tf_nst.io.model_folders import resolve_model

    network, _ = load_model(resolve_model(arguments.model)[0], dtype=POLICIES[arguments.precision])
    runner = FeedForward(network, max_tile_pixels=arguments.max_tile_pixels)
    rgb = photo_at(arguments.photo, arguments.size)
    started = time.perf_counter()
    out = runner.stylize(rgb)
    seconds = time.perf_counter() - started
    np.save(arguments.result, out)
    print(json.dumps({"seconds": seconds, "peak_rss": peak_rss_bytes(), "tiling": runner.tiling}))


def render(arguments, size, max_tile_pixels, result):
    command = [sys.executable, "-m", "benchmarks.realtime_tiling", "--child", "--model", arguments.model,
               "--photo", arguments.photo, "--precision", arguments.precision, "--size", str(size),
               "--max-tile-pixels", str(max_tile_pixels), "--result", result]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def compare(arguments, size):
    """Render `size`² untiled and tiled in fresh processes and print the figures."""
    from tf_nst.engine.feedforward.tiling import plan_stages, seam_ratio, stage_halos
    from tf_nst.engine.feedforward.model_files import load_model
    from tf_nst.io.model_folders import resolve_model

    budget = arguments.max_tile_pixels or size * size // 4
    halos = stage_halos(load_model(resolve_model(arguments.model)[0])[0])
    with tempfile.TemporaryDirectory() as folder:
        whole = render(arguments, size, size * size, os.path.join(folder, "whole.npy"))
        tiled = render(arguments, size, budget, os.path.join(folder, "tiled.npy"))
        images = [np.load(os.path.join(folder, name)).astype(np.int16) for name in ("whole.npy", "tiled.npy")]
    difference = np.abs(images[0] - images[1])
    (_, tiles), grid = plan_stages(size, size, budget, halos)
    os.makedirs(arguments.out, exist_ok=True)
    path = os.path.join(arguments.out, f"tiled_{size}_{arguments.precision}.png")
    Image.fromarray(images[1].astype(np.uint8)).save(path)
    suffix = f"{arguments.precision}; {cpu_model()}; {load()}"
    print(f"tiling {size}x{size} {grid[0]}x{grid[1]} tiles (windows <= {budget} px, halos {halos[0]}/{halos[1]} px): "
          f"max |diff| {difference.max()} grey levels, mean {difference.mean():.4f}; seam ratio tiled "
          f"{seam_ratio(images[1], tiles):.4f}, untiled {seam_ratio(images[0], tiles):.4f} ({suffix})", flush=True)
    for name, figures in (("untiled", whole), ("tiled", tiled)):
        print(f"tiling {size}x{size} {name}: {figures['seconds']:.1f} s, peak RSS "
              f"{figures['peak_rss'] / 2**30:.2f} GiB ({suffix})", flush=True)
    print(f"tiling {size}x{size}: tiled result {path}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--photo", default=PHOTO)
    parser.add_argument("--precision", default="bfloat16", choices=sorted(POLICIES))
    parser.add_argument("--sizes", default="2048")
    parser.add_argument("--max-tile-pixels", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "tf_nst_tiling"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        return child(arguments)
    for size in [int(size) for size in arguments.sizes.split(",")]:
        compare(arguments, size)


if __name__ == "__main__":
    main()
