"""``metaflow.runner.metaflow_runner``, ``.nbrun`` and ``.deployer``: where Metaflow's API reference
says the Runner's classes live (``from metaflow.runner.metaflow_runner import ExecutingRun`` in a
type hint). One module serves the three paths; the classes are headwater's own."""

from __future__ import annotations

from headwater.runner import (
    DeployedFlow,
    Deployer,
    ExecutingRun,
    ExecutingTask,
    NBRunner,
    Runner,
    TriggeredRun,
)

__all__ = ["DeployedFlow", "Deployer", "ExecutingRun", "ExecutingTask", "NBRunner", "Runner",
           "TriggeredRun"]
