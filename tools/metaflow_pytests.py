"""Metaflow's own pytest suites (``test/unit/...``, ``test/ux/...``), run against headwater.

    python tools/metaflow_pytests.py --snapshot GITDIR --python PY [--metaflow] [PATH ...]

Metaflow's repository carries, beside the generated core suite (``../shared/metaflow-suite``),
plain pytest suites that run real flows through ``Runner`` and read them back with the client:
flow inheritance, mutators, configs, start/end inference, ``spin``, and the UX suite. None of it is
copied here: the ``test/`` folder is extracted from a snapshot of the repository (a git dir, e.g.
what the search tool's ``fetch`` verb brings) into a scratch folder for each run.

``--python`` is the interpreter under test. It needs pytest, omegaconf and pytest-timeout (the
UX suite's conftest imports omegaconf). With headwater in it, the script writes a shim
(``python -m headwater shim``) into the scratch folder and puts it first on PYTHONPATH, so the
tests' ``import metaflow`` is headwater. With ``--metaflow`` the interpreter is taken to have real
Metaflow installed (the baseline) and no shim is written.

PATHs are relative to the snapshot's ``test/`` folder; by default the suites that exercise what a
user writes (the list below). The UX suite runs with ``--only-backend local``: its other backends
need a Kubernetes cluster, Argo, Step Functions or Airflow. The last line printed is always
``metaflow-pytests: P passed, F failed, E errors, S skipped``; the exit status is 0 only when
nothing failed.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DEFAULT_PATHS = (
    "unit/inheritance",
    "unit/mutators",
    "unit/configs",
    "unit/graph_inference",
    "unit/spin",
    "ux/core/test_basic.py",
    "ux/core/test_config.py",
    "ux/core/test_dag.py",
    "ux/core/test_decorators.py",
    "ux/core/test_resume.py",
)
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")


def _extract_tests(snapshot: str, rev: str, dest: Path, folder: str = "test") -> Path:
    """Unpack ``folder`` of ``rev`` into ``dest`` (``git archive``: nothing is checked out)."""
    archive = subprocess.run(["git", "-C", snapshot, "archive", rev, folder],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")  # no links out, no absolute paths
    return dest / folder


def _environment(python: str, scratch: Path, real_metaflow: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHONPATH"))}
    home = scratch / "home"
    home.mkdir()
    # An empty Metaflow home and no profile: the UX conftest would otherwise point Metaflow at
    # a devstack profile that does not exist here.
    env.update(METAFLOW_HOME=str(home), METAFLOW_PROFILE="", USERNAME=env.get("USERNAME", "tester"))
    if not real_metaflow:
        shim = scratch / "shim"
        subprocess.run([python, "-m", "headwater", "shim", str(shim)], check=True,
                       stdout=subprocess.DEVNULL)
        env["PYTHONPATH"] = str(shim)
    return env


def _run_one(python: str, tests: Path, path: str, env: dict[str, str]) -> dict[str, int]:
    args = [python, "-m", "pytest", path, "-q", "-p", "no:cacheprovider"]
    if path.startswith("ux/"):
        args += ["--only-backend", "local"]
    proc = subprocess.run(args, cwd=tests, env=env, capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    summary = lines[-1] if lines else proc.stderr.strip()[-200:]
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for number, kind in _COUNT.findall(summary):
        kind = "errors" if kind.startswith("error") else kind
        if kind in counts:
            counts[kind] += int(number)
    if proc.returncode not in (0, 1, 5) and not any(counts.values()):
        counts["errors"] = 1  # pytest itself could not run (a usage or import error)
    print(f"{path:40} {summary}", flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", required=True, help="git dir of Metaflow's repository")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--python", default=sys.executable, help="the interpreter under test")
    parser.add_argument("--metaflow", action="store_true",
                        help="the interpreter has real Metaflow (baseline): write no shim")
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    args = parser.parse_args(argv)
    totals = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    with tempfile.TemporaryDirectory(prefix="mf-pytests-") as scratch_name:
        scratch = Path(scratch_name)
        tests = _extract_tests(args.snapshot, args.rev, scratch)
        env = _environment(args.python, scratch, args.metaflow)
        for path in args.paths:
            for kind, number in _run_one(args.python, tests, path, env).items():
                totals[kind] += number
    print(f"metaflow-pytests: {totals['passed']} passed, {totals['failed']} failed, "
          f"{totals['errors']} errors, {totals['skipped']} skipped")
    return 0 if not totals["failed"] and not totals["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
