"""``@timeout`` inside the task: the step is interrupted by an exception, not killed.

As with Metaflow, a step over its limit raises :class:`~headwater.exceptions.TimeoutException`
where it stands (a SIGALRM timer armed around the user's code only). Raised in the step, the
failure is the step's own: ``@retry`` runs it again, and ``@catch`` keeps the artifacts it had
set before the limit. The scheduler still stops a task's process group a margin after the limit,
for a step that swallows the exception or sits in native code that never returns to Python.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from headwater.exceptions import TimeoutException

BACKSTOP_S = 10.0  # how long after the limit a step that did not give way is stopped from outside


def backstop_after(limit: float) -> float:
    """When to stop a task from outside: 10 s after its limit, or a tenth of a long limit."""
    return limit + max(BACKSTOP_S, limit / 10)


def limit_text(seconds: float) -> str:
    """``1 s``, ``1.2 s``: the limit as the messages print it."""
    return f"{seconds:g} s"


def timeout_message(step: str, seconds: float) -> str:
    return f"step '{step}' ran longer than its @timeout of {limit_text(seconds)} and was stopped"


def can_interrupt() -> bool:
    """A timer signal reaches Python code only in the main thread of a POSIX process."""
    import threading  # only @timeout steps ask

    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def step_time_limit(step: str, seconds: float | None) -> Iterator[None]:
    """Raise TimeoutException in the code run inside, once ``seconds`` have passed."""
    if not seconds or not can_interrupt():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise TimeoutException(timeout_message(step, seconds))

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
