"""``metaflow.multicore_utils``: ``parallel_map`` and ``parallel_imap_unordered`` in forked
processes, closures allowed, failures raised in the caller, nothing left behind."""

from __future__ import annotations

import os

import pytest

from headwater import Flow, FlowSpec, step
from headwater.flow.multicore import MulticoreException, parallel_imap_unordered, parallel_map
from headwater.testing import run_step

from .helpers import TRIPWIRE_MESSAGE, flow_path


def test_results_come_back_in_the_items_order():
    assert parallel_map(lambda s: s.upper(), ["a", "b", "c", "d", "e", "f"]) == list("ABCDEF")


def test_each_call_runs_in_its_own_process_with_the_callers_data():
    seen = {"base": 10}  # a closure: nothing is pickled on the way in
    pids = parallel_map(lambda x: (os.getpid(), x + seen["base"]), range(4), max_parallel=2)
    assert [value for _, value in pids] == [10, 11, 12, 13]
    assert os.getpid() not in {pid for pid, _ in pids}


def test_unordered_gives_every_result_once():
    assert sorted(parallel_imap_unordered(lambda x: x * x, range(9), max_parallel=3)) == \
        [x * x for x in range(9)]


def test_a_failed_call_raises_naming_the_item_and_its_error(tmp_path):
    def picky(x):
        if x == 2:
            raise ValueError("two is not allowed")
        return x

    with pytest.raises(MulticoreException, match=r"item 2 failed(.|\n)*two is not allowed"):
        parallel_map(picky, range(5), max_parallel=2, dir=str(tmp_path))
    assert os.listdir(tmp_path) == []  # the results' files are gone, the others' too


def test_a_result_that_cannot_be_pickled_is_an_error(tmp_path):
    with pytest.raises(MulticoreException, match="a result must be picklable"):
        parallel_map(lambda x: (lambda: x), [1], dir=str(tmp_path))
    assert os.listdir(tmp_path) == []


def _children() -> set[str]:
    """This process's child processes (Linux's /proc)."""
    found: set[str] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as handle:
            found.update(handle.read().split())
    return found


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads Linux's /proc")
def test_stopping_early_stops_the_children(tmp_path):
    before = _children()
    results = parallel_imap_unordered(lambda x: x, range(50), max_parallel=4, dir=str(tmp_path))
    assert next(results) in range(50)
    assert len(_children() - before) == 4  # the next ones already started
    results.close()
    assert _children() == before  # stopped and reaped
    assert os.listdir(tmp_path) == []


def test_max_parallel_must_be_positive():
    with pytest.raises(ValueError, match="max_parallel"):
        parallel_map(str, [1], max_parallel=0)


class SquaresFlow(FlowSpec):
    @step
    def start(self):
        self.squares = parallel_map(lambda x: x * x, range(5))
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_step_maps_over_its_cores():
    done = run_step(SquaresFlow, "start")
    assert done.data.squares == [0, 1, 4, 9, 16]


def test_a_metaflow_flow_imports_them_from_metaflow(run_headwater, client):
    done = run_headwater("run", flow_path("multicore_flow.py"))
    assert TRIPWIRE_MESSAGE not in done.stderr
    assert done.returncode == 0, done.stderr
    client()
    start = Flow("CompatMulticoreFlow").latest_run["start"].task
    assert start["squares"].data == [0, 1, 4, 9, 16, 25]
    assert start["order"].data == ["start", "end"]
