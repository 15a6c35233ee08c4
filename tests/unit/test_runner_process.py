"""LoggedProcess: output capture, live following, and stopping a whole process group."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import threading

from headwater.runner.process import LoggedProcess, Signal
from proctools import group_ends, live_members  # noqa: F401 - re-exported for tests


def start(tmp_path, code: str, *, echo: bool = False) -> LoggedProcess:
    logs = {name: str(tmp_path / f"out.{name}") for name in ("stdout", "stderr")}
    return LoggedProcess([sys.executable, "-c", textwrap.dedent(code)], cwd=str(tmp_path),
                         env=dict(os.environ), log_paths=logs, echo=echo)


def test_capture_and_exit_code(tmp_path):
    process = start(tmp_path, """
        import sys
        print("one"); print("two")
        print("oops", file=sys.stderr)
        sys.stdout.write("no newline at the end")
        sys.exit(3)
    """)
    assert process.wait(timeout=30)
    assert process.returncode == 3
    assert process.logs["stdout"].text() == "one\ntwo\nno newline at the end"
    assert process.logs["stderr"].text() == "oops\n"
    assert list(process.follow("stdout")) == [(0, "one"), (4, "two"),
                                              (8, "no newline at the end")]
    assert list(process.follow("stdout", 4)) == [(4, "two"), (8, "no newline at the end")]


def test_follow_sees_lines_while_the_process_runs(tmp_path):
    gate = tmp_path / "gate"
    process = start(tmp_path, f"""
        import os, time
        print("first", flush=True)
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.01)
        print("second", flush=True)
    """)
    seen = []
    for _, line in process.follow("stdout"):
        seen.append(line)
        if line == "first":
            assert process.returncode is None  # still running: the line arrived live
            gate.touch()
    assert seen == ["first", "second"]
    assert process.returncode == 0


def test_follow_async_and_wait_async(tmp_path):
    process = start(tmp_path, "print('a'); print('b')")

    async def main():
        lines = [line async for _, line in process.follow_async("stdout")]
        ended = await process.wait_async(timeout=30)
        return lines, ended

    assert asyncio.run(main()) == (["a", "b"], True)


def test_wait_timeout_and_kill_stop_the_whole_group(tmp_path):
    process = start(tmp_path, """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print(child.pid, flush=True)
        time.sleep(120)
    """)
    (_, grandchild), = [next(iter(process.follow("stdout")))]
    assert process.wait(timeout=0.1) is False
    process.kill(grace=5)
    assert process.returncode is not None
    assert group_ends(process.pid)
    assert int(grandchild) not in live_members(process.pid)


def test_echo_writes_through_to_this_process(tmp_path, capfd):
    process = start(tmp_path, "print('shown live')", echo=True)
    process.wait(timeout=30)
    assert "shown live" in capfd.readouterr().out


def test_signal_wakes_threads_and_coroutines():
    signal = Signal()
    seen = signal.version
    threading.Timer(0.05, signal.notify).start()
    assert signal.wait(seen, timeout=10) == seen + 1
    assert signal.wait(seen, timeout=0) == seen + 1  # a change already made is not missed

    async def main() -> int:
        now = signal.version
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, lambda: threading.Thread(target=signal.notify).start())
        return await signal.wait_async(now, timeout=10)

    assert asyncio.run(main()) == seen + 2
