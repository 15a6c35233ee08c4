"""A hint for a flow script that defines its flow and never starts it.

``python flow.py run`` on a file whose flow class has no ``if __name__ == "__main__": MyFlow()``
at its end defines the class and exits: nothing runs, nothing is printed, the status is 0 (as
with Metaflow). A new user, or one who copied a snippet from the docs, is left guessing. So when
the ``__main__`` script defines a flow class, an exit handler checks, as the script ends, that
some flow object was made (``MyFlow()`` or ``MyFlow(use_cli=False)``); if none was and the
script's source never uses the class's name beyond its ``class`` statement, it says on stderr
what to add, naming the flow and the file.

The same handler catches ``class MyFlow:`` written without ``(FlowSpec)``: ``@step`` in the
``__main__`` script remembers the class its method sits in (by ``__qualname__``), and when no flow
object was made and that class, found in the script's globals, is no ``FlowSpec``, the hint says
to subclass it. A mixin of steps that is no ``FlowSpec`` is legitimate, but a script using it
makes a flow object, which silences the check.

It stays silent wherever the script might have meant it: an interactive session (``python -i``,
a notebook: no script file), a script that names the class anywhere else (it uses the flow in
some other way, or its ``MyFlow()`` did not run because something failed first), and any process
other than the one that imported the script (a forked task leaves through ``os._exit``).
"""

from __future__ import annotations

import atexit
import os
import sys
import weakref

_started = False
# Weak: holding the classes would keep the script's globals alive past the interpreter's
# teardown, so their finalizers (a module-level object's __del__) would never run.
_watched: list[weakref.ref[type]] = []
_registered_pid: int | None = None
# ``__qualname__`` prefixes of the classes that hold the script's @step methods.
_step_holders: list[str] = []
# The script's path, read while it runs: Python removes ``__main__.__file__`` before exit handlers.
_script: str | None = None


def mark_started() -> None:
    """A flow object was made in this process: the script started its flow (or used it)."""
    global _started
    _started = True


def watch(flow_cls: type) -> None:
    """Remember ``flow_cls``, defined in the ``__main__`` module, to check on it at exit."""
    _watched.append(weakref.ref(flow_cls))
    _register()


def watch_step(func: object) -> None:
    """Remember the class a ``@step`` of the ``__main__`` module sits in, to check at exit that
    it is a flow (``class MyFlow:`` without ``(FlowSpec)`` is none, and nothing else says so)."""
    holder, dot, _ = getattr(func, "__qualname__", "").rpartition(".")
    if dot and "<" not in holder and "." not in holder and holder not in _step_holders:
        _step_holders.append(holder)
        _register()


def _register() -> None:
    global _registered_pid, _script
    if _registered_pid != os.getpid():
        _registered_pid = os.getpid()
        _script = getattr(sys.modules.get("__main__"), "__file__", None)
        atexit.register(_check_at_exit)


def _check_at_exit() -> None:
    if _started or _registered_pid != os.getpid():
        return
    hint = not_a_flow_hint() or unstarted_hint()
    _watched.clear()
    if hint:
        try:
            sys.stderr.write(hint)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def unstarted_hint() -> str | None:
    """What to tell the user, or None when there is nothing to say (see the module docstring)."""
    main = sys.modules.get("__main__")
    path = _script
    if not path or not os.path.isfile(path):
        return None
    if sys.flags.interactive or hasattr(sys, "ps1") or os.environ.get("PYTHONINSPECT"):
        return None
    watched = [cls for cls in (ref() for ref in _watched) if cls is not None]
    leaves = [cls for cls in watched
              if getattr(main, cls.__name__, None) is cls
              and not any(other is not cls and issubclass(other, cls) for other in watched)]
    if len(leaves) != 1:
        return None
    flow_cls = leaves[0]
    if _name_used(path, flow_cls.__name__):
        return None
    script = os.path.basename(path)
    name = flow_cls.__name__
    return (f"{script} defines the flow {name} but never starts it, so nothing ran.\n"
            f"    fix: end {script} with\n\n"
            f"        if __name__ == \"__main__\":\n"
            f"            {name}()\n\n"
            f"    (or run the file as it is: headwater run {_as_typed(path)} [options])\n")


def _as_typed(path: str) -> str:
    """``path`` as the user can type it from here: relative to the working folder when it is
    below it (``flows/train.py``), else absolute; quoted for the shell when it needs to be."""
    import shlex

    try:
        relative = os.path.relpath(path)
    except ValueError:
        relative = path
    shown = path if relative.startswith(os.pardir) else relative
    return shlex.quote(shown)


def not_a_flow_hint() -> str | None:
    """What to tell a script whose @step methods sit in a class that is no FlowSpec, or None."""
    main = sys.modules.get("__main__")
    path = _script
    if not path or not os.path.isfile(path) or main is None:
        return None
    if sys.flags.interactive or hasattr(sys, "ps1") or os.environ.get("PYTHONINSPECT"):
        return None
    # Every FlowSpec subclass the script defines was watched as it was made: a holder that is
    # none of them is no flow, and a script that defines any flow is left to unstarted_hint.
    if any(ref() is not None for ref in _watched):
        return None
    plain = [name for name in _step_holders if isinstance(getattr(main, name, None), type)]
    if len(plain) != 1:
        return None
    script, name = os.path.basename(path), plain[0]
    return (f"{script}: class {name} has @step methods but does not subclass FlowSpec, so it is "
            f"no flow and nothing ran.\n"
            f"    fix: declare it class {name}(FlowSpec): (from headwater import FlowSpec, "
            f"step)\n")


def _name_used(path: str, name: str) -> bool:
    """True when ``name`` occurs in the file's code other than right after ``class``."""
    import io
    import tokenize  # only for a script that never started its flow: not on a run's path

    try:
        with open(path, "rb") as handle:
            tokens = list(tokenize.tokenize(io.BytesIO(handle.read()).readline))
    except (OSError, SyntaxError, tokenize.TokenError):
        return True  # cannot tell: say nothing
    previous = None
    for token in tokens:
        if token.type == tokenize.NAME and token.string == name:
            if previous is None or previous.string != "class":
                return True
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                              tokenize.INDENT, tokenize.DEDENT):
            previous = token
    return False
