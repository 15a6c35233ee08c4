"""A warm fork server per environment, so a task in an environment starts in milliseconds.

The base environment's fork servers are forked from the launching process. An environment's
server cannot be: it must run the environment's interpreter. So it is started once, when the
first task of that environment is ready, as ``ENV/bin/python -c BOOTSTRAP``: it imports
headwater (through a link to this very package, see :func:`cache.runtime_overlay`) and the flow
module, checks the graph, opens the datastore, then serves forks exactly as the base servers
do (:func:`headwater.runtime.executors.forkserver.serve`, the same protocol). The scheduler's
executor cannot tell the two kinds apart.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from headwater.environments.prepare import BuiltEnv, env_environ
from headwater.interpreters import SAFE_PATH
from headwater.runtime.executors.forkserver import ForkServer, scheduler_lifeline
from headwater.runtime.executors.launch_env import with_launch

_BOOTSTRAP = (SAFE_PATH + "sys.path.insert(0, sys.argv[1]); "
              "from headwater.runtime.executors.local.environment_servers import main; "
              "main(sys.argv[2:])")


class EnvForkServer(ForkServer):
    """A fork server running in another interpreter (a child process, not a fork of ours)."""

    def __init__(self, proc: subprocess.Popen[bytes], sock: socket.socket) -> None:
        super().__init__(proc.pid, sock)
        self.proc = proc

    def stop(self) -> None:
        try:
            self.sock.close()
        finally:
            self.proc.wait()


class EnvironmentServers:
    """Step -> the fork server of its environment, each started on first use.

    ``flow_cls`` is imported by each server from its file; ``root`` is the datastore's;
    ``current_fields`` are the run-wide ``current`` values every task gets.
    """

    def __init__(self, flow_cls: type, step_envs: Mapping[str, BuiltEnv], root: str,
                 current_fields: Mapping[str, Any] | None = None) -> None:
        from headwater.environments.cache import runtime_overlay

        self._envs = dict(step_envs)
        self._overlay = str(runtime_overlay())
        from headwater.flow_file import own_file_record

        code = own_file_record(flow_cls)
        self._launch = {"folder": code["folder"], "code": code,
                        "root": root, "current": dict(current_fields or {})}
        self._servers: dict[str, EnvForkServer] = {}  # lock id -> its server

    def server_for(self, step: str) -> ForkServer | None:
        """The server of ``step``'s environment, or None for a step of the base environment."""
        env = self._envs.get(step)
        if env is None:
            return None
        server = self._servers.get(env.lock.id)
        if server is None:
            server = self._servers[env.lock.id] = self._start(env)
        return server

    def _start(self, env: BuiltEnv) -> EnvForkServer:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # the read end of the scheduler's lifeline, which the server's tasks tie themselves to
        lifeline = scheduler_lifeline()
        passed = [theirs.fileno()] + ([lifeline[0]] if lifeline is not None else [])
        proc = subprocess.Popen(  # noqa: S603 - the environment's interpreter, our own module
            [env.python, "-c", _BOOTSTRAP, self._overlay, str(theirs.fileno())],
            pass_fds=passed, stdin=subprocess.DEVNULL,
            env=with_launch(env_environ(env), {
                **self._launch, "facts": {"environment": env.lock.id},
                "lifeline": lifeline[0] if lifeline is not None else None}))
        theirs.close()
        return EnvForkServer(proc, ours)

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


def main(argv: list[str]) -> None:  # pragma: no cover - runs in the environment's interpreter
    """The server: load the flow once, then fork a child per task until the scheduler hangs up."""
    import headwater.runtime.task  # noqa: F401 - what every task needs, imported once here
    from headwater.flow_file import packaged_flow_class
    from headwater.graph import check_flow
    from headwater.runtime.executors.child import make_child_main
    from headwater.runtime.executors.forkserver import serve
    from headwater.runtime.executors.launch_env import take_launch
    from headwater.store import open_datastore

    fd, launch = int(argv[0]), take_launch()
    sock = socket.socket(fileno=fd)
    try:
        flow_cls = packaged_flow_class(launch["folder"], launch["code"])
        graph = check_flow(flow_cls)
    except Exception as exc:  # noqa: BLE001 - each task reports it, naming the fix
        task_main = _failing_main(_import_failure(exc, launch["code"]["path"]))
    else:
        try:
            store = open_datastore(launch["root"])
        except Exception as exc:  # noqa: BLE001 - each task reports it, naming the fix
            task_main = _failing_main(_store_failure(exc))
        else:
            task_main = make_child_main(flow_cls, graph, store, launch["current"],
                                        launch["facts"])
    serve(sock, task_main, launch.get("lifeline"))
    sys.stdout.flush()
    os._exit(0)


def _import_failure(exc: Exception, flow_file: str) -> str:  # pragma: no cover - in the server
    fix = ""
    if isinstance(exc, ImportError) and exc.name:
        fix = (f". Fix: add {exc.name.split('.')[0]!r} to the step's @pypi/@conda packages, or "
               "import it inside the steps that use it rather than at the top of the flow file")
    return (f"the flow file {flow_file} cannot be imported in this step's environment: "
            f"{type(exc).__name__}: {exc}{fix}")


def _store_failure(exc: Exception) -> str:  # pragma: no cover - in the server
    """The run's datastore cannot be opened from the environment: most often its driver is not
    installed there (a datastore backend that declares no ``task_requires``, or an fsspec URL
    whose driver headwater cannot know)."""
    from headwater.exceptions import HeadwaterException

    msg, fix = (exc.msg, exc.fix) if isinstance(exc, HeadwaterException) else (str(exc), None)
    fix = f"{fix}; in" if fix else "in"
    return (f"the run's datastore cannot be opened in this step's environment: "
            f"{type(exc).__name__}: {msg}. Fix: {fix} a @pypi/@conda step, list the package "
            "among the step's packages (or the flow's @pypi_base/@conda_base): its environment "
            "holds only what its lock lists")


def _failing_main(message: str) -> Any:  # pragma: no cover - in the server
    """Tasks of an environment where the flow cannot be loaded (or its datastore opened) fail
    with ``message``, which says why and the fix."""
    import pickle

    from headwater.records import TaskFailure, TaskResult
    from headwater.runtime.executors.forkserver import read_to_end

    def task_main(sock: socket.socket) -> int:
        spec = pickle.loads(read_to_end(sock))
        print(f"{spec.pathspec}: {message}", file=sys.stderr)
        result = TaskResult(failure=TaskFailure("EnvironmentImportError", message))
        sock.sendall(pickle.dumps(result, protocol=5))
        sock.close()
        return 1

    return task_main
