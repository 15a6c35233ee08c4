"""A unified diff of the files of one folder against another, in git's format, made by difflib.

``headwater code diff|diff-runs|patch`` compare a run's unpacked code package with the working
folder (or with another run's package). Metaflow shells out to ``git diff --no-index`` once per
file; this module writes the same format itself, so the commands need no ``git`` on the machine
and read none of the user's git configuration (``diff.noprefix``, ``diff.external``, a
``textconv`` driver would each change what ``git diff`` prints and break the patch).

What it prints, per file, is what ``git diff`` would: ``diff --git a/P b/P``, an ``index``
line with both blobs' abbreviated git ids, ``--- a/P``, ``+++ b/P``, then hunks with three
lines of context (each headed, as git's are, by the nearest line above that starts a
definition) and ``\\ No newline at end of file`` where a file lacks its last newline; a
file holding a NUL byte is ``Binary files a/P and b/P differ``. Lines are compared as bytes, so
a file in any encoding round-trips through ``git apply`` or ``patch -p1``.

The files compared are those of the run's folder (the package); a file only the other folder
has (data, hidden files, anything the package leaves out) is not part of the comparison, and a
file only the package has is reported as missing, as Metaflow's command does.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

CONTEXT_LINES = 3  # git's default (-U3)
_BINARY_PROBE = 8000  # git looks for a NUL in the first 8000 bytes
_NO_NEWLINE = b"\\ No newline at end of file\n"


@dataclass(frozen=True)
class FileDiff:
    """One file that differs: its path (relative, ``/``-separated) and its diff text."""

    path: str
    text: bytes
    binary: bool = False


@dataclass
class FolderDiff:
    """What comparing a run's folder with a base folder found, each list in path order."""

    changed: list[FileDiff] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the run's folder only
    flow_file: str | None = None  # the run's flow file, when the run's folder is a run's code

    @property
    def text(self) -> bytes:
        """Every file's diff, one after the other: what ``git diff`` prints for the folder."""
        return b"".join(d.text for d in self.changed)


def diff_folders(base: str, run: str) -> FolderDiff:
    """Compare each file of ``run`` with the same path under ``base``.

    The diff reads from ``base`` (``a/``) to ``run`` (``b/``): applied to ``base`` it gives the
    run's files, as Metaflow's ``metaflow code diff`` and ``patch`` do.
    """
    found = FolderDiff()
    for path in _files(run):
        with open(os.path.join(run, path), "rb") as handle:
            new = handle.read()
        old = _read_file(os.path.join(base, path))
        if old is None:
            found.missing.append(path)
        elif old == new:
            found.identical.append(path)
        else:
            found.changed.append(file_diff(path, old, new))
    return found


def _files(folder: str) -> Iterator[str]:
    """The regular files under ``folder``, relative, sorted as git sorts them; links are not
    followed (an unpacked package holds none)."""
    for here, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(here, name)
            if stat.S_ISREG(os.lstat(full).st_mode):
                yield os.path.relpath(full, folder).replace(os.sep, "/")


def _read_file(path: str) -> bytes | None:
    """The bytes of the file at ``path``, or None when no regular file is there (a folder, or a
    pipe, which ``open`` would wait on for ever)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def file_diff(path: str, old: bytes, new: bytes) -> FileDiff:
    """git's diff of ``old`` (``a/path``) to ``new`` (``b/path``)."""
    a_name, b_name = _quoted(b"a/" + os.fsencode(path)), _quoted(b"b/" + os.fsencode(path))
    head = [b"diff --git " + a_name + b" " + b_name + b"\n",
            b"index " + _blob_id(old) + b".." + _blob_id(new) + b"\n"]
    if _is_binary(old) or _is_binary(new):
        head.append(b"Binary files " + a_name + b" and " + b_name + b" differ\n")
        return FileDiff(path, b"".join(head), binary=True)
    tab = b"\t" if b" " in a_name else b""  # git ends a name holding a space with a tab
    head += [b"--- " + a_name + tab + b"\n", b"+++ " + b_name + tab + b"\n"]
    return FileDiff(path, b"".join(head) + b"".join(_hunks(_lines(old), _lines(new))))


MATCH_BUDGET = 25_000_000
"""Lines of one side times lines of the other that difflib is given to align at most. Its
matcher takes time growing faster than that product on text with many repeated lines (a file
of 60,000 short lines from a package someone else stored held ``code diff`` for hours); past
it, the common first and last lines are set apart and only the rest is aligned, and past it
again the rest is one replaced block: a coarser diff that applies the same."""


class _Planned(SequenceMatcher):
    """A matcher whose opcodes were worked out beforehand (grouping into hunks is difflib's)."""

    def __init__(self, a: list[bytes], b: list[bytes], opcodes: list[Any]) -> None:
        super().__init__(None, a, b, autojunk=False)
        self._planned = opcodes

    def get_opcodes(self) -> list[Any]:
        return self._planned


def _matcher(a: list[bytes], b: list[bytes]) -> SequenceMatcher:
    if len(a) * len(b) <= MATCH_BUDGET:
        return SequenceMatcher(None, a, b, autojunk=False)  # autojunk spoils long files' diffs
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a_end, b_end = len(a) - tail, len(b) - tail
    middle: list[Any]
    if (a_end - head) * (b_end - head) <= MATCH_BUDGET:
        middle = [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2
                  in SequenceMatcher(None, a[head:a_end], b[head:b_end],
                                     autojunk=False).get_opcodes()]
    else:
        middle = [("replace", head, a_end, head, b_end)]
    opcodes = ([("equal", 0, head, 0, head)] if head else []) + [
        op for op in middle if op[1] < op[2] or op[3] < op[4]] + (
        [("equal", a_end, len(a), b_end, len(b))] if tail else [])
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):  # name each block as difflib does
        if tag != "equal":
            opcodes[index] = ("replace" if i1 < i2 and j1 < j2 else "delete" if i1 < i2
                              else "insert", i1, i2, j1, j2)
    return _Planned(a, b, opcodes or [("equal", 0, len(a), 0, len(b))])


def _hunks(a: list[bytes], b: list[bytes]) -> Iterator[bytes]:
    matcher = _matcher(a, b)
    heading, searched_to = b"", -1
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        first, last = group[0], group[-1]
        heading = _heading(a, first[1] - 1, searched_to) or heading  # git keeps the last one
        searched_to = first[1] - 1
        yield (b"@@ -" + _range(first[1], last[2]) + b" +" + _range(first[3], last[4])
               + b" @@" + (b" " + heading if heading else b"") + b"\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (_line(b" ", line) for line in a[i1:i2])
                continue
            yield from (_line(b"-", line) for line in a[i1:i2])
            yield from (_line(b"+", line) for line in b[j1:j2])


def _heading(a: list[bytes], start: int, limit: int) -> bytes:
    """git's default function name for a hunk: the nearest line above it (down to ``limit``,
    the previous hunk's search start) that begins with a letter, ``_`` or ``$``, cut to 80
    bytes, trailing whitespace dropped."""
    for index in range(start, limit, -1):
        line = a[index]
        if line[:1].isalpha() or line[:1] in (b"_", b"$"):
            return line[:80].rstrip(b" \t\r\n\v\f")
    return b""


def _line(sign: bytes, line: bytes) -> bytes:
    return sign + line if line.endswith(b"\n") else sign + line + b"\n" + _NO_NEWLINE


def _range(start: int, stop: int) -> bytes:
    """A hunk's range as diff writes it: ``3`` for one line, ``3,4`` for more, ``2,0`` for
    none (the line before)."""
    length = stop - start
    if length == 1:
        return b"%d" % (start + 1)
    return b"%d,%d" % (start + 1 if length else start, length)


def _lines(data: bytes) -> list[bytes]:
    """``data`` split after each ``\\n`` only (a ``\\r`` is part of its line, as for git)."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    return lines + [parts[-1]] if parts[-1] else lines


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:_BINARY_PROBE]


def _blob_id(data: bytes) -> bytes:
    """The abbreviated id git gives a file of these bytes (so ``git apply --3way`` can use it)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()[:7].encode()


_ESCAPES = {0x07: b"\\a", 0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0B: b"\\v", 0x0C: b"\\f",
            0x0D: b"\\r", 0x22: b'\\"', 0x5C: b"\\\\"}


def _quoted(name: bytes) -> bytes:
    """``name`` as git writes a path: as is, or in double quotes with C escapes when it holds a
    control character, a quote, a backslash or a byte past ASCII (``core.quotePath``)."""
    if not any(c < 0x20 or c >= 0x7F or c in (0x22, 0x5C) for c in name):
        return name
    out = bytearray(b'"')
    for c in name:
        if c in _ESCAPES:
            out += _ESCAPES[c]
        elif c < 0x20 or c >= 0x7F:
            out += b"\\%03o" % c
        else:
            out.append(c)
    return bytes(out + b'"')
