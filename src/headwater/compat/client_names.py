"""``metaflow.client``: the client's names (Flow, Run, Step, Task, namespace, ...)."""

from headwater.client import *  # noqa: F401,F403
from headwater.client import __all__  # noqa: F401
