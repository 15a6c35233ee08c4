"""A malformed graph is refused before anything runs, from ``run`` and ``check`` alike.

Each case is a small flow file written into the test's folder. The line the error must point at is
marked in the source with ``# HERE`` (``# CLASS`` for errors about the flow as a whole).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from .flowrun import example, line_of, run_cli, run_count

HEAD = "from headwater import FlowSpec, step\n\n\nclass BadFlow(FlowSpec):  # CLASS\n"
TAIL = "\n\nif __name__ == '__main__':\n    BadFlow()\n"

# name -> (step the error names, marker of its line, words the message must contain, body)
CASES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "no_start": ("start", "# CLASS", ("no 'start' step",), '''
        @step
        def begin(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
    "no_end": ("end", "# CLASS", ("no 'end' step",), '''
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):
            self.next(self.end)
    '''),
    "next_to_missing_step": ("start", "# HERE", ("trian", "did you mean self.train"), '''
        @step
        def start(self):
            self.next(self.trian)  # HERE

        @step
        def train(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
    "next_to_plain_method": ("start", "# HERE", ("helper", "not a step"), '''
        def helper(self):
            return 1

        @step
        def start(self):
            self.next(self.helper)  # HERE

        @step
        def end(self):
            pass
    '''),
    "step_without_next": ("a", "# HERE", ("never calls self.next",), '''
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):  # HERE
            self.x = 1

        @step
        def end(self):
            pass
    '''),
    "end_calls_next": ("end", "# HERE", ("must not call self.next",), '''
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            self.next(self.start)  # HERE
    '''),
    "unreachable_step": ("orphan", "# HERE", ("not reachable",), '''
        @step
        def start(self):
            self.next(self.end)

        @step
        def orphan(self):  # HERE
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
    "branches_never_joined": ("a", "# HERE", ("never joined", "'start'"), '''
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.end)  # HERE

        @step
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
    "foreach_never_joined": ("each", "# HERE", ("foreach", "never joined"), '''
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.next(self.end)  # HERE

        @step
        def end(self):
            pass
    '''),
    "join_without_inputs": ("join", "# HERE", ("inputs",), '''
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self):  # HERE
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
    "inputs_without_join": ("a", "# HERE", ("inputs", "nothing to join"), '''
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self, inputs):  # HERE
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
    "join_of_different_splits": ("mixed", "# HERE", ("different splits",), '''
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.c, self.d)

        @step
        def b(self):
            self.next(self.mixed)

        @step
        def c(self):
            self.next(self.mixed)

        @step
        def d(self):
            self.next(self.inner)

        @step
        def mixed(self, inputs):  # HERE
            self.next(self.inner)

        @step
        def inner(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
    "foreach_not_a_literal": ("start", "# HERE", ("foreach", "string literal"), '''
        @step
        def start(self):
            name = "items"
            self.items = [1, 2]
            self.next(self.each, foreach=name)  # HERE

        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
    "two_next_calls": ("start", "# HERE", ("more than once",), '''
        @step
        def start(self):
            self.next(self.a)
            self.next(self.end)  # HERE

        @step
        def a(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    '''),
}


def write_case(folder: Path, name: str) -> Path:
    body = textwrap.indent(textwrap.dedent(CASES[name][3]).strip("\n"), "    ")
    path = folder / f"{name}.py"
    path.write_text(HEAD + body + "\n" + TAIL)
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_graph_is_refused_by_run_and_check(tmp_path, name):
    step, marker, phrases, _ = CASES[name]
    path = write_case(tmp_path, name)
    where = f"{path}:{line_of(path, marker)}:"

    ran = run_cli(path, "run", cwd=tmp_path)
    assert ran.returncode != 0
    assert "Invalid flow graph" in ran.stderr
    assert where in ran.stderr, ran.stderr
    assert f"'{step}'" in ran.stderr, ran.stderr
    for phrase in phrases:
        assert phrase in ran.stderr, ran.stderr
    assert "fix:" in ran.stderr
    assert "Traceback" not in ran.stderr
    # nothing ran, nothing was recorded
    assert "Task is starting" not in ran.stdout + ran.stderr
    assert "Workflow starting" not in ran.stdout
    assert run_count(tmp_path / ".headwater") == 0

    checked = run_cli(path, "check", cwd=tmp_path)
    assert checked.returncode != 0
    assert checked.stderr == ran.stderr
    assert "looks good" not in checked.stdout
    assert run_count(tmp_path / ".headwater") == 0


def test_check_accepts_a_good_flow(tmp_path):
    proc = run_cli(example("merge_artifacts_flow.py"), "check", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "The graph looks good!" in proc.stdout
    assert proc.stderr == ""
    assert not (tmp_path / ".headwater").exists()  # check runs nothing and records nothing


def _blocks(text: str) -> dict[str, list[str]]:
    """``show`` output split into ``step NAME`` blocks (name -> the block's indented lines)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = re.match(r"^step (\w+)", line)
        if match:
            current = blocks.setdefault(match[1], [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return blocks


def test_show_prints_docstrings_and_transitions(tmp_path):
    proc = run_cli(example("branch_flow.py"), "show", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "BranchFlow"
    assert "Split into two branches that each compute a value, then join them." in proc.stdout
    blocks = _blocks(proc.stdout)
    assert list(blocks) == ["start", "a", "b", "join", "end"]
    assert blocks["start"] == ["=> a, b"]
    assert blocks["a"] == ["First branch.", "=> join"]
    assert blocks["b"] == ["Second branch.", "=> join"]
    assert blocks["join"][-1] == "=> end"
    assert "Read each branch's x by step name, and iterate over all inputs." in blocks["join"]
    assert blocks["end"] == []


def test_show_names_foreach_and_switch(tmp_path):
    foreach = run_cli(example("foreach_flow.py"), "show", cwd=tmp_path)
    assert foreach.returncode == 0, foreach.stderr
    start = _blocks(foreach.stdout)["start"]
    assert any("make_title" in line and "'creatures'" in line for line in start), start

    switch = run_cli(example("conditional_flow.py"), "show", cwd=tmp_path)
    assert switch.returncode == 0, switch.stderr
    start = " ".join(_blocks(switch.stdout)["start"])
    for word in ("approve", "reject", "'decision'"):
        assert word in start


@pytest.mark.parametrize(("command", "opening"), [
    ("output-dot", "digraph"),
    ("output-mermaid", "flowchart"),
])
def test_graph_outputs_name_every_step_and_edge(tmp_path, command, opening):
    proc = run_cli(example("branch_flow.py"), command, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.lstrip().startswith(opening)
    for name in ("start", "a", "b", "join", "end"):
        assert re.search(rf"\b{name}\b", text), name
    arrow = "->" if command == "output-dot" else "-->"
    edges = [line for line in text.splitlines() if arrow in line]
    assert len(edges) == 5  # start->a, start->b, a->join, b->join, join->end


@pytest.mark.parametrize("command", ["show", "output-dot", "output-mermaid"])
def test_graph_commands_draw_a_malformed_graph_after_a_warning(tmp_path, command):
    # As Metaflow's show: drawn, exit 0; headwater warns first with the step's file:line.
    path = write_case(tmp_path, "unreachable_step")
    proc = run_cli(path, command, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "is invalid; `check` and `run` refuse it. Drawn as written:" in proc.stderr
    assert f"{path}:{line_of(path, '# HERE')}:" in proc.stderr
    assert "start" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert run_cli(path, "check", cwd=tmp_path).returncode == 1
