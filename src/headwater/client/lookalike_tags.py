"""A tag filter matches a tag's exact text: which other tags of the store look like the one asked.

``runs --tag prod`` and ``Flow('F').runs('prod')`` never list the runs tagged ``рrod`` (a
Cyrillic ``р``), ``pro\\u200bd`` or ``ｐrod``, which a reader takes for ``prod``; nor does a
filter on a lookalike (pasted from elsewhere) list ``prod``'s. Both say so, naming the other
tags as escapes (:mod:`headwater.lookalikes`, the one rule of what looks alike).
"""

from __future__ import annotations

from collections.abc import Iterable

from headwater.client._lookup import meta


def lookalike_tags(asked: Iterable[str], flow: str | None = None) -> dict[str, list[str]]:
    """For each tag in ``asked`` that others of ``flow``'s runs (of every flow's with ``None``)
    look like, those others, sorted."""
    asked = list(asked)
    if not asked:
        return {}
    from headwater.lookalikes import lookalikes_of

    known = meta().tag_names(flow)
    return {tag: found for tag in asked if (found := lookalikes_of(tag, known))}


def lookalike_note(found: dict[str, list[str]], asked_as: str) -> str:
    """One line per asked tag: ``asked_as`` names the filter (``--tag``, ``runs(...)``)."""
    from headwater.tracebacks import printable_name

    return "\n".join(
        f"Note: {asked_as} {printable_name(tag)!s} matches that exact text only; "
        f"{'this tag looks' if len(others) == 1 else 'these tags look'} like it but "
        f"{'is another' if len(others) == 1 else 'are others'}: "
        f"{', '.join(printable_name(o) for o in others)} (escapes show the characters "
        "that differ; --json, or a run's .tags, gives the exact text)."
        for tag, others in found.items())
