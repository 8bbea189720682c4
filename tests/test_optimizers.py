import numpy as np
import pytest
import tensorflow as tf

from tf_nst.errors import InvalidArgumentError
from tf_nst.optimizers import LBFGS, Adam, get_optimizer, run_steps

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
    assert float(quadratic(state["best_x"])[0]) == pytest.approx(float(state["best_loss"]), rel=1e-5)


def test_unknown_optimizer_and_bad_learning_rate():
    with pytest.raises(InvalidArgumentError, match="expected optimizer to be one of"):
        get_optimizer("sgd")
    with pytest.raises(InvalidArgumentError, match="expected learning_rate > 0"):
        Adam(learning_rate=0)
    with pytest.raises(InvalidArgumentError, match="expected history_size"):
        LBFGS(history_size=0)
