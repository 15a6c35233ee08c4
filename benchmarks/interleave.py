"""Two headwater source trees and Metaflow, interleaved: ``linear`` run and ``resume`` after a
late failure, wall and CPU time (user + system of the process and its children).

    python benchmarks/interleave.py BEFORE_SRC [ROUNDS]

BEFORE_SRC is the ``src`` folder of another headwater checkout (e.g. from ``git archive``);
the other tree is this checkout's ``src``. Metaflow's interpreter is ``HWBENCH_METAFLOW_PYTHON``.
Each round runs every system on both cases in a fresh folder; the first round is a warm-up.
Use ``benchmarks/run.py`` for the full comparison; this script is for a before/after check.
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
CASES = ("linear", "resume")


def _timed(python: str, args: list[str], cwd: str, env: dict[str, str]) -> tuple[int, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([python, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, wall, cpu


def _one(system: str, python: str, src: str | None, case: str) -> tuple[float, float]:
    folder = tempfile.mkdtemp(prefix="hw-interleave-")
    try:
        flow = f"{case}.py"
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
        if case == "resume":
            code, _, _ = _timed(python, [flow, "run"], folder, {**env, "BENCH_FAIL": "1"})
            assert code != 0, f"{system}: the failing run succeeded"
        code, wall, cpu = _timed(python, [flow, case if case == "resume" else "run"], folder, env)
        assert code == 0, f"{system} {case} failed"
        return wall, cpu
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    before_src = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    systems = {"hw-before": (sys.executable, before_src),
               "hw-after": (sys.executable, str(HERE.parent / "src"))}
    if os.environ.get("HWBENCH_METAFLOW_PYTHON"):
        systems["metaflow"] = (os.environ["HWBENCH_METAFLOW_PYTHON"], None)
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    loads = []
    for number in range(rounds + 1):
        loads.append(os.getloadavg()[0])
        for system, (python, src) in systems.items():
            for case in CASES:
                sample = _one(system, python, src, case)
                if number:  # round 0 is the warm-up
                    samples.setdefault((system, case), []).append(sample)
    print(f"{rounds} runs per system and case; 1-min load average {min(loads):.1f}-{max(loads):.1f}")
    for case in CASES:
        for system in systems:
            walls = [w for w, _ in samples[(system, case)]]
            cpus = [c for _, c in samples[(system, case)]]
            print(f"{case:7} {system:10} wall median {statistics.median(walls):.3f} s "
                  f"(min {min(walls):.3f})  CPU median {statistics.median(cpus):.3f} s")


if __name__ == "__main__":
    main()
