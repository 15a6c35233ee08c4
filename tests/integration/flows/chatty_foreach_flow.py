"""Many foreach tasks that print as their first action: stresses the order of console events."""

from headwater import FlowSpec, Parameter, step


class ChattyForeachFlow(FlowSpec):
    width = Parameter("width", help="How many foreach items", default=24)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.talk, foreach="items")

    @step
    def talk(self):
        print("item", self.input)
        self.seen = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.said = [inp.seen for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChattyForeachFlow()
