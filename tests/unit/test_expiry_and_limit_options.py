"""The options of @cache(max_age=...) and @concurrency(limit=...), and the duration rule both
@cache and `gc --grace` read durations by."""

from __future__ import annotations

import pytest

from headwater import FlowSpec, cache, concurrency, step
from headwater.decorators.base import StepPolicy
from headwater.decorators.cache import CacheDecorator
from headwater.decorators.concurrency import ConcurrencyDecorator
from headwater.durations import parse_duration, shown
from headwater.exceptions import FlowDefinitionError, GraphError, SettingError
from headwater.runtime.step_cache import run_max_age


@pytest.mark.parametrize("text,seconds", [
    ("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0), ("7d", 604800.0),
    (" 2d ", 172800.0), (30, 30.0), (2.5, 2.5),
])
def test_durations_read_as_seconds(text, seconds) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "7 days", "-1", "1w", True, None, float("inf"),
                                  float("nan"), -5])
def test_what_is_no_duration_is_refused(text) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_durations_show_as_a_person_reads_them() -> None:
    assert [shown(s) for s in (604800, 129600, 90, 5400, 2.6 * 86400, 45, 7205)] == [
        "7d", "1.5d", "1.5m", "1.5h", "2.6d", "45s", "2.0h"]


def test_max_age_reaches_the_policy() -> None:
    policy = StepPolicy()
    CacheDecorator(max_age="12h").apply(policy)
    assert policy.cache and policy.cache_max_age_s == 43200.0
    bare = StepPolicy()
    CacheDecorator().apply(bare)
    assert bare.cache and bare.cache_max_age_s is None


@pytest.mark.parametrize("value,why", [("soon", "is not a duration"), (0, "more than zero"),
                                       ("0s", "more than zero")])
def test_a_bad_max_age_is_refused_naming_the_option(value, why) -> None:
    with pytest.raises(FlowDefinitionError) as err:
        cache(max_age=value)
    assert f"@cache(max_age={value!r})" in err.value.msg and why in err.value.msg
    assert '@cache(max_age="7d")' in (err.value.fix or "")


def test_the_run_wide_max_age_setting() -> None:
    assert run_max_age({}) is None and run_max_age({"HEADWATER_CACHE_MAX_AGE": " "}) is None
    assert run_max_age({"HEADWATER_CACHE_MAX_AGE": "36h"}) == 129600.0
    for bad in ("a week", "0"):
        with pytest.raises(SettingError) as err:
            run_max_age({"HEADWATER_CACHE_MAX_AGE": bad})
        assert f"HEADWATER_CACHE_MAX_AGE={bad!r}" in err.value.msg
        assert "e.g. 7d" in (err.value.fix or "")


def test_concurrency_limits_reach_the_policy() -> None:
    policy = StepPolicy()
    ConcurrencyDecorator(limit=4).apply(policy)
    assert policy.concurrency == 4
    bare = StepPolicy()
    ConcurrencyDecorator().apply(bare)
    assert bare.concurrency == 1

    class Flow(FlowSpec):
        @concurrency
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert [d.attributes for d in Flow.start._hw_decorators if d.name == "concurrency"] == [
        {"limit": 1}]


@pytest.mark.parametrize("value", [0, -1, 2.5, "4", True])
def test_a_bad_limit_is_refused(value) -> None:
    with pytest.raises(FlowDefinitionError) as err:
        concurrency(limit=value)
    assert f"@concurrency(limit={value!r})" in err.value.msg


def test_an_orchestrators_option_on_step_points_at_concurrency() -> None:
    with pytest.raises(GraphError) as err:
        @step(max_active_tis_per_dag=3)
        def start(self):
            pass
    assert "max_active_tis_per_dag= -> @concurrency(limit=3)" in (err.value.fix or "")
