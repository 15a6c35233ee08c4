"""Metaflow's exception names, as aliases of headwater's, so ``except MetaflowNotFound`` works."""

from __future__ import annotations

from typing import Any

from headwater.client.core import TaggingError
from headwater.exceptions import (
    ConflictingArtifactsError,
    HeadwaterException,
    MissingArtifactsToMergeError,
    NamespaceMismatchError,
    NotFoundError,
)

MetaflowException = HeadwaterException
MetaflowNotFound = NotFoundError
MetaflowNamespaceMismatch = NamespaceMismatchError
MetaflowInternalError = HeadwaterException
MetaflowTaggingError = TaggingError
UnhandledInMergeArtifactsException = ConflictingArtifactsError
MissingInMergeArtifactsException = MissingArtifactsToMergeError


class ExternalCommandFailed(HeadwaterException):
    """An external command a step ran failed (a name flows raise and catch)."""

    headline = "External command failed"


# Named where flows import it from, so a caught one reads as Metaflow's would (@catch's ``type``).
ExternalCommandFailed.__module__ = "metaflow.exception"


__all__ = [
    "ExternalCommandFailed", "MetaflowException", "MetaflowInternalError",
    "MetaflowNamespaceMismatch", "MetaflowNotFound", "MetaflowTaggingError",
    "MissingInMergeArtifactsException",
    "UnhandledInMergeArtifactsException",
]


def __getattr__(name: str) -> Any:
    """Exceptions ``metaflow_extensions`` packages add (``from metaflow.exception import
    MyOrgError``), looked up only for a name not defined here."""
    if name.startswith("__"):
        raise AttributeError(name)
    from headwater.compat.extension_points import exception

    try:
        return exception(name)
    except AttributeError:
        raise AttributeError(f"module 'metaflow.exception' has no attribute {name!r}") from None
