"""The task side of ``@card``: bind ``current.card``, write live renders, render at the end.

Only steps with ``@card`` reach this module (``spec.extra["cards"]`` lists their declarations);
a step without one keeps the inert collector of :mod:`headwater.flow.current` and imports nothing
of the cards package.
"""

from __future__ import annotations

import time
from typing import Any

from headwater.cards.collector import CardCollector
from headwater.cards.render import (
    is_editable,
    live_data_key,
    live_key,
    make_card,
    reload_token,
    render_html,
    store_card,
    with_reload_token,
)
from headwater.cards.task_view import ArtifactInfo, CardTask
from headwater.records import TaskResult, TaskSpec


class TaskCards:
    """The cards of one running task."""

    def __init__(self, spec: TaskSpec, graph: Any, store: Any) -> None:
        self.spec, self.graph, self.store = spec, graph, store
        self.decls: list[dict[str, Any]] = spec.extra["cards"]
        self.started = time.time()
        self._renders = 0  # live renders so far: runtime_data["render_seq"]
        self._live_data: set[int] = set()  # cards whose data a live render kept (final data too)
        self.flow: Any = None
        self.state: Any = None
        self.collector = CardCollector(self.decls, [is_editable(d) for d in self.decls],
                                       live=self._write_live, where=spec.pathspec)

    def attach(self, flow: Any, state: Any) -> None:
        self.flow, self.state = flow, state

    def _write_live(self, index: int) -> None:
        decl = self.decls[index]
        card = make_card(decl, self.collector.components_of(index), self.graph, self.flow)
        if not getattr(card, "RUNTIME_UPDATABLE", False):
            return
        task = self._task_view("running", None, None)
        self._renders += 1
        data = self._runtime_data(index, str(self._renders), "render_runtime")
        card.runtime_data = data
        text = render_html(decl, lambda: card.render_runtime(task, data), self.spec.pathspec)
        if text is not None:
            text = with_reload_token(text, card, task, data)
            self.store.storage.put(live_key(self.spec.pathspec, index, decl),
                                   [text.encode("utf-8")])
            self._write_data(index, card, task, data)

    def _write_data(self, index: int, card: Any, task: Any, data: dict[str, Any]) -> None:
        """Keep what a live-updatable card's render was handed, for ``Card.get_data()``:
        ``{"data": the card type's refresh(task, data) (the data itself by default),
        "reload_token": ..., "created_on": ...}``, as Metaflow's card data files are."""
        import json

        try:
            shipped = card.refresh(task, data) if hasattr(card, "refresh") else data
            token = reload_token(card, task, data)
            body = json.dumps({"data": shipped, "reload_token": token,
                               "created_on": time.time()}, default=str)
        except Exception as exc:  # noqa: BLE001 - card data never fails its task
            self.collector._warn(f"data{index}", f"the data of a live card could not be kept: {exc}")
            return
        self.store.storage.put(live_data_key(self.spec.pathspec, index, self.decls[index]),
                               [body.encode("utf-8")])
        self._live_data.add(index)

    def finish(self, result: TaskResult) -> None:
        """Render every card of the task and put their records in ``result.cards``."""
        status = "succeeded" if result.ok else "failed"
        task = self._task_view(status, result, time.time())
        records = []
        for index, decl in enumerate(self.decls):
            def render(decl: dict[str, Any] = decl, index: int = index) -> str:
                card = make_card(decl, self.collector.components_of(index), self.graph, self.flow)
                card.runtime_data = self._runtime_data(index, "final", "render")
                text = card.render(task)
                if index in self._live_data:  # a card never refreshed keeps no data file
                    self._write_data(index, card, task, card.runtime_data)
                return with_reload_token(text, card, task, card.runtime_data)

            text = render_html(decl, render, self.spec.pathspec)
            if text is not None:
                try:
                    records.append(store_card(self.store, decl, index, text))
                except Exception as exc:  # noqa: BLE001 - a card never fails its task
                    import sys

                    print(f"the card {index} of task {self.spec.pathspec} could not be saved: "
                          f"{exc}", file=sys.stderr)
        result.cards = records

    def _runtime_data(self, index: int, seq: str, mode: str) -> dict[str, Any]:
        """What Metaflow hands a card type as ``runtime_data`` (and ``render_runtime``'s
        ``data``): the user's last ``refresh(data)`` under ``"user"``, and the render's kind."""
        user = self.collector.user_data_of(index)
        return {"user": user if user is not None else {}, "components": self._live_components(index),
                "render_seq": seq,
                "mode": mode, "component_update_ts": self.collector.updated_at(index)}

    def _live_components(self, index: int) -> dict[str, Any]:
        """The rendered value of each of the card's ``REALTIME_UPDATABLE`` components, by its
        id (one appended without an id is named by its place), as Metaflow hands them over."""
        found: dict[str, Any] = {}
        for place, component in enumerate(self.collector.components_of(index)):
            if not getattr(component, "REALTIME_UPDATABLE", False):
                continue
            try:
                value = component.render()
            except Exception:  # noqa: BLE001 - a broken component is left out, never fatal
                continue
            if value is not None:
                found[getattr(component, "component_id", None) or f"component-{place}"] = value
        return found

    def _task_view(self, status: str, result: TaskResult | None,
                   finished_at: float | None) -> CardTask:
        spec = self.spec
        return CardTask(
            flow_name=spec.flow_name, run_id=spec.run_id, step_name=spec.step, id=spec.task_id,
            attempt=spec.attempt, status=status, started_at=self.started,
            finished_at=finished_at, parameter_names=sorted(spec.params),
            artifacts=self._artifacts(result), graph=self.graph,
            exception=result.failure if result is not None else None, tags=spec.tags,
        )

    def _artifacts(self, result: TaskResult | None) -> dict[str, ArtifactInfo]:
        """What the task holds: values it made (in memory) and stored refs (loaded on read)."""
        found: dict[str, ArtifactInfo] = {}
        refs = dict(self.spec.params)
        if self.state is not None:
            view = self.state.view
            refs.update({k: v for k, v in view.inherited.items() if k not in view.deleted})
        if result is not None:
            refs.update(result.manifest)
        for name, ref in refs.items():
            found[name] = ArtifactInfo(name, ref.type_name, ref.size,
                                       _loader=self._loader(name, ref))
        for name, value in (vars(self.flow).items() if self.flow is not None else ()):
            if name.startswith("_"):
                continue
            kind = type(value)
            ref = refs.get(name)
            found[name] = ArtifactInfo(name, f"{kind.__module__}.{kind.__qualname__}",
                                       ref.size if ref is not None else None, _value=value)
        return found

    def _loader(self, name: str, ref: Any) -> Any:
        return lambda: self.store.load_artifact(ref, name=name, where=self.spec.pathspec)


def preload() -> None:
    """Import the card renderers in the process that forks the tasks, so that no ``@card`` task
    pays for it. (The Markdown parser stays lazy: it costs more than it saves to runs whose
    cards have no Markdown.)"""
    from headwater.cards import default_card  # noqa: F401
