"""The stored task log: line times in a header, the output unchanged; old plain logs still read."""

from __future__ import annotations

from headwater.store.task_log import MARKER, LineClock, decode, encode


def test_each_line_is_stamped_when_its_first_byte_arrives() -> None:
    clock = LineClock()
    clock.feed(b"a\nb", 10.0)  # "a" and the start of "b"
    clock.feed(b"b continued\n", 11.0)  # no new line starts here
    clock.feed(b"c\nd\n", 12.0)
    clock.feed(b"", 13.0)
    assert clock.times == [10.0, 10.0, 12.0, 12.0]


def test_encode_then_decode_gives_back_the_output_and_the_times() -> None:
    output = b"first\nsecond\n"
    blob = encode(output, [100.0, 101.25])
    assert blob.startswith(MARKER) and blob.endswith(output)
    assert decode(blob) == (output, [100.0, 101.25])


def test_logs_stored_without_times_read_as_before() -> None:
    assert decode(b"plain old log\n") == (b"plain old log\n", [])
    assert encode(b"no lines timed", []) == b"no lines timed"
    damaged = MARKER + b"{not json\nrest\n"
    assert decode(damaged) == (damaged, [])
