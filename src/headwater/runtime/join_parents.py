"""A join's parents, kept in the datastore rather than in the scheduler while they arrive.

A join over a foreach of N items reads N parents: each one's step, task id, split stack and
manifest. Held as objects until the join starts, they were most of what the scheduler's memory
grew by per task (about 1 KB each, 100 MB at 100,000 items), and all of them went to the join
pickled inside its ``TaskSpec``. Instead, once more than ``CHUNK`` parents of one join have
arrived, the scheduler pickles them in arrival order, ``CHUNK`` at a time, into blobs of the
run's datastore (one pickle per chunk, so what the tasks share, the foreach's list or the
parameters, is written once a chunk), and keeps of each parent only a stub: its step and task
id, which the metadata records and resume needs. The join's spec then carries the chunks' keys
(``extra["parents_keys"]``) and no parent; the join task reads them back and orders them by
their split index, as the scheduler would have.

A join with at most ``CHUNK`` parents (every static branch, a foreach of 100) is unchanged: its
parents travel in its spec as before.
"""

from __future__ import annotations

import pickle
from typing import Any

from headwater import fault_points
from headwater.records import ArtifactRef, Frame, ParentRef, TaskSpec, replace

CHUNK = 256  # parents per stored blob; a join with no more than this keeps them in its spec
PARENTS_KEYS = "parents_keys"  # TaskSpec.extra: the blobs a join's parents are in
_NO_MANIFEST: dict = {}  # a stub's: shared, never written to


class Arrivals:
    """The parents of one join as they arrive: the latest ones as objects, the rest stored."""

    __slots__ = ("_store", "_pending", "_stubs", "_keys")

    def __init__(self, store: Any) -> None:
        self._store = store  # None: every parent stays in memory (a @cache join's key reads them)
        self._pending: dict[int, ParentRef] = {}  # split index -> parent, not yet stored
        self._stubs: dict[int, ParentRef] = {}  # split index -> step and task id of a stored one
        self._keys: list[str] = []

    def __len__(self) -> int:
        return len(self._pending) + len(self._stubs)

    def add(self, index: int, parent: ParentRef) -> None:
        self._pending[index] = parent
        if self._store is not None and len(self._pending) >= CHUNK:
            self._spill()

    def parents(self) -> tuple[list[ParentRef], list[str]]:
        """All parents in split order, and the keys of the blobs the stored ones are in: with
        keys, the parents are stubs (step and task id only) and the blobs hold them whole."""
        if not self._keys:
            return [self._pending[i] for i in sorted(self._pending)], []
        if self._pending:
            self._spill()
        return [self._stubs[i] for i in sorted(self._stubs)], self._keys

    def _spill(self) -> None:
        same: dict[Any, Any] = {}
        data = pickle.dumps([_sharing(parent, same) for parent in self._pending.values()],
                            protocol=5)
        key = self._store.save_bytes(data).key
        fault_points.hold("join.spill")
        self._keys.append(key)
        for index, parent in self._pending.items():
            self._stubs[index] = ParentRef(parent.step, parent.task_id, _NO_MANIFEST, ())
        self._pending.clear()


def _sharing(parent: ParentRef, same: dict[Any, Any]) -> ParentRef:
    """``parent`` with what its chunk repeats made one object each (equal references and
    frames, artifact and type names, a frame's step, task id and items key), so the chunk's
    pickle holds each once and the join reads it back as one: every task's result arrived with
    its own copies, and at 100,000 inputs they were a third of what the join held of them."""
    manifest = {same.setdefault(name, name): _shared(ref, same)
                for name, ref in parent.manifest.items()}
    return ParentRef(same.setdefault(parent.step, parent.step), parent.task_id, manifest,
                     tuple(_shared(frame, same) for frame in parent.frames))


def _shared(record: Any, same: dict[Any, Any]) -> Any:
    """The one object of ``same`` equal to ``record`` (an ArtifactRef or a Frame), made with
    shared text the first time. Looked up by its fields as a plain tuple: a record's own hash
    is computed in Python, and the scheduler does this for every input of a wide join."""
    one = same.setdefault
    if isinstance(record, Frame):
        fields = (record.step, record.task_id, record.index, record.num_splits,
                  record.is_foreach, record.items_key, record.unbounded)
        found = same.get(fields)
        if found is None:
            found = one(fields, Frame(one(record.step, record.step),
                                      one(record.task_id, record.task_id), record.index,
                                      record.num_splits, record.is_foreach,
                                      one(record.items_key, record.items_key), record.unbounded))
        return found
    fields = (record.key, record.size, record.type_name, record.encoding, record.inline)
    found = same.get(fields)
    if found is None:
        found = one(fields, ArtifactRef(record.key, record.size,
                                        one(record.type_name, record.type_name),
                                        one(record.encoding, record.encoding), record.inline))
    return found


def for_executor(spec: TaskSpec) -> TaskSpec:
    """What is sent to run ``spec``: a join whose parents are stored goes without its stubs."""
    if PARENTS_KEYS not in spec.extra:
        return spec
    return replace(spec, parents=[])


def load_parents(store: Any, keys: list[str], where: str) -> list[ParentRef]:
    """A join's stored parents, whole and in split order (the task side of :class:`Arrivals`)."""
    parents: list[ParentRef] = []
    for key in keys:
        parents.extend(pickle.loads(store.load_bytes(key, what=f"the inputs of {where}")))
    parents.sort(key=lambda parent: parent.frames[-1].index)
    return parents
