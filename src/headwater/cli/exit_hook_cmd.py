"""One ``@exit_hook`` function, run in a process of its own once the run has ended.

``python -m headwater.cli.exit_hook_cmd FLOW_FILE HOOK RUN_PATHSPEC DATASTORE_ROOT``, with the
run's metadata URL in ``HEADWATER_METADATA`` (never on the command line: it may hold a password):
the launcher starts one such process per hook (see :mod:`headwater.runtime.exit_hooks`), so a
hook that fails cannot change the run's outcome. ``HOOK`` is a function of the flow file or an
importable ``package.module.function``; a hook with a ``run`` parameter (or ``**kwargs``) gets
the client :class:`~headwater.client.Run` of the run that ended.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from headwater.flow_file import import_file
from headwater.tracebacks import user_traceback


def _hook(flow_file: str, name: str) -> Any:
    module_name, dot, attr = name.rpartition(".")
    if dot:
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            pass
    stem = os.path.splitext(os.path.basename(flow_file))[0]
    module = import_file(flow_file, f"_headwater_exit_hook_{stem}")
    found = getattr(module, name, None)
    if not callable(found):
        raise LookupError(f"the flow file {flow_file} has no function {name!r}")
    return found


def _wants_run(hook: Any) -> bool:
    try:
        params = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "run" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def main(argv: list[str]) -> int:
    flow_file, name, pathspec, root = argv
    metadata = os.environ.get("HEADWATER_METADATA", "")
    try:
        hook = _hook(flow_file, name)
    except Exception as exc:  # noqa: BLE001 - reported, the run is over either way
        print(f"[exit_hook] cannot load the hook {name!r}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    kwargs: dict[str, Any] = {}
    if _wants_run(hook):
        from headwater.client import Run, use_settings
        from headwater.settings import Settings

        use_settings(Settings.resolve(datastore_root=root, metadata=metadata or None))
        kwargs["run"] = Run(pathspec, _namespace_check=False)
    try:
        hook(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the hook's own failure, shown as the user's
        print(user_traceback(exc), file=sys.stderr, end="")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
