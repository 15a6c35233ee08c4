"""Reading a flow's configs at launch: ``--config NAME FILE``, ``--config-value NAME TEXT``, defaults.

This runs before the graph is checked, so a bad file stops the launch with a message naming the
config, before a run id is allocated. Values become :class:`ConfigValue` s stored with the run.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from headwater.exceptions import ConfigError
from headwater.flow.config import Config, ConfigValue, flow_configs
from headwater.flow.parameters import MAX_JSON_DEPTH, nested_too_deep
from headwater.local_read import locate_default
from headwater.spelling import closest


def config_scope(flow_cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Names a config expression sees once the values are resolved: each config under its
    attribute name and under its config name (``config_expr("settings.lr")``)."""
    scope: dict[str, Any] = {}
    for attr, cfg in flow_configs(flow_cls).items():
        if attr in values:
            scope[cfg.name] = values[attr]
            scope[attr] = values[attr]
    return scope


def resolve_configs(flow_cls: type, files: Sequence[tuple[str, str]] = (),
                    values: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """Every config of ``flow_cls``, attribute name -> value (None when unset and optional).

    ``files`` and ``values`` are ``(config name, path)`` and ``(config name, text)`` pairs from
    the command line; they win over the defaults.
    """
    configs = flow_configs(flow_cls)
    by_name = {cfg.name: attr for attr, cfg in configs.items()}
    given: dict[str, tuple[str, str]] = _from_environment(by_name)
    for kind, pairs in (("file", files), ("value", values)):
        for name, text in pairs:
            if name not in by_name:
                known = ", ".join(sorted(by_name)) or "none"
                close = closest(name, by_name)
                raise ConfigError(
                    f"flow {flow_cls.__name__} has no config named {name!r}"
                    + (f"; did you mean {close!r}?" if close else ""),
                    fix=f"its configs are: {known}" if by_name else
                    f"declare it in the flow: {name} = Config({name!r}, default='{name}.json')",
                )
            given[name] = (kind, text)
    return {attr: config_value(flow_cls, cfg, given.get(cfg.name)) for attr, cfg in configs.items()}


# Metaflow's environment variables for configs: a JSON object of config name -> file path, and of
# config name -> value. The command line wins over them.
_ENV_FILES = ("HEADWATER_FLOW_CONFIG", "METAFLOW_FLOW_CONFIG")
_ENV_VALUES = ("HEADWATER_FLOW_CONFIG_VALUE", "METAFLOW_FLOW_CONFIG_VALUE")


def config_variables_set() -> list[str]:
    """The config environment variables set (non-empty) in this process, in a fixed order:
    ``resume`` ignores them, as it ignores ``--config``, and says so."""
    return [var for var in _ENV_FILES + _ENV_VALUES if os.environ.get(var)]


def _from_environment(known: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    given: dict[str, tuple[str, str]] = {}
    for kind, names in (("file", _ENV_FILES), ("value", _ENV_VALUES)):
        for var in reversed(names):  # the headwater name wins over Metaflow's
            text = os.environ.get(var)
            if not text:
                continue
            try:
                mapping = json.loads(text)
            except json.JSONDecodeError as err:
                raise ConfigError(f"{var} is not valid JSON ({err.msg})",
                                  fix=f'set it to an object, e.g. {var}=\'{{"name": ...}}\'') from None
            except RecursionError:
                raise ConfigError(f"{var} is nested more than {MAX_JSON_DEPTH} levels deep",
                                  fix=f'set it to an object, e.g. {var}=\'{{"name": ...}}\'') from None
            except ValueError:  # an integer of more digits than Python converts
                raise ConfigError(
                    f"{var} holds an integer of more than {sys.get_int_max_str_digits()} digits, "
                    "more than Python reads",
                    fix="give such a number as a string, and convert it where it is used") from None
            if not isinstance(mapping, dict):
                raise ConfigError(f"{var} must be a JSON object of config name -> "
                                  f"{'file' if kind == 'file' else 'value'}")
            for name, value in mapping.items():
                if name in known:  # names of other flows' configs are not this flow's business
                    text_value = value if kind == "file" or isinstance(value, str) else json.dumps(value)
                    given[name] = (kind, str(text_value))
    return given


def config_value(flow_cls: type, cfg: Config, given: tuple[str, str] | None) -> Any:
    """One config's value from ``given`` (``('file', path)`` or ``('value', text)``) or its default.

    A ConfigValue, None when unset and optional, or for a ``plain`` config the value as it is.
    """
    if given is not None:
        kind, text = given
        if kind == "file":
            return _parse(cfg, _read(cfg, text, f"--config {cfg.name} {text}"), text)
        return _parse(cfg, text, f"--config-value {cfg.name}")
    if callable(cfg.default_value):  # Metaflow: called with a context, returns the value
        made = cfg.default_value(_context(flow_cls, cfg))
        return _given_value(cfg, made, "its default_value function")
    if cfg.default_value is not None:
        return _given_value(cfg, cfg.default_value, "its default_value")
    if cfg.default is not None:
        default = cfg.default(_context(flow_cls, cfg)) if callable(cfg.default) else cfg.default
        if default is not None:
            path = locate_default(flow_cls, str(default))
            return _parse(cfg, _read(cfg, path, f"its default {default!r}"), path)
    if cfg.required:
        raise ConfigError(
            f"flow {flow_cls.__name__} needs a value for the required config '{cfg.name}'",
            fix=f"pass --config {cfg.name} FILE (or --config-value {cfg.name} JSON) before the command",
        )
    return None


def _context(flow_cls: type, cfg: Config) -> Any:
    """What a default function receives (a config's default cannot read other configs)."""
    from headwater.flow.parameters import ParameterContext
    from headwater.settings import current_username

    return ParameterContext(flow_cls.__name__, current_username(), cfg.name)


def _given_value(cfg: Config, value: Any, origin: str) -> Any:
    """A default given as a value. Text goes through the parser. A mapping is used as it is,
    unless the config has a parser or is plain: then, as in Metaflow, it is the JSON text of the
    mapping that the parser reads (or that a plain config holds)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        if cfg.parser is None and not cfg.plain:
            return ConfigValue(value)
        try:
            value = json.dumps(value)
        except (TypeError, ValueError):  # not JSON (a set, an object): nothing to parse
            return value if cfg.plain else ConfigValue(value)
    elif not isinstance(value, str) and cfg.plain:
        return value  # a plain config may hold any object its default function makes
    return _parse(cfg, str(value), origin)


CONFIG_FILE_MAX = 64 << 20
"""The largest config file read (a config is parsed in memory and kept with the run): a path
naming ``/dev/zero`` or an endless pipe is refused once this much has been read."""


def _read(cfg: Config, path: str, origin: str) -> str:
    """The text of the config file ``path``, read in bounded memory and time (a folder, a pipe
    nothing writes to, a file or device past :data:`CONFIG_FILE_MAX` are each one error)."""
    from headwater.local_read import (
        PIPE_WAIT_ENV,
        NotReadable,
        open_local,
        pipe_wait_s,
        read_at_most,
    )

    wait = pipe_wait_s()
    if wait is None:
        raise ConfigError(
            f"config '{cfg.name}': {PIPE_WAIT_ENV}={os.environ[PIPE_WAIT_ENV].strip()!r} is not "
            "a number of seconds", fix=f"set {PIPE_WAIT_ENV} to a number of seconds, e.g. 120")
    try:
        with open_local(path, wait) as handle:
            data = read_at_most(handle, CONFIG_FILE_MAX)
    except NotReadable as err:
        raise _not_readable(cfg, path, origin, err) from None
    except FileNotFoundError:
        raise ConfigError(
            f"config '{cfg.name}': file {path!r} ({origin}) does not exist",
            fix=f"create it, or pass another with --config {cfg.name} PATH before the command",
        ) from None
    except OSError as err:
        raise ConfigError(f"config '{cfg.name}': cannot read {path!r}: {err.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config '{cfg.name}': {path!r} ({origin}) is not UTF-8 text "
                          f"({err.reason} at byte {err.start})",
                          fix="save the file as UTF-8") from None


def _not_readable(cfg: Config, path: str, origin: str, err: Exception) -> ConfigError:
    why, detail = err.args
    fix = f"pass a file with --config {cfg.name} PATH"
    if why == "folder":
        return ConfigError(f"config '{cfg.name}': {path!r} ({origin}) is a folder, not a file",
                           fix=fix)
    if why == "no writer":
        return ConfigError(f"config '{cfg.name}': nothing wrote to the pipe {path!r} ({origin}) "
                           f"within {detail}", fix=f"start the program writing to it first, {fix}")
    return ConfigError(f"config '{cfg.name}': {path!r} ({origin}) is larger than the limit of "
                       f"{CONFIG_FILE_MAX} bytes for a config ({detail})", fix=fix)


def _parse(cfg: Config, text: str, origin: str) -> Any:
    """``text`` through the config's parser: a ConfigValue, or for a ``plain`` config whatever the
    parser returns (the text itself when it has none)."""
    if cfg.plain and cfg.parser is None:
        return text
    parser = _parser(cfg)
    try:
        value = parser(text)
    except json.JSONDecodeError as err:
        from headwater.flow.parameters import python_literal_as_json

        python = python_literal_as_json(text)
        raise ConfigError(
            f"config '{cfg.name}' ({origin}) is not valid JSON: {err.msg} at line {err.lineno}, "
            f"column {err.colno}",
            fix=(f"write it as JSON, with strings in double quotes and true/false/null: "
                 f"{python}" if python else
                 "fix the JSON, or give the Config a parser= for another format"),
        ) from None
    except RecursionError:  # json.loads (or a user's parser) on [[[[...]]]]
        raise _too_deep(cfg, origin) from None
    except Exception as err:  # a user's parser
        raise ConfigError(
            f"config '{cfg.name}' ({origin}) could not be parsed: {type(err).__name__}: {err}"
        ) from None
    if nested_too_deep(value):
        raise _too_deep(cfg, origin)
    if cfg.plain:
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"config '{cfg.name}' ({origin}) must be a mapping (a JSON object); "
            f"got {type(value).__name__}",
            fix='wrap the value in an object, e.g. {"values": [...]}, or declare the Config '
            "with plain=True to keep any value as its parser returns it",
        )
    return ConfigValue(value)


def _too_deep(cfg: Config, origin: str) -> ConfigError:
    return ConfigError(
        f"config '{cfg.name}' ({origin}) is nested more than {MAX_JSON_DEPTH} levels deep: "
        "storing it would exhaust Python's stack",
        fix="flatten the config, or keep the deep part in a file a step reads",
    )


def _parser(cfg: Config) -> Callable[[str], Any]:
    parser = cfg.parser
    if parser is None:
        return json.loads
    if callable(parser):
        return parser
    module, _, attr = str(parser).rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(
            f"config '{cfg.name}': parser {parser!r} cannot be imported",
            fix="give a callable or a dotted name such as 'tomllib.loads'",
        ) from None


def configs_from_refs(flow_cls: type, refs: Mapping[str, Any], store: Any,
                      where: str) -> dict[str, Any]:
    """The config values of a recorded run (for resume and spin), attribute name -> value."""
    return {
        attr: store.load_artifact(refs[attr], name=attr, where=where)
        for attr in flow_configs(flow_cls) if attr in refs
    }


class ConfigSources(NamedTuple):
    """What the command line gave for the flow's configs: ``--config NAME FILE`` and
    ``--config-value NAME TEXT`` pairs."""

    files: tuple[tuple[str, str], ...] = ()
    values: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.files or self.values)


class LaunchConfigs(NamedTuple):
    """A run's configs: ``values`` (attribute name -> value, stored with the run) and ``scope``
    (the names a ``config_expr`` sees: attribute and config names)."""

    values: dict[str, Any]
    scope: dict[str, Any]


def launch_configs(flow_cls: type, sources: ConfigSources) -> LaunchConfigs:
    """The configs of a new run, read from ``sources`` and the defaults."""
    values = resolve_configs(flow_cls, sources.files, sources.values)
    return LaunchConfigs(values, config_scope(flow_cls, values))


def recorded_configs(flow_cls: type, refs: Mapping[str, Any], store: Any,
                     where: str) -> LaunchConfigs:
    """The configs a recorded run was launched with (resume and spin reuse them)."""
    values = configs_from_refs(flow_cls, refs, store, where)
    return LaunchConfigs(values, config_scope(flow_cls, values))
