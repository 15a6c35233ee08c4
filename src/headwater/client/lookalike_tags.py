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


def lookalike_users(user: str | None, flow: str | None = None) -> dict[str, list[str]]:
    """The same for a user name (``runs --user bob``): the users whose names look like it, read
    from the runs' ``user:NAME`` system tags."""
    if not user:
        return {}
    prefix = "user:"
    found = lookalike_tags([prefix + user], flow).get(prefix + user, [])
    names = [tag[len(prefix):] for tag in found if tag.startswith(prefix)]
    return {user: names} if names else {}


def lookalike_note(found: dict[str, list[str]], asked_as: str) -> str:
    """One line per asked tag: ``asked_as`` names the filter (``--tag``, ``runs(...)``)."""
    from headwater.tracebacks import printable_name

    what = "user" if asked_as.endswith("--user") else "tag"
    return "\n".join(
        f"Note: {asked_as} {printable_name(tag)!s} matches that exact text only; "
        f"{'this ' + what + ' looks' if len(others) == 1 else 'these ' + what + 's look'} "
        "like it but "
        f"{'is another' if len(others) == 1 else 'are others'}: "
        f"{', '.join(printable_name(o) for o in others)} (escapes show the characters "
        "that differ; --json, or a run's .tags, gives the exact text)."
        for tag, others in found.items())
