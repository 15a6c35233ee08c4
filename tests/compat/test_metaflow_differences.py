"""Behaviours that once differed from Metaflow 2.19.38 and now match it, each run on a real flow.

Each test names what Metaflow does (checked side by side with a real Metaflow, see
docs/decisions.md) and asserts that headwater does the same, with its own, clearer message.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from headwater import Flow, Runner
from headwater.runner import RunnerArgumentTypeError, RunnerArgumentValueError, RunNotStartedError

CARD_AND_CATCH = '''
from metaflow import FlowSpec, card, catch, current, step


class CardCatchFlow(FlowSpec):
    @card
    @step
    def start(self):
        current.card.append("on the card step")
        self.next(self.plain)

    @step
    def plain(self):
        self.has_card = hasattr(current, "card")
        try:
            current.card
        except AttributeError as err:
            self.card_error = str(err)
        self.next(self.boom)

    @catch(var="err")
    @step
    def boom(self):
        self.before = 1
        raise ValueError("kaboom")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardCatchFlow()
'''

END_CAUGHT = '''
import os

from metaflow import FlowSpec, catch, step


class EndCaughtFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @catch(var="oops")
    @step
    def end(self):
        if os.environ.get("FAIL_END"):
            raise RuntimeError("end fails")


if __name__ == "__main__":
    EndCaughtFlow()
'''

TYPED = '''
from metaflow import FlowSpec, JSONType, Parameter, step


class TypedFlow(FlowSpec):
    n = Parameter("n", type=int, default=3)
    lr = Parameter("lr", type=float, default=0.5)
    label = Parameter("label", type=str, default="x")
    flag = Parameter("flag", type=bool, default=False)
    cfg = Parameter("cfg", type=JSONType, default="{}")
    req = Parameter("req", type=int, required=True)

    @step
    def start(self):
        self.seen = (self.n, self.lr, self.label, self.flag, self.cfg, self.req)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TypedFlow()
'''

BROKEN_GRAPHS = {
    "no_next.py": ('''
from metaflow import FlowSpec, step


class NoNextFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NoNextFlow()
''', "step 'start' never calls self.next"),
    "typo.py": ('''
from metaflow import FlowSpec, step


class TypoFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.ned)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TypoFlow()
''', "no step named 'ned'; did you mean self.end?"),
    "join_without_inputs.py": ('''
from metaflow import FlowSpec, step


class JoinWithoutInputsFlow(FlowSpec):
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
    def join(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinWithoutInputsFlow()
''', "it needs an inputs argument"),
}

RESERVED_PARAMETER = '''
from metaflow import FlowSpec, Parameter, step


class ReservedFlow(FlowSpec):
    what = Parameter("tag", default="x")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReservedFlow()
'''


def write(folder: Path, name: str, source: str) -> str:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def _runs(folder: Path, flow_name: str) -> list:
    """The runs of ``flow_name`` recorded in ``folder``'s datastore (none if it has none)."""
    from headwater import metadata, namespace
    from headwater.exceptions import NotFoundError

    metadata(str(folder / ".headwater"))
    namespace(None)
    try:
        return list(Flow(flow_name))
    except NotFoundError:
        return []


@pytest.fixture
def card_catch_run(tmp_path, run_headwater, client):
    done = run_headwater("run", write(tmp_path, "card_catch.py", CARD_AND_CATCH))
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    return Flow("CardCatchFlow").latest_run


def test_an_empty_tag_exits_1_as_metaflows_tagging_error(tmp_path, run_headwater):
    flow = write(tmp_path, "card_catch.py", CARD_AND_CATCH)
    done = run_headwater("run", flow, "--tag", "")
    assert done.returncode == 1, done.stderr  # Metaflow: "Tagging error: Tags must not be empty"
    assert "Invalid tag operation" in done.stderr
    assert "a tag must be a non-empty string, not '' (given to --tag of" in done.stderr
    assert "fix: give each --tag a non-empty value" in done.stderr
    assert "Traceback" not in done.stderr
    assert _runs(tmp_path, "CardCatchFlow") == []  # nothing was started or recorded


def test_local_runs_carry_metaflows_runtime_name_dev(card_catch_run):
    assert "runtime:dev" in card_catch_run.system_tags
    assert card_catch_run["start"].task.runtime_name == "dev"
    assert card_catch_run["start"].task.metadata_dict["runtime"] == "dev"


def test_current_card_exists_only_on_a_card_step(card_catch_run):
    plain = card_catch_run["plain"].task.data
    assert plain.has_card is False  # Metaflow: AttributeError, so hasattr() is False
    assert ("step 'plain' of CardCatchFlow has no @card. Fix: decorate the step with @card, or "
            "run with --with card") in plain.card_error
    from headwater.cards import get_cards

    assert len(get_cards(card_catch_run["start"].task)) == 1  # the @card step has its card


def test_with_card_gives_every_step_current_card(tmp_path, run_headwater, client):
    flow = write(tmp_path, "card_catch.py", CARD_AND_CATCH)
    done = run_headwater("run", flow, "--with", "card")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    assert Flow("CardCatchFlow").latest_run["plain"].task.data.has_card is True


def test_a_task_catch_caught_reads_unsuccessful_and_finished(card_catch_run):
    task = card_catch_run["boom"].task
    # Metaflow: successful False (its _success artifact is unset), finished True, exception None,
    # what the step set before raising kept, the exception in the var artifact.
    assert task.successful is False
    assert task.finished is True
    assert task.exception is None
    assert task.data.before == 1
    # Metaflow's module-qualified type in a flow that imports metaflow (decisions.md, mfdocs).
    assert task.data.err.type == "builtins.ValueError" and task.data.err.message == "kaboom"
    assert card_catch_run.successful  # the end step succeeded, so the run did
    assert card_catch_run["start"].task.successful and card_catch_run["end"].task.successful


def test_dump_says_a_caught_task_failed_and_why_the_flow_went_on(card_catch_run, run_headwater,
                                                                 tmp_path):
    done = run_headwater("dump", str(tmp_path / "card_catch.py"),
                         f"{card_catch_run.id}/boom")
    assert done.returncode == 0, done.stderr
    assert "(failed; @catch caught it and the flow went on)" in done.stdout


def test_a_run_whose_end_step_catch_caught_is_not_successful(tmp_path, run_headwater, client):
    flow = write(tmp_path, "end_caught.py", END_CAUGHT)
    assert run_headwater("--quiet", "run", flow).returncode == 0
    done = run_headwater("--quiet", "run", flow, extra_env={"FAIL_END": "1"})
    assert done.returncode == 0, done.stderr  # the flow went on past its end, as in Metaflow
    client()
    latest = Flow("EndCaughtFlow").latest_run
    assert latest.id == "2" and latest.finished
    assert latest.successful is False  # Metaflow: a run is successful when its end task is
    assert Flow("EndCaughtFlow").latest_successful_run.id == "1"
    # headwater's run.status (Metaflow's Run has none) agrees with successful and finished.
    assert latest.status == "failed"
    assert Flow("EndCaughtFlow")["1"].status == "succeeded"
    assert latest["end"].task.metadata_dict["attempt_ok"] == "True"  # caught, as Metaflow says


# -- Runner: what Metaflow's Runner checks before it starts anything ---------------------------


@pytest.fixture
def typed_flow(tmp_path, child_env) -> tuple[str, dict[str, str]]:
    return write(tmp_path, "typed.py", TYPED), child_env


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"n": "abc"}, "parameter 'n' of TypedFlow: expected int, got str 'abc'"),
    ({"n": "5"}, "expected int, got str '5'"),
    ({"n": 5.0}, "expected int, got float 5.0"),
    ({"lr": "0.1"}, "expected float, got str '0.1'"),
    ({"label": 5}, "expected str, got int 5"),
    ({"flag": "true"}, "expected bool, got str 'true'"),
])
def test_runner_refuses_a_value_of_the_wrong_type_with_a_type_error(typed_flow, kwargs, expected):
    flow, env = typed_flow
    with Runner(flow, show_output=False, env=env) as runner:
        with pytest.raises(TypeError) as raised:
            runner.run(req=1, **kwargs)
    assert isinstance(raised.value, RunnerArgumentTypeError)
    assert isinstance(raised.value, RunNotStartedError)
    assert expected in str(raised.value)
    name = next(iter(kwargs))
    assert "fix: pass a Python" in str(raised.value) and f"run({name}=" in str(raised.value)
    assert _runs(Path(flow).parent, "TypedFlow") == []  # refused before any run was recorded


def test_runner_refuses_none_for_a_required_parameter_with_a_type_error(typed_flow):
    flow, env = typed_flow
    with Runner(flow, show_output=False, env=env) as runner:
        with pytest.raises(TypeError) as raised:  # Metaflow: TypeError "Invalid type for 'req'"
            runner.run(req=None)
        assert isinstance(raised.value, RunnerArgumentTypeError)
        assert "required parameter 'req' of TypedFlow: got None" in str(raised.value)
        assert "fix: pass a value, e.g. Runner(...).run(req=...)" in str(raised.value)
        done = runner.run(req=1, n=None)  # None for an optional one: its default, as Metaflow
        assert done.status == "successful", done.stderr
        assert done.run["start"].task.data.seen[0] == 3
    assert [run.id for run in _runs(Path(flow).parent, "TypedFlow")] == ["1"]


def test_runner_accepts_what_metaflows_accepts(typed_flow):
    flow, env = typed_flow
    with Runner(flow, show_output=False, env=env) as runner:
        done = runner.run(req=2, n=4, lr=1, label="y", flag=True, cfg="plain text")
        assert done.status == "successful", done.stderr
        # an int for a float; a str for a JSONType parameter is that string (Metaflow passes
        # every JSONType value as JSON)
        assert done.run["start"].task.data.seen == (4, 1.0, "y", True, "plain text", 2)
        done = runner.run(req=3, cfg={"a": [1]})
        assert done.run["start"].task.data.seen[4] == {"a": [1]}


def test_runner_refuses_a_missing_or_unknown_parameter_with_a_value_error(typed_flow):
    flow, env = typed_flow
    with Runner(flow, show_output=False, env=env) as runner:
        with pytest.raises(ValueError, match="needs a value for the required parameter 'req'") \
                as missing:
            runner.run(n=1)
        assert isinstance(missing.value, RunnerArgumentValueError)
        with pytest.raises(ValueError) as unknown:
            runner.run(req=1, bogus=2)
        assert isinstance(unknown.value, RunnerArgumentValueError)
        message = str(unknown.value)
        assert "given 'bogus', which is not a parameter of TypedFlow" in message
        assert "its parameters are cfg, flag, label, lr, n, req" in message


# -- the command line on a broken graph, and a reserved parameter name ------------------------


@pytest.mark.parametrize("name", sorted(BROKEN_GRAPHS))
def test_show_draws_a_broken_graph_with_a_warning_and_check_refuses_it(tmp_path, run_headwater,
                                                                       name):
    source, problem = BROKEN_GRAPHS[name]
    flow = write(tmp_path, name, source)
    for command in ("show", "output-dot"):
        done = run_headwater(command, flow)
        assert done.returncode == 0, done.stderr  # Metaflow's show draws it and exits 0
        assert "is invalid; `check` and `run` refuse it" in done.stderr
        assert problem in done.stderr and "fix:" in done.stderr
        assert "start" in done.stdout
    done = run_headwater("check", flow)
    assert done.returncode == 1  # as Metaflow's check
    assert problem in done.stderr and "fix:" in done.stderr
    done = run_headwater("run", flow)
    assert done.returncode == 1 and problem in done.stderr


def test_a_parameter_named_after_a_run_option_is_refused(tmp_path, run_headwater):
    flow = write(tmp_path, "reserved.py", RESERVED_PARAMETER)
    for command in (("run",), ("check",)):
        done = run_headwater(*command, flow)
        assert done.returncode == 1  # Metaflow: "Parameter name 'tag' is a reserved word"
        assert "Parameter name 'tag' is taken by an option of run/resume (--tag)" in done.stderr
        assert "fix: rename it, e.g. Parameter('tag_value', ...)" in done.stderr
        assert "UserWarning" not in done.stderr


ENVIRONMENT_PARAMETER = '''
from metaflow import FlowSpec, Parameter, step


class EnvironmentParamFlow(FlowSpec):
    environment = Parameter("environment", default="dev")

    @step
    def start(self):
        self.seen = self.environment
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvironmentParamFlow()
'''


def test_a_parameter_named_like_headwaters_own_run_option_takes_its_flag(tmp_path,
                                                                        run_headwater, client):
    # Metaflow's run has no --environment option, so its flows may have such a parameter.
    flow = write(tmp_path, "environment_param.py", ENVIRONMENT_PARAMETER)
    done = run_headwater("run", flow, "--environment", "prod")
    assert done.returncode == 0, done.stderr
    assert "UserWarning" not in done.stderr and "used more than once" not in done.stderr
    assert run_headwater("--quiet", "run", flow).returncode == 0
    client()
    runs = list(Flow("EnvironmentParamFlow"))
    assert [run["start"].task.data.seen for run in runs] == ["dev", "prod"]
