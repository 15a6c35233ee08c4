"""Config values, config_expr in decorators and parameters, and project branches."""

from __future__ import annotations

import pickle

import pytest

from headwater import Config, FlowSpec, Parameter, config_expr, project, retry, step
from headwater.decorators.registry import step_policy
from headwater.exceptions import ConfigError, FlowDefinitionError, ReservedAttributeError
from headwater.flow.config import ConfigValue
from headwater.runtime.configs import config_scope, resolve_configs
from headwater.runtime.parameters import resolve_parameters
from headwater.runtime.project import project_info


@project(name="demo")
class CfgFlow(FlowSpec):
    config = Config("config", default_value={"retries": 2, "alpha": 0.5, "nested": {"a": [1]}})
    alpha = Parameter("alpha", default=config_expr("config.alpha"))

    @retry(times=config_expr("config.retries"), minutes_between_retries=0)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_config_value_is_read_only_with_attribute_access_and_pickles():
    value = ConfigValue({"a": {"b": 1}, "rows": [{"c": 2}]})
    assert value.a.b == 1 and value["a"]["b"] == 1 and value.rows[0].c == 2 and value["rows"][0]["c"] == 2
    with pytest.raises(ReservedAttributeError):
        value.a = 2
    assert pickle.loads(pickle.dumps(value)) == value
    copy = value.to_dict()
    copy["a"]["b"] = 5
    assert value.a.b == 1


def test_config_expr_feeds_decorators_and_parameter_defaults():
    configs = resolve_configs(CfgFlow)
    scope = config_scope(CfgFlow, configs)
    assert step_policy(CfgFlow.start, [], scope).attempts == 3
    assert resolve_parameters(CfgFlow, {}, "me", scope) == {"alpha": 0.5}
    assert resolve_parameters(CfgFlow, {"alpha": "0.75"}, "me", scope) == {"alpha": 0.75}


def test_a_bad_config_expr_value_is_checked_at_launch():
    with pytest.raises(FlowDefinitionError, match="times"):
        step_policy(CfgFlow.start, [], {"config": ConfigValue({"retries": "many"})})
    with pytest.raises(ConfigError, match="config.retries"):
        step_policy(CfgFlow.start, [], {})


def test_unknown_config_names_and_bad_values_say_which():
    with pytest.raises(ConfigError, match="no config named 'other'"):
        resolve_configs(CfgFlow, files=[("other", "x.json")])
    with pytest.raises(ConfigError, match="must be a mapping"):
        resolve_configs(CfgFlow, values=[("config", "[1, 2]")])
    with pytest.raises(ConfigError, match="no config named 'other'\n") as other:
        resolve_configs(CfgFlow, files=[("other", "x.json")])
    assert "did you mean" not in str(other.value)
    with pytest.raises(ConfigError, match="no config named 'confg'; did you mean 'config'"):
        resolve_configs(CfgFlow, values=[("confg", "{}")])  # a typo gets the close name


def test_project_branches():
    assert project_info(CfgFlow, "ann").branch == "user.ann"
    assert project_info(CfgFlow, "ann", branch="x").branch == "test.x"
    prod = project_info(CfgFlow, "ann", production=True)
    assert prod.branch == "prod" and prod.is_production
    assert prod.system_tags() == ["project:demo", "project_branch:prod"]
    with pytest.raises(FlowDefinitionError):
        project(name="Bad Name")(type("X", (), {}))
