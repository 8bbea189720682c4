"""Figure 5: peak resident memory of a whole `stylize` run, one fresh process per setting.

    python -m benchmarks.memory --size 1024 --optimizer lbfgs --steps 3   # one child run
    python -m benchmarks.memory --history 10,20                          # L-BFGS state alone
    python -m benchmarks.memory --arbitrary 4096x3072 --precision bfloat16 --stroke-size 0 [--untiled] [--limit-gb 12]
    python -m benchmarks.memory --arbitrary 4096x3072 --runtime onnxruntime   # at the stroke scale (512)

`--arbitrary WxH` measures what `stylize PHOTO PAINTING --model arbitrary --size W` does
(`ArbitraryRun.stylize_file`, the CLI's call) on `--runtime` (default tensorflow): the bundled network,
the astronaut stretched to WxH, Matisse's Woman with a Hat, at `--stroke-size` (default the network's,
512: the passes at 512 px, the result scaled up; 0: at WxH itself); at its own size tiled above
`ARBITRARY_MAX_TILE_PIXELS` as the library chooses, or `--untiled` (one pass, `max_tile_pixels` out of
reach). A child whose RSS passes `--limit-gb` is stopped and reported as such (the untiled pass
outgrows the machine at 4096).

`--history` measures what the L-BFGS state costs without any network: a cheap
ill-conditioned objective on a 2048x2048 image (50 MB per vector), 20 steps run in chunks
of 5 as the Stylizer does, history sizes given, in place (the library driver) and as
values (the export's loop); the slope between history sizes is the bytes per pair.

The parent starts a child per (size, optimizer) so that no other run's
allocations count; the child reports `VmHWM` (peak RSS) and its RSS
after building the model, as one JSON line.
"""

import json
import os
import subprocess
import sys

from benchmarks.machine import cpu_model, peak_rss_bytes, status_bytes  # noqa: F401 (public here too)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))






def child(size, optimizer, steps, backbone="vgg19", precision="float32"):
    """Run one stylize call of `steps` evaluations; return peak RSS figures (bytes)."""
    import numpy as np

    from tf_nst.engine.stylizer import Stylizer

    stylizer = Stylizer(backbone=backbone, weights=None if backbone != "vgg16-hed" else "default",
                        size=size, scales=1, num_steps=steps, optimizer=optimizer, precision=precision)
    after_build = status_bytes()
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    result = stylizer.stylize(content, [style], chunk_steps=steps)
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a child started by a parent
    # that had grown (after the speed section, 4.6 GB) reported the parent's peak as its own.
    peak = peak_rss_bytes(after_build)
    return {"size": size, "optimizer": optimizer, "backbone": backbone, "precision": precision,
            "steps": result.steps, "rss_after_build_bytes": after_build, "peak_rss_bytes": peak,
            "seconds": result.seconds}


def history_child(history_size, in_place, side=2048, chunks=4, chunk_steps=5):
    """Peak RSS of `chunks` x `chunk_steps` L-BFGS steps on a cheap objective (no network)."""
    import tensorflow as tf

    from tf_nst.engine.optimizers import LBFGS, run_steps
    from tf_nst.engine.pieces import AnySizeFunction

    optimizer = LBFGS(history_size=history_size, in_place=in_place)
    shape = [1, side, side, 3]
    weight = tf.exp(6.0 * tf.random.stateless_uniform(shape, seed=[3, 4]))
    target = 255.0 * tf.random.stateless_uniform(shape, seed=[1, 2])

    def value_and_grad(x):
        difference = x - target
        loss = tf.reduce_sum(weight * difference * difference + 100.0 * tf.cos(x / 10.0))
        return loss, loss[None], 2.0 * weight * difference - 10.0 * tf.sin(x / 10.0)

    start = AnySizeFunction(lambda x: optimizer.initialize(x, value_and_grad))
    run = AnySizeFunction(lambda state, steps: run_steps(optimizer, state, value_and_grad, steps))
    state = start(tf.zeros(shape))
    for _ in range(chunks):
        state, _ = run(state, tf.constant(chunk_steps))
    return {"history_size": history_size, "in_place": in_place, "pairs": int(state["pairs"]),
            "vector_bytes": 4 * 3 * side * side, "peak_rss_bytes": peak_rss_bytes()}


def arbitrary_child(width, height, precision, untiled, output=None, runtime="tensorflow", stroke_size=None):
    """One `ArbitraryRun.stylize_file` at `width x height` on `runtime` at `stroke_size` (`None`: the network's);
    peak RSS (bytes) and seconds."""
    import tempfile

    from PIL import Image

    from tf_nst.runs.arbitrary_run import ArbitraryRun

    run = ArbitraryRun("arbitrary", precision=precision, runtime=runtime, stroke_size=stroke_size)
    if untiled:
        run.stylizer.max_tile_pixels = 2 ** 62
    after_build = status_bytes()
    with tempfile.TemporaryDirectory() as folder:
        photo = os.path.join(folder, "photo.png")
        Image.open(os.path.join(ROOT, "tf_nst", "assets", "astronaut.png")).convert("RGB").resize(
            (width, height), Image.LANCZOS).save(photo)
        painting = os.path.join(ROOT, "docs", "gallery", "paintings", "woman-with-hat-matisse.jpg")
        _, seconds = run.stylize_file(photo, [painting], output or os.path.join(folder, "out.png"), max(width, height))
    return {"size": f"{width}x{height}", "precision": run.precision, "runtime": run.runtime,
            "stroke_size": run.stroke_size, "tiled": not untiled,
            "max_tile_pixels": getattr(run.stylizer, "max_tile_pixels", None), "rss_after_build_bytes": after_build,
            "peak_rss_bytes": peak_rss_bytes(after_build), "seconds": seconds}


def arbitrary_figures(size, precision="bfloat16", untiled=False, limit_bytes=None, output=None, timeout=3600,
                      runtime="tensorflow", stroke_size=None):
    """`arbitrary_child` in a fresh process, stopped if its RSS passes `limit_bytes`; its figures, the
    command's wall seconds and the load average before it."""
    import time

    command = [sys.executable, "-m", "benchmarks.memory", "--arbitrary-child", size, "--precision", precision]
    command += ["--untiled"] * untiled + (["--output", output] if output else []) + ["--runtime", runtime]
    command += ["--stroke-size", str(stroke_size)] if stroke_size is not None else []
    load = os.getloadavg()[0]
    started = time.perf_counter()
    child_process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    largest = 0
    while child_process.poll() is None and time.perf_counter() - started < timeout:
        try:
            with open(f"/proc/{child_process.pid}/status") as status:
                rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            rss = 0
        largest = max(largest, rss)
        if limit_bytes and rss > limit_bytes:
            child_process.kill()
            child_process.wait()
            return {"size": size, "precision": precision, "tiled": not untiled, "load": load,
                    "stopped_at_rss_bytes": rss, "seconds_until_stopped": time.perf_counter() - started}
        time.sleep(0.2)
    output_text, _ = child_process.communicate()
    figures = json.loads(output_text.strip().splitlines()[-1])
    return {**figures, "load": load, "wall_seconds": time.perf_counter() - started}


def history_figures(history_sizes=(10, 20)):
    """`history_child` per (history size, in place or not), each in a fresh process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    rows = []
    for in_place in (True, False):
        for history_size in history_sizes:
            command = [sys.executable, "-m", "benchmarks.memory", "--history-child", str(history_size),
                       "--in-place", str(int(in_place))]
            completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            rows.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return rows


def measure(size, optimizer, steps=3, backbone="vgg19", precision="float32", timeout=3600):
    """Run `child` in a fresh Python process and return its figures."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "benchmarks.memory", "--size", str(size), "--optimizer", optimizer,
               "--steps", str(steps), "--backbone", backbone, "--precision", precision]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        return {"size": size, "optimizer": optimizer, "error": completed.stderr.strip().splitlines()[-1:]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int)
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--backbone", default="vgg19")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--history", help="L-BFGS state alone: comma-separated history sizes, e.g. 10,20.")
    parser.add_argument("--history-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--in-place", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--arbitrary", metavar="WxH", help="stylize --model arbitrary at this size (see above).")
    parser.add_argument("--untiled", action="store_true", help="with --arbitrary: one pass, no tiles.")
    parser.add_argument("--limit-gb", type=float, help="with --arbitrary: stop the child past this RSS.")
    parser.add_argument("--output", help="with --arbitrary: keep the PNG here.")
    parser.add_argument("--runtime", default="tensorflow", help="with --arbitrary: tensorflow or onnxruntime.")
    parser.add_argument("--stroke-size", type=int, help="with --arbitrary: the stroke scale (default the network's; "
                        "0: the output's own size).")
    parser.add_argument("--arbitrary-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arbitrary_child:
        width, height = (int(side) for side in args.arbitrary_child.split("x"))
        print(json.dumps(arbitrary_child(width, height, args.precision, args.untiled, args.output, args.runtime,
                                         args.stroke_size)))
    elif args.arbitrary:
        row = arbitrary_figures(args.arbitrary, args.precision, args.untiled,
                                args.limit_gb and int(args.limit_gb * 1e9), args.output, runtime=args.runtime,
                                stroke_size=args.stroke_size)
        print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} usable cores), load {row['load']:.1f}; "
              f"stylize --model arbitrary {args.arbitrary}, {args.precision} on {args.runtime}, stroke size "
              f"{row.get('stroke_size', args.stroke_size)}, {'tiles allowed' if row['tiled'] else 'untiled'}; peak RSS (VmHWM)")
        if "stopped_at_rss_bytes" in row:
            print(f"  stopped at {row['stopped_at_rss_bytes'] / 1e9:.2f} GB after {row['seconds_until_stopped']:.0f} s")
        else:
            print(f"  {row['peak_rss_bytes'] / 1e9:.2f} GB, {row['seconds']:.1f} s stylizing "
                  f"({row['wall_seconds']:.1f} s with the start)")
        print(json.dumps(row))
    elif args.history_child:
        print(json.dumps(history_child(args.history_child, bool(args.in_place))))
    elif args.history:

        sizes = [int(size) for size in args.history.split(",")]
        print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} usable cores); L-BFGS state on a cheap "
              f"objective, 2048x2048 (50 MB per vector), 20 steps in chunks of 5; peak RSS (VmHWM)")
        rows = history_figures(sizes)
        for row in rows:
            print(f"  {'in place' if row['in_place'] else 'as values'}, {row['history_size']:3d} pairs: "
                  f"{row['peak_rss_bytes'] / 1e9:.2f} GB")
        for in_place in (True, False):
            mine = [row for row in rows if row["in_place"] == in_place]
            if len(mine) >= 2:
                slope = ((mine[-1]["peak_rss_bytes"] - mine[0]["peak_rss_bytes"])
                         / (mine[-1]["history_size"] - mine[0]["history_size"]))
                print(f"  {'in place' if in_place else 'as values'}: {slope / 1e6:.0f} MB per pair = "
                      f"{slope / (2 * mine[0]['vector_bytes']):.2f} copies of the pair's two vectors")
        print(json.dumps(rows))
    elif args.size:
        print(json.dumps(child(args.size, args.optimizer, args.steps, args.backbone, args.precision)))
    else:
        parser.error("expected --size N (a stylize run) or --history SIZES (the L-BFGS state alone)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
