"""``FlowSpec``: the base class of every flow.

A user subclasses it and writes ``@step`` methods. Run as a script (``MyFlow()`` under
``if __name__ == '__main__'``) it hands control to the command line. Inside a task, the runtime
builds an instance without calling ``__init__`` and binds a :class:`TaskState` to it; attribute
reads then fall through to the lazily loaded artifacts the task inherited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from headwater.exceptions import MergeArtifactsError, ReservedAttributeError, TransitionError
from headwater.flow.artifacts import ArtifactView
from headwater.flow.constants import class_constants
from headwater.flow.inputs import Inputs, _top_foreach
from headwater.records import Factory, Frame, Record
from headwater.spelling import closest

# Names a step may not assign: they are the framework's, and shadowing them would break the run.
RESERVED = frozenset(
    {"next", "input", "index", "foreach_stack", "merge_artifacts", "name", "script_name"}
)


class Transition(Record):
    """What the step asked for with ``self.next``."""

    targets: tuple[str, ...]
    foreach: str | None = None
    condition: str | None = None
    cases: dict[str, str] = Factory(dict)
    num_parallel: int | None = None


# How ``flow._graph`` is made: registered by headwater.graph.metaflow_view (the graph layer sits
# above this one, so this module never imports it).
_GRAPH_VIEW: Callable[[type], Any] | None = None


def use_graph_view(make: Callable[[type], Any]) -> None:
    global _GRAPH_VIEW
    _GRAPH_VIEW = make


# How ``MyFlow._flow_state`` is made: registered by headwater.compat.flowspec_names, which also
# defines the keys (``FlowStateItems``) Metaflow's code reads it with.
_FLOW_STATE_VIEW: Callable[[type], Any] | None = None


def use_flow_state_view(make: Callable[[type], Any]) -> None:
    global _FLOW_STATE_VIEW
    _FLOW_STATE_VIEW = make


class _OfClass:
    """A read-only attribute computed from the flow class, the same on the class and on its
    instances (Metaflow keeps ``_graph`` and ``_flow_state`` on the class)."""

    def __init__(self, compute: Callable[[type], Any]) -> None:
        self._compute = compute
        self.__doc__ = compute.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self._compute(owner if owner is not None else type(obj))


def _graph_of(cls: type) -> Any:
    """The flow's graph as Metaflow's tools read it (nodes by step name, Metaflow's types)."""
    cached = cls.__dict__.get("_hw_graph")
    if cached is None:
        if _GRAPH_VIEW is None:
            raise AttributeError("the flow's graph view is not loaded "
                                 "(import headwater.graph.metaflow_view)")
        cached = _GRAPH_VIEW(cls)
        type.__setattr__(cls, "_hw_graph", cached)
    return cached


def _flow_state_of(cls: type) -> Any:
    """The flow's mutators, flow decorators and configs, keyed as Metaflow keys them."""
    if _FLOW_STATE_VIEW is None:
        raise AttributeError("the flow's state view is not loaded "
                             "(import headwater.compat.flowspec_names)")
    return _FLOW_STATE_VIEW(cls)


def _self_class(cls: type) -> type:
    """The flow class itself: what ``MyFlow._flow_cls`` is in headwater, where a flow mutator
    above a class returns the class (Metaflow returns the mutator, whose ``_flow_cls`` it is)."""
    return cls


class ForeachFrame(NamedTuple):
    """One enclosing foreach level, in Metaflow's shape (``flow._foreach_stack``)."""

    step: str
    var: str | None
    num_splits: int
    index: int
    value: Any


class TaskState(Record):
    """Per-task state bound to the flow instance by the runtime (never stored as an artifact)."""

    view: ArtifactView
    step_name: str
    frames: tuple[Frame, ...]
    item_loader: Any  # Frame -> the foreach item of that frame
    is_join: bool = False
    transition: Transition | None = None
    merged: bool = False


def _called_with_parameters(flow_cls: type, parameters: dict[str, Any]) -> TypeError:
    """``MyFlow(alpha=0.5)``, the flow called as a function (Prefect's, Dagster's habit): a flow
    object is made by its command line, and runs with parameters start from the Runner."""
    import inspect
    import json
    import os
    import shlex

    shown = list(parameters.items())[:3]
    given = ", ".join(f"{name}={value!r}" for name, value in shown)
    try:
        file = inspect.getsourcefile(flow_cls) or "flow.py"
        relative = os.path.relpath(file)
        file = file if relative.startswith(os.pardir) else relative
    except (TypeError, OSError, ValueError):
        file = "flow.py"
    typed = " ".join(
        f"--{name} " + shlex.quote(value if isinstance(value, str) else json.dumps(value, default=str))
        for name, value in shown)
    return TypeError(
        f"{flow_cls.__name__}() takes no parameters ({given}): a flow is not called like a "
        f"function. To run it with them from Python: Runner({file!r}).run({given}) (from "
        f"headwater import Runner), or NBRunner({flow_cls.__name__}).nbrun({given}) in a "
        f"notebook; on the command line: python {shlex.quote(file)} run {typed}")


class FlowSpec:
    """Base class for flows. Subclass it, add ``@step`` methods, call ``MyFlow()`` to get a CLI."""

    _hw_task: TaskState | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__ == "__main__":
            # A script that defines its flow and forgets ``MyFlow()`` would exit silently.
            from headwater.flow import unstarted

            unstarted.watch(cls)

    def __init__(self, use_cli: bool = True, **parameters: Any) -> None:
        if parameters:
            raise _called_with_parameters(type(self), parameters)
        from headwater.flow import unstarted

        unstarted.mark_started()
        if use_cli:
            # Imported here, not at module level: the CLI sits above the flow API in the layering.
            from headwater.cli.plain_run import main_for_flow_class

            main_for_flow_class(type(self))

    # -- identity ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The flow's name: its class name (outside a run, a flow object may be given another)."""
        return self.__dict__.get("_hw_name") or type(self).__name__

    @property
    def script_name(self) -> str:
        import os
        import sys

        return os.path.basename(sys.modules[type(self).__module__].__file__ or "")

    # -- the graph, as Metaflow's tools read it -------------------------------------------------
    _graph = _OfClass(_graph_of)
    _flow_state = _OfClass(_flow_state_of)
    _flow_cls = _OfClass(_self_class)

    @classmethod
    def _get_parameters(cls) -> Any:
        """``(attribute name, Parameter or Config)`` for each of the flow's configs, then each
        of its parameters (Metaflow's private helper, read by tools written for it)."""
        from headwater.flow.config import flow_configs
        from headwater.flow.parameters import flow_parameters

        yield from flow_configs(cls).items()
        yield from flow_parameters(cls).items()

    @property
    def _current_step(self) -> str | None:
        """The step this task runs (Metaflow's private name for it, read by some tools)."""
        state = self.__dict__.get("_hw_task")
        return state.step_name if state is not None else None

    def __str__(self) -> str:
        """``<flow F>``; in a task ``<flow F step S>``, and within a foreach the task's indices
        and its item, shortened: ``<flow F step S[0,2] (input: abc)>``, as Metaflow writes it
        (in @catch's message, for one)."""
        step = self._current_step
        if step is None:
            return f"<flow {self.name}>"
        # the indices from the frames: foreach_stack() would load every level's item as well
        indices = ",".join(str(f.index) for f in self._state().frames if f.is_foreach)
        if not indices:
            return f"<flow {self.name} step {step}>"
        item = self.input
        if item is None:
            return f"<flow {self.name} step {step}[{indices}]>"
        shown = str(item)
        if len(shown) > 20:
            shown = shown[:20] + "..."
        return f"<flow {self.name} step {step}[{indices}] (input: {shown})>"

    def __iter__(self) -> Any:
        """The steps of the flow (graph nodes with ``name``), start first and end last."""
        return iter(self._graph)

    # -- artifact access -----------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: an inherited artifact not yet loaded.
        state = self.__dict__.get("_hw_task")
        if state is not None and not name.startswith("__") and state.view.has(name):
            value = state.view.load(name)
            object.__setattr__(self, name, value)
            return value
        if name == "_graph_info" and state is not None:
            # Metaflow's flow object carries its graph's description (a mutators page example
            # prints it); the same dict as current.graph.
            from headwater.flow.current import current

            return current.graph
        where = f" in step '{state.step_name}'" if state is not None else ""
        raise AttributeError(f"flow {type(self).__name__} has no artifact or attribute "
                             f"{name!r}{where}{self._closest_artifact(name)}")

    def _closest_artifact(self, name: str) -> str:
        """``; did you mean self.pets?`` for a misspelt artifact this task can read."""
        state = self.__dict__.get("_hw_task")
        if state is None or name.startswith("_"):
            return ""
        known = [n for n in state.view.inherited if state.view.has(n)]
        known += [n for n in self.__dict__ if not n.startswith("_")]
        close = closest(name, known)
        return f"; did you mean self.{close}?" if close else _join_hint(name, state)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "name" and isinstance(value, str) and self.__dict__.get("_hw_task") is None:
            # Metaflow's FlowSpec.__init__ sets self.name, so flow objects made outside a run
            # (test doubles that fake a running flow) may name themselves; a step may not.
            object.__setattr__(self, "_hw_name", value)
            return
        if name in RESERVED or name in _PRIVATE_OWNED or name.startswith("_hw"):
            raise ReservedAttributeError(
                f"step cannot assign 'self.{name}' in flow {type(self).__name__}: "
                f"'{name}' belongs to the framework",
                fix=f"choose another name, e.g. self.{name}_value",
            )
        if self.__dict__.get("_hw_task") is not None and name in class_constants(type(self)):
            raise ReservedAttributeError(
                f"step cannot assign 'self.{name}' in flow {type(self).__name__}: '{name}' is a "
                "class-level constant of the flow (as with Metaflow, constants are read-only)",
                fix=f"store the new value under another name, e.g. self.{name}_now = ...",
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        state = self.__dict__.get("_hw_task")
        present = name in self.__dict__
        inherited = state is not None and state.view.has(name)
        if not present and not inherited:
            raise AttributeError(f"flow {type(self).__name__} has no artifact {name!r} to delete")
        if present:
            object.__delattr__(self, name)
        if inherited:
            state.view.deleted.add(name)

    def _hw_get_parameter(self, attr: str) -> Any:
        state = self.__dict__.get("_hw_task")
        if state is None:
            raise AttributeError(f"parameter {attr!r} has a value only while the flow runs")
        return state.view.load_param(attr)

    # -- foreach -------------------------------------------------------------------------------
    @property
    def index(self) -> int | None:
        """Position of this task's item in the innermost foreach (None outside a foreach)."""
        frame = _top_foreach(self._state().frames)
        return None if frame is None else frame.index

    @property
    def input(self) -> Any:
        """This task's item of the innermost foreach (None outside a foreach)."""
        state = self._state()
        frame = _top_foreach(state.frames)
        if frame is None:
            return None
        if frame.items_key is None:  # a num_parallel fan-out: the item is the node's index
            return frame.index
        return state.item_loader(frame)

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``[(index, num_splits, value), ...]`` for each enclosing foreach, outermost first."""
        state = self._state()
        return [
            (f.index, None if f.unbounded else f.num_splits,
             state.item_loader(f) if f.items_key else None)
            for f in state.frames
            if f.is_foreach
        ]

    @property
    def _foreach_stack(self) -> list[ForeachFrame]:
        """The enclosing foreach levels as Metaflow's frames (step, var, num_splits, index,
        value), outermost first: read by tools written against Metaflow's flow object."""
        state = self._state()
        graph = self._graph
        return [
            ForeachFrame(f.step, graph[f.step].foreach_var if f.step in graph else None,
                         None if f.unbounded else f.num_splits, f.index,
                         state.item_loader(f) if f.items_key else f.index)
            for f in state.frames
            if f.is_foreach
        ]

    # -- transitions ---------------------------------------------------------------------------
    def next(self, *targets: Any, foreach: str | None = None, condition: str | None = None,
             num_parallel: int | None = None) -> None:
        """Say which step(s) run after this one. Called exactly once, as the step's last line."""
        state = self._state()
        if state.transition is not None:
            raise TransitionError(
                f"step '{state.step_name}' of flow {self.name} called self.next() twice",
                fix="call self.next() once, as the last statement of the step",
            )
        cases: dict[str, str] = {}
        if len(targets) == 1 and isinstance(targets[0], dict):
            if condition is None:
                raise TransitionError(
                    f"step '{state.step_name}': self.next() with a dict needs condition='name'"
                )
            cases = {str(k): _step_name(v, state.step_name) for k, v in targets[0].items()}
            names: tuple[str, ...] = tuple(cases.values())
        else:
            names = tuple(_step_name(t, state.step_name) for t in targets)
        state.transition = Transition(names, foreach, condition, cases, num_parallel)

    # -- joins ---------------------------------------------------------------------------------
    def merge_artifacts(self, inputs: Inputs, exclude: list[str] | None = None,
                        include: list[str] | None = None) -> None:
        """Carry over the artifacts on which all inputs agree, comparing content hashes only."""
        from headwater.flow.merge import merge_into

        state = self._state()
        if not state.is_join:
            raise MergeArtifactsError(
                f"merge_artifacts() called in step '{state.step_name}' of flow {self.name}, "
                "which is not a join",
                fix="call it only in a step that takes an 'inputs' argument",
            )
        merge_into(self, state, inputs, include=include, exclude=exclude)

    def _state(self) -> TaskState:
        state = self.__dict__.get("_hw_task")
        if state is None:
            raise RuntimeError(
                f"flow {type(self).__name__} is not running a step in this process; "
                "foreach, next() and merge_artifacts() work only inside a step"
            )
        return state


# The private names FlowSpec itself defines (``_graph``, ``_state``, ...): a step assigning one
# would break the framework under it, as assigning ``self.next`` would; so would ``_hw*`` names.
_PRIVATE_OWNED = frozenset(name for name in vars(FlowSpec)
                           if name.startswith("_") and not name.startswith("__"))


def _join_hint(name: str, state: TaskState) -> str:
    """Why an artifact set before a join may be missing after it: a join passes on only what
    it sets or merges (Metaflow's rule, and a newcomer's most common surprise)."""
    if state.is_join:
        if state.merged:
            return ""
        return (f"; in a join step, read it from an input (inputs[0].{name}), or call "
                "self.merge_artifacts(inputs) before reading it")
    from headwater.flow.current import current

    found = current._extra.get("_graph")  # (Graph, flow class), bound by the task runner
    graph = found[0] if isinstance(found, tuple) and found else None
    nodes = getattr(graph, "nodes", None)
    if not isinstance(nodes, dict) or state.step_name not in nodes:
        return ""
    joins, seen, todo = [], {state.step_name}, [state.step_name]
    while todo:  # the nearest joins above this step
        for parent in getattr(nodes[todo.pop(0)], "in_steps", ()):
            if parent in seen or parent not in nodes:
                continue
            seen.add(parent)
            if getattr(nodes[parent], "is_join", False):
                joins.append(parent)
            else:
                todo.append(parent)
    if not joins:
        return ""
    named = ", ".join(f"'{join}'" for join in joins)
    return (f"; if it was set before the join step {named}, that join did not pass it on: a "
            f"join keeps only what it sets, so set self.{name} there or call "
            "self.merge_artifacts(inputs) in it")


def is_stored_private(name: str) -> bool:
    """Whether ``self.<name>``, a private name, is stored with the task's artifacts.

    Metaflow stores every attribute a step sets but dunders and its own internals, so a value a
    user decorator keeps in ``flow._seen`` reaches the next steps; the framework's names
    (``_hw*``, the private names FlowSpec defines) are not the user's and stay out.
    """
    return (name.startswith("_") and not name.startswith(("__", "_hw"))
            and name not in _PRIVATE_OWNED)


def _step_name(target: Any, step: str) -> str:
    name = getattr(target, "__name__", None)
    if not callable(target) or name is None:
        raise TransitionError(
            f"step '{step}': self.next() takes steps like self.a, got {target!r}",
            fix="pass the bound step method, e.g. self.next(self.train)",
        )
    return name
