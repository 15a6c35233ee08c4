"""The Runner API from a long-lived Python process (a notebook, a test suite, an agent): how long
``Runner(flow).run()`` takes for a trivial flow, and reading an artifact back from its result.

    python benchmarks/runner_api.py [CALLS]

Runs ``flows/linear.py`` CALLS times (default 10) through each system's Runner inside one Python
process per system: headwater's interpreter is ``HWBENCH_HEADWATER_PYTHON`` (default: the one
running this script), Metaflow's is ``HWBENCH_METAFLOW_PYTHON`` (left out when unset). The first
call of each process is a warm-up. Prints the median wall time of a call and of the read
(``result.run["end"].task.data.x``), and Metaflow's median over headwater's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

FLOWS = Path(__file__).resolve().parent / "flows"

# Runs inside the system's own interpreter, in a fresh folder holding the flow file.
DRIVER = textwrap.dedent("""
    import json, statistics, sys, time
    from {package} import Runner

    calls, runs, reads = int(sys.argv[1]), [], []
    for number in range(calls + 1):
        began = time.perf_counter()
        with Runner("linear.py", show_output=False).run() as running:
            ran = time.perf_counter()
            assert running.run.successful
            assert running.run["end"].task.data.x == 2
            read = time.perf_counter()
        if number:  # the first call is the warm-up
            runs.append(ran - began)
            reads.append(read - ran)
    print(json.dumps({{"run": statistics.median(runs), "read": statistics.median(reads)}}))
""")


def _measure(system: str, python: str, calls: int) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="hw-runner-")
    try:
        package = "metaflow" if system == "metaflow" else "headwater"
        text = (FLOWS / "linear.py").read_text().replace("from headwater import",
                                                         f"from {package} import")
        Path(folder, "linear.py").write_text(text)
        Path(folder, "driver.py").write_text(DRIVER.format(package=package))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHONPATH"))}
        env.update(METAFLOW_DATASTORE_SYSROOT_LOCAL=folder, METAFLOW_HOME=folder,
                   USERNAME="bench", METAFLOW_USER="bench")
        done = subprocess.run([python, "driver.py", str(calls)], cwd=folder, env=env,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"{system}: the driver failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    systems = {"headwater": os.environ.get("HWBENCH_HEADWATER_PYTHON", sys.executable)}
    if os.environ.get("HWBENCH_METAFLOW_PYTHON"):
        systems["metaflow"] = os.environ["HWBENCH_METAFLOW_PYTHON"]
    results = {system: _measure(system, python, calls) for system, python in systems.items()}
    print(f"{calls} Runner calls per system; 1-min load average {os.getloadavg()[0]:.1f}")
    for system, figures in results.items():
        print(f"{system:10} Runner(...).run() median {figures['run']:.3f} s, "
              f"reading an artifact of its run {figures['read'] * 1000:.1f} ms")
    if "metaflow" in results:
        mf, hw = results["metaflow"], results["headwater"]
        print(f"metaflow / headwater: run {mf['run'] / hw['run']:.1f}x, "
              f"read {mf['read'] / hw['read']:.1f}x")


if __name__ == "__main__":
    main()
