"""Figure 5: peak resident memory of a whole `stylize` run, one fresh process per setting.

    python -m benchmarks.memory --size 1024 --optimizer lbfgs --steps 3   # one child run

The parent starts a child per (size, optimizer) so that no other run's
allocations count; the child reports `VmHWM` (peak RSS) and its RSS
after building the model, as one JSON line.
"""

import json
import os
import resource
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def status_bytes(field="VmRSS"):
    """This process's current (`VmRSS`) or recorded peak (`VmHWM`) resident memory, bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes(*samples):
    """This process's peak resident memory so far, bytes: at least every RSS sample taken.

    Linux updates `VmHWM` lazily (when memory is unmapped, from per-CPU counters), so it can
    trail a `VmRSS` read moments earlier by a few hundred kB; the peak is the larger of the two.
    Falls back to `ru_maxrss` where `/proc` is missing.
    """
    recorded = status_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return max(recorded, status_bytes("VmRSS"), *samples)


def child(size, optimizer, steps, backbone="vgg19", precision="float32"):
    """Run one stylize call of `steps` evaluations; return peak RSS figures (bytes)."""
    import numpy as np

    from tf_nst.stylizer import Stylizer

    stylizer = Stylizer(backbone=backbone, weights=None if backbone != "vgg16-hed" else "default",
                        size=size, scales=1, num_steps=steps, optimizer=optimizer, precision=precision)
    after_build = status_bytes()
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    result = stylizer.stylize(content, [style], chunk_steps=steps)
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a child started by a parent
    # that had grown (after the speed section, 4.6 GB) reported the parent's peak as its own.
    peak = peak_rss_bytes(after_build)
    return {"size": size, "optimizer": optimizer, "backbone": backbone, "precision": precision,
            "steps": result.steps, "rss_after_build_bytes": after_build, "peak_rss_bytes": peak,
            "seconds": result.seconds}


def measure(size, optimizer, steps=3, backbone="vgg19", precision="float32", timeout=3600):
    """Run `child` in a fresh Python process and return its figures."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "benchmarks.memory", "--size", str(size), "--optimizer", optimizer,
               "--steps", str(steps), "--backbone", backbone, "--precision", precision]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        return {"size": size, "optimizer": optimizer, "error": completed.stderr.strip().splitlines()[-1:]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--backbone", default="vgg19")
    parser.add_argument("--precision", default="float32")
    args = parser.parse_args(argv)
    print(json.dumps(child(args.size, args.optimizer, args.steps, args.backbone, args.precision)))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
