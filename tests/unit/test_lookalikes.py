"""headwater.lookalikes: which characters of a label are shown as escapes so that it cannot pass
for another name, and which other scripts' names are shown as written."""

from __future__ import annotations

import pytest

from headwater.lookalikes import shown_label
from headwater.tracebacks import printable_name


@pytest.mark.parametrize(("name", "shown"), [
    ("\u0440rod", "\\u0440rod"),  # a Cyrillic r among Latin letters
    ("tag:\u03c1rod", "tag:\\u03c1rod"),  # a Greek rho
    ("\u0440\u043e\u0440", "\\u0440\\u043e\\u0440"),  # only Cyrillic letters drawn like Latin
    ("prod\u200b", "prod\\u200b"),  # a zero-width space
    ("prod\u00a0x", "prod\\u00a0x"),  # a no-break space
    ("\uff50rod", "\\uff50rod"),  # a fullwidth p
    ("\U0001d429rod", "\\U0001d429rod"),  # a mathematical bold p
    ("\u3164", "\\u3164"),  # a Hangul filler, drawn as nothing
    ("x\ufe0f", "x\\ufe0f"),  # a variation selector
    ("run1\u0662", "run1\\u0662"),  # an Arabic-Indic digit among Latin ones
    ("adm\u0131n", "adm\\u0131n"),  # a dotless i (Latin) in a word otherwise ASCII
    ("\u0261o", "\\u0261o"),  # a script g
    ("user:\u01c0eo", "user:\\u01c0eo"),  # the dental click, drawn as an l
    ("\u1d18rod", "\\u1d18rod"),  # a small capital p
    ("\u017fecret", "\\u017fecret"),  # a long s (folded by NFKC)
    ("k\u0131rm\u0131z\u0131", "k\\u0131rm\\u0131z\\u0131"),  # the cost: a Turkish word
], ids=["cyrillic-in-latin", "greek-in-latin", "whole-script", "zero-width", "no-break-space",
        "fullwidth", "mathematical", "hangul-filler", "variation-selector", "foreign-digit",
        "dotless-i", "script-g", "dental-click", "small-capital", "long-s", "turkish-word"])
def test_a_name_that_could_pass_for_another_shows_its_escapes(name, shown):
    assert shown_label(name) == shown
    assert printable_name(name) == shown


@pytest.mark.parametrize("name", [
    "prod", "café", "naïve", "été", "user:алиса", "привет", "ελληνικά", "チーム", "プロジェクトA",
    "日本語abc", "команда:данные", "I\u015f\u0131k"])
def test_a_name_of_one_script_is_shown_as_written(name):
    assert shown_label(name) == name
    assert printable_name(name) == name


def test_control_characters_keep_their_short_escapes_in_printable_names():
    assert printable_name("a\x1b]0;x\x07\u202e\u0440b") == "a\\x1b]0;x\\x07\\u202e\\u0440b"


def test_lookalike_names_stay_apart_once_shown():
    names = ["prod", "\u0440rod", "prod\u200b", "\uff50rod", "pr\u043ed", "\u0440\u043e\u0440",
             "pop", "\u1d18rod", "adm\u0131n", "admin"]
    assert len({shown_label(n) for n in names}) == len(names)


def test_the_web_ui_reads_names_with_the_same_table_of_lookalike_letters():
    """ui.js applies the same rules in the browser; its table must not drift from this one."""
    import re
    from pathlib import Path

    import headwater.ui
    from headwater.lookalikes import LATIN_LOOKALIKES

    script = (Path(headwater.ui.__file__).parent / "static" / "ui.js").read_text(encoding="utf-8")
    table = re.search(r'const LATIN_LOOKALIKES = new Set\("([^"]+)"\);', script)
    assert table is not None
    assert set(table.group(1)) == LATIN_LOOKALIKES


def test_one_skeleton_tells_which_names_look_alike():
    from headwater.lookalikes import lookalikes_of, skeleton

    alike = ["\u0440rod", "prod\u200b", "\uff50rod", "\u1d18rod", "pr\u03bfd", "prod\ufe0f"]
    assert {skeleton(name) for name in alike} == {"prod"}
    assert skeleton("adm\u0131n") == "admin" and skeleton("a\u00a0b") == "a b"
    assert lookalikes_of("prod", ["prod", *alike, "Prod", "pr0d", "prod2", "caf\u00e9"]) == sorted(alike)
    assert lookalikes_of("\u0440rod", ["prod", "other"]) == ["prod"]  # either way round
    assert lookalikes_of("caf\u00e9", ["cafe"]) == []  # an accent shows


def test_the_web_ui_reads_latin_lookalikes_with_the_same_table():
    import re
    from pathlib import Path

    import headwater.ui
    from headwater.lookalikes import ASCII_LOOKALIKES

    script = (Path(headwater.ui.__file__).parent / "static" / "ui.js").read_text(encoding="utf-8")
    table = re.search(r'const ASCII_LOOKALIKES = new Set\("([^"]+)"\);', script)
    assert table is not None
    assert set(table.group(1)) == set(ASCII_LOOKALIKES)
