"""User-defined decorators and mutators found by name, as Metaflow's decorator specs name them.

A mutator may add a decorator it never imported, by a string such as
``"MyMutator:tag=x"`` (``MutableStep.add_decorator``, ``MutableFlow.add_decorator``), so every
subclass of :class:`UserStepDecorator`, :class:`StepMutator` and :class:`FlowMutator` is
remembered here when its class statement runs. A name is either the full name
(``module.Class``) or any dotted tail of it (``Class``) that only one class has.

A leaf module: the decorator bases register through :class:`Named` and nothing here imports them.
"""

from __future__ import annotations

import json
from typing import Any

from headwater.exceptions import FlowDefinitionError

_BY_FULL_NAME: dict[str, type] = {}


class Named:
    """Mixin of the user decorator bases: each concrete subclass is findable by name."""

    # The framework's own bases set this to False in their class body; subclasses register.
    _hw_register = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("_hw_register", True):
            _BY_FULL_NAME[full_name(cls)] = cls


def full_name(cls: type) -> str:
    """``module.Class``: what Metaflow calls a user decorator's ``decorator_name``."""
    return f"{cls.__module__}.{cls.__name__}"


def short_name(cls: type) -> str:
    """The class name alone (what a decorator spec usually says)."""
    return cls.__name__


def find(name: str) -> type | None:
    """The user decorator or mutator class called ``name`` (full name, or a tail only one class
    ends with); None when no class has it. Two classes with that tail: an error naming both."""
    exact = _BY_FULL_NAME.get(name)
    if exact is not None:
        return exact
    found = {cls for full, cls in _BY_FULL_NAME.items() if full.endswith("." + name)}
    if len(found) > 1:
        names = ", ".join(sorted(full_name(cls) for cls in found))
        raise FlowDefinitionError(f"the decorator name {name!r} is ambiguous: {names}",
                                  fix="write its full name, module.Class")
    return found.pop() if found else None


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``"name:key=value,key2=value2"`` -> (name, options); each value is read as
    JSON when it is JSON (``times=3``, ``vars={"A": "1"}``), else kept as the string."""
    name, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for item in _split_options(rest):
        key, sep, raw = item.partition("=")
        if not sep:
            raise FlowDefinitionError(f"decorator spec {spec!r}: expected KEY=VALUE, got {item!r}",
                                      fix=f"e.g. '{name.strip()}:key=value'")
        try:
            options[key.strip()] = json.loads(raw.strip())
        except json.JSONDecodeError:
            options[key.strip()] = raw.strip()
    return name.strip(), options


def _split_options(text: str) -> list[str]:
    """Split ``a=1,b={"x": 1, "y": 2}`` on the commas outside brackets and quotes."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote and text[i - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item for item in items if item.strip()]
