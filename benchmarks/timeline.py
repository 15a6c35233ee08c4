"""Where a foreach run's wall time goes: its moments, in milliseconds from the process's spawn.

    python benchmarks/timeline.py PYTHON [N] [ROUNDS]

Runs ``flows/foreach.py run --n N`` (default 100) ROUNDS times (default 5) with the interpreter
PYTHON, each in a fresh folder, then reads the run's and its tasks' start and end times back from
the metadata file (``.headwater/meta.sqlite``) and prints the median of each moment: the run
recorded, the start task, the first and last foreach task, the join, the end, the process gone.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW = Path(__file__).resolve().parent / "flows" / "foreach.py"


def _moments(python: str, n: int) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="hwbench-timeline-")
    try:
        shutil.copy(FLOW, folder)
        env = dict(os.environ, USERNAME="bench", METAFLOW_DATASTORE_SYSROOT_LOCAL=folder)
        spawned = time.time()
        subprocess.run([python, FLOW.name, "run", "--n", str(n)], cwd=folder, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        gone = time.time()
        db = sqlite3.connect(os.path.join(folder, ".headwater", "meta.sqlite"))
        try:
            (created, finished), = db.execute("SELECT created_at, finished_at FROM runs")
            steps: dict[str, list[float]] = {}
            for step, began, ended in db.execute(
                    "SELECT step, started_at, finished_at FROM attempts"):
                first, last_began, first_end, last_end = steps.setdefault(
                    step, [float("inf"), 0.0, float("inf"), 0.0])
                steps[step] = [min(first, began), max(last_began, began),
                               min(first_end, ended), max(last_end, ended)]
        finally:
            db.close()
    finally:
        shutil.rmtree(folder)

    def ms(moment: float) -> float:
        return (moment - spawned) * 1000

    return {
        "run recorded": ms(created),
        "start task begins": ms(steps["start"][0]),
        "start task ends": ms(steps["start"][3]),
        "first work task begins": ms(steps["work"][0]),
        "last work task ends": ms(steps["work"][3]),
        "join begins": ms(steps["join"][0]),
        "end task ends": ms(steps["end"][3]),
        "run recorded finished": ms(finished),
        "process gone": ms(gone),
    }


def main() -> None:
    python = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    runs = [_moments(python, n) for _ in range(rounds)]
    for moment in runs[0]:
        print(f"{moment:24} {statistics.median(run[moment] for run in runs):8.1f} ms")


if __name__ == "__main__":
    main()
