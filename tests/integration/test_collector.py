"""The cyclic garbage collector is paused only while headwater loads (see
headwater.runtime.collector): a flow's steps, its module and any program importing headwater
find it as they left it, and what it keeps alive is still collected in a task."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from headwater import Flow, namespace

from .flowrun import hermetic_env, run_cli

FLOW = textwrap.dedent("""
    import gc

    from headwater import FlowSpec, step

    AT_IMPORT = gc.isenabled()  # the flow's own module is imported with it on


    class CollectorFlow(FlowSpec):
        @step
        def start(self):
            self.at_import = AT_IMPORT
            self.in_start = gc.isenabled()
            self.items = [1, 2]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.in_work = gc.isenabled()
            # a cycle that only the collector can free: it is freed in a task too
            cycle = []
            cycle.append(cycle)
            del cycle
            self.freed = gc.collect() >= 1
            self.next(self.join)

        @step
        def join(self, inputs):
            self.in_work = all(i.in_work for i in inputs)
            self.freed = all(i.freed for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            self.in_end = gc.isenabled()


    if __name__ == "__main__":
        CollectorFlow()
""")


def test_steps_and_the_flow_module_run_with_the_collector_on(tmp_path: Path) -> None:
    flow = tmp_path / "collector_flow.py"
    flow.write_text(FLOW)
    proc = run_cli(flow, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    namespace(None)
    from headwater.client import metadata

    metadata(str(tmp_path / ".headwater"))
    run = Flow("CollectorFlow").latest_run
    assert run.successful
    assert run["start"].task.data.at_import is True
    assert run["start"].task.data.in_start is True
    assert run["join"].task.data.in_work is True
    assert run["join"].task.data.freed is True
    assert run["end"].task.data.in_end is True


def test_importing_headwater_leaves_the_collector_as_it_was() -> None:
    code = textwrap.dedent("""
        import gc
        import sys
        enabled = sys.argv[1] == "on"
        if not enabled:
            gc.disable()
        import headwater  # noqa: F401
        assert gc.isenabled() is enabled, gc.isenabled()
        # nothing the program made before the import was frozen out of the collector's reach
        assert gc.get_freeze_count() == 0, gc.get_freeze_count()
    """)
    for state in ("on", "off"):
        subprocess.run([sys.executable, "-c", code, state], env=hermetic_env(), check=True)
