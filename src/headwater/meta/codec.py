"""JSON encodings of the records stored inside metadata columns.

Shared by every backend so that a SQLite file and a PostgreSQL table hold the same documents.
Encodings are compact (no spaces) and stable (sorted keys), so equal values store equal text.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Iterable, Sequence

from headwater.records import ArtifactRef, Frame, Manifest, TaskFailure

# One encoder for every document: json.dumps() with options builds a new one per call (the
# scheduler encodes two or three documents per task).
_dumps = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def _loads(text: str) -> object:
    """``json.loads``, with a document nested too deeply for Python's stack (``[[[[...]]]]``, which
    no headwater wrote) a ValueError like any other document that is not one of ours: the
    callers name the record and the fix for it (a RecursionError was a traceback)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None


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
    return {name: _ref(fields) for name, fields in _loads(text).items()}


def dump_frames(frames: Sequence[Frame]) -> str:
    return _dumps([_frame_fields(frame) for frame in frames])


def load_frames(text: str | None) -> tuple[Frame, ...]:
    """The split stack stored as ``text``; ValueError when it is not one ``dump_frames`` could
    have written (a record changed outside headwater), which the caller names."""
    frames = []
    for fields in _loaded_list(text):
        if not isinstance(fields, dict):
            raise ValueError("a frame is not an object")
        frame = Frame(**fields)  # TypeError for a missing or unknown field
        if not (isinstance(frame.step, str) and isinstance(frame.task_id, str)
                and type(frame.index) is int and type(frame.num_splits) is int
                and isinstance(frame.items_key, (str, type(None)))):
            raise ValueError("a frame's fields have the wrong types")
        frames.append(frame)
    return tuple(frames)


def _loaded_list(text: str | None) -> list:
    value = _loads(text or "[]")
    if not isinstance(value, list):
        raise ValueError("not a list")
    return value


def dump_strings(values: Iterable[str]) -> str:
    return _dumps(list(values))


def load_strings(text: str | None) -> tuple[str, ...]:
    values = _loaded_list(text)
    if not all(isinstance(value, str) for value in values):
        raise ValueError("not a list of strings")
    return tuple(values)


def load_transition(text: str | None) -> dict | None:
    """A task's transition document (an object, or nothing); ValueError for anything else."""
    if not text:
        return None
    value = _loads(text)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    for key, kind in _TRANSITION_SHAPES.items():
        if value.get(key) is not None and not isinstance(value[key], kind):
            raise ValueError(f"its {key!r} is not a {kind.__name__}")
    for card in value.get("cards") or ():
        if not (isinstance(card, dict) and isinstance(card.get("type"), str)
                and isinstance(card.get("key"), str)
                and isinstance(card.get("id"), (str, type(None)))):
            raise ValueError("a card is not a {type, key, id} object")
    return value


# What each field of a transition document holds, checked as it is read: the client and the UI
# take them as these types (a hand-changed record would otherwise surface as an AttributeError).
_TRANSITION_SHAPES: dict[str, type] = {"next_steps": list, "metadata": dict, "cards": list,
                                       "graph": dict, "foreach_items_key": str}


def dump_failure(failure: TaskFailure | None) -> str | None:
    if failure is None:
        return None
    return _dumps(
        {"type_name": failure.type_name, "message": failure.message, "traceback": failure.traceback}
    )


def load_code_key(text: str) -> str:
    """The content key a run's code record names; ValueError when it names none."""
    fields = _loads(text)
    if not isinstance(fields, dict) or not isinstance(fields.get("key"), str):
        raise ValueError("no code package key")
    return fields["key"]


def load_environments(text: str | None) -> dict | None:
    """A run's @pypi/@conda record (``{"steps": {step: lock id}, "locks": {lock id: lock}}``,
    as ``environments.lock.run_record`` makes it), or None when the run had none. ValueError
    for anything ``run_record`` could not have written: ``spin``, ``resume``, the client and a
    deployed task then take every field as the type it has here (a hand-changed record was a
    KeyError or AttributeError traceback)."""
    if not text:
        return None
    value = _loads(text)
    if not (isinstance(value, dict) and isinstance(value.get("steps"), dict)
            and isinstance(value.get("locks"), dict)):
        raise ValueError("not a {steps, locks} object")
    locks = value["locks"]
    for step, lock_id in value["steps"].items():
        if not isinstance(lock_id, str) or not isinstance(locks.get(lock_id), dict):
            raise ValueError(f"step {step!r} names no recorded lock")
    for lock_id, lock in locks.items():
        _check_lock(lock_id, lock)
    return value


def _check_lock(lock_id: str, lock: object) -> None:
    """One lock of a run's environments record, as ``EnvLock.to_dict`` writes it."""
    if not (isinstance(lock, dict) and lock.get("kind") in ("pypi", "conda")
            and isinstance(lock.get("python"), str) and isinstance(lock.get("lock"), str)
            and isinstance(lock.get("declared"), dict)
            and isinstance(lock["declared"].get("packages", {}), dict)):
        raise ValueError(f"lock {lock_id[:40]!r} is not a {{kind, python, declared, lock}} object")
    if lock["kind"] == "conda":  # its text is JSON itself: the runtime's PyPI lock and records
        inner = _loads(lock["lock"])
        if not (isinstance(inner, dict) and isinstance(inner.get("runtime"), str)
                and isinstance(inner.get("conda"), list)
                and all(isinstance(r, dict) and isinstance(r.get("name"), str)
                        and isinstance(r.get("version"), str) for r in inner["conda"])):
            raise ValueError(f"conda lock {lock_id[:40]!r} is not a {{runtime, conda}} object")


def load_trigger(text: str | None) -> list[dict] | None:
    """The events a deployed run's start task recorded (its transition's ``metadata.trigger``):
    one event object or a list of them; ValueError for anything else."""
    if not text:
        return None
    value = _loads(text)
    events = value if isinstance(value, list) else [value]
    if not all(isinstance(event, dict) for event in events):
        raise ValueError("an event is not an object")
    return events


def load_failure(text: str | None) -> TaskFailure | None:
    if not text:
        return None
    fields = _loads(text)
    if not isinstance(fields, dict):
        raise ValueError("not an object")
    failure = TaskFailure(**fields)  # TypeError for a missing or unknown field
    if not all(isinstance(v, (str, type(None)))
               for v in (failure.type_name, failure.message, failure.traceback)):
        raise ValueError("its fields are not text")
    return failure


class TaskDocuments:
    """Decodes the JSON columns of many task rows read together (a step's listing), each
    document as :func:`load_frames`, :func:`load_strings` and :func:`load_transition` would,
    without decoding the same text twice.

    Listing a 100,000-task foreach step decoded 300,000 documents, most of its time: every
    task of the step names the same parents and went the same way (one ``parents`` and one
    ``transition`` text, decoded once here and shared by the rows, which never change them),
    and their split stacks differ only in the item's index (``frames`` texts that are equal
    but for the digits after ``"index":`` reuse the first one's decoded frames with their own
    indexes). What is not one of those shapes is decoded in full, so a damaged document raises
    the same ValueError, for the same row, as it always did; a failed decoding is never kept.
    """

    __slots__ = ("_strings", "_transitions", "_frames")

    def __init__(self) -> None:
        self._strings: dict[str | None, tuple[str, ...]] = {}
        self._transitions: dict[str | None, dict | None] = {}
        # frames text without its index digits -> (decoded frames, how many "index": keys)
        self._frames: dict[tuple[str, ...], tuple[Frame, ...]] = {}

    def strings(self, text: str | None) -> tuple[str, ...]:
        found = self._strings.get(text)
        if found is None:
            found = self._strings[text] = load_strings(text)
        return found

    def transition(self, text: str | None) -> dict | None:
        if text in self._transitions:
            return self._transitions[text]
        found = self._transitions[text] = load_transition(text)
        return found

    def frames(self, text: str | None) -> tuple[Frame, ...]:
        if not text:
            return load_frames(text)
        pieces = _INDEX.split(text)  # [text, digits, text, digits, ..., text]
        shape = tuple(pieces[0::2])
        template = self._frames.get(shape)
        if template is None:
            frames = load_frames(text)
            # reusable only when each frame holds exactly one "index": key (any more, and a
            # digit run could belong to a duplicate key the decoder overrode)
            if len(pieces) // 2 == len(frames):
                self._frames[shape] = frames
            return frames
        return tuple(
            frame if frame.index == index else Frame(
                frame.step, frame.task_id, index, frame.num_splits, frame.is_foreach,
                frame.items_key, frame.unbounded)
            for frame, index in zip(template, map(int, pieces[1::2]), strict=True))


# The digits of a frame's index, as dump_frames writes it: a JSON integer (no sign, no leading
# zero), then the end of the value. In valid JSON a quote that starts ``"index":`` opens a key
# (a quote inside a string is escaped), so the split finds keys only.
_INDEX = re.compile(r'(?<="index":)(0|[1-9][0-9]*)(?=[,}])')
