"""Runner: start and resume runs, and spin past tasks, from Python, as Metaflow's ``Runner`` does.

Each run is the real command line (``python flow.py [top-level options] run --run-id-file F
--param value``) in a child process with its own process group, so a run started from Python is
exactly a run started from a shell: same output, same isolation, nothing of the flow imported into
the caller. The caller pays one interpreter start, as the CLI does (Metaflow issue 4 in
``USERS.md``: a tiny flow took 18 s through Metaflow's Runner); it waits on the process and on the
run-id file, never with sleeps.

Use it as a context manager (or call :meth:`Runner.cleanup`): leaving it stops runs still going and
removes the temporary files (run-id files, captured output).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import tempfile
import weakref
from collections.abc import Callable, Coroutine, Mapping
from functools import partial
from typing import Any

from headwater.exceptions import FlowDefinitionError
from headwater.runner.accepted import FLOW_DECORATOR_OPTIONS, refuse_unknown, top_level_names
from headwater.runner.command import (
    RUNNER_ARGS_ENV,
    RunnerArgumentError,
    check_no_nul,
    entry_argv,
    param_types,
    resume_args,
    run_args,
    spin_args,
    top_level_args,
)
from headwater.runner.executing import ExecutingRun, loop_running
from headwater.runner.executing_task import ExecutingTask, spin_started
from headwater.runner.locate import child_settings
from headwater.runner.process import LoggedProcess


class Runner:
    """Run the flow in ``flow_file`` programmatically.

    ``flow_file`` is relative to the current directory; ``cwd`` is where the run executes (and so,
    unless told otherwise, which ``.headwater/`` it uses); ``env`` adds to (and overrides) this
    process's environment; other keyword arguments are the flow's top-level options
    (``quiet=True``, ``datastore_root='...'``, ``metadata='...'``, ``decospecs=['retry']``);
    any other is refused at once with a ``ValueError`` naming it (:mod:`headwater.runner.accepted`).
    ``show_output`` echoes a synchronous run's output live. ``profile`` is accepted for Metaflow
    compatibility and has no effect; ``file_read_timeout`` bounds the wait for a run to register.
    """

    def __init__(self, flow_file: str | os.PathLike, show_output: bool = True,
                 profile: str | None = None, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, file_read_timeout: float = 3600,
                 **kwargs: Any) -> None:
        refuse_unknown(kwargs, top_level_names(), "Runner(...)", also=FLOW_DECORATOR_OPTIONS)
        self.flow_file = os.path.abspath(flow_file)
        if not os.path.isfile(self.flow_file):
            from headwater.runner.flow_path import missing_flow_file_hint

            raise FlowDefinitionError(f"flow file {os.fspath(flow_file)!r} does not exist"
                                      f"{missing_flow_file_hint(flow_file, cwd, 'Runner')}")
        self.show_output = show_output
        self.cwd = os.path.abspath(cwd if cwd is not None else os.getcwd())
        self.top_level = dict(kwargs)
        self.file_read_timeout = file_read_timeout
        self.env = {**os.environ, **{key: str(value) for key, value in (env or {}).items()}}
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.settings = child_settings(self.top_level, self.env, self.cwd)
        if self.top_level.get("metadata"):
            # Through the environment, not argv: a URL may hold a password, and any local user
            # can read a process's command line. Same precedence: it overrides the inherited
            # variable and the profile, as the option would.
            self.env["HEADWATER_METADATA"] = str(self.top_level.pop("metadata"))
        if not self.top_level.get("datastore_root"):
            # Pin what was resolved, so the child cannot land anywhere the caller won't read.
            self.env["HEADWATER_DATASTORE_ROOT"] = self.settings.datastore_root
        self._processes: list[LoggedProcess] = []
        self._started: list[ExecutingRun | ExecutingTask] = []
        self._tmpdir: str | None = None
        self._finalizer: weakref.finalize | None = None

    # -- starting runs ---------------------------------------------------------------------------

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow with parameters ``kwargs`` (and ``tags``, ``max_workers``, ...) to the end."""
        own, kwargs = _run_id_file(kwargs)
        return self._finished(self._start(["run"], run_args(kwargs), echo=self.show_output,
                                          run_id_file=own, types=param_types(kwargs)))

    def resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume (``step``, ``origin_run_id``, ``tags``, ...) and wait for the new run to end."""
        own, kwargs = _run_id_file(kwargs)
        return self._finished(self._start(["resume"], resume_args(kwargs), echo=self.show_output,
                                          run_id_file=own))

    def async_run(self, **kwargs: Any) -> Any:
        """Start a run without waiting for its end.

        In async code (an event loop is running) this is a coroutine, as Metaflow's: ``await``
        it to start the run and get the :class:`ExecutingRun` once the run is registered. Called
        from plain code it starts the run and returns the ExecutingRun at once.
        """
        own, kwargs = _run_id_file(kwargs)
        return _started(partial(self._start, run_id_file=own, types=param_types(kwargs)),
                        ["run"], run_args(kwargs))

    def async_resume(self, **kwargs: Any) -> Any:
        """Start a resume without waiting for its end (see :meth:`async_run`)."""
        own, kwargs = _run_id_file(kwargs)
        return _started(partial(self._start, run_id_file=own), ["resume"], resume_args(kwargs))

    def _finished(self, running: ExecutingRun) -> ExecutingRun:
        try:
            running._process.wait()
        except KeyboardInterrupt:
            running.kill()
            raise
        return running._started_or_raise()

    def spin(self, pathspec: str, **kwargs: Any) -> ExecutingTask:
        """Spin the task ``pathspec`` (``STEP``, ``RUN/STEP`` or ``RUN/STEP/TASK``) and wait for it.

        ``persist``, ``artifacts_module`` and ``skip_decorators`` are the ``spin`` command's
        options. Returns an :class:`ExecutingTask` whose ``.task`` is the spun task; raises
        :class:`SpinFailedError` (quoting the output) if the spin failed or timed out.
        """
        running = self._start_spin(pathspec, spin_args(kwargs), echo=self.show_output)
        try:
            running._process.wait()
        except KeyboardInterrupt:
            running.kill()
            raise
        return running._finished_or_raise()

    def async_spin(self, pathspec: str, **kwargs: Any) -> Any:
        """Start a spin; in async code a coroutine to await (it returns once the spin ended), from
        plain code the :class:`ExecutingTask` at once (see :meth:`async_run`)."""
        args = spin_args(kwargs)
        return spin_started(partial(self._start_spin, pathspec, args, echo=False))

    def _start_spin(self, pathspec: str, args: list[str], *, echo: bool) -> ExecutingTask:
        attributes = os.path.join(self._workdir(), f"spin-{len(self._processes)}.json")
        process, _ = self._launch(["spin", pathspec],
                                  ["--runner-attribute-file", attributes, *args], echo=echo)
        running = ExecutingTask(self, process, attribute_file=attributes)
        self._started.append(running)
        return running

    def _start(self, command: list[str], args: list[str], *, echo: bool,
               run_id_file: str | None = None,
               types: Mapping[str, str] | None = None) -> ExecutingRun:
        refusal = env = None
        if types is not None:  # run(): the child checks the values as Metaflow's Runner does,
            # once it knows the parameters (see headwater.runtime.runner_args)
            refusal = os.path.join(self._workdir(), f"run-{len(self._processes)}.refusal")
            env = {RUNNER_ARGS_ENV: json.dumps({"types": dict(types), "refusal": refusal})}
        process, run_id_file = self._launch(command, args, echo=echo, run_id_file=run_id_file,
                                            env=env)
        running = ExecutingRun(self, process, flow_file=self.flow_file, run_id_file=run_id_file,
                               settings=self.settings, start_timeout=self.file_read_timeout,
                               refusal_file=refusal)
        self._started.append(running)
        return running

    def _launch(self, command: list[str], args: list[str], *, echo: bool,
                run_id_file: str | None = None,
                env: Mapping[str, str] | None = None) -> tuple[LoggedProcess, str]:
        """Start ``python flow.py [top-level options] COMMAND --run-id-file F ARGS``."""
        folder = self._workdir()
        number = len(self._processes)
        if run_id_file is None:
            run_id_file = os.path.join(folder, f"run-{number}.id")
        else:  # the caller's own file (as Metaflow's Runner allows), relative to the run's cwd
            run_id_file = os.path.join(self.cwd or os.getcwd(), os.fspath(run_id_file))
            if os.path.isfile(run_id_file):  # an earlier run's id must not be read as this one's
                os.remove(run_id_file)
        argv = [
            *entry_argv(sys.executable, self.flow_file), *top_level_args(self.top_level),
            *command, "--run-id-file", run_id_file, *args,
        ]
        logs = {name: os.path.join(folder, f"run-{number}.{name}") for name in ("stdout", "stderr")}
        check_no_nul(argv, {**self.env, **(env or {})}, self.flow_file)
        try:
            process = LoggedProcess(argv, cwd=self.cwd, env={**self.env, **(env or {})},
                                    log_paths=logs, echo=echo)
        except OSError as exc:
            if exc.errno != errno.E2BIG:
                raise
            raise RunnerArgumentError(
                f"the command line for {os.path.basename(self.flow_file)} is too long for the "
                f"system ({sum(len(a) for a in argv)} characters, plus the environment)",
                fix="pass large values as files (an IncludeFile reads one for you)",
            ) from None
        self._processes.append(process)
        return process, run_id_file

    def _workdir(self) -> str:
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="headwater-runner-")
            self._finalizer = weakref.finalize(self, _cleanup, self._tmpdir, self._processes)
        return self._tmpdir

    # -- cleaning up -----------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Stop runs still going and remove the temporary files. Safe to call more than once."""
        for running in self._started:
            # so that .run / .task still work once the files are gone
            if isinstance(running, ExecutingTask):
                running._read_attributes()
            else:
                running._read_run_id()
        if self._finalizer is not None:
            self._finalizer()
        self._tmpdir, self._finalizer, self._processes, self._started = None, None, [], []

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    async def __aenter__(self) -> Runner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cleanup()


def _started(start: Callable[..., ExecutingRun], command: list[str],
             args: list[str]) -> ExecutingRun | Coroutine[Any, Any, ExecutingRun]:
    if not loop_running():
        return start(command, args, echo=False)

    async def registered() -> ExecutingRun:
        return await start(command, args, echo=False)

    return registered()


def _cleanup(folder: str, processes: list[LoggedProcess]) -> None:
    """Module-level (not a method) so the finalizer keeps no reference to the Runner."""
    for process in processes:
        process.kill()
    for process in processes:
        process.wait(timeout=5)
        for log in process.logs.values():
            log.keep_tail()
    shutil.rmtree(folder, ignore_errors=True)


def _run_id_file(kwargs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Split off ``run_id_file``: the run id is written there too, as with Metaflow's Runner."""
    rest = dict(kwargs)
    return rest.pop("run_id_file", None), rest
