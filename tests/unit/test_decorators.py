"""Step decorators: options are validated, policies combine, --with specs parse."""

from __future__ import annotations

import pytest

from headwater import catch, environment, resources, retry, step, timeout
from headwater.decorators.registry import parse_with, step_policy
from headwater.exceptions import FlowDefinitionError


def test_retry_bare_and_with_options_set_attempts_and_delay() -> None:
    @retry
    @step
    def a(self):
        pass

    @retry(times=1, minutes_between_retries=0.5)
    @step
    def b(self):
        pass

    assert step_policy(a).attempts == 4 and step_policy(a).retry_delay_s == 120
    assert step_policy(b).attempts == 2 and step_policy(b).retry_delay_s == 30


def test_decorator_above_or_below_step_is_the_same() -> None:
    @step
    @timeout(seconds=5)
    def below(self):
        pass

    @timeout(seconds=5)
    @step
    def above(self):
        pass

    assert step_policy(below).timeout_s == step_policy(above).timeout_s == 5


def test_unknown_option_names_the_decorator_and_lists_the_options() -> None:
    with pytest.raises(FlowDefinitionError) as err:
        retry(tims=3)
    assert "@retry" in str(err.value) and "'tims'" in str(err.value)
    assert "minutes_between_retries" in str(err.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: retry(times=-1),
        lambda: retry(times="3"),
        lambda: timeout(),
        lambda: timeout(seconds=-2),
        lambda: catch(var="not an identifier"),
        lambda: resources(cpu="lots"),
        lambda: environment(vars=["A=1"]),
        # not finite: a deployed DAG file read `inf` as a name and failed to import, and Argo's
        # compiler died on int(inf); nan passed every `< 0` check
        lambda: timeout(seconds=float("inf")),
        lambda: timeout(minutes=float("nan")),
        lambda: retry(minutes_between_retries=float("inf")),
        lambda: retry(minutes_between_retries=float("nan")),
        lambda: resources(memory=float("inf")),
        lambda: resources(cpu="nan"),
    ],
)
def test_bad_option_values_are_refused(make) -> None:
    with pytest.raises(FlowDefinitionError):
        make()


def test_the_same_decorator_twice_on_one_step_is_refused() -> None:
    with pytest.raises(FlowDefinitionError, match="twice"):
        @retry
        @retry(times=1)
        @step
        def a(self):
            pass


def test_timeout_adds_its_units_and_catch_environment_resources_fill_the_policy() -> None:
    @catch(var="err", print_exception=False)
    @timeout(minutes=1, seconds=30)
    @environment(vars={"MODE": 2})
    @resources(cpu=2, memory=1000)
    @step
    def a(self):
        pass

    policy = step_policy(a)
    assert policy.timeout_s == 90
    assert policy.catch_var == "err" and policy.catch_print is False
    assert policy.env == {"MODE": "2"}
    assert policy.resources["cpu"] == 2 and policy.resources["memory"] == 1000


def test_with_specs_parse_values_as_json_or_text() -> None:
    deco = parse_with("retry:times=2,minutes_between_retries=0")
    assert deco.attributes == {"times": 2, "minutes_between_retries": 0}
    assert parse_with("catch:var=oops").attributes["var"] == "oops"
    # a JSON value keeps its commas (before, it was cut at each one: "expected OPTION=VALUE")
    deco = parse_with('environment:vars={"A": "1", "B": "x, y"}')
    assert deco.attributes["vars"] == {"A": "1", "B": "x, y"}
    deco = parse_with('secrets:sources=["env.A", "env.B"], role=admin')
    assert deco.attributes["sources"] == ["env.A", "env.B"] and deco.attributes["role"] == "admin"


@pytest.mark.parametrize("spec", [
    'secrets:sources=[{"type": "inline", "options": {"env_vars": {"K": "s3cr3t-v4l"}}}], "x"',
    'secrets:sources=[{"type": "inline", "options": {"env_vars": {"K": "s3cr3t-v4l"}}}],'
    'rol=admin',
])
def test_a_bad_secrets_with_never_shows_its_text(spec) -> None:
    """It may hold inline secret values; before, the error repeated the whole spec."""
    with pytest.raises(FlowDefinitionError) as err:
        parse_with(spec)
    assert "--with secrets:..." in str(err.value) and "s3cr3t" not in str(err.value)


def test_with_unknown_decorator_lists_the_known_ones() -> None:
    with pytest.raises(FlowDefinitionError) as err:
        parse_with("retyr")
    assert "'retyr'" in str(err.value) and "retry" in str(err.value)


def test_with_malformed_option_says_how_to_write_it() -> None:
    with pytest.raises(FlowDefinitionError, match="OPTION=VALUE"):
        parse_with("retry:times")


def test_with_decorators_do_not_override_the_steps_own() -> None:
    @retry(times=1, minutes_between_retries=0)
    @step
    def a(self):
        pass

    policy = step_policy(a, [parse_with("retry:times=5")])
    assert policy.attempts == 2


@pytest.mark.parametrize(("make", "fix"), [
    # a number written as text (Metaflow converts these): the number itself
    (lambda: retry(times="3"), "fix: write the number itself, not text: @retry(times=3)"),
    (lambda: timeout(seconds=" 30"), "fix: write the number itself, not text: @timeout(seconds=30)"),
    # anything else: an example of a value that fits
    (lambda: resources(memory="4GB"), "fix: write it as e.g. @resources(memory=8000)"),
    (lambda: catch(var=3), "fix: write it as e.g. @catch(var='error')"),
    (lambda: timeout(minutes=-1), "fix: write it as e.g. @timeout(minutes=5)"),
    # text that is a number the option would refuse anyway: the example, not "the number"
    (lambda: resources(cpu="nan"), "fix: write it as e.g. @resources(cpu=2)"),
    (lambda: retry(times="-1"), "fix: write it as e.g. @retry(times=3)"),
])
def test_a_refused_option_value_says_how_to_write_it(make, fix) -> None:
    with pytest.raises(FlowDefinitionError) as err:
        make()
    assert fix in str(err.value)


def test_resources_memory_says_its_unit() -> None:
    with pytest.raises(FlowDefinitionError, match=r"\(of megabytes: 8000 for 8 GB\)"):
        resources(memory="8GB")
