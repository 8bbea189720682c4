"""The project's exception types.

Every error a user can cause derives from `NSTError`, so the CLI (and any
caller) can turn them into one readable line. Messages follow the form
"expected X. Received: name=value".
"""


class NSTError(Exception):
    """Base class for errors caused by input or environment, not by a bug."""


class InvalidArgumentError(NSTError, ValueError):
    """A parameter value is out of range or inconsistent with the others."""


class ImageError(NSTError):
    """An image file is missing, unreadable or not an image."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class WeightsError(NSTError):
    """Backbone weights are unavailable, corrupt, or of the wrong architecture."""


class OutputError(NSTError):
    """The output cannot be written where the user asked."""


class ServingError(NSTError):
    """A SavedModel or model server cannot be used: not loadable, unreachable, unknown model, deadline."""


class ModelError(NSTError):
    """A trained feed-forward model folder is missing, unreadable or not a tf-nst model."""


class ClusterError(NSTError):
    """A worker of a training cluster (`TF_CONFIG`) cannot be reached, or was lost during the run."""


class TrainingDivergedError(NSTError):
    """A training's loss became NaN or infinite; its folder keeps the last finite checkpoint."""


def require_optional(module, install_line):
    """Import an optional dependency, or raise `ImportError` with the install line first."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:  # pragma: no cover - depends on the optional install
        raise ImportError(f"{install_line} ({error})") from error
