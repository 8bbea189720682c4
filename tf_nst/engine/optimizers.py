"""In-graph L-BFGS and Adam as `tf.while_loop` bodies.

By default neither optimizer owns a `tf.Variable`: the image and all optimizer state
(Adam moments, L-BFGS history) are plain tensors carried as loop variables.
That is what lets the same loop be exported as a SavedModel signature and
serve concurrent requests: variables built outside the signature would be shared by them. Keras optimizers
hold per-call state and TFP's L-BFGS needs Keras 2, hence these.

`LBFGS(in_place=True)` is the library driver's variant: its history (the only large
state: 10 pairs x 2 x 151 MB at 4096x3072) lives in one variable per vector, each
replaced when its slot of the ring buffer is, so one copy exists while the driver calls
the loop chunk by chunk. Carried as tensors, the
caller's state and the loop's updated copy would both be alive during a call. Its
numbers are the stateless variant's, bit for bit; a state is valid only until the next
`initialize` of the same optimizer (one run at a time).

Both take exactly one loss+gradient evaluation per step, keep the image in
`[lower, upper]` by projection, and track the lowest-loss image seen.

A `value_and_grad(x)` function returns `(loss, parts, grad)`: the scalar
loss, a float32 vector of loss parts for reporting, and the gradient.
"""

import tensorflow as tf

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import LBFGS_FIRST_STEPS


def _dot(a, b):
    return tf.reduce_sum(a * b)


class Optimizer:
    """Base: `initialize` evaluates the start point; `step` advances one evaluation."""

    name = "optimizer"

    def initialize(self, x, value_and_grad):
        loss, parts, grad = value_and_grad(x)
        state = {"x": x, "loss": loss, "parts": parts, "grad": grad,
                 "best_x": x, "best_loss": loss, "best_parts": parts,
                 "iteration": tf.constant(0, tf.int32)}
        state.update(self.initial_slots(x))
        return state

    def initial_slots(self, x):
        return {}

    def propose(self, state):
        """Return the next point (before projection) and updated slots."""
        raise NotImplementedError

    def absorb(self, state, slots, x_new, grad_new):
        """Update slots with the evaluated new point (L-BFGS history)."""
        return slots

    def step(self, state, value_and_grad, lower, upper):
        proposal, slots = self.propose(state)
        x_new = tf.clip_by_value(proposal, lower, upper)
        loss, parts, grad = value_and_grad(x_new)
        slots = self.absorb(state, slots, x_new, grad)
        improved = loss < state["best_loss"]
        new_state = dict(state)
        new_state.update(slots)
        new_state.update(
            x=x_new, loss=loss, parts=parts, grad=grad,
            # A choice of tensor, not an element-wise select: no new image-sized buffer.
            best_x=tf.cond(improved, lambda: x_new, lambda: state["best_x"]),
            best_loss=tf.where(improved, loss, state["best_loss"]),
            best_parts=tf.where(improved, parts, state["best_parts"]),
            iteration=state["iteration"] + 1,
        )
        return new_state

    def get_config(self):
        return {}


class Adam(Optimizer):
    """Adam on the pixels (0-255 units: `learning_rate` is in grey levels per step).

    Args:
        learning_rate: step size in pixel units.
        beta_1, beta_2, epsilon: as in Kingma & Ba.
    """

    name = "adam"

    def __init__(self, learning_rate=2.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        if not learning_rate > 0:
            raise InvalidArgumentError(
                f"expected learning_rate > 0. Received: learning_rate={learning_rate}")
        self.learning_rate = float(learning_rate)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def initial_slots(self, x):
        return {"m": tf.zeros_like(x), "v": tf.zeros_like(x)}

    def propose(self, state):
        t = tf.cast(state["iteration"] + 1, tf.float32)
        grad = state["grad"]
        m = self.beta_1 * state["m"] + (1.0 - self.beta_1) * grad
        v = self.beta_2 * state["v"] + (1.0 - self.beta_2) * tf.square(grad)
        m_hat = m / (1.0 - tf.pow(self.beta_1, t))
        v_hat = v / (1.0 - tf.pow(self.beta_2, t))
        proposal = state["x"] - self.learning_rate * m_hat / (tf.sqrt(v_hat) + self.epsilon)
        return proposal, {"m": m, "v": v}

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}


class LBFGS(Optimizer):
    """Limited-memory BFGS with a fixed step, as in jcjohnson/neural-style (torch optim.lbfgs).

    No line search: one evaluation per step. Until a curvature pair is stored
    the step is a scaled gradient step (see `first_step`); later steps use the
    usual `sᵀy / yᵀy` initial Hessian scale. The history is a fixed-size ring buffer
    `(history_size, N)` updated in place.

    Args:
        history_size: number of (s, y) pairs kept (jcjohnson/neural-style: 100,
            via torch optim.lbfgs; 10 ends within 1 % of it per evaluation here and is lighter).
        learning_rate: multiplier of the step (1.0 is the standard choice).
        first_step: `"max_pixel"` (default): the first step moves the largest pixel by
            one grey level; `"torch"`: torch optim.lbfgs's `min(1, 1/‖g‖₁)` times the gradient.
        in_place: keep the (s, y) history in variables updated in place instead of in the
            state (see the module docstring); for a Python driver, not for an export.
    """

    name = "lbfgs"
    FIRST_STEPS = LBFGS_FIRST_STEPS
    HISTORIES = ("s_history", "y_history")

    def __init__(self, history_size=10, learning_rate=1.0, first_step="max_pixel", in_place=False):
        if not (isinstance(history_size, int) and history_size >= 1):
            raise InvalidArgumentError(
                f"expected history_size an integer >= 1. Received: history_size={history_size}")
        if not learning_rate > 0:
            raise InvalidArgumentError(
                f"expected learning_rate > 0. Received: learning_rate={learning_rate}")
        if first_step not in self.FIRST_STEPS:
            raise InvalidArgumentError(
                f"expected first_step one of {', '.join(self.FIRST_STEPS)}. Received: first_step={first_step!r}")
        self.history_size = history_size
        self.learning_rate = float(learning_rate)
        self.first_step = first_step
        self.in_place = bool(in_place)
        self.variables = {}
        if self.in_place:
            # One flat vector per slot, any image size (each `initialize` sets the shape).
            self.variables = {name: [tf.Variable(tf.zeros([0]), shape=tf.TensorShape([None]), trainable=False,
                                                 name=f"{name}_{slot}") for slot in range(history_size)]
                              for name in self.HISTORIES}

    def initial_slots(self, x):
        size = tf.size(x)
        if self.in_place:
            histories = {}
            for variables in self.variables.values():
                for variable in variables:
                    variable.assign(tf.zeros([size], tf.float32))
        else:
            histories = {name: tf.zeros([self.history_size, size], tf.float32) for name in self.HISTORIES}
        return {
            **histories,
            "rho_history": tf.zeros([self.history_size], tf.float32),
            "pairs": tf.constant(0, tf.int32),
            "head": tf.constant(0, tf.int32),  # ring buffer: the oldest pair's slot, where the next goes
            "hessian_scale": tf.constant(1.0, tf.float32),
        }

    def pair(self, state, index):
        """`(s, y, rho)` of stored pair `index` (0 oldest ... history_size - 1 newest; unused: zero).

        Pair i sits in slot (head + i) mod history_size. In place, a slot's vectors are read
        through the slot's variable handle, picked from the stacked handles: a read aliases the
        buffer (no copy), and the graph stays one read whatever the history size (a
        `switch_case` over the variables grows with its square).
        """
        slot = (state["head"] + index) % self.history_size
        if self.in_place:
            s, y = (tf.ensure_shape(tf.raw_ops.ReadVariableOp(resource=self.handles(name)[slot], dtype=tf.float32),
                                    [None]) for name in self.HISTORIES)
        else:
            s, y = (state[name][slot] for name in self.HISTORIES)
        return s, y, state["rho_history"][slot]

    def handles(self, name):
        """The resource handles of history `name`'s variables, stacked (slot order)."""
        return tf.stack([variable.handle for variable in self.variables[name]])

    def propose(self, state):
        grad = tf.reshape(state["grad"], [-1])
        valid = tf.range(self.history_size) >= self.history_size - state["pairs"]

        # Two-loop recursion over the fixed-size ring; empty slots are masked. Loops, not
        # unrolled: the graph stays small for a 100-pair history (jcjohnson's preset).
        def newest_first(index, q, alphas):
            s, y, rho = self.pair(state, index)
            alpha = tf.where(valid[index], rho * _dot(s, q), 0.0)
            return index - 1, q - alpha * y, alphas.write(index, alpha)

        _, q, alphas = tf.while_loop(
            lambda index, *_: index >= 0, newest_first,
            (tf.constant(self.history_size - 1), -grad, tf.TensorArray(tf.float32, size=self.history_size)),
            parallel_iterations=1)
        direction = self.initial_inverse_hessian(q, state)

        def oldest_first(index, direction):
            s, y, rho = self.pair(state, index)
            beta = tf.where(valid[index], rho * _dot(y, direction), 0.0)
            return index + 1, direction + s * (alphas.read(index) - beta)

        _, direction = tf.while_loop(lambda index, _: index < self.history_size, oldest_first,
                                     (tf.constant(0), direction), parallel_iterations=1)
        # Not a descent direction (possible after projection): fall back to the gradient.
        descent = _dot(direction, grad) < 0.0
        direction = tf.where(descent, direction, -self.initial_inverse_hessian(grad, state))
        # Without curvature pairs the direction is the raw gradient, whose scale says
        # nothing about pixels: move the largest pixel by one grey level instead
        # (or take torch's min(1, 1/|g|_1) step).
        no_history = tf.equal(state["pairs"], 0)
        if self.first_step == "torch":
            first = tf.minimum(1.0, 1.0 / (tf.reduce_sum(tf.abs(direction)) + 1e-12))
        else:
            first = 1.0 / (tf.reduce_max(tf.abs(direction)) + 1e-12)
        step_size = self.learning_rate * tf.where(no_history, first, 1.0)
        proposal = state["x"] + step_size * tf.reshape(direction, tf.shape(state["x"]))
        return proposal, {}

    def absorb(self, state, slots, x_new, grad_new):
        s = tf.reshape(x_new - state["x"], [-1])
        y = tf.reshape(grad_new - state["grad"], [-1])
        ys = _dot(y, s)
        accept = ys > 1e-10
        rho = 1.0 / tf.where(accept, ys, 1.0)
        # The new pair overwrites the oldest slot in place: a shifted copy of the buffers (and a
        # select between two of them) would hold three histories at once, 9 GB at 4096x3072.
        slot = [[state["head"]]]
        rho_history = tf.where(accept, tf.tensor_scatter_nd_update(state["rho_history"], slot, [rho]),
                               state["rho_history"])
        if self.in_place:
            def store_in_place():
                # Fresh tensors (the same subtraction as `s` and `y`): each variable adopts one as
                # its buffer, no copy; the slot's old buffer is freed once its last read is used.
                writes = [tf.raw_ops.AssignVariableOp(resource=self.handles(name)[state["head"]],
                                                      value=tf.reshape(new - old, [-1]))
                          for name, (new, old) in zip(self.HISTORIES, ((x_new, state["x"]),
                                                                       (grad_new, state["grad"])))]
                with tf.control_dependencies(writes):
                    return tf.constant(True)

            stored = tf.cond(accept, store_in_place, lambda: tf.constant(False))
            histories = {}
        else:
            def store():
                return (tf.tensor_scatter_nd_update(state["s_history"], slot, s[None]),
                        tf.tensor_scatter_nd_update(state["y_history"], slot, y[None]))

            s_history, y_history = tf.cond(accept, store, lambda: (state["s_history"], state["y_history"]))
            histories = {"s_history": s_history, "y_history": y_history}
        head = tf.where(accept, (state["head"] + 1) % self.history_size, state["head"])
        if self.in_place:
            # The next step's reads pick their slots from `head`: after this step's writes.
            with tf.control_dependencies([stored]):
                head = tf.identity(head)
        return {
            **histories,
            "rho_history": rho_history,
            "head": head,
            "pairs": tf.where(accept, tf.minimum(state["pairs"] + 1, self.history_size), state["pairs"]),
            "hessian_scale": tf.where(accept, self.hessian_scale(s, y, ys, tf.shape(x_new)), state["hessian_scale"]),
        }

    def initial_inverse_hessian(self, vector, state):
        """`H₀ · vector` for a flat `vector`: the scaled identity of the two-loop recursion.

        Override it (with `hessian_scale`) for a preconditioned L-BFGS: `H₀ = γ·M` with a
        symmetric positive definite `M` (benchmarks/coarse_to_fine.py tries a multilevel one).
        """
        return vector * state["hessian_scale"]

    def hessian_scale(self, s, y, ys, image_shape):
        """γ of `H₀` from the newest pair: `sᵀy / yᵀy` (`sᵀy / yᵀMy` for a preconditioner `M`)."""
        return ys / (_dot(y, y) + 1e-12)

    def get_config(self):
        return {"history_size": self.history_size, "learning_rate": self.learning_rate,
                "first_step": self.first_step, "in_place": self.in_place}


def run_steps(optimizer, state, value_and_grad, num_steps, lower=0.0, upper=255.0):
    """Advance `state` by `num_steps` evaluations inside one `tf.while_loop`.

    Returns the new state and the `(num_steps, parts)` history of loss parts.
    """
    history = tf.TensorArray(tf.float32, size=num_steps, element_shape=state["parts"].shape)

    def body(index, state, history):
        state = optimizer.step(state, value_and_grad, lower, upper)
        return index + 1, state, history.write(index, state["parts"])

    _, state, history = tf.while_loop(
        lambda index, *_: index < num_steps,
        body,
        (tf.constant(0, tf.int32), state, history),
    )
    return state, history.stack()
