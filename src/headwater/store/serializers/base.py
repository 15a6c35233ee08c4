"""The artifact-serializer contract: the base class users subclass and the registry it feeds.

A serializer is a class (never instantiated) with a unique ``TYPE``, a ``PRIORITY`` (lower is
asked first) and four class methods: ``can_serialize(value)``, ``serialize(value)`` returning
``([SerializedBlob], SerializationMetadata)``, ``can_deserialize(metadata)`` and
``deserialize([bytes], metadata)``. When an artifact is saved, the active serializers are asked
in priority order and the first that claims the value writes it; pickle (priority 9999) claims
everything, so it is the fallback. What a serializer recorded in its metadata is stored with the
artifact and decides, when it is loaded, which serializer reads it back.

Defining a subclass registers it by ``TYPE`` (:attr:`SerializerStore._all_serializers`) but does
not make it *active*: only declared serializers are, after their lifecycle (see
:mod:`headwater.store.serializers.lifecycle`) imported them and their heavy dependencies.
Metaflow's names and behaviour, written for headwater; nothing here runs on a save unless a
serializer other than pickle is active (see :func:`headwater.store.datastore.use_serializers`).
"""

from __future__ import annotations

import importlib
from abc import ABCMeta, abstractmethod
from collections import namedtuple
from collections.abc import Iterable
from enum import Enum
from typing import Any, ClassVar

from headwater.store.serializers import lifecycle, registry
from headwater.store.serializers.lifecycle import call_setup_imports
from headwater.store.serializers.status import SerializerRecord


class SerializationFormat(str, Enum):
    """What ``serialize`` is asked for: ``STORAGE`` (blobs and metadata for the datastore) or
    ``WIRE`` (one string, for command lines and messages between processes)."""

    STORAGE = "storage"
    WIRE = "wire"


SerializationMetadata = namedtuple(
    "SerializationMetadata", ["obj_type", "size", "encoding", "serializer_info"])
SerializationMetadata.__doc__ = """What a serializer says about the bytes it produced.

``obj_type``: the value's type, for display. ``size``: the length of the serializer's output.
``encoding``: a stable name of the output format (``"pickle-v4"``, ``"parquet-v1"``); it is what
``can_deserialize`` routes on, so changing it for existing artifacts breaks their loading.
``serializer_info``: a JSON-able dict stored with the artifact and handed back to
``deserialize``; its ``"source"`` key is filled in with the package that declared the serializer
unless the serializer set it.
"""


class SerializedBlob:
    """One blob of a serialized artifact: new ``bytes`` to store, or a ``str`` key of bytes that
    are already stored (a reference). ``is_reference`` defaults to "is it a str"."""

    __slots__ = ("is_reference", "value")

    def __init__(self, value: str | bytes, is_reference: bool | None = None) -> None:
        if not isinstance(value, (str, bytes)):
            raise TypeError(f"SerializedBlob value must be str or bytes, got "
                            f"{type(value).__name__}")
        self.value = value
        self.is_reference = isinstance(value, str) if is_reference is None else is_reference

    @property
    def needs_save(self) -> bool:
        """Whether the blob is new bytes the datastore must write."""
        return not self.is_reference

    def __repr__(self) -> str:
        kind = "reference" if self.is_reference else f"{len(self.value)} bytes"
        return f"SerializedBlob({kind})"


def _forget_order() -> None:
    SerializerStore._ordered_cache = None


registry.LISTENERS.append(_forget_order)


class SerializerStore(ABCMeta):
    """Metaclass of :class:`ArtifactSerializer`: registers each concrete subclass by ``TYPE`` and
    holds the registry (known classes, the active pool, the declarations' records)."""

    _all_serializers: ClassVar[dict[str, type]] = {}
    _active_serializers: ClassVar[registry.ActivePool] = registry.ACTIVE
    _records: ClassVar[dict[str, SerializerRecord]] = registry.RECORDS
    _pending_by_module: ClassVar[dict[str, list[str]]] = registry.PENDING
    _ordered_cache: ClassVar[list[type] | None] = None

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> None:
        super().__init__(name, bases, namespace)
        if cls.TYPE is None or getattr(cls, "__abstractmethods__", None):  # type: ignore[attr-defined]
            return  # the base class, or a subclass still missing a method
        if "TYPE" not in namespace:
            owner = next((b.__name__ for b in cls.__mro__[1:]
                          if getattr(b, "TYPE", None) == cls.TYPE), "a base class")  # type: ignore[attr-defined]
            raise TypeError(
                f"{name} inherits TYPE {cls.TYPE!r} from {owner} but did not declare its own: "  # type: ignore[attr-defined]
                "set TYPE = '<a unique name>' in its class body (or TYPE = None to leave it "
                "unregistered), or it would replace its parent in the registry")
        SerializerStore._all_serializers[cls.TYPE] = cls  # type: ignore[attr-defined]
        SerializerStore._ordered_cache = None

    @staticmethod
    def get_ordered_serializers() -> list[type]:
        """The active serializers in the order they are asked: lower ``PRIORITY`` first; on a
        tie the one activated last first; then by class path, so the order never depends on
        chance."""
        if SerializerStore._ordered_cache is None:
            pool = list(SerializerStore._active_serializers)
            ranked = sorted(enumerate(pool), key=lambda ic: (
                ic[1].PRIORITY, -ic[0], f"{ic[1].__module__}.{ic[1].__qualname__}"))
            SerializerStore._ordered_cache = [cls for _, cls in ranked]
        return SerializerStore._ordered_cache

    @classmethod
    def bootstrap(cls) -> None:
        """Declare headwater's own serializers and those installed packages declare."""
        lifecycle.bootstrap()

    @classmethod
    def bootstrap_entries(cls, entries: Iterable[tuple[str, str]],
                          disabled_names: Iterable[str] | None = None,
                          source: str | None = None) -> None:
        """Take ``(name, "module.Class")`` declarations through their lifecycle."""
        lifecycle.declare(entries, disabled=set(disabled_names or ()), source=source)

    @classmethod
    def _on_module_imported(cls, module_name: str, module: object = None) -> None:
        lifecycle.retry_waiting_on(module_name)

    @classmethod
    def get_source_for(cls, serializer_cls: type) -> str | None:
        """The ``source`` of the declaration of ``serializer_cls`` (found by TYPE), if any."""
        wanted = getattr(serializer_cls, "TYPE", None)
        if wanted is None:
            return None
        return next((r.source for r in cls._records.values() if r.type == wanted), None)

    @classmethod
    def _reset_for_tests(cls) -> None:
        """Forget every declaration, activation, pending wait and lazily imported module
        (the classes themselves stay registered by TYPE)."""
        lifecycle.reset(cls._all_serializers.values())


class ArtifactSerializer(metaclass=SerializerStore):
    """Base class of artifact serializers: set ``TYPE`` and ``PRIORITY`` and implement the four
    class methods. See the module docstring and docs/artifacts.md for an example."""

    TYPE: ClassVar[str | None] = None
    PRIORITY: ClassVar[int] = 100

    _RESERVED_LAZY_IMPORT_NAMES: ClassVar[frozenset[str]] = frozenset({
        "TYPE", "PRIORITY", "setup_imports", "can_serialize", "can_deserialize", "serialize",
        "deserialize", "lazy_import"})

    @classmethod
    def setup_imports(cls, context: Any = None) -> None:
        """Import heavy dependencies (``cls.lazy_import("pyarrow")``), once, before the
        serializer becomes active. An ImportError naming a module parks the serializer until
        that module is imported by someone; any other error marks it broken. ``context`` is
        reserved (always None)."""
        return None

    @classmethod
    def lazy_import(cls, module_path: str, alias: str | None = None) -> Any:
        """Import ``module_path`` and keep it as ``cls.<alias>`` (default: its last component)."""
        name = alias if alias is not None else module_path.rsplit(".", 1)[-1]
        if name.startswith("_") or name in cls._RESERVED_LAZY_IMPORT_NAMES:
            raise ValueError(f"lazy_import alias '{name}' is reserved or invalid: pick another "
                             "alias= (not starting with _, not a serializer method)")
        names: set[str] = cls.__dict__.get("_lazy_imported_names") or set()
        if name in names:
            held = getattr(cls, name, None)
            if getattr(held, "__name__", None) == module_path:
                return held
            raise ValueError(f"lazy_import alias '{name}' is already set to module "
                             f"'{getattr(held, '__name__', held)}'; refusing to point it at "
                             f"'{module_path}'")
        module = importlib.import_module(module_path)
        setattr(cls, name, module)
        names.add(name)
        cls._lazy_imported_names = names  # type: ignore[attr-defined]
        return module

    @classmethod
    @abstractmethod
    def can_serialize(cls, obj: Any) -> bool:
        """Whether this serializer takes ``obj``; asked in priority order, first yes wins."""

    @classmethod
    @abstractmethod
    def can_deserialize(cls, metadata: SerializationMetadata) -> bool:
        """Whether this serializer reads back an artifact stored with ``metadata``."""

    @classmethod
    @abstractmethod
    def serialize(cls, obj: Any, format: SerializationFormat = SerializationFormat.STORAGE
                  ) -> tuple[list[SerializedBlob], SerializationMetadata] | str:
        """``([SerializedBlob(bytes)], SerializationMetadata(...))`` for STORAGE, a ``str`` for
        WIRE (raise NotImplementedError if there is none). No side effects, no compression of
        its own: it may be called more than once for a value."""

    @classmethod
    @abstractmethod
    def deserialize(cls, data: list[bytes] | str, metadata: SerializationMetadata | None = None,
                    format: SerializationFormat = SerializationFormat.STORAGE) -> Any:
        """The value back from its blobs (a list of bytes) and metadata, or from a WIRE str."""


__all__ = [
    "ArtifactSerializer", "SerializationFormat", "SerializationMetadata", "SerializedBlob",
    "SerializerStore", "call_setup_imports",
]
