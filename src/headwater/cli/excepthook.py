"""Errors a flow file raises while Python imports it, shown as the CLI shows every user error.

``python flow.py run`` executes the flow's class body before any headwater command starts, so a
mistake found there (``@retry(tims=3)``, a Parameter without a name, a decorator used twice)
escapes the CLI's error handling. This hook prints such a :class:`HeadwaterException` as a
headline, the message and its fix, after the user's own lines of the traceback only; headwater's
frames would be noise. Any other exception goes to the hook that was there before. Python still
exits with status 1.

Deliberately free of click and of the rest of headwater: ``import headwater`` installs it.
"""

from __future__ import annotations

import os
import sys
import traceback
from types import TracebackType

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    return [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_PACKAGE_DIR)]


def install() -> None:
    """Install the hook, unless something else (an IDE, a debugger) replaced Python's own."""
    if sys.excepthook is not sys.__excepthook__:
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        from headwater.exceptions import HeadwaterException

        if not isinstance(exc, HeadwaterException):
            previous(kind, exc, tb)
            return
        frames = _user_frames(tb)
        text = ""
        if frames:
            text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
        text += f"{exc.headline}:\n    {exc}\n"
        sys.stderr.write(text)
        sys.stderr.flush()

    sys.excepthook = hook
