"""Cards that lie about their height to the UI page holding their frames: one claims a
billion pixels over and over, one sends strings and NaN. The page must clamp the first and
ignore the second."""

from headwater import FlowSpec, card, step
from headwater.cards import MetaflowCard


class TallClaimCard(MetaflowCard):
    type = "tall_claim"

    def render(self, task):
        return ("<p id='short'>a short card</p><script>setInterval(function () {"
                "parent.postMessage({headwaterCardHeight: 1e9}, '*'); }, 100);</script>")


class GarbageSizeCard(MetaflowCard):
    type = "garbage_size"

    def render(self, task):
        return ("<p id='garbage'>another short card</p><script>setInterval(function () {"
                "parent.postMessage({headwaterCardHeight: '5px; position: fixed'}, '*');"
                "parent.postMessage({headwaterCardHeight: NaN}, '*');"
                "parent.postMessage('headwaterCardHeight=1', '*'); }, 100);</script>")


class CardSizeFlow(FlowSpec):
    @card(type="tall_claim")
    @card(type="garbage_size", id="garbage")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardSizeFlow()
