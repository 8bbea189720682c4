"""The command line: `python cli.py` / `tf-nst` (click commands built from the settings schema)."""

from tf_nst.cli.commands import main

__all__ = ["main"]
