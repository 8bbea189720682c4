"""What a run reports: `StylizeResult` at the end, `Progress` after each chunk of steps, and the
driver's bookkeeping in between (`RunRecord`)."""

import dataclasses
import time

import numpy as np

from tf_nst.engine.status import RunStatus


@dataclasses.dataclass
class StylizeResult:
    """What `Stylizer.stylize` returns.

    Args:
        image: `uint8` array `(height, width, 3)`: the lowest-loss image seen.
        alpha: the content's alpha channel resized to the output, or `None`.
        history: float32 array `(steps, len(loss_names))` of loss parts per evaluation.
        loss_names: names of the history columns (`total`, `content`, `style`, `tv`, extras).
        best_loss: total loss of `image`.
        steps: evaluations run (all scales).
        seconds: wall time of the optimization.
        status: a `RunStatus`: `done`, `stopped` (Ctrl-C, SIGTERM, `should_stop`) or `time-budget`.
        notes: things the user should know.
        tiling: per scale, `{"size": (width, height), "tile_size": int or None, "estimate": bytes,
            "budget": bytes}`: how each scale was evaluated.
    """

    image: np.ndarray
    alpha: np.ndarray | None
    history: np.ndarray
    loss_names: tuple
    best_loss: float
    steps: int
    seconds: float
    status: RunStatus = RunStatus.DONE
    notes: list = dataclasses.field(default_factory=list)
    tiling: list = dataclasses.field(default_factory=list)

    @property
    def interrupted(self):
        """True when the run ended before every planned evaluation (stopped or out of time)."""
        return not self.status.finished

    def losses(self):
        """History as a list of `{name: value}` dicts, one per evaluation."""
        return [dict(zip(self.loss_names, map(float, row))) for row in self.history]


@dataclasses.dataclass
class Progress:
    """Passed to the `callback` of `Stylizer.stylize` after each chunk of steps.

    Args:
        step: evaluations done so far (all scales).
        total_steps: evaluations planned.
        losses: `{name: value}` of the newest evaluation.
        rows: `(chunk, parts)` loss parts of every evaluation of this chunk.
        scale_index, scale_count: position in the coarse-to-fine schedule.
        size: `(width, height)` of this scale.
        best_image: callable returning the lowest-loss image so far, `uint8 (height, width, 3)`.
    """

    step: int
    total_steps: int
    losses: dict
    scale_index: int
    scale_count: int
    size: tuple
    rows: np.ndarray = None
    best_image: object = None


@dataclasses.dataclass
class RunRecord:
    """The driver's bookkeeping of one `stylize` call."""

    schedule: object
    notes: list
    callback: object = None
    should_stop: object = None
    chunk_steps: int = 5
    started: float = dataclasses.field(default_factory=time.perf_counter)
    rows: list = dataclasses.field(default_factory=list)
    done: int = 0
    status: RunStatus = RunStatus.DONE
    state: dict = None
    tiling: list = dataclasses.field(default_factory=list)

    def stop_reason(self, max_seconds):
        """`RunStatus.DONE` to go on, else why to stop now (time budget, `should_stop`), noted."""
        if max_seconds is not None and time.perf_counter() - self.started >= max_seconds:
            self.notes.append(f"time budget of {max_seconds:g} s reached after {self.done} steps")
            return RunStatus.TIME_BUDGET
        if self.should_stop is not None and self.should_stop():
            self.notes.append(f"interrupted after {self.done} steps")
            return RunStatus.STOPPED
        return RunStatus.DONE
