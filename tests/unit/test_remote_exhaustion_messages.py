"""What the remote backends say when a server does not answer, refuses the credentials, or has
no connection left (the servers themselves: tests/integration/test_exhaustion_remote.py)."""

from __future__ import annotations

import errno

import pytest

from headwater.store.datastore import _read_fix, _write_fix
from headwater.store.storage import store_errors


class ReadTimeoutError(Exception):  # named as botocore's is: store_errors goes by the name
    pass


class EndpointConnectionError(Exception):
    pass


class FSTimeoutError(TimeoutError):  # fsspec's: a TimeoutError with nothing to say
    pass


@pytest.mark.parametrize(("raised", "code"), [
    (ReadTimeoutError("Read timeout on endpoint URL"), errno.ETIMEDOUT),
    (EndpointConnectionError("Could not connect to the endpoint URL"), errno.ECONNREFUSED),
    (FSTimeoutError(), errno.ETIMEDOUT),
], ids=["read-timeout", "unreachable", "bare-timeout"])
def test_a_server_that_does_not_answer_keeps_an_errno_and_a_message(raised, code):
    with pytest.raises(OSError) as caught, store_errors():
        raise raised
    assert caught.value.errno == code
    assert str(caught.value.strerror).strip()  # never an empty message
    if isinstance(raised, FSTimeoutError):
        assert "FSTimeoutError" in caught.value.strerror


def test_other_refusals_pass_unchanged():
    refusal = PermissionError(errno.EACCES, "AccessDenied: no")
    with pytest.raises(PermissionError) as caught, store_errors():
        raise refusal
    assert caught.value is refusal
    with pytest.raises(OSError) as caught, store_errors():
        raise ValueError("a malformed reply")
    assert caught.value.errno is None and "malformed reply" in str(caught.value)


def test_the_fixes_name_what_ran_out():
    root = "s3://bucket/prefix"
    timed_out = _write_fix(OSError(errno.ETIMEDOUT, "Connection timed out"), root)
    assert "did not answer in time" in timed_out and "HEADWATER_S3_TIMEOUT_S" in timed_out
    assert "HEADWATER_S3_TIMEOUT_S" not in _write_fix(
        OSError(errno.ETIMEDOUT, "x"), "gs://bucket/prefix")
    assert "could not be reached" in _write_fix(OSError(errno.ECONNREFUSED, "x"), root)
    assert "could not be reached" in (_read_fix(OSError(errno.ECONNREFUSED, "x"), root) or "")
    assert _read_fix(OSError(errno.EIO, "x"), root) is None
    expired = _write_fix(OSError("ExpiredToken: The provided token has expired."), root)
    assert "no longer accepts this process's credentials" in expired
    denied = _write_fix(OSError("AccessDenied: Access Denied"), root)
    assert "may not write to the datastore" in denied and "s3:PutObject" in denied


def test_a_full_postgres_server_is_named_and_other_refusals_are_not():
    psycopg = pytest.importorskip("psycopg")
    from headwater.meta.postgres_waits import refused_connection

    url = "postgresql://alice:secret@db:5432/hw"
    full = refused_connection(url, psycopg.OperationalError(
        "connection failed: FATAL:  sorry, too many clients already"))
    assert full is not None and "max_connections reached" in str(full)
    assert "secret" not in str(full)
    assert refused_connection(url, psycopg.OperationalError("connection refused")) is None


def test_s3_options_bound_every_wait_unless_the_caller_set_its_own(monkeypatch):
    pytest.importorskip("s3fs")
    from headwater.store.s3_storage import bounded_options

    monkeypatch.setenv("HEADWATER_S3_TIMEOUT_S", "4")
    options, deadline = bounded_options({"config_kwargs": {"read_timeout": 99}, "anon": True})
    assert options["anon"] is True
    assert options["config_kwargs"]["connect_timeout"] == 4
    assert options["config_kwargs"]["read_timeout"] == 99  # the caller's own wins
    assert deadline == 28
