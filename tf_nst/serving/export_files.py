"""Where an export lives: a new version folder, its latest version folder, its info file and its signature defaults.

Local paths are read directly, others (`gs://`, `s3://`) through Beam's filesystems
(`tf_nst.io.filesystems`), so TF Serving's layout `<base>/<integer version>/saved_model.pb` is
resolved the same way by the in-process client, the CLI and the Beam driver.
TensorFlow is imported only by `read_signature_defaults`.
"""

import glob
import json
import os

from tf_nst.errors import InvalidArgumentError, OutputError, ServingError
from tf_nst.io import filesystems
from tf_nst.serving.contract import EXPORT_INFO_FILE, SERVING_DEFAULT

SAVED_MODEL_FILE = "saved_model.pb"


def next_version(base_path):
    """The next free integer version folder under `base_path` (1 if none)."""
    versions = [int(name) for name in os.listdir(base_path) if name.isdigit()] if os.path.isdir(base_path) else []
    return max(versions, default=0) + 1


def version_path(output, version=None):
    """The folder of a new export, `<output>/<version>` (the next free version by default); creates `output`.

    Raises:
        OutputError: `output` is a file, or the version folder exists.
        InvalidArgumentError: `version` is not an integer >= 1.
    """
    output = os.fspath(output)
    if os.path.exists(output) and not os.path.isdir(output):
        raise OutputError(f"{output}: exists and is not a directory, expected a model base folder")
    os.makedirs(output, exist_ok=True)
    if version is None:
        version = next_version(output)
    if not (isinstance(version, int) and version >= 1):
        raise InvalidArgumentError(f"expected version an integer >= 1. Received: version={version!r}")
    final_path = os.path.join(output, str(version))
    if os.path.exists(final_path):
        raise OutputError(f"{final_path}: version {version} already exists (omit --version for the next free one)")
    return final_path


def resolve_version(path):
    """A version folder as is; a base folder -> its highest integer version (as TF Serving picks).

    Raises:
        ServingError: neither a SavedModel folder nor a base folder of integer versions.
    """
    path = os.fspath(path).rstrip("/") or "/"
    if filesystems.exists(filesystems.join(path, SAVED_MODEL_FILE)):
        return path
    versions = []
    base = glob.escape(path) if filesystems.is_local(path) else path  # "[" in a folder name is not a pattern
    for found in filesystems.match(filesystems.join(base, "*", SAVED_MODEL_FILE)):
        version = filesystems.basename(filesystems.parent(found))
        if version.isdigit():
            versions.append(int(version))
    if not versions:
        raise ServingError(f"expected a SavedModel folder (with saved_model.pb) or a base folder of integer "
                           f"versions. Received: {path}")
    return filesystems.join(path, str(max(versions)))


def read_export_info(version_path, required=True):
    """The export's `assets.extra/tf_nst_export.json` (settings, caps, signature defaults, loss names).

    `required=False` returns `{}` for an export without it (written by other tools).

    Raises:
        ServingError: the file is missing (when required) or not JSON.
    """
    info_path = filesystems.join(version_path, *EXPORT_INFO_FILE.split("/"))
    try:
        return json.loads(filesystems.read_bytes(info_path))
    except (OSError, ValueError) as error:
        if not required and not filesystems.exists(info_path):
            return {}
        raise ServingError(f"{version_path}: expected a tf-nst export with {EXPORT_INFO_FILE} "
                           f"(python cli.py export). Received: {error}") from None


def read_signature_defaults(path, signature=SERVING_DEFAULT):
    """`{control: numpy value}` from a local SavedModel's `SignatureDef.defaults`."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(filesystems.read_bytes(filesystems.join(path, SAVED_MODEL_FILE)))
    signature_def = saved_model.meta_graphs[0].signature_def[signature]
    return {name: tf.make_ndarray(proto) for name, proto in signature_def.defaults.items()}
