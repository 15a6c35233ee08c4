"""What a task costs headwater against the least any process per task can cost in CPython.

    python benchmarks/fork_floor.py ROUNDS

Two measures, interleaved round by round (the order reversed every other round), medians:

- **headwater, per task**: the CPU of the whole process tree (user + system, from ``wait4``) of
  ``foreach.py run --n 100`` less that of ``--n 10``, divided by the 90 tasks between them: what
  one more foreach task costs, start-up and the serial steps left out.
- **the floor, per task**: a bare loop in one warm process holding the same modules a fork
  server holds (headwater's task path imported, ``gc.freeze()``), 16 children in flight, as the
  local executor keeps: each child is forked, reads a small pickled spec from a socket, pickles a
  small result back and leaves with ``os._exit``; the parent sends the spec, reads the result
  and reaps the child. No metadata, no datastore, no logs, no scheduler: the process itself and
  the copy-on-write pages that any CPython code touching a few objects pays.

The interpreter is ``HWBENCH_HEADWATER_PYTHON`` (default: this one), as for ``task_faults.py``.
The gap between the two is what headwater's own work per task could still give back; the floor
is what no process-per-task design can.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

from task_faults import run_once

IN_FLIGHT = 16  # the local executor's default --max-workers
FLOOR_TASKS = 400


def floor(tasks: int) -> tuple[float, float]:
    """Run in a fresh interpreter (``--floor N``): (CPU seconds per task, minor faults per
    task) of the whole tree, the interpreter's start-up and imports left out."""
    import gc
    import pickle
    import resource
    import socket

    # What a fork server holds when it forks: headwater's task path, already imported.
    import headwater.runtime.executors.child  # noqa: F401
    import headwater.runtime.task  # noqa: F401
    import headwater.store.datastore  # noqa: F401

    gc.freeze()
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    running: dict[int, socket.socket] = {}
    launched = finished = 0
    while finished < tasks:
        while launched < tasks and len(running) < IN_FLIGHT:
            ours, theirs = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the child: spec in, result out, gone
                ours.close()
                spec = pickle.loads(theirs.recv(65536))
                theirs.sendall(pickle.dumps({"ok": True, "out": spec["input"] * 2}, protocol=5))
                os._exit(0)
            theirs.close()
            ours.sendall(pickle.dumps({"flow": "F", "run": "1", "step": "work",
                                       "task": str(launched), "input": launched}, protocol=5))
            running[pid] = ours
            launched += 1
        pid, _status = os.wait()
        sock = running.pop(pid)
        pickle.loads(sock.recv(65536))
        sock.close()
        finished += 1
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
              for after, before in ((after_self, before_self),
                                    (after_children, before_children)))
    faults = sum(after.ru_minflt - before.ru_minflt
                 for after, before in ((after_self, before_self),
                                       (after_children, before_children)))
    return cpu / tasks, faults / tasks


def floor_in_fresh_process(python: str, src: str) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "PYTHON"))}
    env["PYTHONPATH"] = src
    done = subprocess.run([python, os.path.abspath(__file__), "--floor", str(FLOOR_TASKS)],
                          env=env, capture_output=True, text=True, check=True)
    cpu, faults = done.stdout.split()
    return float(cpu), float(faults)


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] == "--floor":
        cpu, faults = floor(int(argv[1]))
        print(cpu, faults)
        return
    if len(argv) != 1:
        sys.exit(__doc__)
    rounds = int(argv[0])
    python = os.environ.get("HWBENCH_HEADWATER_PYTHON", sys.executable)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    measures = {
        "headwater": lambda: _headwater_per_task(python, src),
        "floor": lambda: floor_in_fresh_process(python, src),
    }
    for measure in measures.values():  # one untimed warm-up each
        measure()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in measures}
    for n in range(rounds):
        order = list(measures.items())
        for name, measure in order if n % 2 == 0 else reversed(order):
            samples[name].append(measure())
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    for name, runs in samples.items():
        cpu = statistics.median(r[0] for r in runs)
        faults = statistics.median(r[1] for r in runs)
        print(f"{name}: {cpu * 1000:.2f} ms of CPU per task, {faults:.0f} minor faults per task "
              f"({rounds} rounds)")


def _headwater_per_task(python: str, src: str) -> tuple[float, float]:
    big_cpu, big_faults, _ = run_once(python, src, items=100)
    small_cpu, small_faults, _ = run_once(python, src, items=10)
    return (big_cpu - small_cpu) / 90, (big_faults - small_faults) / 90


if __name__ == "__main__":
    main(sys.argv[1:])
