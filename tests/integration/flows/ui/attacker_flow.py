"""What an attacker (or just a terminal program) puts where the UI shows it: a parameter and an
artifact whose names are markup, terminal escapes (colours, a title, a hyperlink to a
javascript: address) in log lines, a line of 200,000 characters, an error message with
colours and markup, 3 MB of output before all that. A page that lets markup run sets
``window.__xss``."""

import sys

from headwater import FlowSpec, Parameter, step

P = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
LONG = "A" * 200_000


class AttackerFlow(FlowSpec):
    odd = Parameter(P, default=P)  # a name the CLI cannot even spell, a value of markup

    @step
    def start(self):
        setattr(self, P, "named with markup")
        self.coloured = "\x1b[31mred\x1b[0m"
        sys.stdout.write(("x" * 99 + "\n") * 30_000)  # 3 MB a page must not load at once
        print("\x1b[31mred words\x1b[0m and \x1b[1mbold\x1b[0m")
        print("\x1b]0;a window title\x07\x1b]8;;javascript:window.__xss=1\x07click me\x1b]8;;\x07")
        print(LONG)
        print("\x1b[2K\x1b[1Gprogress 100%", file=sys.stderr)
        self.next(self.end)

    @step
    def end(self):
        raise ValueError("\x1b[31mcoloured\x1b[0m failure " + P)


if __name__ == "__main__":
    AttackerFlow()
