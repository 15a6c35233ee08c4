"""What headwater writes out instead of importing a standard library module on a run's path
(tests/integration/test_lean_local_run.py) answers as that module would."""

from __future__ import annotations

import functools
import inspect
import os
import sqlite3
import sys
import textwrap
import types
import urllib.parse
from pathlib import Path

import pytest

from headwater.graph import build
from headwater.meta.sqlite_conn import uri_path

DOCS = [
    "", " ", "\n", "One line.", "  Leading spaces.  ", "\n\n  First line empty.\n\n",
    "Summary.\n\n    Indented body.\n      More indented.\n    Back.\n    ",
    "Summary.\n\tTabbed body.\n\t\tTwo tabs.\n",
    "Summary.\n  \n    Blank line with spaces above.\n",
    "   \n   \n", "Summary.\nNo indentation.\n  Some.\n",
    "Ünïcode.\n    ×\u00a0non-breaking\n    ☃\n",
    "Summary.\n        \n    body\n",  # a whitespace line longer than the margin
    "\x0cform feed\n  x\n",
]


@pytest.mark.parametrize("doc", DOCS)
def test_cleandoc_is_inspects(doc: str) -> None:
    assert build._cleandoc(doc) == inspect.cleandoc(doc)


class Base:
    def start(self):
        """Base's start.

        With a body.
        """

    def undocumented(self):
        pass

    def plain(self):
        """Only on Base."""


class Child(Base):
    def start(self):  # no docstring: Base's is found
        pass

    def undocumented(self):
        pass

    @functools.wraps(Base.plain)
    def wrapped(self):
        pass


def _local_class() -> type:
    class Local(Base):
        def start(self):  # defined in a function: its qualname names no reachable class
            pass

    return Local


def _odd_doc() -> types.FunctionType:
    def f():
        pass

    f.__doc__ = 42  # type: ignore[assignment]
    return f


class Callable_:
    """A callable object's own docstring."""

    def __call__(self):
        pass


moved = Child.start  # a class attribute elsewhere: found through its qualname all the same

FUNCTIONS = [Base.start, Base.undocumented, Child.start, Child.undocumented, Child.wrapped,
             _local_class().start, _odd_doc(), Callable_(), moved, len, textwrap.dedent]


@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: getattr(f, "__qualname__", repr(f)))
def test_getdoc_and_unwrap_are_inspects(func: object) -> None:
    assert build._unwrap(func) is inspect.unwrap(func)
    assert build._getdoc(func) == inspect.getdoc(func)
    assert build._getdoc(build._unwrap(func)) == inspect.getdoc(inspect.unwrap(func))


def test_a_step_without_a_docstring_gets_its_base_class_one() -> None:
    assert build._getdoc(Child.start) == "Base's start.\n\nWith a body."


def test_class_file_is_inspects(tmp_path: Path) -> None:
    assert build._class_file(Child) == inspect.getsourcefile(Child) == __file__
    # A module without a file, or whose file is gone: the answer comes from inspect.
    module = types.ModuleType("hw_fileless")
    exec("class Fileless: pass", module.__dict__)  # noqa: S102 - a class with no source file
    sys.modules["hw_fileless"] = module
    try:
        assert build._class_file(module.Fileless) == ""  # inspect: TypeError (built-in class)
        module.__file__ = str(tmp_path / "gone.py")
        gone = module.Fileless
        assert build._class_file(gone) == (inspect.getsourcefile(gone) or inspect.getfile(gone))
    finally:
        del sys.modules["hw_fileless"]


ODD_PATHS = ["/plain/path/meta.sqlite", "/with space/a b.sqlite", "/q?uery/x.sqlite",
             "/hash#tag/x.sqlite", "/per%cent/%41.sqlite", "/ünï/cödé/☃.sqlite",
             "/semi;colon/amp&ersand=eq+plus/x.sqlite", "/tilde~/dash-dot._/x.sqlite",
             "relative/x.sqlite", "", "/a\\b/\t\n/x", "/emoji/\U0001f600.sqlite"]


@pytest.mark.parametrize("path", ODD_PATHS)
def test_uri_path_is_urllib_quote(path: str) -> None:
    assert uri_path(path) == urllib.parse.quote(path)


def test_uri_path_refuses_what_quote_refuses() -> None:
    undecodable = os.fsdecode(b"/x\xff/meta.sqlite")  # a surrogate escape: not UTF-8
    with pytest.raises(UnicodeEncodeError):
        urllib.parse.quote(undecodable)
    with pytest.raises(UnicodeEncodeError):
        uri_path(undecodable)


@pytest.mark.parametrize("name", ["a b", "q?x", "h#x", "p%41", "ünï☃", "m&x=1;y"])
def test_a_read_only_uri_opens_a_file_at_an_odd_path(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "meta.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (7)")
    conn.close()
    reader = sqlite3.connect("file:" + uri_path(str(path)) + "?mode=ro", uri=True)
    try:
        assert reader.execute("SELECT x FROM t").fetchall() == [(7,)]
        with pytest.raises(sqlite3.OperationalError):
            reader.execute("INSERT INTO t VALUES (8)")
    finally:
        reader.close()
