"""What the fifth differential round (tools/differential.py, seeds from 353: include merges,
stacked @retry/@catch/@timeout, current's facts, the client's filters) found comparing with a
real Metaflow 2.19.38, pinned on headwater (docs/decisions.md, "Differential testing, fifth
round").
"""

from __future__ import annotations

from pathlib import Path

DICTS = '''
from metaflow import Config, FlowSpec, step


class DictFlow(FlowSpec):
    conf = Config("conf", default_value={"x": 6, "name": "cfg", "envs": {"ZED": "z", "ALF": "a"}})

    @step
    def start(self):
        self.ordered = {"zulu": 1, "alpha": {"yankee": 2, "bravo": 3}}
        self.seen = self.conf
        self.deep = {"nested": {"t": (1, (2, [3, {"four": 4}]))}}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DictFlow()
'''


def test_dump_prints_a_dict_and_a_config_in_their_own_order(tmp_path: Path, run_headwater):
    """``dump`` printed a dict's keys sorted (``{'alpha': ..., 'zulu': 1}``), a Config's value
    as ``ConfigValue({...})``, sorted too, and a small value nested four levels deep with
    ``(...)`` inside; Metaflow, like ``repr``, prints each whole, as the dict it is, keys in the
    order they were set."""
    (tmp_path / "dicts.py").write_text(DICTS)
    done = run_headwater("run", "dicts.py")
    assert done.returncode == 0, done.stderr
    dumped = run_headwater("dump", "dicts.py", "1/start")
    assert dumped.returncode == 0, dumped.stderr
    text = dumped.stdout
    assert "{'zulu': 1, 'alpha': {'yankee': 2, 'bravo': 3}}" in text, text
    assert "{'x': 6, 'name': 'cfg', 'envs': {'ZED': 'z', 'ALF': 'a'}}" in text, text
    assert "ConfigValue(" not in text, text
    assert "{'nested': {'t': (1, (2, [3, {'four': 4}]))}}" in text, text


PARALLEL = '''
from metaflow import FlowSpec, current, parallel, step


class NodesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.node, num_parallel=3)

    @parallel
    @step
    def node(self):
        self.seen = [current.parallel.node_index, current.task_id,
                     current.parallel.control_task_id]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = sorted(inp.seen for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NodesFlow()
'''


def test_every_parallel_node_names_node_zero_as_its_control_task(tmp_path: Path, run_headwater,
                                                                 client):
    """Metaflow's local ``num_parallel`` gives every node ``current.parallel.control_task_id``,
    node 0's task id (its control task); headwater's said None."""
    (tmp_path / "nodes.py").write_text(PARALLEL)
    done = run_headwater("run", "nodes.py")
    assert done.returncode == 0, done.stderr
    client()
    from headwater import Flow

    seen = Flow("NodesFlow").latest_run["join"].task.data.seen
    assert [index for index, _, _ in seen] == [0, 1, 2]
    node_zero = seen[0][1]
    assert all(control == node_zero for _, _, control in seen), seen
    assert len({task for _, task, _ in seen}) == 3


def test_card_list_of_a_run_without_cards_is_an_error(tmp_path: Path, run_headwater):
    """Metaflow's ``card list`` exits 1 when nothing matches (a run whose carded step did not
    run, an ``--id`` no card has), in text and ``--as-json`` alike; headwater said so and
    exited 0, so a script saw an empty listing as a success."""
    (tmp_path / "nodes.py").write_text(PARALLEL)
    assert run_headwater("run", "nodes.py").returncode == 0
    for args in ((), ("--as-json",), ("1/start/1",)):
        listed = run_headwater("card", "nodes.py", "list", *args)
        assert listed.returncode == 1, (args, listed.stdout, listed.stderr)
        assert "no cards for NodesFlow/1" in listed.stderr and "@card" in listed.stderr
    (tmp_path / "dicts.py").write_text(DICTS.replace("    @step\n    def start",
                                                     "    @card\n    @step\n    def start")
                                       .replace("import Config,", "import Config, card,"))
    assert run_headwater("run", "dicts.py").returncode == 0
    assert run_headwater("card", "dicts.py", "list").returncode == 0
    missing = run_headwater("card", "dicts.py", "list", "--id", "nope")
    assert missing.returncode == 1 and "--id nope" in missing.stderr, missing.stderr
