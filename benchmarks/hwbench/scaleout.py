"""The scale-out cases: foreach tasks on a Dask cluster, and a large artifact through S3.

Both run against real servers on loopback, started for the case by the same starters the tests
use (``tests/servers.py``, imported from the checkout, not copied): a ``dask scheduler`` with two
one-thread ``dask worker`` processes, and SeaweedFS (``weed mini``: an S3 gateway keeping its
data on disk). Each case also measures the same flow on the local executor and local disk,
interleaved with the remote runs, so that the comparison is made under the same load.

A missing piece (Dask, SeaweedFS's ``weed``, s3fs) turns the case's cells into "not run: ..."
instead of an error: the rest of a full run does not depend on the test extras being installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType

from hwbench.cases import CLIENT_READ_ARRAY, Case, Context, Row
from hwbench.proc import Sample, measure
from hwbench.systems import REPO_DIR, System

SCALE_OUT = "scale-out"
"""Section of these rows: their own table and their own block in docs/benchmarks.md."""
TESTS_DIR = REPO_DIR / "tests"
DASK_WORKERS = {"w1": None, "w2": None}
"""Two one-thread workers: one per core here, as the local executor has one fork server each."""
NO_DASK = "n/a: Metaflow has no Dask executor"
BUCKET = "bench"


def servers_module() -> ModuleType:
    """``tests/servers.py`` (it does not depend on pytest), imported from the checkout."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    return importlib.import_module("servers")


def missing_modules(*names: str) -> str | None:
    """"not run: ..." naming the first module this interpreter cannot import, or None."""
    for name in names:
        if importlib.util.find_spec(name) is None:
            return f'not run: `{name}` not installed (pip install -e ".[test]")'
    return None


def module_version(name: str) -> str:
    return getattr(importlib.import_module(name), "__version__", "unknown")


class ServerCase(Case):
    """A case whose servers are started by ``setup`` and stopped by ``teardown``."""

    big = True

    def __init__(self) -> None:
        self._servers = ExitStack()
        self._unavailable: str | None = None

    def skipped(self, system: System, ctx: Context) -> dict[str, str]:
        if self._unavailable:
            return {row.key: self._unavailable for row in self.rows(ctx)}
        return {}

    def teardown(self, ctx: Context) -> None:
        self._servers.close()


# -- per-task overhead on Dask -----------------------------------------------------------------


class DaskForeachCase(ServerCase):
    """``foreach.py`` at ``small`` and ``n`` items, on the local executor and on a Dask cluster
    of two one-thread workers (the run's datastore is its local folder, which the workers on
    this machine see at the same path, so only the executor differs). Per-task overhead is
    (time(n) − time(small)) / (n − small), as for the local foreach rows."""

    name = "dask-foreach"

    def __init__(self, n: int, small: int = 10) -> None:
        super().__init__()
        self.n, self.small = n, small
        self._address = ""

    def rows(self, ctx: Context) -> list[Row]:
        rows = []
        for k in (self.small, self.n):
            rows += [Row(f"local_foreach{k}", f"foreach over {k:,} items, local executor",
                         SCALE_OUT),
                     Row(f"dask_foreach{k}", f"foreach over {k:,} items, Dask executor "
                         f"({len(DASK_WORKERS)} one-thread workers)", SCALE_OUT)]
        return rows

    def skipped(self, system: System, ctx: Context) -> dict[str, str]:
        skipped = super().skipped(system, ctx)
        if system.name == "metaflow" and not skipped:
            skipped = {f"dask_foreach{k}": NO_DASK for k in (self.small, self.n)}
        return skipped

    def setup(self, ctx: Context) -> None:
        self._unavailable = missing_modules("distributed")
        if self._unavailable:
            return
        ctx.versions["Dask (distributed)"] = module_version("distributed")
        headwater = next(s for s in ctx.systems if s.name == "headwater")
        folder = ctx.runs_dir / "dask-cluster"
        if not ctx.keep:
            self._servers.callback(shutil.rmtree, folder, ignore_errors=True)
        # The workers import the same headwater snapshot as the scheduler (PYTHONPATH).
        cluster = self._servers.enter_context(
            servers_module().dask_cluster(folder, DASK_WORKERS, headwater.extra_env))
        self._address = cluster.address
        # One untimed run, so the first measured one does not pay for the workers' first import.
        folder, sample = self._run("dask-warmup", headwater, ctx, self._args(10, dask=True))
        if not sample.ok:
            raise RuntimeError(f"the warm-up run on Dask failed; see {sample.log}")
        ctx.done_with(folder, {"dask-warmup": sample})

    def _args(self, k: int, dask: bool) -> list[str]:
        args = ["run", "--n", str(k), "--max-num-splits", str(max(k, 100))]
        return args + ["--executor", "dask", "--dask-address", self._address] if dask else args

    def _run(self, key: str, system: System, ctx: Context, argv: list[str]
             ) -> tuple[Path, Sample]:
        """``python foreach.py ARGV`` from a fresh folder."""
        folder = ctx.fresh_dir(f"{key}-{system.name}")
        flow_file = system.write_flow("foreach", folder)
        sample = measure([system.python, flow_file.name, *argv], cwd=folder,
                         env=system.env(folder), log=folder / "run.log")
        return folder, sample

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        skipped = self.skipped(system, ctx)
        samples: dict[str, Sample] = {}
        for k in (self.small, self.n):
            for key, dask in ((f"local_foreach{k}", False), (f"dask_foreach{k}", True)):
                if key in skipped:
                    continue
                folder, samples[key] = self._run(key, system, ctx, self._args(k, dask))
                ctx.done_with(folder, {key: samples[key]})
        return samples


# -- a large artifact through S3 ---------------------------------------------------------------


class S3ArrayCase(ServerCase):
    """``bigarray.py`` (a ``mib``-MiB array made in ``start``, summed in ``end``) and a fresh
    process reading it through the client: once with the datastore on local disk, once on S3
    (SeaweedFS on loopback). Every run gets its own bucket prefix: both systems store content
    addressed blobs, and a blob already in the bucket would not be uploaded again."""

    name = "s3-array"

    def __init__(self, mib: int) -> None:
        super().__init__()
        self.mib = mib
        self._endpoint = ""

    def rows(self, ctx: Context) -> list[Row]:
        size = f"{self.mib // 1024} GiB" if self.mib % 1024 == 0 else f"{self.mib} MiB"
        rows = []
        for where, text in (("disk", "local disk"), ("s3", "S3 (SeaweedFS)")):
            rows += [Row(f"{where}_array_run", f"{size} numpy array written in one step, read "
                         f"in the next: {text}", SCALE_OUT),
                     Row(f"{where}_array_client", f"client reads that {size} artifact (fresh "
                         f"process): {text}", SCALE_OUT)]
        return rows

    def setup(self, ctx: Context) -> None:
        self._unavailable = missing_modules("s3fs", "boto3")
        servers = servers_module()
        if not self._unavailable:
            try:
                weed = servers.weed_binary()
            except RuntimeError as err:
                self._unavailable = f"not run: {err}"
        if self._unavailable:
            return
        version = subprocess.run([weed, "version"], capture_output=True, text=True, check=False)
        ctx.versions["SeaweedFS (`weed version`)"] = version.stdout.strip().splitlines()[0]
        ctx.versions["s3fs (headwater's S3 client)"] = module_version("s3fs")
        folder = ctx.runs_dir / "seaweedfs"
        if not ctx.keep:
            self._servers.callback(shutil.rmtree, folder, ignore_errors=True)
        self._endpoint = self._servers.enter_context(servers.seaweedfs_s3(folder))
        servers.make_bucket(self._endpoint, BUCKET)
        # One untimed 1 MiB run per system: a fresh SeaweedFS allocates its volumes on the first
        # write (~0.7 s here), which would otherwise be charged to whichever system runs first.
        for system in ctx.systems:
            samples = self._measure(system, ctx, "s3", mib=1, tag="warmup-")
            if not all(sample.ok for sample in samples.values()):
                raise RuntimeError(f"the warm-up run on S3 failed for {system.label}")

    def _s3_settings(self, system: System, root: str) -> tuple[list[str], dict[str, str]]:
        """Options before ``run`` and environment that put ``system``'s datastore at ``root``.

        Both clients get the endpoint and credentials from the AWS variables; Metaflow also
        wants its own names for the datastore kind, root and endpoint (``metaflow_config``).
        """
        env = servers_module().s3_env(self._endpoint)
        if system.name == "metaflow":
            env |= {"METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DATASTORE_SYSROOT_S3": root,
                    "METAFLOW_S3_ENDPOINT_URL": self._endpoint}
            return [], env
        return ["--datastore-root", root], env | {"HEADWATER_DATASTORE_ROOT": root}

    def once(self, system: System, ctx: Context) -> dict[str, Sample]:
        return {**self._measure(system, ctx, "disk", self.mib),
                **self._measure(system, ctx, "s3", self.mib)}

    def _measure(self, system: System, ctx: Context, where: str, mib: int,
                 tag: str = "") -> dict[str, Sample]:
        """The flow run, then the client read, in a fresh folder (and bucket prefix)."""
        run_key, client_key = f"{tag}{where}_array_run", f"{tag}{where}_array_client"
        folder = ctx.fresh_dir(f"{tag}{where}-array-{system.name}")
        options, env = [], system.env(folder)
        if where == "s3":
            options, extra = self._s3_settings(system, f"s3://{BUCKET}/{folder.name}")
            env |= extra
        flow_file = system.write_flow("bigarray", folder)
        samples = {run_key: measure(
            [system.python, flow_file.name, *options, "run", "--mib", str(mib)],
            cwd=folder, env=env, log=folder / "run.log")}
        if samples[run_key].ok:
            script = system.write_script(CLIENT_READ_ARRAY, folder, "read_array.py")
            samples[client_key] = measure([system.python, script.name, str(mib)], cwd=folder,
                                          env=env, log=folder / "client.log")
        ctx.done_with(folder, samples)
        return samples
