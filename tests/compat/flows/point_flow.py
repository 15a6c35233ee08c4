"""A flow whose artifacts include values only their own serializer can store (see
tests/compat/test_artifact_serializers.py, which installs the ``hwpoint`` package)."""

from hwpoint import Point
from metaflow import FlowSpec, step


class CompatPointFlow(FlowSpec):
    @step
    def start(self):
        self.p = Point(3, 4)  # Point refuses pickle: only PointSerializer can store it
        self.n = 7
        self.next(self.end)

    @step
    def end(self):
        self.q = Point(self.p.x + 1, self.p.y * self.n)  # self.p read back by the serializer
        self.big = Point(1, 10**3000)  # larger than an inline ref: stored as a blob


if __name__ == "__main__":
    CompatPointFlow()
