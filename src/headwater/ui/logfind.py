"""Finding text in a whole log, and reading a window of its lines, for the task page's find box.

The page holds at most a log's last MiB; these let it search all of it on the server and show
the lines around a match it has not loaded. The query is plain text (never a pattern: nothing a
visitor types can make the search slow beyond one scan of the log), at most
:data:`MAX_QUERY_CHARS` characters, matched in any case, one line at a time. Answers are bounded:
at most :data:`MAX_LISTED` matches listed, each line cut to :data:`EXCERPT_CHARS` around its
first match, matching lines counted up to :data:`MAX_COUNTED`, at most :data:`MAX_WINDOW` lines
in a window. Lines are numbered from 1, over the log as the page shows it (terminal escapes
dropped, so what is found is what is seen).
"""

from __future__ import annotations

import re
from typing import Any

from headwater.exceptions import NotFoundError

MAX_QUERY_CHARS = 200
MAX_LISTED = 1000
MAX_COUNTED = 100_000
EXCERPT_CHARS = 400
MAX_WINDOW = 1000

# The escapes the page drops from a log (colours, cursor moves, titles, links); an OSC title
# never spans a line here, so dropping them keeps every line where it is.
ESCAPES = re.compile(r"\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]"
                     r"|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")


def plain_text(data: bytes) -> str:
    """A stored log as text the way the page shows it (UTF-8, escapes dropped, each line as a
    terminal leaves it: see :func:`settled`)."""
    return settled(ESCAPES.sub("", data.decode("utf-8", "replace")))


def settled(text: str) -> str:
    """``text`` with each line at its last state: a carriage return without a line feed
    rewrites its line (a progress bar), so only what follows the line's last one is shown, and
    a line ending ``\\r\\n`` is that line. Line numbers do not change. Linear: no pattern."""
    if "\r" not in text:
        return text
    return "\n".join(_settle(line) if "\r" in line else line for line in text.split("\n"))


def _settle(line: str) -> str:
    body = line.rstrip("\r")
    return body[body.rfind("\r") + 1:]


def check_query(query: str | None) -> str:
    """``query`` if it is something to look for, else a 404 saying what to give."""
    if not query:
        raise NotFoundError("nothing to find: the query q is empty",
                            fix="give the text to find as ?q=TEXT")
    if len(query) > MAX_QUERY_CHARS:
        raise NotFoundError(f"the text to find is {len(query)} characters long",
                            fix=f"find at most {MAX_QUERY_CHARS} characters at a time")
    if "\n" in query or "\r" in query:
        raise NotFoundError("the text to find holds a line break",
                            fix="a log is searched one line at a time: find text within a line")
    return query


def line_count(text: str) -> int:
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def find_lines(text: str, query: str, *, limit: int = 200, from_line: int = 1
               ) -> dict[str, Any]:
    """The lines of ``text`` holding ``query`` (any case) from line ``from_line`` on: at most
    ``limit`` listed (``line``, ``text``, and ``cut_start``/``cut_end`` when the line was cut),
    ``count`` the matching lines in the whole log (``counted_all`` false past
    :data:`MAX_COUNTED`), ``more`` whether more are listed past these."""
    check_query(query)
    limit = max(1, min(limit, MAX_LISTED))
    low, wanted = text.lower(), query.lower()
    # lower() keeps line breaks where they are, but may change a line's length (rare letters):
    # then each listed line is taken from the lines of the original text
    same = len(low) == len(text)
    originals: list[str] | None = None
    matches: list[dict[str, Any]] = []
    count, line, last = 0, 1, 0
    more = counted_all = False
    at = low.find(wanted)
    while at != -1:
        line += low.count("\n", last, at)
        start = low.rfind("\n", 0, at) + 1
        end = low.find("\n", at)
        end = len(low) if end == -1 else end
        last = start
        count += 1
        if line >= from_line:
            if len(matches) < limit:
                if same:
                    whole, column = text[start:end], at - start
                else:
                    originals = originals if originals is not None else text.split("\n")
                    whole = originals[line - 1]
                    column = max(0, whole.lower().find(wanted))
                matches.append(_excerpt(line, whole, column))
            else:
                more = True
        if count >= MAX_COUNTED:
            break
        at = low.find(wanted, end + 1) if end < len(low) else -1
    else:
        counted_all = True
    return {"query": query, "matches": matches, "count": count, "counted_all": counted_all,
            "more": more or not counted_all, "lines": line_count(text)}


def _excerpt(line: int, text: str, column: int) -> dict[str, Any]:
    """Line ``line``, cut to :data:`EXCERPT_CHARS` around ``column`` when longer."""
    if len(text) <= EXCERPT_CHARS:
        return {"line": line, "text": text, "cut_start": False, "cut_end": False}
    start = max(0, min(column - EXCERPT_CHARS // 4, len(text) - EXCERPT_CHARS))
    end = start + EXCERPT_CHARS
    return {"line": line, "text": text[start:end], "cut_start": start > 0,
            "cut_end": end < len(text)}


def window(text: str, from_line: int, count: int) -> dict[str, Any]:
    """Lines ``from_line`` to ``from_line + count - 1`` of ``text`` (at most
    :data:`MAX_WINDOW`; a line over :data:`EXCERPT_CHARS` * 10 characters cut), and how many
    lines the log has."""
    count = max(1, min(count, MAX_WINDOW))
    from_line = max(1, from_line)
    at = 0
    for _ in range(from_line - 1):
        at = text.find("\n", at) + 1
        if at == 0:
            at = len(text)
            break
    lines: list[str] = []
    while at < len(text) and len(lines) < count:
        end = text.find("\n", at)
        end = len(text) if end == -1 else end
        lines.append(text[at:min(end, at + EXCERPT_CHARS * 10)])
        at = end + 1
    return {"from": from_line, "lines": lines, "total_lines": line_count(text)}
