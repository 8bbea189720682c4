"""What every benchmark records about the machine: the CPU model and this process's memory."""

import resource


def cpu_model():
    """The CPU's model name from /proc/cpuinfo ("unknown" where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


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
