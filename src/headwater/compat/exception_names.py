"""Metaflow's exception names, as aliases of headwater's, so ``except MetaflowNotFound`` works."""

from __future__ import annotations

from headwater.exceptions import (
    HeadwaterException,
    MergeArtifactsError,
    NamespaceMismatchError,
    NotFoundError,
)

MetaflowException = HeadwaterException
MetaflowNotFound = NotFoundError
MetaflowNamespaceMismatch = NamespaceMismatchError
MetaflowInternalError = HeadwaterException
UnhandledInMergeArtifactsException = MergeArtifactsError
MissingInMergeArtifactsException = MergeArtifactsError


class ExternalCommandFailed(HeadwaterException):
    """An external command a step ran failed (a name flows raise and catch)."""

    headline = "External command failed"


# Named where flows import it from, so a caught one reads as Metaflow's would (@catch's ``type``).
ExternalCommandFailed.__module__ = "metaflow.exception"


__all__ = [
    "ExternalCommandFailed", "MetaflowException", "MetaflowInternalError",
    "MetaflowNamespaceMismatch", "MetaflowNotFound", "MissingInMergeArtifactsException",
    "UnhandledInMergeArtifactsException",
]
