"""Where each declared artifact serializer stands, for "why is my serializer not used?".

Every ``(name, class path)`` declaration (headwater's own, an installed package's entry point)
gets one :class:`SerializerRecord`. Its :class:`SerializerState` moves along::

    known -> importing -> class_loaded -> importing_deps -> active
                 |                             |
                 +--> pending_on_imports <-----+   (a module it needs is not importable yet;
                 |         |                         retried when that module gets imported)
                 +--> broken  (no such class, a TYPE that disagrees with the name, a setup error)
    disabled  (switched off by configuration: never imported)

A plain class, not a dataclass: ``dataclasses`` imports ``inspect``, which a local run never
loads (tests/integration/test_lean_local_run.py).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from headwater.store.serializers.registry import RECORDS


class SerializerState(str, Enum):
    """The lifecycle state of one declared serializer; compares equal to its string value."""

    KNOWN = "known"
    IMPORTING = "importing"
    CLASS_LOADED = "class_loaded"
    IMPORTING_DEPS = "importing_deps"
    ACTIVE = "active"
    PENDING_ON_IMPORTS = "pending_on_imports"
    BROKEN = "broken"
    DISABLED = "disabled"


_FIELDS = ("name", "class_path", "state", "awaiting_modules", "last_error", "priority", "type",
           "import_trigger", "dispatch_error_count", "source")


class SerializerRecord:
    """What is known about one declared serializer.

    ``source`` says where the declaration came from (``"metaflow"`` for the built-in pickle
    serializer, an installed distribution's name for an entry point): it is written with every
    artifact the serializer saves, so a reader lacking the serializer is told what to install.
    """

    __slots__ = (*_FIELDS, "previously_awaited")

    def __init__(self, name: str, class_path: str,
                 state: SerializerState = SerializerState.KNOWN,
                 awaiting_modules: list[str] | None = None, last_error: str | None = None,
                 priority: int | None = None, type: str | None = None,  # noqa: A002 - Metaflow's name
                 import_trigger: str | None = None, dispatch_error_count: int = 0,
                 source: str | None = None) -> None:
        self.name = name
        self.class_path = class_path
        self.state = state
        self.awaiting_modules = list(awaiting_modules or [])
        self.last_error = last_error
        self.priority = priority
        self.type = type
        self.import_trigger = import_trigger  # "eager" (at start) or "hook" (on a later import)
        self.dispatch_error_count = dispatch_error_count
        self.source = source
        self.previously_awaited: set[str] = set()  # modules waited on before: the loop guard

    def as_dict(self) -> dict[str, Any]:
        """The record as plain data (the state as its string)."""
        out = {field: getattr(self, field) for field in _FIELDS}
        out["state"] = self.state.value
        out["awaiting_modules"] = list(self.awaiting_modules)
        return out

    def __repr__(self) -> str:
        return f"SerializerRecord({self.name!r}, {self.class_path!r}, state={self.state.value})"


def list_serializer_status() -> list[dict[str, Any]]:
    """One dict per declared serializer, active or not (pending, broken and disabled ones too)."""
    return [record.as_dict() for record in RECORDS.values()]


__all__ = ["SerializerRecord", "SerializerState", "list_serializer_status"]
