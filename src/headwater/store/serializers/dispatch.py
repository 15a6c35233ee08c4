"""Save and load artifacts through the active serializers: the datastore's side of the registry.

Saving asks the active serializers in order (:meth:`SerializerStore.get_ordered_serializers`)
whether they take the value. When pickle is the first to say yes, :func:`save` returns None
and the datastore stores the value in its own pickle format, as if no serializer were installed.
Otherwise the chosen serializer's one blob is stored as it is, and the artifact's encoding (kept
in the metadata row next to its key) records ``serializer:`` and a JSON document::

    {"serializer": "parquet", "encoding": "parquet-v1", "obj_type": "...", "size": 1234,
     "info": {"source": "mypkg", ...}}

Loading rebuilds the :class:`SerializationMetadata` from that document and hands the bytes to
the first active serializer whose ``can_deserialize`` accepts it. A serializer whose
``can_serialize``/``can_deserialize`` raises is skipped (counted and warned about); errors
raised while serializing or deserializing name the artifact, the task and the serializer.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

from headwater.exceptions import HeadwaterException, SerializationError
from headwater.records import ArtifactRef
from headwater.store.serialize import SERIALIZER_HOOK, SERIALIZER_PREFIX, type_name_of
from headwater.store.serializers.base import (
    SerializationFormat,
    SerializationMetadata,
    SerializerStore,
)
from headwater.store.serializers.registry import ACTIVE

_dumps = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def pool_changed() -> None:
    """Route the datastore's saves through this module unless pickle alone is active (a
    listener of the active pool): another serializer may claim a value, and with pickle
    switched off a value nothing claims must fail rather than be pickled anyway."""
    types = [getattr(cls, "TYPE", None) for cls in ACTIVE]
    SERIALIZER_HOOK.dispatch = None if types == ["pickle"] else sys.modules[__name__]


def _what(name: str, where: str) -> str:
    return f"artifact '{name}' of task {where}"


def record_dispatch_error(serializer: type, exc: Exception) -> None:
    """A serializer's ``can_*`` raised: warn, and count it on its record."""
    label = getattr(serializer, "__name__", repr(serializer))
    warnings.warn(f"artifact serializer {label} raised {type(exc).__name__} while asked whether "
                  f"it takes a value, and was skipped: {exc}", RuntimeWarning, stacklevel=3)
    wanted = getattr(serializer, "TYPE", None)
    for record in SerializerStore._records.values():
        if wanted is not None and record.type == wanted:
            record.dispatch_error_count += 1
            record.last_error = f"dispatch: {type(exc).__name__}: {exc}"
            return


def choose(value: Any) -> type | None:
    """The first active serializer that takes ``value``, or None."""
    for serializer in SerializerStore.get_ordered_serializers():
        try:
            if serializer.can_serialize(value):
                return serializer
        except Exception as exc:  # noqa: BLE001 - a buggy check must not fail the save
            record_dispatch_error(serializer, exc)
    return None


def save(store: Any, value: Any, *, name: str, where: str) -> ArtifactRef | None:
    """Store ``value`` with the serializer that takes it; None when that is pickle."""
    serializer = choose(value)
    what = _what(name, where)
    if serializer is None:
        raise SerializationError(
            f"cannot save {what}: no active artifact serializer takes a {type_name_of(value)}",
            fix="enable the pickle serializer again (remove -pickle from "
                "METAFLOW_ENABLED_ARTIFACT_SERIALIZER) or install a serializer for this type")
    if serializer.TYPE == "pickle":
        return None
    data, meta = _serialize(serializer, value, what)
    info = dict(meta.serializer_info or {})
    if "source" not in info:
        source = SerializerStore.get_source_for(serializer)
        if source:
            info["source"] = source
    try:
        document = _dumps({"serializer": serializer.TYPE, "encoding": meta.encoding,
                           "obj_type": meta.obj_type, "size": meta.size, "info": info})
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"cannot save {what}: serializer {serializer.__name__} returned a serializer_info "
            f"that is not JSON ({exc})",
            fix=f"make {serializer.__name__}.serialize return plain JSON values in "
                "serializer_info") from exc
    return store.save_serialized(data, type_name=type_name_of(value),
                                 encoding=SERIALIZER_PREFIX + document, what=what)


def _serialize(serializer: type, value: Any, what: str) -> tuple[bytes, SerializationMetadata]:
    label = serializer.__name__
    try:
        blobs, meta = serializer.serialize(value, format=SerializationFormat.STORAGE)
    except HeadwaterException as exc:
        if isinstance(exc, SerializationError) and serializer.TYPE == "pickle":
            raise SerializationError(f"cannot save {what}: {exc.msg}", fix=exc.fix) from exc
        raise  # already a message meant for the user
    except Exception as exc:
        raise SerializationError(
            f"cannot save {what}: serializer {label} ({serializer.TYPE}) failed: "
            f"{type(exc).__name__}: {exc}",
            fix=f"fix {label}.serialize, or delete the artifact before the step ends") from exc
    if not blobs:
        raise SerializationError(f"cannot save {what}: serializer {label} returned no blobs",
                                 fix=f"{label}.serialize must return exactly one blob")
    if len(blobs) > 1:
        raise SerializationError(
            f"cannot save {what}: serializer {label} returned {len(blobs)} blobs; only "
            "single-blob serializers are supported",
            fix=f"make {label}.serialize return one SerializedBlob")
    blob = blobs[0]  # duck-typed: a class written against another copy of the API is fine
    if getattr(blob, "is_reference", True) or not isinstance(getattr(blob, "value", None),
                                                             (bytes, bytearray)):
        raise SerializationError(
            f"cannot save {what}: serializer {label} returned {blob!r}, not new bytes",
            fix=f"return [SerializedBlob(data)] with data a bytes object from {label}.serialize")
    return bytes(blob.value), meta


def metadata_of(ref: ArtifactRef) -> tuple[str, SerializationMetadata]:
    """The writing serializer's TYPE and the metadata it recorded, from the ref's encoding."""
    doc = json.loads(ref.encoding[len(SERIALIZER_PREFIX):])
    meta = SerializationMetadata(doc.get("obj_type", ref.type_name), doc.get("size", ref.size),
                                 doc.get("encoding", ""), doc.get("info") or {})
    return doc.get("serializer", "?"), meta


def load(store: Any, ref: ArtifactRef, *, name: str, where: str) -> Any:
    """Read an artifact a custom serializer wrote, with the serializer that reads it back."""
    what = _what(name, where)
    writer, meta = metadata_of(ref)
    reader = None
    for serializer in SerializerStore.get_ordered_serializers():
        try:
            if serializer.can_deserialize(meta):
                reader = serializer
                break
        except Exception as exc:  # noqa: BLE001 - a buggy check must not fail the load
            record_dispatch_error(serializer, exc)
    if reader is None:
        source = meta.serializer_info.get("source")
        raise SerializationError(
            f"cannot load {what}: it was written by the artifact serializer '{writer}' "
            f"(encoding {meta.encoding!r}) and no active serializer reads it back",
            fix=(f"install {source}, which provides it, in this environment" if source else
                 f"install the package that declares the '{writer}' serializer")
            + " (headwater.store.serializers.list_serializer_status() shows what is active)")
    data = bytes(store.load_serialized(ref, what=what))
    try:
        return reader.deserialize([data], meta, format=SerializationFormat.STORAGE)
    except HeadwaterException:
        raise
    except Exception as exc:
        raise SerializationError(
            f"cannot load {what}: serializer {reader.__name__} ({reader.TYPE}) failed to read "
            f"it back: {type(exc).__name__}: {exc}",
            fix=f"check that this environment has what {reader.__name__} needs (the versions "
                "that wrote it)") from exc
