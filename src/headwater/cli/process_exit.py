"""Leaving the process at the end of a flow script's command, without tearing the interpreter down.

When ``python flow.py run`` is done, everything headwater opened is closed already (the
metadata store, the datastore, the executor and its fork servers: each is a context manager
closed before this point). What a normal ``sys.exit`` still does is the interpreter's teardown:
a full garbage collection over every object the imports made, then every module emptied one by
one. On a short run that is tens of milliseconds of pure CPU (a tenth of a trivial run), for
nothing: the operating system reclaims the memory at once.

:func:`exit_process` skips that teardown, but only when this process is a flow script headwater
owns from start to end, and it keeps every promise a normal exit makes to the program:

* ``atexit`` handlers run (logging's flush, ``weakref.finalize`` callbacks such as temporary
  folders, coverage's data file, anything the flow's module registered);
* ``sys.stdout`` and ``sys.stderr`` are flushed, and a flush that fails is reported as Python
  reports it (exit status 120 when the command itself succeeded);
* the exit status is the one ``sys.exit`` would give.

It falls back to ``sys.exit`` whenever the process might still have something to do after the
command: an interactive interpreter (``python -i``, ``PYTHONINSPECT``, a notebook), a tracer or
profiler (a debugger, ``coverage``, ``cProfile``: they act after the program ends), another thread
still running (a normal exit would wait for it), a flow class that is not the ``__main__``
script's own (the CLI called from inside a test runner or a notebook), or a script that another
program runs to carry on after it (``runpy.run_path(..., run_name="__main__")``).
"""

from __future__ import annotations

import atexit
import io
import os
import sys
from typing import NoReturn

# Python's own status when flushing stdout/stderr fails at exit (see Py_FinalizeEx).
_FLUSH_FAILED = 120


def exit_process(code: int | str | None, flow_cls: type) -> NoReturn:
    """Exit with ``code`` as ``sys.exit(code)`` would, skipping the interpreter's teardown when
    the process is ``flow_cls``'s own script (see the module's docstring).

    A Ctrl-C landing here, after the command has finished and recorded its run, exits 130 as
    an interrupted program does, without a traceback through this module (the chaos round
    found one: Ctrl-C a moment after ``Done!``)."""
    try:
        _exit_process(code, flow_cls)
    except KeyboardInterrupt:
        print("Interrupted while exiting; the run was recorded before.", file=sys.stderr)
        raise SystemExit(130) from None


def _exit_process(code: int | str | None, flow_cls: type) -> NoReturn:
    if not isinstance(code, int | type(None)) or not owns_process(flow_cls):
        sys.exit(code)
    status = code or 0
    atexit._run_exitfuncs()
    # Files the script's module left open would be flushed as the teardown emptied the module.
    script_files = [v for v in vars(sys.modules["__main__"]).values() if isinstance(v, io.IOBase)]
    for stream in (*script_files, sys.stdout, sys.stderr):
        try:
            if stream is not None and not stream.closed:
                stream.flush()
        except (OSError, ValueError):
            if stream is sys.stdout or stream is sys.stderr:
                status = status or _FLUSH_FAILED
    os._exit(status & 0xFF)


def owns_process(flow_cls: type) -> bool:
    """True when nothing but headwater's command can still run in this process after it ends:
    ``flow_cls`` belongs to the ``__main__`` script, no one traces or profiles the interpreter,
    no program runs the script to carry on after it, it will not turn interactive, and no other
    thread is alive."""
    main = sys.modules.get("__main__")
    if flow_cls.__module__ != "__main__" or getattr(main, "__file__", None) is None:
        return False
    if getattr(main, flow_cls.__name__, None) is not flow_cls:
        return False
    if not _script_is_outermost(vars(main)):
        return False
    if sys.flags.interactive or hasattr(sys, "ps1") or os.environ.get("PYTHONINSPECT"):
        return False
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return False
    threading = sys.modules.get("threading")
    return threading is None or (threading.active_count() == 1
                                 and threading.current_thread() is threading.main_thread())


def _script_is_outermost(script_globals: dict) -> bool:
    """True when the script's module code is the program: below its frame there is nothing, or
    only ``runpy`` (``python -m package.flow``). A program that runs the script itself (with
    ``runpy.run_path(..., run_name="__main__")`` or ``exec``) to carry on afterwards sits below
    it, and must get its ``SystemExit``."""
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is script_globals
                                     and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return False
    frame = frame.f_back
    while frame is not None:
        if frame.f_globals.get("__name__") != "runpy":
            return False
        frame = frame.f_back
    return True
