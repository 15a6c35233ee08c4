"""The @cache key: what changes it and what does not (headwater.runtime.step_cache).

The keys are computed over a real datastore (foreach items are read from their stored blob), a
real graph and real environment locks; the whole reuse path is in tests/integration.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from headwater import FlowSpec, cache, step
from headwater.decorators.base import StepPolicy
from headwater.environments.lock import EnvLock
from headwater.graph import check_flow
from headwater.records import Frame, ParentRef, TaskSpec
from headwater.runtime.step_cache import StepCache
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
