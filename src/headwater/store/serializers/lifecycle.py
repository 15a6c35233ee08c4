"""Take declared serializers from a ``(name, "module.Class")`` pair to active, or say why not.

A declaration is imported eagerly; when the import (of its module, or of a dependency in its
``setup_imports``) fails for a module that is not installed, the serializer is *parked* on that
module instead of failing the run: :mod:`headwater.store.serializers.import_watch` notices when
the module is imported later (a step that does ``import torch``) and the declaration is tried
again then. Failing twice on the same module marks it broken, so a retry can never loop.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from headwater.store.serializers import import_watch
from headwater.store.serializers.registry import ACTIVE, PENDING, RECORDS
from headwater.store.serializers.status import SerializerRecord, SerializerState

CORE = (("pickle", "headwater.store.serializers.pickle_serializer.PickleSerializer"),)
"""headwater's own declarations: pickle, the fallback."""
CORE_SOURCE = "metaflow"
"""The source recorded for the built-in serializers: the name Metaflow's readers expect."""


def call_setup_imports(cls: type, context: Any = None) -> Any:
    """Call ``cls.setup_imports``, whether it was written ``(cls)`` or ``(cls, context=None)``."""
    function = cls.setup_imports.__func__  # type: ignore[attr-defined]
    if function.__code__.co_argcount >= 2:
        return cls.setup_imports(context)  # type: ignore[attr-defined]
    return cls.setup_imports()  # type: ignore[attr-defined]


def bootstrap() -> None:
    """Declare the built-in serializers, then those of installed packages (the entry point group
    ``headwater.serializers``); names switched off in the settings are recorded as disabled."""
    from headwater.store.serializers.discovery import disabled_names, installed_declarations

    disabled = disabled_names()
    declare(CORE, disabled=disabled, source=CORE_SOURCE)
    for source, entries in installed_declarations():
        declare(entries, disabled=disabled, source=source)


def declare(entries: Iterable[tuple[str, str]], *, disabled: set[str],
            source: str | None) -> None:
    """Record each declaration and take it as far along its lifecycle as it can go now."""
    for name, class_path in entries:
        record = SerializerRecord(name, class_path, source=source)
        RECORDS[name] = record
        if name in disabled:
            record.state = SerializerState.DISABLED
            continue
        _advance(record, trigger="eager")


def _advance(record: SerializerRecord, *, trigger: str) -> None:
    """Import the class, check it, run its ``setup_imports``, activate it."""
    module_path, _, class_name = record.class_path.rpartition(".")
    record.state = SerializerState.IMPORTING
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        _park(record, exc)
        return
    cls = getattr(module, class_name, None)
    if cls is None:
        _break(record, f"class '{class_name}' not found in module '{module_path}'")
        return
    if getattr(cls, "TYPE", None) != record.name:
        _break(record, f"tuple name '{record.name}' != class.TYPE '{getattr(cls, 'TYPE', None)}'"
               " (the declared name must be the class's TYPE)")
        return
    record.state = SerializerState.CLASS_LOADED
    record.priority = cls.PRIORITY
    record.type = cls.TYPE
    record.state = SerializerState.IMPORTING_DEPS
    try:
        call_setup_imports(cls)
    except ImportError as exc:
        _park(record, exc)
        return
    except Exception as exc:  # noqa: BLE001 - any failure of user code marks it broken, named
        _break(record, f"{type(exc).__name__}: {exc}")
        return
    record.state = SerializerState.ACTIVE
    record.import_trigger = trigger
    record.last_error = None
    ACTIVE.add(cls)


def _break(record: SerializerRecord, why: str) -> None:
    record.state = SerializerState.BROKEN
    record.last_error = why


def _park(record: SerializerRecord, exc: ImportError) -> None:
    """Wait for the missing module ``exc.name`` to be imported; broken if it cannot be named or
    was waited on before."""
    missing = exc.name
    if missing is None:
        _break(record, f"ImportError with no module name: {exc}")
        return
    if missing in record.awaiting_modules or missing in record.previously_awaited:
        _break(record, f"repeated ImportError on '{missing}': {exc}")
        return
    record.awaiting_modules.append(missing)
    record.state = SerializerState.PENDING_ON_IMPORTS
    record.last_error = f"{type(exc).__name__}: {exc}"
    PENDING.setdefault(missing, []).append(record.name)
    import_watch.watch(missing, retry_waiting_on)


def retry_waiting_on(module_name: str) -> None:
    """``module_name`` was just imported: try again every declaration parked on it."""
    for name in PENDING.pop(module_name, []):
        record = RECORDS.get(name)
        if record is None:
            continue
        record.previously_awaited.update(record.awaiting_modules)
        record.awaiting_modules = [m for m in record.awaiting_modules if m != module_name]
        try:
            _advance(record, trigger="hook")
        except Exception as exc:  # noqa: BLE001 - one bad retry must not strand the others
            _break(record, f"retry crashed: {type(exc).__name__}: {exc}")


def reset(known: Iterable[type]) -> None:
    """Forget declarations, activations, waits and the modules ``lazy_import`` kept on the
    ``known`` classes and the active ones (for tests)."""
    classes = {*known, *ACTIVE}
    for cls in classes:
        for klass in cls.__mro__:
            names = klass.__dict__.get("_lazy_imported_names")
            for name in list(names or ()):
                if name in klass.__dict__:
                    delattr(klass, name)
            if names:
                names.clear()
    RECORDS.clear()
    ACTIVE.clear()
    PENDING.clear()
    import_watch.reset()
