"""A small Mustache renderer: what ``MetaflowCard._get_mustache()`` hands a card type.

Card types published for Metaflow (``metaflow-card-scatter3d``, Outerbounds' ``obproject``
highlight card, ...) fill an HTML template with ``self._get_mustache().render(template, data)``,
Metaflow bundling a Mustache engine for them. This module is headwater's own engine with the
same ``render`` call, covering the tags such templates use: ``{{name}}`` (HTML-escaped),
``{{{name}}}`` and ``{{& name}}`` (as is), dotted names and ``{{.}}``, sections ``{{#name}}``
(once when truthy, once per item of a list, in a dict's scope), inverted sections
``{{^name}}`` and comments ``{{! ...}}``. Partials and delimiter changes are not supported:
such a tag is an error naming it.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import IO, Any

_MISSING = object()
MAX_DEPTH = 100
"""Sections nested deeper than this are refused: no card needs them, and each level is a
Python call (a template of thousands of open sections was a RecursionError)."""
MAX_STEPS = 5_000_000
"""Tags and texts one render may emit: a table of 100,000 cells is a few hundred thousand. Past
it the template is refused (thirty sections nested over a two-item list are 2^30 passes, a
render that never ends)."""


class MustacheError(ValueError):
    """The template cannot be rendered: an unclosed section, or a tag this engine lacks."""


def render(template: str | IO[str] = "", data: Any = None, **_ignored: Any) -> str:
    """``template`` (text or an open file) with ``data``'s values filled in."""
    text = template if isinstance(template, str) else template.read()
    tokens = _parse(text)
    return _render(tokens, [data if data is not None else {}], [MAX_STEPS])


def _tags(text: str) -> Iterator[tuple[int, int, str | None, str, str]]:
    """``(start, end, raw name or None, kind, name)`` of each tag, in one pass over ``text``.

    ``{{{name}}}`` is a raw variable when a ``}}}`` follows, else ``{{`` opens a tag running to
    the next ``}}``. Written by hand rather than as a regular expression: a lazy pattern
    searched for its closing braces again from each ``{{`` (32 KB of unclosed ``{{{`` took 20
    seconds), this looks for each closing once."""
    pos, no_triple = 0, False
    while True:
        start = text.find("{{", pos)
        if start < 0:
            return
        if not no_triple and text.startswith("{{{", start):
            end = text.find("}}}", start + 4)
            if end >= 0:
                yield start, end + 3, text[start + 3:end].strip(), "", ""
                pos = end + 3
                continue
            no_triple = True  # no "}}}" after here, so none after any later "{{{" either
        end = text.find("}}", start + 2)
        if end < 0:
            return  # nor any "}}" closing a later tag
        inner = text[start + 2:end].strip()
        kind = inner[:1] if inner[:1] in ("#", "^", "/", "&", "!") else ""
        yield start, end + 2, None, kind, inner[len(kind):].strip()
        pos = end + 2


def _parse(text: str) -> list[Any]:
    """Tokens: str, ("var", name, escape), ("section", name, inverted, children)."""
    root: list[Any] = []
    stack: list[tuple[str, list[Any]]] = [("", root)]
    pos = 0
    for start, end, raw, kind, name in _tags(text):
        stack[-1][1].append(text[pos:start])
        pos = end
        if raw is not None:
            stack[-1][1].append(("var", raw, False))
        elif kind == "!":
            continue
        elif kind in ("#", "^"):
            if len(stack) > MAX_DEPTH:
                raise MustacheError(f"the section {{{{{kind}{name}}}}} is nested more than "
                                    f"{MAX_DEPTH} sections deep")
            children: list[Any] = []
            stack[-1][1].append(("section", name, kind == "^", children))
            stack.append((name, children))
        elif kind == "/":
            if len(stack) == 1 or stack[-1][0] != name:
                raise MustacheError(f"{{{{/{name}}}}} closes no open section")
            stack.pop()
        elif kind == "&":
            stack[-1][1].append(("var", name, False))
        elif name.startswith((">", "=")):
            raise MustacheError(f"the tag {{{{{name}}}}} (partials, delimiter changes) is not "
                                "supported by headwater's Mustache engine")
        else:
            stack[-1][1].append(("var", name, True))
    if len(stack) > 1:
        raise MustacheError(f"the section {{{{#{stack[-1][0]}}}}} is never closed")
    stack[-1][1].append(text[pos:])
    return root


def _lookup(name: str, scopes: list[Any]) -> Any:
    if name == ".":
        return scopes[-1]
    first, *rest = name.split(".")
    for scope in reversed(scopes):
        value = _get(scope, first)
        if value is not _MISSING:
            for part in rest:
                value = _get(value, part)
                if value is _MISSING:
                    return ""
            return value
    return ""


def _get(scope: Any, key: str) -> Any:
    if isinstance(scope, dict):
        return scope.get(key, _MISSING)
    return getattr(scope, key, _MISSING)


def _render(tokens: list[Any], scopes: list[Any], budget: list[int]) -> str:
    out = []
    budget[0] -= len(tokens)
    if budget[0] < 0:
        raise MustacheError(f"the template renders more than {MAX_STEPS:,} tags and texts "
                            "(sections nested over lists multiply); render fewer items")
    for token in tokens:
        if isinstance(token, str):
            out.append(token)
        elif token[0] == "var":
            value = _lookup(token[1], scopes)
            text = "" if value is None else str(value)
            out.append(html.escape(text) if token[2] else text)
        else:
            _, name, inverted, children = token
            value = _lookup(name, scopes)
            empty = not value
            if inverted:
                if empty:
                    out.append(_render(children, scopes, budget))
            elif not empty:
                items = value if isinstance(value, (list, tuple)) else [value]
                for item in items:
                    out.append(_render(children, [*scopes, item], budget))
    return "".join(out)
