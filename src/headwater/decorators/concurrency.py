"""``@concurrency(limit=N)``: at most N tasks of this step run at once, across the whole run.

For a foreach whose items call a rate-limited service, a licence server or a small database:
``@concurrency(limit=4)`` on the step keeps four of its tasks running while the run's other
steps still use every worker ``--max-workers`` allows. Bare ``@concurrency`` is ``limit=1``
(one task at a time). The limit counts running tasks only: a task reused by ``@cache`` or cloned
by ``resume`` runs nothing and waits for no slot.

Headwater's own (Metaflow has none). Not ``@resources``: that asks for what *one* task needs
(CPUs, memory) and places it; this caps how many of the step's tasks run side by side. The
scheduler enforces it for every executor (local, spawn, Dask); the deployers compile it (Argo:
``parallelism`` on the fan-out that runs the step; Airflow: ``max_active_tis_per_dagrun``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator

if TYPE_CHECKING:
    from headwater.decorators.typed import ConcurrencyFunction


MAX_LIMIT = 2**31 - 1
"""The largest limit: far above any run's number of tasks, and a number every orchestrator a
step is deployed to reads (Argo's ``parallelism``, Airflow's ``max_active_tis_per_dagrun``).
``limit=10**30`` went into the manifest as written and failed only at submission, in
Kubernetes' words (it holds at most a 64-bit number)."""


class ConcurrencyDecorator(StepDecorator):
    name = "concurrency"
    defaults = {"limit": 1}
    examples = {"limit": "4"}
    unknown_option_note = ("limit is how many of the step's tasks may run at once across the "
                           "run; what one task needs (cpu, memory) is @resources'")

    def validate(self) -> None:
        value = self.attributes["limit"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.bad_option("limit", "must be a whole number of tasks, 1 or more")
        if value > MAX_LIMIT:
            raise self.bad_option(
                "limit", f"must be at most {MAX_LIMIT} (the largest the orchestrators a "
                "step is deployed to read); a limit above the step's number of tasks limits "
                "nothing: to run them all at once, leave @concurrency off")

    def apply(self, policy: StepPolicy) -> None:
        policy.concurrency = int(self.attributes["limit"])


concurrency: ConcurrencyFunction = make_step_decorator(ConcurrencyDecorator)
