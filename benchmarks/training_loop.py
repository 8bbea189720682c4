"""One machine: `train`'s loop (the one loop for one machine and for a cluster) against `StyleTrainer.fit`.

    python -m benchmarks.training_loop                     # 128 px, batch 4, width 16, 5 blocks, 3 rounds
    python -m benchmarks.training_loop --size 256 --steps 24

`train` runs `tf_nst.runs.training.training_steps` (`strategy.run` of the trainer's `train_step`, a few
steps per `tf.function` call) under TensorFlow's default strategy, on `worker_photos` through
`distribute_datasets_from_function`, where it used to call `fit`. Both sides here: the same network
architecture, loss, optimizers, crops and steps per execution; interleaved rounds; steady-state images/s
(first execution end to last). Printed with the CPU model, the precision and the machine's load.
"""

import argparse
import functools
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks.machine import cpu_model
from tf_nst.engine.feedforward.perceptual import PerceptualLoss
from tf_nst.engine.feedforward.trainer import StyleTrainer
from tf_nst.engine.feedforward.transformer import TransformerNet
from tf_nst.io.images import load_image
from tf_nst.runs.photos import photo_dataset
from tf_nst.runs.training import build_objective, steps_per_execution, training_steps, worker_photos
from tf_nst.settings import TrainSettings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "tf_nst", "assets")
STYLES = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg")


def load():
    return "load %.1f %.1f %.1f" % os.getloadavg()


def trainer(settings, loss, targets):
    policy = "mixed_bfloat16" if loss.objective.extractor.precision == "bfloat16" else "float32"
    network = TransformerNet(["a", "b", "c"], width=settings.width, num_residual_blocks=settings.num_residual_blocks,
                             dtype=policy)
    model = StyleTrainer(network, loss, targets, (settings.content_weight, settings.style_weight, settings.tv_weight),
                         norm_learning_rate=settings.norm_learning_rate)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), jit_compile=False,
                  steps_per_execution=steps_per_execution(settings, 0))
    return model


class ExecutionClock(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append((batch + 1, time.perf_counter()))


def compare(size, batch_size, steps, photos_folder, width=16, blocks=5, rounds=3):
    """`{"fit": images/s, "loop": images/s, "ratio": loop/fit}`, medians of interleaved rounds."""
    settings = TrainSettings(size=size, batch_size=batch_size, width=width, num_residual_blocks=blocks,
                             precision="auto", style_size=2 * size, num_steps=steps)
    paths = sorted(os.path.join(photos_folder, name) for name in os.listdir(photos_folder))
    loss = PerceptualLoss(build_objective(settings))
    targets = loss.style_targets([tf.image.resize(np.asarray(load_image(os.path.join(ASSETS, name)).rgb,
                                                             np.float32)[None], [2 * size, 2 * size])
                                  for name in STYLES])
    fitted, looped = trainer(settings, loss, targets), trainer(settings, loss, targets)
    per_execution = steps_per_execution(settings, 0)
    strategy = tf.distribute.get_strategy()
    for optimizer, variables in looped.optimized_groups():
        optimizer.build(variables)
    run_steps = training_steps(looped, strategy, per_execution, [batch_size, size, size, 3])
    iterator = iter(strategy.distribute_datasets_from_function(functools.partial(worker_photos, paths, settings, 0)))
    dataset = photo_dataset(paths, size, batch_size)
    fitted.fit(dataset, epochs=1, steps_per_epoch=2 * per_execution, verbose=0)  # trace both
    run_steps(iterator)
    rates = {"fit": [], "loop": []}
    for index in range(rounds):
        clock = ExecutionClock()
        fitted.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[clock])
        (first_step, first), (last_step, last) = clock.ends[0], clock.ends[-1]
        rates["fit"].append((last_step - first_step) * batch_size / (last - first))
        ends = []
        for _ in range(steps // per_execution):
            float(run_steps(iterator)["loss"])  # the loop reads its losses back after every execution
            ends.append(time.perf_counter())
        rates["loop"].append((len(ends) - 1) * per_execution * batch_size / (ends[-1] - ends[0]))
        print(f"round {index}: fit {rates['fit'][-1]:.2f}, loop {rates['loop'][-1]:.2f} images/s, ratio "
              f"{rates['loop'][-1] / rates['fit'][-1]:.3f} ({load()})", flush=True)
    figures = {name: statistics.median(values) for name, values in rates.items()}
    figures["ratio"] = statistics.median([loop / fit for loop, fit in zip(rates["loop"], rates["fit"])])
    print(f"training loop {figures['loop']:.2f} images/s, fit {figures['fit']:.2f}: ratio {figures['ratio']:.3f} "
          f"(median of {rounds} rounds) at {size} px, batch {batch_size}, {per_execution} steps per execution, "
          f"{loss.objective.extractor.precision} ({cpu_model()}; {load()})", flush=True)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", default=None, help="A folder of photos (default: crops of the bundled assets).")
    args = parser.parse_args()
    folder = args.photos or _asset_photos()
    compare(args.size, args.batch_size, args.steps, folder, rounds=args.rounds)


def _asset_photos():
    import tempfile

    from PIL import Image

    folder = tempfile.mkdtemp(prefix="tf-nst-photos-")
    astronaut = np.asarray(load_image(os.path.join(ASSETS, "astronaut.png")).rgb)
    for index, (top, left) in enumerate([(0, 0), (200, 200), (0, 256), (256, 0)]):
        Image.fromarray(astronaut[top:top + 256, left:left + 256]).save(os.path.join(folder, f"crop{index}.png"))
    return folder


if __name__ == "__main__":
    main()
