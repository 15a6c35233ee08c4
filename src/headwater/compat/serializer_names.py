"""``metaflow.datastore.artifacts.serializer``: the serializer contract under Metaflow's module
path, with the one private helper Metaflow's tests import from there."""

from __future__ import annotations

from headwater.store.serializers.base import (
    ArtifactSerializer,
    SerializationFormat,
    SerializationMetadata,
    SerializedBlob,
    SerializerStore,
    call_setup_imports,
)

_call_setup_imports = call_setup_imports

__all__ = [
    "ArtifactSerializer", "SerializationFormat", "SerializationMetadata", "SerializedBlob",
    "SerializerStore", "_call_setup_imports",
]
