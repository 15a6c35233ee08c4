"""``metaflow.decorators._attach_decorators_to_step``: Metaflow's private helper, which plug-ins
call to put decorators on a step (a card, ``kubernetes`` before setting its image, ``pypi``).

The run: ``flows/attach_flow.py`` attaches, at import, ``@retry(times=2)`` and a user step
decorator (by name) to a step, a ``@retry`` to a step that has one written (left out), and two
``@card``s (which allow several) to ``end``. Checked side by side with Metaflow 2.19.38: the
same attempts, the same artifacts (Metaflow lists each attached card twice, a quirk of its
own; headwater two cards). A ``metaflow_extensions`` plug-in whose ``step_init`` puts a card on
its step (valayDave/real-time-card-experiment's ``@dynamic_card`` does): one card, as with
Metaflow, since ``step_init`` now runs at launch too. Then the helper alone, on a step function
and on a graph node.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from headwater.exceptions import FlowDefinitionError

from .helpers import flow_path, shim_folder

ATTACH_FLOW = flow_path("attach_flow.py")


def test_decorators_attached_at_import_act_on_the_run(run_headwater, client):
    done = run_headwater("run", ATTACH_FLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow
    from headwater.cards import get_cards

    run = Flow("AttachFlow").latest_run
    flaky = run["flaky"].task
    assert (flaky.data.attempt, flaky.current_attempt) == (2, 2)  # the attached @retry(times=2)
    assert flaky.data.stamped == "flaky"  # the user step decorator, attached by its name
    assert run["start"].task.data.start_attempt == 1  # its own @retry(times=1), not times=0
    assert sorted(card.id for card in get_cards(run["end"].task)) == ["one", "two"]


def test_the_shim_package_serves_it_to_python_flow_py(tmp_path):
    """``python flow.py`` with ``headwater shim``'s package on the path: ``import *`` leaves a
    private name out, so the shim's file imports it by name."""
    env = {**os.environ, "PYTHONPATH": shim_folder(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "from metaflow.decorators import "
                           "_attach_decorators_to_step as a; print(a.__module__)"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "headwater.compat.decorator_names", done.stderr


EXTENSION = {
    "autocard/plugins/mfextinit_autocard.py":
        'STEP_DECORATORS_DESC = [("auto_card", ".auto_card.AutoCard")]\n',
    "autocard/plugins/auto_card.py": textwrap.dedent("""
        from metaflow.decorators import StepDecorator


        class AutoCard(StepDecorator):
            # Decides once per process whether to attach its card (the first call looks at
            # the step), then attaches on every call: right when step_init runs once per
            # process, as Metaflow calls it.

            name = "auto_card"
            defaults = {"label": "x"}
            _decided = {}

            def step_init(self, flow, graph, step_name, decorators, environment,
                          flow_datastore, logger):
                from metaflow import decorators as mf_decorators

                wanted = "auto_" + self.attributes["label"]
                node = next(s for s in flow if s.name == step_name)
                if step_name not in self._decided:
                    self._decided[step_name] = not any(
                        d.name == "card" and d.attributes.get("id") == wanted
                        for d in node.decorators)
                if self._decided[step_name]:
                    mf_decorators._attach_decorators_to_step(
                        node, ["card:type=blank,id=" + wanted])
    """),
}

AUTO_FLOW = textwrap.dedent("""
    from metaflow import FlowSpec, auto_card, step


    class AutoCardFlow(FlowSpec):
        @auto_card(label="first")
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        AutoCardFlow()
""")


@pytest.mark.parametrize("executor", ["local", "spawn"])
def test_a_plug_in_s_step_init_attaches_a_card_that_the_run_renders(tmp_path, client,
                                                                      executor):
    """At launch, then once in each task process: a task forked from the launching process
    (local) inherits the launch's call, a new interpreter (spawn) makes its own."""
    for relative, text in EXTENSION.items():
        path = tmp_path / "ext" / "metaflow_extensions" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "auto_flow.py").write_text(AUTO_FLOW)
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join((shim_folder(tmp_path), str(tmp_path / "ext")))}
    done = subprocess.run([sys.executable, "auto_flow.py", "--executor", executor, "run"],
                          cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow
    from headwater.cards import get_cards

    run = Flow("AutoCardFlow").latest_run
    assert [card.id for card in get_cards(run["start"].task)] == ["auto_first"]


MODULE = textwrap.dedent("""
    from headwater import FlowSpec, retry, step


    class SmallFlow(FlowSpec):
        @retry(times=1)
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
""")


@pytest.fixture
def small_flow(tmp_path):
    path = tmp_path / "small_flow.py"
    path.write_text(MODULE)
    spec = importlib.util.spec_from_file_location("small_flow_attach", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module.SmallFlow
    del sys.modules[spec.name]


def names(func) -> list[str]:
    return [deco.name for deco in func._hw_decorators]


def test_a_decorator_the_step_has_is_kept_and_one_that_allows_several_is_added(small_flow):
    from headwater.compat.decorator_names import _attach_decorators_to_step

    _attach_decorators_to_step(small_flow.start, ["retry:times=4", "timeout:seconds=30"])
    _attach_decorators_to_step(small_flow.start, ["card:id=a", "card:id=b", "timeout:seconds=5"])
    assert names(small_flow.start) == ["retry", "timeout", "card", "card"]
    retry, timeout = small_flow.start._hw_decorators[:2]
    assert retry.attributes["times"] == 1 and timeout.attributes["seconds"] == 30
    assert names(small_flow.end) == []


def test_a_graph_node_takes_decorators_a_plug_in_then_configures(small_flow):
    """The plug-in's shape: attach ``kubernetes`` to the step, then set its image through the
    step's ``decorators``."""
    from headwater.compat.decorator_names import _attach_decorators_to_step
    from headwater.graph.metaflow_view import flow_graph

    node = flow_graph(small_flow)["end"]
    _attach_decorators_to_step(node, ["kubernetes"])
    for deco in node.decorators:
        if deco.name == "kubernetes":
            deco.attributes["image"] = "team/flows:2"
    assert [(d.name, d.attributes["image"]) for d in small_flow.end._hw_decorators] == [
        ("kubernetes", "team/flows:2")]


def test_an_unknown_decorator_or_a_non_step_is_refused_by_name(small_flow):
    from headwater.compat.decorator_names import _attach_decorators_to_step

    with pytest.raises(FlowDefinitionError, match="'retyr'") as caught:
        _attach_decorators_to_step(small_flow.end, ["retyr:times=2"])
    assert "step 'end'" in str(caught.value)
    with pytest.raises(FlowDefinitionError, match="not a step"):
        _attach_decorators_to_step(len, ["retry"])
