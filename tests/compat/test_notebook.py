"""NBRunner in a real Jupyter kernel: a flow defined in notebook cells, run, then read back.

The notebook is built with nbformat and executed by nbclient in a fresh ipykernel, as a user's
notebook would be; the assertions read the cells' outputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import ipykernel  # noqa: F401 - the kernel the notebook runs in
import nbclient
import nbformat
import pytest

pytestmark = [
    # jupyter_client and friends warn about their own deprecations; not ours to fix.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

CELLS = [
    # 1: imports and notebook-level helpers, as a user writes them.
    """
import math
from headwater import FlowSpec, Parameter, step, NBRunner, Flow

OFFSET = 100

def boost(x):
    return int(math.sqrt(x * x)) + OFFSET
""",
    # 2: the flow, and the run, in one cell (Metaflow's documented NBRunner pattern).
    """
class NotebookFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.items = list(range(self.alpha))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.sq = self.input ** 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = boost(sum(i.sq for i in inputs))
        self.next(self.end)

    @step
    def end(self):
        print("total is", self.total)

run = NBRunner(NotebookFlow, show_output=False).nbrun(alpha=3)
print("RUN", run.pathspec, run.successful)
""",
    # 3: read it back with the client, as the next cell of a notebook would.
    """
latest = Flow("NotebookFlow").latest_run
print("DATA", latest.data.total, latest.data.alpha, latest.id == run.id)
""",
    # 4: a second run, resumed, and the async API awaited at the top level.
    """
runner = NBRunner(NotebookFlow, show_output=False)
resumed = runner.nbresume(step="join")
running = await runner.async_run(alpha=4)
await running.wait()
print("MORE", resumed.origin_run_id, resumed.data.total, running.status, running.run.data.total)
runner.cleanup()
""",
]


def _text_of(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif output.get("output_type") == "error":
            parts.append("\n".join(output.get("traceback", [])))
    return "".join(parts)


def test_nbrun_in_a_real_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source.strip()) for source in CELLS]
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [_text_of(cell) for cell in notebook.cells]
    assert "RUN NotebookFlow/1 True" in outputs[1], outputs[1]
    # 0 + 1 + 4 = 5 squared items, boosted by the notebook's helper and constant.
    assert "DATA 105 3 True" in outputs[2], outputs[2]
    assert "MORE 1 105 successful 114" in outputs[3], outputs[3]
    # The run landed beside the notebook, where its own client looked.
    assert (tmp_path / ".headwater" / "meta.sqlite").is_file()
    assert not any(name.endswith("_nbflow.py") for name in os.listdir(tmp_path))
