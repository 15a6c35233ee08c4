"""What a task's new interpreter must know at start (the flow's file, the datastore, the
metadata), handed over in its environment rather than on its command line.

Every local user reads a process's command line (``ps``, ``/proc/PID/cmdline``); only its own
user reads its environment. The launch holds ``current``'s settings, the metadata URL among
them, and a PostgreSQL URL may carry its password: on the command line of each ``--executor
spawn`` task and each ``@pypi``/``@conda`` environment's fork server it was shown to everyone.
The new interpreter takes it out of its environment first thing, so the step's own
subprocesses do not inherit it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

LAUNCH_ENV = "HEADWATER_TASK_LAUNCH"


def with_launch(environ: Mapping[str, str] | None, launch: Mapping[str, Any]) -> dict[str, str]:
    """``environ`` (None: this process's) with ``launch`` added for the new interpreter."""
    return {**(os.environ if environ is None else environ), LAUNCH_ENV: json.dumps(launch)}


def take_launch() -> dict[str, Any]:
    """The launch :func:`with_launch` handed over, removed from this process's environment."""
    return json.loads(os.environ.pop(LAUNCH_ENV))
