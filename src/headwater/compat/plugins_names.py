"""``metaflow.plugins``: the names flows import from the package itself (Metaflow's test input
for an unbounded foreach), loaded on first use."""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name in ("InternalTestUnboundedForeachInput", "InternalTestUnboundedForeachDecorator"):
        from headwater.compat import ubf_test_names

        return getattr(ubf_test_names, name)
    raise AttributeError(f"module 'metaflow.plugins' has no attribute {name!r}")
