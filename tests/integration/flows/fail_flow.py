"""Branch ``a`` raises; its sibling ``b`` is still running when the failure is recorded."""

import time

from headwater import FlowSpec, current, step


def wait_until_failed(step_name, timeout=60.0):
    """Poll the run's metadata (as any client could) until ``step_name``'s task has failed."""
    from headwater import Run, namespace

    namespace(None)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run(f"{current.flow_name}/{current.run_id}")
        if step_name in run:
            task = run[step_name].task
            if task is not None and task.finished and not task.successful:
                return
        time.sleep(0.02)
    raise RuntimeError(f"step {step_name} never failed")


class FailFlow(FlowSpec):
    """One branch fails; the other finishes; the join never runs."""

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        print("a is about to fail")
        raise ValueError("boom in a")
        self.next(self.join)  # never reached

    @step
    def b(self):
        wait_until_failed("a")
        print("b saw a fail and finishes")
        self.b_done = True
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        print("the end")


if __name__ == "__main__":
    FailFlow()
