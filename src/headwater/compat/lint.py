"""``metaflow.lint``: ``linter.run_checks(MyFlow._graph)`` and ``LintWarn``, over headwater's rules.

Metaflow's linter is a list of checks, each a function of the graph that raises ``LintWarn``;
tools add their own with ``@linter.check`` and switch groups on and off (``require_static_graph``,
``require_fundamentals``, ``require_acyclicity``, ``require_non_nested_foreach``). headwater's
checks are the rules :func:`headwater.graph.validate.validate` runs, one check per rule, so the
linter and ``headwater check`` can never disagree; their errors keep headwater's wording (the
step, ``file:line`` and the fix).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.exceptions import GraphError
from headwater.graph.metaflow_view import MetaflowGraph
from headwater.graph.model import FOREACH, Graph
from headwater.graph.validate import (
    check_depth,
    check_endpoints,
    check_loops,
    check_marks,
    check_reachable,
    check_splits,
    check_steps,
    check_targets,
)

__all__ = ["FlowLinter", "LintWarn", "linter"]

Check = Callable[[Any], None]


class LintWarn(GraphError):
    """A check found the flow's graph malformed (Metaflow's name; a headwater GraphError)."""

    headline = "Validity checker found an issue"

    def __init__(self, msg: str = "", lineno: int | None = None, source_file: str | None = None,
                 *, step: str | None = None, fix: str | None = None) -> None:
        super().__init__(msg, step=step, file=source_file, line=lineno, fix=fix)
        self.line_no = lineno
        self.source_file = source_file

    @classmethod
    def of(cls, err: GraphError) -> LintWarn:
        """The same error, as a LintWarn."""
        where = f"{err.file}:{err.line}: " if err.file and err.line else ""
        text = err.msg[len(where):] if err.msg.startswith(where) else err.msg
        return cls(text, err.line, err.file, step=err.step, fix=err.fix)


class FlowLinter:
    """The checks, in the order they run, and the switches that turn groups of them off."""

    def __init__(self) -> None:
        self.require_static_graph = True
        self.require_fundamentals = True
        self.require_acyclicity = True
        self.require_non_nested_foreach = False
        self._checks: list[Check] = []

    def check(self, f: Check) -> Check:
        """Register ``f`` (a function of the graph that raises LintWarn); mark it with the
        ``ensure_*`` decorators above this one to say which switch runs it."""
        self._checks.append(f)
        f.attrs = []  # type: ignore[attr-defined]
        return f

    def _require(self, setting: str, f: Check) -> Check:
        attrs = getattr(f, "attrs", None)
        if attrs is None:
            attrs = []
            f.attrs = attrs  # type: ignore[attr-defined]
        attrs.append(setting)
        return f

    def ensure_static_graph(self, f: Check) -> Check:
        return self._require("require_static_graph", f)

    def ensure_fundamentals(self, f: Check) -> Check:
        return self._require("require_fundamentals", f)

    def ensure_acyclicity(self, f: Check) -> Check:
        return self._require("require_acyclicity", f)

    def ensure_non_nested_foreach(self, f: Check) -> Check:
        return self._require("require_non_nested_foreach", f)

    def run_checks(self, graph: Any, **settings: bool) -> None:
        """Run every check a switch turns on (a keyword argument turns one on for this call);
        the first problem raises LintWarn."""
        for check in self._checks:
            if any(getattr(self, attr) or settings.get(attr)
                   for attr in getattr(check, "attrs", ())):
                check(graph)


def headwater_graph(graph: Any) -> Graph:
    """headwater's graph behind ``graph`` (``MyFlow._graph``, or a headwater Graph)."""
    if isinstance(graph, MetaflowGraph):
        return graph.headwater_graph
    if isinstance(graph, Graph):
        return graph
    raise TypeError(f"the linter checks a flow's graph (MyFlow._graph), not {graph!r}")


def _from_rule(rule: Callable[[Graph], None]) -> Check:
    def check(graph: Any) -> None:
        try:
            rule(headwater_graph(graph))
        except LintWarn:
            raise
        except GraphError as err:
            raise LintWarn.of(err) from None

    check.__name__ = rule.__name__
    check.__doc__ = rule.__doc__
    return check


linter = FlowLinter()

# headwater's rules, in validate()'s order, and the switches that run each: a flow's own shape
# (its steps, marks and endpoints) is fundamental; the transitions between steps make the static
# graph; loops are acyclicity's too.
for _rule, _settings in (
    (check_marks, ("require_fundamentals",)),
    (check_steps, ("require_fundamentals", "require_static_graph")),
    (check_endpoints, ("require_fundamentals",)),
    (check_targets, ("require_static_graph",)),
    (check_loops, ("require_static_graph", "require_acyclicity")),
    (check_reachable, ("require_static_graph",)),
    (check_splits, ("require_static_graph",)),
    (check_depth, ("require_static_graph",)),
):
    linter.check(_from_rule(_rule)).attrs.extend(_settings)  # type: ignore[attr-defined]


@linter.ensure_non_nested_foreach
@linter.check
def check_nested_foreach(graph: Any) -> None:
    """No foreach inside another (off by default: for targets that cannot nest them)."""
    hw = headwater_graph(graph)
    for node in hw:
        outer = [p for p in node.split_parents if p in hw and hw[p].transition == FOREACH]
        if node.transition == FOREACH and outer:
            raise LintWarn(
                f"step {node.name!r} is a foreach inside the foreach at {outer[-1]!r}, and this "
                "target runs no nested foreach", node.line, node.file, step=node.name,
                fix="flatten the two foreaches into one over the pairs of items")
