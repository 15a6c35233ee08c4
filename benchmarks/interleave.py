"""Two headwater source trees and Metaflow, interleaved: ``linear`` run, ``resume`` after a
late failure and a foreach over 100 items (``foreach100``), wall and CPU time (user + system of
the process and its children).

    python benchmarks/interleave.py BEFORE_SRC [ROUNDS] [CASES]

BEFORE_SRC is the ``src`` folder of another headwater checkout (e.g. from ``git archive``);
the other tree is this checkout's ``src``. CASES is a comma-separated subset of
``linear,resume,foreach100,foreach10`` (the first three by default).
``HWBENCH_AFTER_EXECUTOR=spawn`` runs this checkout's tree with that executor (give this
checkout's ``src`` as BEFORE_SRC to compare two executors of one tree). Metaflow's interpreter is
``HWBENCH_METAFLOW_PYTHON``; headwater's is ``HWBENCH_HEADWATER_PYTHON`` (default: the one
running this script). Give headwater a virtualenv of its own without the system's
site-packages, as Metaflow's is: ``.pth`` files there run at every interpreter start and would
be counted against whichever system has them. Each round runs every system on every case in a
fresh folder, in the reverse order every other round (two identical trees measured 8-11 %
apart when one always ran right after Metaflow); the first round is a warm-up. Use
``benchmarks/run.py`` for the full comparison; this script is for a before/after check.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOWS = HERE / "flows"
CASES = ("linear", "resume", "foreach100")
MORE_CASES = ("foreach10",)
# What each case runs: the flow file and the command's arguments (as benchmarks/run.py does).
COMMANDS = {
    "linear": ("linear", ["run"]),
    "resume": ("resume", ["resume"]),
    "foreach100": ("foreach", ["run", "--n", "100", "--max-num-splits", "100"]),
    "foreach10": ("foreach", ["run", "--n", "10"]),
}


def _timed(python: str, args: list[str], cwd: str, env: dict[str, str]) -> tuple[int, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([python, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, wall, cpu


def _one(system: str, python: str, src: str | None, case: str,
         executor: str | None = None) -> tuple[float, float]:
    folder = tempfile.mkdtemp(prefix="hw-interleave-")
    try:
        name, command = COMMANDS[case]
        flow = f"{name}.py"
        text = (FLOWS / flow).read_text()
        if system == "metaflow":
            text = text.replace("from headwater import", "from metaflow import")
        Path(folder, flow).write_text(text)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHONPATH", "PYTHONDONTWRITE"))}
        env.update(METAFLOW_DATASTORE_SYSROOT_LOCAL=folder, METAFLOW_HOME=folder,
                   USERNAME="bench", METAFLOW_USER="bench")
        if src:
            env["PYTHONPATH"] = src
        if executor:
            env["HEADWATER_EXECUTOR"] = executor
        if case == "resume":
            code, _, _ = _timed(python, [flow, "run"], folder, {**env, "BENCH_FAIL": "1"})
            assert code != 0, f"{system}: the failing run succeeded"
        code, wall, cpu = _timed(python, [flow, *command], folder, env)
        assert code == 0, f"{system} {case} failed"
        return wall, cpu
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    before_src = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    cases = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 else CASES
    unknown = set(cases) - set(CASES) - set(MORE_CASES)
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(sorted(unknown))}; choose from "
                 f"{', '.join(CASES + MORE_CASES)}")
    after_executor = os.environ.get("HWBENCH_AFTER_EXECUTOR")
    headwater_python = os.environ.get("HWBENCH_HEADWATER_PYTHON", sys.executable)
    systems = {"hw-before": (headwater_python, before_src),
               "hw-after": (headwater_python, str(HERE.parent / "src"))}
    if os.environ.get("HWBENCH_METAFLOW_PYTHON"):
        systems["metaflow"] = (os.environ["HWBENCH_METAFLOW_PYTHON"], None)
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    loads = []
    for number in range(rounds + 1):
        loads.append(os.getloadavg()[0])
        # Every other round runs the systems in the reverse order: whichever runs first in a
        # round (right after Metaflow's sixteen workers, or not) is not always the same one.
        order = list(systems.items())
        for system, (python, src) in (order if number % 2 == 0 else order[::-1]):
            for case in cases:
                sample = _one(system, python, src, case,
                              after_executor if system == "hw-after" else None)
                if number:  # round 0 is the warm-up
                    samples.setdefault((system, case), []).append(sample)
    print(f"{rounds} runs per system and case; 1-min load average {min(loads):.1f}-{max(loads):.1f}"
          f"; headwater's interpreter {headwater_python}"
          + (f"; hw-after with --executor {after_executor}" if after_executor else ""))
    for case in cases:
        medians = {}
        for system in systems:
            walls = [w for w, _ in samples[(system, case)]]
            cpus = [c for _, c in samples[(system, case)]]
            medians[system] = (statistics.median(walls), statistics.median(cpus))
            print(f"{case:10} {system:10} wall median {medians[system][0]:.3f} s "
                  f"(min {min(walls):.3f})  CPU median {medians[system][1]:.3f} s")
        if "metaflow" in medians:
            mf_wall, mf_cpu = medians["metaflow"]
            for system in ("hw-before", "hw-after"):
                wall, cpu = medians[system]
                print(f"{case:10} metaflow / {system}: wall {mf_wall / wall:.1f}x  "
                      f"CPU {mf_cpu / cpu:.1f}x")


if __name__ == "__main__":
    main()
