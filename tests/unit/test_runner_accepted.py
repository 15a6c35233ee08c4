"""``Runner(...)`` and ``Deployer(...)`` refuse a keyword they do not take, as Metaflow's do
(a ``ValueError`` naming it, the closest accepted name and all of them), in the caller and
before anything starts; and the names they accept are exactly the command line's options."""

from __future__ import annotations

import click
import pytest

from headwater import FlowSpec, step
from headwater.cli.deploy_cmds import COMMANDS
from headwater.cli.flow_cli import build_cli
from headwater.runner import Deployer, Runner
from headwater.runner.accepted import (
    DEPLOY_CREATE,
    UnknownRunnerArgumentError,
    top_level_names,
)
from headwater.runner.deployer import _options

# Keywords that spell an option otherwise than its flag (Metaflow's names for --with, --tag).
_ALIASES = {"decospecs", "with_decorators", "tags"}


class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def _keywords(params: list[click.Parameter]) -> set[str]:
    """Each option's long flag as the Python keyword the Runner turns into it."""
    names: set[str] = set()
    for param in params:
        if not isinstance(param, click.Option):
            continue
        flag = next(f for f in param.opts if f.startswith("--"))[2:].replace("-", "_")
        names.add("with_" if flag == "with" else flag)
    return names


@pytest.fixture
def flow_file(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text("from headwater import FlowSpec, step\n")
    return str(path)


def test_the_top_level_names_are_the_command_lines_top_level_options():
    # profile= is a named argument of the Runner and the Deployer themselves (Metaflow's)
    assert top_level_names() - _ALIASES == _keywords(build_cli(TinyFlow).params) - {"profile"}


def test_each_deployers_create_names_are_its_create_commands_options():
    groups = {group.name: group for group in COMMANDS}
    for orchestrator, accepted in DEPLOY_CREATE.items():
        create = groups[orchestrator].commands["create"]
        options = _keywords(create.params) - {"deployer_attribute_file"}  # the Deployer's own
        arguments = {p.name for p in create.params if isinstance(p, click.Argument)}
        assert accepted - _ALIASES == options | arguments, orchestrator


@pytest.mark.parametrize("value", [True, False, None], ids=["true", "false", "none"])
def test_a_misspelt_runner_keyword_is_refused_whatever_its_value(flow_file, value):
    """``quite=False`` used to vanish without a word (a False flag is not passed on)."""
    with pytest.raises(ValueError, match="'quite'") as caught:
        Runner(flow_file, quite=value)
    error = caught.value
    assert isinstance(error, UnknownRunnerArgumentError)
    assert "did you mean 'quiet'?" in error.msg
    assert "datastore_root" in error.fix and "dask_address" in error.fix  # the registry's too
    assert "METAFLOW_<NAME>" in error.fix


def test_known_runner_keywords_are_taken(flow_file, tmp_path):
    runner = Runner(flow_file, quiet=True, decospecs=["retry"], datastore_root=str(tmp_path),
                    executor="local", config_value=[("c", {"a": 1})], pylint=False)
    assert runner.top_level["quiet"] is True


def test_a_deployer_refuses_an_unknown_top_level_keyword(flow_file):
    with pytest.raises(ValueError, match=r"Deployer\(\.\.\.\) was given 'datastore_rot'.*"
                       r"did you mean 'datastore_root'"):
        Deployer(flow_file, datastore_rot="/tmp/x")


def test_a_deployer_refuses_an_unknown_option_of_its_orchestrator(flow_file):
    deployer = Deployer(flow_file)
    with pytest.raises(ValueError, match=r"argo_workflows\(\) was given 'imag'.*"
                       r"did you mean 'image'") as caught:
        deployer.argo_workflows(imag="team/flows:1")
    assert "service_account" in caught.value.fix
    with pytest.raises(ValueError, match=r"airflow\(\.\.\.\)\.create\(\) was given 'operater'"):
        deployer.airflow().create(out="dag.py", operater="local")
    with pytest.raises(ValueError, match="'only_json'"):  # Argo's option, not Airflow's
        deployer.airflow(only_json=True)
    with pytest.raises(ValueError, match="'deployer_attribute_file'"):  # the Deployer's own
        deployer.argo_workflows().create(deployer_attribute_file="x.json")


def test_metaflows_deployer_keywords_become_headwaters_options():
    assert _options({"tags": ["a", "b"], "decospecs": ["retry"], "only_json": True,
                     "name": None}) == ["--tag", "a", "--tag", "b", "--with", "retry",
                                        "--only-json"]
