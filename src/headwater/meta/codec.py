"""JSON encodings of the records stored inside metadata columns.

Shared by every backend so that a SQLite file and a PostgreSQL table hold the same documents.
Encodings are compact (no spaces) and stable (sorted keys), so equal values store equal text.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterable, Sequence

from headwater.records import ArtifactRef, Frame, Manifest, TaskFailure

# One encoder for every document: json.dumps() with options builds a new one per call (the
# scheduler encodes two or three documents per task).
_dumps = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def _ref_fields(ref: ArtifactRef) -> dict:
    # Spelled out rather than dataclasses.asdict, which deep-copies and shows up per task.
    fields = {"key": ref.key, "size": ref.size, "type_name": ref.type_name,
              "encoding": ref.encoding}
    if ref.inline is not None:
        fields["inline"] = binascii.b2a_base64(ref.inline, newline=False).decode("ascii")
    return fields


def _ref(fields: dict) -> ArtifactRef:
    inline = fields.pop("inline", None)
    return ArtifactRef(**fields, inline=None if inline is None else binascii.a2b_base64(inline))


def _frame_fields(frame: Frame) -> dict:
    fields = {
        "step": frame.step, "task_id": frame.task_id, "index": frame.index,
        "num_splits": frame.num_splits, "is_foreach": frame.is_foreach,
        "items_key": frame.items_key,
    }
    if frame.unbounded:  # rare: left out otherwise, so other records read as they always did
        fields["unbounded"] = True
    return fields


def dump_manifest(manifest: Manifest) -> str:
    return _dumps({name: _ref_fields(ref) for name, ref in manifest.items()})


def load_manifest(text: str | None) -> Manifest:
    if not text:
        return {}
    return {name: _ref(fields) for name, fields in json.loads(text).items()}


def dump_frames(frames: Sequence[Frame]) -> str:
    return _dumps([_frame_fields(frame) for frame in frames])


def load_frames(text: str | None) -> tuple[Frame, ...]:
    return tuple(Frame(**fields) for fields in json.loads(text or "[]"))


def dump_strings(values: Iterable[str]) -> str:
    return _dumps(list(values))


def load_strings(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text or "[]"))


def dump_failure(failure: TaskFailure | None) -> str | None:
    if failure is None:
        return None
    return _dumps(
        {"type_name": failure.type_name, "message": failure.message, "traceback": failure.traceback}
    )


def load_failure(text: str | None) -> TaskFailure | None:
    return TaskFailure(**json.loads(text)) if text else None
