from headwater import FlowSpec, schedule, step


@schedule(cron="0 6 * * *", timezone="Europe/Paris")
class DeployForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.word = self.input * 2
        self.next(self.polish)

    @step
    def polish(self):
        self.word = self.word.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.words = [i.word for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployForeachFlow()
