"""Finding a flow's declared members (parameters, configs) across its class hierarchy."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def class_members(flow_cls: type, kind: type[T]) -> dict[str, T]:
    """Class attributes of ``flow_cls`` that are ``kind`` instances, base classes included.

    A subclass attribute of another kind under the same name hides the inherited one.
    """
    found: dict[str, T] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, kind):
                found[attr] = value
            elif attr in found:
                del found[attr]
    return found


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
    from headwater.flow.config import Config, ConfigExpr
    from headwater.flow.parameters import Parameter

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
