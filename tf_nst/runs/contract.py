"""The run contract shared by every driver and front end: a stop request and progress events.

- `StopRequest`: one object a front end sets (Ctrl-C, SIGTERM, a web page's button) and every
  driver polls; it is the `should_stop` callable `Stylizer.stylize`, `run_batch` and
  `stylize_video` accept.
- Progress events, one dataclass family: `StepProgress` (evaluations of a single run),
  `PairProgress` (pair n of N of a batch), `FrameProgress` (frame n of N of a video) and
  `RecordProgress` (a record of a Beam or cluster batch). Each says `done` of `total` in its
  `unit`; front ends render them (a tqdm bar, TensorBoard, later a web page) without knowing
  the driver.
- How a run ended is `tf_nst.engine.status.RunStatus` (`done`, `stopped`, `time-budget`,
  `failed`), on `StylizeResult.status`; "was this output already made with these settings
  and inputs?" is `tf_nst.io.provenance.matches`.

TensorFlow-free.

Example:
```python
stop = StopRequest()
events = []
stylizer.stylize(content, [style], should_stop=stop, callback=step_callback(events.append))
stop.set()                           # e.g. from a signal handler: the run ends at the next chunk
print(events[-1].done, events[-1].total, events[-1].losses)
```
"""

import dataclasses
import threading


class StopRequest:
    """A request to stop a run, set once by a front end and polled by the drivers.

    Calling it returns `is_set()`, so it is itself a `should_stop` callable.

    Example:
    ```python
    stop = StopRequest()
    run_batch(stylizer, pairs, "out", should_stop=stop)   # another thread or a signal: stop.set()
    ```
    """

    def __init__(self):
        self._event = threading.Event()

    def set(self):
        """Ask every run polling this request to stop at its next check."""
        self._event.set()

    def is_set(self):
        return self._event.is_set()

    def clear(self):
        self._event.clear()

    def __call__(self):
        return self._event.is_set()


@dataclasses.dataclass(frozen=True)
class ProgressEvent:
    """What every driver reports: `done` of `total` `unit`s, with the newest loss parts.

    Args:
        done: units finished so far (resumed or skipped ones included).
        total: units planned.
        seconds: wall time of the newest unit (a chunk of steps, a pair, a frame).
        losses: `{loss part: value}` of the newest unit (empty when it has none).
    """

    unit = "item"

    done: int
    total: int
    seconds: float = 0.0
    losses: dict = dataclasses.field(default_factory=dict)

    @property
    def fraction(self):
        return self.done / self.total if self.total else 1.0


@dataclasses.dataclass(frozen=True)
class StepProgress(ProgressEvent):
    """Evaluations of one run (after each chunk of `Stylizer.stylize`).

    Args:
        rows: `(chunk, parts)` loss parts of every evaluation of the chunk, in `loss_names` order.
        loss_names: names of the columns of `rows`.
        scale_index: position in the coarse-to-fine schedule.
        best_image: callable returning the lowest-loss image so far (None when not offered).
    """

    unit = "step"

    rows: object = None
    loss_names: tuple = ()
    scale_index: int = 0
    best_image: object = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def from_engine(cls, progress, loss_names=()):
        """The event of an engine `tf_nst.engine.stylizer.Progress` chunk."""
        return cls(done=progress.step, total=progress.total_steps, losses=dict(progress.losses), rows=progress.rows,
                   loss_names=tuple(loss_names) or tuple(progress.losses), scale_index=progress.scale_index,
                   best_image=progress.best_image)


@dataclasses.dataclass(frozen=True)
class PairProgress(ProgressEvent):
    """Pair `done` of `total` of a batch has its outcome.

    Args:
        result: the pair's `tf_nst.runs.batch.PairResult` (status ok / skipped / error / interrupted).
        counts: `{status: pairs}` so far.
    """

    unit = "pair"

    result: object = None
    counts: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class FrameProgress(ProgressEvent):
    """Frame `done` of `total` of a video is finished (`frame` and `total_frames` name the same).

    Args:
        resumed: frames found finished in the work folder at the start.
        image: the stylized frame, `uint8 (height, width, 3)`.
    """

    unit = "frame"

    resumed: int = 0
    image: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def frame(self):
        return self.done

    @property
    def total_frames(self):
        return self.total


@dataclasses.dataclass(frozen=True)
class RecordProgress(ProgressEvent):
    """A record of a Beam or cluster batch, read back from its manifest (`result`: a `PairResult`)."""

    unit = "record"

    result: object = None


def step_callback(render, loss_names=()):
    """A `Stylizer.stylize` callback that hands each chunk to `render` as a `StepProgress`."""

    def callback(progress):
        render(StepProgress.from_engine(progress, loss_names))

    return callback
