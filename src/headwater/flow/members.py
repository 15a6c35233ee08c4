"""Finding a flow's declared members (parameters, configs) across its class hierarchy.

A leaf of the ``flow`` package: :mod:`.parameters` and :mod:`.config` build on it; the flow's
constants, which need both, are :mod:`.constants`'s.
"""

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
