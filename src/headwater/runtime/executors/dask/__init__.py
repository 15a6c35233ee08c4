"""The Dask executor: every task on a Dask cluster (``executor.py``, ``resources.py``), run on the
workers by ``worker.py`` through a fork server per code package (``worker_forks.py``) whose
children run :mod:`headwater.runtime.packaged_task` (as deployed tasks do). Nothing here imports Dask until the backend is chosen."""

from __future__ import annotations

from typing import Any

from headwater.exceptions import RunFailedError
from headwater.runtime.executors.base import Executor, ExecutorContext


def create(context: ExecutorContext, *, dask_address: str | None = None,
           package_suffixes: str | None = None, dask_tls_ca_file: str | None = None,
           dask_tls_cert: str | None = None, dask_tls_key: str | None = None,
           **options: Any) -> Executor:
    """The Dask executor's factory (the backend ``dask`` in :mod:`headwater.backends`). It connects
    before the run is registered, so a cluster that cannot be reached fails the launch with
    nothing recorded."""
    if not dask_address:
        raise RunFailedError("--executor dask needs the address of a Dask scheduler",
                             fix="add --dask-address tcp://HOST:PORT "
                             "(or set HEADWATER_DASK_ADDRESS)")
    from headwater.runtime.executors.dask.executor import DaskExecutor
    from headwater.runtime.executors.dask.security import dask_security
    from headwater.store import code_package

    security = dask_security(dask_address, ca_file=dask_tls_ca_file, cert=dask_tls_cert,
                             key=dask_tls_key)
    return DaskExecutor(dask_address, flow_cls=context.flow_cls, store=context.store,
                        current_fields=dict(context.current_fields),
                        package_suffixes=code_package.parse_suffixes(package_suffixes),
                        security=security,
                        step_locks={step: env.lock.to_dict()
                                    for step, env in context.step_envs.items()},
                        extra_files=context.extra_files)
