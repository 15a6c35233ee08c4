"""The S3 bandwidth cap's arithmetic: rates as users write them, and the token bucket's waits."""

from __future__ import annotations

import asyncio

import pytest

from headwater.exceptions import SettingError
from headwater.store import bandwidth
from headwater.store.bandwidth import BandwidthLimit, parse_rate


@pytest.mark.parametrize(("text", "rate"), [
    ("50MB/s", 50e6), ("1.5GiB/s", 1.5 * 2**30), ("800kB", 800e3), ("800 KB / s", 800e3),
    ("2000000", 2e6), ("64KiB/sec", 65536), ("1tb/s", 1e12),
], ids=["MB", "GiB", "kB-no-per-second", "spaces", "bare-bytes", "KiB-sec", "lower-case"])
def test_rates_are_read_as_people_write_them(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "MB/s", "-5MB/s", "10 Mbit/s", "1e9", "5MB/h", ""],
                         ids=["word", "no-number", "negative", "bits", "exponent", "per-hour",
                              "empty"])
def test_what_is_no_rate_is_refused(text: str) -> None:
    assert parse_rate(text) is None


class Clock:
    """A clock the test moves by hand, so the bucket's answers do not depend on the machine."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_one_second_goes_at_once_then_the_rate_holds() -> None:
    clock = Clock()
    cap = BandwidthLimit(1000, clock=clock)
    assert cap.reserve(600) == 0  # within the full bucket
    assert cap.reserve(400) == 0  # the bucket is now empty
    assert cap.reserve(500) == pytest.approx(0.5)  # half a second's worth missing
    clock.now += 0.5  # the caller waited: the debt is paid, nothing is in hand
    assert cap.reserve(250) == pytest.approx(0.25)
    clock.now += 10  # idle: the bucket refills, but only to one second's worth
    assert cap.reserve(1000) == 0
    assert cap.reserve(1) == pytest.approx(0.001)
    assert cap.moved == 2751
    assert cap.waited == pytest.approx(0.751)


def test_transfers_side_by_side_share_the_rate() -> None:
    clock = Clock()
    cap = BandwidthLimit(1000, clock=clock)
    cap.reserve(1000)  # empty the bucket
    waits = [cap.reserve(100) for _ in range(5)]  # five chunks asked for at the same moment
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])  # queued, not all let through


def test_paced_reads_pay_per_chunk_and_keep_every_byte() -> None:
    class Body:
        def __init__(self, data: bytes) -> None:
            self.data = data

        async def read(self, n: int) -> bytes:
            chunk, self.data = self.data[:n], self.data[n:]
            return chunk

    payload = bytes(range(256)) * 4096  # 1 MiB: four paced chunks
    cap = BandwidthLimit(1e12)  # so fast that nothing waits; what is counted is what came
    assert asyncio.run(cap.read_paced(Body(payload))) == payload
    assert cap.moved == len(payload)


@pytest.mark.parametrize("value", ["lots", "100", "0.5kB/s"], ids=["word", "too-low", "sub-kB"])
def test_a_bad_setting_names_the_variable_and_the_fix(monkeypatch, value: str) -> None:
    monkeypatch.setenv("HEADWATER_S3_MAX_BANDWIDTH", value)
    monkeypatch.setattr(bandwidth, "_limit", [])
    with pytest.raises(SettingError) as caught:
        bandwidth.s3_limit()
    said = str(caught.value)
    assert "HEADWATER_S3_MAX_BANDWIDTH" in said and repr(value) in said
    assert "50MB/s" in said  # the fix shows a rate that works


def test_unset_means_no_cap_and_a_forked_child_reads_the_variable_afresh(monkeypatch) -> None:
    import os

    monkeypatch.delenv("HEADWATER_S3_MAX_BANDWIDTH", raising=False)
    monkeypatch.setattr(bandwidth, "_limit", [])
    assert bandwidth.s3_limit() is None
    monkeypatch.setenv("HEADWATER_S3_MAX_BANDWIDTH", "2MB/s")
    assert bandwidth.s3_limit() is None  # read once per process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child forgets its parent's answer (and its lock)
        cap = bandwidth.s3_limit()
        os.write(write, str(cap.rate if cap else None).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 100) == b"2000000.0"
    os.close(read)
