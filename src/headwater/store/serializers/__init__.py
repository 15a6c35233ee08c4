"""Pluggable artifact serializers: a class per type that pickle should not handle.

Importing this package declares headwater's own serializer (pickle, the fallback) and those
that installed packages declare in the entry point group ``headwater.serializers``. See
:mod:`headwater.store.serializers.base` for the contract and docs/artifacts.md for an example.
Served to flows as ``metaflow.datastore.artifacts``.
"""

from headwater.store.serializers.base import (
    ArtifactSerializer,
    SerializationFormat,
    SerializationMetadata,
    SerializedBlob,
    SerializerStore,
)
from headwater.store.serializers.dispatch import pool_changed as _pool_changed
from headwater.store.serializers.lifecycle import bootstrap as _bootstrap
from headwater.store.serializers.registry import LISTENERS as _LISTENERS
from headwater.store.serializers.status import SerializerState, list_serializer_status

__all__ = [
    "ArtifactSerializer", "SerializationFormat", "SerializationMetadata", "SerializedBlob",
    "SerializerState", "SerializerStore", "list_serializer_status",
]

_LISTENERS.append(_pool_changed)
_bootstrap()
