"""Where a Runner's child writes, and which flow a run id belongs to."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass

from headwater.runner.locate import child_settings, find_run, flow_class_candidates


def test_child_settings_follow_the_childs_cwd_and_env(tmp_path):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / ".headwater").mkdir()
    assert child_settings({}, {}, str(work / "sub")).datastore_root == str(work / ".headwater")
    explicit = child_settings({"datastore_root": "store"}, {}, str(work))
    assert explicit.datastore_root == str(work / "store")
    assert explicit.metadata_url == os.path.join(str(work / "store"), "meta.sqlite")
    by_env = child_settings({}, {"HEADWATER_DATASTORE_ROOT": "envroot"}, str(work))
    assert by_env.datastore_root == str(work / "envroot")
    metaflow_env = child_settings({}, {"METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp_path)},
                                  str(work))
    assert metaflow_env.datastore_root == str(tmp_path / ".headwater")
    db = child_settings({"metadata": "m.sqlite"}, {}, str(work))
    assert db.metadata_url == str(work / "m.sqlite")


def test_flow_class_candidates(tmp_path):
    path = tmp_path / "flow.py"
    path.write_text(textwrap.dedent('''
        from headwater import FlowSpec, step

        class Helper:
            pass

        class BaseFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        class RealFlow(BaseFlow):
            @step
            def start(self):
                self.next(self.end)

        if __name__ == "__main__":
            RealFlow()
    '''))
    assert flow_class_candidates(str(path)) == ["RealFlow", "Helper", "BaseFlow"]
    path.write_text(path.read_text().replace("RealFlow()", "pass"))
    assert flow_class_candidates(str(path))[0] == "RealFlow"


@dataclass
class Row:
    flow: str
    pid: int | None


class FakeMeta:
    def __init__(self, rows: dict[tuple[str, str], Row]) -> None:
        self.rows = rows
        self.asked: list[str] = []

    def get_run(self, flow: str, run_id: str) -> Row | None:
        self.asked.append(flow)
        return self.rows.get((flow, run_id))

    def list_flows(self) -> list[str]:
        return sorted({flow for flow, _ in self.rows})


def test_find_run_confirms_by_pid_and_falls_back_to_every_flow():
    meta = FakeMeta({("A", "1"): Row("A", 10), ("B", "1"): Row("B", 20)})
    assert find_run(meta, ["A", "B"], "1", 20).flow == "B"
    assert find_run(meta, ["Missing"], "1", 10).flow == "A"
    assert find_run(meta, ["A"], "1", 99) is None
    assert meta.asked.count("A") == 3  # each flow asked once per search
