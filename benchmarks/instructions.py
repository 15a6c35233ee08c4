"""User-space instructions a run executes, per process, counted by Valgrind: a before/after
check that a loaded machine cannot blur.

    python benchmarks/instructions.py CASE NAME=SRC [NAME=SRC ...]

CASE is one of ``linear``, ``resume``, ``foreach10`` and ``foreach100`` (the flows and arguments
of ``interleave.py``); each NAME=SRC is a headwater ``src`` folder (e.g. from ``git archive``).
Every tree runs the case once untimed (its bytecode written), then once under
``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``, in a fresh folder, with the interpreter ``HWBENCH_HEADWATER_PYTHON`` (default: the one running this
script). Printed per tree: the instructions of the process that was started (the scheduler, with
its interpreter's start and imports), and of the processes it forked (fork servers and tasks),
each counted from its fork on: how many, their sum, median and largest.

Why: wall and CPU time on this shared two-core machine move by 5-10 % with the load, which hides
what one round of changes costs a run. An instruction count does not move with the load (the
same run twice differs by well under 0.5 %), so a change of 1 % is visible. What it does not
see is the kernel's share (fork, page faults, exit: about 60 % of a forked task's CPU here, see
"Sixteenth pass" in docs/benchmarks.md) and time spent waiting; use ``interleave.py`` on a quiet
machine for those. Needs Valgrind (``apt-get install valgrind``); a run is ~50 times slower
under it (foreach100: about a minute).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOWS = HERE / "flows"
# What each case runs: the flow file, its command's arguments, and whether a failing run comes first.
CASES = {
    "linear": ("linear", ["run"], False),
    "resume": ("resume", ["resume"], True),
    "foreach10": ("foreach", ["run", "--n", "10"], False),
    "foreach100": ("foreach", ["run", "--n", "100", "--max-num-splits", "100"], False),
}
# Counting restarts in a forked child when CPython's after-fork hook runs: a child's figure is
# then its own work, not its parent's up to the fork.
_VALGRIND = ["valgrind", "--tool=callgrind", "--trace-children=yes",
             "--zero-before=PyOS_AfterFork_Child"]
_SUMMARY = re.compile(r"^summary:\s*(\d+)", re.M)
_TOTALS = re.compile(r"^totals:\s*(\d+)", re.M)


@dataclass
class Counts:
    """One run's instructions: the started processes' (in order of pid) and the forked ones'."""

    started: list[int]
    forked: list[int]

    def line(self, name: str) -> str:
        forked = self.forked or [0]
        return (f"{name:12} started {_m(sum(self.started))}  forked: {len(self.forked)} processes, "
                f"sum {_m(sum(forked))}, median {_m(statistics.median(forked))}, "
                f"largest {_m(max(forked))}  all {_m(sum(self.started) + sum(forked))}")


def _m(count: float) -> str:
    return f"{count / 1e6:8.2f} M"


def _environment(src: str, folder: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHONPATH", "PYTHONDONTWRITE"))}
    env.update(PYTHONPATH=src, PYTHONHASHSEED="0", USERNAME="bench", METAFLOW_USER="bench",
               HOME=folder)
    return env


def _play(python: str, src: str, case: str, folder: str, prefix: list[str]) -> None:
    """Run ``case`` in ``folder`` (after the failing run it resumes, if any), the command itself
    behind ``prefix`` (Valgrind, or nothing for a warm-up)."""
    name, command, fails_first = CASES[case]
    flow = f"{name}.py"
    shutil.copy(FLOWS / flow, Path(folder, flow))
    env = _environment(src, folder)
    if fails_first:
        failed = subprocess.run([python, flow, "run"], cwd=folder, env={**env, "BENCH_FAIL": "1"},
                                capture_output=True, check=False)
        if failed.returncode != 0 and b"late failure" not in failed.stderr + failed.stdout:
            sys.exit(f"{case} with {src}: the run meant to fail did not fail as meant")
        if failed.returncode == 0:
            sys.exit(f"{case}: the run meant to fail succeeded")
    proc = subprocess.run([*prefix, python, flow, *command], cwd=folder, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{case} with {src} failed{' under valgrind' if prefix else ''}:\n"
                 f"{proc.stderr[-2000:]}")


def count(python: str, src: str, case: str) -> Counts:
    """Run ``case`` with the tree ``src`` under callgrind and read back every process's count."""
    warm = tempfile.mkdtemp(prefix="hw-instructions-warm-")
    folder = tempfile.mkdtemp(prefix="hw-instructions-")
    try:
        # A whole warm-up first, outside Valgrind: a fresh tree's first run compiles its
        # bytecode, which would count four times over.
        _play(python, src, case, warm, [])
        out = Path(folder, "callgrind")
        out.mkdir()
        _play(python, src, case, folder, [*_VALGRIND, f"--callgrind-out-file={out}/cg.%p"])
        started: list[tuple[int, int]] = []
        forked: list[int] = []
        for path in out.iterdir():
            text = path.read_text(errors="replace")
            summary, totals = _SUMMARY.search(text), _TOTALS.search(text)
            if not summary or not totals:
                continue
            own = int(summary.group(1))
            # Zeroed at the fork, a child's totals still carry its parent's count; a process
            # that was started (exec) has nothing before its own start.
            if int(totals.group(1)) == own:
                started.append((int(path.name.split(".")[-1]), own))
            else:
                forked.append(own)
        return Counts([own for _, own in sorted(started)], sorted(forked))
    finally:
        shutil.rmtree(warm, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in CASES or not all("=" in a for a in sys.argv[2:]):
        sys.exit(__doc__)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install valgrind")
    case = sys.argv[1]
    python = os.environ.get("HWBENCH_HEADWATER_PYTHON", sys.executable)
    print(f"{case}: user-space instructions (millions), interpreter {python}")
    for name, src in (arg.split("=", 1) for arg in sys.argv[2:]):
        print(count(python, src, case).line(name), flush=True)


if __name__ == "__main__":
    main()
