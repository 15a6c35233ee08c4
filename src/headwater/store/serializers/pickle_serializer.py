"""Pickle as an :class:`ArtifactSerializer`: the fallback that claims every value.

Its ``serialize``/``deserialize`` are Metaflow's format (one protocol-4 pickle, ``"pickle-v4"``),
for code that calls them directly. The datastore does not: when dispatch lands on this class it
stores the value in headwater's own pickle-5 blob format instead (out-of-band buffers, zero-copy
loads, small values inline; see :mod:`headwater.store.serialize`), exactly as with no custom
serializer at all.
"""

from __future__ import annotations

import pickle
from typing import Any

from headwater.exceptions import SerializationError
from headwater.store.serializers.base import (
    ArtifactSerializer,
    SerializationFormat,
    SerializationMetadata,
    SerializedBlob,
)


class PickleSerializer(ArtifactSerializer):
    """Claims any value; ``PRIORITY`` 9999 so every other serializer is asked first. No WIRE
    format: a pickle is opaque bytes, not a string to pass on a command line."""

    TYPE = "pickle"
    PRIORITY = 9999

    _ENCODINGS = frozenset({"pickle-v2", "pickle-v4", "gzip+pickle-v2", "gzip+pickle-v4"})

    @classmethod
    def can_serialize(cls, obj: Any) -> bool:
        return True

    @classmethod
    def can_deserialize(cls, metadata: SerializationMetadata) -> bool:
        return metadata.encoding in cls._ENCODINGS

    @classmethod
    def serialize(cls, obj: Any, format: SerializationFormat = SerializationFormat.STORAGE
                  ) -> tuple[list[SerializedBlob], SerializationMetadata]:
        if format == SerializationFormat.WIRE:
            raise NotImplementedError("PickleSerializer has no WIRE format: a pickle is binary, "
                                      "choose a serializer that writes text for that")
        try:
            data = pickle.dumps(obj, protocol=4)
        except Exception as exc:  # TypeError, PicklingError, AttributeError...
            raise SerializationError(
                f"a {type(obj).__module__}.{type(obj).__qualname__} cannot be pickled ({exc})"
            ) from exc
        meta = SerializationMetadata(str(type(obj)), len(data), "pickle-v4", {})
        return [SerializedBlob(data, is_reference=False)], meta

    @classmethod
    def deserialize(cls, data: list[bytes] | str, metadata: SerializationMetadata | None = None,
                    format: SerializationFormat = SerializationFormat.STORAGE) -> Any:
        if format == SerializationFormat.WIRE:
            raise NotImplementedError("PickleSerializer has no WIRE format")
        return pickle.loads(data[0])


__all__ = ["PickleSerializer"]
