"""headwater.redaction.redact: every form of password libpq accepts is hidden, nothing else is."""

from __future__ import annotations

import pytest

from headwater.redaction import redact, without_password

PW = "Pw-7f3e"


@pytest.mark.parametrize(("text", "shown"), [
    (f"postgresql://hw:{PW}@db:5432/hw", "postgresql://hw:***@db:5432/hw"),
    (f"postgres://:{PW}@db/hw", "postgres://:***@db/hw"),
    (f"postgresql://hw:p%40{PW}@db/hw", "postgresql://hw:***@db/hw"),
    (f"postgresql://hw@db/hw?password={PW}", "postgresql://hw@db/hw?password=***"),
    # typed without percent-encoding: libpq cuts the password at '@' or '/', headwater hides all
    (f"postgresql://hw:{PW}@{PW}@db/hw", "postgresql://hw:***@db/hw"),
    (f"postgresql://hw:{PW}/{PW}@db/hw", "postgresql://hw:***@db/hw"),
    (f"postgresql://hw:{PW}?#{PW}@db/hw: failed", "postgresql://hw:***@db/hw: failed"),
    (f"postgresql://hw@db/hw?sslmode=require&sslpassword={PW}&x=1",
     "postgresql://hw@db/hw?sslmode=require&sslpassword=***&x=1"),
    (f"postgresql://hw@db/hw?pass%77ord={PW}", "postgresql://hw@db/hw?pass%77ord=***"),
    (f"host=db user=hw password={PW} dbname=hw", "host=db user=hw password=*** dbname=hw"),
    (f"host=db password='{PW} x\\' y' user=hw", "host=db password=*** user=hw"),
    (f"cannot connect to the metadata database postgresql://hw:{PW}@db/hw?PASSWORD={PW}",
     "cannot connect to the metadata database postgresql://hw:***@db/hw?PASSWORD=***"),
])
def test_every_form_of_password_is_hidden(text, shown):
    assert redact(text) == shown
    assert PW not in redact(text)


@pytest.mark.parametrize("text", [
    "postgresql://hw@db:5432/hw?sslmode=require",
    "sqlite:///home/me/.headwater/meta.sqlite",
    "s3://bucket/prefix",
    "mypassword=kept passwords are fine",
])
def test_text_without_a_password_is_unchanged(text):
    assert redact(text) == text


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://hw:s3cret@db.example:5432/runs", "postgresql://hw@db.example:5432/runs"),
    ("postgresql://hw:s3cret@[::1]:5432/runs", "postgresql://hw@[::1]:5432/runs"),
    ("postgresql://hw@db/runs?sslmode=require&pass%77ord=s3cret&SSLPassword=x",
     "postgresql://hw@db/runs?sslmode=require"),
    ("postgresql://hw@db/runs", "postgresql://hw@db/runs"),
    ("/data/meta.sqlite", "/data/meta.sqlite"),
])
def test_a_url_without_its_password_still_names_the_database(url, expected):
    assert without_password(url) == expected


@pytest.mark.parametrize(("text", "shown"), [
    ("six @ https://alice:TOK3N@pkgs.example/six.whl", "six @ https://alice:***@pkgs.example/six.whl"),
    ("pkg @ git+https://ghp_TOK3N@github.com/o/r.git", "pkg @ git+https://***@github.com/o/r.git"),
    ("https://conda.anaconda.org/t/TOK3N/private/linux-64",
     "https://conda.anaconda.org/t/***/private/linux-64"),
    ("postgresql://hw@db/runs", "postgresql://hw@db/runs"),  # a database's user is no secret
    ("write to bob@example.com", "write to bob@example.com"),
], ids=["password", "token-as-user", "conda-token", "database-user", "mail-address"])
def test_a_package_urls_credentials_are_masked(text, shown):
    from headwater.redaction import hide_url_credentials

    assert hide_url_credentials(text) == shown
    assert redact(text) == shown


# Text built to make a regular expression read the rest of the line again from every position:
# each took seconds at 48 KB before (a run of '?' 19 s), so minutes at the size below.
_LONG = 400_000
_ADVERSARIAL = {
    "userinfo-without-at": "a://b:" * (_LONG // 6),
    "scheme-letters": "a." * (_LONG // 2),
    "scheme-dashes": "a-" * (_LONG // 2),
    "query-marks": "?" * _LONG,
    "query-names": "?a" * (_LONG // 2),
    "token-without-at": "a://b" * (_LONG // 5),
    "userinfo-after-at": "a://b:@" + "a://b:" * (_LONG // 6),
}
_LINEAR_CHECK = """
import json, sys
from headwater.redaction import redact, without_password
cases = json.loads(sys.stdin.read())
for name, text in cases.items():
    tail = " postgresql://hw:SECRET@db/x?sslpassword=SECRET2 https://TOKEN@host/p"
    shown = redact(text + tail)
    assert "SECRET" not in shown and "TOKEN" not in shown, name
    assert text[-1000:] in shown, name
    without_password(text)
print("done")
"""


def test_redaction_takes_time_linear_in_the_text_however_it_is_built():
    """Every error the command line prints goes through ``redact``: text quoting a long value
    must not hold the process (a subprocess with a generous deadline, no timing asserted)."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _LINEAR_CHECK], input=json.dumps(_ADVERSARIAL),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


@pytest.mark.parametrize(("text", "shown"), [
    ("x.https://TOK3N@host/p", "x.https://***@host/p"),
    ("1.https://TOK3N@host/p", "1.https://***@host/p"),
    ("see https://alice:PW@h a://b:c", "see https://alice:***@h a://b:c"),
    ("?x?password=PW", "?x?password=***"),
    ("postgresql+psycopg2://hw@db/x", "postgresql+psycopg2://hw@db/x"),
])
def test_schemes_and_query_names_are_read_as_before_in_linear_time(text, shown):
    assert redact(text) == shown
