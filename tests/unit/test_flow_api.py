"""The flow API in-process: Parameter types and conversion, JSONType, IncludeFile, resolution.

Every error a user can cause here must name the parameter and say how to fix it.
"""

from __future__ import annotations

import pytest

from headwater import FlowSpec, IncludeFile, JSONType, Parameter, step
from headwater.exceptions import ParameterError, ReservedAttributeError
from headwater.flow.parameters import ParameterContext, flow_parameters
from headwater.runtime.parameters import resolve_parameters

# ---------------------------------------------------------------- type inference


@pytest.mark.parametrize(("default", "kind", "label"), [
    (3, int, "int"),
    (0.5, float, "float"),
    (True, bool, "bool"),
    ("x", str, "str"),
    (None, str, "str"),
    (lambda ctx: 3, str, "str"),
])
def test_type_is_inferred_from_the_default(default, kind, label):
    param = Parameter("p", default=default)
    assert param.type is kind
    assert param.type_label == label


@pytest.mark.parametrize("default", [{"a": 1}, [1, 2]])
def test_dict_and_list_defaults_are_json(default):
    param = Parameter("p", default=default)
    assert param.type is JSONType
    assert param.type_label == "JSON"


def test_explicit_type_wins_over_the_default():
    assert Parameter("p", default=1, type=float).convert("2") == 2.0
    assert Parameter("p", default="1", type=int).convert("7") == 7


# ---------------------------------------------------------------- conversion


@pytest.mark.parametrize(("default", "raw", "value"), [
    (1, "42", 42),
    (1, "-3", -3),
    (0.1, "0.6", 0.6),
    (0.1, "1e-3", 0.001),
    ("a", "hello world", "hello world"),
    (False, "true", True),
    (False, "Yes", True),
    (True, "0", False),
    (True, "off", False),
])
def test_command_line_strings_are_converted(default, raw, value):
    converted = Parameter("p", default=default).convert(raw)
    assert converted == value
    assert type(converted) is type(value)


def test_values_that_are_not_strings_pass_through():
    assert Parameter("p", default=1).convert(5) == 5
    assert Parameter("p", default=[1]).convert([2, 3]) == [2, 3]


@pytest.mark.parametrize(("kind", "value", "expected"), [
    (float, 2, 2.0), (str, 5, "5"), (str, 2.5, "2.5"), (bool, 0, False), (bool, 1, True),
    (int, 3, 3), (float, 1.5, 1.5), (int, True, True), (str, None, None),
])
def test_a_default_of_another_scalar_type_takes_the_declared_type_as_metaflows_does(
        kind, value, expected):
    converted = Parameter("p", type=kind, default=value).convert(value)
    assert converted == expected and type(converted) is type(expected)


@pytest.mark.parametrize(("default", "raw", "expects", "example"), [
    (1, "abc", "an integer", "3"),
    (1, "2.5", "an integer", "3"),
    (0.1, "fast", "a number", "0.5"),
    (False, "maybe", "a boolean", "true"),
])
def test_conversion_errors_name_the_parameter(default, raw, expects, example):
    param = Parameter("learning_rate", default=default)
    with pytest.raises(ParameterError) as info:
        param.convert(raw)
    err = info.value
    text = str(err)
    assert "'learning_rate'" in text
    assert expects in text
    assert repr(raw) in text
    assert err.fix.startswith(f"pass e.g. --learning_rate {example}")  # (+ why, for "2.5")


def test_a_custom_converter_error_names_the_parameter():
    def positive(raw: str) -> int:
        value = int(raw)
        if value <= 0:
            raise ValueError("must be positive")
        return value

    param = Parameter("workers", default=1, type=positive)
    assert param.convert("4") == 4
    with pytest.raises(ParameterError) as info:
        param.convert("-1")
    assert "'workers'" in str(info.value)
    assert "must be positive" in str(info.value)


def test_separator_splits_and_converts_each_item():
    param = Parameter("sizes", default=1, separator=",")
    assert param.convert("1,2,3") == [1, 2, 3]
    with pytest.raises(ParameterError, match="'sizes'"):
        param.convert("1,x")


def test_empty_parameter_name_is_a_definition_error():
    from headwater.exceptions import FlowDefinitionError

    with pytest.raises(FlowDefinitionError):
        Parameter("")


# ---------------------------------------------------------------- JSONType


def test_json_parses_structures():
    param = Parameter("gdp", type=JSONType, default="{}")
    assert param.convert('{"US": 1, "FR": [2, 3]}') == {"US": 1, "FR": [2, 3]}
    assert param.convert("[1, 2]") == [1, 2]
    assert param.convert("3") == 3


@pytest.mark.parametrize("raw", ["{US: 1}", '{"US": 1', "", "{'a': 1}"])
def test_json_parse_errors_name_the_parameter_and_the_position(raw):
    param = Parameter("gdp", type=JSONType, default="{}")
    with pytest.raises(ParameterError) as info:
        param.convert(raw)
    text = str(info.value)
    assert "'gdp'" in text
    assert "JSON" in text
    assert "at character" in text
    assert "--gdp" in info.value.fix


def test_json_default_given_as_text_is_parsed():
    class F(FlowSpec):
        gdp = Parameter("gdp", type=JSONType, default='{"US": 1939}')

    assert resolve_parameters(F, {}, "tester") == {"gdp": {"US": 1939}}


# ---------------------------------------------------------------- IncludeFile


def test_include_file_reads_the_text(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    inc = IncludeFile("data", default="data.csv")
    assert inc.is_include_file
    assert inc.convert(str(tmp_path / "data.csv")) == "a,b\n1,2\n"
    assert inc.convert("data.csv") == "a,b\n1,2\n"  # relative to the working directory


def test_include_file_binary(tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"\x00\xff")
    assert IncludeFile("blob", is_text=False).convert("blob.bin") == b"\x00\xff"


def test_include_file_missing_names_parameter_and_file(tmp_path):
    with pytest.raises(ParameterError) as info:
        IncludeFile("movie_data").convert("nope.csv")
    text = str(info.value)
    assert "'movie_data'" in text and "nope.csv" in text
    assert str(tmp_path / "nope.csv") in text
    assert "--movie_data" in info.value.fix


def test_include_file_not_text(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(ParameterError, match="'bad'"):
        IncludeFile("bad").convert("bad.txt")


# ---------------------------------------------------------------- resolution at launch


class Params(FlowSpec):
    alpha = Parameter("alpha", default=0.01)
    count = Parameter("count", default=2)
    who = Parameter("who", default=lambda ctx: f"{ctx.user_name}@{ctx.flow_name}:{ctx.parameter_name}")
    must = Parameter("must", required=True, type=int)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_flow_parameters_lists_them_by_attribute():
    assert list(flow_parameters(Params)) == ["alpha", "count", "who", "must"]


def test_resolve_given_defaults_and_callable_defaults():
    values = resolve_parameters(Params, {"alpha": "0.6", "must": "5"}, "tester")
    assert values == {"alpha": 0.6, "count": 2, "who": "tester@Params:who", "must": 5}


def test_resolve_required_missing_names_it():
    with pytest.raises(ParameterError) as info:
        resolve_parameters(Params, {}, "tester")
    assert "'must'" in str(info.value)
    assert "Params" in str(info.value)
    assert info.value.fix == "pass --must VALUE"


def test_resolve_unknown_parameter_lists_the_known_ones():
    with pytest.raises(ParameterError) as info:
        resolve_parameters(Params, {"must": 1, "beta": "2"}, "tester")
    assert "'beta'" in str(info.value)
    assert "alpha" in info.value.fix and "must" in info.value.fix


def test_resolve_conversion_error_names_the_parameter():
    with pytest.raises(ParameterError, match="'count'"):
        resolve_parameters(Params, {"count": "two", "must": "1"}, "tester")


@pytest.mark.parametrize("var", ["HEADWATER_RUN_COUNT", "METAFLOW_RUN_COUNT"])
def test_environment_gives_a_default(monkeypatch, var):
    monkeypatch.setenv(var, "9")
    assert resolve_parameters(Params, {"must": 1}, "tester")["count"] == 9
    assert resolve_parameters(Params, {"must": 1, "count": "3"}, "tester")["count"] == 3


def test_callable_default_gets_a_context():
    seen: list[ParameterContext] = []

    class F(FlowSpec):
        p = Parameter("p", default=lambda ctx: seen.append(ctx) or "v")

    assert resolve_parameters(F, {}, "ann") == {"p": "v"}
    assert seen == [ParameterContext("F", "ann", "p")]


# ---------------------------------------------------------------- reserved attributes


@pytest.mark.parametrize("name", ["next", "input", "index", "foreach_stack", "merge_artifacts",
                                  "name", "script_name",
                                  # private, but the framework's: assigning broke the task
                                  "_graph", "_state", "_hw_task", "_hw_anything"])
def test_reserved_names_cannot_be_assigned(name):
    flow = Params.__new__(Params)
    with pytest.raises(ReservedAttributeError) as info:
        setattr(flow, name, 1)
    assert f"'self.{name}'" in str(info.value)
    assert info.value.fix


def test_a_private_name_of_the_users_own_can_be_assigned():
    flow = Params.__new__(Params)
    flow._mine = 1
    assert flow._mine == 1


def test_parameters_are_read_only():
    flow = Params.__new__(Params)
    with pytest.raises(ReservedAttributeError, match="parameter 'alpha'"):
        flow.alpha = 2


def test_parameter_refuses_an_unknown_keyword_but_accepts_metaflows_option_ones():
    from headwater.exceptions import FlowDefinitionError
    from headwater.flow.parameters import Parameter

    with pytest.raises(FlowDefinitionError, match=r"Parameter 'a' got unknown keyword argument\(s\) "
                       r"defualt, typo") as caught:
        Parameter("a", defualt=1, typo=3)
    assert caught.value.fix is not None and "default" in caught.value.fix
    assert Parameter("a", default=1, hidden=True).default == 1  # Metaflow passes it to click


def test_a_misspelt_parameter_keyword_is_named_with_the_one_meant():
    from headwater.exceptions import FlowDefinitionError
    from headwater.flow.parameters import Parameter

    with pytest.raises(FlowDefinitionError) as caught:
        Parameter("a", defualt=1, requierd=True)
    assert "requierd; did you mean default= for defualt=, required= for requierd=?\n" in str(caught.value)
    with pytest.raises(FlowDefinitionError) as far:
        Parameter("a", zzz=1)
    assert "did you mean" not in str(far.value)
