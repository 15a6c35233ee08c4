"""NBRunner: run a flow class defined in a notebook, as Metaflow's ``NBRunner`` does.

``NBRunner(MyFlow).nbrun(alpha=3)`` writes the class (and what it needs from the notebook, see
:mod:`headwater.runner.nbsource`) to a temporary flow file and runs it with a :class:`Runner` from
the notebook's directory, so the run lands in the ``.headwater/`` the notebook's own
``Flow('MyFlow')`` reads. The notebook's directory is put on the run's ``PYTHONPATH`` so that its
local modules import as they do in the notebook.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from headwater.exceptions import FlowDefinitionError
from headwater.runner.executing import ExecutingRun
from headwater.runner.nbsource import flow_script
from headwater.runner.runner import Runner

if TYPE_CHECKING:
    from headwater.client import Run


class NBRunner:
    """Run ``flow`` (a FlowSpec subclass defined in a notebook) in a child process.

    ``base_dir`` is where the temporary flow file goes (default: the system's temp folder); the
    run itself executes in the current directory. Other arguments are :class:`Runner`'s.
    """

    def __init__(self, flow: type, show_output: bool = True, profile: str | None = None,
                 env: Mapping[str, str] | None = None, base_dir: str | None = None,
                 file_read_timeout: float = 3600, **kwargs: Any) -> None:
        from headwater.flow.flowspec import FlowSpec

        if not (isinstance(flow, type) and issubclass(flow, FlowSpec)):
            raise FlowDefinitionError(f"NBRunner takes a FlowSpec subclass, not {flow!r}")
        self.flow = flow
        self._dir = tempfile.mkdtemp(prefix="headwater-nb-", dir=base_dir)
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self.flow_file = os.path.join(self._dir, f"{flow.__name__}_nbflow.py")
        with open(self.flow_file, "w", encoding="utf-8") as handle:
            handle.write(flow_script(flow))
        run_env = dict(env or {})
        inherited = run_env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        run_env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), inherited) if p)
        self.runner = Runner(self.flow_file, show_output=show_output, profile=profile,
                             env=run_env, file_read_timeout=file_read_timeout, **kwargs)

    def nbrun(self, **kwargs: Any) -> Run:
        """Run the flow to the end and return its client Run (failed or not)."""
        return self._run_of(self.runner.run(**kwargs))

    def nbresume(self, **kwargs: Any) -> Run:
        """Resume (``step``, ``origin_run_id``) to the end and return the new Run."""
        return self._run_of(self.runner.resume(**kwargs))

    def run(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.run(**kwargs)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.resume(**kwargs)

    def async_run(self, **kwargs: Any) -> Any:
        """As :meth:`Runner.async_run`: in a notebook cell, ``await nb.async_run()``."""
        return self.runner.async_run(**kwargs)

    def async_resume(self, **kwargs: Any) -> Any:
        return self.runner.async_resume(**kwargs)

    def cleanup(self) -> None:
        """Stop runs still going; remove the flow file and captured output."""
        self.runner.cleanup()
        self._finalizer()

    def _run_of(self, running: ExecutingRun) -> Run:
        # run() and resume() raise RunNotStartedError when no run was registered
        return running.run
