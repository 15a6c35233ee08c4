"""What the second differential round (tools/differential.py, seeds from 200) compared with a
real Metaflow 2.19.38, pinned on headwater: parameters of every kind, a Config from a JSON file,
an IncludeFile, ``@environment`` from ``config_expr``, a conditional inside a foreach body, and
the two kept differences it found (docs/decisions.md, "Differential testing, second round").
"""

from __future__ import annotations

import json
from pathlib import Path

from headwater import Flow

ROUND_TWO = '''
import os

from metaflow import (Config, FlowSpec, IncludeFile, JSONType, Parameter, config_expr,
                      environment, step)


class RoundTwoFlow(FlowSpec):
    ratio = Parameter("ratio", default=0.5, type=float)
    loud = Parameter("loud", default=False, type=bool)
    shape = Parameter("shape", default='{"a": [1, 2]}', type=JSONType)
    names = Parameter("names", default="p,q", separator=",")
    made = Parameter("made", default=lambda ctx: "%s/%s" % (ctx.flow_name, ctx.parameter_name))
    count = Parameter("count", default=config_expr("conf.x"), type=int)
    notes = IncludeFile("notes", default="notes.txt")
    conf = Config("conf", default="conf.json")

    @step
    def start(self):
        self.seen = [self.ratio, self.loud, self.shape, list(self.names), self.made, self.count,
                     self.notes, self.conf.nested.l]
        self.doomed = "inherited"
        self.letters = "abc"
        self.next(self.body, foreach="letters")

    @environment(vars=config_expr("conf.envs"))
    @step
    def body(self):
        self.item = self.input
        self.env = os.environ.get("FROM_CONF")
        self.route = "odd" if self.index % 2 else "even"
        if hasattr(self, "doomed"):
            del self.doomed
        self.next({"odd": self.odd, "even": self.even}, condition="route")

    @step
    def odd(self):
        self.arm = "odd"
        self.next(self.join)

    @step
    def even(self):
        self.arm = "even"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.arms = [(inp.item, inp.arm, inp.env) for inp in inputs]
        self.doomed_after = [hasattr(inp, "doomed") for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RoundTwoFlow()
'''


def _write(tmp_path: Path) -> str:
    (tmp_path / "round2.py").write_text(ROUND_TWO)
    (tmp_path / "conf.json").write_text(json.dumps(
        {"x": 4, "envs": {"FROM_CONF": "yes"}, "nested": {"l": [1, 2.5, None]}}))
    (tmp_path / "notes.txt").write_text("two\nlines")
    return "round2.py"


def test_parameters_config_and_includefile_read_as_metaflow_reads_them(tmp_path, run_headwater,
                                                                       client):
    done = run_headwater("run", _write(tmp_path), "--loud", "True", "--names", "x,y,,z",
                         "--ratio", "2.25")
    assert done.returncode == 0, done.stderr
    client()
    run = Flow("RoundTwoFlow").latest_run
    # Metaflow 2.19.38 stored exactly this for the same command line
    assert run["start"].task.data.seen == [
        2.25, True, {"a": [1, 2]}, ["x", "y", "", "z"], "RoundTwoFlow/made", 4, "two\nlines",
        [1, 2.5, None]]


def test_a_switch_in_a_foreach_body_joins_in_item_order_and_del_drops_inherited(
        tmp_path, run_headwater, client):
    done = run_headwater("run", _write(tmp_path), "--max-workers", "1")
    assert done.returncode == 0, done.stderr
    client()
    join = Flow("RoundTwoFlow").latest_run["join"].task.data
    # Metaflow gives the same three, grouped by arm in the order of a set of step names;
    # headwater keeps the items' order (a kept difference)
    assert join.arms == [("a", "even", "yes"), ("b", "odd", "yes"), ("c", "even", "yes")]
    # Metaflow's next task gets ``doomed`` back from the parent's record; on headwater the
    # ``del`` holds (a kept difference)
    assert join.doomed_after == [False, False, False]
