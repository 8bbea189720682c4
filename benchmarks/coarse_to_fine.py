"""Why coarse-to-fine does not reach the single-resolution loss sooner (the note under figure 3).

    python -m benchmarks.coarse_to_fine [--size 256] [--coarse-steps 100] [--fine-steps 80]

At one size (vgg16-hed, the figure-3 pair) it prints:

1. starts: the full-size loss (total, content, style) of three starts for the full-size stage
   (the content image; a half-size result upsampled plainly; the library's upsampling, which adds
   the content's lost detail) and where each stands after `--fine-steps` full-size evaluations;
2. spectrum: how much of the single-resolution run's late displacement lies below half and
   quarter resolution (the part a coarser grid could do at all);
3. mgopt: two-level multigrid optimization (MG/OPT, Nash 2000): the half-size loss plus a linear
   term that makes its gradient equal the restricted full-size gradient, coarse steps prolonged
   to full size with backtracking, between full-size L-BFGS steps;
4. multilevel: L-BFGS preconditioned by a multilevel (BPX-like) operator that moves the coarse
   components of every step further (`MultilevelLBFGS`), from the content image and from the
   library's half-size start.

Costs are counted in full-size evaluations (a half-size evaluation counts 1/4).
"""

import argparse
import math
import time

import numpy as np
import tensorflow as tf

from benchmarks.quality import load_pair
from tf_nst.engine import pyramid
from tf_nst.engine.optimizers import LBFGS, run_steps
from tf_nst.engine.pieces import AnySizeFunction, to_batch
from tf_nst.engine.stylizer import Stylizer

WEIGHTS = (1.0, 10.0, 1.0)  # the Stylizer defaults: content, style, TV


class Problem:
    """One size's targets and the loop's traced pieces (the Stylizer's, or with another optimizer)."""

    def __init__(self, stylizer, content, style, size, optimizer=None):
        self.content = pyramid.fit(content.rgb, size, stylizer.min_side)
        style_rgb = pyramid.fit(style.rgb, size, stylizer.min_side)
        self.objective = objective = stylizer.objective()
        self.optimizer = optimizer = optimizer or stylizer.optimizer
        self.targets = objective.compute_targets(to_batch(self.content), [to_batch(style_rgb)], tf.constant([1.0]))
        self.weights = tuple(tf.constant(w) for w in WEIGHTS)
        self.shape = self.content.shape[:2]
        if optimizer is stylizer.optimizer:
            pieces = stylizer.pieces()
            self._start, self._run = pieces.start, pieces.run
        else:
            self._start = AnySizeFunction(lambda x, targets, *weights: optimizer.initialize(
                x, objective.value_and_grad(targets, *weights)))
            self._run = AnySizeFunction(lambda state, targets, c, s, t, steps: run_steps(
                optimizer, state, objective.value_and_grad(targets, c, s, t), steps))

    def start(self, x):
        return self._start(x, self.targets, *self.weights)

    def run(self, state, steps):
        """`steps` L-BFGS evaluations from `state`; returns the state and the loss parts per evaluation."""
        state, history = self._run(state, self.targets, *self.weights, tf.constant(steps))
        return state, history.numpy()


def parts(row):
    total, content, style = (float(v) for v in row[:3])
    return f"{total:.4f} (content {content:.3f}, style {style:.4f})"


def starts(stylizer, fine, coarse, coarse_steps, fine_steps, reference_rows, log):
    """Full-size loss of each start and after `fine_steps` evaluations from it."""
    log(f"1. starts of the {fine.shape[1]}x{fine.shape[0]} stage ({coarse_steps} evaluations at "
        f"{coarse.shape[1]}x{coarse.shape[0]} cost {coarse_steps / 4 + 0.25:.1f} full-size evaluations)")
    state, _ = coarse.run(coarse.start(tf.constant(coarse.content[None], tf.float32)), coarse_steps)
    coarse_result = state["best_x"]
    candidates = {
        "content image (single resolution)": tf.constant(fine.content[None], tf.float32),
        "plain bicubic upsampling": tf.clip_by_value(
            tf.image.resize(coarse_result, fine.shape, method="bicubic"), 0.0, 255.0),
        "library upsampling (+ content detail)": pyramid.upsample(coarse_result, fine.content),
    }
    results = {}
    for name, x in candidates.items():
        if name.startswith("content"):
            rows = reference_rows[:fine_steps + 1]
        else:
            first = fine.start(x)
            _, history = fine.run(first, fine_steps)
            rows = np.concatenate([first["parts"].numpy()[None], history])
        best = float(np.min(rows[:, 0]))
        results[name] = {"start": rows[0].tolist(), "after": rows[-1].tolist(), "best": best}
        log(f"   {name:40s} start {parts(rows[0])}; after {fine_steps}: {parts(rows[-1])}")
    return results


def spectrum(reference_images, log):
    """Energy of the late displacement below half and quarter resolution."""
    log("2. where the single-resolution run's late work lies")

    def low_pass(image, factor):
        height, width = image.shape[:2]
        small = tf.image.resize(image[None], (height // factor, width // factor), method="area")
        return tf.image.resize(small, (height, width), method="bicubic").numpy()[0]

    results = {}
    last = max(reference_images)
    for first in sorted(reference_images)[:-1]:
        moved = reference_images[last] - reference_images[first]
        energy = float(np.sum(moved ** 2))
        half = float(np.sum(low_pass(moved, 2) ** 2)) / energy
        quarter = float(np.sum(low_pass(moved, 4) ** 2)) / energy
        results[f"{first}-{last}"] = {"rms": float(np.sqrt(np.mean(moved ** 2))), "half": half, "quarter": quarter}
        log(f"   evaluations {first}->{last}: moved {np.sqrt(np.mean(moved ** 2)):.1f} grey levels rms; "
            f"{100 * half:.0f} % of the energy below half resolution, {100 * quarter:.0f} % below a quarter")
    return results


def mgopt(fine, coarse, cycles, pre_steps, coarse_steps, post_steps, reference_best, log):
    """Two-level MG/OPT; returns the best full-size loss against the cost in full-size evaluations."""
    log(f"3. MG/OPT: {cycles} cycles of {pre_steps} full-size, {coarse_steps} half-size (coherent), "
        f"backtracked correction, {post_steps} full-size evaluations")
    optimizer = fine.optimizer
    coarse_value_and_grad = coarse.objective.value_and_grad(coarse.targets, *coarse.weights)

    def prolong(image):
        return tf.image.resize(image, fine.shape, method="bilinear")

    @tf.function
    def restrict_gradient(grad):  # the adjoint of `prolong`
        zero = tf.zeros([1, *coarse.shape, 3])
        with tf.GradientTape() as tape:
            tape.watch(zero)
            inner = tf.reduce_sum(prolong(zero) * grad)
        return tape.gradient(inner, zero)

    @tf.function
    def coarse_solve(y0, linear, steps):
        def value_and_grad(y):
            loss, loss_parts, grad = coarse_value_and_grad(y)
            return loss + tf.reduce_sum(linear * y), loss_parts, grad + linear
        state = optimizer.initialize(y0, value_and_grad)
        state, _ = run_steps(optimizer, state, value_and_grad, steps)
        return state["best_x"]

    cost, best, curve = 0.0, np.inf, []

    def account(rows, each=1.0):
        nonlocal cost, best
        for row in rows:
            cost += each
            best = min(best, float(row[0]))
            curve.append((cost, best))

    state = fine.start(tf.constant(fine.content[None], tf.float32))
    account([state["parts"].numpy()])
    for cycle in range(cycles):
        state, history = fine.run(state, pre_steps)
        account(history)
        x, grad = state["x"], state["grad"]
        x_coarse = tf.image.resize(x, coarse.shape, method="area")
        linear = restrict_gradient(grad) - coarse_value_and_grad(x_coarse)[2]
        correction = prolong(coarse_solve(x_coarse, linear, tf.constant(coarse_steps)) - x_coarse)
        account([[np.inf]] * (coarse_steps + 2), each=0.25)
        for step in (1.0, 0.3, 0.1, 0.03):
            trial = fine.start(tf.clip_by_value(x + step * correction, 0.0, 255.0))
            account([trial["parts"].numpy()])
            if float(trial["loss"]) < float(state["loss"]):
                break
        accepted = float(trial["loss"]) < float(state["loss"])
        log(f"   cycle {cycle}: loss {float(state['loss']):.4f} -> {float(trial['loss']):.4f} "
            f"(correction {float(tf.sqrt(tf.reduce_mean(correction ** 2))):.1f} grey levels rms, "
            f"step {step if accepted else 'none accepted'})")
        if accepted:
            for key in ("s_history", "y_history", "rho_history", "pairs", "hessian_scale"):
                trial[key] = state[key]  # keep the L-BFGS memory across the correction
            state = trial
        state, history = fine.run(state, post_steps)
        account(history)
    reference_at_cost = float(reference_best[min(int(round(cost)), len(reference_best) - 1)])
    log(f"   MG/OPT best {best:.4f} after {cost:.1f} evaluation-equivalents; "
        f"single resolution at the same cost: {reference_at_cost:.4f}")
    return {"best": best, "cost": cost, "reference_at_cost": reference_at_cost}


class MultilevelLBFGS(LBFGS):
    """L-BFGS with `H₀ = γ·M`, `M = I + Σₖ baseᵏ·Bₖ²` (`Bₖ` a Gaussian blur of σ = 2ᵏ/√2).

    `M` is symmetric positive definite (zero-padded symmetric convolutions), so the two-loop
    recursion stays valid; it amplifies the components that a grid 2ᵏ times coarser could hold,
    the low-frequency directions a pixel-space L-BFGS is slow along. `base=4` is close to
    optimizing a Laplacian pyramid's levels with equal step sizes.
    """

    def __init__(self, levels=4, base=2.0, **kwargs):
        super().__init__(**kwargs)
        self.levels, self.base = levels, float(base)
        self.kernels = []
        for level in range(1, levels + 1):
            sigma = 2 ** level / math.sqrt(2)
            taps = np.arange(-math.ceil(3 * sigma), math.ceil(3 * sigma) + 1, dtype=np.float32)
            kernel = np.exp(-0.5 * (taps / sigma) ** 2)
            self.kernels.append(kernel / kernel.sum())

    def _blur(self, image, kernel):
        kernel = tf.constant(kernel)
        across = tf.tile(kernel[None, :, None, None], [1, 1, 3, 1])
        down = tf.tile(kernel[:, None, None, None], [1, 1, 3, 1])
        image = tf.nn.depthwise_conv2d(image, across, [1, 1, 1, 1], "SAME")
        return tf.nn.depthwise_conv2d(image, down, [1, 1, 1, 1], "SAME")

    def precondition(self, vector, image_shape):
        image = tf.reshape(vector, image_shape)
        result = image
        for level, kernel in enumerate(self.kernels, start=1):
            result = result + self.base ** level * self._blur(self._blur(image, kernel), kernel)
        return tf.reshape(result, [-1])

    def initial_inverse_hessian(self, vector, state):
        return self.precondition(vector, tf.shape(state["x"])) * state["hessian_scale"]

    def hessian_scale(self, s, y, ys, image_shape):
        return ys / (tf.reduce_sum(y * self.precondition(y, image_shape)) + 1e-12)


def multilevel(content, style, size, steps, coarse_steps, reference_best, log, levels=4, base=2.0):
    """Evaluations to the bar of the multilevel-preconditioned L-BFGS, alone and after a half-size stage."""
    log(f"4. multilevel-preconditioned L-BFGS ({levels} levels, base {base:g}), {steps} full-size evaluations")
    bar = 1.05 * reference_best[-1]
    stylizer = Stylizer(backbone="vgg16-hed", size=size, num_steps=steps)
    optimizer = MultilevelLBFGS(levels=levels, base=base)
    fine = Problem(stylizer, content, style, size, optimizer)
    coarse = Problem(stylizer, content, style, size // 2, optimizer)
    coarse_state, _ = coarse.run(coarse.start(tf.constant(coarse.content[None], tf.float32)), coarse_steps)
    starts = {"content image": (tf.constant(fine.content[None], tf.float32), 0.0),
              f"{coarse_steps} half-size evaluations, library upsampling":
                  (pyramid.upsample(coarse_state["best_x"], fine.content), coarse_steps / 4 + 0.25)}
    results = {}
    for name, (x, cost) in starts.items():
        first = fine.start(x)
        _, history = fine.run(first, steps)
        best = np.minimum.accumulate(np.concatenate([[float(first["loss"])], history[:, 0]]))
        reached = int(np.argmax(best <= bar)) if (best <= bar).any() else None
        results[name] = {"best": best.tolist(), "evaluations_to_bar": reached, "coarse_cost": cost}
        where = (f"within 5 % after {reached} full-size evaluations ({reached + cost:.0f} evaluation-equivalents "
                 f"in all)" if reached is not None else "never within 5 %")
        log(f"   from the {name:46s} {where}; loss {best[-1]:.4f} ({best[-1] / reference_best[-1]:.3f} L) "
            f"after {steps}; the reference reaches the bar after {int(np.argmax(reference_best <= bar))}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--reference-steps", type=int, default=150)
    parser.add_argument("--coarse-steps", type=int, default=100)
    parser.add_argument("--fine-steps", type=int, default=80)
    args = parser.parse_args(argv)
    if not 0 < args.fine_steps <= args.reference_steps or args.reference_steps < 5:
        parser.error("expected 0 < --fine-steps <= --reference-steps and --reference-steps >= 5")
    started = time.perf_counter()
    content, style, _ = load_pair()
    stylizer = Stylizer(backbone="vgg16-hed", size=args.size, num_steps=args.reference_steps)
    fine = Problem(stylizer, content, style, args.size)
    coarse = Problem(stylizer, content, style, args.size // 2)
    print(f"coarse-to-fine diagnostics, {args.size} px, vgg16-hed, L-BFGS")

    # The single-resolution reference, with snapshots for the spectrum.
    state = fine.start(tf.constant(fine.content[None], tf.float32))
    rows, images, done = [state["parts"].numpy()], {}, 0
    for mark in (args.reference_steps // 5, args.reference_steps * 19 // 30, args.reference_steps):
        state, history = fine.run(state, mark - done)
        rows.extend(history)
        images[mark], done = state["x"].numpy()[0], mark
    rows = np.asarray(rows)
    reference_best = np.minimum.accumulate(rows[:, 0])
    final = reference_best[-1]
    print(f"reference: loss {final:.4f} after {args.reference_steps} evaluations; within 5 % from evaluation "
          f"{int(np.argmax(reference_best <= 1.05 * final))}; after {args.fine_steps}: {parts(rows[args.fine_steps])}")
    start_results = starts(stylizer, fine, coarse, args.coarse_steps, args.fine_steps, rows, print)
    spectrum_results = spectrum(images, print)
    mgopt_results = mgopt(fine, coarse, cycles=4, pre_steps=10, coarse_steps=5, post_steps=10, reference_best=reference_best,
          log=print)
    multilevel_results = multilevel(content, style, args.size, args.reference_steps, args.coarse_steps,
                                    reference_best, print)
    print(f"done in {time.perf_counter() - started:.0f} s")
    return {"reference_best": reference_best.tolist(), "starts": start_results, "spectrum": spectrum_results,
            "mgopt": mgopt_results, "multilevel": multilevel_results}


if __name__ == "__main__":
    main()
