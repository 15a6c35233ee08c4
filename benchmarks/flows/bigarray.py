"""A large float64 array made in one step and summed in the next."""

from headwater import FlowSpec, Parameter, step


class BigArrayFlow(FlowSpec):
    """start makes ``--mib`` MiB of random float64; end reads all of it."""

    mib = Parameter("mib", default=1024, type=int, help="Array size in MiB.")

    @step
    def start(self):
        import numpy as np

        self.arr = np.random.default_rng(0).random(self.mib * 2**20 // 8)
        self.next(self.end)

    @step
    def end(self):
        self.total = float(self.arr.sum())


if __name__ == "__main__":
    BigArrayFlow()
