"""What following a long task's output costs the run: bytes written while a step prints steadily.

    python benchmarks/live_output.py SECONDS [BEFORE_SRC]

Runs ``flows/chatty.py`` (a 1 KB line every 10 ms for SECONDS) with this checkout's ``src`` and,
if given, another tree's ``src`` (e.g. from ``git archive``), each in a fresh folder, and prints
what the run's scheduler process handed to ``write()`` (``wchar`` of ``/proc/PID/io``, read until
it exits: the stored log, the live copies readers follow, the metadata) and what the folder holds
at the end. ``HWBENCH_HEADWATER_PYTHON`` is the interpreter (default: this one). Linux only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW = Path(__file__).resolve().parent / "flows" / "chatty.py"
HERE_SRC = Path(__file__).resolve().parent.parent / "src"


def _written(python: str, src: str, seconds: str) -> tuple[int, int]:
    folder = tempfile.mkdtemp(prefix="hwbench-live-")
    try:
        shutil.copy(FLOW, folder)
        env = dict(os.environ, PYTHONPATH=src,
                   HEADWATER_DATASTORE_ROOT=os.path.join(folder, ".headwater"))
        child = subprocess.Popen([python, FLOW.name, "run", "--seconds", seconds], cwd=folder,
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wchar = 0
        while child.poll() is None:
            try:
                with open(f"/proc/{child.pid}/io") as io:
                    wchar = next(int(v) for k, v in (line.split() for line in io)
                                 if k == "wchar:")
            except (OSError, StopIteration):
                pass
            time.sleep(0.05)
        if child.returncode:
            sys.exit(f"the run failed with {child.returncode}")
        kept = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, files in os.walk(folder) for f in files)
        return wchar, kept
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    seconds = sys.argv[1] if len(sys.argv) > 1 else "20"
    python = os.environ.get("HWBENCH_HEADWATER_PYTHON", sys.executable)
    trees = [("before", sys.argv[2])] if len(sys.argv) > 2 else []
    for name, src in [*trees, ("after" if trees else "this tree", str(HERE_SRC))]:
        wchar, kept = _written(python, src, seconds)
        print(f"{name:>9}: {seconds} s of printing, {wchar / 1e6:.1f} MB written, "
              f"{kept / 1e6:.1f} MB kept")


if __name__ == "__main__":
    main()
