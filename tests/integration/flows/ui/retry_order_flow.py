"""A foreach of ``WIDTH`` (40) items in which item 0 fails its first attempt (retried at once),
then a step that fails once and is retried after ``minutes_between_retries`` (0.03 min, about
2 s): where a retry goes among the tasks waiting to run (with ``--max-workers 1``), and how a
task page reads a task that spent most of its time waiting between its attempts."""

import os

from headwater import FlowSpec, current, retry, step


class RetryOrderFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ.get("WIDTH", "40"))))
        self.next(self.work, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    def work(self):
        if self.input == 0 and current.retry_count == 0:
            raise RuntimeError("item 0 fails once")
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.patient)

    @retry(times=1, minutes_between_retries=0.03)
    @step
    def patient(self):
        if current.retry_count == 0:
            raise RuntimeError("the service is busy")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryOrderFlow()
