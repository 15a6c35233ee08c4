"""A large array made in start and carried, untouched, through ten more steps."""

from headwater import FlowSpec, Parameter, step


class CarryFlow(FlowSpec):
    """start makes ``--mib`` MiB of float64; s1..s10 never touch it; end reads only its size."""

    mib = Parameter("mib", default=1024, type=int, help="Array size in MiB.")

    @step
    def start(self):
        import numpy as np

        self.arr = np.random.default_rng(0).random(self.mib * 2**20 // 8)
        self.hops = 0
        self.next(self.s1)

    @step
    def s1(self):
        self.hops += 1
        self.next(self.s2)

    @step
    def s2(self):
        self.hops += 1
        self.next(self.s3)

    @step
    def s3(self):
        self.hops += 1
        self.next(self.s4)

    @step
    def s4(self):
        self.hops += 1
        self.next(self.s5)

    @step
    def s5(self):
        self.hops += 1
        self.next(self.s6)

    @step
    def s6(self):
        self.hops += 1
        self.next(self.s7)

    @step
    def s7(self):
        self.hops += 1
        self.next(self.s8)

    @step
    def s8(self):
        self.hops += 1
        self.next(self.s9)

    @step
    def s9(self):
        self.hops += 1
        self.next(self.s10)

    @step
    def s10(self):
        self.hops += 1
        self.next(self.end)

    @step
    def end(self):
        print("hops", self.hops)


if __name__ == "__main__":
    CarryFlow()
