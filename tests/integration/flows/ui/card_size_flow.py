"""Cards that lie about their height to the UI page holding their frames: one claims a
billion pixels over and over, one sends strings and NaN. The page must clamp the first and
ignore the second. A third forbids inline scripts in its own CSP: its frame is fitted all the
same, and its own inline script stays blocked."""

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


class StrictCard(MetaflowCard):
    type = "strict_csp"

    def render(self, task):
        return ("<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
                "content=\"script-src 'none'\"></head><body>"
                "<div id='strict' style='height: 1500px'>a tall card that runs no script</div>"
                "<script>document.getElementById('strict').dataset.ran = 'yes';</script>"
                "</body></html>")


class CardSizeFlow(FlowSpec):
    @card(type="strict_csp", id="strict")
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
