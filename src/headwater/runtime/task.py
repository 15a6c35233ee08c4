"""What one task does, in whatever process it was given: run the step, store what it made.

This module never touches metadata (only the scheduler writes it). It reads inherited artifacts
through the datastore on demand, runs the user's step function, checks the transition it took
against the graph, writes the artifacts the step created or touched, and returns a TaskResult.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from headwater.exceptions import TransitionError
from headwater.flow.artifacts import ArtifactView
from headwater.flow.current import CardCollector, current
from headwater.flow.flowspec import TaskState, Transition
from headwater.flow.inputs import make_inputs
from headwater.graph.model import END, FOREACH, PARALLEL, SWITCH, Graph, StepNode
from headwater.records import Frame, Manifest, TaskFailure, TaskResult, TaskSpec

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def execute_task(flow_cls: type, graph: Graph, spec: TaskSpec, store: Any) -> TaskResult:
    """Run ``spec`` in this process and return its result; user errors become a failed result."""
    started = time.time()
    node = graph[spec.step]
    try:
        flow, state = _make_flow(flow_cls, node, spec, store)
        _bind_current(spec, flow_cls, graph)
        os.environ.update(spec.extra.get("env", {}))
        caught = spec.extra.get("catch")
        if caught is not None:
            _stand_in_for_failed_step(flow, state, node, caught)
        elif node.is_join:
            getattr(flow, spec.step)(make_inputs(spec.parents, store, spec.params,
                                                 state.item_loader, spec.pathspec))
        else:
            getattr(flow, spec.step)()
        result = _finish(flow, state, node, spec, store)
    except BaseException as exc:  # noqa: BLE001 - any failure of user code fails the task
        if isinstance(exc, KeyboardInterrupt):
            raise
        result = TaskResult(failure=_describe_failure(exc))
        print(result.failure.traceback, file=sys.stderr, end="")
    result.started_at = started
    result.finished_at = time.time()
    return result


def _make_flow(flow_cls: type, node: StepNode, spec: TaskSpec, store: Any) -> tuple[Any, TaskState]:
    if node.is_join or not spec.parents:
        inherited: Manifest = {}
    else:
        inherited = {k: v for k, v in spec.parents[0].manifest.items() if k not in spec.params}
    view = ArtifactView(store, inherited, spec.params, spec.pathspec)
    state = TaskState(view, spec.step, spec.frames, _item_loader(store, spec.pathspec),
                      is_join=node.is_join)
    flow = flow_cls.__new__(flow_cls)
    object.__setattr__(flow, "_hw_task", state)
    return flow, state


def _stand_in_for_failed_step(flow: Any, state: TaskState, node: StepNode,
                              caught: dict[str, Any]) -> None:
    """@catch: instead of the step, store the last failure and take the step's transition."""
    from headwater.decorators.catch import CaughtException

    failure = caught["failure"]
    if caught.get("print", True):
        print(f"@catch: step '{node.name}' failed, the flow goes on. {failure.type_name}: "
              f"{failure.message}", file=sys.stderr)
    if caught.get("var"):
        setattr(flow, caught["var"], CaughtException(failure.type_name, failure.message,
                                                     failure.traceback))
    if node.transition != END:
        state.transition = Transition(node.out, node.foreach_var, node.condition_var)


def _item_loader(store: Any, where: str) -> Callable[[Frame], Any]:
    cache: dict[tuple[str, int], Any] = {}

    def load(frame: Frame) -> Any:
        key = (frame.items_key or "", frame.index)
        if key not in cache:
            cache[key] = store.load_item(frame.items_key, frame.index,
                                         name=f"the foreach of step '{frame.step}'", where=where)
        return cache[key]

    return load


def _parallel_info(graph: Graph, spec: TaskSpec) -> dict[str, Any]:
    """``current.parallel`` for a task launched by ``num_parallel``."""
    if not spec.frames or graph[spec.frames[-1].step].transition != PARALLEL:
        return {}
    from headwater.decorators.parallel import ParallelInfo

    frame = spec.frames[-1]
    return {"parallel": ParallelInfo(frame.index, frame.num_splits)}


def _bind_current(spec: TaskSpec, flow_cls: type, graph: Graph) -> None:
    current._reset()
    current._bind(
        flow_name=spec.flow_name,
        run_id=spec.run_id,
        step_name=spec.step,
        task_id=spec.task_id,
        retry_count=spec.attempt,
        origin_run_id=spec.origin_run_id,
        parameter_names=sorted(spec.params),
        username=spec.username,
        tags=frozenset(spec.tags),
        namespace=spec.namespace,
        card=CardCollector(),
        **_parallel_info(graph, spec),
        **spec.extra.get("current", {}),
    )


def _finish(flow: Any, state: TaskState, node: StepNode, spec: TaskSpec, store: Any) -> TaskResult:
    result = TaskResult()
    result.next_steps = _check_transition(flow, state, node, spec, store, result)
    result.manifest = _collect_artifacts(flow, state, spec, store)
    return result


def _check_transition(flow: Any, state: TaskState, node: StepNode, spec: TaskSpec, store: Any,
                      result: TaskResult) -> tuple[str, ...]:
    taken = state.transition
    where = f"step '{node.name}' of flow {spec.flow_name}"
    if node.transition == END:
        if taken is not None:
            raise TransitionError(f"{where}: the end step must not call self.next()")
        return ()
    if taken is None:
        raise TransitionError(
            f"{where} finished without calling self.next()",
            fix="make self.next(...) the last statement of every path through the step",
        )
    if node.transition == SWITCH:
        return (_switch_target(flow, node, taken, where),)
    if tuple(taken.targets) != tuple(node.out):
        raise TransitionError(
            f"{where} called self.next({', '.join(taken.targets)}) but its source says "
            f"self.next({', '.join(node.out)})"
        )
    if node.transition == FOREACH:
        _fan_out(flow, node, spec, store, result, where)
    elif node.transition == PARALLEL:
        result.foreach_count = int(taken.num_parallel or 0)
    return node.out


def _switch_target(flow: Any, node: StepNode, taken: Transition, where: str) -> str:
    var = node.condition_var or ""
    value = getattr(flow, var)
    target = node.switch_cases.get(str(value))
    if target is None:
        cases = ", ".join(repr(c) for c in node.switch_cases)
        raise TransitionError(
            f"{where}: condition '{var}' is {value!r}, which is none of the cases {cases}",
            fix=f"set self.{var} to one of {cases} before self.next()",
        )
    return target


def _fan_out(flow: Any, node: StepNode, spec: TaskSpec, store: Any, result: TaskResult,
             where: str) -> None:
    var = node.foreach_var or ""
    try:
        items = getattr(flow, var)
    except AttributeError:
        raise TransitionError(f"{where}: foreach over '{var}', but self.{var} was never set") from None
    _check_split_count(items, var, spec.max_num_splits, where)
    key, count = store.save_items(items, name=var, where=spec.pathspec)
    _check_split_count(range(count), var, spec.max_num_splits, where)
    result.foreach_count, result.foreach_items_key = count, key


def _check_split_count(items: Any, var: str, limit: int, where: str) -> None:
    """Refuse an empty foreach or one over ``--max-num-splits`` from its length alone.

    Called before any item is pickled: ``range(10**12)`` is refused at once instead of after
    gigabytes of stored items. A value without a length is left to the store, which names
    the sequence types a foreach accepts.
    """
    try:
        count = len(items)
    except OverflowError:  # len(range(10**20)): too many to even count in a C integer
        count = sys.maxsize
    except TypeError:
        return
    if count == 0:
        raise TransitionError(f"{where}: foreach over '{var}' has no items",
                              fix=f"make self.{var} a non-empty list")
    if count > limit:
        shown = "more than 2**63" if count == sys.maxsize else str(count)
        raise TransitionError(
            f"{where}: foreach over '{var}' has {shown} items, more than --max-num-splits "
            f"({limit}); nothing was stored",
            fix=f"raise the limit with run --max-num-splits {count}, or split fewer ways",
        )


def _collect_artifacts(flow: Any, state: TaskState, spec: TaskSpec, store: Any) -> Manifest:
    view = state.view
    manifest: Manifest = {k: v for k, v in view.inherited.items() if k not in view.deleted}
    for name, value in flow.__dict__.items():
        if name.startswith("_"):
            continue
        ref = view.unchanged_ref(name, value)
        if ref is None:
            ref = store.save_artifact(value, name=name, where=spec.pathspec)
        manifest[name] = ref
    manifest.update(spec.params)
    return manifest


def _describe_failure(exc: BaseException) -> TaskFailure:
    """The exception with a traceback of the user's frames only: headwater's are noise to them."""
    frames = [
        frame for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(_PACKAGE_DIR)
    ]
    text = "".join(traceback.format_exception_only(type(exc), exc))
    if frames:
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + text
    message = str(exc)
    if isinstance(exc, SystemExit):  # str() is just the code, or nothing for sys.exit()
        message = f"the step called sys.exit({exc.code!r}); a step must return, not exit"
    return TaskFailure(type(exc).__name__, message, text)
