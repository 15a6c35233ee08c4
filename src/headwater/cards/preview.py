"""Bounded previews of artifact values for cards.

A card must render in milliseconds whatever the step made: a 10 GB array or a 10-million-row
DataFrame gets a summary (type, shape, dtype, a few values), never a full ``repr``. Sizes are read
from the object (``shape``, ``len``) and only a fixed-size corner is formatted.
"""

from __future__ import annotations

import html
import reprlib
from itertools import islice
from typing import Any

MAX_CHARS = 2000
"""Longest preview text; longer text is clipped with a note of how much was left out."""
FRAME_ROWS = 5

class _BoundedRepr(reprlib.Repr):
    """reprlib's limits, applied to subclasses of the built-in containers too.

    reprlib picks its bounded method by the exact type name, so an ``OrderedDict``, a
    ``namedtuple`` or a ``list`` subclass would get its full ``repr``: a few hundred bytes of
    pickle (``a = [a, a]`` forty times, shared by reference) would then expand to 2**40 items.
    """

    _BASES = (("dict", dict), ("list", list), ("tuple", tuple), ("set", set),
              ("frozenset", frozenset), ("str", str))

    # What bounds a value built to expand is a budget of text, not depth alone: each value
    # spends its own text (a container a few characters of brackets and commas), and past the
    # budget the rest is ``...``. So a small value nested deeper than a few levels still prints
    # whole, as ``repr`` (and Metaflow's ``dump``) print it.

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.maxstring = self.maxother = 200
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = 20
        self.maxdict = 20
        self.maxlevel = 10
        self.budget = budget
        self.spent = 0

    def repr1(self, x: Any, level: int) -> str:
        if self.spent > self.budget:
            return self.fillvalue
        kind = type(x)
        self.spent += 4 + (len(kind.__name__) if kind.__module__ != "builtins" else 0)
        text = self._repr1(x, level)
        if not isinstance(x, (dict, list, tuple, set, frozenset)):
            self.spent += len(text)
        return text

    def _repr1(self, x: Any, level: int) -> str:
        kind = type(x)
        if isinstance(x, tuple) and _is_named_tuple(kind):
            return self._repr_named_tuple(x, level)
        if isinstance(x, dict) and kind.__module__ == "collections":
            shown = self._repr_collections_dict(x, level)
            if shown is not None:
                return shown
        if kind.__module__ != "builtins":
            for name, base in self._BASES:
                if isinstance(x, base):
                    inner = getattr(self, "repr_" + name)(x, level)
                    if kind.__repr__ is base.__repr__:
                        return inner  # printed as its base is (``repr`` does the same)
                    return f"{kind.__name__}({inner})"
        return super().repr1(x, level)

    def _repr_named_tuple(self, x: tuple, level: int) -> str:
        """``Pair(left=0, right='r0')``, as the named tuple's own ``repr`` (and Metaflow's
        ``dump``) print it, each field's value bounded; not ``Pair((0, 'r0'))``."""
        name = type(x).__name__
        if level <= 0:
            return f"{name}({self.fillvalue})"
        fields = type(x)._fields
        pieces = [f"{field}={self.repr1(value, level - 1)}"
                  for field, value in islice(zip(fields, x, strict=False), self.maxtuple)]
        if len(x) > self.maxtuple:
            pieces.append(self.fillvalue)
        return f"{name}({', '.join(pieces)})"

    def _repr_collections_dict(self, x: dict, level: int) -> str | None:
        """``OrderedDict``, ``defaultdict`` and ``Counter`` as their own ``repr`` prints them
        (the pairs' list of an ``OrderedDict`` before Python 3.12, a ``defaultdict``'s factory,
        a ``Counter`` most common first), each value bounded; None for other types."""
        import collections
        import sys

        kind = type(x)
        if kind not in (collections.OrderedDict, collections.defaultdict, collections.Counter):
            return None
        name = kind.__name__
        if level <= 0:
            return f"{name}({self.fillvalue})"
        if kind is collections.Counter:
            shown = dict(x.most_common(self.maxdict))
            inner = self.repr_dict(shown, level) if shown else ""
            if len(x) > self.maxdict and inner:
                inner = f"{inner[:-1]}, {self.fillvalue}}}"
            return f"{name}({inner})"
        if kind is collections.defaultdict:
            factory = self.repr1(x.default_factory, level - 1)
            return f"{name}({factory}, {self.repr_dict(x, level)})"
        if not x:
            return f"{name}()"
        if sys.version_info >= (3, 12):
            return f"{name}({self.repr_dict(x, level)})"
        pairs = [f"({self.repr1(key, level - 1)}, {self.repr1(x[key], level - 1)})"
                 for key in islice(x, self.maxdict)]
        if len(x) > self.maxdict:
            pairs.append(self.fillvalue)
        return f"{name}([{', '.join(pairs)}])"

    def repr_deque(self, x: Any, level: int) -> str:
        """``deque([1, 2, 3], maxlen=5)``, its bound kept, as ``repr`` prints it (reprlib
        leaves ``maxlen`` out)."""
        text = super().repr_deque(x, level)
        if getattr(x, "maxlen", None) is not None and text.endswith(")"):
            text = f"{text[:-1]}, maxlen={x.maxlen})"
        return text

    def repr_dict(self, x: Any, level: int) -> str:
        """A dict's items in its own order, as ``repr`` prints them (reprlib sorts the keys,
        which made ``dump`` show ``{'z': 1, 'a': 2}`` as ``{'a': 2, 'z': 1}``)."""
        if not x:
            return "{}"
        if level <= 0:
            return "{" + self.fillvalue + "}"
        pieces = [f"{self.repr1(key, level - 1)}: {self.repr1(x[key], level - 1)}"
                  for key in islice(x, self.maxdict)]
        if len(x) > self.maxdict:
            pieces.append(self.fillvalue)
        return "{" + ", ".join(pieces) + "}"




def _is_named_tuple(kind: type) -> bool:
    """A ``collections.namedtuple`` or ``typing.NamedTuple`` class (fields named, its own
    ``repr``), not any tuple subclass."""
    fields = getattr(kind, "_fields", None)
    return (isinstance(fields, tuple) and all(isinstance(f, str) for f in fields)
            and kind.__repr__ is not tuple.__repr__)


def clip(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def short_repr(value: Any) -> str:
    """One value as short text: the value itself for scalars and strings, a summary otherwise."""
    if isinstance(value, str):
        return clip(value, 500)
    summary = _array_summary(value) or _frame_summary(value)
    if summary:
        return summary
    try:
        return clip(_BoundedRepr(250).repr(value), 500)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the card
        return f"<{type(value).__name__}: repr failed: {exc}>"


def bounded_repr(value: Any, limit: int = MAX_CHARS) -> str:
    """``repr(value)`` for a preview: at most 20 items a container, 3 levels deep, ``limit``
    characters, whatever the value (a value built to expand when printed included)."""
    return clip(_BoundedRepr(limit // 2).repr(value), limit)


def _type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__name__


def _array_summary(value: Any) -> str | None:
    """numpy-like arrays: shape and dtype, and a few values when the array is small."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if not isinstance(shape, tuple) or dtype is None or not hasattr(value, "ndim"):
        return None
    head = f"{_type_name(value)} shape={shape} dtype={dtype}"
    if hasattr(value, "columns"):
        return None  # a DataFrame: see _frame_summary
    try:
        import numpy

        corner = numpy.array2string(numpy.asarray(value), threshold=20, edgeitems=3,
                                    max_line_width=100)
    except Exception:  # noqa: BLE001 - not numpy after all
        return head
    return f"{head}\n{clip(corner, 800)}"


def _frame_summary(value: Any) -> str | None:
    columns, shape = getattr(value, "columns", None), getattr(value, "shape", None)
    if columns is None or not isinstance(shape, tuple) or not hasattr(value, "head"):
        return None
    names = ", ".join(map(str, list(columns[:20])))
    more = f", … ({len(columns) - 20} more)" if len(columns) > 20 else ""
    return f"{_type_name(value)} {shape[0]:,} rows × {shape[1]:,} columns: {names}{more}"


def preview_html(value: Any) -> str:
    """An HTML preview: a table of the first rows of a DataFrame, else escaped text."""
    frame = _frame_summary(value)
    if frame is not None:
        try:
            head = value.head(FRAME_ROWS)
            cols = "".join(f"<th>{html.escape(str(c))}</th>" for c in list(head.columns)[:20])
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(short_repr(cell))}</td>"
                                 for cell in list(row)[:20]) + "</tr>"
                for row in head.itertuples(index=False)
            )
            return (f'<p class="hw-note">{html.escape(frame)}</p><table class="hw-table">'
                    f"<thead><tr>{cols}</tr></thead><tbody>{rows}</tbody></table>")
        except Exception:  # noqa: BLE001 - fall back to the text summary
            pass
    return f'<pre class="hw-value">{html.escape(short_repr(value))}</pre>'
