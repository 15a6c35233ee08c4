"""What ``headwater gc`` costs on a store of 100,000 blobs.

    python benchmarks/gc.py [--blobs 100000] [--runs 1000] [--repeats 3]

Builds a local store whose runs (``--runs``, each one task) hold ``--blobs`` distinct blobs of
1-4 KB between them, recorded in SQLite metadata through the metadata API, as real runs would.
Then, each as a fresh ``headwater`` process timed from start to exit:

1. ``gc --dry-run --grace 0`` with every run kept (mark + scan, nothing to free);
2. ``delete`` of half the runs, by retention (``--keep-last``);
3. ``gc --dry-run --grace 0`` (what would go), then ``gc --grace 0`` (freeing half the blobs).

Prints a Markdown row block for docs/benchmarks.md ("Garbage collection"), with the machine's
core count and load average (the machine is shared: load is part of the figure).
Not part of run.py nor of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-c", "from headwater.cli.main import main; main()"]


def build_store(root: Path, blobs: int, runs: int) -> None:
    """``runs`` finished runs of one flow, ``blobs`` distinct blobs among their artifacts."""
    from headwater.meta.sqlite import SQLiteMetadata
    from headwater.records import TaskResult
    from headwater.store.datastore import DataStore
    from headwater.store.local_storage import LocalStorage

    store = DataStore(LocalStorage(root))
    meta = SQLiteMetadata(str(root / "meta.sqlite"))
    per_run = blobs // runs
    for r in range(runs):
        run_id = meta.new_run("GcBench", user="bench", tags=(), system_tags=(), params={},
                              origin_run_id=None, pid=0, host="bench")
        manifest = {}
        for i in range(per_run):
            body = f"run {r} blob {i}|".encode() * (40 + (r * per_run + i) % 200)
            manifest[f"a{i}"] = store.save_bytes(body)
        meta.new_task("GcBench", run_id, "start", "1", frames=[], parents=[])
        now = time.time()
        meta.attempt_started("GcBench", run_id, "start", "1", 0, now)
        meta.attempt_finished("GcBench", run_id, "start", "1", 0,
                              TaskResult(manifest=manifest, started_at=now, finished_at=now),
                              stdout_key=None, stderr_key=None, final=True)
        meta.run_finished("GcBench", run_id, "succeeded", time.time())
    meta.close()


def timed(args: list[str], root: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "METAFLOW_"))}
    env["HEADWATER_DATASTORE_ROOT"] = str(root)
    start = time.perf_counter()
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"headwater {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout.strip().splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    rows = []
    load_before = os.getloadavg()
    for _ in range(options.repeats):
        root = Path(tempfile.mkdtemp(prefix="hw-gc-bench-")) / ".headwater"
        try:
            start = time.perf_counter()
            build_store(root, options.blobs, options.runs)
            build_s = time.perf_counter() - start
            kept_dry, kept_said = timed(["gc", "--dry-run", "--grace", "0"], root)
            delete_s, _ = timed(["delete", "GcBench", "--keep-last",
                                 str(options.runs // 2)], root)
            dry_s, dry_said = timed(["gc", "--dry-run", "--grace", "0"], root)
            gc_s, gc_said = timed(["gc", "--grace", "0"], root)
            rows.append((build_s, kept_dry, delete_s, dry_s, gc_s))
            print(f"built {build_s:.1f} s; {kept_said} ({kept_dry:.2f} s); delete "
                  f"{delete_s:.2f} s; {dry_said} ({dry_s:.2f} s); {gc_said} ({gc_s:.2f} s)",
                  file=sys.stderr)
        finally:
            shutil.rmtree(root.parent, ignore_errors=True)
    load_after = os.getloadavg()
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(f"| store | gc --dry-run, nothing to free | delete {options.runs // 2} runs | "
          "gc --dry-run | gc (frees half) |")
    print("|---|---|---|---|---|")
    print(f"| {options.blobs:,} blobs, {options.runs:,} runs | {med[1]:.2f} s | {med[2]:.2f} s | "
          f"{med[3]:.2f} s | {med[4]:.2f} s |")
    print(f"\nMedians of {options.repeats}; {os.cpu_count()} cores, load average "
          f"{load_before[0]:.1f} before and {load_after[0]:.1f} after.")


if __name__ == "__main__":
    main()
