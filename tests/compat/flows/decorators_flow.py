"""Metaflow style: step and flow decorators, cards, and backend decorators run locally."""

import os

from metaflow import (
    FlowSpec,
    batch,
    card,
    catch,
    conda,
    current,
    environment,
    kubernetes,
    pypi,
    resources,
    retry,
    schedule,
    step,
    timeout,
)
from metaflow.cards import Markdown


@schedule(daily=True)
class CompatDecoratorsFlow(FlowSpec):
    @card
    @step
    def start(self):
        current.card.append(Markdown("# hello"))
        self.card_items = len(current.card.components[None])
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @kubernetes(cpu=2, memory=4000)
    @step
    def flaky(self):
        self.attempt = current.retry_count
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.next(self.risky)

    @catch(var="caught")
    @batch(cpu=1)
    @step
    def risky(self):
        self.before = "set"
        raise ValueError("always fails")
        self.next(self.settings)  # noqa: F821 (never reached, as in Metaflow examples)

    @environment(vars={"COMPAT_FOO": "bar"})
    @resources(memory=256, cpu=1)
    @timeout(seconds=60)
    @pypi(packages={"requests": "2.0"})
    @conda(libraries={"numpy": "1.0"})
    @step
    def settings(self):
        self.foo = os.environ.get("COMPAT_FOO")
        self.next(self.end)

    @step
    def end(self):
        self.caught_type = type(self.caught).__name__ if self.caught else None


if __name__ == "__main__":
    CompatDecoratorsFlow()
