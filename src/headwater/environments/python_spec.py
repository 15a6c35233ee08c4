"""Which Pythons a declaration's ``python=`` allows: one version, or a range of them.

``'3.11'`` (and conda's spellings ``'3.11.*'``, ``'=3.11'``, ``'==3.11'``) names one version;
``'>=3.10'``, ``'>=3.8,<3.13'``, ``'~=3.11'`` and ``'!=3.12.*'`` are ranges: PEP 440 specifiers
joined by commas (a requirements file's ``python`` line, a pyproject's ``requires-python``).

Interpreters are plain releases (3.11.7), so only release versions are compared. A version with
fewer parts than a release means every release it starts, as conda reads it: ``==3.10`` allows any
3.10 (PEP 440 would allow 3.10.0 alone, which no one asking for "3.10" means), ``!=3.12`` none.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_CLAUSE = re.compile(r"(~=|===|==|!=|<=|>=|<|>|=)?\s*(\S+)")
_RELEASE = re.compile(r"\d+(?:\.\d+)*(\.\*)?")
_EQUALITY = ("", "=", "==")  # one version named: bare, conda's "=", PEP 440's "=="


class Clause(NamedTuple):
    """One specifier: ``op`` (``==`` for every spelling of "this version") and the release."""

    op: str
    release: tuple[int, ...]
    wildcard: bool = False  # "3.12.*": only with == and !=


def parse(text: str) -> tuple[Clause, ...]:
    """The clauses of ``text``; ValueError (saying which part and why) when it is not a spec."""
    clauses = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError("an empty specifier (a stray comma?)")
        clauses.append(_clause(part))
    return tuple(clauses)


def _clause(part: str) -> Clause:
    found = _CLAUSE.fullmatch(part)
    if found is None:
        raise ValueError(f"{part!r} is not a version specifier")
    op, version = found.group(1) or "", found.group(2)
    if op == "===":
        if not re.fullmatch(r"\d+(\.\d+)*", version):
            raise ValueError(f"{part!r}: '===' needs a release such as 3.11.7")
        return Clause("===", _numbers(version))
    release = _RELEASE.fullmatch(version)
    if release is None:
        raise ValueError(f"{part!r}: {version!r} is not a release version such as 3.11 or 3.11.7")
    wildcard = release.group(1) is not None
    numbers = _numbers(version[:-2] if wildcard else version)
    if op in _EQUALITY:
        return Clause("==", numbers, wildcard)
    if wildcard and op != "!=":
        raise ValueError(f"{part!r}: '.*' goes only with '==' or '!='")
    if op == "~=" and len(numbers) < 2:
        raise ValueError(f"{part!r}: '~=' needs at least two parts, e.g. ~=3.11")
    return Clause(op, numbers, wildcard)


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def single_version(text: str) -> str | None:
    """The version ``text`` names when it names one (``'3.11'`` for ``'==3.11.*'``), else None."""
    try:
        clauses = parse(text)
    except ValueError:
        return None
    if len(clauses) != 1 or clauses[0].op != "==" or not 2 <= len(clauses[0].release) <= 3:
        return None
    return ".".join(map(str, clauses[0].release))


def canonical(text: str) -> str:
    """``text`` as a declaration keeps it: the one version it names, or the range with the
    spaces taken out (so ``'>= 3.8, <3.13'`` and ``'>=3.8,<3.13'`` are one environment)."""
    return single_version(text) or ",".join(re.sub(r"\s+", "", p) for p in text.split(","))


def allows(clauses: tuple[Clause, ...], version: tuple[int, ...]) -> bool:
    """Whether the release ``version`` (e.g. ``(3, 11, 7)``) satisfies every clause."""
    return all(_allows(c, version) for c in clauses)


def _allows(clause: Clause, version: tuple[int, ...]) -> bool:
    op, want = clause.op, clause.release
    if op == "===":
        return version == want
    width = max(len(want), len(version))
    have = version + (0,) * (width - len(version))
    padded = want + (0,) * (width - len(want))
    if op in ("==", "!="):
        same = have[:len(want)] == want
        return same if op == "==" else not same
    if op == "~=":
        return have >= padded and have[:len(want) - 1] == want[:-1]
    return {"<": have < padded, "<=": have <= padded,
            ">": have > padded, ">=": have >= padded}[op]
