"""Where the UI puts the lines that fit a card's frame: first, so a card's own CSP (a <meta>,
which binds only what follows it) cannot stop them, yet after a doctype, which must stay first."""

from __future__ import annotations

from headwater.ui.api import CARD_SIZE_SCRIPT, with_size_script


def test_the_size_script_goes_first_in_a_card_without_a_doctype():
    card = "<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\"><p>x</p>"
    assert with_size_script(card) == CARD_SIZE_SCRIPT + card


def test_the_size_script_follows_a_doctype_and_comments_before_it():
    card = "\ufeff <!-- made by hand -->\n<!DOCTYPE html>\n<html><head><meta charset=utf-8>"
    served = with_size_script(card)
    cut = card.index(">", card.index("<!DOCTYPE")) + 1
    assert served == card[:cut] + CARD_SIZE_SCRIPT + card[cut:]


def test_a_doctype_later_in_the_card_is_not_taken_for_its_first():
    card = "<p>see <code><!doctype html></code></p>"
    assert with_size_script(card).startswith(CARD_SIZE_SCRIPT)
