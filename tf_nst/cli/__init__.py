"""The command line: `python cli.py` / `tf-nst`, a thin click layer over the library.

- `options`: click options generated from the settings schema, and the shared ones.
- `feedback`: TensorFlow's logs muted, `Error:` lines, clean stops, progress and summaries.
- `stylize`, `serving`, `batch`, `video`: one module per command group; `app`: the group and `main`.
"""

from tf_nst.cli.app import cli, main

__all__ = ["cli", "main"]
