"""Terminal feedback: TensorFlow's start-up logs muted, library errors as one `Error:` line,
Ctrl-C / SIGTERM as a clean stop, progress bars, notes and the final summary line."""

import contextlib
import json
import os
import signal
import sys
import threading

import click

from tf_nst.errors import InvalidArgumentError, NSTError
from tf_nst.runs.contract import StepProgress, StopRequest


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up log lines (oneDNN, CUDA probes) discarded.

    They would bury the progress bar and `Error:` lines; absl prints them before
    TF_CPP_MIN_LOG_LEVEL is honoured, so stderr is muted at the file-descriptor level.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow as tf

        if not os.environ.get("TF_CONFIG"):  # a cluster's collective ops are set up before the first op
            tf.constant(0)  # device initialisation logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def library_errors(tensorflow=True):
    """Turn library errors into one `Error: ...` line (usage errors exit 2); import TensorFlow first.

    `tensorflow=False` leaves the import to the block (`import_tensorflow_quietly()` where it is
    needed): the checks before it (paths, outputs, model names) then answer at once, not after
    the seconds TensorFlow's import takes.
    """
    if tensorflow:
        import_tensorflow_quietly()
    try:
        yield
    except InvalidArgumentError as error:
        raise click.UsageError(str(error))
    except NSTError as error:
        raise click.ClickException(str(error))


def tiling_text(plans):
    """`untiled`, or per tiled scale `1024x768: tiles of 512 px`."""
    tiled = [f"{plan['size'][0]}x{plan['size'][1]}: tiles of {plan['tile_size']} px"
             for plan in plans if plan["tile_size"]]
    return "; ".join(tiled) if tiled else "untiled"


class SignalStop(StopRequest):
    """A `StopRequest` set by Ctrl-C (SIGINT) and SIGTERM during the optimization.

    The run then returns the best image so far, which is written (exit 130). A signal is
    only turned into the request: an exception raised at an arbitrary point inside
    TensorFlow's Python code could be lost. Before the optimization starts, or on a second
    signal, it raises KeyboardInterrupt at once.
    """

    def __init__(self):
        super().__init__()
        self.optimizing = False

    def on_signal(self, signum, frame):
        if self.optimizing and not self.is_set():
            self.set()
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def during_optimization(self):
        """Signals inside this block request a clean stop instead of interrupting."""
        self.optimizing = True
        try:
            yield self
        finally:
            self.optimizing = False


@contextlib.contextmanager
def stop_signals():
    """Install a `SignalStop` for SIGINT and SIGTERM; an interrupt before the first step exits 130."""
    stop = SignalStop()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, stop.on_signal)
    try:
        yield stop
    except KeyboardInterrupt:
        click.echo("Error: interrupted before the first step; nothing written", err=True)
        sys.exit(130)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def announce_download(backbone, weights):
    """Say so before Keras fetches ImageNet weights (it would otherwise print to stdout)."""
    from tf_nst.engine.backbones import pending_download

    url = pending_download(backbone, weights)
    if url:
        click.echo(f"Note: downloading the {backbone} ImageNet weights (once) from {url}", err=True)


class ProgressBar:
    """A tqdm bar that renders any progress event of the run contract (`tf_nst.runs.contract`).

    Steps and frames show their newest losses, pairs their outcome counts; `quiet` hides it.
    """

    def __init__(self, total, unit, quiet=False, postfix_losses=None):
        from tqdm import tqdm

        self.bar = None if quiet else tqdm(total=total, unit=unit, dynamic_ncols=True, file=sys.stderr)
        self.postfix_losses = postfix_losses

    def __call__(self, event):
        if self.bar is None:
            return
        self.bar.update(event.done - self.bar.n)
        postfix = {}
        if event.unit == "frame":
            postfix["s/frame"] = f"{event.seconds:.1f}"
        if event.unit == "pair":
            postfix = {status: count for status, count in event.counts.items() if count}
        losses = list(event.losses.items())[:self.postfix_losses]
        postfix.update({name: f"{value:.3g}" for name, value in losses})
        self.bar.set_postfix(postfix, refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class ProgressReporter:
    """One run's feedback: the progress bar, snapshots every N steps (with provenance), TensorBoard.

    It is the run's `Stylizer.stylize` callback: each engine chunk becomes a `StepProgress`.
    """

    def __init__(self, total, quiet, output, save_every, settings, inputs, tensorboard=None, loss_names=()):
        self.bar = ProgressBar(total, "step", quiet)
        self.output, self.save_every = output, save_every
        self.settings, self.inputs = settings, inputs
        self.loss_names = tuple(loss_names)
        self.logger = None
        if tensorboard:
            from tf_nst.runs.tensorboard import TensorBoardLogger

            run = os.path.splitext(os.path.basename(output))[0]
            self.logger = TensorBoardLogger(os.path.join(tensorboard, run), loss_names)

    def __call__(self, progress):
        event = StepProgress.from_engine(progress, self.loss_names)
        self.bar(event)
        if self.logger is not None:
            self.logger(event)
        if self.save_every and event.done % self.save_every == 0:
            from tf_nst.io.images import save_png

            image = event.best_image()
            root, _ = os.path.splitext(self.output)
            save_png(f"{root}-{event.done:06d}.png", image, settings=self.settings, inputs=self.inputs)
            if self.logger is not None:
                self.logger.log_image(event.done, image)

    def finish(self, result):
        if self.logger is not None:
            self.logger.log_image(result.steps, result.image)

    def close(self):
        self.bar.close()
        if self.logger is not None:
            self.logger.close()


def write_json(path, data):
    from tf_nst.io.atomic import atomic_output

    with atomic_output(path, mode="w") as stream:
        json.dump(data, stream, indent=1)
