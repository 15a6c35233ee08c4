"""``@pytorch_parallel`` and ``metaflow.plugins.frameworks.pytorch``, which an extension that
overrides Metaflow's module builds on (``from metaflow.plugins.frameworks._orig.pytorch import``).

``PytorchParallelDecorator`` is ``@parallel`` (``IS_PARALLEL``: the step's ``num_parallel`` tasks
run together) that also sets the variables ``torch.distributed`` reads before the step runs.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from headwater.decorators.lifecycle import StepDecorator, make_lifecycle_step_decorator
from headwater.flow.current import current

__all__ = ["PytorchParallelDecorator", "pytorch_parallel", "setup_torch_distributed"]


class PytorchParallelDecorator(StepDecorator):
    name: ClassVar[str] = "pytorch_parallel"
    defaults: ClassVar[dict[str, Any]] = {"master_port": None}
    IS_PARALLEL: ClassVar[bool] = True

    def task_pre_step(self, step_name: str, *args: Any) -> None:
        self.setup_distributed_env(None)

    def setup_distributed_env(self, flow: Any) -> None:
        setup_torch_distributed(self.attributes["master_port"])


def setup_torch_distributed(master_port: int | None = None) -> None:
    """Set the variables ``torch.distributed`` reads, from ``current.parallel``; the port is
    derived from the run id unless given (so concurrent runs rarely collide)."""
    if not master_port:
        try:
            master_port = 51000 + abs(int(current.run_id)) % 10000
        except (TypeError, ValueError):
            master_port = 51001
    parallel = current.parallel
    os.environ.update({
        "MASTER_PORT": str(master_port),
        "MASTER_ADDR": str(parallel.main_ip),
        "NODE_RANK": str(parallel.node_index),
        "WORLD_SIZE": str(parallel.num_nodes),
        "NUM_NODES": str(parallel.num_nodes),
        "PL_TORCH_DISTRIBUTED_BACKEND": "gloo",
    })


pytorch_parallel = make_lifecycle_step_decorator(PytorchParallelDecorator)
