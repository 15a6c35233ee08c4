"""What is measured. A case owns one or more table rows and measures them for one system at a time.

Every measured process is a whole, fresh process (``python flow.py run``, or a fresh interpreter
running a client script) started in a new folder, so interpreter start-up, imports and the
first open of the datastore are always included: that is what a user waits for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hwbench.proc import Sample, measure, run_quietly
from hwbench.systems import WORK_DIR, System, run_env

BASELINE = "baseline"
"""Pseudo-system name of the no-framework measurements (bare interpreter, plain numpy)."""


@dataclass
class Context:
    """Options of one benchmark invocation, shared by every case."""

    systems: list[System]
    quick: bool = False
    full: bool = False
    keep: bool = False
    runs_dir: Path = WORK_DIR / "runs"
    fixtures_dir: Path = WORK_DIR / "fixtures"
    failures: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    """Versions of the servers the cases started (Dask, SeaweedFS), for the report."""
    _serial: int = 0

    def fresh_dir(self, tag: str) -> Path:
        """A new, empty folder for one measured run."""
        self._serial += 1
        folder = self.runs_dir / f"{self._serial:04d}-{tag}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def done_with(self, folder: Path, samples: dict[str, Sample]) -> None:
        """Delete a run folder, unless a run in it failed (then keep it for its logs)."""
        failed = [key for key, s in samples.items() if not s.ok]
        if failed:
            self.failures.append(f"{', '.join(failed)}: see {folder}")
        elif not self.keep:
            shutil.rmtree(folder, ignore_errors=True)


MAIN = "main"
"""Section of the rows that compare the two systems on one machine, local disk."""


@dataclass(frozen=True)
class Row:
    """One line of the results table of its section (each section is its own table and block
    in docs/benchmarks.md, so that measuring one section does not replace the other's figures)."""

    key: str
    label: str
    section: str = MAIN


class Case:
    """A named group of rows; ``once`` measures them all for one system (one repeat)."""

    name: str = ""
    big: bool = False
    """Big cases use ``--big-repeats`` instead of ``--repeats``."""
    has_baseline: bool = False

    def rows(self, ctx: Context) -> list[Row]:
        raise NotImplementedError

    def setup(self, ctx: Context) -> None:
        """Untimed preparation (fixtures, capability checks); runs once before the repeats."""

    def teardown(self, ctx: Context) -> None:
        """Stop what ``setup`` started (servers); runs after the repeats, even after an error."""

    def skipped(self, system: System, ctx: Context) -> dict[str, str]:
        """Rows not measured for ``system``, each with the text its cell shows instead."""
        return {}

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        raise NotImplementedError

    def baseline_once(self, ctx: Context) -> dict[str, Sample]:
        """The same work without any framework, when the case has a baseline."""
        return {}

    def notes(self, ctx: Context) -> dict[str, str]:
        """Extra text for the notes column, by row key."""
        return {}


# -- flows run once from a fresh folder -------------------------------------------------------


class FlowCase(Case):
    """``python <flow>.py run ARGS`` from a fresh folder."""

    def __init__(self, name: str, flow: str, label: str, args: Sequence[str] = (),
                 big: bool = False) -> None:
        self.name, self.flow, self.label, self.args, self.big = name, flow, label, tuple(args), big

    def rows(self, ctx: Context) -> list[Row]:
        return [Row(self.name, self.label)]

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        folder = ctx.fresh_dir(f"{self.name}-{system.name}")
        flow_file = system.write_flow(self.flow, folder)
        sample = measure([system.python, flow_file.name, "run", *self.args], cwd=folder,
                         env=system.env(folder), log=folder / "run.log")
        samples = {self.name: sample}
        ctx.done_with(folder, samples)
        return samples


class ForeachCase(FlowCase):
    """A foreach over ``n`` trivial items; Metaflow is skipped above ``METAFLOW_LIMIT`` unless
    ``--full``."""

    METAFLOW_LIMIT = 1000

    def __init__(self, n: int, big: bool = False) -> None:
        label = f"foreach over {n:,} items ({n + 3:,} tasks)"
        args = ["--n", str(n), "--max-num-splits", str(max(n, 100))]
        super().__init__(f"foreach{n}", "foreach", label, args, big)
        self.n = n

    def skipped(self, system: System, ctx: Context) -> dict[str, str]:
        if system.name == "metaflow" and self.n > self.METAFLOW_LIMIT and not ctx.full:
            return {self.name: "not run (~1 h here; `--full`)"}
        return {}


# -- a fresh interpreter importing the package ------------------------------------------------


class ImportCase(Case):
    """``python -c 'import <package>'`` in a fresh interpreter; the baseline is ``python -c pass``."""

    name = "import"
    has_baseline = True

    def __init__(self) -> None:
        self._cumulative_ms: dict[str, float] = {}

    def rows(self, ctx: Context) -> list[Row]:
        return [Row("import", "`import headwater` / `import metaflow` (fresh interpreter)")]

    def setup(self, ctx: Context) -> None:
        for system in ctx.systems:
            self._cumulative_ms[system.label] = import_time_ms(system)

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        return {"import": self._python(system, f"import {system.package}", ctx)}

    def baseline_once(self, ctx: Context) -> dict[str, Sample]:
        return {"import": self._python(None, "pass", ctx)}

    def _python(self, system: System | None, code: str, ctx: Context) -> Sample:
        """``python -c CODE``: the system's interpreter and environment, or the bare one."""
        folder = ctx.fresh_dir("import")
        python = system.python if system else sys.executable
        env = system.env(folder) if system else run_env(folder)
        sample = measure([python, "-c", code], cwd=folder, env=env, log=folder / "out.log")
        ctx.done_with(folder, {"import": sample})
        return sample

    def notes(self, ctx: Context) -> dict[str, str]:
        parts = [f"{label} {ms:.0f} ms" for label, ms in self._cumulative_ms.items()]
        return {"import": "`-X importtime` cumulative: " + ", ".join(parts)}


def import_time_ms(system: System) -> float:
    """The cumulative import time of the package itself, from ``python -X importtime``."""
    out = subprocess.run([system.python, "-X", "importtime", "-c", f"import {system.package}"],
                         capture_output=True, text=True, check=False, cwd=WORK_DIR,
                         env=system.env(WORK_DIR))
    for line in out.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == system.package:
            return int(parts[1]) / 1000
    return float("nan")


# -- a large array: step to step, then through the client --------------------------------------


CLIENT_READ_ARRAY = '''\
"""Read the array artifact of the latest BigArrayFlow run and sum all of it."""
import sys

from headwater import Flow

arr = Flow("BigArrayFlow").latest_run["start"].task.data.arr
assert arr.nbytes == int(sys.argv[1]) * 2**20, arr.nbytes
print(float(arr.sum()))
'''

NUMPY_WRITE_READ = '''\
"""Baseline of the flow: make the same array, np.save it, np.load it back and sum it."""
import sys

import numpy as np

arr = np.random.default_rng(0).random(int(sys.argv[1]) * 2**20 // 8)
np.save("arr.npy", arr)
del arr
print(float(np.load("arr.npy").sum()))
'''

NUMPY_READ = '''\
"""Baseline of the client read: np.load the saved array in a fresh process and sum it."""
import numpy as np

print(float(np.load("arr.npy").sum()))
'''


class ArrayCase(Case):
    """A ``mib``-MiB float64 array written in one step and read in the next; then a fresh
    process reads it through the client. The baseline does the same with np.save / np.load."""

    name = "array"
    big = True
    has_baseline = True

    def __init__(self, mib: int) -> None:
        self.mib = mib

    def _size(self) -> str:
        return f"{self.mib // 1024} GiB" if self.mib % 1024 == 0 else f"{self.mib} MiB"

    def rows(self, ctx: Context) -> list[Row]:
        size = self._size()
        return [
            Row("array_run", f"{size} numpy array written in one step, read in the next"),
            Row("array_client", f"client reads that {size} artifact (fresh process)"),
        ]

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        folder = ctx.fresh_dir(f"array-{system.name}")
        env = system.env(folder)
        flow_file = system.write_flow("bigarray", folder)
        samples = {"array_run": measure(
            [system.python, flow_file.name, "run", "--mib", str(self.mib)],
            cwd=folder, env=env, log=folder / "run.log")}
        if samples["array_run"].ok:
            script = system.write_script(CLIENT_READ_ARRAY, folder, "read_array.py")
            samples["array_client"] = measure([system.python, script.name, str(self.mib)],
                                              cwd=folder, env=env, log=folder / "client.log")
        ctx.done_with(folder, samples)
        return samples

    def baseline_once(self, ctx: Context) -> dict[str, Sample]:
        folder = ctx.fresh_dir("array-numpy")
        env = run_env(folder)
        (folder / "write_read.py").write_text(NUMPY_WRITE_READ)
        (folder / "read.py").write_text(NUMPY_READ)
        samples = {
            "array_run": measure([sys.executable, "write_read.py", str(self.mib)], cwd=folder,
                                 env=env, log=folder / "run.log"),
            "array_client": measure([sys.executable, "read.py"], cwd=folder, env=env,
                                    log=folder / "client.log"),
        }
        ctx.done_with(folder, samples)
        return samples


# -- resume after a late failure ---------------------------------------------------------------


class ResumeCase(Case):
    """A run fails in its 5th of 6 steps (untimed); ``python flow.py resume`` is timed."""

    name = "resume"

    def __init__(self) -> None:
        self._supported: dict[str, bool] = {}

    def rows(self, ctx: Context) -> list[Row]:
        return [Row("resume", "resume after a late failure (step 5 of 6)")]

    def setup(self, ctx: Context) -> None:
        for system in ctx.systems:
            self._supported[system.name] = has_command(system, "resume", ctx)

    def skipped(self, system: System, ctx: Context) -> dict[str, str]:
        if not self._supported.get(system.name, False):
            return {"resume": "n/a: not implemented yet"}
        return {}

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        folder = ctx.fresh_dir(f"resume-{system.name}")
        env = system.env(folder)
        flow_file = system.write_flow("resume", folder)
        failed = run_quietly([system.python, flow_file.name, "run"], cwd=folder,
                             env=env | {"BENCH_FAIL": "1"}, log=folder / "failing-run.log")
        if failed == 0:
            raise RuntimeError(f"the failing run of {flow_file} did not fail; see {folder}")
        samples = {"resume": measure([system.python, flow_file.name, "resume"], cwd=folder,
                                     env=env, log=folder / "resume.log")}
        ctx.done_with(folder, samples)
        return samples


# -- @cache: a foreach re-run with one item changed ---------------------------------------------


class CachedForeachCase(Case):
    """A foreach over ``n`` items runs once (untimed); one item changes; the re-run is timed.

    headwater: with @cache (``n - 1`` tasks reused, one run) and with ``--no-cache`` (everything
    runs again). Metaflow has no step cache, so its re-run is a full one; its first run would
    change nothing and is left out.
    """

    name = "cache-foreach"
    big = True

    def __init__(self, n: int) -> None:
        self.n = n

    def rows(self, ctx: Context) -> list[Row]:
        what = f"foreach over {self.n:,} items re-run after 1 item changed"
        return [Row("cache-hit", f"{what}: headwater @cache ({self.n - 1:,} tasks reused); "
                                 "Metaflow full re-run"),
                Row("cache-off", f"{what}: headwater full re-run (`--no-cache`)")]

    def skipped(self, system: System, ctx: Context) -> dict[str, str]:
        if system.name == "metaflow":
            return {"cache-off": "its full re-run is the row above"}
        return {}

    def _items(self, folder: Path, changed: bool) -> None:
        items = list(range(self.n))
        if changed:
            items[self.n // 2] = -1
        (folder / "items.json").write_text(json.dumps(items))

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        folder = ctx.fresh_dir(f"cache-foreach-{system.name}")
        env = system.env(folder)
        flow_file = system.write_flow("cached_foreach", folder)
        run = [system.python, flow_file.name, "run", "--max-num-splits", str(max(self.n, 100))]
        samples: dict[str, Sample] = {}
        if system.name == "metaflow":
            self._items(folder, changed=True)
            samples["cache-hit"] = measure(run, cwd=folder, env=env, log=folder / "rerun.log")
        else:
            self._items(folder, changed=False)
            if run_quietly(run, cwd=folder, env=env, log=folder / "first-run.log") != 0:
                raise RuntimeError(f"the first run of {flow_file} failed; see {folder}")
            self._items(folder, changed=True)
            samples["cache-hit"] = measure(run, cwd=folder, env=env, log=folder / "rerun.log")
            samples["cache-off"] = measure([*run, "--no-cache"], cwd=folder, env=env,
                                           log=folder / "no-cache.log")
        ctx.done_with(folder, samples)
        return samples


def has_command(system: System, command: str, ctx: Context) -> bool:
    """Whether ``python flow.py COMMAND --help`` works for this system."""
    folder = ctx.fresh_dir(f"probe-{command}-{system.name}")
    flow_file = system.write_flow("tiny", folder)
    code = run_quietly([system.python, flow_file.name, command, "--help"], cwd=folder,
                       env=system.env(folder), log=folder / "probe.log")
    shutil.rmtree(folder, ignore_errors=True)
    return code == 0


# -- listing many runs -------------------------------------------------------------------------


LIST_RUNS = '''\
"""List every run of TinyFlow, reading each run's id and creation time."""
import sys

from headwater import Flow

runs = [(run.id, run.created_at) for run in Flow("TinyFlow")]
if len(runs) != int(sys.argv[1]):
    raise SystemExit(f"expected {sys.argv[1]} runs, found {len(runs)}")
print(len(runs), "runs")
'''


class ListRunsCase(Case):
    """A fresh process lists the runs of a flow. The runs are made once, untimed, by running
    ``tiny.py`` N times (two at a time), and cached in ``.work/fixtures``."""

    name = "list"

    def __init__(self, small: int, large: int) -> None:
        self.small, self.large = small, large
        self._fixtures: dict[tuple[str, int], Path] = {}

    def rows(self, ctx: Context) -> list[Row]:
        return [Row("list_small", f"client lists {self.small:,} runs (fresh process)"),
                Row("list_large", f"client lists {self.large:,} runs (fresh process)")]

    def skipped(self, system: System, ctx: Context) -> dict[str, str]:
        if system.name == "metaflow" and not ctx.full:
            return {"list_large": f"not run (making {self.large:,} Metaflow runs is slow; "
                                  "`--full`)"}
        return {}

    def setup(self, ctx: Context) -> None:
        for system in ctx.systems:
            for row in self.rows(ctx):
                if row.key not in self.skipped(system, ctx):
                    n = self.small if row.key == "list_small" else self.large
                    self._fixtures[(system.name, n)] = ensure_runs(system, n, ctx)

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        samples: dict[str, Sample] = {}
        for key, n in (("list_small", self.small), ("list_large", self.large)):
            folder = self._fixtures.get((system.name, n))
            if folder is None:
                continue
            script = system.write_script(LIST_RUNS, folder, "list_runs.py")
            samples[key] = measure([system.python, script.name, str(n)], cwd=folder,
                                   env=system.env(folder), log=folder / "list.log")
            if not samples[key].ok:
                ctx.failures.append(f"{key}: see {folder / 'list.log'}")
        return samples


def fixture_key(system: System) -> str:
    """What a cached fixture depends on: the version, plus the exact source for headwater."""
    key = system.version()
    if system.extra_env.get("PYTHONPATH"):
        key += "-" + Path(system.extra_env["PYTHONPATH"]).name
    return key


def ensure_runs(system: System, n: int, ctx: Context, attempts: int = 2) -> Path:
    """A folder holding exactly ``n`` successful runs of TinyFlow made by ``system`` (cached).

    If any run fails the folder is thrown away and made again (once by default): a listing
    fixture with a failed run in it would not list ``n`` runs.
    """
    folder = ctx.fixtures_dir / f"{system.name}-{fixture_key(system)}-tiny-{n}"
    marker = folder / "COMPLETE"
    for _ in range(attempts):
        if marker.exists():
            return folder
        failed = _make_runs(system, n, folder)
        if not failed:
            marker.write_text(f"{n}\n")
            return folder
        print(f"  {failed} of {n} runs failed; see {folder}/make-*.log", flush=True)
    raise RuntimeError(f"could not make {n} {system.label} runs in {folder}")


def _make_runs(system: System, n: int, folder: Path, parallel: int = 2) -> int:
    """Run tiny.py ``n`` times in a new ``folder``, ``parallel`` at a time; return failures."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    print(f"  making {n} {system.label} runs to list in {folder} (once) ...", flush=True)
    flow_file = system.write_flow("tiny", folder)
    argv = [system.python, flow_file.name, "--quiet", "run"]

    def one(i: int) -> int:
        return run_quietly(argv, cwd=folder, env=system.env(folder),
                           log=folder / f"make-{i % parallel}.log")

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return sum(1 for code in pool.map(one, range(n)) if code)
