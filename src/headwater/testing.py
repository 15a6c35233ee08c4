"""Test one step of a flow from pytest, without running the flow: :func:`run_step`.

::

    from headwater.testing import run_step

    def test_train():
        out = run_step(TrainFlow, "train", artifacts={"data": [1, 2, 3]}, params={"alpha": 0.1})
        assert out.data.model == ...
        assert out.next == ("end",)

The step runs exactly as in a run (same task code, in its own forked process, with a temporary
datastore that is removed afterwards), so what passes here behaves the same way in ``run``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.decorators.registry import step_policy
from headwater.exceptions import NotFoundError, TaskFailedError
from headwater.flow.config import ConfigValue as _ConfigValue
from headwater.flow.config import flow_configs
from headwater.graph import check_flow
from headwater.graph.model import Graph
from headwater.records import Frame, ParentRef, TaskFailure, TaskSpec
from headwater.runtime.configs import config_scope, config_value
from headwater.runtime.parameters import resolve_parameters, store_parameters
from headwater.runtime.project import project_info
from headwater.runtime.single import run_single_task
from headwater.settings import current_username
from headwater.store import open_datastore

__all__ = ["StepFailed", "StepRun", "run_step"]

_NO_INPUT = object()


class StepFailed(TaskFailedError):
    """The step raised (or exited): carries the exception's type name, message and traceback."""

    headline = "Step failed"

    def __init__(self, step: str, failure: TaskFailure, stdout: str, stderr: str,
                 note: str = "") -> None:
        self.step = step
        self.failure = failure
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"step '{step}' failed: {failure.type_name}: {failure.message}\n"
                         f"{failure.traceback}{note}")


class Artifacts:
    """``out.data``: the task's artifacts by attribute (``out.data.model``) or key."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__["_values"]
        if name in values:
            return values[name]
        raise AttributeError(f"the step left no artifact {name!r}; it has: "
                             f"{', '.join(sorted(values)) or 'none'}")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __iter__(self) -> Any:
        return iter(self._values)

    def __repr__(self) -> str:
        return f"<artifacts {', '.join(sorted(self._values))}>"


@dataclass
class StepRun:
    """What one step did: its artifacts, the transition it took and its output."""

    step: str
    data: Artifacts
    next: tuple[str, ...]  # the steps it transitions to (the chosen case of a switch)
    foreach_count: int | None  # the number of items when it fans out with foreach
    stdout: str
    stderr: str
    failure: TaskFailure | None = None
    created: frozenset[str] = field(default_factory=frozenset)  # set or changed by the step

    @property
    def ok(self) -> bool:
        return self.failure is None


def run_step(
    flow_cls: type,
    step: str,
    *,
    artifacts: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    inputs: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] | None = None,
    input: Any = _NO_INPUT,  # noqa: A002 - the name the step reads, self.input
    index: int = 0,
    check: bool = True,
) -> StepRun:
    """Run ``step`` of ``flow_cls`` once and return what it did.

    - ``artifacts``: what the step inherits from its parent (``self.data`` ...).
    - ``params``: parameter values by name (the others take their defaults, as in ``run``).
    - ``configs``: config values by name, as dicts (the others take their defaults).
    - ``inputs``: for a join, one dict of artifacts per input (a list), or per parent step name.
    - ``input`` / ``index``: for a step inside a foreach, its item and position.
    - ``check``: raise :class:`StepFailed` when the step fails (else look at ``.failure``).
    """
    graph = check_flow(flow_cls)
    if step not in graph.nodes:
        raise NotFoundError(f"flow {flow_cls.__name__} has no step {step!r}"
                            f"{graph.unknown_step(step)}",
                            fix=f"its steps are: {', '.join(graph.nodes)}")
    node = graph[step]
    _check_join_arguments(flow_cls, step, node.is_join, inputs, input)
    root = tempfile.mkdtemp(prefix="headwater-test-")
    try:
        store = open_datastore(root)
        user = current_username()
        config_values = _configs(flow_cls, configs or {})
        scope = config_scope(flow_cls, config_values)
        values = resolve_parameters(flow_cls, dict(params or {}), user, scope)
        param_refs = store_parameters({**values, **config_values}, store, "test/parameters")
        if node.is_join:
            parents = _join_parents(graph, step, inputs or [], store)
            frames: tuple[Frame, ...] = ()
        else:
            frames = _frames(graph, step, store, input, index)
            parents = _parent(graph, step, artifacts or {}, store, frames)
        project = project_info(flow_cls, user, configs=scope)
        policy = step_policy(getattr(flow_cls, step), [], scope)
        spec = TaskSpec(
            flow_name=flow_cls.__name__, run_id="test", step=step, task_id="1", attempt=0,
            parents=parents, params=param_refs, frames=frames, is_join=node.is_join,
            username=user, namespace=f"user:{user}",
            extra={"env": policy.env, "current": project.current_fields() if project else {},
                   # @card: current.card works as in `run` (the card goes with the temporary
                   # datastore); without it a carded step failed, told it had no @card
                   **({"cards": policy.cards} if policy.cards else {})},
        )
        outcome = run_single_task(flow_cls, graph, spec, store, capture=True)
        result = outcome.result
        if result.failure is not None and check:
            raise StepFailed(step, result.failure, outcome.stdout, outcome.stderr,
                             _no_item_note(flow_cls, graph, step, input))
        loaded = {name: store.load_artifact(ref, name=name, where=spec.pathspec)
                  for name, ref in result.manifest.items()}
        inherited = parents[0].manifest if parents and not node.is_join else {}
        created = frozenset(n for n, ref in result.manifest.items()
                            if n not in param_refs and inherited.get(n) != ref)
        return StepRun(step, Artifacts(loaded), tuple(result.next_steps), result.foreach_count,
                       outcome.stdout, outcome.stderr, result.failure, created)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _no_item_note(flow_cls: type, graph: Graph, step: str, item: Any) -> str:
    """A foreach's body run without ``input=``: its ``self.input`` was None, which is likelier
    the test's omission than the step's bug. Say so under the failure."""
    node = graph[step]
    if item is not _NO_INPUT or not any(graph[parent].foreach_param for parent in node.in_steps
                                        if parent in graph.nodes):
        return ""
    split = next(p for p in node.in_steps if graph[p].foreach_param)
    return (f"\nnote: step '{step}' runs for each item of the foreach in '{split}', and no "
            f"input= was given, so self.input was None; give the item: run_step("
            f"{flow_cls.__name__}, {step!r}, input=ITEM, index=0)")


def _configs(flow_cls: type, given: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attr, cfg in flow_configs(flow_cls).items():
        value = given.get(cfg.name, given.get(attr))
        values[attr] = _ConfigValue(value) if value is not None else config_value(flow_cls, cfg, None)
    return values


def _parent(graph: Graph, step: str, artifacts: Mapping[str, Any], store: Any,
            frames: tuple[Frame, ...]) -> list[ParentRef]:
    if not artifacts:
        return []
    before = graph[step].in_steps[0] if graph[step].in_steps else (graph.start_step or "start")
    manifest = {k: store.save_artifact(v, name=k, where="test/inputs") for k, v in artifacts.items()}
    return [ParentRef(before, "0", manifest, frames)]


def _frames(graph: Graph, step: str, store: Any, item: Any, index: int) -> tuple[Frame, ...]:
    """A one-level foreach around the step when the test gives it an ``input``."""
    if item is _NO_INPUT:
        return ()
    key, _ = store.save_items([None] * index + [item], name="input", where="test/inputs")
    first = graph.start_step or "start"
    split = graph[step].split_parents[-1] if graph[step].split_parents else first
    return (Frame(split, "0", index, index + 1, is_foreach=True, items_key=key),)


def _check_join_arguments(flow_cls: type, step: str, is_join: bool, inputs: Any,
                          item: Any) -> None:
    """``inputs=`` is a join's and ``input=`` a foreach item's: one given to the other kind of
    step was silently ignored (``inputs=0.1`` for a foreach body ran it with no item)."""
    call = f"run_step({flow_cls.__name__}, {step!r}, ...)"
    if inputs is not None and not is_join:
        shown = repr(inputs) if len(repr(inputs)) <= 60 else "..."
        raise TypeError(
            f"{call}: inputs= is for a join step, and step {step!r} is no join. For the item "
            f"of a foreach, give input={shown}; for the artifacts it reads, "
            f"artifacts={{'name': value}}")
    if item is not _NO_INPUT and is_join:
        raise TypeError(
            f"{call}: input= is a foreach item, and step {step!r} is a join: give inputs=[{{...}}, "
            f"{{...}}], one dict of artifacts per input (inp.input of each: {{'input': item}})")


def _join_parents(graph: Graph, step: str, inputs: Any, store: Any) -> list[ParentRef]:
    before = graph[step].in_steps
    if isinstance(inputs, Mapping):
        unknown = sorted(set(inputs) - set(before))
        if unknown:
            raise NotFoundError(f"join '{step}' has no input step {', '.join(unknown)}",
                                fix=f"its inputs come from: {', '.join(before)}")
        named = list(inputs.items())
    elif len(before) == len(inputs) and len(before) > 1:
        named = list(zip(before, inputs, strict=True))
    else:
        named = [(before[0] if before else (graph.start_step or "start"), arts)
                 for arts in inputs]
    count = len(named)
    parents = []
    for i, (parent_step, arts) in enumerate(named):
        manifest = {k: store.save_artifact(v, name=k, where="test/inputs") for k, v in arts.items()}
        frame = Frame("split", "0", i, count, is_foreach=len(before) == 1)
        parents.append(ParentRef(parent_step, str(i + 1), manifest, (frame,)))
    return parents
