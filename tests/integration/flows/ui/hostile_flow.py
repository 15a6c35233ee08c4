"""Names and values an attacker would choose, shown by the UI: a card, a log line and artifacts
that look like HTML."""

from headwater import FlowSpec, Parameter, card, step


class HostileFlow(FlowSpec):
    alpha = Parameter("alpha", default="<script>document.title='pwned'</script>")

    @card
    @step
    def start(self):
        self.evil = "<img src=x onerror=alert(1)>"
        print("<script>alert('log')</script>")
        bomb = []
        for _ in range(40):  # a few hundred bytes pickled; 2**40 items printed in full
            bomb = [bomb, bomb]
        self.bomb = bomb
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HostileFlow()
