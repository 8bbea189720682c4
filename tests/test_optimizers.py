import numpy as np
import pytest
import tensorflow as tf

from tf_nst.errors import InvalidArgumentError
from tf_nst.engine.optimizers import LBFGS, Adam, run_steps
from tf_nst.settings import StylizeSettings

# A fixed ill-conditioned problem in the image domain: curvatures from 1e-4 to 1.
TARGET = tf.constant(np.random.default_rng(0).uniform(20, 235, (1, 8, 8, 3)), tf.float32)
CURVATURE = tf.constant(np.logspace(-4, 0, 8 * 8 * 3).reshape(1, 8, 8, 3), tf.float32)


def quadratic(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(CURVATURE * tf.square(x - TARGET))
    return loss, tf.stack([loss]), tape.gradient(loss, x)


def minimize(optimizer, steps, x0=None):
    x0 = tf.fill([1, 8, 8, 3], 128.0) if x0 is None else x0

    @tf.function
    def go(x0, steps):
        state = optimizer.initialize(x0, quadratic)
        return run_steps(optimizer, state, quadratic, steps)

    return go(x0, tf.constant(steps))


@pytest.mark.parametrize("optimizer", [LBFGS(), Adam(learning_rate=2.0)], ids=["lbfgs", "adam"])
def test_optimizer_lowers_the_loss(optimizer):
    state, history = minimize(optimizer, 20)
    initial = float(quadratic(tf.fill([1, 8, 8, 3], 128.0))[0])
    assert history.shape == (20, 1)
    assert float(state["best_loss"]) < 0.5 * initial
    # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
    assert float(state["best_loss"]) == pytest.approx(float(np.min(history)), rel=1e-6)


def test_lbfgs_beats_adam_at_equal_evaluations():
    lbfgs_state, _ = minimize(LBFGS(), 30)
    adam_state, _ = minimize(Adam(learning_rate=2.0), 30)
    assert float(lbfgs_state["best_loss"]) < 0.1 * float(adam_state["best_loss"])


@pytest.mark.parametrize("optimizer", [LBFGS(), Adam(learning_rate=50.0)], ids=["lbfgs", "adam"])
def test_image_stays_in_range(optimizer):
    # Targets outside [0, 255] pull the image against the bounds.
    global TARGET
    saved = TARGET
    TARGET = tf.constant(np.where(np.arange(192).reshape(1, 8, 8, 3) % 2, -500.0, 900.0), tf.float32)
    try:
        state, _ = minimize(optimizer, 10)
    finally:
        TARGET = saved
    assert float(tf.reduce_min(state["x"])) >= 0.0
    assert float(tf.reduce_max(state["x"])) <= 255.0


def test_best_image_is_tracked_not_last():
    # Huge Adam steps overshoot: the last image is worse than the best seen.
    state, history = minimize(Adam(learning_rate=120.0), 12)
    assert float(state["best_loss"]) <= float(state["loss"])
    # tolerance T2 (see conftest.py): one float32 evaluation summed in two orders.
    assert float(quadratic(state["best_x"])[0]) == pytest.approx(float(state["best_loss"]), rel=1e-5)


def test_unknown_optimizer_and_bad_learning_rate():
    with pytest.raises(InvalidArgumentError, match="expected optimizer one of lbfgs, adam"):
        StylizeSettings(optimizer="sgd")
    with pytest.raises(InvalidArgumentError, match="expected learning_rate > 0"):
        Adam(learning_rate=0)
    with pytest.raises(InvalidArgumentError, match="expected history_size"):
        LBFGS(history_size=0)
    with pytest.raises(InvalidArgumentError, match="expected first_step one of max_pixel, torch"):
        LBFGS(first_step="huge")


def first_step_of(optimizer):
    x0 = tf.zeros([1, 8, 8, 3])  # float32 resolves tiny steps near 0, not near 128
    state = optimizer.initialize(x0, quadratic)
    state = optimizer.step(state, quadratic, -1e9, 1e9)
    return (state["x"] - x0).numpy(), quadratic(x0)[2].numpy()


@pytest.mark.parametrize("first_step", ["max_pixel", "torch"])
def test_lbfgs_first_step(first_step):
    step, grad = first_step_of(LBFGS(first_step=first_step))
    if first_step == "max_pixel":
        expected = -grad / np.abs(grad).max()  # the largest pixel moves one grey level
    else:
        expected = -grad * min(1.0, 1.0 / np.abs(grad).sum())  # torch optim.lbfgs
    # tolerance T3 (see conftest.py): float32 against a float64 numpy reference.
    np.testing.assert_allclose(step, expected, rtol=1e-4, atol=1e-12)


def test_lbfgs_longer_history_is_used():
    # On this 192-dimensional quadratic, 100 pairs capture more curvature than 3.
    short, _ = minimize(LBFGS(history_size=3), 80)
    long, _ = minimize(LBFGS(history_size=100), 80)
    assert int(short["pairs"]) == 3 and int(long["pairs"]) == 80
    assert float(long["best_loss"]) < 0.6 * float(short["best_loss"])


class DiagonalPreconditionedLBFGS(LBFGS):
    """`H₀ = γ·M` with `M` the quadratic's exact inverse curvature: the preconditioning hook's test."""

    def initial_inverse_hessian(self, vector, state):
        return vector * tf.reshape(1.0 / CURVATURE, [-1]) * state["hessian_scale"]

    def hessian_scale(self, s, y, ys, image_shape):
        return ys / tf.reduce_sum(y * y * tf.reshape(1.0 / CURVATURE, [-1]))


def test_lbfgs_preconditioning_hook_is_used():
    plain_state, _ = minimize(LBFGS(), 8)
    preconditioned_state, _ = minimize(DiagonalPreconditionedLBFGS(), 8)
    # The curvatures span 1e-4..1: plain L-BFGS is still far off after 8 evaluations, while the
    # exact preconditioner turns it into Newton's method after its first curvature pair.
    assert float(preconditioned_state["best_loss"]) < 1e-3 * float(plain_state["best_loss"])


def test_lbfgs_in_place_history_gives_the_same_numbers():
    # The driver's variant keeps the history in variables; chunks of calls as the Stylizer makes
    # them, a ring of 4 slots that wraps several times, two image sizes in turn (the shape is
    # reset by each `initialize`): every iterate equals the stateless loop's, bit for bit.
    from tf_nst.engine.pieces import AnySizeFunction

    def chunked(optimizer, x0):
        start = AnySizeFunction(lambda x: optimizer.initialize(x, quadratic_any))
        run = AnySizeFunction(lambda state, steps: run_steps(optimizer, state, quadratic_any, steps))
        state = start(x0)
        rows = []
        for steps in (3, 5, 7, 5):
            state, history = run(state, tf.constant(steps))
            rows.append(history.numpy())
        return state, np.concatenate(rows)

    in_place = LBFGS(history_size=4, in_place=True)
    for side in (8, 6):
        x0 = tf.fill([1, side, side, 3], 128.0)
        values_state, values_rows = chunked(LBFGS(history_size=4), x0)
        place_state, place_rows = chunked(in_place, x0)
        assert "s_history" in values_state and "s_history" not in place_state
        assert int(place_state["pairs"]) == 4
        np.testing.assert_array_equal(place_rows, values_rows)
        np.testing.assert_array_equal(place_state["best_x"].numpy(), values_state["best_x"].numpy())
        assert in_place.variables["s_history"][0].numpy().shape == (side * side * 3,)


def quadratic_any(x):
    """`quadratic` for any image size (its target and curvature cropped to `x`)."""
    shape = tf.shape(x)
    target = TARGET[:, :shape[1], :shape[2]]
    curvature = CURVATURE[:, :shape[1], :shape[2]]
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(curvature * tf.square(x - target))
    return loss, tf.stack([loss]), tape.gradient(loss, x)
