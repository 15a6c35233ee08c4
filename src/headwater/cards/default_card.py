"""The two built-in card types: ``default`` (the task, its data, the graph, your components)
and ``blank`` (your components only)."""

from __future__ import annotations

import html
import time
from typing import Any

from headwater.cards import preview
from headwater.cards.card_types import MetaflowCard
from headwater.cards.components import MetaflowCardComponent
from headwater.cards.dag import render_dag_svg
from headwater.cards.page import html_page

MAX_ARTIFACTS = 200
"""Artifacts listed on a default card; a task with more lists these and counts the rest."""


def _when(stamp: float | None) -> str:
    if not stamp:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def components_html(components: list[Any]) -> tuple[str, frozenset[str]]:
    """The HTML of the user's components, and the scripts they need."""
    parts, needs = [], set()
    for comp in components:
        try:
            if isinstance(comp, MetaflowCardComponent):
                needs |= comp.all_needs()
                body = comp.render()
            else:
                body = f'<pre class="hw-value">{html.escape(preview.short_repr(comp))}</pre>'
        except Exception as exc:  # noqa: BLE001 - one bad component must not lose the card
            body = (f'<div class="hw-error"><strong>{html.escape(type(comp).__name__)} could '
                    f"not be rendered</strong><pre>{html.escape(repr(exc))}</pre></div>")
        parts.append(f'<div class="hw-component">{body}</div>')
    return "".join(parts), frozenset(needs)


class BlankCard(MetaflowCard):
    """Only the components the step appended (and an optional ``title`` option)."""

    type = "blank"
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True

    def render(self, task: Any) -> str:
        body, needs = components_html(self.components)
        title = self.options.get("title")
        heading = f"<h1>{html.escape(str(title))}</h1>" if title else ""
        return html_page(str(title or task.pathspec), heading + body, needs,
                         card_type=self.type, card_id=self.options.get("_card_id"))


class TaskSpecCard(MetaflowCard):
    """The task's pathspec as plain text (Metaflow's ``taskspec_card``): a card a script can
    find and compare without parsing HTML."""

    type = "taskspec_card"

    def render(self, task: Any) -> str:
        return task.pathspec


class DefaultCard(MetaflowCard):
    """The task (pathspec, status, timing, attempt), its parameters and artifacts with bounded
    previews, the flow's graph with this step marked, and the step's own components."""

    type = "default"
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True

    def render(self, task: Any) -> str:
        sections = [self._header(task)]
        user, needs = components_html(self.components)
        if user:
            sections.append(f"<section><h2>Components</h2>{user}</section>")
        sections.append(self._parameters(task))
        if task.finished and not self.options.get("hide_artifacts"):
            sections.append(self._artifacts(task))
        if task.graph is not None:
            sections.append("<section><h2>Flow graph</h2>"
                            f"{render_dag_svg(task.graph, task.step_name)}</section>")
        return html_page(f"{task.pathspec} card", "".join(sections), needs,
                         card_type=self.type, card_id=self.options.get("_card_id"))

    def _header(self, task: Any) -> str:
        status = html.escape(task.status)
        took = (f"{task.finished_at - task.started_at:.2f} s"
                if task.finished_at and task.started_at else "—")
        facts = [("Pathspec", html.escape(task.pathspec)),
                 ("Status", f'<span class="hw-status-{status}">{status}</span>'),
                 ("Attempt", str(task.attempt)),
                 ("Started", _when(task.started_at)),
                 ("Finished", _when(task.finished_at)),
                 ("Duration", took)]
        if task.tags:
            facts.append(("Tags", html.escape(", ".join(task.tags))))
        rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        failure = ""
        if task.exception is not None:
            failure = (f'<div class="hw-error"><strong>{html.escape(task.exception.type_name)}: '
                       f"{html.escape(task.exception.message)}</strong>"
                       f"<pre>{html.escape(task.exception.traceback)}</pre></div>")
        return (f"<header><h1>{html.escape(task.flow_name)} · {html.escape(task.step_name)}</h1>"
                f'<dl class="hw-facts">{rows}</dl>{failure}</header>')

    def _parameters(self, task: Any) -> str:
        if not task.parameter_names:
            return ""
        rows = "".join(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{self._value(task, name)}</td></tr>"
            for name in task.parameter_names if name in task
        )
        return ('<section><h2>Parameters</h2><table class="hw-table"><thead><tr><th>name</th>'
                f"<th>value</th></tr></thead><tbody>{rows}</tbody></table></section>")

    def _artifacts(self, task: Any) -> str:
        params = set(task.parameter_names)
        # (names starting with ``_`` left out, as the client's listing and Metaflow's card do)
        names = sorted(n for n in task.artifacts if n not in params and not n.startswith("_"))
        if not names:
            return '<section><h2>Artifacts</h2><p class="hw-note">none</p></section>'
        items = []
        for name in names[:MAX_ARTIFACTS]:
            info = task.artifacts[name]
            size = f", {info.size:,} bytes" if info.size is not None else ""
            items.append(f"<details><summary><code>{html.escape(name)}</code> "
                         f'<span class="hw-note">{html.escape(info.type_name)}{size}</span>'
                         f"</summary>{self._value(task, name, block=True)}</details>")
        more = (f'<p class="hw-note">… and {len(names) - MAX_ARTIFACTS:,} more artifacts</p>'
                if len(names) > MAX_ARTIFACTS else "")
        return f'<section class="hw-artifacts"><h2>Artifacts</h2>{"".join(items)}{more}</section>'

    @staticmethod
    def _value(task: Any, name: str, block: bool = False) -> str:
        info = task.artifacts[name]
        if not info.previewable:
            return ('<p class="hw-note">not loaded for the card (stored size '
                    f"{info.size:,} bytes); read it with the client</p>")
        try:
            value = info.data
        except Exception as exc:  # noqa: BLE001 - an unloadable artifact is shown as such
            return f'<p class="hw-note">could not be loaded: {html.escape(str(exc))}</p>'
        if block:
            return preview.preview_html(value)
        return f'<span class="hw-value">{html.escape(preview.short_repr(value))}</span>'
