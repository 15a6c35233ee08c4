"""The one rule for "did you mean ...?": which known name a mistyped one was meant to be.

Every layer that takes a name from a user (a step, an artifact, a parameter, a flow, a config
key) says which known name is spelt closest when the typed one is unknown. They share this
rule, so a typo is recognised the same way everywhere. :mod:`difflib` is imported only when a
name was not found, never on a launch that goes well.
"""

from __future__ import annotations

from collections.abc import Iterable


def closest(name: str, names: Iterable[str]) -> str | None:
    """The name in ``names`` spelt closest to ``name`` (not ``name`` itself), or ``None`` when
    none is close enough to be a likely typo."""
    import difflib  # only on an unknown name

    matches = difflib.get_close_matches(name, [n for n in names if n != name], n=1)
    return matches[0] if matches else None
