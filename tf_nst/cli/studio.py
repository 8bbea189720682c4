"""`studio`: the local web page (tf_nst/studio), started from the command line."""

import importlib.util

import click

from tf_nst.cli.options import input_options
from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import parse_size
from tf_nst.studio.files import DEFAULT_MAX_UPLOAD_BYTES


def _byte_size(value):
    try:
        return parse_size(value, "max_upload_size")
    except InvalidArgumentError as error:
        raise click.BadParameter(str(error), param_hint="'--max-upload-size'")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. 127.0.0.1 keeps the page on this machine; 0.0.0.0 lets anyone who "
                   "reaches this machine run optimizations on it.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Port to listen on.")
@click.option("--max-upload-size", default=f"{DEFAULT_MAX_UPLOAD_BYTES // 10**6}MB", show_default=True, metavar="SIZE",
              help="Refuse uploaded files larger than this (e.g. 25MB).")
@input_options
def studio(host, port, max_upload_size, max_input_pixels):
    """Open the studio: paint where each style goes, watch it paint, keep the results.

    Needs Gradio: pip install -r requirements-studio.txt. Then open http://HOST:PORT in a browser.
    """
    max_upload_bytes = _byte_size(max_upload_size)
    if importlib.util.find_spec("gradio") is None:
        raise click.ClickException("the studio needs Gradio: pip install -r requirements-studio.txt")
    from tf_nst.studio import launch
    from tf_nst.studio.instant import arbitrary_instant

    click.echo(f"tf-nst studio on http://{host}:{port} (Ctrl-C stops it)", err=True)
    launch(host=host, port=port, max_input_pixels=max_input_pixels, max_upload_bytes=max_upload_bytes,
           instant=arbitrary_instant)
