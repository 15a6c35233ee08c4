"""``@secrets(sources=[...])``: environment variables a step's task gets from secret providers.

A source is Metaflow's spec: a dict ``{"type": "inline", "id": "...", "options": {...}}`` or a
string ``"TYPE.ID"`` (``"ID"`` alone takes the default type: ``HEADWATER_DEFAULT_SECRETS_BACKEND_TYPE``
or ``METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE``, else ``env``). Providers are backends of the kind
``secrets`` (:mod:`headwater.backends`); two are built in:

* ``inline``: the variables are in the source itself, ``options={"env_vars": {"NAME": "value"}}``
  (for tests and examples, as in Metaflow);
* ``env``: the secret ``ID`` is an environment variable of the launching process holding a JSON
  object of variables (the shape of a JSON secret in a secrets manager); a value that is not a
  JSON object becomes the one variable named ``options["env_var"]``.

The secrets are fetched in the task's own process, just before the step runs, and set in its
environment only: they are never printed, stored as artifacts or recorded in metadata. Errors name
the step and the secret, never a value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator
from headwater.exceptions import FlowDefinitionError, HeadwaterException

if TYPE_CHECKING:
    from headwater.decorators.typed import SecretsFunction

DEFAULT_TYPE = "env"
DEFAULT_TYPE_ENV_VARS = ("HEADWATER_DEFAULT_SECRETS_BACKEND_TYPE",
                         "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE")
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # a pattern string: re compiles (and caches) it on first use


class SecretsError(HeadwaterException):
    """A secret could not be fetched or gives unusable variables (never shows a value)."""

    headline = "Secrets error"


class SecretsDecorator(StepDecorator):
    name = "secrets"
    defaults = {"sources": [], "role": None, "allow_override": False}
    examples = {"sources": "['env.MY_SECRETS']"}

    def validate(self) -> None:
        sources = self.attributes["sources"]
        if not isinstance(sources, (list, tuple)):
            raise self.bad_option("sources", "must be a list of strings or dicts")
        for source in sources:
            if isinstance(source, str):
                continue
            if not isinstance(source, dict):
                raise self.bad_option("sources", f"{type(source).__name__} is neither a string "
                                      "('TYPE.ID') nor a dict ({'type': ..., 'options': ...})")
            if not isinstance(source.get("type", ""), str):
                raise self.bad_option("sources", "a source's 'type' must be a string")
            if not isinstance(source.get("options", {}), dict):
                raise self.bad_option("sources", "a source's 'options' must be a dict")

    def bad_option(self, option: str, why: str) -> FlowDefinitionError:
        """Names the option, never its value: a source may hold inline secret values."""
        return FlowDefinitionError(f"@{self.name}({option}=...): {why}")

    def __repr__(self) -> str:
        sources = self.attributes['sources']
        count = len(sources) if isinstance(sources, (list, tuple)) else 1
        return f"@{self.name}({count} source(s))"

    def apply(self, policy: StepPolicy) -> None:
        policy.secrets.append({"sources": list(self.attributes["sources"]),
                               "role": self.attributes["role"],
                               "allow_override": bool(self.attributes["allow_override"])})


secrets: SecretsFunction = make_step_decorator(SecretsDecorator)


def _spec(source: str | Mapping[str, Any], role: str | None) -> tuple[str, str | None, dict, Any]:
    """``(type, id, options, role)`` of one source, the default type filled in."""
    default = next((os.environ[v] for v in DEFAULT_TYPE_ENV_VARS if os.environ.get(v)),
                   DEFAULT_TYPE)
    if isinstance(source, str):
        kind, dot, secret_id = source.partition(".")
        return (kind, secret_id, {}, role) if dot else (default, source, {}, role)
    return (source.get("type") or default, source.get("id"), dict(source.get("options") or {}),
            source.get("role", role))


def fetch(declarations: list[dict[str, Any]], where: str,
          environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every variable the ``@secrets`` of one step give, checked (names, clashes, overrides)."""
    from headwater import backends

    env = os.environ if environ is None else environ
    found: dict[str, tuple[str, str]] = {}  # name -> (value, the secret that gave it)
    for declaration in declarations:
        for source in declaration["sources"]:
            kind, secret_id, options, role = _spec(source, declaration["role"])
            label = f"secret {secret_id or '(inline)'!r} ({kind})"
            try:
                provider = backends.get("secrets", kind).load()
            except HeadwaterException as err:
                raise SecretsError(f"{where}: {label}: {err.msg}", fix=err.fix) from None
            try:
                values = _ask(provider, secret_id, options, role)
            except SecretsError as err:
                raise SecretsError(f"{where}: {label}: {err.msg}", fix=err.fix) from None
            except Exception as err:  # noqa: BLE001 - a provider's own failure, named
                raise SecretsError(f"{where}: fetching {label} failed: {type(err).__name__}",
                                   fix="check the secret's id and the provider's access") from None
            for name, value in _checked(values, f"{where}: {label}").items():
                if name in found and found[name][1] != label:
                    raise SecretsError(f"{where}: {label} and {found[name][1]} both set {name}",
                                       fix="give each variable from one secret only")
                if name in env and not declaration["allow_override"]:
                    raise SecretsError(f"{where}: {label} would replace the environment "
                                       f"variable {name}", fix="unset it, or pass "
                                       "allow_override=True to @secrets")
                found[name] = (value, label)
    return {name: value for name, (value, _) in found.items()}


def _ask(provider: Any, secret_id: str | None, options: dict[str, Any], role: Any) -> Any:
    """A provider is a function ``(secret_id, options, role)``, or a class written against
    Metaflow's ``SecretsProvider`` (``get_secret_as_dict``), made afresh for each secret."""
    if isinstance(provider, type):
        return provider().get_secret_as_dict(secret_id, options=options, role=role)
    return provider(secret_id, options, role)


def get_secret(source: str | Mapping[str, Any], role: str | None = None) -> dict[str, str]:
    """The variables one secret source gives (Metaflow's ``get_secret``), checked as
    ``@secrets`` checks them, without setting them anywhere."""
    if not isinstance(source, (str, Mapping)):
        raise SecretsError(f"get_secret: a source is a string ('TYPE.ID') or a dict, not a "
                           f"{type(source).__name__}", fix="pass e.g. 'inline.ID' or "
                           "{'type': 'inline', 'options': {...}}")
    return fetch([{"sources": [source], "role": role, "allow_override": True}], "get_secret")


def _checked(values: Any, what: str) -> dict[str, str]:
    if not isinstance(values, Mapping):
        raise SecretsError(f"{what} gave a {type(values).__name__}, not variables",
                           fix="a secret must hold a JSON object of NAME -> value")
    for name, value in values.items():
        if not isinstance(name, str) or not re.match(_NAME, name):
            raise SecretsError(f"{what}: {name!r} is not a valid environment variable name",
                               fix="use letters, digits and underscores, not starting with a "
                               "digit")
        if not isinstance(value, str):
            raise SecretsError(f"{what}: the value of {name} is a {type(value).__name__}, "
                               "not a string", fix="store every value as a string")
    return dict(values)


# -- the built-in providers (backends of kind "secrets") ----------------------------------------

def inline_provider(secret_id: str | None, options: dict[str, Any], role: Any) -> dict[str, str]:
    """``{"type": "inline", "options": {"env_vars": {...}}}``: the variables as given."""
    env_vars = options.get("env_vars", {})
    if not isinstance(env_vars, Mapping):
        raise SecretsError("options['env_vars'] must be a dict of NAME -> value",
                           fix='e.g. {"type": "inline", "options": {"env_vars": {"KEY": "v"}}}')
    return dict(env_vars)


def env_provider(secret_id: str | None, options: dict[str, Any], role: Any) -> dict[str, str]:
    """The environment variable ``secret_id``: a JSON object of variables, or one value."""
    if not secret_id:
        raise SecretsError("an env secret needs an id (the environment variable holding it)",
                           fix='e.g. "env.DB_CREDENTIALS" or {"type": "env", "id": "..."}')
    raw = os.environ.get(secret_id)
    if raw is None:
        raise SecretsError(f"the environment variable {secret_id} is not set",
                           fix=f"export {secret_id} (a JSON object of NAME -> value) where the "
                           "run is launched")
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    if "env_var" not in options:
        raise SecretsError(f"the environment variable {secret_id} does not hold a JSON object",
                           fix="store a JSON object of NAME -> value in it, or name the one "
                           'variable to set: {"type": "env", "id": "...", "options": '
                           '{"env_var": "NAME"}}')
    return {str(options["env_var"]): raw}
