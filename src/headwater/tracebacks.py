"""Tracebacks as a user should see them: their own lines, never headwater's or importlib's.

A mistake in a flow file (a syntax error, a failing import, a bad ``Parameter``) surfaces while
headwater imports or runs it; the frames of headwater and of Python's import machinery in between
tell the user nothing. Every place that shows a user's error builds its text here, so the rule
"show the user's frames only" lives in one module.

Deliberately free of the rest of headwater (``import headwater`` imports it through the
excepthook) and of click.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # traceback (and textwrap with it) is imported only when an error is shown
    import traceback
    from collections.abc import Callable
    from types import TracebackType

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_users(frame: traceback.FrameSummary) -> bool:
    name = frame.filename
    return not (name.startswith(PACKAGE_DIR) or name.startswith("<frozen "))


def user_frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    """The frames of ``tb`` in the user's code, outermost first."""
    import traceback

    return [frame for frame in traceback.extract_tb(tb) if _is_users(frame)]


def public_class_name(exc: BaseException) -> str:
    """The dotted name a user would catch: the first class of ``exc`` in a public module."""
    for cls in type(exc).__mro__:
        parts = cls.__module__.split(".")
        if not any(part.startswith("_") for part in parts):
            return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"
    return type(exc).__name__  # pragma: no cover - object is public


def error_heading(exc: BaseException) -> str:
    """``Not found: (headwater.exceptions.NotFoundError)``: what went wrong and what to catch."""
    headline = getattr(exc, "headline", None) or type(exc).__name__
    return f"{headline}: ({public_class_name(exc)})"


def user_traceback(exc: BaseException) -> str:
    """The text Python would print for ``exc``, with only the user's frames (for a SyntaxError,
    Python's last lines already give the user's file, line and caret)."""
    import traceback

    return _frames_text(exc) + "".join(traceback.format_exception_only(type(exc), exc))


def user_error_text(exc: BaseException) -> str:
    """What the command line prints for ``exc``: a headwater error as its heading and message
    after the user's frames, any other exception as :func:`user_traceback`."""
    if getattr(exc, "headline", None) is None:
        return user_traceback(exc)
    return _frames_text(exc) + f"{error_heading(exc)}\n    {printable_lines(str(exc))}\n"


def printable_lines(text: str) -> str:
    """``text`` with every control character but the line break and the tab written as its
    escape (``\\x1b``, ``\\r``), as ``repr`` would, and each character that could make a name it
    quotes pass for another shown as its escape (:mod:`headwater.lookalikes`, word by word).

    A headwater error quotes what the user or a record gave it (a ``--with``, a datastore URL, a
    driver's message, another user's run): an ``ESC ] 0 ;`` there would retitle the terminal,
    ``ESC [ 2 J`` clear it, a ``\\r`` overwrite the line with something else, and ``tag
    '\\u0440rod'`` (a Cyrillic ``р``) read as ``tag 'prod'``. The user's own tracebacks and output
    are left as Python prints them (docs/security.md, Terminal)."""
    if text.isascii() and all(" " <= ch < "\x7f" or ch in "\n\t" for ch in text):
        return text
    return _shown_label(text, _line_char)


def _line_char(ch: str) -> str:
    return ch if ch in "\n\t" else shown_char(ch)


def printable_name(text: str) -> str:
    """``text`` with every control and format character (line breaks too) as its escape: for a
    name a record gives (a run or task id, a tag, an artifact's name), printed as a label in a
    line of ours, where it may neither move the cursor, retitle the terminal nor reorder the
    line, nor pass for another name (a Cyrillic letter among Latin ones, a zero-width space, a
    fullwidth letter: :mod:`headwater.lookalikes`)."""
    if text.isascii() and text.isprintable():
        return text
    return _shown_label(text, shown_char)


def _shown_label(text: str, control: Callable[[str], str]) -> str:
    from headwater.lookalikes import shown_label  # only for text that is not plain ASCII

    return shown_label(text, control=control)


def shown_char(ch: str) -> str:
    """``ch``, or its escape when it is a control or an invisible format character: C0 and C1
    controls, and Unicode's format characters (bidirectional overrides such as U+202E, which
    make a line read in another order, and zero-width ones, which make two names look equal)."""
    if " " <= ch < "\x7f":
        return ch
    if ch < " " or "\x7f" <= ch <= "\x9f":
        return repr(ch)[1:-1]
    import unicodedata  # only for text that is not plain ASCII

    return f"\\u{ord(ch):04x}" if unicodedata.category(ch) == "Cf" else ch


def _frames_text(exc: BaseException) -> str:
    frames = user_frames(exc.__traceback__)
    if not frames:
        return ""
    import traceback

    return "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
