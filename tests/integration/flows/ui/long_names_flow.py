"""Names as long and as foreign as Python allows: a 90-character flow in German, a step named in
a sentence with Japanese in it, artifacts named in Arabic (with a right-to-left override) and
in 160 characters, a card and a log in Japanese. The UI must show them all without any page
scrolling sideways, at a phone's width or at 200% zoom."""

from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown

LONG_ARTIFACT = "größe_日本語_" + "x" * 150


class ÜberLangerFlußFlowMitEinemSehrLangenNamenDerImmerWeiterGehtUndGehtUndGehtBisZumEnde(FlowSpec):
    @step
    def start(self):
        setattr(self, LONG_ARTIFACT, 1)
        setattr(self, "مرحبا بالعالم \u202e RTL override", "قيمة")
        self.items = ["α", "β"]
        self.next(self.schritt_größe_日本語_ein_sehr_langer_schrittname_der_immer_weiter_geht,
                  foreach="items")

    @card
    @step
    def schritt_größe_日本語_ein_sehr_langer_schrittname_der_immer_weiter_geht(self):
        current.card.append(Markdown("# Überschrift " + "日本語" * 50))
        self.value = self.input * 500
        print("ログ " * 400)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ÜberLangerFlußFlowMitEinemSehrLangenNamenDerImmerWeiterGehtUndGehtUndGehtBisZumEnde()
