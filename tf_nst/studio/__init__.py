"""The studio: a local web page to paint where each style goes, watch a run paint, keep the results.

A front end beside `tf_nst.cli` (which starts it: `python cli.py studio`), built with Gradio
(`pip install -r requirements-studio.txt`); it imports the public pieces of the layers below and
nothing imports it but the CLI.

- `form`: the settings form generated from `tf_nst.settings`.
- `files`: the temporary folder, upload caps, painted masks as grey PNGs, replayed inputs found again.
- `runner`: a run in a worker thread, its progress events as page updates, Stop.
- `actions`: what the buttons do; `page`: the Gradio Blocks.

Example:
```python
from tf_nst.studio import launch

launch(host="127.0.0.1", port=7860)   # blocks; the page is at http://127.0.0.1:7860
```
"""

import atexit
import os
import signal

from tf_nst.io.inputs import ASSETS
from tf_nst.settings import DEFAULT_MAX_INPUT_PIXELS
from tf_nst.studio.files import DEFAULT_MAX_UPLOAD_BYTES, StudioFiles
from tf_nst.studio.runner import Runner

__all__ = ["launch", "StudioFiles", "Runner"]


def launch(host="127.0.0.1", port=7860, max_input_pixels=DEFAULT_MAX_INPUT_PIXELS,
           max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES, root=None, instant=None, block=True):
    """Serve the studio on `host:port`; when it stops (Ctrl-C, SIGTERM, exit), its temporary folder goes.

    Args:
        host: the address to listen on; 127.0.0.1 keeps the page on this machine.
        max_input_pixels, max_upload_bytes: caps of every uploaded image (pixels by its header).
        root: the temporary folder (default: a new one); the server serves only it and the bundled samples.
        instant: an optional instant preview (see `tf_nst.studio.page.build_page`), e.g.
            `tf_nst.studio.instant.arbitrary_instant`.
        block: wait until the server stops (False: return the running `gr.Blocks`).
    """
    files = StudioFiles(root, max_upload_bytes=max_upload_bytes, max_input_pixels=max_input_pixels)
    atexit.register(files.remove_all)
    # Before Gradio is imported: its uploads go to this folder, and it phones nobody.
    os.environ["GRADIO_TEMP_DIR"] = files.root
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import gradio as gr

    from tf_nst.studio.form import backbone_choices
    from tf_nst.studio.page import PAGE_CSS, PAGE_JS, build_page

    page = build_page(files, Runner(), instant=instant, backbones=backbone_choices())
    page.queue(default_concurrency_limit=1)
    # System fonts: the default theme would fetch its fonts from the network.
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    if block:  # SIGTERM stops the server as Ctrl-C does, so the folder is removed either way
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        page.launch(server_name=host, server_port=port, max_file_size=max_upload_bytes, allowed_paths=[ASSETS],
                    theme=theme, css=PAGE_CSS, js=PAGE_JS, prevent_thread_lock=not block, show_error=False, quiet=False,
                    ssr_mode=False)
    finally:
        if block:
            files.remove_all()
    return page


def _interrupt(signum, frame):
    raise KeyboardInterrupt
