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
import re
from typing import IO, Any

_TAG = re.compile(r"{{{\s*(.+?)\s*}}}|{{\s*([#^/&!]?)\s*(.*?)\s*}}", re.S)
_MISSING = object()


class MustacheError(ValueError):
    """The template cannot be rendered: an unclosed section, or a tag this engine lacks."""


def render(template: str | IO[str] = "", data: Any = None, **_ignored: Any) -> str:
    """``template`` (text or an open file) with ``data``'s values filled in."""
    text = template if isinstance(template, str) else template.read()
    tokens = _parse(text)
    return _render(tokens, [data if data is not None else {}])


def _parse(text: str) -> list[Any]:
    """Tokens: str, ("var", name, escape), ("section", name, inverted, children)."""
    root: list[Any] = []
    stack: list[tuple[str, list[Any]]] = [("", root)]
    pos = 0
    for match in _TAG.finditer(text):
        stack[-1][1].append(text[pos:match.start()])
        pos = match.end()
        raw, kind, name = match.group(1), match.group(2), match.group(3)
        if raw is not None:
            stack[-1][1].append(("var", raw, False))
        elif kind == "!":
            continue
        elif kind in ("#", "^"):
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


def _render(tokens: list[Any], scopes: list[Any]) -> str:
    out = []
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
                    out.append(_render(children, scopes))
            elif not empty:
                items = value if isinstance(value, (list, tuple)) else [value]
                for item in items:
                    out.append(_render(children, [*scopes, item]))
    return "".join(out)
