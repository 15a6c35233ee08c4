"""A flow written for Metaflow (``from metaflow import ...``) runs on a real Dask cluster: the
workers serve ``metaflow`` from headwater, as the launching process does (tests/conftest.py
starts the cluster; the workers have no ``metaflow`` package of their own, only the tripwire)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from headwater import Flow

from .helpers import TRIPWIRE_MESSAGE, headwater_argv

FLOW = """
from metaflow import FlowSpec, current, step
from metaflow.exception import MetaflowException


class DaskCompatFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        import metaflow
        from metaflow.plugins.datatools.s3 import S3

        self.value = self.input ** 2
        self.served_by = metaflow.__version__
        self.caught = issubclass(MetaflowException, Exception) and S3.__name__ == "S3"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.served = sorted({i.served_by for i in inputs})
        self.next(self.end)

    @step
    def end(self):
        self.where = current.pathspec


if __name__ == "__main__":
    DaskCompatFlow()
"""


def test_a_metaflow_flow_runs_on_dask_workers(dask_cluster, child_env, tmp_path: Path) -> None:
    flow = tmp_path / "dask_compat_flow.py"
    flow.write_text(FLOW)
    env = {**os.environ, **child_env}
    done = subprocess.run(headwater_argv("run", str(flow), "--executor", "dask", "--dask-address",
                                         dask_cluster.address),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert TRIPWIRE_MESSAGE not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    from headwater.client import metadata

    metadata(str(tmp_path / ".headwater"))
    run = Flow("DaskCompatFlow").latest_run
    assert run.successful and "runtime:dask" in run.system_tags
    assert run["join"].task.data.total == 14
    assert all(v.endswith("+headwater") for v in run["join"].task.data.served)
    assert all(task.data.caught for task in run["square"])
