"""Errors a flow file raises while Python imports it, shown as the CLI shows every user error.

``python flow.py run`` executes the flow's class body before any headwater command starts, so a
mistake found there (``@retry(tims=3)``, a Parameter without a name, a decorator used twice)
escapes the CLI's error handling. This hook prints such a :class:`HeadwaterException` after the
user's own lines of the traceback only (see :mod:`headwater.tracebacks`). Any other exception goes
to the hook that was there before. Python still exits with status 1.

Deliberately free of click and of the rest of headwater: ``import headwater`` installs it.
"""

from __future__ import annotations

import sys
from types import TracebackType


def install() -> None:
    """Install the hook, unless something else (an IDE, a debugger) replaced Python's own."""
    if sys.excepthook is not sys.__excepthook__:
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        from headwater.exceptions import HeadwaterException
        from headwater.redaction import redact
        from headwater.tracebacks import user_error_text

        if not isinstance(exc, HeadwaterException):
            previous(kind, exc, tb)
            _package_above(exc)
            return
        sys.stderr.write(redact(user_error_text(exc.with_traceback(tb))))
        sys.stderr.flush()

    sys.excepthook = hook


def _package_above(exc: BaseException) -> None:
    """``python mlproj/flows/train.py run`` failing on ``import mlproj`` (or on a relative
    import, or on a step's @pypi package): say why, and the command that works."""
    if not isinstance(exc, ImportError):
        return
    import os

    from headwater.import_hint import (
        package_above_hint,
        relative_import_hint,
        step_package_hint,
    )

    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if script and sys.argv and sys.argv[0] and os.path.isfile(sys.argv[0]) \
            and os.path.samefile(sys.argv[0], script):
        script = sys.argv[0]  # as typed: the hint's command is pasted where it was typed
    hint = (package_above_hint(exc, script, sys.argv[1:]) or step_package_hint(exc, script)
            or relative_import_hint(exc, script, sys.argv[1:]))
    if hint:
        sys.stderr.write(hint)
        sys.stderr.flush()
