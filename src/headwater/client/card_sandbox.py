"""Showing a card without trusting it: the sandbox and policy every reader of a card applies (the
client's `card view` and notebook cells, the web UI).

A card is HTML a flow wrote, possibly a flow someone else ran into a shared datastore, and it may
hold any script. Whoever shows it (the web UI, ``card view``, a notebook) puts it in a frame that
is sandboxed (an origin of its own: no cookie, no storage, no reach into the page around it, nor
into ``file://`` folders) and under a policy that lets it run its own inline scripts (Vega charts)
and load nothing (a fetch, an image or a font from elsewhere would carry its data away or probe
the reader's network).

The web UI sends the policy as a header; a file or a notebook cell cannot, so :func:`framed_page`
and :func:`framed_cell` carry it in the HTML: the page around the frame declares it in a ``<meta>``
(a ``srcdoc`` frame inherits its parent's policy) and the card gets the same ``<meta>`` first, so
it holds where the page around the frame is someone else's (a notebook's).
"""

from __future__ import annotations

import html
import re

CARD_SANDBOX = "allow-scripts allow-popups"
"""The frame's ``sandbox``: scripts and links opening a new window, nothing else (no same origin,
no forms, no navigating the page around it)."""

CARD_POLICY = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
               "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
               "connect-src 'none'; form-action 'none'; base-uri 'none'")
"""The Content-Security-Policy a card is shown under, in the form a ``<meta>`` may carry
(``sandbox`` and ``frame-ancestors`` are header-only; the web UI adds them)."""

_DOCTYPE_TAG = re.compile(r"<!doctype[^>]*>", re.IGNORECASE)

_POLICY_META = ('<meta http-equiv="Content-Security-Policy" '
                f'content="{html.escape(CARD_POLICY, quote=True)}">')


def after_doctype(card: str, text: str) -> str:
    """``card`` with ``text`` first: right after its doctype if it has one (a doctype must stay
    first or the card is drawn in quirks mode), so a ``<meta>`` or script there precedes all of
    the card's own."""
    cut = doctype_end(card)
    return card[:cut] + text + card[cut:]


def doctype_end(card: str) -> int:
    """Where ``card``'s doctype ends (0 without one): after a byte-order mark, white space and
    comments, read in one pass. A regular expression with a lazy ``.*?`` inside a repeated group
    tried every way of grouping the comments before giving up: 60 empty ones and no doctype took
    days, and held the web UI's event loop (every reader's every page) all that time."""
    pos = 1 if card.startswith("\ufeff") else 0
    while True:
        while pos < len(card) and card[pos].isspace():
            pos += 1
        if not card.startswith("<!--", pos):
            break
        close = card.find("-->", pos + 4)
        if close < 0:
            return 0
        pos = close + 3
    found = _DOCTYPE_TAG.match(card, pos)
    return found.end() if found else 0


def with_policy(card: str) -> str:
    """The card with :data:`CARD_POLICY` declared before anything of its own (a ``<meta>``
    policy binds what follows it, so none of the card's elements escape it)."""
    return after_doctype(card, _POLICY_META)


def framed_page(card: str, title: str) -> str:
    """A whole page showing ``card`` in a sandboxed frame filling the window, for a browser to
    open from a file (``card view``): the page holds no script and declares the card policy,
    which the frame inherits."""
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
        f"{_POLICY_META}\n<meta name=\"referrer\" content=\"no-referrer\">\n"
        f"<title>{html.escape(title)}</title>\n"
        "<style>html,body{margin:0;height:100%;overflow:hidden}"
        "iframe{display:block;border:0;width:100%;height:100%}</style>\n"
        f"</head><body>{_frame(card, title, 'width:100%;height:100%')}</body></html>\n"
    )


def framed_cell(card: str, title: str) -> str:
    """The card in a sandboxed frame for a notebook cell (``Card._repr_html_``): the notebook's
    page is not ours to give a policy, so the card carries it."""
    return _frame(card, title, "width:100%;height:600px;border:none")


def _frame(card: str, title: str, style: str) -> str:
    return (f'<iframe sandbox="{CARD_SANDBOX}" referrerpolicy="no-referrer" '
            f'title="{html.escape(title, quote=True)}" style="{style}" '
            f'srcdoc="{html.escape(with_policy(card), quote=True)}"></iframe>')
