"""A local run imports nothing of the remote, async or web UI stacks: not in the scheduler, not in
the tasks. Checked by module names (never by timings)."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

from headwater import Flow, namespace

from .flowrun import run_cli

# Top-level modules a local run must not import (fsspec brings asyncio and ssl with it).
REMOTE_STACKS = ("fsspec", "asyncio", "ssl", "dask", "distributed", "psycopg", "s3fs",
                 "botocore", "aiohttp", "aiobotocore", "importlib.metadata",
                 # the web UI's server: only `headwater ui` / `card server` load it
                 "headwater.ui", "starlette", "uvicorn", "anyio")

# Standard library modules a local run does not need, though headwater once imported them for
# small uses: each costs every run its import (this VM: inspect with dis and tokenize ~15 ms,
# urllib.parse with ipaddress ~6 ms, socket with selectors ~4 ms, threading ~2 ms; "Seventh pass"
# in docs/benchmarks.md). inspect: the graph's docstrings and source file are read without it,
# user step decorators and @cache import it when used. copy: only for user step decorators.
# urllib.parse: the read-only SQLite URI has its own percent-encoder. socket, selectors: the fork
# servers and the executor use `_socket` and `select.poll`, the host name comes from `os.uname`.
# threading: SQLite connections use `_thread`'s lock and thread-local (the temp sweep, once a
# day, still starts a thread: skipped here, see below). tempfile (with shutil, random, bz2
# and lzma ~5 ms): the test-only fault points make a temp file only at a held point. Modules the
# interpreter itself loads at start-up (a site-packages .pth file) are not a run's doing and are
# left out.
STDLIB_NOT_NEEDED = ("inspect", "dis", "tokenize", "copy", "urllib", "ipaddress", "socket",
                     "selectors", "threading", "tempfile", "shutil")

# headwater's own modules a flow that uses none of their features never needs: the checks of
# @trigger shapes (a flow with no @trigger), the search for a step left outside its class (only
# once the graph has failed).
OWN_NOT_NEEDED = ("headwater.decorators.trigger_specs", "headwater.graph.stray_defs")

FLOW = textwrap.dedent("""
    import sys

    from headwater import FlowSpec, Parameter, step


    class LeanFlow(FlowSpec):
        n = Parameter("n", default=3)

        @step
        def start(self):
            self.items = list(range(self.n))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.value = self.input * 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            self.task_modules = sorted(sys.modules)


    if __name__ == "__main__":
        LeanFlow()
""")


def _loaded(names: list[str], module: str) -> bool:
    return any(n == module or n.startswith(module + ".") for n in names)


def _at_start_up() -> set[str]:
    """The modules this interpreter has loaded before running anything (in the tests' env)."""
    import subprocess

    from .flowrun import hermetic_env

    code = "import sys; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], env=hermetic_env(), capture_output=True,
                         text=True, check=True).stdout
    return set(out.split())


def test_a_local_run_imports_no_remote_stack(tmp_path: Path) -> None:
    flow = tmp_path / "lean_flow.py"
    flow.write_text(FLOW)
    # The datastore counts as swept today: the sweep's thread (threading) is not this run's cost.
    from headwater.store.temp_sweep import MARKER

    (tmp_path / ".headwater").mkdir()
    (tmp_path / ".headwater" / MARKER).touch()
    # -X importtime makes every import of the scheduler (and of its forked tasks, whose stderr
    # the scheduler relays) print one line naming the module.
    proc = run_cli(flow, "run", cwd=tmp_path, hermetic=True,
                   env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", proc.stderr + proc.stdout)
    assert "headwater.runtime.scheduler" in imported  # the probe works
    scheduler_side = [m for m in REMOTE_STACKS if _loaded(imported, m)]
    assert scheduler_side == []
    preloaded = _at_start_up()
    not_needed = [m for m in STDLIB_NOT_NEEDED if m not in preloaded]
    assert [m for m in not_needed if _loaded(imported, m)] == []
    assert [m for m in OWN_NOT_NEEDED if _loaded(imported, m)] == []
    # A bare `run` is started without click (cli/plain_run.py): nothing parses it.
    assert not _loaded(imported, "click")

    namespace(None)
    from headwater.client import metadata

    metadata(str(tmp_path / ".headwater"))
    run = Flow("LeanFlow").latest_run
    assert run.successful and run.data.total == 6
    task_modules = run["end"].task.data.task_modules
    assert "headwater.runtime.task" in task_modules  # the probe works
    task_side = [m for m in REMOTE_STACKS if _loaded(task_modules, m)]
    assert task_side == []
    assert [m for m in not_needed if _loaded(task_modules, m)] == []


def test_what_a_run_imports_before_its_fork_servers_leaves_threading_out() -> None:
    """Every forked task would otherwise run threading's after-fork handler (copy-on-write
    faults: "Fifth pass" in docs/benchmarks.md). `-S`: this machine's site-packages import
    threading at start-up through a `.pth` file, which says nothing of headwater."""
    import subprocess

    # This process's path (site-packages and what their .pth files added), without running the
    # .pth files' imports.
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = {[p for p in sys.path if p]!r}
        assert "threading" not in sys.modules, "the interpreter itself imported threading"
        import headwater.runtime.launcher
        import headwater.runtime.executors.local
        import headwater.runtime.executors.child
        assert "headwater.runtime.scheduler" in sys.modules  # the probe works
        assert "threading" not in sys.modules
    """)
    subprocess.run([sys.executable, "-S", "-c", code], check=True)


def test_the_backend_registry_loads_nothing_it_does_not_use() -> None:
    """Asking the registry for the CLI's choices and the local backends imports no backend."""
    import subprocess

    code = textwrap.dedent("""
        import sys
        from headwater import backends
        assert backends.names("executor")[:3] == ["local", "spawn", "dask"]
        backends.get("datastore", "s3")
        backends.for_url("metadata", "postgresql://x@y/z")
        heavy = [m for m in ("fsspec", "dask", "distributed", "psycopg", "s3fs", "asyncio",
                             "headwater.runtime.executors.dask.executor",
                             "headwater.runtime.executors.spawn.executor",
                             "headwater.store.s3_storage", "headwater.meta.postgres")
                 if m in sys.modules]
        assert heavy == [], heavy
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_run_with_parameters_and_simple_options_is_started_without_click(tmp_path: Path) -> None:
    flow = tmp_path / "lean_flow.py"
    flow.write_text(FLOW)
    proc = run_cli(flow, "run", "--n", "4", "--max-num-splits=10", "--tag", "fast", cwd=tmp_path,
                   hermetic=True, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", proc.stderr + proc.stdout)
    assert "headwater.runtime.scheduler" in imported  # the probe works
    assert not _loaded(imported, "click")

    namespace(None)
    from headwater.client import metadata

    metadata(str(tmp_path / ".headwater"))
    run = Flow("LeanFlow").latest_run
    assert run.successful and run.data.total == 12  # 2 * (0 + 1 + 2 + 3): --n was read
    assert "fast" in run.tags

    # A value the command line itself refuses is still click's to report, word for word.
    refused = run_cli(flow, "run", "--max-num-splits", "0", cwd=tmp_path, hermetic=True)
    assert refused.returncode == 2
    assert "Invalid value for '--max-num-splits'" in refused.stderr
