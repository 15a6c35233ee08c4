from headwater import FlowSpec, current, step


class DeployParallelFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=3)

    @step
    def train(self):
        self.rank = current.parallel.node_index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ranks = sorted(i.rank for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployParallelFlow()
