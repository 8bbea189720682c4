"""Real time: inference speed, training throughput, held-out quality and what `--init model:` saves.

    python -m benchmarks.realtime                  # the bundled model, every section
    python -m benchmarks.realtime --only inference --sizes 512,1024,2048
    python -m benchmarks.realtime --quick          # tiny sizes: a smoke run

Sections:
- inference: warm seconds per photo (median of rounds) of the bundled network at each size,
  float32 and bfloat16 (`--precision auto` picks bfloat16 on a CPU with native bf16).
- training: images/s of `StyleTrainer.fit` against a plain `tf.GradientTape` loop of the same
  network, loss and optimizers (`PlainLoop` below), at the same crop size and batch, in
  interleaved rounds, steady state; fit's one-off cost per call apart; the step's FLOP rate
  as a fraction of this CPU's measured matmul limit in the same precision.
- quality: on held-out photos, the Gram distance to the style and the content distance (the
  engine's normalized terms, vgg16-hed) of the network's output, of the optimization (200
  evaluations from the content) and of the optimization started from the network's output
  (`--init model:NAME`), with the evaluations that start needs to reach the 200-from-content loss.
- batching (`--only batching`): k single forward passes against one batch of k same-size photos
  (k = 1, 2, 4, 8; 256² and 512²; bf16 and float32), interleaved: whether TF Serving's batcher
  pays on this CPU.
Every figure is printed with the CPU model, the precision and the machine's load.
"""

import argparse
import json
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks.distances import distances
from benchmarks.machine import cpu_model
from benchmarks.timing import matmul_throughput
from tf_nst.engine.feedforward.rendering import FeedForward
from tf_nst.engine.feedforward.model_files import load_model
from tf_nst.engine.feedforward.perceptual import PerceptualLoss
from tf_nst.engine.pyramid import fit
from tf_nst.engine.stylizer import Stylizer
from tf_nst.engine.feedforward.transformer import TransformerNet
from tf_nst.io.images import load_image
from tf_nst.io.model_folders import resolve_model
from tf_nst.runs.photos import photo_dataset
from tf_nst.engine.feedforward.trainer import StyleTrainer, is_norm_parameter
from tf_nst.runs.training import build_objective, steps_per_execution
from tf_nst.settings import TrainSettings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "tf_nst", "assets")


def load():
    return "load %.1f %.1f %.1f" % os.getloadavg()


def inference(model, sizes, rounds=5):
    """`{precision: {size: median seconds}}` of one warm forward pass on a `size`×`size` photo."""
    folder, _ = resolve_model(model)
    photo = np.asarray(load_image(os.path.join(ASSETS, "astronaut.png")).rgb)
    figures = {}
    for precision, policy in (("float32", "float32"), ("bfloat16", "mixed_bfloat16")):
        runner = FeedForward(load_model(folder, dtype=policy)[0])
        figures[precision] = {}
        for size in sizes:
            rgb = tf.image.resize(photo[None].astype(np.float32), [size, size]).numpy()[0].astype(np.uint8)
            runner.stylize(rgb)
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                runner.stylize(rgb)
                times.append(time.perf_counter() - started)
            figures[precision][size] = statistics.median(times)
            print(f"inference {size}x{size} {precision}: {statistics.median(times):.3f} s "
                  f"(min {min(times):.3f}, {rounds} rounds; {cpu_model()}; {load()})", flush=True)
    return figures


class PlainLoop:
    """The straightforward custom loop that `StyleTrainer.fit` is measured against.

    The same network, loss and optimizers as `StyleTrainer` (Adam at `learning_rate` for the
    convolutions, Adam at `norm_learning_rate` for the per-style norm parameters), a random style per
    photo, one `tf.function` step (no XLA, like `fit`) with a `GradientTape`; the batch comes from a
    Python `next()` and the loss is read back after every step.
    """

    def __init__(self, network, loss, targets, weights, learning_rate=1e-3, norm_learning_rate=1e-2):
        self.network, self.loss, self.targets, self.weights = network, loss, targets, weights
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.norm_optimizer = keras.optimizers.Adam(norm_learning_rate)

    @tf.function
    def step(self, photos):
        indices = tf.random.uniform([photos.shape[0]], 0, self.network.num_styles, dtype=tf.int32)
        with tf.GradientTape() as tape:
            outputs = self.network({"image": photos, "style_weights": tf.one_hot(indices, self.network.num_styles)})
            total, _ = self.loss(outputs, photos, self.targets, indices, *self.weights)
        variables = self.network.trainable_variables
        grads = tape.gradient(total, variables)
        for optimizer, norm in ((self.optimizer, False), (self.norm_optimizer, True)):
            pairs = [(grad, variable) for grad, variable in zip(grads, variables) if is_norm_parameter(variable) == norm]
            optimizer.apply([grad for grad, _ in pairs], [variable for _, variable in pairs])
        return total


class StepClock(keras.callbacks.Callback):
    """Times of `fit`'s batch ends (one per execution) with the step reached."""

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append((batch + 1, time.perf_counter()))


def step_flops(loop, batch_size, size):
    """FLOPs of one training step: TF's profiler over the step's graph (ops with FLOP statistics)."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    graph = loop.step.get_concrete_function(tf.TensorSpec([batch_size, size, size, 3], tf.float32)).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return model_analyzer.profile(graph, options=options).total_float_ops


def training_models(settings, size):
    """`(trainer, plain loop)` of the same fresh network architecture, loss and targets."""
    styles = [os.path.join(ASSETS, name) for name in ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg")]
    loss = PerceptualLoss(build_objective(settings))
    targets = loss.style_targets([tf.image.resize(np.asarray(load_image(path).rgb, np.float32)[None],
                                                  [2 * size, 2 * size]) for path in styles])
    weights = (settings.content_weight, settings.style_weight, settings.tv_weight)
    policy = "mixed_bfloat16" if loss.objective.extractor.precision == "bfloat16" else "float32"

    def network():
        return TransformerNet(["a", "b", "c"], width=settings.width, num_residual_blocks=settings.num_residual_blocks,
                              dtype=policy)

    trainer = StyleTrainer(network(), loss, targets, weights, norm_learning_rate=settings.norm_learning_rate)
    trainer.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), jit_compile=False,
                    steps_per_execution=steps_per_execution(settings, 0))
    plain = PlainLoop(network(), loss, targets, weights, settings.learning_rate, settings.norm_learning_rate)
    return trainer, plain


def training(size, batch_size, steps, photos_folder, width=16, blocks=5, rounds=3):
    """Images/s of `StyleTrainer.fit` (as `train` compiles it) and of `PlainLoop`, interleaved rounds.

    Each round runs one `fit` of `steps` steps and `steps` plain steps; the rates are steady state (from
    the first batch end to the last, on both sides); `fit`'s one-off cost per call (iterator set-up
    and teardown, once per training run) is printed apart.
    """
    settings = TrainSettings(size=size, batch_size=batch_size, width=width, num_residual_blocks=blocks,
                             precision="auto", style_size=2 * size, num_steps=steps)
    paths = sorted(os.path.join(photos_folder, name) for name in os.listdir(photos_folder))
    dataset = photo_dataset(paths, size, batch_size)
    trainer, plain = training_models(settings, size)
    precision = trainer.perceptual.objective.extractor.precision
    per_execution = trainer.steps_per_execution
    trainer.fit(dataset, epochs=1, steps_per_epoch=2 * per_execution, verbose=0)  # trace
    iterator = iter(dataset)
    for _ in range(2):
        plain.step(next(iterator)).numpy()
    rates, overheads = {"fit": [], "plain": []}, []
    for index in range(rounds):
        clock, started = StepClock(), time.perf_counter()
        trainer.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[clock])
        total = time.perf_counter() - started
        (first_step, first), (last_step, last) = clock.ends[0], clock.ends[-1]
        rates["fit"].append((last_step - first_step) * batch_size / (last - first))
        overheads.append(total - steps * batch_size / rates["fit"][-1])
        ends = []
        for _ in range(steps):
            plain.step(next(iterator)).numpy()
            ends.append(time.perf_counter())
        rates["plain"].append((steps - 1) * batch_size / (ends[-1] - ends[0]))
        print(f"training round {index}: fit {rates['fit'][-1]:.2f}, plain {rates['plain'][-1]:.2f} images/s, "
              f"ratio {rates['fit'][-1] / rates['plain'][-1]:.3f} (fit's one-off cost {overheads[-1]:.1f} s; "
              f"{load()})", flush=True)
    figures = {name: statistics.median(values) for name, values in rates.items()}
    figures["ratio"] = statistics.median([a / b for a, b in zip(rates["fit"], rates["plain"])])
    figures["fit_one_off_seconds"] = statistics.median(overheads)
    flops = step_flops(plain, batch_size, size) * figures["fit"] / batch_size
    limit = matmul_throughput(2048, repeats=3, dtype=tf.bfloat16 if precision == "bfloat16" else tf.float32)
    figures["matmul_gflops"], figures["fit_gflops"] = limit["median"] / 1e9, flops / 1e9
    print(f"training fit {figures['fit']:.2f} images/s, plain {figures['plain']:.2f}: ratio {figures['ratio']:.3f} "
          f"(median of {rounds} rounds) at {size} px, batch {batch_size}, {per_execution} steps per execution, "
          f"{precision}; fit's one-off cost {figures['fit_one_off_seconds']:.1f} s per call ({cpu_model()}; {load()})",
          flush=True)
    print(f"training fit: {figures['fit_gflops']:.0f} GFLOP/s = {figures['fit_gflops'] / figures['matmul_gflops']:.2f} "
          f"of the {precision} matmul limit (2048², {figures['matmul_gflops']:.0f} GFLOP/s)", flush=True)
    return figures


def batching(model, sizes, ks=(1, 2, 4, 8), rounds=3):
    """Whether TF Serving's batcher would pay on this CPU: the network on a batch of `k` same-size photos
    against `k` single calls, interleaved, per precision and size; `{precision: {size: {k: speed-up}}}`."""
    folder, _ = resolve_model(model)
    figures = {}
    for precision, policy in (("bfloat16", "mixed_bfloat16"), ("float32", "float32")):
        network = load_model(folder, dtype=policy)[0]
        forward = tf.function(lambda photos, weights: network({"image": photos, "style_weights": weights}),
                              reduce_retracing=True)
        figures[precision] = {}
        for size in sizes:
            figures[precision][size] = {}
            for k in ks:
                photos = tf.random.uniform([k, size, size, 3], 0, 255, seed=k)
                weights = tf.one_hot(tf.zeros([k], tf.int32), network.num_styles)
                forward(photos, weights).numpy(), forward(photos[:1], weights[:1]).numpy()
                ratios = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    forward(photos, weights).numpy()
                    batched = time.perf_counter() - started
                    started = time.perf_counter()
                    for index in range(k):
                        forward(photos[index:index + 1], weights[index:index + 1]).numpy()
                    ratios.append((time.perf_counter() - started) / batched)
                figures[precision][size][k] = statistics.median(ratios)
                print(f"batching {size}x{size} {precision} k={k}: {k} single calls / one batch of {k} = "
                      f"{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}, {rounds} rounds; "
                      f"{cpu_model()}; {load()})", flush=True)
    return figures


def quality(model, photos, size, steps=200, style="starry_night"):
    """Held-out figures of the network, the optimization and the optimization from the network."""
    folder, _ = resolve_model(model)
    runner = FeedForward(load_model(folder, dtype="float32")[0])
    style_rgb = fit(np.asarray(load_image(os.path.join(ASSETS, style + ".jpg")).rgb), size)
    rows = []
    for path in photos:
        content = fit(np.asarray(load_image(path).rgb), size)
        fast = runner.stylize(content, {style: 1.0})
        stylizer = Stylizer(backbone="vgg16-hed", size=size, num_steps=steps, precision="auto")
        reference = stylizer.stylize(content, [style_rgb])
        refined = Stylizer(backbone="vgg16-hed", size=size, num_steps=steps, precision="auto").stylize(
            content, [style_rgb], init=fast)
        bar = float(reference.history[:, 0].min())
        reached = np.nonzero(np.minimum.accumulate(refined.history[:, 0]) <= bar)[0]
        objective = stylizer.objective()
        row = {"photo": os.path.basename(path), "network": distances(objective, fast, content, style_rgb),
               "optimization": distances(objective, reference.image, content, style_rgb),
               "init_model": distances(objective, refined.image, content, style_rgb),
               "evaluations_to_reach_200": int(reached[0]) + 1 if len(reached) else None,
               "seconds_optimization": reference.seconds}
        rows.append(row)
        print(f"quality {row['photo']} {size}px {style}: (style, content) network {row['network'][0]:.3f}, "
              f"{row['network'][1]:.3f}; optimization-{steps} {row['optimization'][0]:.3f}, "
              f"{row['optimization'][1]:.3f}; from network {row['init_model'][0]:.3f}, {row['init_model'][1]:.3f}, "
              f"reaches the {steps}-from-content loss after {row['evaluations_to_reach_200']} evaluations "
              f"({cpu_model()}; {load()})", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--only", default="inference,training,quality")
    parser.add_argument("--sizes", default="512,1024,2048")
    parser.add_argument("--photos", default=os.environ.get("TF_NST_HELD_OUT", os.path.join(ASSETS, "astronaut.png")),
                        help="Comma list of held-out photos for the quality section.")
    parser.add_argument("--train-photos", default=os.environ.get("TF_NST_TRAIN_PHOTOS"))
    parser.add_argument("--train-size", type=int, default=256, help="Crop size of the training section.")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds of the training section.")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None, help="Also write the figures to this JSON file.")
    arguments = parser.parse_args()
    only = arguments.only.split(",")
    quick = arguments.quick
    results = {"cpu": cpu_model()}
    if "inference" in only:
        sizes = [64, 96] if quick else [int(size) for size in arguments.sizes.split(",")]
        results["inference"] = inference(arguments.model, sizes, rounds=2 if quick else 5)
    if "training" in only and arguments.train_photos:
        results["training"] = training(64 if quick else arguments.train_size, 2 if quick else 4, 8 if quick else 12,
                                       arguments.train_photos, width=4 if quick else 16, blocks=1 if quick else 5,
                                       rounds=1 if quick else arguments.rounds)
    if "batching" in only:
        results["batching"] = batching(arguments.model, [64] if quick else [256, 512], (1, 2) if quick else (1, 2, 4, 8),
                                       rounds=1 if quick else 3)
    if "quality" in only:
        results["quality"] = quality(arguments.model, arguments.photos.split(","), 64 if quick else 256,
                                     steps=5 if quick else 200)
    if arguments.json:
        with open(arguments.json, "w") as stream:
            json.dump(results, stream, indent=1, default=str)


if __name__ == "__main__":
    main()
