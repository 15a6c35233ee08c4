from metaflow import FlowSpec, current, retry, step, user_step_decorator
from metaflow.decorators import _attach_decorators_to_step


@user_step_decorator
def stamp(step_name, flow, inputs):
    flow.stamped = step_name
    yield


class AttachFlow(FlowSpec):
    @retry(times=1, minutes_between_retries=0)
    @step
    def start(self):
        self.start_attempt = current.retry_count
        if current.retry_count < 1:
            raise ValueError("start fails once")
        self.next(self.flaky)

    @step
    def flaky(self):
        if current.retry_count < 2:
            raise ValueError("flaky fails twice")
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


_attach_decorators_to_step(AttachFlow.flaky, ["retry:times=2,minutes_between_retries=0", "stamp"])
# start has @retry written on it: the attached one is left out, so start still retries once
_attach_decorators_to_step(AttachFlow.start, ["retry:times=0"])
_attach_decorators_to_step(AttachFlow.end, ["card:type=blank,id=one", "card:type=blank,id=two"])

if __name__ == "__main__":
    AttachFlow()
