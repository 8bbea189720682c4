"""Input expansion: files, folders and globs -> image paths, local or on any Beam filesystem.

One expansion for every driver: the local batch, the Beam and Spark batches and the CLI
(`tf_nst.io.filesystems` reaches `gs://` and `s3://` through Apache Beam, imported only then).

Example:
```python
from tf_nst.io.inputs import expand_inputs

expand_inputs(["photos/", "extra/*.jpg", "one.png"], "content")   # sorted within a folder or glob
```
"""

import os

from tf_nst.errors import InvalidArgumentError
from tf_nst.io import filesystems

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")  # bundled samples
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
GLOB_CHARACTERS = "*?["


def is_image_name(path):
    """True for the image extensions a folder or glob contributes (case-insensitive)."""
    return os.fspath(path).lower().endswith(IMAGE_EXTENSIONS)


def is_glob(spec):
    return any(character in os.fspath(spec) for character in GLOB_CHARACTERS)


def stem(path):
    """A file name without folder and extension (works for `gs://` and `s3://` paths too)."""
    return os.path.splitext(filesystems.basename(path))[0]


def _folder_images(spec):
    """A folder's own image files (not recursive, hidden files skipped), sorted."""
    if filesystems.is_local(spec):
        folder = filesystems.local_path(spec)
        names = [entry for entry in os.listdir(folder) if os.path.isfile(os.path.join(folder, entry))]
        found = [os.path.join(os.fspath(spec), entry) for entry in names]
    else:
        folder = os.fspath(spec).rstrip("/")
        # A remote "prefix/*" also matches inside sub-prefixes: keep the folder's own files.
        found = [path for path in filesystems.match(folder + "/*") if filesystems.parent(path) == folder]
    return sorted(path for path in found if is_image_name(path) and not filesystems.basename(path).startswith("."))


def _expand_one(spec, name):
    if filesystems.is_folder(spec):
        return _folder_images(spec), f"folder {spec} has no image files ({', '.join(IMAGE_EXTENSIONS)})"
    if is_glob(spec) and not filesystems.exists(spec):
        return [path for path in filesystems.match(spec) if is_image_name(path)], f"glob {spec} matches no image files"
    if filesystems.exists(spec):
        return [spec], ""
    if not filesystems.is_local(spec) and not is_glob(spec):  # a remote prefix written without its "/"
        found = _folder_images(spec + "/")
        if found:
            return found, ""
    raise InvalidArgumentError(
        f"expected an existing file, folder or glob. Received: {name}={spec!r} (no such file)")


def expand_inputs(specs, name="inputs"):
    """Files, folders and globs -> image paths (argument order; sorted within a folder or glob).

    A folder (local, or a remote prefix ending in `/`) contributes its image files (not
    recursive; hidden files skipped); a glob (`*`, `?`, `[`; `**` recurses) its matching image
    files; a file is taken as it is, whatever its extension (if it is not an image, its pairs fail
    and are recorded). Duplicates are dropped.

    Raises:
        InvalidArgumentError: a spec matches nothing.
    """
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    paths = []
    for spec in map(os.fspath, specs):
        found, where = _expand_one(spec, name)
        if not found:
            raise InvalidArgumentError(f"expected {name} to contain images. Received: {where}")
        paths.extend(found)
    return list(dict.fromkeys(paths))
