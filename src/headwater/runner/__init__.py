"""Start and resume runs from Python: ``Runner`` for flow files, ``NBRunner`` for notebook classes.

Both start the flow's real command line in a child process (see :mod:`.runner`) and hand back an
:class:`ExecutingRun` whose ``.run`` is a client Run read from the datastore the child wrote.
"""

from headwater.runner.deployer import DeployedFlow, Deployer, TriggeredRun
from headwater.runner.executing import (
    ExecutingRun,
    RunnerArgumentTypeError,
    RunnerArgumentValueError,
    RunNotStartedError,
)
from headwater.runner.executing_task import ExecutingTask, SpinFailedError
from headwater.runner.notebook import NBRunner
from headwater.runner.runner import Runner

__all__ = ["DeployedFlow", "Deployer", "ExecutingRun", "ExecutingTask", "NBRunner", "RunNotStartedError", "Runner",
           "RunnerArgumentTypeError", "RunnerArgumentValueError", "SpinFailedError",
           "TriggeredRun"]
