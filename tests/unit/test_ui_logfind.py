"""Finding text in a whole log (headwater.ui.logfind): plain text in any case, line numbers
from 1, bounded answers, the lines around a match."""

from __future__ import annotations

import pytest

from headwater.exceptions import NotFoundError
from headwater.ui import logfind


def _log(n: int, marked: dict[int, str]) -> str:
    return "".join(f"{marked.get(i, f'line {i}')}\n" for i in range(1, n + 1))


def test_matches_name_their_lines_in_any_case():
    text = _log(500, {3: "an early NEEDLE", 498: "a late needle"})
    found = logfind.find_lines(text, "Needle")
    assert [(m["line"], m["text"]) for m in found["matches"]] == [
        (3, "an early NEEDLE"), (498, "a late needle")]
    assert (found["count"], found["counted_all"], found["more"], found["lines"]) == (
        2, True, False, 500)


def test_a_query_is_text_never_a_pattern():
    text = "a+b\naab\n(x)*\n.*\n"
    assert [m["line"] for m in logfind.find_lines(text, "a+b")["matches"]] == [1]
    assert [m["line"] for m in logfind.find_lines(text, "(X)*")["matches"]] == [3]
    assert [m["line"] for m in logfind.find_lines(text, ".*")["matches"]] == [4]


def test_a_line_matching_twice_counts_once_and_listing_pages_on():
    text = _log(50, {i: "x x x" for i in range(1, 51)})
    first = logfind.find_lines(text, "x", limit=10)
    assert [m["line"] for m in first["matches"]] == list(range(1, 11))
    assert first["count"] == 50 and first["more"]
    later = logfind.find_lines(text, "x", limit=10, from_line=45)
    assert [m["line"] for m in later["matches"]] == list(range(45, 51)) and not later["more"]


def test_a_long_line_is_cut_around_its_match():
    text = "a" * 10_000 + "needle" + "b" * 10_000
    match = logfind.find_lines(text, "NEEDLE")["matches"][0]
    assert len(match["text"]) == logfind.EXCERPT_CHARS and "needle" in match["text"]
    assert match["cut_start"] and match["cut_end"]


def test_letters_whose_lower_case_is_longer_keep_lines_right():
    text = "İİİ first\nİ second needle\nthird\n"
    match = logfind.find_lines(text, "needle")["matches"][0]
    assert (match["line"], match["text"]) == (2, "İ second needle")


def test_counting_stops_at_its_cap():
    text = "x\n" * (logfind.MAX_COUNTED + 5)
    found = logfind.find_lines(text, "x", limit=1)
    assert found["count"] == logfind.MAX_COUNTED and not found["counted_all"] and found["more"]


@pytest.mark.parametrize("query, said", [
    ("", "empty"), ("x" * (logfind.MAX_QUERY_CHARS + 1), "characters long"),
    ("a\nb", "line break")])
def test_a_query_that_cannot_be_searched_says_why(query, said):
    with pytest.raises(NotFoundError, match=said) as raised:
        logfind.check_query(query)
    assert raised.value.fix


def test_a_window_of_lines_and_escapes_dropped_as_the_page_drops_them():
    text = _log(300, {})
    got = logfind.window(text, 99, 3)
    assert got == {"from": 99, "lines": ["line 99", "line 100", "line 101"], "total_lines": 300}
    assert logfind.window(text, 10**15, 5)["lines"] == []
    assert len(logfind.window(text, 1, 10**6)["lines"]) == 300
    plain = logfind.plain_text(b"\x1b[31mred\x1b[0m\n\x1b]0;title\x07two\nthree \xff\n")
    assert plain.split("\n") == ["red", "two", "three \ufffd", ""]


def test_a_line_written_over_with_carriage_returns_is_found_at_its_last_state():
    text = logfind.plain_text(b"\rbar 1/3\rbar 2/3\rbar 3/3\nwindows\r\nlast\r\r\n\r\nend\r")
    assert text.split("\n") == ["bar 3/3", "windows", "last", "", "end"]
    found = logfind.find_lines(text, "bar")
    assert found["count"] == 1 and found["matches"][0]["text"] == "bar 3/3"


def test_a_long_line_ending_in_a_windows_line_break_is_kept_whole():
    line = "x" * 2_000_000
    assert logfind.settled(line + "\r\n" + line) == line + "\n" + line
