"""The one rule numeric HEADWATER_* settings are read by (headwater.env_numbers)."""

from __future__ import annotations

import pytest

from headwater.env_numbers import env_count, env_seconds
from headwater.exceptions import MetadataError, SettingError


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "1e999", "-1", "abc", "1_0",
                                 "2e6", "0"])
def test_anything_but_a_positive_finite_number_of_seconds_is_named_with_the_fix(raw):
    with pytest.raises(SettingError) as caught:
        env_seconds("HEADWATER_X_S", 30.0, environ={"HEADWATER_X_S": raw})
    assert f"HEADWATER_X_S={raw!r}" in caught.value.msg
    assert "set HEADWATER_X_S to a number of seconds, e.g. 30" in caught.value.fix


def test_zero_where_it_means_do_not_wait_and_the_default_when_unset():
    assert env_seconds("V", 30.0, zero_ok=True, environ={"V": "0"}) == 0.0
    assert env_seconds("V", 30.0, environ={"V": " 2.5 "}) == 2.5
    assert env_seconds("V", 30.0, environ={"V": ""}) == 30.0
    assert env_seconds("V", 30.0, environ={}) == 30.0
    with pytest.raises(SettingError):
        env_seconds("V", 30.0, zero_ok=True, environ={"V": "-0.5"})


def test_the_caller_chooses_the_error_class():
    with pytest.raises(MetadataError, match="V='nan'"):
        env_seconds("V", 1.0, error=MetadataError, environ={"V": "nan"})


@pytest.mark.parametrize("raw", ["-1", "1.5", "abc", "nan", "9" * 30])
def test_a_count_is_a_whole_number(raw):
    with pytest.raises(SettingError, match="is not a whole number"):
        env_count("C", 20, environ={"C": raw})
    assert env_count("C", 20, environ={"C": "3"}) == 3
    assert env_count("C", 20, environ={}) == 20


def test_every_timeout_setting_uses_the_rule(monkeypatch):
    from headwater.meta import postgres, sqlite_errors
    from headwater.runtime import console

    for variable, read in (("HEADWATER_SQLITE_BUSY_TIMEOUT_S", sqlite_errors.busy_timeout_s),
                           ("HEADWATER_METADATA_RECONNECT_S", postgres._reconnect_window),
                           ("HEADWATER_PROGRESS_INTERVAL", console.summary_interval)):
        monkeypatch.setenv(variable, "-5")
        with pytest.raises(SettingError.__mro__[1]) as caught:  # each its own subclass
            read()
        assert f"{variable}='-5'" in caught.value.msg
