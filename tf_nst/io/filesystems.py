"""Reading and writing paths on any filesystem: local ones directly, others through Apache Beam.

A path with a scheme other than `file` (`gs://bucket/x.png`, `s3://...`) goes through Beam's
`FileSystems`, imported only then, so local runs need neither Beam nor its start-up time.
Used by the input expansion (`tf_nst.io.inputs`), the export's versions and info
(`tf_nst.serving.export_files`) and the Beam driver (`tf_nst.runs.beam`).
"""

import glob
import os
import re

from tf_nst.errors import InvalidArgumentError

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def scheme(path):
    """`"gs"` for `gs://bucket/x`, None for a local path (`file://` counts as local)."""
    match = _SCHEME.match(os.fspath(path))
    return None if match is None or match.group(1).lower() == "file" else match.group(1).lower()


def is_local(path):
    return scheme(path) is None


def beam_filesystems():
    """Beam's `FileSystems` (the optional install), for paths with a scheme."""
    try:
        from apache_beam.io.filesystems import FileSystems
    except ImportError as error:
        raise InvalidArgumentError(
            f"expected a local path, or Apache Beam installed for remote ones (pip install -r "
            f"requirements-beam.txt). Received: {error}") from None
    return FileSystems


def local_path(path):
    """A local path without its `file://` prefix."""
    path = os.fspath(path)
    return path[len("file://"):] if path.lower().startswith("file://") else path


def join(base, *parts):
    if is_local(base):
        return os.path.join(local_path(base), *parts)
    return "/".join([os.fspath(base).rstrip("/"), *parts])


def basename(path):
    path = os.fspath(path).rstrip("/")
    return os.path.basename(path) if is_local(path) else path.rsplit("/", 1)[-1]


def parent(path):
    path = os.fspath(path).rstrip("/")
    return os.path.dirname(path) if is_local(path) else path.rsplit("/", 1)[0]


def exists(path):
    return os.path.exists(local_path(path)) if is_local(path) else beam_filesystems().exists(os.fspath(path))


def is_folder(path):
    """A local folder, or a remote prefix written with a trailing `/`."""
    return os.path.isdir(local_path(path)) if is_local(path) else os.fspath(path).endswith("/")


def match(pattern):
    """Sorted files matching a glob (`**` recurses), on any filesystem."""
    if is_local(pattern):
        return sorted(path for path in glob.glob(local_path(pattern), recursive=True) if os.path.isfile(path))
    return sorted(metadata.path for metadata in beam_filesystems().match([pattern])[0].metadata_list)


def read_bytes(path):
    """A file's bytes; `OSError` when it cannot be read."""
    if is_local(path):
        with open(local_path(path), "rb") as stream:
            return stream.read()
    with beam_filesystems().open(os.fspath(path)) as stream:
        return stream.read()
