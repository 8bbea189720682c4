"""Where a training runs: this machine, or the cluster that `TF_CONFIG` names.

`TF_CONFIG` is TensorFlow's own (a JSON object: `{"cluster": {"worker": ["host:port", ...]}, "task":
{"type": "worker", "index": i}}`, optionally with a `"chief"` job). Every worker runs the same command;
`tf.distribute.MultiWorkerMirroredStrategy` keeps a copy of the variables on each and sums the gradients
of all workers at every step. The chief (task type `"chief"`, or worker 0 without one) writes the files.
Without `TF_CONFIG` the run uses TensorFlow's default strategy: one machine, the same training loop.

Example:
```python
cluster = training_cluster(connect_seconds=300)
with cluster.strategy.scope():
    ...  # variables, one copy per worker
```
"""

import dataclasses
import json
import os
import re
import socket
import time

import tensorflow as tf

from tf_nst.errors import ClusterError, InvalidArgumentError

CONFIG_VARIABLE = "TF_CONFIG"
WORKER_JOBS = ("chief", "worker")
TASK_NAME = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The strategy of a training run and this process's place in it.

    Args:
        strategy: a `tf.distribute.Strategy`.
        num_workers: processes taking part (1 on one machine).
        is_chief: whether this process writes checkpoints, previews and the model folder.
        index: this process's place in the cluster (0 for the chief).
    """

    strategy: object
    num_workers: int = 1
    is_chief: bool = True
    index: int = 0

    @property
    def num_replicas(self):
        return self.strategy.num_replicas_in_sync


def training_cluster(connect_seconds=300.0, environ=None):
    """The `Cluster` of `TF_CONFIG` (TensorFlow's multi-worker strategy), or one machine without it.

    Args:
        connect_seconds: how long to wait for every other worker to listen (they may start later).
        environ: the environment to read (`os.environ` by default).

    Raises:
        InvalidArgumentError: a `TF_CONFIG` that is not TensorFlow's form.
        ClusterError: this worker's port is taken, or a worker did not listen within `connect_seconds`.
    """
    config = (os.environ if environ is None else environ).get(CONFIG_VARIABLE)
    if not config:
        return Cluster(tf.distribute.get_strategy())
    jobs, task_type, task_index = parse_config(config)
    addresses = [(job, index, address) for job in WORKER_JOBS for index, address in enumerate(jobs.get(job, []))]
    own = jobs[task_type][task_index]
    peers = [(job, index, address) for job, index, address in addresses if (job, index) != (task_type, task_index)]
    wait_for_peers(own, peers, connect_seconds)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:  # "Collective ops must be configured at program startup"
        raise ClusterError(f"expected to join TF_CONFIG's cluster before TensorFlow runs anything in this process "
                           f"(TensorFlow sets up its collective ops at start-up). Received: {error}") from None
    chief = task_type == "chief" or (task_type == "worker" and task_index == 0 and "chief" not in jobs)
    index = [(job, number) for job, number, _ in addresses].index((task_type, task_index))
    return Cluster(strategy, len(addresses), chief, index)


def workers_named(environ=None):
    """How many workers `TF_CONFIG` names (1 without it), before any connection.

    Raises:
        InvalidArgumentError: a `TF_CONFIG` that is not TensorFlow's form.
    """
    config = (os.environ if environ is None else environ).get(CONFIG_VARIABLE)
    if not config:
        return 1
    jobs, _, _ = parse_config(config)
    return sum(len(jobs.get(job, [])) for job in WORKER_JOBS)


def parse_config(text):
    """`(jobs, task type, task index)` of a `TF_CONFIG` value.

    Raises:
        InvalidArgumentError: not JSON, no cluster, or a task the cluster does not list.
    """
    try:
        config = json.loads(text)
        jobs = {job: list(addresses) for job, addresses in config["cluster"].items()}
        task_type, task_index = config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidArgumentError(
            f'expected TF_CONFIG as TensorFlow defines it ({{"cluster": {{"worker": ["host:port", ...]}}, "task": '
            f'{{"type": "worker", "index": 0}}}}). Received: TF_CONFIG={text!r} ({error})') from None
    if task_type not in WORKER_JOBS or not 0 <= task_index < len(jobs.get(task_type, [])):
        raise InvalidArgumentError(
            f"expected TF_CONFIG's task to be a chief or worker of its cluster "
            f"({', '.join(f'{job}: {len(jobs.get(job, []))}' for job in WORKER_JOBS)}). "
            f"Received: task type {task_type!r}, index {task_index}")
    return jobs, task_type, task_index


def wait_for_peers(own, peers, connect_seconds):
    """Listen on this worker's port and wait until every peer's port accepts a connection.

    TensorFlow's own start waits for every worker without a time limit; this check bounds it. Each
    worker listens while it waits, so workers started in any order all pass; the listener is closed
    before TensorFlow binds the same port.

    Raises:
        ClusterError: the own port is taken, or a peer did not listen within `connect_seconds`.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        try:
            listener.bind(("", port_of(own)))
        except OSError as error:
            raise ClusterError(f"expected a free port for this worker at {own} (TF_CONFIG). Received: "
                               f"{error.strerror or error}") from None
        listener.listen(64)
        deadline = time.monotonic() + connect_seconds
        waiting = list(peers)
        while waiting:
            waiting = [peer for peer in waiting if not accepts(peer[2])]
            if waiting and time.monotonic() >= deadline:
                job, index, address = waiting[0]
                raise ClusterError(
                    f"could not reach {job} {index} of TF_CONFIG at {address} within {connect_seconds:g} s"
                    f"{f' ({len(waiting)} workers in all)' if len(waiting) > 1 else ''}: start the same command "
                    "there, or correct TF_CONFIG")
            if waiting:
                time.sleep(0.5)
    finally:
        listener.close()


def accepts(address, seconds=1.0):
    """Whether `host:port` accepts a TCP connection now."""
    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        with socket.create_connection((host, port_of(address)), timeout=seconds):
            return True
    except OSError:
        return False


def port_of(address):
    try:
        return int(address.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        raise InvalidArgumentError(f"expected host:port addresses in TF_CONFIG. Received: {address!r}") from None


def lost_worker_error(error, step, checkpoint_every):
    """The `ClusterError` for a collective that failed mid-run (`error`, a `tf.errors.OpError`): which worker
    TensorFlow found gone, and how to resume."""
    text = str(error)
    unhealthy = text[text.find("unhealthy"):] if "unhealthy" in text else ""
    tasks = [f"{job} {index}" for job, index in TASK_NAME.findall(unhealthy)]
    who = " and ".join(dict.fromkeys(tasks)) if tasks else "a worker"
    why = "it stopped sending heartbeats" if tasks else f"{type(error).__name__}"
    return ClusterError(f"lost {who} of the cluster at step {step} ({why}); rerun the same command on every worker "
                        f"to resume from the chief's last checkpoint (saved every {checkpoint_every} steps)")


def agree_to_stop(cluster, wanted):
    """Whether any worker wants to stop (every worker calls this at the same step, and all get one answer)."""
    if cluster.num_workers == 1:
        return bool(wanted)
    return bool(_votes(cluster.strategy, tf.constant(1.0 if wanted else 0.0)).numpy() > 0)


@tf.function
def _votes(strategy, vote):
    return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, args=(vote,)), axis=None)


def broadcast_from_chief(cluster, variables):
    """Give every worker the chief's values of `variables` (a resumed checkpoint exists on the chief only)."""
    if cluster.num_workers == 1 or not variables:
        return
    values = [tf.convert_to_tensor(variable.value) for variable in variables]
    # One all-reduce of every value as float64 (exact for float32 and for step counts), the chief's alone non-zero.
    flat = _chief_values(cluster.strategy, tf.concat([tf.reshape(tf.cast(value, tf.float64), [-1])
                                                      for value in values], 0))
    pieces = tf.split(flat, [int(tf.size(value)) for value in values])
    for variable, value, piece in zip(variables, values, pieces):
        variable.assign(tf.cast(tf.reshape(piece, value.shape), value.dtype))


@tf.function
def _chief_values(strategy, flat):
    def chief_only(flat):
        first = tf.distribute.get_replica_context().replica_id_in_sync_group == 0
        return flat * tf.cast(first, flat.dtype)

    return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(chief_only, args=(flat,)), axis=None)
