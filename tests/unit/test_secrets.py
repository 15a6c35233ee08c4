"""``@secrets``: sources parsed as Metaflow writes them, the built-in providers, and the checks
(names, clashes, overrides) whose errors name the secret, never a value."""

from __future__ import annotations

import json

import pytest

from headwater import backends, secrets, step
from headwater.decorators.secrets import SecretsError, fetch
from headwater.exceptions import FlowDefinitionError

WHERE = "step 'start' of flow F"


def _declared(*sources, allow_override=False):
    return [{"sources": list(sources), "role": None, "allow_override": allow_override}]


def test_the_providers_are_backends_of_the_secrets_kind() -> None:
    assert backends.names("secrets")[:2] == ["inline", "env"]
    assert callable(backends.get("secrets", "inline").load())


def test_inline_env_and_default_type_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDS", json.dumps({"USER_NAME": "kim"}))
    monkeypatch.setenv("TOKEN_SECRET", "t-1")
    got = fetch(_declared({"type": "inline", "options": {"env_vars": {"A": "1"}}}, "env.CREDS",
                          {"type": "env", "id": "TOKEN_SECRET", "options": {"env_var": "TOKEN"}}),
                WHERE)
    assert got == {"A": "1", "USER_NAME": "kim", "TOKEN": "t-1"}
    assert fetch(_declared("CREDS"), WHERE) == {"USER_NAME": "kim"}  # default type: env
    monkeypatch.setenv("METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE", "inline")
    assert fetch(_declared({"options": {"env_vars": {"B": "2"}}}), WHERE) == {"B": "2"}


def test_errors_name_the_secret_and_never_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIN", "hunter2")
    with pytest.raises(SecretsError) as caught:
        fetch(_declared("env.PLAIN"), WHERE)
    assert "'PLAIN' (env)" in str(caught.value) and "hunter2" not in str(caught.value)
    with pytest.raises(SecretsError, match="no secrets backend named 'vault'"):
        fetch(_declared("vault.db"), WHERE)
    bad_name = {"type": "inline", "options": {"env_vars": {"1BAD": "secret-value"}}}
    with pytest.raises(SecretsError, match="not a valid environment variable") as caught:
        fetch(_declared(bad_name), WHERE)
    assert "secret-value" not in str(caught.value)
    one = {"type": "inline", "id": "one", "options": {"env_vars": {"X": "a"}}}
    two = {"type": "inline", "id": "two", "options": {"env_vars": {"X": "b"}}}
    with pytest.raises(SecretsError, match="both set X"):
        fetch(_declared(one, two), WHERE)


def test_an_existing_variable_is_replaced_only_when_allowed() -> None:
    source = {"type": "inline", "options": {"env_vars": {"HOME_DIR": "/x"}}}
    with pytest.raises(SecretsError, match="would replace the environment variable HOME_DIR"):
        fetch(_declared(source), WHERE, environ={"HOME_DIR": "/home/kim"})
    assert fetch(_declared(source, allow_override=True), WHERE,
                 environ={"HOME_DIR": "/home/kim"}) == {"HOME_DIR": "/x"}


def test_malformed_sources_are_refused_when_the_class_is_defined() -> None:
    with pytest.raises(FlowDefinitionError, match="neither a string"):
        secrets(sources=[42])
    with pytest.raises(FlowDefinitionError, match="must be a list"):
        secrets(sources="env.X")


class InlineSecretFlow:
    @secrets(sources=[{"type": "inline", "options": {"env_vars": {"DB_PASSWORD": "hunter2"}}},
                      "env.CREDS"])
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_the_recorded_graph_names_inline_secrets_without_their_values() -> None:
    """``current.graph`` is recorded with every run (``_graph_info``): the names stay, the
    values do not."""
    from headwater.graph import check_flow
    from headwater.graph.info import graph_info

    info = graph_info(check_flow(InlineSecretFlow), InlineSecretFlow)
    assert "hunter2" not in json.dumps(info)
    (declared,) = [d for d in info["steps"]["start"]["decorators"] if d["name"] == "secrets"]
    assert declared["attributes"]["sources"] == [
        {"type": "inline", "options": {"env_vars": {"DB_PASSWORD": "***"}}}, "env.CREDS"]
