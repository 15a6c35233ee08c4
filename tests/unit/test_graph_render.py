"""render_text / render_dot / render_mermaid: what ``show`` and the picture exports print."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from headwater.flow.step import step
from headwater.graph import check_flow, render_dot, render_mermaid, render_text


class ShowFlow:
    """Train two models and keep the better one.

    Used by the render tests.
    """

    @step
    def start(self):
        """Load the data."""
        self.next(self.fit_a, self.fit_b)

    @step
    def fit_a(self):
        self.next(self.pick)

    @step
    def fit_b(self):
        """Fit model B.

        It is slower.
        """
        self.next(self.pick)

    @step
    def pick(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        """Done."""


def test_render_text_whole_output():
    assert render_text(check_flow(ShowFlow)) == (
        "ShowFlow\n"
        "    Train two models and keep the better one.\n"
        "\n"
        "    Used by the render tests.\n"
        "\n"
        "step start\n"
        "    Load the data.\n"
        "    => fit_a, fit_b\n"
        "\n"
        "step fit_a\n"
        "    => pick\n"
        "\n"
        "step fit_b\n"
        "    Fit model B.\n"
        "\n"
        "    It is slower.\n"
        "    => pick\n"
        "\n"
        "step pick (join)\n"
        "    => end\n"
        "\n"
        "step end\n"
        "    Done.\n"
    )


class Shapes:
    @step
    def start(self):
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next({"yes": self.gang, "no": self.end}, condition="choice")

    @step
    def gang(self):
        self.next(self.work, num_parallel=self.n)

    @step
    def work(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_render_text_transitions():
    text = render_text(check_flow(Shapes))
    assert text.startswith("Shapes\n\nstep start\n")
    assert "    => each (foreach over 'items')\n" in text
    assert "    => case 'yes': gang, case 'no': end (condition 'choice')\n" in text
    assert "    => work (num_parallel=self.n)\n" in text
    assert text.endswith("step end\n")
    assert text.index("step start") < text.index("step each") < text.index("step end")


def test_render_dot():
    dot = render_dot(check_flow(Shapes))
    assert dot.startswith('digraph "Shapes" {\n')
    assert dot.rstrip().endswith("}")
    assert '"start" [shape=oval];' in dot
    assert '"join" [shape=diamond];' not in dot  # a join that switches is drawn as a join
    assert '"join" [shape=invtrapezium];' in dot
    assert '"gang" [shape=trapezium];' in dot
    assert '"work" [shape=box];' in dot
    assert '"start" -> "each" [label="foreach items"];' in dot
    assert '"join" -> "gang" [label="yes"];' in dot
    assert '"join" -> "end" [label="no"];' in dot
    assert '"gang" -> "work" [label="num_parallel=self.n"];' in dot
    assert '"each" -> "join";' in dot


def test_render_dot_shapes_and_tooltips():
    dot = render_dot(check_flow(ShowFlow))
    assert '"start" [shape=oval, tooltip="Load the data."];' in dot
    assert '"pick" [shape=invtrapezium];' in dot
    assert '"end" [shape=oval, tooltip="Done."];' in dot
    assert '"start" -> "fit_a";' in dot


class Quoting:
    @step
    def start(self):
        """Say "hi"."""
        self.next({'a "quoted" case': self.end, 2: self.start}, condition="c")

    @step
    def end(self):
        pass


def test_quotes_are_escaped():
    graph = check_flow(Quoting)
    assert graph["start"].type == "start"
    dot = render_dot(graph)
    assert 'tooltip="Say \\"hi\\"."' in dot
    assert '"start" -> "end" [label="a \\"quoted\\" case"];' in dot
    assert '"start" -> "start" [label="2"];' in dot
    mermaid = render_mermaid(graph)
    assert 'step_start -->|"a #quot;quoted#quot; case"| step_end' in mermaid


def test_render_mermaid():
    mermaid = render_mermaid(check_flow(Shapes))
    lines = mermaid.splitlines()
    assert lines[0] == "flowchart TD"
    # ``end`` is a Mermaid keyword, hence the step_ prefix on every node id.
    assert '    step_start(["start"])' in lines
    assert '    step_end(["end"])' in lines
    assert '    step_join[\\"join"/]' in lines
    assert '    step_gang[/"gang"\\]' in lines
    assert '    step_work["work"]' in lines
    assert '    step_start -->|"foreach items"| step_each' in lines
    assert '    step_join -->|"yes"| step_gang' in lines
    assert "    step_each --> step_join" in lines


def test_switch_node_shapes():
    class Switchy:
        @step
        def start(self):
            self.next(self.decide)

        @step
        def decide(self):
            self.next({"x": self.end, "y": self.decide}, condition="c")

        @step
        def end(self):
            pass

    graph = check_flow(Switchy)
    assert '"decide" [shape=diamond];' in render_dot(graph)
    assert '    step_decide{"decide"}' in render_mermaid(graph).splitlines()
    assert "    => case 'x': end, case 'y': decide (condition 'c')" in render_text(graph)


def test_dot_output_is_accepted_by_graphviz():
    if shutil.which("dot") is None:
        pytest.fail("this test needs graphviz's `dot` on PATH (Debian/Ubuntu: apt-get install -y "
                    "graphviz; macOS: brew install graphviz); see the README's test section",
                    pytrace=False)
    for flow in (ShowFlow, Shapes, Quoting):
        proc = subprocess.run(["dot", "-Tsvg"], input=render_dot(check_flow(flow)).encode(),
                              capture_output=True)
        assert proc.returncode == 0, proc.stderr.decode()
