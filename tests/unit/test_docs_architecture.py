"""docs/architecture.md shows the house as it is: its table names every package and top-level
module, every file it names exists, and every arrow of its picture is an import in the code."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from test_layering import ALLOWED, _import_statements, _package_of

import headwater

PACKAGE = Path(headwater.__file__).parent
DOC = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
PICTURE = DOC.split("```\n", 2)[1]
ARROW = re.compile(r"\s*(─+►|┄┄\(\d\)┄┄►|┄┄►)\s*")
JOINS = "├└┴"


def _layer(name: str) -> str | None:
    """``compat.alias`` -> ``compat``; ``flow_file`` -> ``flow_file.py``; None if not code."""
    top = name.split(".")[0].strip()
    if (PACKAGE / top).is_dir():
        return top
    return f"{top}.py" if (PACKAGE / f"{top}.py").is_file() else None


@functools.cache
def _edges() -> set[tuple[str, str, bool]]:
    """(package, package it imports, through an ALLOWED lazy import?) over all of src."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "__init__.py":
            continue
        here = relative.split("/")[0] if "/" in relative else relative
        for name, _lazy in _import_statements(path):
            if name.startswith("headwater."):
                found.add((here, _package_of(name), (relative, name) in ALLOWED))
    return found


@functools.cache
def _drawn() -> list[tuple[str, str, str]]:
    """(from, to, arrow) for each arrow of the picture, between the names on either side. A
    line that starts from a trunk (``├──►``, ``└───┴──►``) starts from the names drawn above
    the trunk's joints."""
    arrows: list[tuple[str, str, str]] = []
    above: list[str] = []
    for line in PICTURE.splitlines():
        parts = ARROW.split(line)
        for i in range(1, len(parts) - 1, 2):
            left = parts[i - 1]
            sources = [n.strip() for n in re.split(r"\s{2,}|[│]", left.strip())[-1].split(",")]
            if i == 1 and any(ch in left for ch in JOINS):
                sources = [_name_at(above, column) for column, ch in enumerate(left)
                           if ch in JOINS]
            right = parts[i + 1].strip().split("  ")[0].split(";")[0]
            for a in sources:
                for b in right.split(","):
                    arrows.append((a, b.strip(), parts[i]))
        above.append(line)
    return arrows


def _name_at(lines: list[str], column: int) -> str:
    """The name drawn nearest above ``column`` (the package a trunk comes down from)."""
    for line in reversed(lines):
        for match in re.finditer(r"[\w.]+", line):
            if match.start() <= column < match.end():
                return match.group()
    raise AssertionError(f"no name above column {column}")


def test_the_picture_has_arrows() -> None:
    assert ("cli", "compat", "──►") in _drawn()
    assert ("flow", "cli", "┄┄(1)┄┄►") in _drawn()


@pytest.mark.parametrize(("source", "target", "arrow"),
                         [a for a in _drawn() if a[2] != "┄┄►" and a[0] != "everything"])
def test_every_arrow_is_an_import(source: str, target: str, arrow: str) -> None:
    """A plain arrow: some module of ``source`` imports ``target``; a numbered dotted one: the
    import is one of test_layering's ALLOWED upward imports."""
    a, b = _layer(source), _layer(target)
    assert a is not None and b is not None, (source, target)
    upward = arrow.startswith("┄")
    assert (a, b, upward) in _edges(), f"{source} {arrow} {target}"


def test_everything_named_below_everything_is_a_floor_module() -> None:
    floor = [a[1] for a in _drawn() if a[0] == "everything"]
    assert floor and all(_layer(name) is not None for name in floor)


def test_the_table_names_every_package_and_module() -> None:
    missing = [p.name for p in sorted(PACKAGE.iterdir())
               if (p.suffix == ".py" and p.name != "__init__.py")
               or (p.is_dir() and any(p.glob("*.py")))
               if f"`{p.name}" not in DOC and f"/{p.name}" not in DOC]
    assert missing == []


def test_every_file_named_exists() -> None:
    names = set(re.findall(r"`((?:src/headwater/)?[\w/{},*.]+\.py)`", DOC))
    missing = []
    for name in sorted(names):
        if name.startswith(("tests/", "headwater/")):
            exists = (PACKAGE.parents[1] / name).is_file() or (PACKAGE.parent / name).is_file()
        else:
            relative = name.removeprefix("src/headwater/")
            options = re.match(r"(.*)\{(.*)\}(.*)", relative)
            paths = ([options[1] + o + options[3] for o in options[2].split(",")] if options
                     else [relative])
            exists = all(list(PACKAGE.glob(p)) or list(PACKAGE.rglob(p)) for p in paths)
        if not exists:
            missing.append(name)
    assert missing == []
