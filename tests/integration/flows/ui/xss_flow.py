"""Markup where a user's text goes: a parameter, artifacts, log lines, an error, cards (the tag
comes from the command line). A page that lets any of it run sets ``window.__xss``."""

import sys

from headwater import FlowSpec, Parameter, card, current, step
from headwater.cards import Artifact, Markdown, Table

P = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'


class XssFlow(FlowSpec):
    alpha = Parameter("alpha", default=P)

    @card
    @card(type="blank", id="second")
    @step
    def start(self):
        self.evil = P
        self.evil_bytes = P.encode()
        self.evil_dict = {P: P}
        print(P)
        print(P, file=sys.stderr)
        current.card.append(Markdown(P + "\n\n# " + P))
        current.card.append(Table([[P, P]], headers=[P, P]))
        current.card["second"].append(Artifact(P, name=P))
        self.next(self.end)

    @card
    @step
    def end(self):
        raise ValueError(P)


if __name__ == "__main__":
    XssFlow()
