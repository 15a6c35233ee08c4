"""What the eighth differential round (tools/differential.py, seeds from 2000, and the seeds
523-560 and 1015-1060 of earlier grammars) found comparing with a real Metaflow 2.19, pinned on
headwater (docs/decisions.md, "Differential testing, eighth round").
"""

from __future__ import annotations

import pickle
from pathlib import Path

from headwater import Flow

PRIVATE = '''
from metaflow import FlowSpec, step


class PrivateFlow(FlowSpec):

    @step
    def start(self):
        self._seen = ["under", 1]
        self.shown = "plain"
        self.next(self.end)

    @step
    def end(self):
        self.inherited = list(self._seen)


if __name__ == "__main__":
    PrivateFlow()
'''


def test_a_listing_of_a_tasks_artifacts_leaves_out_names_starting_with_underscore(
        tmp_path: Path, run_headwater, client):
    """Seeds 2000 on: a step's ``self._seen`` is stored and passed on (the next step reads it),
    but Metaflow's client lists a task's artifacts without the names that start with ``_``
    (iterating the task, ``task.data``, ``task.artifacts``), while ``task['_seen']`` reads it.
    headwater listed it with the rest."""
    (tmp_path / "private.py").write_text(PRIVATE)
    done = run_headwater("run", "private.py")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    run = Flow("PrivateFlow").latest_run
    start, end = run["start"].task, run["end"].task
    assert sorted(a.id for a in start) == ["name", "shown"]
    assert sorted(a.id for a in end) == ["inherited", "name", "shown"]
    assert list(start.data) == ["name", "shown"] and "_seen" not in dir(start.data)
    assert sorted(a.id for a in start.artifacts) == ["name", "shown"]
    assert len(start.artifacts) == 2 and "_seen" not in repr(start.artifacts)
    # read by name it is there, in the task that set it and the one that inherited it
    assert "_seen" in start and start["_seen"].data == ["under", 1]
    assert end["_seen"].data == ["under", 1] and end.data.inherited == ["under", 1]
    assert start.data._seen == ["under", 1]  # (Metaflow: AttributeError; kept, decisions.md)
    # ``dump`` leaves it out too, unless --private asks for it
    plain = run_headwater("dump", "private.py", f"{run.id}/start")
    assert plain.returncode == 0 and "_seen" not in plain.stdout and "shown" in plain.stdout
    private = run_headwater("dump", "private.py", f"{run.id}/start", "--private", "--file", "out.pkl")
    assert private.returncode == 0, private.stdout + private.stderr
    with open(tmp_path / "out.pkl", "rb") as saved:
        dumped = pickle.load(saved)
    assert dumped[f"{run.id}/start/1"]["_seen"] == ["under", 1]


LATE = '''
import time

from metaflow import FlowSpec, Step, current, namespace, retry, step


class LateRetryFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.doomed, self.late)

    @step
    def doomed(self):
        raise RuntimeError("doomed fails first")
        self.next(self.join)

    @retry(times=3, minutes_between_retries=0)
    @step
    def late(self):
        # fails only once the run has failed: the scheduler recorded doomed's failure
        namespace(None)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            tasks = list(Step(f"{current.flow_name}/{current.run_id}/doomed"))
            if tasks and tasks[0].finished:
                break
            time.sleep(0.05)
        raise RuntimeError("late fails too, attempt %d" % current.retry_count)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LateRetryFlow()
'''


def test_a_task_failing_after_the_run_failed_is_not_retried(tmp_path: Path, run_headwater,
                                                            client):
    """Seed 2001: once a task has failed the run, a task still running may finish, but its
    ``@retry`` attempts are new work for a run that cannot succeed (each may wait
    ``minutes_between_retries``); Metaflow stops such tasks. headwater ran every retry."""
    (tmp_path / "late.py").write_text(LATE)
    done = run_headwater("run", "late.py")
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert "late fails too, attempt 0" in said
    assert "retrying" not in said and "attempt 1" not in said
    client()
    run = Flow("LateRetryFlow").latest_run
    late = run["late"].task
    assert late.current_attempt == 0 and not late.successful
    assert not run.successful


def test_a_named_tuple_and_a_bounded_deque_are_previewed_as_their_repr():
    """Seed 2017: ``dump`` (and every bounded preview) showed a ``NamedTuple`` as
    ``Pair((0, 'r0'))``, a tuple subclass with its own ``repr``; Metaflow's ``dump`` prints
    ``Pair(left=0, right='r0')``, the named tuple's own ``repr``, as headwater now does, each
    field bounded like any value."""
    import collections
    import typing

    from headwater.cards.preview import bounded_repr, short_repr

    class Pair(typing.NamedTuple):
        left: object
        right: object

    Old = collections.namedtuple("Old", "a b")
    value = [Pair(0, "r0"), Pair(left=Old(1, [2]), right=None)]
    assert bounded_repr(value) == repr(value)
    assert short_repr(Pair(1, "x")) == "Pair(left=1, right='x')"
    wide = collections.namedtuple("Wide", [f"f{k}" for k in range(30)])(*range(30))
    shown = bounded_repr(wide)
    assert shown.startswith("Wide(f0=0, f1=1, ") and shown.endswith(", ...)")
    assert "f25" not in shown
    # seed 1027: a deque's bound was left out (reprlib's); Metaflow's dump prints it
    bounded = collections.deque([1, 2, 3], maxlen=5)
    assert bounded_repr(bounded) == "deque([1, 2, 3], maxlen=5)"
    assert bounded_repr(collections.deque([1])) == "deque([1])"
    assert bounded_repr(collections.deque(range(50), maxlen=60)).endswith(", ...], maxlen=60)")
    # seed 1031: an OrderedDict, a defaultdict, a Counter as their own repr prints them
    for value in (collections.OrderedDict([("z", 5), ("a", None)]), collections.OrderedDict(),
                  collections.defaultdict(list, {"k": [1]}), collections.defaultdict(None),
                  collections.Counter("abracadabra"), collections.Counter("zzyx"),
                  collections.Counter()):
        assert bounded_repr(value) == repr(value), value
    many = collections.Counter({f"k{n}": n for n in range(100)})
    assert bounded_repr(many).startswith("Counter({'k99': 99, 'k98': 98, ")
    assert bounded_repr(many).endswith(", ...})")
    deep = Pair(0, 0)
    for _ in range(40):
        deep = Pair(deep, 1)  # nested past the depth limit: bounded, not expanded
    assert len(bounded_repr(deep)) < 2000


CARD_PRIVATE = '''
from metaflow import FlowSpec, card, step


class CardPrivFlow(FlowSpec):

    @card
    @step
    def start(self):
        self._hidden8 = "zq_hidden_value"
        self.shown8 = "zq_shown_value"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardPrivFlow()
'''


def test_the_default_card_leaves_out_artifacts_whose_name_starts_with_underscore(
        tmp_path: Path, run_headwater):
    """Metaflow's default card lists a task's artifacts from the client's listing, without the
    names that start with ``_``; headwater's listed them."""
    (tmp_path / "cardpriv.py").write_text(CARD_PRIVATE)
    done = run_headwater("run", "cardpriv.py")
    assert done.returncode == 0, done.stdout + done.stderr
    got = run_headwater("card", "get", "cardpriv.py", "1/start/1", "page.html")
    assert got.returncode == 0, got.stdout + got.stderr
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert "shown8" in page and "zq_shown_value" in page
    assert "_hidden8" not in page and "zq_hidden_value" not in page
