"""Run parameters: class attributes of a flow that become ``--name`` options of ``run``.

A Parameter is a data descriptor: inside a step ``self.alpha`` returns the run's value (loaded
lazily like any artifact), and assigning to it is refused, because parameters are read-only
artifacts shared by every task of the run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from headwater.exceptions import (
    ConfigError,
    FlowDefinitionError,
    ParameterError,
    ReservedAttributeError,
)
from headwater.flow.config import ConfigExpr
from headwater.flow.members import class_members
from headwater.records import Field, Record
from headwater.spelling import closest

# Deeper JSON than this is refused: parsing or pickling it would exhaust Python's stack.
MAX_JSON_DEPTH = 200


class JSONTypeClass:
    """Parameter type for structured values given as JSON text on the command line."""

    name = "JSON"

    def convert(self, raw: Any, param: str) -> Any:
        if not isinstance(raw, str):  # a default (or its function's result) given as an object
            if _depth_over(raw, MAX_JSON_DEPTH):
                raise _too_deep(param)
            return raw
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as err:
            python = python_literal_as_json(raw)
            fix = (f"write it as JSON, with strings in double quotes and true/false/null: "
                   f"--{param} '{python}'" if python else
                   f"quote the value for the shell, e.g. --{param} '{{\"key\": 1}}'")
            raise ParameterError(
                f"parameter '{param}' expects JSON; could not parse {_clip(raw)!r}: {err.msg} "
                f"at character {err.pos}", fix=fix) from None
        except RecursionError:
            raise _too_deep(param) from None
        except ValueError:  # an integer of more digits than Python converts (sys.int_info)
            raise ParameterError(
                f"parameter '{param}' expects JSON; {_clip(raw)!r} holds an integer of more "
                f"than {sys.get_int_max_str_digits()} digits, more than Python reads",
                fix=f"give such a number as a string in the JSON of --{param}, e.g. "
                '["123...789"], and convert it in the step') from None
        if _depth_over(value, MAX_JSON_DEPTH):
            raise _too_deep(param)
        return value

    def __repr__(self) -> str:
        return "JSONType"


def python_literal_as_json(raw: str) -> str | None:
    """The JSON of ``raw`` when it is a Python literal JSON cannot read (``{'lr': [0.1]}``,
    ``[True, None]``: a dict or list typed as Python writes it), else None."""
    if len(raw) > 10_000:
        return None
    import ast  # only for this error

    try:
        value = ast.literal_eval(raw)
        text = json.dumps(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return text if isinstance(value, (dict, list)) and "'" not in text else None


def _too_deep(param: str) -> ParameterError:
    return ParameterError(
        f"parameter '{param}': its JSON value is nested more than {MAX_JSON_DEPTH} levels deep",
        fix=f"flatten the value of --{param}, or pass a file name and read the file in a step",
    )


def _depth_over(value: Any, limit: int) -> bool:
    """Whether lists/objects nest deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def nested_too_deep(value: Any) -> bool:
    """Whether a parsed JSON-like ``value`` nests deeper than :data:`MAX_JSON_DEPTH` (storing
    it, or reading it back, would exhaust Python's stack)."""
    return _depth_over(value, MAX_JSON_DEPTH)


def _clip(text: str, keep: int = 200) -> str:
    """``text`` cut to ``keep`` characters for a message (a huge value must not flood it)."""
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text)} characters)"


JSONType = JSONTypeClass()

_SCALARS: dict[type, str] = {str: "text", int: "an integer", float: "a number", bool: "a boolean"}
_TRUE = {"true", "1", "yes", "y", "on", "t"}
_FALSE = {"false", "0", "no", "n", "off", "f"}


class _ConfigNames:
    """``ctx.configs``: the configs by name, with attribute access."""

    def __init__(self, configs: Mapping[str, Any]) -> None:
        self._configs = configs

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_configs"][name]
        except KeyError:
            raise AttributeError(f"the flow has no config named {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return self._configs[name]


def _a_decimal(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class ParameterContext(Record, frozen=True):
    """Passed to a callable default, as Metaflow does for deploy-time values."""

    flow_name: str
    user_name: str
    parameter_name: str
    configs: Any = Field(None, compare=False)  # the run's configs by name (``ctx.configs.cfg.key``), as with Metaflow


# Metaflow hands a Parameter's extra keywords to its command-line option; these are accepted for
# flows written for Metaflow. ``envvar`` names the variable(s) the value may come from (as the
# option's does, see env_default); the others change nothing here. Any other keyword is a typo,
# and refused.
IGNORED_OPTION_KEYWORDS = frozenset({"hidden", "metavar", "envvar", "show_envvar"})


def _both_spellings(*names: str) -> frozenset[str]:
    return frozenset(n for name in names for n in (name, name.replace("-", "_")))


# Names a Parameter may not take: Metaflow's list (options of run/resume and its Runner), which
# it refuses too, so no flow written for Metaflow uses them. headwater's own run options
# (--environment, --executor, --no-cache) are not on it: a Metaflow flow may well have an
# `environment` parameter, and its value wins over the option (see docs/decisions.md).
RESERVED_PARAMETER_NAMES = _both_spellings(
    "params", "with", "tag", "namespace", "obj", "tags", "decospecs", "run-id-file",
    "max-num-splits", "max-workers", "max-log-size", "user-namespace", "run-id", "task-id",
    "runner-attribute-file")


class Parameter:
    """A typed run parameter.

    **Parameters:** ``name`` (the option name), ``default`` (a value or a callable taking a
    ParameterContext), ``type`` (str, int, float, bool or JSONType; inferred from the default:
    a default of another class, such as ``Path("data")``, reads a given value with that class),
    ``help``, ``required``, ``show_default``, ``separator`` (split a string value into a list),
    ``multiple`` (the option may be repeated, ``--v 1 --v 2``, and the value is a tuple of
    converted values, ``()`` when none is given: the click option Metaflow passes it to).
    """

    is_include_file = False

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,  # noqa: A002 - Metaflow's keyword
        help: str | None = None,  # noqa: A002
        required: bool = False,
        show_default: bool = True,
        separator: str | None = None,
        multiple: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise FlowDefinitionError(f"Parameter name must be a non-empty string, got {name!r}")
        if name in RESERVED_PARAMETER_NAMES:
            raise FlowDefinitionError(
                f"Parameter name '{name}' is taken by an option of run/resume (--{name}), so "
                "the parameter could never be given",
                fix=f"rename it, e.g. Parameter('{name}_value', ...); the attribute may keep its "
                "name")
        unknown = sorted(set(kwargs) - IGNORED_OPTION_KEYWORDS)
        if unknown:
            raise FlowDefinitionError(
                f"Parameter '{name}' got unknown keyword argument(s) {', '.join(unknown)}"
                + _meant(unknown),
                fix="Parameter takes name, default, type, help, required, show_default, "
                "separator and multiple (check the spelling)",
            )
        self.name = name
        self.default = default
        self.help = help
        self.required = required
        self.show_default = show_default
        self.separator = separator
        self.multiple = bool(multiple)
        self.kwargs = kwargs
        self.type_given = type is not None
        inferred_from = default
        if self.multiple and isinstance(default, (list, tuple)):
            # the default is the list of values: each value gives the type, not the list
            inferred_from = default[0] if default else None
        self.type = type if type is not None else self._infer_type(inferred_from)
        self.attr_name = name  # replaced by __set_name__ with the class attribute's name

    @staticmethod
    def _infer_type(default: Any) -> Any:
        if callable(default) or default is None or isinstance(default, ConfigExpr):
            return str
        for scalar in (bool, int, float, str):
            if isinstance(default, scalar):
                return scalar
        if isinstance(default, (dict, list)):
            return JSONType
        kind = type(default)
        if kind not in (tuple, set, frozenset) and kind.__module__ != "builtins":
            # `default=Path("data")`: as in Metaflow, a value given is read with the default's
            # own class (`--source other` is Path('other'), not the text 'other')
            return kind
        return str

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr_name = attr

    # -- descriptor: read-only artifact --------------------------------------------------------
    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._hw_get_parameter(self.attr_name)

    def __set__(self, instance: Any, value: Any) -> None:
        raise ReservedAttributeError(
            f"cannot assign to 'self.{self.attr_name}': it is the parameter '{self.name}' and "
            "parameters are read-only",
            fix=f"store a derived value under another name, e.g. self.{self.attr_name}_used = ...",
        )

    # -- values --------------------------------------------------------------------------------
    @property
    def type_label(self) -> str:
        if self.type is JSONType or isinstance(self.type, JSONTypeClass):
            return "JSON"
        return getattr(self.type, "__name__", str(self.type))

    def env_default(self) -> str | None:
        """METAFLOW_RUN_<NAME> / HEADWATER_RUN_<NAME> give a default from the environment.

        ``Parameter(..., envvar="NAME")`` (a name or a list of names, the first one set wins)
        is read before those two, as Metaflow's click option reads the variables it names
        before its ``METAFLOW_RUN_`` ones."""
        named = self.kwargs.get("envvar")
        for variable in [named] if isinstance(named, str) else list(named or ()):
            if variable in os.environ:
                return os.environ[variable]
        suffix = self.name.upper().replace("-", "_")
        for prefix in ("HEADWATER_RUN_", "METAFLOW_RUN_"):
            if prefix + suffix in os.environ:
                return os.environ[prefix + suffix]
        return None

    def resolve_default(self, flow_name: str, user: str,
                        configs: Mapping[str, Any] | None = None) -> Any:
        """The default's value: a callable is called, a config_expr evaluated."""
        default = self.default
        if isinstance(default, ConfigExpr):
            try:
                default = default.evaluate(configs or {})
            except ConfigError as err:  # say whose default it was
                raise ConfigError(f"the default of parameter '{self.name}': {err.msg}",
                                  fix=err.fix) from None
            if not self.type_given and default is not None:
                # The type could not be inferred from an expression; infer it from its value.
                self.type = self._infer_type(default)
        elif callable(default) and not isinstance(default, type):
            function = default
            default = function(ParameterContext(flow_name, user, self.name,
                                                _ConfigNames(configs or {})))
            self._check_function_value(function, default, flow_name)
        return default

    def _check_function_value(self, function: Any, value: Any, flow_name: str = "") -> None:
        """A default function must return the parameter's own type, as Metaflow checks: the
        type of such a default is not inferred (it is ``str`` unless declared), so an ``int``
        returned for an undeclared type would silently become a string."""
        kind = self.type
        name = getattr(function, "__name__", "")
        name = name if name.isidentifier() else "..."
        if isinstance(kind, JSONTypeClass) and value is not None and not isinstance(value, str):
            # Metaflow refuses it too ("Expected a string"): a default function gives the text
            # the command line would, which JSONType then parses.
            import reprlib  # only for this error: a value of any depth, shown within bounds

            bounded = reprlib.Repr()
            bounded.maxlevel, bounded.maxstring, bounded.maxother = 3, 60, 60
            shown = _clip(bounded.repr(value))
            of_flow = f" of flow {flow_name}" if flow_name else ""
            raise FlowDefinitionError(
                f"parameter '{self.name}' (type=JSONType){of_flow}: its default function"
                f"{'' if name == '...' else ' ' + name} returned {type(value).__name__} "
                f"{shown}, but a JSONType default function returns JSON text, as the command "
                "line gives it",
                fix=f"return json.dumps(...) of the value (e.g. return json.dumps({shown})), or "
                f"give the value itself as the default: Parameter('{self.name}', "
                f"type=JSONType, default={shown})")
        if value is None or kind not in (bool, int, float, str) or type(value) is kind:
            return
        declared = f"type={kind.__name__}" if self.type_given else "no type (so str)"
        wanted = type(value).__name__ if type(value) in (bool, int, float) else kind.__name__
        raise FlowDefinitionError(
            f"parameter '{self.name}': its default function{'' if name == '...' else ' ' + name} returned "
            f"{type(value).__name__} {value!r}, but the parameter has {declared}",
            fix=f"declare Parameter('{self.name}', type={wanted}, default={name}) (a default "
            f"function's type is never inferred), or return a {kind.__name__}",
        )

    def convert(self, raw: Any) -> Any:
        """Turn a command-line string into a typed value, or raise ParameterError naming it."""
        if self.multiple:
            # a repeated option (or a list default) is a tuple of values; a single value
            # (a scalar default, the environment's) is a tuple of one
            values = raw if isinstance(raw, (list, tuple)) else (raw,)
            return tuple(self._convert_one(value) for value in values)
        if self.separator is not None and isinstance(raw, str):
            return [self._convert_one(part) for part in raw.split(self.separator)]
        return self._convert_one(raw)

    def _convert_one(self, raw: Any) -> Any:
        kind = self.type
        if isinstance(kind, JSONTypeClass):
            return kind.convert(raw, self.name)
        if not isinstance(raw, str):
            return _as_declared(kind, raw)
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise self._bad(raw, "a boolean (true/false)")
        if kind in (int, float, str):
            try:
                return kind(raw)
            except ValueError:
                raise self._bad(raw, _SCALARS[kind]) from None
        container = getattr(kind, "__origin__", kind)
        if container in (list, tuple, set, frozenset, dict):
            # `type=list` (or list[float]) would call list('[0.5]'): five characters, silently
            # (Metaflow's click does the same). No text is meant that way.
            declared = kind.__name__ if kind is container else repr(kind)
            raise ParameterError(
                f"parameter '{self.name}' is declared type={declared}, which reads the text "
                f"{raw!r} as {container.__name__}({raw!r}): one item per character, not the "
                f"values written",
                fix=f"declare Parameter('{self.name}', type=JSONType, ...) and pass "
                f"--{self.name} '[0.1, 0.2]' (JSON; a dict as '{{\"a\": 1}}'); or, for a list, "
                f"separator=',' with type= the type of one item (--{self.name} 0.1,0.2)")
        if callable(kind):
            try:
                return kind(raw)
            except Exception as err:  # a user-supplied converter
                fix = None
                if isinstance(kind, type) and hasattr(kind, "fromisoformat"):
                    # `type=datetime.date`: the class is called with the text, which it does
                    # not parse; its `fromisoformat` does.
                    fix = (f"declare Parameter('{self.name}', type={kind.__name__}.fromisoformat, "
                           f"...) to read ISO text such as --{self.name} 2026-11-02 (type="
                           f"{kind.__name__} calls {kind.__name__}({raw!r}), which does not parse "
                           "text)")
                raise self._bad(raw, f"a value accepted by {self.type_label} ({err})",
                                fix=fix) from None
        optional = [arm for arm in getattr(kind, "__args__", ()) if arm is not type(None)]
        fix = (f"declare Parameter('{self.name}', type={optional[0].__name__}, default=None): "
               "type= takes one type, and a parameter without a value given is None when its "
               "default is" if len(optional) == 1 and isinstance(optional[0], type) else
               "give type= one of str, int, float, bool, JSONType, or a function of the text")
        raise FlowDefinitionError(f"parameter '{self.name}' has an unsupported type {kind!r}",
                                  fix=fix)

    def _bad(self, raw: str, expected: str, fix: str | None = None) -> ParameterError:
        if fix is not None:
            return ParameterError(f"parameter '{self.name}' expects {expected}; got {raw!r}",
                                  fix=fix)
        example = {"an integer": "3", "a number": "0.5", "a boolean (true/false)": "true"}
        hint = example.get(expected, "...")
        fix = f"pass e.g. --{self.name} {hint}"
        if self.type is int and not self.type_given and _a_decimal(raw):
            # `default=10` made it an integer parameter; `--epochs 0.5` meant a number
            fix += (f"; the parameter is an integer because its default is {self.default!r}: "
                    f"declare Parameter('{self.name}', type=float, ...) to take decimals")
        return ParameterError(f"parameter '{self.name}' expects {expected}; got {raw!r}", fix=fix)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, default={self.default!r}, type={self.type_label})"


def _as_declared(kind: Any, value: Any) -> Any:
    """A default (or a Python value from the API) of a scalar type other than the declared
    one, converted as Metaflow's click options convert it: ``type=float, default=2`` is 2.0,
    ``type=str, default=5`` is '5', ``type=bool, default=0`` is False. Anything else as is."""
    if isinstance(value, bool):
        return value if kind is not str else str(value)
    if kind is float and isinstance(value, int):
        return float(value)
    if kind is str and isinstance(value, (int, float)):
        return str(value)
    if kind is bool and isinstance(value, int) and value in (0, 1):
        return bool(value)
    return value


def flow_parameters(flow_cls: type) -> dict[str, Parameter]:
    """The flow's parameters, attribute name -> Parameter, including inherited ones."""
    return class_members(flow_cls, Parameter)


Converter = Callable[[str], Any]


def _meant(unknown: list[str]) -> str:
    """``; did you mean default=?`` for a misspelt keyword (``defualt=``)."""
    known = ("default", "type", "help", "required", "show_default", "separator")
    guesses = [f"{close}= for {word}=" for word in unknown if (close := closest(word, known))]
    return f"; did you mean {', '.join(guesses)}?" if guesses else ""
