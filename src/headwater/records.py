"""Plain records that cross module and process boundaries.

They depend on nothing else in headwater, so the graph, the store, the metadata database, the
runtime and the client can all speak them without importing one another. Every record is
picklable (tasks receive them from the scheduler, possibly over the network).
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable
from typing import Any

# -- the record base ----------------------------------------------------------------------------
# ``@dataclass`` writes each class's __init__/__repr__/__eq__ as source text and compiles it when
# the module is imported: about a millisecond a class, paid by every ``python flow.py run`` for
# the ~30 records on its path (a fifth of a local run's own CPU time, measured). ``Record`` gives
# the same behaviour from shared methods that read the field list: nothing is compiled at import.


class Field:
    """A field's options beyond a plain default (as ``dataclasses.field``): ``default``, or
    ``factory`` to make the default afresh for each record; ``repr=False`` leaves the field out
    of the repr, ``compare=False`` out of ``==`` and the hash."""

    __slots__ = ("default", "factory", "repr", "compare")

    def __init__(self, default: Any = None, *, factory: Callable[[], Any] | None = None,
                 repr: bool = True, compare: bool = True) -> None:  # noqa: A002
        self.default, self.factory, self.repr, self.compare = default, factory, repr, compare


def Factory(make: Callable[[], Any], *, repr: bool = True,  # noqa: A002, N802
            compare: bool = True) -> Any:
    """A field whose default ``make()`` makes afresh for each record (``field(default_factory=)``)."""
    return Field(factory=make, repr=repr, compare=compare)


class FrozenRecordError(AttributeError):
    """Assigning to a field of a frozen record (as ``dataclasses.FrozenInstanceError``)."""


_NO_DEFAULT = object()
_GIVEN, _DEFAULT, _FACTORY = 0, 1, 2  # how __init__ fills a field the caller left out


def _how_filled(name: str, default: Any) -> tuple[str, Any, int]:
    if isinstance(default, Field):
        if default.factory is not None:
            return name, default.factory, _FACTORY
        return name, default.default, _DEFAULT
    return (name, None, _GIVEN) if default is _NO_DEFAULT else (name, default, _DEFAULT)


def _state_getter(fields: tuple[str, ...]) -> Callable[[Any], list[Any]]:
    """The class's ``__getstate__``: its field values as a list, read by one C ``attrgetter``
    (a scheduler pickles ~10 records per task it launches; a Python loop of ``getattr`` was
    most of that time)."""
    if len(fields) > 1:
        many = operator.attrgetter(*fields)

        def __getstate__(self: Any) -> list[Any]:
            return list(many(self))
    elif fields:
        one = operator.attrgetter(fields[0])

        def __getstate__(self: Any) -> list[Any]:
            return [one(self)]
    else:
        def __getstate__(self: Any) -> list[Any]:
            return []
    __getstate__._record_made = True  # type: ignore[attr-defined]
    return __getstate__


def _made_or_plain(base: type) -> bool:
    """Whether ``base`` pickles its state the default way (a made getter, or object's own): a
    record class whose base wrote its own ``__getstate__`` inherits it instead."""
    getter = getattr(base, "__getstate__", None)
    return getter is None or getter is _PLAIN_GETSTATE or getattr(getter, "_record_made", False)


_PLAIN_GETSTATE = getattr(object, "__getstate__", None)


def _refuse_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r}")


def _refuse_delattr(self: Any, name: str) -> None:
    raise FrozenRecordError(f"cannot delete field {name!r}")


def _frozen_hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in self.__record_compared__))


class _RecordType(type):
    """Reads the annotated fields of a class body, in order, after those of its record bases."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], *,
                frozen: bool = False, slots: bool = False) -> type:
        fields: dict[str, Any] = {}  # name -> default, Factory, or _NO_DEFAULT
        for base in reversed(bases):
            fields.update(getattr(base, "__record_defaults__", {}))
        shown: set[str] = {f for b in bases for f in getattr(b, "__record_hidden__", ())}
        compared_out: set[str] = {f for b in bases for f in getattr(b, "__record_uncompared__", ())}
        for field_name, annotation in ns.get("__annotations__", {}).items():
            if field_name.startswith("__") or str(annotation).startswith(
                    ("ClassVar", "typing.ClassVar")):
                continue
            default = ns.pop(field_name, _NO_DEFAULT) if slots else ns.get(field_name, _NO_DEFAULT)
            if isinstance(default, Field):
                ns.pop(field_name, None)
                if not default.repr:
                    shown.add(field_name)
                if not default.compare:
                    compared_out.add(field_name)
            fields[field_name] = default
        if slots:
            own = [f for f in ns.get("__annotations__", {}) if f in fields
                   and not any(f in getattr(b, "__record_defaults__", {}) for b in bases)]
            ns["__slots__"] = tuple(own)
        ns["__record_defaults__"] = fields
        ns["__record_fields__"] = tuple(fields)
        ns["__record_init__"] = tuple(_how_filled(f, d) for f, d in fields.items())
        ns["__record_post_init__"] = "__post_init__" in ns or any(
            hasattr(base, "__post_init__") for base in bases)
        ns["__record_hidden__"] = frozenset(shown)
        ns["__record_uncompared__"] = frozenset(compared_out)
        ns["__record_compared__"] = tuple(f for f in fields if f not in compared_out)
        ns["__record_frozen__"] = frozen
        ns["__match_args__"] = tuple(fields)
        if "__hash__" not in ns:  # as dataclasses: frozen records hash, the others do not
            ns["__hash__"] = _frozen_hash if frozen else None
        if "__setattr__" not in ns:
            ns["__setattr__"] = _refuse_setattr if frozen else object.__setattr__
        if "__delattr__" not in ns:
            ns["__delattr__"] = _refuse_delattr if frozen else object.__delattr__
        if "__getstate__" not in ns and all(_made_or_plain(b) for b in bases):
            ns["__getstate__"] = _state_getter(tuple(fields))
        return super().__new__(mcls, name, bases, ns)

    def __init__(cls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                 **options: Any) -> None:
        super().__init__(name, bases, ns)

    @property
    def __signature__(cls) -> Any:
        """``inspect.signature(SomeRecord)`` and ``help()`` show the fields, as for a dataclass
        (built when asked: nothing is paid at import)."""
        import inspect

        def parameter(name: str, default: Any, kind: int) -> inspect.Parameter:
            shown = inspect.Parameter.empty if kind == _GIVEN else \
                default if kind == _DEFAULT else _FactoryDefault()
            return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=shown)

        return inspect.Signature([parameter(*field) for field in cls.__record_init__])


class _FactoryDefault:
    def __repr__(self) -> str:
        return "<factory>"


class Record(metaclass=_RecordType):
    """A plain data class: ``class Point(Record, frozen=True): x: int; y: int = 0``.

    Like ``@dataclass``: an ``__init__`` taking the fields in order (positional or by name,
    defaults and :class:`Field` defaults filled in, then ``__post_init__`` if the class has
    one), a repr ``Point(x=1, y=0)``, ``==`` between records of the same class field by field,
    and with ``frozen=True`` no assignment and a hash. ``slots=True`` stores the fields in slots.
    """

    __slots__ = ()
    __record_fields__: tuple[str, ...] = ()
    __record_init__: tuple[tuple[str, Any, int], ...] = ()
    __record_post_init__ = False
    __record_defaults__: dict[str, Any] = {}
    __record_hidden__: frozenset[str] = frozenset()
    __record_compared__: tuple[str, ...] = ()
    __record_frozen__ = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        fields = cls.__record_init__
        given = len(args)
        if given > len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} fields but {given} were given")
        put = object.__setattr__
        for position, (name, default, kind) in enumerate(fields):
            if position < given:
                if kwargs and name in kwargs:
                    raise TypeError(f"{cls.__name__}() got multiple values for field {name!r}")
                put(self, name, args[position])
            elif name in kwargs:
                put(self, name, kwargs.pop(name))
            elif kind == _GIVEN:
                raise TypeError(f"{cls.__name__}() is missing the field {name!r}")
            else:
                put(self, name, default if kind == _DEFAULT else default())
        if kwargs:
            raise TypeError(f"{cls.__name__}() got an unexpected field {next(iter(kwargs))!r}")
        if cls.__record_post_init__:
            self.__post_init__()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        cls = type(self)
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in cls.__record_fields__
                          if name not in cls.__record_hidden__)
        return f"{cls.__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = self.__record_compared__
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    # __setattr__/__delattr__: object's own for a record that is not frozen, ones that refuse
    # for a frozen one; _RecordType puts them in each class (no Python call per assignment).

    # __getstate__ is made for each record class by _RecordType (see _state_getter).

    def __setstate__(self, state: Any) -> None:
        if state.__class__ is list:  # what __getstate__ gives
            fields = self.__record_fields__
            if len(state) == len(fields):  # as pickled by this version: no defaults to fill
                # (a join reads 100,000 parents' records back: the general path was most of it)
                put = object.__setattr__
                for name, value in zip(fields, state, strict=False):
                    put(self, name, value)
                return
            self._put_values(state)
            return
        # Also reads what the dataclass versions of these classes pickled (artifacts such as a
        # @catch exception live on in old runs): a list of values (frozen, slots), the
        # ``__dict__`` (no slots) or ``(None, slot values)`` (slots, not frozen).
        if isinstance(state, tuple) and len(state) == 2:
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            for name, value in state.items():
                object.__setattr__(self, name, value)
            return
        self._put_values(state)

    def _put_values(self, values: Any) -> None:
        """Fields in order; a pickle made before a field with a default was added (fewer
        values) gets that default."""
        fields = self.__record_fields__
        values = list(values)
        if len(values) > len(fields):
            raise TypeError(f"{type(self).__name__}: {len(values)} values for {len(fields)} fields")
        put = object.__setattr__
        for name, value in zip(fields, values, strict=False):  # the rest: defaults, below
            put(self, name, value)
        for name, default, kind in self.__record_init__[len(values):]:
            if kind == _GIVEN:
                raise TypeError(f"{type(self).__name__}: no value for the field {name!r}")
            put(self, name, default if kind == _DEFAULT else default())


def replace(record: Any, **changes: Any) -> Any:
    """A copy of ``record`` with ``changes`` (as ``dataclasses.replace``)."""
    values = {name: getattr(record, name) for name in record.__record_fields__}
    values.update(changes)
    return type(record)(**values)


def as_dict(record: Any) -> dict[str, Any]:
    """The record's fields by name (shallow: nested values are not copied)."""
    return {name: getattr(record, name) for name in record.__record_fields__}


# -- the records --------------------------------------------------------------------------------


class ArtifactRef(Record, frozen=True, slots=True):
    """Where an artifact's value lives: a content-addressed blob key plus what the client shows."""

    key: str  # content hash of the stored blob (32 hex chars, xxh3-128)
    size: int  # bytes stored
    type_name: str  # e.g. "builtins.int", "numpy.ndarray"
    encoding: str = "pickle5"  # how the blob is to be decoded
    # A small value's encoded bytes, kept in the metadata instead of a blob of its own (see
    # store/datastore.py, INLINE_MAX_BYTES). ``key`` is still their content hash.
    inline: bytes | None = None

    # Spelled out: one is made per artifact read or written, thousands in a big run.
    def __init__(self, key: str, size: int, type_name: str, encoding: str = "pickle5",
                 inline: bytes | None = None) -> None:
        put = object.__setattr__
        put(self, "key", key)
        put(self, "size", size)
        put(self, "type_name", type_name)
        put(self, "encoding", encoding)
        put(self, "inline", inline)


Manifest = dict[str, ArtifactRef]
"""name -> ArtifactRef: the complete set of artifacts one task exposes."""


class Frame(Record, frozen=True, slots=True):
    """One level of the split stack a task lives in.

    A static split with k branches pushes ``Frame(step, task_id, branch_index, k)``; a foreach over
    n items pushes ``Frame(step, task_id, item_index, n, is_foreach=True)``. The join that closes the
    split pops it: joins group arriving tasks by the stack below the top frame plus that frame's
    (step, task_id), and fire when ``num_splits`` distinct indexes arrived.
    """

    step: str
    task_id: str
    index: int
    num_splits: int
    is_foreach: bool = False
    items_key: str | None = None  # foreach only: blob holding the items, each pickled on its own
    # An unbounded foreach (over an ``UnboundedForeachInput``): the step reads no num_splits,
    # and one more task, its control task, has ``index`` CONTROL_INDEX (it joins nothing).
    unbounded: bool = False

    # Spelled out: one is made per task of a split, and per task read back.
    def __init__(self, step: str, task_id: str, index: int, num_splits: int,
                 is_foreach: bool = False, items_key: str | None = None,
                 unbounded: bool = False) -> None:
        put = object.__setattr__
        put(self, "step", step)
        put(self, "task_id", task_id)
        put(self, "index", index)
        put(self, "num_splits", num_splits)
        put(self, "is_foreach", is_foreach)
        put(self, "items_key", items_key)
        put(self, "unbounded", unbounded)

    @property
    def is_control(self) -> bool:
        """The control task of an unbounded foreach."""
        return self.unbounded and self.index == CONTROL_INDEX


CONTROL_INDEX = -1  # Frame.index of an unbounded foreach's control task


class ParentRef(Record, frozen=True, slots=True):
    """A finished task a new task reads from."""

    step: str
    task_id: str
    manifest: Manifest
    frames: tuple[Frame, ...]

    # Spelled out: the scheduler makes one per finished task, a join's spin one per input.
    def __init__(self, step: str, task_id: str, manifest: Manifest,
                 frames: tuple[Frame, ...]) -> None:
        put = object.__setattr__
        put(self, "step", step)
        put(self, "task_id", task_id)
        put(self, "manifest", manifest)
        put(self, "frames", frames)


class TaskSpec(Record, slots=True):
    """Everything a task needs to run, made by the scheduler, executed anywhere."""

    flow_name: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    parents: list[ParentRef]  # one for linear steps, all inputs for a join
    params: Manifest  # the run's parameters (read-only artifacts of every task)
    frames: tuple[Frame, ...]  # this task's split stack
    is_join: bool = False
    origin_run_id: str | None = None
    username: str = ""
    tags: tuple[str, ...] = ()
    namespace: str | None = None
    max_num_splits: int = 100_000
    extra: dict[str, Any] = Factory(dict)

    # Spelled out: the scheduler makes one per task, by keyword (the generic path's slowest).
    def __init__(self, flow_name: str, run_id: str, step: str, task_id: str, attempt: int,
                 parents: list[ParentRef], params: Manifest, frames: tuple[Frame, ...],
                 is_join: bool = False, origin_run_id: str | None = None, username: str = "",
                 tags: tuple[str, ...] = (), namespace: str | None = None,
                 max_num_splits: int = 100_000, extra: dict[str, Any] | None = None) -> None:
        put = object.__setattr__
        put(self, "flow_name", flow_name)
        put(self, "run_id", run_id)
        put(self, "step", step)
        put(self, "task_id", task_id)
        put(self, "attempt", attempt)
        put(self, "parents", parents)
        put(self, "params", params)
        put(self, "frames", frames)
        put(self, "is_join", is_join)
        put(self, "origin_run_id", origin_run_id)
        put(self, "username", username)
        put(self, "tags", tags)
        put(self, "namespace", namespace)
        put(self, "max_num_splits", max_num_splits)
        put(self, "extra", {} if extra is None else extra)

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step}/{self.task_id}"


class TaskFailure(Record, slots=True):
    """Why a task failed, in a form that survives pickling (the exception object may not)."""

    type_name: str
    message: str
    traceback: str = ""

    # Metaflow's names for the same facts (``task.exception.type`` / ``.exception``).
    @property
    def type(self) -> str:
        """Metaflow's ``module.Name`` of the exception: ``builtins.ValueError`` where
        ``type_name`` says ``ValueError``."""
        if "." not in self.type_name and isinstance(getattr(builtins, self.type_name, None), type):
            return f"builtins.{self.type_name}"
        return self.type_name

    @property
    def exception(self) -> str:
        return self.message

    @property
    def stacktrace(self) -> str:
        return self.traceback

    def __str__(self) -> str:
        return self.traceback or f"{self.type_name}: {self.message}"


# The fact a task records when @catch stood in after its step raised: the stand-in's attempt
# number (the attempt before it raised; Metaflow handles such a failure within that attempt).
# Hidden from ``task.metadata``.
CAUGHT_RAISE_FACT = "catch-attempt"


# The fact @catch's stand-in records when nothing was raised (the step's process died, or was
# stopped): Metaflow's fallback attempt then handles the failure. Hidden too.
CAUGHT_CRASH_FACT = "catch-fallback"


def caught_attempt(facts: dict | None) -> int | None:
    """@catch's stand-in attempt after a raise, from a task's recorded facts; None if the step
    did not raise and get caught (it succeeded, or @catch stood in after a crash)."""
    number = (facts or {}).get(CAUGHT_RAISE_FACT)
    return int(number) if number is not None and str(number).isdigit() else None


def was_caught(facts: dict | None) -> bool:
    """Whether @catch handled the task's failure (a raise or a crash): as in Metaflow, its
    task is then not successful, and a run whose end task it is did not succeed."""
    return caught_attempt(facts) is not None or CAUGHT_CRASH_FACT in (facts or {})


# Facts in TaskResult.metadata about how this run started, not about the task's work: a resume
# clone does not inherit them (the resumed run was not started by its origin's trigger).
RUN_START_FACTS = frozenset({"trigger"})

# Facts in TaskResult.metadata that are headwater's bookkeeping, not facts about the task:
# task.metadata hides them. A clone keeps @catch's, so it reads unsuccessful as its origin does
# (Metaflow's clone copies the origin's ``_success``).
INTERNAL_FACTS = frozenset({CAUGHT_RAISE_FACT, CAUGHT_CRASH_FACT}) | RUN_START_FACTS


class TaskResult(Record, slots=True):
    """What a finished task reports back. The scheduler alone records it in metadata."""

    manifest: Manifest = Factory(dict)
    next_steps: tuple[str, ...] = ()  # the steps this task transitions to (the taken case of a switch)
    foreach_count: int | None = None  # when it fans out with foreach
    foreach_items_key: str | None = None
    foreach_unbounded: bool = False  # the foreach was over an UnboundedForeachInput
    failure: TaskFailure | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    # Facts about where the attempt ran (e.g. "dask-worker"), shown in Task.metadata_dict.
    metadata: dict[str, str] = Factory(dict)
    # @card: one record per rendered card (index, type, id, key of its HTML blob, size).
    cards: list[dict[str, Any]] = Factory(list)
    # The start task only: the flow's graph as plain data (``current.graph``'s shape), kept with
    # the run so that readers know its steps, its start and its end without the flow's code.
    graph: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None
