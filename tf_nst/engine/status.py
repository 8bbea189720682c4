"""How a run ended: one status type for the engine, every driver and every front end (TensorFlow-free).

`Stylizer.stylize` sets `StylizeResult.status`; the batch, video and cluster drivers record it per
output; the CLI maps it to exit codes. Nothing decides "was it interrupted?" from note text.
"""

import enum


class RunStatus(str, enum.Enum):
    """`done`: every planned evaluation ran; `stopped`: the user asked to stop (Ctrl-C, SIGTERM,
    a `should_stop` callable); `time-budget`: `max_seconds` ran out; `failed`: an error ended it."""

    DONE = "done"
    STOPPED = "stopped"
    TIME_BUDGET = "time-budget"
    FAILED = "failed"

    @property
    def finished(self):
        """True when the result is complete (every planned evaluation ran)."""
        return self is RunStatus.DONE

    def __str__(self):
        return self.value
