"""A flow script's process ends without the interpreter's teardown, and keeps every promise of a
normal exit: atexit handlers, flushed streams and files, other threads finished, the exit
status. Under a profiler it exits normally, so the profiler still writes its output."""

from __future__ import annotations

import textwrap
from pathlib import Path

from headwater.cli.process_exit import owns_process

from .flowrun import run_cli

FLOW = textwrap.dedent("""
    import atexit
    import os
    import threading

    from headwater import FlowSpec, step

    # Written at module level and never closed: only an exit that flushes keeps it.
    LOG = open("module.log", "w")
    LOG.write("written by the module")


    def _at_exit():
        with open("atexit.txt", "w") as out:
            out.write("atexit ran")


    atexit.register(_at_exit)


    class _Torn:
        # Runs only when the interpreter tears its modules down.
        def __del__(self):
            with open("teardown.txt", "w") as out:
                out.write("torn down")


    TORN = _Torn()


    def _slow_writer():
        # Work that outlives the command: it starts once the last step is done.
        pause = threading.Event()
        for _ in range(6000):
            if os.path.exists("end.done"):
                break
            pause.wait(0.01)
        pause.wait(1.0)
        with open("thread.txt", "w") as out:
            out.write("thread finished")


    if os.environ.get("EXIT_FLOW_THREAD"):
        threading.Thread(target=_slow_writer).start()


    class ExitFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            if os.environ.get("EXIT_FLOW_FAIL"):
                raise RuntimeError("end fails on purpose")
            print("end ran")
            open("end.done", "w").close()


    if __name__ == "__main__":
        ExitFlow()
""")


def _write_flow(tmp_path: Path) -> Path:
    flow = tmp_path / "exit_flow.py"
    flow.write_text(FLOW)
    return flow


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def test_a_run_keeps_atexit_handlers_open_files_and_output(tmp_path: Path) -> None:
    flow = _write_flow(tmp_path)
    done = run_cli(flow, "run", cwd=tmp_path, hermetic=True)
    assert done.returncode == 0, done.stderr
    assert "end ran" in done.stdout and "succeeded" in done.stdout
    assert _read(tmp_path / "atexit.txt") == "atexit ran"
    assert _read(tmp_path / "module.log") == "written by the module"
    # the teardown itself was skipped: nothing emptied the module
    assert _read(tmp_path / "teardown.txt") is None


def test_a_command_through_click_exits_the_same_way(tmp_path: Path) -> None:
    flow = _write_flow(tmp_path)
    done = run_cli(flow, "show", cwd=tmp_path, hermetic=True)
    assert done.returncode == 0, done.stderr
    assert "ExitFlow" in done.stdout
    assert _read(tmp_path / "atexit.txt") == "atexit ran"
    assert _read(tmp_path / "module.log") == "written by the module"
    assert _read(tmp_path / "teardown.txt") is None


def test_a_failed_run_keeps_its_exit_status(tmp_path: Path) -> None:
    flow = _write_flow(tmp_path)
    done = run_cli(flow, "run", cwd=tmp_path, hermetic=True, env={"EXIT_FLOW_FAIL": "1"})
    assert done.returncode == 1
    assert "end fails on purpose" in done.stdout + done.stderr
    assert _read(tmp_path / "atexit.txt") == "atexit ran"


def test_another_thread_still_running_is_waited_for(tmp_path: Path) -> None:
    flow = _write_flow(tmp_path)
    done = run_cli(flow, "run", cwd=tmp_path, hermetic=True, env={"EXIT_FLOW_THREAD": "1"})
    assert done.returncode == 0, done.stderr
    assert _read(tmp_path / "thread.txt") == "thread finished"


def test_under_a_profiler_the_process_exits_normally(tmp_path: Path) -> None:
    flow = _write_flow(tmp_path)
    stats = tmp_path / "profile.out"
    done = run_cli("-m", "cProfile", "-o", str(stats), str(flow), "run", cwd=tmp_path,
                   hermetic=True)
    assert done.returncode == 0, done.stderr
    assert stats.exists() and stats.stat().st_size > 0  # cProfile wrote after the program
    assert _read(tmp_path / "teardown.txt") == "torn down"


DRIVER = textwrap.dedent("""
    import runpy
    import sys

    sys.argv = [sys.argv[1], "run"]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as stop:
        with open("after.txt", "w") as out:
            out.write(f"carried on after exit {stop.code}")
""")


def test_a_program_that_runs_the_script_itself_gets_its_exit_back(tmp_path: Path) -> None:
    flow = _write_flow(tmp_path)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    done = run_cli(driver, str(flow), cwd=tmp_path, hermetic=True)
    assert done.returncode == 0, done.stderr
    assert "end ran" in done.stdout
    assert _read(tmp_path / "after.txt") == "carried on after exit 0"


class NotTheScriptsFlow:
    """A flow class of an imported module (here: this test module)."""


def test_a_flow_class_outside_the_main_script_never_skips_the_teardown() -> None:
    # The CLI called from inside another program (a test runner, a notebook) must return to it.
    assert NotTheScriptsFlow.__module__ != "__main__"
    assert not owns_process(NotTheScriptsFlow)
    # named after __main__ but not one of its classes
    assert not owns_process(type("Stranger", (), {"__module__": "__main__"}))
