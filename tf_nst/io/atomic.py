"""Atomic outputs: a file or a folder appears whole at its path, or not at all (TensorFlow-free).

Every writer of tf-nst (PNGs, manifests, videos, frame folders, exported models) goes through
these two context managers, so a crash, a full disk or Ctrl-C never leaves a partial output,
and outputs get the permissions of the user's umask (not `mkstemp`'s private 0600 / 0700).
"""

import contextlib
import os
import shutil
import tempfile

from tf_nst.errors import OutputError


def umask():
    """The process's current umask (read without changing it)."""
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_output(path, mode="wb"):
    """Open a temporary file beside `path`; on success it is renamed onto `path`.

    A failed or interrupted write leaves neither a partial `path` nor the
    temporary file. Write errors become `OutputError`.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
        os.chmod(temporary, 0o666 & ~umask())
        with os.fdopen(handle, mode) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        if isinstance(error, OSError):
            # Disk full, directory removed or made read-only during the run, ...
            raise OutputError(f"{path}: cannot write ({error.strerror or error})") from None
        raise


@contextlib.contextmanager
def atomic_directory(path, replace=False):
    """Yield a temporary folder beside `path`; on success it is renamed onto `path`.

    The temporary folder's name starts with `.tmp-` (TF Serving ignores folders whose name is not
    an integer, so a partial export stays invisible). `replace=True` swaps out an existing folder
    at `path`; otherwise an existing `path` is an `OutputError`. Write errors become `OutputError`.
    """
    target = os.fspath(path).rstrip("/" + os.sep)
    parent = os.path.dirname(os.path.abspath(target))
    temporary = None
    try:
        temporary = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
        yield temporary
        os.chmod(temporary, 0o777 & ~umask())
        if os.path.isdir(target) and replace:
            old = tempfile.mkdtemp(prefix=".tmp-old-", dir=parent)
            os.rename(target, os.path.join(old, "replaced"))
            os.rename(temporary, target)
            shutil.rmtree(old, ignore_errors=True)
        elif os.path.exists(target):
            raise OutputError(f"{target}: already exists")
        else:
            os.rename(temporary, target)
    except BaseException as error:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(error, OSError):
            raise OutputError(f"{path}: cannot write ({error.strerror or error})") from None
        raise
