"""``current.trigger`` and ``Run.trigger``: the events that started a deployed run.

An Argo Events sensor passes each event's body, ``{"name", "id", "timestamp", "payload"}``; for
``@trigger_on_finish`` the payload names the upstream run (``{"pathspec": "Flow/RUN_ID"}``), and
:attr:`Trigger.run` is that run, read through the client (imported on first use only).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TriggerEvent:
    name: str
    id: str | None = None
    timestamp: Any = None
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> TriggerEvent:
        payload = body.get("payload")
        return cls(str(body.get("name", "")), body.get("id"), body.get("timestamp"),
                   dict(payload) if isinstance(payload, Mapping) else {})

    @property
    def type(self) -> str:
        """Metaflow's kind of event: ``'run'`` for a @trigger_on_finish event (its payload names
        the finished run), ``'event'`` for any other."""
        return "run" if self.payload.get("pathspec") else "event"


class Trigger:
    """What started the run: ``event`` (the first), ``events``, and ``run`` / ``runs`` for
    @trigger_on_finish; ``trigger[name]`` is the event of that name, or for @trigger_on_finish
    the upstream run of that flow (Metaflow's API: ``run.trigger['FirstFlow'].data.model``)."""

    def __init__(self, events: Sequence[Mapping[str, Any]]) -> None:
        self._events = [TriggerEvent.of(e) for e in events]
        self._runs: list[Any] | None = None

    @property
    def events(self) -> list[TriggerEvent] | None:
        """Every event that started the run, or None when there were none (as in Metaflow)."""
        return list(self._events) or None

    @classmethod
    def from_runs(cls, runs: Sequence[Any]) -> Trigger:
        """The trigger @trigger_on_finish would see after ``runs`` finished (Metaflow's API, for
        trying a downstream flow by hand): one event per run that reached its end step, newest
        first, named ``metaflow.<Flow>.<end step>`` (and ``metaflow.<Flow>.end`` as well when the
        end step has another name, which is what a deployment listens for)."""
        done = [(run, run.end_task) for run in sorted(runs, key=_finish_time, reverse=True)]
        done = [(run, end) for run, end in done if end is not None]
        events = []
        for run, end in done:
            names = [end.parent.id] + (["end"] if end.parent.id != "end" else [])
            events.extend({"name": f"metaflow.{run.parent.id}.{name}", "id": end.pathspec,
                           "timestamp": run.finished_at,
                           "payload": {"pathspec": run.pathspec}} for name in names)
        trigger = cls(events)
        trigger._runs = [run for run, _ in done]
        return trigger

    @property
    def event(self) -> TriggerEvent | None:
        return self._events[0] if self._events else None

    @property
    def runs(self) -> list[Any]:
        """The upstream runs of @trigger_on_finish events (others have none)."""
        if self._runs is not None:
            return list(self._runs)
        from headwater.client import Run  # lazily: see tests/unit/test_layering.py ALLOWED

        return [Run(e.payload["pathspec"], _namespace_check=False)
                for e in self._events if e.payload.get("pathspec")]

    @property
    def run(self) -> Any:
        runs = self.runs
        return runs[0] if runs else None

    def __getitem__(self, key: str) -> Any:
        """The upstream run of flow ``key`` when runs started this one, else the event named
        ``key``; a KeyError naming what there is otherwise."""
        runs = self.runs
        for run in runs:
            if run.path_components[0] == key:
                return run
        if not runs:
            for event in self._events:
                if event.name == key:
                    return event
        have = [run.path_components[0] for run in runs] or [e.name for e in self._events]
        raise KeyError(f"{key!r}: the run was not triggered by it (triggered by: "
                       f"{', '.join(have) or 'nothing'})")

    def __contains__(self, key: object) -> bool:
        try:
            self[str(key)]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[TriggerEvent]:
        return iter(list(self._events))

    def __repr__(self) -> str:
        return f"Trigger({', '.join(e.name for e in self._events)})"


def _finish_time(run: Any) -> float:
    when = run.finished_at
    return when.timestamp() if when is not None else 0.0
