"""``metaflow.util``: the few helpers flows and test harnesses import from it."""

from __future__ import annotations

from typing import Any


def is_stringish(value: Any) -> bool:
    """True for text or bytes: values a checker may parse as JSON."""
    return isinstance(value, (str, bytes, bytearray))


__all__ = ["is_stringish"]
