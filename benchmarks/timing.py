"""Figures 1, 2 and 4 (speed): seconds per loss+gradient evaluation, FLOP efficiency, bf16.

All loops are built at the same size on random images with random VGG19
weights (timing does not depend on the weights), warmed up, then timed in
interleaved rounds (project, tutorial, keras.io, ... in turn) so that load
changes on this shared machine hit every loop alike. Each round times a
chunk of `steps` evaluations; figures are medians (min-max) of the rounds.
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks.reference_loops import KerasIoLoop, TutorialLoop
from tf_nst.engine.stylizer import Stylizer


def summary(values):
    """Median, min and max of a list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def matmul_throughput(n=4096, repeats=5, dtype=tf.float32):
    """Measured FLOP/s of an `n x n` matmul (2 n³ FLOPs), median of `repeats` after a warm-up."""
    a = tf.random.stateless_normal([n, n], seed=[1, 2], dtype=tf.float32)
    b = tf.random.stateless_normal([n, n], seed=[3, 4], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b)[:1, :1], tf.float32)))
    matmul(a, b).numpy()
    rates, cpu_rates = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        matmul(a, b).numpy()
        rates.append(2.0 * n ** 3 / (time.perf_counter() - started))
        cpu_rates.append(2.0 * n ** 3 / (time.process_time() - cpu_started))
    return {**summary(rates), "per_cpu_second": summary(cpu_rates)}


def conv_layer_shapes(model, height, width):
    """`(name, h, w, c_in, c_out, k)` of each Conv2D of a plain VGG chain, tracking pooling."""
    shapes = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel_h, kernel_w, c_in, c_out = layer.kernel.shape
            shapes.append((layer.name, height, width, int(c_in), int(c_out), int(kernel_h) * int(kernel_w)))
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            height, width = height // 2, width // 2
    return shapes


def evaluation_flops(model, height, width, style_layers=(), batch_forward=1, batch_backward=1):
    """FLOPs of one loss+gradient evaluation, counted from the layer shapes.

    Counted: each convolution's forward pass, 2·H·W·Cin·Cout·9 per image in the
    batch, plus its backward pass to the input (the same count; the filter
    gradients are not needed and are not computed), plus each style Gram matrix
    forward and backward (2·H·W·C² each). ReLU, pooling, the losses and the
    optimizer's vector work are neglected (< 1 %).
    """
    shapes = conv_layer_shapes(model, height, width)
    conv = sum(2 * h * w * c_in * c_out * k for _, h, w, c_in, c_out, k in shapes)
    grams = sum(4 * h * w * c_out * c_out for name, h, w, _, c_out, _ in shapes if name in style_layers)
    return conv * (batch_forward + batch_backward) + grams


class ProjectLoop:
    """This project's in-graph loop: `steps` evaluations per `Stylizer.pieces().run` call."""

    def __init__(self, size, optimizer="lbfgs", precision="float32", backbone="vgg19", weights=None, seed=0):
        self.name = f"tf_nst_{optimizer}" + ("" if precision == "float32" else f"_{precision}")
        self.stylizer = Stylizer(backbone=backbone, weights=weights, size=size, optimizer=optimizer,
                                 precision=precision)
        rng = np.random.default_rng(seed)
        content = tf.constant(rng.uniform(0, 255, (1, size, size, 3)), tf.float32)
        style = tf.constant(rng.uniform(0, 255, (1, size, size, 3)), tf.float32)
        self.pieces = self.stylizer.pieces()
        self.targets = self.pieces.objective.compute_targets(content, [style], tf.constant([1.0]))
        settings = self.stylizer.settings
        self.weights = tuple(tf.constant(w) for w in (settings.content_weight, settings.style_weight,
                                                      settings.tv_weight))
        self.state = self.pieces.start(content, self.targets, *self.weights)

    def flops(self, size):
        return evaluation_flops(self.stylizer.extractor.model, size, size, self.stylizer.settings.style_layers)

    def run(self, steps):
        self.state, history = self.pieces.run(self.state, self.targets, *self.weights, tf.constant(steps))
        history.numpy()


class ReferenceLoop:
    """A reference loop stepped `steps` times from Python, as its source does."""

    def __init__(self, loop_class, size, seed=0):
        rng = np.random.default_rng(seed)
        content = rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        style = rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        if loop_class is TutorialLoop:
            self.loop = TutorialLoop(tf.constant(content / 255.0), tf.constant(style / 255.0))
        else:
            self.loop = KerasIoLoop(tf.constant(content), tf.constant(style))
        self.name = self.loop.name

    def flops(self, size):
        if isinstance(self.loop, TutorialLoop):
            return evaluation_flops(self.loop.model, size, size, [f"block{i}_conv1" for i in range(1, 6)])
        # Three images forward through the convolutions up to block5_conv2 (the deeper
        # outputs are pruned from the graph as unused); gradients flow through the whole
        # batch of three, since slicing happens after the convolutions.
        model = self.loop.feature_extractor
        layers = []
        for layer in model.layers:
            layers.append(layer)
            if layer.name == "block5_conv2":
                break
        return evaluation_flops(_Chain(layers), size, size, [f"block{i}_conv1" for i in range(1, 6)],
                                batch_forward=3, batch_backward=3)

    def run(self, steps):
        for _ in range(steps):
            loss = self.loop.step()
        float(loss)


class _Chain:
    def __init__(self, layers):
        self.layers = layers


def time_loops(size, loops, steps=3, repeats=5, log=print):
    """Warm up each loop, then time `repeats` interleaved rounds of `steps` evaluations."""
    for loop in loops:
        loop.run(1)  # trace
        loop.run(steps)  # warm caches / settle retracing
    times = {loop.name: [] for loop in loops}
    cpu_times = {loop.name: [] for loop in loops}
    for round_index in range(repeats):
        for loop in loops:
            started, cpu_started = time.perf_counter(), time.process_time()
            loop.run(steps)
            times[loop.name].append((time.perf_counter() - started) / steps)
            cpu_times[loop.name].append((time.process_time() - cpu_started) / steps)
        log(f"[timing {size}px] round {round_index + 1}/{repeats}: " +
            ", ".join(f"{name} {values[-1]:.3f} s ({cpu_times[name][-1]:.3f} cpu-s)" for name, values in times.items()))
    return times, cpu_times


def speed_figures(size, steps=3, repeats=5, include_bfloat16=True, include_adam=True, log=print):
    """Seconds per evaluation of the project and both reference loops at `size`, with ratios."""
    loops = [ProjectLoop(size, "lbfgs")]
    if include_adam:
        loops.append(ProjectLoop(size, "adam"))
    if include_bfloat16:
        loops.append(ProjectLoop(size, "lbfgs", precision="bfloat16"))
    loops += [ReferenceLoop(TutorialLoop, size), ReferenceLoop(KerasIoLoop, size)]
    times, cpu_times = time_loops(size, loops, steps, repeats, log)
    base, cpu_base = times["tf_nst_lbfgs"], cpu_times["tf_nst_lbfgs"]
    result = {"size": size, "steps_per_round": steps, "rounds": repeats, "loops": {}}
    for loop in loops:
        values = times[loop.name]
        result["loops"][loop.name] = {
            "seconds_per_evaluation": summary(values),
            "flops_per_evaluation": loop.flops(size),
            # Same-round ratios: project time / this loop's time, round by round.
            "project_over_this": summary([b / v for b, v in zip(base, values)]),
            # Process CPU seconds (all threads): what the loop costs, whatever else runs on the machine.
            "cpu_seconds_per_evaluation": summary(cpu_times[loop.name]),
            "project_over_this_cpu": summary([b / v for b, v in zip(cpu_base, cpu_times[loop.name])]),
        }
    return result
