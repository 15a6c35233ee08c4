"""The @cache key: what changes it and what does not (headwater.runtime.step_cache).

The keys are computed over a real datastore (foreach items are read from their stored blob), a
real graph and real environment locks; the whole reuse path is in tests/integration.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import xxhash

from headwater import FlowSpec, cache, step
from headwater.decorators.base import StepPolicy
from headwater.environments.lock import EnvLock
from headwater.graph import check_flow
from headwater.records import Frame, ParentRef, TaskSpec
from headwater.runtime.step_cache import StepCache, _flow_file_hash
from headwater.store import open_datastore


class KeyFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @cache
    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.fixture
def store(tmp_path):
    with open_datastore(str(tmp_path / "store")) as opened:
        yield opened


def key_maker(store, step_envs=None, env_vars=None):
    policies = {"body": StepPolicy(cache=True, env=dict(env_vars or {}))}
    cache_ = StepCache(flow_cls=KeyFlow, graph=check_flow(KeyFlow), policies=policies,
                       meta=None, store=store, step_envs=step_envs)
    return cache_


def body_spec(store, items, index, *, extra_artifacts=None):
    """The spec of the body task for ``items[index]``, its parent being start."""
    items_key, count = store.save_items(items, name="items", where="KeyFlow/1/start/1")
    manifest = {"items": store.save_artifact(items, name="items", where="start"),
                **(extra_artifacts or {})}
    frame = Frame("start", "1", index, count, True, items_key)
    parent = ParentRef("start", "1", manifest, ())
    return TaskSpec("KeyFlow", "1", "body", str(index + 2), 0, [parent], {}, (frame,))


def test_a_foreach_task_is_keyed_on_its_item_not_its_position(store) -> None:
    maker = key_maker(store)
    before = maker.key_for(body_spec(store, [1, 2, 3], 1))  # item 2 at position 1
    after = maker.key_for(body_spec(store, [0, 1, 2, 3], 2))  # item 2 moved to position 2
    assert before == after
    assert maker.key_for(body_spec(store, [1, 2, 3], 0)) != before  # another item


def test_an_input_artifact_changes_the_key(store) -> None:
    maker = key_maker(store)
    base = store.save_artifact(10, name="base", where="start")
    other = store.save_artifact(11, name="base", where="start")
    one = maker.key_for(body_spec(store, [1, 2], 0, extra_artifacts={"base": base}))
    two = maker.key_for(body_spec(store, [1, 2], 0, extra_artifacts={"base": other}))
    assert one != two


def test_the_environment_lock_and_variables_change_the_key(store) -> None:
    spec = body_spec(store, [1, 2], 0)
    plain = key_maker(store).key_for(spec)
    lock_a = EnvLock("pypi", "3.11.7", {"packages": {"rich": "13"}}, "rich==13.0.0\n")
    lock_b = EnvLock("pypi", "3.11.7", {"packages": {"rich": "13"}}, "rich==13.1.0\n")
    with_a = key_maker(store, {"body": SimpleNamespace(lock=lock_a)}).key_for(spec)
    with_b = key_maker(store, {"body": SimpleNamespace(lock=lock_b)}).key_for(spec)
    assert len({plain, with_a, with_b}) == 3
    assert key_maker(store, {"body": SimpleNamespace(lock=lock_a)}).key_for(spec) == with_a
    assert key_maker(store, env_vars={"MODE": "fast"}).key_for(spec) != plain


def test_only_cached_steps_are_wanted(store) -> None:
    maker = key_maker(store)
    assert maker.wants("body") and not maker.wants("start")


# -- code compiled without a file ---------------------------------------------------------------

GENERATED = '''
from headwater import FlowSpec, step

FACTOR = 3


def helper(x, offset=0):
    return x * FACTOR + offset


class GeneratedFlow(FlowSpec):
    LIMIT = 10

    @step
    def start(self):
        self.value = self.scaled(1)
        self.next(self.end)

    def scaled(self, x):
        return helper(x) + sum(map(lambda y: y + 1, [x]))

    @step
    def end(self):
        pass
'''

CHANGES = {  # each changes what the flow does, and nothing else
    "a constant in a step": ("self.scaled(1)", "self.scaled(2)"),
    "a name in a step": ("self.value =", "self.other ="),
    "a helper method": ("helper(x) +", "helper(x) -"),
    "a lambda inside a helper": ("y + 1", "y + 2"),
    "a module constant a helper reads": ("FACTOR = 3", "FACTOR = 4"),
    "a default argument": ("offset=0", "offset=1"),
    "a class constant": ("LIMIT = 10", "LIMIT = 11"),
}


def compiled_flow(text: str, filename: str = "<generated>") -> type:
    """The flow class ``text`` defines, compiled under ``filename``: no file, nothing registered
    with linecache, as a code generator that calls exec() leaves it."""
    namespace: dict = {"__name__": "generated_flow"}
    exec(compile(text, filename, "exec"), namespace)
    return namespace["GeneratedFlow"]


def test_a_flow_without_a_file_is_keyed_on_its_compiled_code() -> None:
    base = _flow_file_hash(compiled_flow(GENERATED))
    # The same code compiled elsewhere (another name, moved down) keys the same: line numbers
    # and file names are not part of what runs.
    assert _flow_file_hash(compiled_flow("\n\n" + GENERATED, "<another cell>")) == base
    keys = {}
    for what, (old, new) in CHANGES.items():
        assert old in GENERATED, what
        keys[what] = _flow_file_hash(compiled_flow(GENERATED.replace(old, new)))
        assert keys[what] != base, f"{what} left the key unchanged"
    assert len(set(keys.values())) == len(CHANGES)


def test_a_flow_in_a_file_is_keyed_on_the_files_bytes() -> None:
    # The key of a flow defined in a .py file did not change with the fileless rule.
    with open(__file__, "rb") as handle:
        assert _flow_file_hash(KeyFlow) == xxhash.xxh3_128(handle.read()).hexdigest()
