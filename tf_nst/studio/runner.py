"""One optimization of the studio: run in a worker thread, its progress events handed out as updates.

The page's generator iterates `Runner.updates(job, session)`: each `StepProgress` of the run
contract (every `PREVIEW_EVERY` evaluations) becomes an `Update` with the best image so far, and
the last one carries the written PNG. Closing the generator (a closed tab) or `Runner.stop(session)`
(the Stop button) sets the run's `StopRequest`: the run ends at its next chunk and keeps its best
image. Gradio's queue lets one job run at a time; the Runner keeps the last `Stylizer`, so runs
with the same settings reuse its traced graphs.

A run waits in the queue with a ticket (`Runner.wait`, taken when Run is pressed): Stop, or the
tab closing, cancels the session's waiting tickets too, and a cancelled run never starts
(`Runner.admit`). The ETA is the pace after the first chunk (which builds and traces the model).
"""

import dataclasses
import json
import logging
import queue
import threading
import time

from tf_nst.errors import NSTError, WeightsError
from tf_nst.io.images import save_png
from tf_nst.io.provenance import init_record
from tf_nst.runs.contract import StopRequest, step_callback

PREVIEW_EVERY = 5  # evaluations between preview images: one chunk of Stylizer.stylize



def region_keywords(mask_paths):
    """`(Stylizer.stylize keywords, save_png masks)` of the painted masks: the one place naming them."""
    if not mask_paths:
        return {}, None
    return {"region_masks": list(mask_paths)}, {"region_masks": list(mask_paths)}


def stored_mask_paths(stored):
    """The painted masks' paths in a replayed PNG's provenance (`read_provenance`), one per style, or []."""
    return list((stored.get("masks") or {}).get("region_masks") or [])


class DownloadError(NSTError):
    """A backbone's weights could not be downloaded."""


@dataclasses.dataclass
class Job:
    """What one run needs, checked by the page before it is queued.

    Args:
        settings: the `StylizeSettings` of the form.
        content: the content photo's path; `styles`: the styles' paths.
        mask_paths: one grey PNG per style (what was painted), or None (every style everywhere).
        output: where the PNG with provenance goes.
        init: a start image (`uint8 (H, W, 3)`), e.g. an instant preview to refine, or None.
        init_kind: what the start image is, recorded as the settings' `init` (`model:arbitrary`: the
            Instant preview), with the hash of its pixels; needed with `init`.
    """

    settings: object
    content: str
    styles: list
    mask_paths: list | None
    output: str
    init: object = None
    init_kind: str | None = None


@dataclasses.dataclass
class Update:
    """A step of a run as the page shows it.

    Args:
        done, total: evaluations so far and planned.
        image: the best image so far (`uint8 (H, W, 3)`) or None.
        losses: total loss of each new evaluation.
        seconds: since the run started.
        final: the last update; then `output` (the PNG written) and `status`, or `error`.
        first_done, first_seconds: the first chunk's evaluations and seconds (it builds and traces the
            model), left out of the pace.
    """

    done: int = 0
    total: int = 0
    image: object = None
    losses: tuple = ()
    seconds: float = 0.0
    final: bool = False
    output: str | None = None
    status: str | None = None
    error: str | None = None
    notes: tuple = ()
    first_done: int = 0
    first_seconds: float = 0.0

    @property
    def eta(self):
        """Seconds left at the pace after the first chunk (None until a second chunk has run)."""
        if self.done <= self.first_done:
            return None
        return (self.seconds - self.first_seconds) / (self.done - self.first_done) * (self.total - self.done)


class Runner:
    """Runs the studio's jobs and holds each session's stop request."""

    def __init__(self):
        self._stops = {}
        self._stylizer = (None, None)  # (settings key, Stylizer)
        self._lock = threading.Lock()
        self._tickets = []  # waiting runs in queue order: [session, cancelled]
        self._admitted = 0  # runs started by the page and not yet over

    def wait(self, session):
        """A ticket for `session`'s run, which now waits in the queue; returns the runs ahead of it."""
        with self._lock:
            ahead = len(self._tickets) + self._admitted
            self._tickets.append([session, False])
        return ahead

    def admit(self, session):
        """Take `session`'s oldest ticket as its run starts: False when Stop cancelled it (the run must not start).

        An admitted run counts as ahead of later ones until `release`."""
        with self._lock:
            for ticket in self._tickets:
                if ticket[0] == session:
                    self._tickets.remove(ticket)
                    if ticket[1]:
                        return False
                    break
            self._admitted += 1
        return True

    def release(self):
        """An admitted run is over."""
        with self._lock:
            self._admitted = max(0, self._admitted - 1)

    def stop(self, session):
        """Stop `session`'s run, if it has one (its best image so far is kept), and cancel its waiting ones."""
        with self._lock:
            for ticket in self._tickets:
                if ticket[0] == session:
                    ticket[1] = True
        stop = self._stops.get(session)
        if stop is not None:
            stop.set()

    def running(self, session):
        return session in self._stops

    def updates(self, job, session):
        """Run `job` in a worker thread and yield its `Update`s; closing this generator stops the run."""
        stop = StopRequest()
        self._stops[session] = stop
        updates = queue.Queue()
        worker = threading.Thread(target=self._work, args=(job, stop, updates.put), daemon=True,
                                  name=f"tf-nst-studio-{session[:8]}")
        worker.start()
        try:
            while True:
                update = updates.get()
                yield update
                if update.final:
                    return
        finally:
            stop.set()  # a closed tab closes the generator here, mid-run
            worker.join()
            if self._stops.get(session) is stop:
                del self._stops[session]

    def stylizer(self, settings):
        """A Stylizer of `settings`: the last one again when the settings are the same."""
        from tf_nst.engine.stylizer import Stylizer

        key = json.dumps(settings.to_dict(), sort_keys=True, default=repr)
        with self._lock:
            if self._stylizer[0] != key:
                self._stylizer = (None, None)  # the old graphs go before the new ones are built
                self._stylizer = (key, Stylizer(settings))
            return self._stylizer[1]

    def _built(self, settings):
        """`stylizer(settings)`; a download that fails (offline) says so in one sentence, without its URL."""
        try:
            return self.stylizer(settings)
        except WeightsError:
            from tf_nst.engine.backbones import pending_download  # TensorFlow is there by now

            if not (isinstance(settings.backbone, str) and pending_download(settings.backbone, settings.weights)):
                raise
            logging.getLogger(__name__).exception("studio: the %s weights did not download", settings.backbone)
            raise DownloadError(f"the {settings.backbone} weights could not be downloaded (is this machine "
                                f"offline?): choose a Network marked 'ready'") from None

    def _work(self, job, stop, emit):
        try:
            stylizer = self._built(job.settings)
            started = time.perf_counter()
            first = {}  # the first chunk: it traces the model, so the pace starts after it

            def render(event):
                image = event.best_image() if event.best_image is not None else None
                losses = tuple(float(row[0]) for row in (event.rows if event.rows is not None else ()))
                seconds = time.perf_counter() - started
                first.setdefault("done", event.done)
                first.setdefault("seconds", seconds)
                emit(Update(done=event.done, total=event.total, image=image, losses=losses, seconds=seconds,
                            first_done=first["done"], first_seconds=first["seconds"]))

            keywords, masks = region_keywords(job.mask_paths)
            result = stylizer.stylize(job.content, job.styles, callback=step_callback(render), should_stop=stop,
                                      chunk_steps=PREVIEW_EVERY, init=job.init, **keywords)
            config = stylizer.get_config()
            if job.init is not None:
                config["init"] = job.init_kind or "array"  # the start it was: `stylize --from` makes it again
            save_png(job.output, result.image, alpha=result.alpha, settings=config,
                     inputs=[job.content] + list(job.styles), masks=masks,
                     init=None if job.init is None else init_record(job.init_kind or "array", job.init))
            emit(Update(done=result.steps, total=stylizer.schedule.total_steps, image=result.image,
                        seconds=result.seconds, final=True, output=job.output, status=result.status.value,
                        notes=tuple(result.notes)))
        except NSTError as error:
            emit(Update(final=True, error=str(error)))
        except Exception as error:  # the server goes on: the page says what happened
            logging.getLogger(__name__).exception("studio run failed")
            emit(Update(final=True, error=f"the run failed ({type(error).__name__}: {error})"))
