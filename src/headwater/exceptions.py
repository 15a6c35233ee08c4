"""Every error a user can cause, under one base class.

::

    HeadwaterException                  base; ``headwater_error`` marks "no traceback needed"
    ├── GraphError                      the flow's graph is malformed (names step and file:line)
    ├── FlowDefinitionError             a flow class misuses the API (bad Parameter, bad decorator, ...)
    ├── ParameterError                  a parameter value given on launch is wrong or missing
    ├── ConfigError                     a Config file or value is missing, unreadable or invalid
    ├── SettingError                    a HEADWATER_* environment setting holds no valid value
    ├── TransitionError                 self.next() called wrongly while a step runs
    ├── ReservedAttributeError          a step assigned a framework attribute (self.next = 1)
    ├── MergeArtifactsError             merge_artifacts() found conflicts or was misused
    ├── ArtifactError                   an artifact could not be saved or loaded
    │   ├── SerializationError          ... because it cannot be pickled / unpickled
    │   └── DataIntegrityError          ... because the stored bytes do not match their hash
    ├── StoreError                      the storage backend refused an operation
    ├── MetadataError                   the metadata database is unreachable, locked, full or damaged
    ├── NotFoundError                   a flow, run, step, task or artifact does not exist
    │   ├── NamespaceMismatchError      it exists, but not in the current namespace
    │   └── CardNotPresentException     the task has no card (of that id / type)
    ├── StepEnvironmentError            a step's @pypi/@conda environment cannot be resolved or built
    ├── CodePackageError                a worker or a deployed task cannot import the flow it was sent
    ├── TimeoutException                a step ran past its @timeout (raised inside the step)
    ├── RunInUseError                   a run cannot be deleted: it is live, or a live run resumes it
    ├── TaskFailedError                 a task failed (raised in the scheduler, names the pathspec)
    └── RunFailedError                  a run ended unsuccessfully

The Metaflow names users catch (``MetaflowException``, ``MetaflowNotFound``, ...) are aliases
exported by :mod:`headwater.compat`.
"""

from __future__ import annotations

from collections.abc import Iterable


class HeadwaterException(Exception):
    """Base class of every error headwater raises on purpose.

    The CLI prints these as a one-paragraph message without a traceback: they describe a mistake
    in the user's flow, input or environment, not a bug in headwater.
    """

    headline = "Headwater error"
    exit_code = 1  # what a command that fails with this error exits with

    def __init__(self, msg: str = "", *, fix: str | None = None) -> None:
        self.msg = msg
        self.fix = fix
        super().__init__(msg if fix is None else f"{msg}\n  fix: {fix}")


class GraphError(HeadwaterException):
    """The flow's graph is malformed. Carries the step and the source location."""

    headline = "Invalid flow graph"

    def __init__(
        self,
        msg: str,
        *,
        step: str | None = None,
        file: str | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.step = step
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else ""
        super().__init__(f"{where}{msg}", fix=fix)


class FlowDefinitionError(HeadwaterException):
    headline = "Invalid flow definition"


class ParameterError(HeadwaterException):
    headline = "Invalid parameter"
    exit_code = 2  # a bad or missing parameter value is a usage error, as click (Metaflow) exits


class TransitionError(HeadwaterException):
    headline = "Invalid transition"


class ReservedAttributeError(HeadwaterException, AttributeError, TypeError):
    """Also an AttributeError and a TypeError: what Metaflow raises for a parameter or constant
    assigned in a step (AttributeError) and for a config changed in place (TypeError), so the
    ``except`` clauses written for Metaflow catch it."""

    headline = "Reserved attribute"


class MergeArtifactsError(HeadwaterException):
    headline = "Cannot merge artifacts"


class ConflictingArtifactsError(MergeArtifactsError):
    """The join's inputs disagree on artifacts it did not set itself (Metaflow's
    ``UnhandledInMergeArtifactsException``); ``artifact_names`` lists them."""

    def __init__(self, msg: str = "", *, artifact_names: Iterable[str] = (),
                 fix: str | None = None) -> None:
        super().__init__(msg, fix=fix)
        self.artifact_names = list(artifact_names)


class MissingArtifactsToMergeError(MergeArtifactsError):
    """``merge_artifacts(include=...)`` names artifacts no input has (Metaflow's
    ``MissingInMergeArtifactsException``); ``artifact_names`` lists them."""

    def __init__(self, msg: str = "", *, artifact_names: Iterable[str] = (),
                 fix: str | None = None) -> None:
        super().__init__(msg, fix=fix)
        self.artifact_names = list(artifact_names)


class ArtifactError(HeadwaterException):
    headline = "Artifact error"


class SerializationError(ArtifactError):
    headline = "Artifact cannot be serialized"


class DataIntegrityError(ArtifactError):
    headline = "Stored data is corrupt"


class StoreError(HeadwaterException):
    headline = "Storage error"


class MetadataError(HeadwaterException):
    """The metadata database failed under us: names the database, the cause and the fix."""

    headline = "Metadata error"


class NotFoundError(HeadwaterException):
    headline = "Not found"


class RunInUseError(HeadwaterException):
    """``headwater delete`` of a run still running (or the origin of a live resume)."""

    headline = "Run in use"


class NamespaceMismatchError(NotFoundError):
    headline = "Not in the current namespace"


class StepEnvironmentError(HeadwaterException):
    headline = "Step environment error"


class CodePackageError(HeadwaterException):
    """A Dask worker or a deployed task (Argo, Airflow) cannot import the flow from its code
    package: a module missing there, a syntax error, the flow class not in the package."""

    headline = "Cannot load the flow"


class CardNotPresentException(NotFoundError):
    """The task has no card matching the request (Metaflow's name, kept for ``except``)."""

    headline = "Card not found"


class TimeoutException(HeadwaterException):
    """A step ran past its ``@timeout``: raised inside the step, so ``@catch`` and ``@retry`` see
    it as the step's own failure (Metaflow's name, kept for ``except``)."""

    headline = "@timeout"


class TaskFailedError(HeadwaterException):
    headline = "Task failed"


class RunFailedError(HeadwaterException):
    headline = "Run failed"


class ConfigError(HeadwaterException):
    """A ``Config`` could not be read, parsed or found (names the config and the fix)."""

    headline = "Invalid configuration"


class SettingError(HeadwaterException):
    """An environment setting (``HEADWATER_*``) holds a value it cannot take: names the
    variable, the value and the fix (see :mod:`headwater.env_numbers`)."""

    headline = "Invalid setting"
