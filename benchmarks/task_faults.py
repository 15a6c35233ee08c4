"""Headwater source trees side by side on a foreach over 100 items: CPU and minor page faults.

    python benchmarks/task_faults.py ROUNDS NAME=SRC [NAME=SRC ...]

Each SRC is the ``src`` folder of a headwater tree (e.g. from ``git archive``). Each round runs
every tree once (the order reversed every other round, so load drifts hit both), after one
untimed warm-up each; every run is ``foreach.py run --n 100 --max-num-splits 100`` in a fresh
folder. Printed per tree: medians of CPU (user + system of the whole process tree, from
``wait4``), minor page faults (each a copy-on-write copy when a task writes a page it shares
with its fork server) and wall time. The interpreter is ``HWBENCH_HEADWATER_PYTHON`` (default:
the one running this script); give it a virtualenv without the system's site-packages, see
"Fourth pass" in docs/benchmarks.md. Metaflow is not run: this is a before/after check.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

FLOW = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flows", "foreach.py")
ARGS = ["foreach.py", "run", "--n", "100", "--max-num-splits", "100"]


def run_once(python: str, src: str, items: int = 100) -> tuple[float, int, float]:
    """One run over ``items`` in a fresh folder: (CPU seconds, minor faults, wall seconds)."""
    folder = tempfile.mkdtemp(prefix="hw-faults-")
    env = run_folder_env(folder, src)
    log = os.path.join(folder, "log")
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the run itself, its output in the folder's log
        os.chdir(folder)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        args = [*ARGS[:3], str(items), ARGS[4], str(max(items, 100))]
        os.execve(python, [python, *args], env)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        with open(log) as f:
            sys.exit(f"run of {src} failed, its output:\n{f.read()}")
    shutil.rmtree(folder)
    return usage.ru_utime + usage.ru_stime, usage.ru_minflt, wall


def run_folder_env(folder: str, src: str) -> dict[str, str]:
    """Copy the flow into ``folder`` and return the environment a run there gets: this one
    without any METAFLOW_/HEADWATER_/PYTHON setting, ``src`` on PYTHONPATH, the data in the
    folder."""
    shutil.copy(FLOW, folder)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHON"))}
    env.update(PYTHONPATH=src, METAFLOW_DATASTORE_SYSROOT_LOCAL=folder, USERNAME="bench",
               METAFLOW_USER="bench", METAFLOW_HOME=folder)
    return env


def probed_run(python: str, src: str, probe: str, prefix: str) -> list[str]:
    """Run the flow once in a fresh folder under ``probe`` (a ``python -c`` program that writes
    its measures, space-separated, to ``$HWBENCH_OUT``); the measures, as written."""
    folder = tempfile.mkdtemp(prefix=prefix)
    out = os.path.join(folder, "probe")
    env = {**run_folder_env(folder, src), "HWBENCH_OUT": out}
    with open(os.path.join(folder, "log"), "wb") as log:
        done = subprocess.run([python, "-c", probe, *ARGS], cwd=folder, env=env,
                              stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0 or not os.path.exists(out):
        with open(os.path.join(folder, "log")) as f:
            sys.exit(f"run of {src} failed, its output:\n{f.read()}")
    with open(out) as f:
        measures = f.read().split()
    shutil.rmtree(folder)
    return measures


def interleaved_medians(argv: list[str], usage: str,
                        run_once: Callable[[str, str], tuple]) -> dict[str, tuple]:
    """``ROUNDS NAME=SRC ...``: one untimed warm-up per tree, then ``run_once(python, src)``
    for every tree in each round (the order reversed every other round, so load drifts hit
    all trees); the median of each measure, per tree."""
    if len(argv) < 2 or not all("=" in a for a in argv[1:]):
        sys.exit(usage)
    rounds = int(argv[0])
    trees = {name: os.path.abspath(src) for name, src in (a.split("=", 1) for a in argv[1:])}
    python = os.environ.get("HWBENCH_HEADWATER_PYTHON", sys.executable)
    samples: dict[str, list[tuple]] = {name: [] for name in trees}
    for src in trees.values():
        run_once(python, src)
    for n in range(rounds):
        order = list(trees.items())
        for name, src in order if n % 2 == 0 else reversed(order):
            samples[name].append(run_once(python, src))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return {name: tuple(statistics.median(col) for col in zip(*runs, strict=True))
            for name, runs in samples.items()}


def main(argv: list[str]) -> None:
    for name, (cpu, faults, wall) in interleaved_medians(argv, __doc__, run_once).items():
        print(f"{name}: CPU {cpu:.3f} s, minor faults {faults:.0f}, wall {wall:.2f} s "
              f"({int(argv[0])} runs)")


if __name__ == "__main__":
    main(sys.argv[1:])
