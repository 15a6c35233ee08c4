"""Configs as Metaflow's own tests use them: ``plain=True``, ``config_expr`` calling the flow
module's functions, ConfigValue as a read-only dict, default paths from functions, and the
Runner's ``config=`` / ``config_value=`` pairs."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from headwater import Runner
from headwater.exceptions import ReservedAttributeError
from headwater.flow.config import ConfigValue
from headwater.runner.command import RunnerArgumentError, top_level_args

CONFIG_FLOW = textwrap.dedent('''
    import json
    import os
    from metaflow import Config, FlowSpec, config_expr, environment, project, step


    def project_of(cfg):
        return cfg.meta.project


    def names(text):
        return text.strip().split(",")


    def triple(text):
        data = json.loads(text)
        return (data["name"], data["count"], data["on"])


    def default_path(ctx):
        return os.path.join(os.path.dirname(os.path.abspath(__file__)), "from_function.json")


    @project(name=config_expr("project_of(settings)"))
    class ConfigFidelityFlow(FlowSpec):
        settings = Config("settings", default_value={"meta": {"project": "first_proj"},
                                                     "rows": [{"v": 1}]})
        from_file = Config("from_file", default=default_path)
        raw = Config("raw", default_value='{"kept": "as text"}', plain=True)
        listed = Config("listed", default_value="a,b,c", parser=names, plain=True)
        tupled = Config("tupled", default_value='{"name": "t", "count": 3, "on": true}',
                        parser=triple, plain=True)
        nothing = Config("nothing", default_value=None, plain=True)
        dict_as_text = Config("dict_as_text", default_value={"a": 1}, plain=True)
        env_cfg = Config("env_cfg", default_value={"FROM_EXPR": "yes"})

        @environment(vars=config_expr("env_cfg"))
        @step
        def start(self):
            self.raw_value, self.raw_type = self.raw, type(self.raw).__name__
            self.listed_value, self.listed_type = self.listed, type(self.listed).__name__
            self.tupled_value, self.tupled_type = self.tupled, type(self.tupled).__name__
            self.nothing_is_none = self.nothing is None
            self.dict_as_text_value = self.dict_as_text
            self.rows_type = type(self.settings.rows).__name__
            self.row_v = self.settings.rows[0].v
            self.settings_is_dict = isinstance(self.settings, dict)
            self.settings_json = json.dumps(self.settings)
            self.file_value = self.from_file.source
            self.from_expr = os.environ.get("FROM_EXPR")
            self.next(self.end)

        @step
        def end(self):
            pass
''')


@pytest.fixture
def config_flow(tmp_path) -> str:
    path = tmp_path / "config_fidelity_flow.py"
    path.write_text(CONFIG_FLOW)
    (tmp_path / "from_function.json").write_text('{"source": "default function"}')
    (tmp_path / "other.json").write_text('{"source": "command line"}')
    return str(path)


def test_plain_configs_expressions_and_default_functions_in_a_run(config_flow, tmp_path):
    with Runner(config_flow, show_output=False, cwd=str(tmp_path)) as runner:
        run = runner.run().run
    assert run.successful
    assert "project:first_proj" in run.tags  # config_expr called the flow module's function
    start = run["start"].task.data
    assert (start.raw_value, start.raw_type) == ('{"kept": "as text"}', "str")
    assert (start.listed_value, start.listed_type) == (["a", "b", "c"], "list")
    assert (start.tupled_value, start.tupled_type) == (("t", 3, True), "tuple")
    assert start.nothing_is_none is True
    assert start.dict_as_text_value == '{"a": 1}'  # plain, no parser: the JSON text, as Metaflow
    assert (start.rows_type, start.row_v) == ("list", 1)
    assert start.settings_is_dict is True
    assert json.loads(start.settings_json) == {"meta": {"project": "first_proj"},
                                               "rows": [{"v": 1}]}
    assert start.file_value == "default function"  # Config(default=callable) gives the path
    assert start.from_expr == "yes"  # @environment(vars=config_expr("env_cfg"))


def test_runner_passes_config_files_and_values(config_flow, tmp_path):
    other = str(tmp_path / "other.json")
    with Runner(config_flow, show_output=False, cwd=str(tmp_path), config=[("from_file", other)],
                config_value=[("settings", {"meta": {"project": "second_proj"}, "rows": [{"v": 2}]})],
                ) as runner:
        run = runner.run().run
    assert run.successful
    assert "project:second_proj" in run.tags
    assert run["start"].task.data.file_value == "command line"
    assert run["start"].task.data.row_v == 2


def test_config_pairs_become_two_argument_options():
    args = top_level_args({"config": [("a", "a.json")],
                           "config_value": [("b", ConfigValue({"x": [1]})), ("c", "{}")]})
    assert args == ["--config", "a", "a.json", "--config-value", "b", '{"x": [1]}',
                    "--config-value", "c", "{}"]
    with pytest.raises(RunnerArgumentError, match="config_value"):
        top_level_args({"config_value": ["just-a-name"]})


def test_config_value_is_a_read_only_dict():
    value = ConfigValue({"a": {"b": 1}, "rows": [{"c": 2}], "pair": ({"d": 3},)})
    assert isinstance(value, dict) and isinstance(value.a, ConfigValue)
    assert isinstance(value.rows, list) and isinstance(value.rows[0], ConfigValue)
    assert isinstance(value.pair, tuple) and value.pair[0].d == 3
    assert json.loads(json.dumps(value)) == {"a": {"b": 1}, "rows": [{"c": 2}], "pair": [{"d": 3}]}
    for change in (lambda: value.__setitem__("a", 1), lambda: value.pop("a", None), value.clear,
                   value.popitem, lambda: value.update(x=1), lambda: value.setdefault("x", 1),
                   lambda: value.__delitem__("a")):
        with pytest.raises(TypeError):
            change()
    with pytest.raises(ReservedAttributeError):
        value.a = 2
    assert pickle.loads(pickle.dumps(value)) == value
    assert type(pickle.loads(pickle.dumps(value)).a) is ConfigValue
    plain = value.to_dict()
    assert type(plain["a"]) is dict and type(plain["rows"][0]) is dict
    plain["a"]["b"] = 5
    assert value.a.b == 1


def test_user_configs_module_is_served(tmp_path, tripwire, run_headwater):
    assert run_headwater("shim", str(tmp_path / "shim")).returncode == 0
    code = textwrap.dedent("""
        from metaflow import ConfigValue as top
        from metaflow.user_configs.config_parameters import Config, ConfigValue, config_expr
        assert top is ConfigValue and isinstance(ConfigValue({"a": 1}), dict)
        print("served")
    """)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shim")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "served" in done.stdout


def test_config_expr_keeps_its_module_through_copy_and_pickle():
    import copy
    import types

    module = types.ModuleType("config_expr_home")
    sys.modules[module.__name__] = module
    try:
        exec("from headwater import config_expr\n"
             "def label(cfg):\n    return 'run-' + cfg.name\n"
             "EXPR = config_expr('label(settings)')\n", vars(module))
        configs = {"settings": ConfigValue({"name": "x"})}
        assert module.EXPR.evaluate(configs) == "run-x"
        assert copy.deepcopy(module.EXPR).evaluate(configs) == "run-x"
        assert pickle.loads(pickle.dumps(module.EXPR)).evaluate(configs) == "run-x"
    finally:
        del sys.modules[module.__name__]
