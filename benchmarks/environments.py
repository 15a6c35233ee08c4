"""@pypi environments: first build, cached reuse, and per-task overhead inside one.

    python benchmarks/environments.py [--tasks 100] [--repeats 3]

Every figure is the wall time of a whole ``python flow.py ...`` process. Per-task overhead is
``(time of a foreach of N tasks - time of a foreach of 1) / (N - 1)``, once with the foreach
step in a @pypi environment (``--environment=pypi``) and once in the flow's own Python (the
same flow without the switch). Everything is made under a temporary folder, deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

FLOW = textwrap.dedent('''
    import os
    from headwater import FlowSpec, pypi, step

    class EnvBenchFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(int(os.environ["BENCH_TASKS"])))
            self.next(self.work, foreach="items")

        @pypi(packages={"tabulate": "0.9.0"})
        @step
        def work(self):
            self.x = self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.x for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        EnvBenchFlow()
''')


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw-env-bench-") as tmp:
        work = Path(tmp)
        flow = work / "env_bench_flow.py"
        flow.write_text(FLOW)
        base_env = {**os.environ, "HEADWATER_DATASTORE_ROOT": str(work / ".headwater"),
                    "BENCH_TASKS": "1"}
        py = [sys.executable, str(flow)]

        def resolve(cache: Path, uv_cache: Path | None) -> float:
            env = {**base_env, "HEADWATER_ENV_CACHE": str(cache)}
            if uv_cache is not None:
                env["UV_CACHE_DIR"] = str(uv_cache)
            return timed([*py, "--environment=pypi", "environment", "resolve"], work, env)

        cold = [resolve(work / f"cold{n}", work / f"uv{n}") for n in range(args.repeats)]
        warm_uv = [resolve(work / f"first{n}", None) for n in range(args.repeats)]
        cached = [resolve(work / "first0", None) for _ in range(args.repeats)]

        def per_task(switch: list[str]) -> float:
            env = {**base_env, "HEADWATER_ENV_CACHE": str(work / "first0")}
            runs = {}
            for n in (1, args.tasks):
                env["BENCH_TASKS"] = str(n)
                runs[n] = statistics.median(
                    timed([*py, *switch, "run"], work, env) for _ in range(args.repeats))
            return (runs[args.tasks] - runs[1]) / (args.tasks - 1)

        in_env = per_task(["--environment=pypi"])
        in_base = per_task([])
    med = statistics.median
    print(f"first build, empty uv cache (resolve + download + venv + install): {med(cold):.2f} s")
    print(f"first build, packages in uv's cache (resolve + venv + install):   {med(warm_uv):.2f} s")
    print(f"cached reuse (same declaration, nothing resolved or built):        {med(cached):.2f} s")
    print(f"per-task overhead, foreach of {args.tasks}: in the @pypi environment "
          f"{in_env * 1000:.1f} ms, in the flow's own Python {in_base * 1000:.1f} ms "
          f"(ratio {in_env / in_base:.2f})")


if __name__ == "__main__":
    main()
