"""What one task does, in whatever process it was given: run the step, store what it made.

This module never touches metadata (only the scheduler writes it). It reads inherited artifacts
through the datastore on demand, runs the user's step function, checks the transition it took
against the graph, writes the artifacts the step created or touched, and returns a TaskResult.
"""

from __future__ import annotations

import builtins
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from headwater.decorators.mutation import apply_mutators, mutators_pending
from headwater.decorators.user_step import StepCall, run_under, user_wrappers
from headwater.exceptions import SerializationError, TransitionError
from headwater.flow.artifacts import ArtifactView
from headwater.flow.constants import class_constants
from headwater.flow.current import current, register_computed
from headwater.flow.flowspec import TaskState, Transition, is_stored_private
from headwater.flow.inputs import make_inputs
from headwater.flow.step import DECORATORS_ATTR, STEP_MARK
from headwater.graph.model import END, FOREACH, PARALLEL, SWITCH, Graph, StepNode
from headwater.records import (
    CAUGHT_CRASH_FACT,
    CAUGHT_RAISE_FACT,
    ArtifactRef,
    Frame,
    Manifest,
    ParentRef,
    TaskFailure,
    TaskResult,
    TaskSpec,
)
from headwater.runtime.join_parents import PARENTS_KEYS, load_parents
from headwater.runtime.memory_limit import out_of_memory_message
from headwater.runtime.quiet_warnings import metaflow_warning_filter
from headwater.runtime.step_timeout import step_time_limit
from headwater.spelling import closest
from headwater.store.datastore import discover_serializers
from headwater.tracebacks import user_traceback
from headwater.version import serving_metaflow


def execute_task(flow_cls: type, graph: Graph, spec: TaskSpec, store: Any) -> TaskResult:
    """Run ``spec`` in this process and return its result; user errors become a failed result."""
    with metaflow_warning_filter():
        return _execute_task(flow_cls, graph, spec, store)


def _execute_task(flow_cls: type, graph: Graph, spec: TaskSpec, store: Any) -> TaskResult:
    started = time.time()
    discover_serializers()  # a no-op in a task forked from the launching process
    node = graph[spec.step]
    flow = state = hooks = None
    cards = _bind_cards(spec, graph, store)
    try:
        keys = spec.extra.get(PARENTS_KEYS)
        if keys:  # a join over many inputs: its parents are in the datastore
            spec.parents = load_parents(store, keys, f"join task {spec.pathspec}")
        _run_mutators(flow_cls, spec, store)
        flow, state = _make_flow(flow_cls, node, spec, store)
        _snapshot_constants(flow_cls, state, spec, store)
        if cards is not None:
            cards.attach(flow, state)
        _bind_current(spec, flow_cls, graph, cards, store)
        env = spec.extra.get("env")
        if env:  # @environment: most steps have none (and os.environ.update is not free)
            os.environ.update(env)
        if spec.extra.get("secrets"):
            os.environ.update(_secrets(spec))
        caught = spec.extra.get("catch")
        hooks = _lifecycle_hooks(flow_cls, flow, spec)  # None unless the flow has plug-ins
        if caught is not None:
            _stand_in_for_failed_step(flow, state, node, spec, caught)
        elif hooks is not None:
            _call_step_with_hooks(hooks, flow, node, spec, store, state)
        else:
            timeout = spec.extra.get("timeout")
            if timeout:
                with step_time_limit(spec.step, timeout):
                    _call_step(flow, node, spec, store, state)
            else:  # most steps: no context manager to make
                _call_step(flow, node, spec, store, state)
            if "catch_var" in spec.extra:  # @catch(var=...): nothing was caught, so None
                setattr(flow, spec.extra["catch_var"], None)
        result = _finish(flow, state, node, spec, store)
        if hooks is not None:
            hooks.finished(True)
        if node.is_start:
            result.graph = _graph_info(current)
        if caught is not None and (caught["failure"].traceback or _is_parallel_worker(graph, spec)):
            # The step raised (it was not killed): as with Metaflow, @catch handled it within
            # that attempt, so the client does not count this stand-in as an attempt of its own.
            # Nor on a num_parallel worker: Metaflow counts the fallback on the control task only.
            result.metadata[CAUGHT_RAISE_FACT] = str(spec.attempt)
        elif caught is not None:  # it stood in after a crash: Metaflow's fallback attempt
            result.metadata[CAUGHT_CRASH_FACT] = "1"
    except BaseException as exc:  # noqa: BLE001 - any failure of user code fails the task
        if isinstance(exc, KeyboardInterrupt):
            raise
        result = TaskResult(failure=_describe_failure(exc))
        if hooks is not None:
            hooks.finished(False)
        said_by = spec.extra.get("catch_print")  # set when the step has @catch
        if said_by is None or "catch" in spec.extra or \
                spec.attempt < int(spec.extra.get("max_user_code_retries", 0)):
            print(result.failure.traceback, file=sys.stderr, end="")
            note = _contents_for_a_path_note(flow, exc) or _local_variable_note(flow_cls, exc)
            if note:
                print(note, file=sys.stderr)
        elif said_by:  # @catch takes over after this attempt: it tells, as Metaflow's does
            print_caught(spec, result.failure, flow)
        if flow is not None and state is not None:
            # As Metaflow does, whatever the flow imports: what a failed step had set is stored
            # (to inspect with the client, and for @catch's stand-in to keep and pass on).
            result.manifest = _kept_after_failure(flow, state, spec, store)
    if cards is not None:
        cards.finish(result)
    result.started_at = started
    result.finished_at = time.time()
    return result


def _contents_for_a_path_note(flow: Any, exc: BaseException) -> str | None:
    """A note when the step opened an ``IncludeFile``'s value as a path: the value is the
    file's contents, read at launch (``open(self.data)``, ``pd.read_csv(self.data)`` fail with
    the whole text as the missing file's name, which says nothing to a newcomer)."""
    filename = getattr(exc, "filename", None)
    if flow is None or not isinstance(exc, OSError) or not isinstance(filename, (str, bytes)):
        return None
    from headwater.flow.parameters import flow_parameters

    for attr, param in flow_parameters(type(flow)).items():
        if not param.is_include_file:
            continue
        try:
            value = getattr(flow, attr)
        except Exception:  # noqa: BLE001 - only a note: an unreadable value says nothing
            continue
        if value is None or value != filename:
            continue
        wrap = "io.StringIO" if isinstance(value, str) else "io.BytesIO"
        return (f"note: self.{attr} is the contents of the file IncludeFile '{param.name}' "
                f"read at launch, not its path: read the text itself (self.{attr}.splitlines()),"
                f" or give it to a reader as a file: {wrap}(self.{attr}) (e.g. "
                f"pd.read_csv({wrap}(self.{attr})))")
    return None


def _local_variable_note(flow_cls: type, exc: BaseException) -> str | None:
    """A note when a missing artifact is a plain local variable of a step (``score = ...``
    where ``self.score = ...`` was meant), found in the step's source: only what a step sets
    on ``self`` is stored, a newcomer's most common slip from functions that return values."""
    import re

    if not isinstance(exc, AttributeError):
        return None
    found = re.search(r"(?:input from step '([^']+)'.*)?has no artifact(?: or attribute)? "
                      r"'([A-Za-z_][A-Za-z0-9_]*)'", str(exc))
    if not found:
        return None
    wanted_step, name = found.group(1), found.group(2)
    from headwater.graph.build import local_assignment

    steps = [n for n in dir(flow_cls) if getattr(getattr(flow_cls, n, None), STEP_MARK, False)]
    steps.sort(key=lambda n: n != wanted_step)  # the input's own step first
    for step_name in steps:
        line = local_assignment(getattr(flow_cls, step_name), name)
        if line is not None:
            return (f"note: step '{step_name}' assigns {name} only as a local variable (line "
                    f"{line}), which is not stored: only what a step sets on self is. Write "
                    f"self.{name} = ... there, and read self.{name} (or inp.{name} in a join)")
    return None


def _call_step(flow: Any, node: StepNode, spec: TaskSpec, store: Any, state: TaskState,
               decorate: Callable[[Any], Any] | None = None, inputs: Any = None) -> None:
    """The step function, inside the user-defined step decorators it carries (if any);
    ``decorate`` (plug-ins' ``task_decorate``) wraps it first."""
    method = getattr(flow, spec.step)
    wrappers = user_wrappers(getattr(method, "__func__", method))
    if decorate is not None:
        method = decorate(method)
    elif node.is_join:
        inputs = make_inputs(spec.parents, store, spec.params, state.item_loader, spec.pathspec)
    if not wrappers:
        if node.is_join:
            method(inputs)
        else:
            method()
        return

    def take_next(options: dict[str, Any]) -> None:
        if node.transition != END:  # a skipped step goes where its own self.next would go
            state.transition = Transition(
                node.out, options.get("foreach", node.foreach_var),
                options.get("condition", node.condition_var),
                num_parallel=options.get("num_parallel"))

    run_under(wrappers, StepCall(spec.step, flow, inputs,
                                 (lambda: method(inputs)) if node.is_join else method, take_next))


def _lifecycle_hooks(flow_cls: type, flow: Any, spec: TaskSpec) -> Any:
    """The hooks of Metaflow-style plug-in decorators (``metaflow.decorators``) on this step or
    its flow, or None: the usual step carries none, and nothing is imported for it."""
    func = getattr(flow_cls, spec.step, None)
    decorators = list(getattr(func, DECORATORS_ATTR, None) or ())
    if not (getattr(flow_cls, "_hw_flow_plugins", None)
            or any(getattr(d, "_hw_task_hooks", False) for d in decorators)):
        return None
    from headwater.decorators.lifecycle import TaskHooks

    options = current.__dict__.get("_extra", {}).get("_hw_flow_options")
    return TaskHooks(flow, spec.step, decorators, spec.attempt,
                     int(spec.extra.get("max_user_code_retries", 0)), options, spec.frames)


def _call_step_with_hooks(hooks: Any, flow: Any, node: StepNode, spec: TaskSpec, store: Any,
                          state: TaskState) -> None:
    """The step inside its plug-ins' hooks, as Metaflow orders them: ``task_pre_step``, the
    step as ``task_decorate`` wrapped it, then ``task_post_step``, or ``task_exception`` (which
    may handle the error: the step then goes where its own ``self.next`` would have gone)."""
    inputs = (make_inputs(spec.parents, store, spec.params, state.item_loader, spec.pathspec)
              if node.is_join else None)
    hooks.start(spec.run_id, spec.task_id, inputs)
    try:
        timeout = spec.extra.get("timeout")
        if timeout:
            with step_time_limit(spec.step, timeout):
                _call_step(flow, node, spec, store, state, hooks.decorate, inputs)
        else:
            _call_step(flow, node, spec, store, state, hooks.decorate, inputs)
        if "catch_var" in spec.extra:
            setattr(flow, spec.extra["catch_var"], None)
    except Exception as exc:
        if not hooks.handled(exc):
            raise
        if node.transition != END and state.transition is None:
            state.transition = Transition(node.out, node.foreach_var, node.condition_var)
    else:
        hooks.succeeded()


def _secrets(spec: TaskSpec) -> dict[str, str]:
    """The variables of the step's ``@secrets`` (fetched here, in the task's own process)."""
    from headwater.decorators.secrets import fetch

    return fetch(spec.extra["secrets"], f"step '{spec.step}' of flow {spec.flow_name}")


def _bind_cards(spec: TaskSpec, graph: Graph, store: Any) -> Any:
    """``@card`` steps only: a step without cards imports nothing of them."""
    if not spec.extra.get("cards"):
        return None
    from headwater.runtime.task_cards import TaskCards

    return TaskCards(spec, graph, store)


def _make_flow(flow_cls: type, node: StepNode, spec: TaskSpec, store: Any) -> tuple[Any, TaskState]:
    state = _make_state(node, spec, store)
    flow = flow_cls.__new__(flow_cls)
    object.__setattr__(flow, "_hw_task", state)
    return flow, state


def _make_state(node: StepNode, spec: TaskSpec, store: Any) -> TaskState:
    if node.is_join or not spec.parents:
        inherited: Manifest = {}
    else:
        inherited = {k: v for k, v in spec.parents[0].manifest.items() if k not in spec.params}
    view = ArtifactView(store, inherited, spec.params, spec.pathspec)
    return TaskState(view, spec.step, spec.frames, _item_loader(store, spec.pathspec),
                     is_join=node.is_join)


def print_caught(spec: TaskSpec, failure: TaskFailure, flow: Any = None) -> None:
    """What ``@catch`` prints of the failure it caught, on stdout, as Metaflow's does: a line
    naming the flow and step (and, in a foreach, the task's index and item: ``str(flow)``),
    then the traceback, each line marked ``>  `` (the traceback is headwater's, of the user's
    frames only). Said by the attempt that raised, so the task's output reads as Metaflow's;
    by the stand-in when nothing was raised (a crash)."""
    said = failure.traceback or f"{_caught_type_name(failure.type_name)}: {failure.message}"
    lines = said.splitlines()
    where = f"<flow {spec.flow_name} step {spec.step}>"
    if flow is not None and getattr(flow, "_current_step", None) == spec.step:
        try:
            where = str(flow)
        except Exception:  # noqa: BLE001 - an item that cannot be read or shown: say less
            pass
    print("\n".join([f"@catch caught an exception from {where}",
                     *(f">  {line}" for line in lines)]), flush=True)


def _stand_in_for_failed_step(flow: Any, state: TaskState, node: StepNode, spec: TaskSpec,
                              caught: dict[str, Any]) -> None:
    """@catch: instead of the step, store the last failure and take the step's transition."""
    from headwater.decorators.catch import CaughtException

    failure = caught["failure"]
    for name, ref in (caught.get("kept") or {}).items():
        state.view.inherited[name] = ref
        state.view.deleted.discard(name)
    if caught.get("print", True) and not failure.traceback:
        # No exception was raised (the process died, or was stopped): nothing said it yet.
        print_caught(spec, failure, flow)
    if caught.get("var"):
        setattr(flow, caught["var"], CaughtException(_caught_type_name(failure.type_name),
                                                     failure.message, failure.traceback,
                                                     metaflow_text=serving_metaflow()))
    if node.transition != END:
        state.transition = Transition(node.out, node.foreach_var, node.condition_var)


# Failures headwater names itself (there was no Python exception), and the names a flow written
# for Metaflow checks for instead. Used only when ``metaflow`` is served by headwater.
_METAFLOW_FAILURE_NAMES = {
    "TaskCrashed": "metaflow.plugins.catch_decorator.FailureHandledByCatch",
    "TaskKilled": "metaflow.plugins.catch_decorator.FailureHandledByCatch",
    "TimeoutException": "metaflow.plugins.timeout_decorator.TimeoutException",
}


def _caught_type_name(type_name: str) -> str:
    """``@catch``'s ``type``: when the flow imports ``metaflow``, Metaflow's name (a crash or a
    timeout by Metaflow's classes, a built-in exception as ``builtins.KeyError``, as
    Metaflow's wrapper names it); headwater's otherwise."""
    if serving_metaflow():
        if "." not in type_name and isinstance(getattr(builtins, type_name, None), type):
            return f"builtins.{type_name}"
        return _METAFLOW_FAILURE_NAMES.get(type_name, type_name)
    return type_name


def _kept_after_failure(flow: Any, state: TaskState, spec: TaskSpec, store: Any) -> Manifest:
    """What a failed step had set before it failed: the failed task's artifacts, and what
    @catch's stand-in keeps (as with Metaflow). Best effort: a value that cannot be saved is
    left out, never a second failure."""
    try:
        return _collect_artifacts(flow, state, spec, store)
    except Exception:  # noqa: BLE001 - the step already failed; keep what can be kept
        return {}


def _item_loader(store: Any, where: str) -> Callable[[Frame], Any]:
    cache: dict[tuple[str, int], Any] = {}

    def load(frame: Frame) -> Any:
        if frame.is_control:  # an unbounded foreach's control task has no item of its own
            return None
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
    from headwater.decorators.parallel import CONTROL_TASK, ParallelInfo

    frame = spec.frames[-1]
    return {"parallel": ParallelInfo(frame.index, frame.num_splits,
                                     control_task_id=spec.extra.get(CONTROL_TASK))}


def _is_num_parallel_worker(spec: TaskSpec) -> bool:
    """A task of a ``num_parallel`` fan-out other than node 0 (its frame has no items)."""
    top = spec.frames[-1] if spec.frames else None
    return top is not None and top.is_foreach and top.items_key is None and top.index != 0


def _is_parallel_worker(graph: Graph, spec: TaskSpec) -> bool:
    """A task of a ``num_parallel`` fan-out other than its control task (node 0)."""
    info = _parallel_info(graph, spec).get("parallel")
    return info is not None and info.node_index != 0


def _bind_current(spec: TaskSpec, flow_cls: type, graph: Graph, cards: Any = None,
                  store: Any = None) -> None:
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
        tags=set(spec.tags),
        namespace=spec.namespace,
        **({} if cards is None else {"card": cards.collector}),  # Metaflow: @card steps only
        **_parallel_info(graph, spec),
        _datastore_root=store.root,  # where S3(run=self) puts its data
        _graph=(graph, flow_cls),  # current.graph, made on first read
        **spec.extra.get("current", {}),
    )


def _graph_info(cur: Any) -> dict[str, Any]:
    """``current.graph``: the running flow's graph as Metaflow's plain-data description."""
    from headwater.graph.info import graph_info

    graph, flow_cls = cur._graph
    return graph_info(graph, flow_cls, cur.parameter_names)


register_computed("graph", _graph_info)


def _finish(flow: Any, state: TaskState, node: StepNode, spec: TaskSpec, store: Any) -> TaskResult:
    result = TaskResult()
    if state.transition is None and _is_num_parallel_worker(spec) and node.transition != END:
        # As with Metaflow, a worker of a num_parallel step need not call self.next: it goes on
        # with the control task (node 0), whose transition the step's is.
        state.transition = Transition(node.out, node.foreach_var, node.condition_var)
    if not (spec.frames and spec.frames[-1].is_control):  # a control task goes nowhere
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
            f"self.next({', '.join(node.out)})",
            fix="a step's graph follows its last self.next; to choose the next step at run "
            "time, end the step with a switch: self.next({'a': self.a, 'b': self.b}, "
            "condition='choice')",
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
        raise TransitionError(f"{where}: foreach over '{var}', but self.{var} was never set"
                              f"{_close_name(var, flow)}",
                              fix=f"set self.{var} to a list before self.next(), or name the "
                              "artifact that holds the items in foreach=") from None
    _check_parameter_items(flow, var, items, where)
    _check_split_count(items, var, spec.max_num_splits, where)
    if isinstance(items, (str, bytes)):
        print(_text_items_note(flow, var, items, where), file=sys.stderr)
    elif hasattr(items, "columns") and hasattr(items, "iterrows"):
        print(_frame_items_note(var, items, where), file=sys.stderr)
    key, count = store.save_items(items, name=var, where=spec.pathspec)
    _check_split_count(range(count), var, spec.max_num_splits, where)
    result.foreach_count, result.foreach_items_key = count, key
    result.foreach_unbounded = getattr(items, "_hw_unbounded_foreach", False) is True


def _text_items_note(flow: Any, var: str, items: str | bytes, where: str) -> str:
    """A foreach over a ``str`` (or ``bytes``) runs one task per character, as Metaflow's does;
    almost always a list kept as text (``"a,b,c"``, JSON read but not parsed), so say so once,
    in the task's log, with the usual fixes (a parameter's are in its declaration: a step
    cannot set it)."""
    from headwater.flow.parameters import flow_parameters

    kind = type(items).__name__
    unit = "character" if isinstance(items, str) else "byte"
    shown = repr(items if len(items) <= 40 else items[:37]) + ("..." if len(items) > 40 else "")
    head = (f"Note: {where}: foreach='{var}' iterates a {kind}, {shown}, one task per {unit} "
            f"({len(items)} tasks).")
    if var in flow_parameters(type(flow)):
        return (f"{head} For one task per item, declare Parameter('{var}', separator=',') "
                f"(--{var} a,b,c) or Parameter('{var}', type=JSONType) (--{var} '[...]').")
    return (f"{head} For one task per item, make self.{var} a list before self.next(): "
            f"e.g. self.{var} = text.split(',') or json.loads(text); for the whole value "
            f"once, self.{var} = [text].")


def _frame_items_note(var: str, frame: Any, where: str) -> str:
    """A foreach over a DataFrame iterates its column names, as ``for x in df`` does (on
    Metaflow it fails, indexing ``df[0]``): almost always one task per row was meant."""
    columns = [str(c) for c in list(frame.columns)[:5]]
    more = ", ..." if len(frame.columns) > 5 else ""
    return (f"Note: {where}: foreach='{var}' iterates a DataFrame, which gives its column names "
            f"({', '.join(columns)}{more}): one task per column. For one task per row, make a "
            f"list of rows before self.next(): self.rows = self.{var}.to_dict('records') and "
            f"foreach='rows' (each self.input a dict of one row).")


def _check_parameter_items(flow: Any, var: str, items: Any, where: str) -> None:
    """A foreach over a parameter given one value: checked at launch already
    (:func:`headwater.runtime.parameters.check_swept_parameters`); here for the runs whose
    parameters the start task resolves (a deployed run), with the same words."""
    from headwater.flow.parameters import flow_parameters
    from headwater.runtime.parameters import one_value_for_a_list

    param = flow_parameters(type(flow)).get(var)
    problem = None if param is None else one_value_for_a_list(param, items)
    if problem is not None:
        raise TransitionError(f"{where}: {problem[0]}", fix=problem[1])


def _close_name(name: str, flow: Any) -> str:
    """``; did you mean self.items?`` when the step set an artifact spelt close to ``name``
    (``foreach="itmes"``): the step's own assignments, where the items are usually made."""
    from headwater.flow.parameters import flow_parameters

    # and the flow's parameters: `foreach="lr"` for a parameter `lrs`, which a step iterates
    # without assigning it
    names = [n for n in vars(flow) if not n.startswith("_")]
    close = closest(name, [*names, *flow_parameters(type(flow))])
    return f"; did you mean self.{close}?" if close else ""


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


def _run_mutators(flow_cls: type, spec: TaskSpec, store: Any) -> None:
    """Run the flow's mutators here when this process imported the flow afresh (a Dask worker,
    a @pypi/@conda interpreter, spin), with the run's configs, as the launch did; a task forked
    from the launching process finds them run already. The user decorators of ``--with`` go on
    the steps first, as at the launch."""
    if spec.extra.get("user_with"):
        from headwater.decorators.with_user import attach_with_specs

        attach_with_specs(flow_cls, tuple(spec.extra["user_with"]))
    if not mutators_pending(flow_cls):
        return
    from headwater.runtime.configs import config_scope, configs_from_refs

    values = configs_from_refs(flow_cls, spec.params, store, spec.pathspec)
    apply_mutators(flow_cls, config_scope(flow_cls, values))


def _collect_artifacts(flow: Any, state: TaskState, spec: TaskSpec, store: Any) -> Manifest:
    view = state.view
    manifest: Manifest = {k: v for k, v in view.inherited.items() if k not in view.deleted}
    for name, value in flow.__dict__.items():
        private = name.startswith("_")
        if private and not is_stored_private(name):
            continue
        ref = view.unchanged_ref(name, value)
        if ref is None:
            try:
                ref = store.save_artifact(value, name=name, where=spec.pathspec)
            except SerializationError:
                if private:  # a private helper that cannot be pickled (a connection, a lock)
                    continue
                raise
        manifest[name] = ref
    _add_constants(manifest, type(flow), spec, store)
    manifest.update(spec.params)
    return manifest


def _snapshot_constants(flow_cls: type, state: TaskState, spec: TaskSpec, store: Any) -> None:
    """Store the class-level constants a task does not inherit (start's, a join's) before its
    step runs: their value is the one the class defines. A step that changes one in place
    (``self.SETTINGS['k'].append(1)``) sees the change itself, but neither its artifact nor a
    later task does, as with Metaflow (its tasks store the values of the run's start)."""
    _add_constants(state.view.inherited, flow_cls, spec, store)


def _add_constants(manifest: Manifest, flow_cls: type, spec: TaskSpec, store: Any) -> None:
    """Class-level constants are artifacts of every task, as with Metaflow (stored once: the same
    value has the same hash): each one ``manifest`` lacks is added. One that cannot be pickled is
    left out rather than failing a task."""
    for name, value in class_constants(flow_cls).items():
        if name in manifest or name in spec.params:
            continue
        try:
            manifest[name] = store.save_artifact(value, name=name, where=spec.pathspec)
        except SerializationError:
            continue


def _describe_failure(exc: BaseException) -> TaskFailure:
    """The exception with a traceback of the user's frames only: headwater's are noise to them."""
    text = user_traceback(exc)
    message = str(exc)
    if isinstance(exc, SystemExit):  # str() is just the code, or nothing for sys.exit()
        message = f"the step called sys.exit({exc.code!r}); a step must return, not exit"
    elif isinstance(exc, MemoryError) and not message:  # a bare "MemoryError" says too little
        message = out_of_memory_message()
        text = text.rstrip("\n")
        if text.endswith("MemoryError"):
            text += f": {message}"
        text += "\n"
    return TaskFailure(exception_type_name(type(exc)), message, text)


def exception_type_name(kind: type) -> str:
    """``KeyError`` for built-in and headwater's own exceptions, ``module.Name`` for the others:
    the module tells two ``ValidationError`` apart, and a flow's own exceptions read as
    ``myflow.DataMissing`` (Metaflow's names, ``metaflow.exception.X``, included)."""
    module = getattr(kind, "__module__", "builtins")
    if module == "builtins" or module == "headwater" or module.startswith("headwater."):
        return kind.__qualname__
    return f"{module}.{kind.__qualname__}"


# Python 3.11 rewrites a function's bytecode in place ("quickening") after its first calls, then
# specializes its instructions over the next ones: enough rounds that both are done.
WARM_ROUNDS = 16


class _NoStore:
    """What the warm-up hands where a task has its store: nothing is ever read or written."""

    root = ""


def _warm_flow_api(flow_cls: type, state: TaskState, step: str) -> None:
    """What a step does through ``self``: read ``self.input``, assign, call ``self.next``; on an
    instance no step runs on, and only when the flow class keeps FlowSpec's own methods."""
    from headwater.flow.flowspec import FlowSpec

    if (flow_cls.__new__ is not object.__new__ or hasattr(flow_cls, "__del__")
            or any(getattr(flow_cls, name) is not getattr(FlowSpec, name)
                   for name in ("__setattr__", "__getattr__", "__getattribute__", "next"))
            or type(getattr(flow_cls, step, None)) is not type(_warm_flow_api)):
        return
    flow = flow_cls.__new__(flow_cls)
    object.__setattr__(flow, "_hw_task", TaskState(state.view, step, state.frames,
                                                   lambda frame: frame.index))
    if getattr(flow_cls, "input", None) is FlowSpec.__dict__["input"]:
        flow.input  # noqa: B018 - the property's code is what is warmed
    flow.hw_warm_value = 1
    flow.next(getattr(flow, step))


def warm_task_path(flow_cls: type, graph: Graph) -> None:
    """Run, in a fork server between two forks (``forkserver.REHEARSE_AFTER``), the in-memory
    code every task runs around its step: a TaskSpec unpickled, the task's state and ``current``
    made, a TaskResult pickled.

    Each task is a fresh fork: a function it calls for the first times writes its code object
    (warm-up counter, quickened bytecode), a copy-on-write page copied in every task. Warmed
    here once, the children share the finished code. No user code runs, no store is touched
    and ``current`` is left as it was.
    """
    import pickle

    node = next(iter(graph))
    saved = dict(current.__dict__)
    try:
        for _ in range(WARM_ROUNDS):
            ref = ArtifactRef("0" * 32, 4, "builtins.int", inline=b"")
            frames = (Frame(node.name, "1", 0, 2, is_foreach=True, items_key="0" * 32),)
            spec = TaskSpec("WarmFlow", "1", node.name, "2", 0,
                            [ParentRef(node.name, "1", {"x": ref}, frames)], {"n": ref}, frames,
                            username="warm")
            spec = pickle.loads(pickle.dumps(spec, protocol=5))
            state = _make_state(node, spec, None)
            state.view.unchanged_ref("x", 0)
            _warm_flow_api(flow_cls, state, node.name)
            _bind_current(spec, flow_cls, graph, None, _NoStore)
            result = TaskResult(manifest={"x": ref, "n": ref}, next_steps=(node.name,))
            result.started_at = result.finished_at = time.time()
            pickle.loads(pickle.dumps(result, protocol=5))
    finally:
        current.__dict__.clear()
        current.__dict__.update(saved)
