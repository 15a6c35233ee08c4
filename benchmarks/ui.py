"""How fast the web UI answers with a big history: 10,000 runs, and a run of a 10,000-task foreach.

The metadata is written directly through the metadata API (what a scheduler would record, minus
the running), a real ``headwater ui`` server is started on loopback, and each request is timed
from this process (wall time of the whole HTTP round trip, body read). Prints a Markdown table;
the machine's load average is printed with it, since the figures mean little without it.

    python benchmarks/ui.py                 # 10,000 runs, a 10,000-task foreach, 20 repeats
    python benchmarks/ui.py --runs 1000 --tasks 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from headwater.graph.export import run_graph_key  # noqa: E402
from headwater.meta import open_metadata  # noqa: E402
from headwater.records import Frame, TaskResult  # noqa: E402
from headwater.store import open_datastore  # noqa: E402
from servers import free_port, stop_process  # noqa: E402

GRAPH = (b'{"flow":"BigFlow","steps":['
         b'{"name":"start","type":"start","next":["work"],"foreach":"items","cases":{}},'
         b'{"name":"work","type":"linear","next":["join"],"foreach":null,"cases":{}},'
         b'{"name":"join","type":"join","next":["end"],"foreach":null,"cases":{}},'
         b'{"name":"end","type":"end","next":[],"foreach":null,"cases":{}}]}')


def populate(root: Path, runs: int, tasks: int) -> None:
    meta = open_metadata(str(root / "meta.sqlite"))
    now = time.time()
    with meta.transaction():
        for i in range(runs):
            run_id = meta.new_run("ManyRunsFlow", user="alice" if i % 3 else "bob",
                                  tags=["nightly"] if i % 10 == 0 else [],
                                  system_tags=["runtime:local"], params={}, origin_run_id=None,
                                  pid=1, host="bench")
            meta.run_finished("ManyRunsFlow", run_id, "failed" if i % 7 == 0 else "succeeded",
                              now)
    run_id = meta.new_run("BigFlow", user="alice", tags=[], system_tags=["runtime:local"],
                          params={}, origin_run_id=None, pid=1, host="bench")
    with meta.transaction():
        _task(meta, run_id, "start", "1", (), [], TaskResult(next_steps=("work",),
                                                             foreach_count=tasks))
        for i in range(tasks):
            frame = Frame("start", "1", i, tasks, is_foreach=True)
            _task(meta, run_id, "work", str(i + 2), (frame,), ["start/1"],
                  TaskResult(next_steps=("join",)))
        _task(meta, run_id, "join", str(tasks + 2), (),
              [f"work/{i + 2}" for i in range(tasks)], TaskResult(next_steps=("end",)))
        _task(meta, run_id, "end", str(tasks + 3), (), [f"join/{tasks + 2}"], TaskResult())
    meta.run_finished("BigFlow", run_id, "succeeded", time.time())
    meta.close()
    store = open_datastore(str(root))
    store.storage.put(run_graph_key("BigFlow", run_id), [GRAPH])
    store.close()


def _task(meta, run_id, step, task_id, frames, parents, result) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    result.started_at, result.finished_at = now, now
    meta.new_task("BigFlow", run_id, step, task_id, frames=frames, parents=parents)
    meta.attempt_started("BigFlow", run_id, step, task_id, 0, now)
    meta.attempt_finished("BigFlow", run_id, step, task_id, 0, result, stdout_key=None,
                          stderr_key=None, final=True)


def timed(url: str, repeats: int) -> tuple[float, float, int]:
    """Median and worst wall time (ms) of GET ``url``, and the body's size."""
    samples, size = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - loopback
            size = len(response.read())
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw-ui-bench-") as folder:
        root = Path(folder) / ".headwater"
        root.mkdir(mode=0o700)
        start = time.perf_counter()
        populate(root, args.runs, args.tasks)
        print(f"populated {args.runs} runs and a {args.tasks}-task foreach in "
              f"{time.perf_counter() - start:.1f} s")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        server = subprocess.Popen(  # noqa: S603 - our own CLI
            [str(Path(sys.executable).parent / "headwater"), "ui", "--port", str(port),
             "--datastore-root", str(root)], env=env, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    urllib.request.urlopen(base + "/api/flows", timeout=5).read()  # noqa: S310
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the UI server did not start") from None
                    time.sleep(0.1)
            cases = [
                ("runs list, newest 50 of one flow", "/api/runs?flow=ManyRunsFlow"),
                ("runs list, every flow", "/api/runs"),
                (f"runs list, last page (offset {max(0, args.runs - 50):,})",
                 "/api/runs?flow=ManyRunsFlow&offset="
                 f"{max(0, args.runs - 50)}"),
                ("runs list, status=failed", "/api/runs?flow=ManyRunsFlow&status=failed"),
                ("runs list, tag + user", "/api/runs?flow=ManyRunsFlow&tag=nightly&user=bob"),
                ("runs page (HTML shell)", "/"),
                (f"run page data, {args.tasks:,}-task foreach", "/api/runs/BigFlow/1"),
                ("run's tasks, one page of 100", "/api/runs/BigFlow/1/tasks?step=work"),
                (f"run's tasks, last page (offset {max(0, args.tasks - 100):,})",
                 "/api/runs/BigFlow/1/tasks?step=work&offset="
                 f"{max(0, args.tasks - 100)}"),
            ]
            load_before = os.getloadavg()
            rows = [(name, *timed(base + path, args.repeats)) for name, path in cases]
            load_after = os.getloadavg()
        finally:
            stop_process(server)
    print(f"\nload average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
          f"{os.cpu_count()} cores; {args.repeats} requests each\n")
    print("| request | median | worst | body |")
    print("|---|---:|---:|---:|")
    for name, median, worst, size in rows:
        print(f"| {name} | {median:.1f} ms | {worst:.1f} ms | {size / 1024:.0f} KiB |")


if __name__ == "__main__":
    main()
