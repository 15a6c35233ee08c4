"""The end of a big log, as a page opens on it: from a line's start when one is near, never
inside a UTF-8 character."""

from __future__ import annotations

from headwater.ui.events import LINE_SEARCH_BYTES, log_tail


def test_a_small_log_is_whole():
    assert log_tail(b"a\nb\n", 100) == b"a\nb\n"


def test_a_cut_moves_on_to_the_next_lines_start():
    data = b"".join(b"line %05d\n" % i for i in range(1000))
    tail = log_tail(data, 95)
    assert data.endswith(tail) and tail.startswith(b"line ") and len(tail) <= 95


def test_without_a_line_near_the_cut_never_splits_a_character():
    data = ("\u00e9" * (LINE_SEARCH_BYTES * 2)).encode()  # two bytes each, no line break
    for limit in (101, 102, 5001):
        tail = log_tail(data, limit)
        assert data.endswith(tail) and len(tail) <= limit
        tail.decode()  # whole characters only
