"""Seconds per loss+gradient evaluation of the Stylizer's in-graph loop.

    python -m benchmarks.eval_time --sizes 256,512 --repeats 5

Random VGG19 weights (timing does not depend on the weights). Prints the
median and min-max over repeats of a chunk of steps, after a warm-up chunk.
"""

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_nst.stylizer import Stylizer  # noqa: E402


def seconds_per_evaluation(size, optimizer="lbfgs", backbone="vgg19", steps=5, repeats=5):
    stylizer = Stylizer(backbone=backbone, weights=None if backbone != "vgg16-hed" else "default",
                        size=size, num_steps=steps, optimizer=optimizer)
    rng = np.random.default_rng(0)
    content = tf.constant(rng.uniform(0, 255, (1, size, size, 3)), tf.float32)
    style = tf.constant(rng.uniform(0, 255, (1, size, size, 3)), tf.float32)
    targets = stylizer._targets_fn(content, [style], tf.constant([1.0]))
    weights = (tf.constant(1.0), tf.constant(10.0), tf.constant(1.0))
    state = stylizer._start_fn(content, targets, *weights)
    state, _ = stylizer._run_fn(state, targets, *weights, tf.constant(steps))  # warm-up / trace
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        state, history = stylizer._run_fn(state, targets, *weights, tf.constant(steps))
        history.numpy()
        times.append((time.perf_counter() - started) / steps)
    return times


@click.command()
@click.option("--sizes", default="256,512", show_default=True)
@click.option("--optimizer", default="lbfgs", show_default=True)
@click.option("--backbone", default="vgg19", show_default=True)
@click.option("--steps", default=5, show_default=True, help="Evaluations per timed chunk.")
@click.option("--repeats", default=5, show_default=True)
def main(sizes, optimizer, backbone, steps, repeats):
    for size in [int(s) for s in sizes.split(",")]:
        times = seconds_per_evaluation(size, optimizer, backbone, steps, repeats)
        print(f"{backbone} {optimizer} {size}px: median {statistics.median(times):.3f} s/eval "
              f"(min {min(times):.3f}, max {max(times):.3f}, {repeats}x{steps} evals)")


if __name__ == "__main__":
    main()
