"""Figure 5: peak resident memory of a whole `stylize` run, one fresh process per setting.

    python -m benchmarks.memory --size 1024 --optimizer lbfgs --steps 3   # one child run
    python -m benchmarks.memory --history 10,20                          # L-BFGS state alone

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
    args = parser.parse_args(argv)
    if args.history_child:
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
