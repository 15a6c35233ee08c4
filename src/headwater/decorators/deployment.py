"""``@schedule``, ``@trigger``, ``@trigger_on_finish``: when a deployed flow runs.

They only record their options on the flow class (``_hw_flow_decorators``); the deployers read
them (``argo-workflows create`` makes a CronWorkflow and a Sensor, ``airflow create`` a DAG
schedule). A local ``run`` ignores them and says so in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from headwater.decorators.typed import FlowDecoratorFunction

_NOTE = "takes effect when the flow is deployed (argo-workflows / airflow create); ignored by run"


_MEANT = {"schedule": "cron", "trigger": "event", "trigger_on_finish": "flow"}


def _flow_decorator(name: str) -> FlowDecoratorFunction:
    def decorator(cls: Any = None, **options: Any) -> Any:
        def attach(flow_cls: Any) -> Any:
            existing = dict(getattr(flow_cls, "_hw_flow_decorators", {}))
            existing[name] = {"options": options, "note": _NOTE}
            flow_cls._hw_flow_decorators = existing
            return flow_cls

        if isinstance(cls, type) and not options:
            return attach(cls)
        if cls is not None and not isinstance(cls, type):
            from headwater.decorators.base import flow_positional

            raise flow_positional(name, cls, _MEANT[name])
        return attach

    decorator.__name__ = name
    return cast("FlowDecoratorFunction", decorator)


schedule = _flow_decorator("schedule")
trigger = _flow_decorator("trigger")
trigger_on_finish = _flow_decorator("trigger_on_finish")
