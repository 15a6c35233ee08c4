"""``@parallel``: a step run as N cooperating tasks, ``self.next(self.step, num_parallel=N)``.

Locally the N tasks are N processes on this machine; each sees ``current.parallel`` with its
``node_index``, ``num_nodes`` and the ``main_ip`` of node 0 (127.0.0.1 here), so code written for a
multi-node launcher can find its peers, and the ``control_task_id`` of node 0's task, as
Metaflow's local run gives every node.
"""

from __future__ import annotations

from headwater.decorators.base import StepDecorator, make_step_decorator
from headwater.records import Record

# TaskSpec.extra: the task id of a num_parallel fan-out's node 0 (Metaflow's control task),
# set by the scheduler on every node's spec (it numbers the nodes' tasks)
CONTROL_TASK = "parallel_control_task_id"


class ParallelInfo(Record, frozen=True):
    """What ``current.parallel`` says to each of the N tasks."""

    node_index: int
    num_nodes: int
    main_ip: str = "127.0.0.1"
    control_task_id: str | None = None


class ParallelDecorator(StepDecorator):
    name = "parallel"
    defaults: dict = {}


parallel = make_step_decorator(ParallelDecorator)
