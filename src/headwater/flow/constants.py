"""A flow's constants: plain class-level values, stored as artifacts of every task."""

from __future__ import annotations

from headwater.flow.config import Config, ConfigExpr
from headwater.flow.parameters import Parameter


def class_constants(flow_cls: type) -> dict[str, object]:
    """Plain class-level values of a flow (``LIMIT = 10``): Metaflow's *constants*.

    As with Metaflow, they are stored as artifacts of the start task (so the client sees them)
    and a step may not assign them. Names starting with ``_``, functions, properties, classes,
    other callables and declared members (parameters, configs, config expressions) are not
    constants.
    """
    cached = flow_cls.__dict__.get("_hw_constants")
    if cached is not None:
        return cached
    found: dict[str, object] = {}
    for name in dir(flow_cls):
        if name.startswith("_"):
            continue
        value = getattr(flow_cls, name, None)
        if callable(value) or isinstance(value, (property, Parameter, Config, ConfigExpr)):
            continue
        found[name] = value
    type.__setattr__(flow_cls, "_hw_constants", found)
    return found
