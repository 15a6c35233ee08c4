"""Fan out over a list: one task per item, each with ``self.input``; a join collects them."""

from headwater import FlowSpec, step


class ForeachFlow(FlowSpec):
    """Make a title for each creature, in parallel."""

    @step
    def start(self):
        self.creatures = ["bird", "fish", "fox"]
        self.next(self.make_title, foreach="creatures")

    @step
    def make_title(self):
        """Runs once per creature."""
        self.title = f"{self.index}: the {self.input}"
        print(self.title)
        self.next(self.join)

    @step
    def join(self, inputs):
        """Gather the titles in item order."""
        self.titles = [inp.title for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("titles:", ", ".join(self.titles))


if __name__ == "__main__":
    ForeachFlow()
