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
