"""Flows whose first and last steps are not named start and end (``@step(start=True)``,
``@step(end=True)``, a flow of one step) run, resume and read back as Metaflow's do."""

from __future__ import annotations

from typing import Any

import pytest

from headwater import Flow, Runner

from .helpers import TRIPWIRE_MESSAGE, flow_path


@pytest.fixture(params=["cli", "runner"])
def launch(request, run_headwater, child_env, client):
    """Run a compat flow by the CLI or by Runner (COMPAT_FIXED set); returns the client Run."""

    def by_cli(flow: str, name: str) -> Any:
        done = run_headwater("run", flow_path(flow), extra_env={"COMPAT_FIXED": "1"})
        assert TRIPWIRE_MESSAGE not in done.stderr
        assert done.returncode == 0, done.stderr
        client()
        return Flow(name).latest_run

    def by_runner(flow: str, name: str) -> Any:
        env = {**child_env, "COMPAT_FIXED": "1"}
        with Runner(flow_path(flow), show_output=False, env=env) as runner:
            result = runner.run()
            assert result.returncode == 0, result.stderr
            return result.run

    return by_cli if request.param == "cli" else by_runner


def test_custom_named_flow_runs_and_reads_back(launch):
    run = launch("step_roles_flow.py", "CompatStepRolesFlow")
    assert run.successful and run.finished
    assert {step.id for step in run} == {"begin", "left", "right", "merge", "finish"}
    assert run._graph_endpoints == ("begin", "finish")
    assert run.end_task is not None and run.end_task.parent.id == "finish"
    assert run.data.x == 3 and run.data.vals == ["left", "right"]
    assert sorted(s.id for s in run["begin"].child_steps) == ["left", "right"]
    assert list(run["begin"].parent_steps) == []
    assert list(run["finish"].child_steps) == []


def test_parameters_pseudo_step_carries_graph_and_endpoints(launch):
    run = launch("step_roles_flow.py", "CompatStepRolesFlow")
    task = run["_parameters"].task
    assert task.metadata_dict["start_step"] == "begin"
    assert task.metadata_dict["end_step"] == "finish"
    info = task["_graph_info"].data
    assert (info["start_step"], info["end_step"]) == ("begin", "finish")
    assert info["steps"]["begin"]["node_info"] == {"label": "entry"}
    assert info["graph_structure"][0] == "begin" and info["graph_structure"][-1] == "finish"
    assert task["alpha"].data == 1
    assert "_parameters" not in {step.id for step in run}  # not a step of the run
    # As Metaflow 2.19.38's: the flow's name beside the parameters, _graph_info left out of
    # iteration, the run's facts in metadata_dict.
    names = [artifact.id for artifact in task]
    assert "name" in names and "alpha" in names and "_graph_info" not in names
    assert task.data.name == "CompatStepRolesFlow"
    assert task.metadata_dict["runtime"] == "dev"
    assert task.metadata_dict["script-name"] == "step_roles_flow.py"
    assert task.metadata_dict["metaflow_version"] == "2.19.0+headwater"


def test_single_step_flow_is_its_own_start_and_end(launch):
    run = launch("single_step_flow.py", "CompatSingleStepFlow")
    assert run.successful
    assert {step.id for step in run} == {"only"}
    assert run._graph_endpoints == ("only", "only")
    assert run.end_task["x"].data == 42
    info = run["_parameters"].task["_graph_info"].data
    assert info["graph_structure"] == ["only"]
    assert info["steps"]["only"]["type"] == "end"


def test_resume_of_a_custom_named_flow_clones_its_first_step(child_env, client):
    with Runner(flow_path("step_roles_flow.py"), show_output=False, env=child_env) as runner:
        first = runner.run()
        assert first.status == "failed"
        assert first.run.end_task is None
    fixed = {**child_env, "COMPAT_FIXED": "1"}
    with Runner(flow_path("step_roles_flow.py"), show_output=False, env=fixed) as runner:
        second = runner.resume(origin_run_id=first.run.id)
        assert second.status == "successful", second.stderr
    run = second.run
    assert run.origin_run_id == first.run.id
    assert run["begin"].task.origin_pathspec is not None  # cloned, not run again
    assert run["left"].task.origin_pathspec is None
    assert run._graph_endpoints == ("begin", "finish")
    assert run.end_task.data.x == 3
    assert run["_parameters"].task["_graph_info"].data["start_step"] == "begin"


def test_trigger_from_runs_names_the_custom_end_step(launch):
    from headwater.compat.events_names import Trigger  # metaflow.events

    run = launch("step_roles_flow.py", "CompatStepRolesFlow")
    trigger = Trigger.from_runs([run])
    assert [e.name for e in trigger.events] == ["metaflow.CompatStepRolesFlow.finish",
                                                "metaflow.CompatStepRolesFlow.end"]
    assert trigger.event.id == run.end_task.pathspec
    assert trigger.run.pathspec == run.pathspec


def test_the_default_card_json_draws_the_dag_from_the_marked_steps(launch):
    import json

    from headwater.compat.card_basic import DefaultCardJSON, transform_flow_graph

    run = launch("step_roles_flow.py", "CompatStepRolesFlow")
    graph = run["_parameters"].task["_graph_info"].data
    document = json.loads(DefaultCardJSON(graph=graph).render(run["begin"].task))
    dags = [c for s in document["components"] for c in s["contents"] if c["type"] == "dag"]
    assert len(dags) == 1
    dag = dags[0]["data"]
    assert (dag["start_step"], dag["end_step"]) == ("begin", "finish")
    assert set(dag["steps"]) == {"begin", "left", "right", "merge", "finish"}
    assert dag["steps"]["begin"]["type"] == "split" and dag["steps"]["begin"]["box_ends"] == "merge"
    legacy = transform_flow_graph({"start": {"type": "start", "next": ["end"], "doc": ""},
                                   "end": {"type": "end", "next": [], "doc": ""}})
    assert (legacy["start_step"], legacy["end_step"]) == ("start", "end")
