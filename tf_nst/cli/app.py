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

import click

from tf_nst.cli.batch import batch
from tf_nst.cli.realtime import models, train
from tf_nst.cli.serving import export, request
from tf_nst.cli.studio import studio
from tf_nst.cli.stylize import info, stylize
from tf_nst.cli.video import video


@click.group()
def cli():
    """Neural style transfer in TensorFlow/Keras."""


for command in (stylize, info, export, request, batch, video, studio, train, models):
    cli.add_command(command)


def main():
    cli()
