"""A join's parents stored in chunks as they arrive come back whole and in split order."""

from __future__ import annotations

import random

from headwater.records import ArtifactRef, Frame, ParentRef
from headwater.runtime.join_parents import CHUNK, PARENTS_KEYS, Arrivals, for_executor, load_parents
from headwater.store.datastore import DataStore
from headwater.store.local_storage import LocalStorage


def _parent(index: int, count: int, shared: ArtifactRef) -> ParentRef:
    out = ArtifactRef(f"{index:032x}", 1, "builtins.int", inline=bytes([index % 256]))
    frames = (Frame("start", "1", index, count, True, "items"),)
    return ParentRef("work", str(index + 2), {"items": shared, "out": out}, frames)


def _store(tmp_path) -> DataStore:
    return DataStore(LocalStorage(str(tmp_path)))


def test_many_arrivals_are_stored_and_come_back_in_split_order(tmp_path):
    store = _store(tmp_path)
    count = 2 * CHUNK + 7
    shared = ArtifactRef("f" * 32, 9, "builtins.list")
    order = list(range(count))
    random.Random(4).shuffle(order)  # tasks finish in any order
    arrivals = Arrivals(store)
    for index in order:
        arrivals.add(index, _parent(index, count, shared))
    assert len(arrivals) == count
    stubs, keys = arrivals.parents()
    assert len(keys) == 3
    assert [s.task_id for s in stubs] == [str(i + 2) for i in range(count)]
    assert all(not s.manifest for s in stubs)  # the scheduler keeps step and task id only
    loaded = load_parents(store, keys, "join task WideFlow/1/join/9")
    assert [p.frames[-1].index for p in loaded] == list(range(count))
    assert loaded[5] == _parent(5, count, shared)
    # what the inputs passed on unchanged is one object again within a chunk
    assert len({id(p.manifest["items"]) for p in loaded}) == len(keys)


def test_few_arrivals_stay_in_memory_and_in_the_spec(tmp_path):
    arrivals = Arrivals(_store(tmp_path))
    shared = ArtifactRef("f" * 32, 9, "builtins.list")
    for index in (2, 0, 1):
        arrivals.add(index, _parent(index, 3, shared))
    parents, keys = arrivals.parents()
    assert keys == [] and [p.frames[-1].index for p in parents] == [0, 1, 2]
    assert parents[0].manifest["out"].key == f"{0:032x}"


def test_without_a_store_nothing_is_stored():
    arrivals = Arrivals(None)  # a @cache join: its key reads the parents' manifests
    shared = ArtifactRef("f" * 32, 9, "builtins.list")
    for index in range(CHUNK + 1):
        arrivals.add(index, _parent(index, CHUNK + 1, shared))
    parents, keys = arrivals.parents()
    assert keys == [] and len(parents) == CHUNK + 1 and parents[-1].manifest


def test_the_executor_gets_a_stored_join_without_its_stubs():
    from headwater.records import TaskSpec

    stub = ParentRef("work", "2", {}, ())
    spec = TaskSpec("F", "1", "join", "9", 0, [stub], {}, (), is_join=True,
                    extra={PARENTS_KEYS: ["k"]})
    sent = for_executor(spec)
    assert sent.parents == [] and sent.extra[PARENTS_KEYS] == ["k"]
    assert spec.parents == [stub]  # the scheduler's own copy keeps them (retries, metadata)
    plain = TaskSpec("F", "1", "join", "9", 0, [stub], {}, (), is_join=True)
    assert for_executor(plain) is plain
