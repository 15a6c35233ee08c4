"""Names that could pass for others: which characters of a label to show as escapes.

A tag, a user name, a run id or an artifact's name is chosen by whoever wrote the record, and
read by others who act on it (``tag:prod`` is what a deployment reads from). Two names that
differ only in characters the reader cannot see, or cannot tell apart, must not look alike:

- **invisible characters**: format characters (zero-width spaces and joiners, bidirectional
  controls), spaces other than the ASCII one (a no-break space looks like a space), blank
  letters (Hangul fillers, the braille blank), variation selectors, private-use and unassigned
  code points;
- **compatibility forms**: characters that Unicode itself folds into others (NFKC): fullwidth
  ``ｐｒｏｄ``, mathematical ``𝐩𝐫𝐨𝐝``, ligatures, superscripts;
- **mixed scripts**: a word (a run of letters and digits) mixing Latin with the letters of
  another script shows the other script's letters as escapes: ``рrod`` (a Cyrillic ``р``) is
  shown as ``\\u0440rod``. Scripts that have no letters like Latin ones (Chinese, Japanese,
  Korean) mix freely, and a word of one script (``привет``, ``café``) is shown as written;
- **whole-script lookalikes**: a word whose letters are all Cyrillic or Greek ones drawn like
  Latin letters (``рор``, ``ехе``) is shown as escapes.

The web UI shows names by the same rules (``shownName`` in ``ui/static/ui.js``).

Only labels go through this (:func:`shown_label`): what a step printed, a value, a message are
text and stay as written. Each escape is ``\\uXXXX`` (``\\UXXXXXXXX`` past the BMP), which no
name can look like without holding a backslash the reader then sees.
"""

from __future__ import annotations

import unicodedata  # this module is imported only for a label that is not plain ASCII
from collections.abc import Callable, Iterable

# Cyrillic and Greek letters drawn like Latin ones (lower and upper case), each with the ASCII
# letter it passes for: the letters a whole-script lookalike word is made of.
_OTHER_SCRIPTS_AS_ASCII = dict(zip(
    "аеорсухіјѕԁԛԝһҽѵАВЕКМНОРСТУХІЈЅԚԜҺ" "αοριυνκχγηωΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdqwhevABEKMHOPCTYXIJSQWH" "aopiuvkxynwABEZHIKMNOPTYX", strict=True))
LATIN_LOOKALIKES = frozenset(_OTHER_SCRIPTS_AS_ASCII)
# Latin letters outside ASCII drawn like an ASCII one, with no mark to tell them apart: the
# dotless i and j, the script g and a, the dental click (an l), small capitals (drawn as a
# lowercase letter would be), the kra. Shown as escapes in a word that could pass for an ASCII
# one (every other letter ASCII or a lookalike: ``admın``), written as is where the word holds
# another letter no ASCII word has (``Işık``).
ASCII_LOOKALIKES = dict(zip(
    "ıȷɡɑɩǀƖĸɪʏɴʀʟʜᴀʙᴄᴅᴇɢᴊᴋᴍᴏᴘꜱᴛᴜᴠᴡᴢ",
    "ijgaillkiynrlhabcdegjkmopstuvwz", strict=True))
# Blank characters of letter or symbol categories: they show as nothing (or a space).
_BLANKS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
# Scripts with no Latin-like letters, which mix with Latin in ordinary names ("プロジェクトA").
_MIXING_FREELY = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC", "KATAKANA-HIRAGANA")


def shown_label(text: str, control: Callable[[str], str] | None = None) -> str:
    """``text`` with each character that could make it pass for another name shown as its
    escape (see the module docstring); ASCII text is returned as is, but for its control
    characters when ``control`` says how to show them (``\\x1b``)."""
    if text.isascii() and control is None:
        return text
    return "".join(control(ch) if control and (ch < " " or "\x7f" <= ch <= "\x9f") else
                   escaped(ch) if mark else ch
                   for ch, mark in zip(text, marks(text), strict=True))


def marks(text: str) -> list[bool]:
    """For each character of ``text``, whether :func:`shown_label` shows it as its escape."""
    marked = [_always_shown(ch) for ch in text]
    if text.isascii():
        return marked
    start = 0
    for end in range(len(text) + 1):
        if end < len(text) and _in_word(text[end]):
            continue
        if end > start:
            _mark_word(text, start, end, marked)
        start = end + 1
    return marked


def escaped(ch: str) -> str:
    """``ch`` as ``\\uXXXX`` (``\\UXXXXXXXX`` past the BMP)."""
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _always_shown(ch: str) -> bool:
    if ch.isascii():
        return False
    category = unicodedata.category(ch)
    if category in ("Cf", "Zs", "Zl", "Zp", "Co", "Cn", "Cs", "Cc") or ch in _BLANKS:
        return True
    if 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF or 0x180B <= ord(ch) <= 0x180F:
        return True  # variation selectors
    return unicodedata.normalize("NFKC", ch) != ch


def _in_word(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch).startswith("M")


def _script(ch: str) -> str | None:
    """The script of a letter or digit, from its Unicode name (``CYRILLIC SMALL LETTER ER``):
    the standard library has no script property, and the name's first word is one for letters."""
    if ch.isascii():
        return "LATIN" if ch.isalpha() else None
    if not ch.isalnum():
        return None  # a combining mark belongs to the letter before it
    words = unicodedata.name(ch, "").split()
    if "LATIN" in words:
        return "LATIN"  # FULLWIDTH LATIN SMALL LETTER P too
    return words[0] if words else None


def _mark_word(text: str, start: int, end: int, marked: list[bool]) -> None:
    scripts = {i: _script(text[i]) for i in range(start, end)}
    present = {s for s in scripts.values() if s is not None}
    others = present - {"LATIN"} - set(_MIXING_FREELY)
    letters = [i for i, s in scripts.items() if s is not None]
    if "LATIN" in present and others:
        for i, script in scripts.items():
            if script in others:
                marked[i] = True
    elif "LATIN" not in present:
        if letters and all(text[i] in LATIN_LOOKALIKES for i in letters):
            for i in letters:
                marked[i] = True
    if any(text[i] in ASCII_LOOKALIKES for i in letters) and all(
            text[i].isascii() or text[i] in ASCII_LOOKALIKES or text[i] in LATIN_LOOKALIKES
            for i in letters):
        for i in letters:
            if text[i] in ASCII_LOOKALIKES:
                marked[i] = True


def skeleton(text: str) -> str:
    """What ``text`` looks like, as far as these rules can tell: folded as Unicode folds
    compatibility forms (NFKC), every lookalike letter replaced by the ASCII letter it passes
    for, every invisible character dropped and every other space made an ASCII one. Two labels
    with the same skeleton look alike (``prod``, ``\u0440rod``, ``pro\u200bd``, ``ｐrod``)."""
    if text.isascii():
        return text
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch.isascii():
            out.append(ch)
        elif ch in ASCII_LOOKALIKES or ch in _OTHER_SCRIPTS_AS_ASCII:
            out.append(ASCII_LOOKALIKES.get(ch) or _OTHER_SCRIPTS_AS_ASCII[ch])
        elif unicodedata.category(ch) in ("Zs", "Zl", "Zp"):
            out.append(" ")
        elif not _always_shown(ch):
            out.append(ch)
    return "".join(out)


def lookalikes_of(name: str, known: Iterable[str]) -> list[str]:
    """The names among ``known`` that look like ``name`` (the same :func:`skeleton`) but are
    other names, sorted: what a filter on ``name`` does not match and a reader would take
    for it."""
    wanted = skeleton(name)
    return sorted({other for other in known if other != name and skeleton(other) == wanted})
