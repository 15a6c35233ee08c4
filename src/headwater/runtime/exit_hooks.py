"""Run the flow's ``@exit_hook`` functions once its run has ended (see
:mod:`headwater.decorators.exit_hook` for the semantics).

Each hook runs in a child process (``python -m headwater.cli.exit_hook_cmd``) after the run's end
is recorded, so a hook reads the finished run through the client; its output is passed through
and a failing hook is reported in one line without changing the run's outcome.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Callable

from headwater.decorators.exit_hook import hooks_to_run
from headwater.interpreters import module_argv


def run_exit_hooks(flow_cls: type, pathspec: str, succeeded: bool, datastore_root: str,
                   metadata_url: str | None, say: Callable[[str], None]) -> None:
    names = hooks_to_run(flow_cls, succeeded)
    if not names:
        return
    try:
        flow_file = inspect.getfile(flow_cls)
    except (TypeError, OSError):
        say(f"[exit_hook] the hooks of {pathspec} cannot run: the flow has no source file")
        return
    for name in names:
        argv = module_argv(sys.executable, "headwater.cli.exit_hook_cmd", flow_file, name,
                           pathspec, datastore_root)
        # The metadata URL may hold a password: it travels in the environment, never in the
        # command line (which any local user can read with ps).
        env = {**os.environ, "HEADWATER_METADATA": metadata_url or ""}
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        for line in done.stdout.splitlines():
            say(line)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            say(f"[exit_hook] hook {name!r} of {pathspec} failed (exit status "
                f"{done.returncode}); the run's outcome is unchanged")
