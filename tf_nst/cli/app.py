"""The `tf-nst` command group (`python cli.py`): one module per command group, gathered here.

    python cli.py stylize [CONTENT] [STYLE...] -o OUT.png
    python cli.py info OUT.png
    python cli.py export --output models/tf_nst
    python cli.py stylize --saved-model models/tf_nst/1 CONTENT STYLE -o OUT.png
    python cli.py request --server HOST:8500 CONTENT STYLE -o OUT.png
    python cli.py batch CONTENT... -s STYLE... -o OUTDIR
    python cli.py video CLIP.mp4 STYLE -o OUT.mp4
    python cli.py studio [--host 127.0.0.1] [--port 7860]
    python cli.py train STYLE... --photos DIR -o MODEL_DIR
    python cli.py stylize PHOTO --model starry_night -o OUT.png
"""

import contextlib

import click

from tf_nst.cli.batch import batch
from tf_nst.cli.realtime import average, models, train
from tf_nst.cli.serving import export, request
from tf_nst.cli.studio import studio
from tf_nst.cli.stylize import info, stylize
from tf_nst.cli.video import video


@contextlib.contextmanager
def one_line_usage_errors():
    """A usage error (click's own, or a command's) as one `Error: ...` line, exit 2: no usage block."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # `cli.py` alone: the help is the answer
    except click.UsageError as error:
        line = click.ClickException(error.format_message())
        line.exit_code = error.exit_code
        raise line from error


class OneLineErrorGroup(click.Group):
    """The command group; its own parsing and every command's go through `one_line_usage_errors`."""

    def make_context(self, info_name, args, parent=None, **extra):
        with one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        with one_line_usage_errors():
            return super().invoke(ctx)


@click.group(cls=OneLineErrorGroup)
def cli():
    """Neural style transfer in TensorFlow/Keras."""


for command in (stylize, info, export, request, batch, video, studio, train, average, models):
    cli.add_command(command)


def main():
    cli()
