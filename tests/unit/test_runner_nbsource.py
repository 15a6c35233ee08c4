"""The flow file NBRunner writes for a class defined in a notebook (simulated here).

A notebook cell is compiled under a made-up file name whose lines only ``linecache`` knows, into a
module without ``__file__``: exactly what IPython does, and what makes ``inspect.getsource`` of a
class fail there.
"""

from __future__ import annotations

import inspect
import linecache
import subprocess
import sys
import textwrap
import types

import pytest

from headwater.runner.nbsource import NotebookSourceError, flow_script, import_line

CELL_1 = """
import json as js
from math import sqrt
from headwater import FlowSpec, Parameter, step, current

SCALE = 10
NAMES = ("a", "b")
HANDLE = object()

def helper(x):
    return sqrt(x) * SCALE

class Base(FlowSpec):
    def shared(self):
        return js.dumps({"names": list(NAMES)})
"""

CELL_2 = """
class NotebookFlow(Base):
    alpha = Parameter("alpha", default=4)

    @step
    def start(self):
        self.value = helper(self.alpha)
        self.text = self.shared()
        self.next(self.end)

    @step
    def end(self):
        print(current.step_name, HANDLE if False else "ok")
"""


@pytest.fixture
def notebook():
    """A fake notebook module: two cells executed into one namespace, sources in linecache."""
    module = types.ModuleType("fake_notebook_main")
    sys.modules[module.__name__] = module
    for number, cell in enumerate((CELL_1, CELL_2)):
        filename = f"<fake-ipython-input-{number}>"
        source = textwrap.dedent(cell)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)
    yield module
    del sys.modules[module.__name__]
    for number in range(2):
        linecache.cache.pop(f"<fake-ipython-input-{number}>", None)


def test_inspect_alone_cannot_find_the_class(notebook):
    with pytest.raises((OSError, TypeError)):
        inspect.getsource(notebook.NotebookFlow)


def test_script_carries_what_the_class_needs(notebook):
    script = flow_script(notebook.NotebookFlow)
    compile(script, "generated.py", "exec")
    assert "import json as js" in script
    assert "from math import sqrt" in script
    assert "from headwater import FlowSpec" in script and "from headwater import current" in script
    assert "SCALE = 10" in script and "NAMES = ('a', 'b')" in script
    assert "# Not carried over (not importable, not a literal): HANDLE (object)" in script
    # Dependencies come before what uses them.
    assert script.index("def helper") < script.index("class NotebookFlow")
    assert script.index("class Base") < script.index("class NotebookFlow")
    assert script.rstrip().endswith("NotebookFlow()")


def test_the_script_is_a_valid_flow(notebook, tmp_path):
    path = tmp_path / "generated.py"
    path.write_text(flow_script(notebook.NotebookFlow))
    done = subprocess.run([sys.executable, str(path), "show"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "start" in done.stdout and "end" in done.stdout


def test_a_class_from_a_module_is_imported(tmp_path):
    from headwater.flow.flowspec import FlowSpec

    script = flow_script(FlowSpec)
    assert script.startswith("from headwater.flow.flowspec import FlowSpec")


def test_import_lines():
    import os.path

    from headwater import step

    assert import_line("osp", os.path, "m") == f"import {os.path.__name__} as osp"
    assert import_line("os", __import__("os"), "m") == "import os"
    assert import_line("step", step, "m") == "from headwater import step"
    assert import_line("jl", __import__("json").loads, "m") == "from json import loads as jl"
    assert import_line("x", object(), "m") is None


def test_a_class_without_source_is_a_clear_error():
    from headwater.flow.flowspec import FlowSpec

    made = type("MadeFlow", (FlowSpec,), {"__module__": "nowhere_at_all"})
    with pytest.raises(NotebookSourceError, match="MadeFlow"):
        flow_script(made)
