"""``Config`` and ``config_expr``: configuration fixed when a run starts, readable everywhere.

A Config is a class attribute like a Parameter, but its value is a whole document (a JSON file,
an inline dict, or any text a ``parser`` turns into a dict) and it is resolved *before* the graph
is checked and the decorators' policies are computed. That is what lets a decorator argument or a
Parameter default depend on it through :func:`config_expr`: the expression is stored when the
class body runs and evaluated at launch, once the values are known.

Inside a step ``self.config`` is a read-only :class:`ConfigValue` (``self.config.lr`` or
``self.config['lr']``); the value is stored with the run like a parameter, so the client reads it
and ``resume`` reuses it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from headwater.exceptions import ConfigError, FlowDefinitionError, ReservedAttributeError
from headwater.flow.members import class_members
from headwater.spelling import closest

# Keyword names a ``**config`` spread leaves in a decorator's options until launch.
SPREAD_PREFIX = "__hw_spread__"


class ConfigValue(dict):  # type: ignore[type-arg]
    """A read-only dict with attribute access (``cfg.a.b`` or ``cfg['a']['b']``).

    Read-only because every task of the run shares one stored value: a step that changed it would
    see a different configuration from its siblings. It is a real ``dict`` (as in Metaflow), so
    ``isinstance(cfg, dict)`` holds and ``json.dumps(cfg)`` works. Nested mappings become
    ConfigValues when it is made; lists and tuples keep their type, their mappings converted.
    """

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        dict.__init__(self, {key: _frozen(value) for key, value in (data or {}).items()})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            keys = ", ".join(sorted(map(str, self))) or "none"
            raise AttributeError(f"config has no key {name!r} (its keys: {keys})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        _refuse(name)

    def __delattr__(self, name: str) -> None:
        _refuse(name)

    def __setitem__(self, key: Any, value: Any) -> None:
        _refuse(key)

    def __delitem__(self, key: Any) -> None:
        _refuse(key)

    def __ior__(self, other: Any) -> ConfigValue:
        _refuse("|=")

    def clear(self) -> None:
        _refuse("clear()")

    def update(self, *args: Any, **kwargs: Any) -> None:
        _refuse("update()")

    def setdefault(self, key: Any, default: Any = None) -> Any:
        _refuse(key)

    def pop(self, key: Any, *default: Any) -> Any:
        _refuse(key)

    def popitem(self) -> tuple[Any, Any]:
        _refuse("popitem()")

    def copy(self) -> ConfigValue:
        return ConfigValue(self)

    @classmethod
    def fromkeys(cls, keys: Any, value: Any = None) -> ConfigValue:
        return cls(dict.fromkeys(keys, value))

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable deep copy (nested ConfigValues become dicts)."""
        return _thawed(self)

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # dict's own pickling would refill the new object item by item, which is refused.
        return (ConfigValue, (self.to_dict(),))

    def __dir__(self) -> list[str]:
        return sorted({*dir(type(self)), *(k for k in self if isinstance(k, str) and k.isidentifier())})

    # printed like the dict it holds, as in Metaflow (dict's own, so that bounded previews such
    # as ``dump``'s, which name a subclass with a ``repr`` of its own, print it as a dict too)
    __repr__ = dict.__repr__


def _refuse(what: Any) -> Any:
    raise ReservedAttributeError(
        f"cannot change {what!r} in a config value: configs are read-only",
        fix="copy it first, e.g. settings = self.config.to_dict()",
    )


def _frozen(value: Any) -> Any:
    """``value`` with every mapping inside it made a ConfigValue (lists and tuples keep their type)."""
    if isinstance(value, ConfigValue):
        return value
    if isinstance(value, Mapping):
        return ConfigValue(value)
    if type(value) in _CONTAINERS:  # exact types: a namedtuple cannot be rebuilt from items
        return type(value)(_frozen(item) for item in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    if type(value) in _CONTAINERS:
        return type(value)(_thawed(item) for item in value)
    return value


_CONTAINERS = (list, tuple, set, frozenset)


class _ModuleRef(NamedTuple):
    """A module's globals, pickled by the module's name."""

    name: str


class ConfigExpr:
    """An expression over the flow's configs, evaluated at launch (see :func:`config_expr`)."""

    def __init__(self, expr: str | Callable[[Mapping[str, Any]], Any],
                 module_globals: Mapping[str, Any] | None = None) -> None:
        if not (isinstance(expr, str) and expr.strip()) and not callable(expr):
            raise FlowDefinitionError(
                f"config_expr() takes an expression such as 'config.retries', got {expr!r}"
            )
        self.expr = expr
        # The globals of the module that wrote the expression, so it can call that module's
        # functions (``config_expr('project_name(config)')``), as in Metaflow.
        self.module_globals = module_globals

    def evaluate(self, configs: Mapping[str, Any]) -> Any:
        """The value of the expression with each config bound to its attribute and config name
        (configs win over the module's globals of the same name)."""
        try:
            if callable(self.expr):
                return self.expr(configs)
            scope = self.module_globals
            if scope is None:
                scope = {"__builtins__": __builtins__}
            return eval(self.expr, scope, dict(configs))  # noqa: S307
        except ConfigError:
            raise  # a path into a config that names the missing key itself
        except Exception as err:  # the user's expression: say which one failed and why
            names = ", ".join(sorted(configs)) or "none"
            fix = f"the configs in scope are: {names}"
            if isinstance(err, (KeyError, AttributeError)):
                fix = (f"add the key to the config (its file, or --config-value), or correct "
                       f"the expression; {fix}")
            raise ConfigError(f"{self!r} failed: {type(err).__name__}: {err}",
                              fix=fix) from None

    def __deepcopy__(self, memo: dict[int, Any]) -> ConfigExpr:
        # A copy shares the module's globals (they hold modules, which cannot be copied).
        import copy  # only when copied: a lean run does not import it

        copied = copy.copy(self)
        memo[id(self)] = copied
        return copied

    def __getstate__(self) -> dict[str, Any]:
        # Pickled, the module's globals travel as the module's name (found again on load).
        state = dict(self.__dict__)
        module_globals = state.get("module_globals")
        if module_globals is not None:
            state["module_globals"] = _ModuleRef(str(module_globals.get("__name__", "")))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        ref = state.get("module_globals")
        if isinstance(ref, _ModuleRef):
            module = sys.modules.get(ref.name)
            state["module_globals"] = vars(module) if module is not None else None
        self.__dict__.update(state)

    def __getattr__(self, name: str) -> ConfigExpr:
        # ``config_expr('config').project_name``: a path below the expression, still deferred.
        if name.startswith("_") or name in ("expr", "evaluate", "module_globals"):
            raise AttributeError(name)
        return _Below(self, name, by_attribute=True)

    def __getitem__(self, key: Any) -> ConfigExpr:
        if isinstance(key, str) and key.startswith(SPREAD_PREFIX):
            return self  # ``**config_expr(...)``: the whole value, at launch
        return _Below(self, key, by_attribute=False)

    def keys(self) -> list[str]:
        """``@decorator(**config_expr('cfg'))``: one placeholder key, expanded at launch into the
        keys of the expression's value (as ``**config`` is). Metaflow's flows spread a parsed
        requirements file this way into ``@pypi_base``."""
        return [f"{SPREAD_PREFIX}expr{id(self)}"]

    def __repr__(self) -> str:
        return f"config_expr({self.expr!r})"


class _Below(ConfigExpr):
    """``expr.key`` or ``expr[key]`` of a ConfigExpr: evaluated after the expression it reads."""

    def __init__(self, base: ConfigExpr, key: Any, *, by_attribute: bool) -> None:
        self._base, self._key, self._by_attribute = base, key, by_attribute
        super().__init__(self._read)

    def _read(self, configs: Mapping[str, Any]) -> Any:
        value = self._base.evaluate(configs)
        if self._by_attribute and not isinstance(value, Mapping):
            return getattr(value, self._key)
        return _step_into(value, self._key, repr(self._base))

    def __repr__(self) -> str:
        step = f".{self._key}" if self._by_attribute else f"[{self._key!r}]"
        return f"{self._base!r}{step}"


class ConfigPath(ConfigExpr):
    """``config.cpu`` written in a class body: a path into a config, read at launch.

    Inside a class body a Config is still a declaration, so ``@resources(cpu=config.cpu)`` cannot
    have a value yet; it records the path and resolves like ``config_expr('config.cpu')``.
    """

    def __init__(self, root: str, path: tuple[Any, ...] = ()) -> None:
        self._root = root
        self._path = path
        super().__init__(self._resolve)

    def _resolve(self, configs: Mapping[str, Any]) -> Any:
        value = configs[self._root]
        for depth, key in enumerate(self._path):
            where = repr(ConfigPath(self._root, self._path[:depth])) if depth else (
                f"config '{self._root}'")
            value = _step_into(value, key, where)
        return value

    def __getattr__(self, name: str) -> ConfigPath:
        if name.startswith("_"):
            raise AttributeError(name)
        return ConfigPath(self._root, (*self._path, name))

    def __getitem__(self, key: Any) -> ConfigPath:
        if isinstance(key, str) and key.startswith(SPREAD_PREFIX):
            return self  # ``**config.part``: that part, at launch
        return ConfigPath(self._root, (*self._path, key))

    def __repr__(self) -> str:
        return self._root + "".join(f"[{k!r}]" for k in self._path)


def _step_into(value: Any, key: Any, where: str) -> Any:
    """``value[key]`` for a path into a config, or a ConfigError naming the path, the missing
    key, the keys there are and a close spelling (``config.model.lr`` of a file without it
    would otherwise stop the launch with a bare ``KeyError: 'lr'``)."""
    try:
        return value[key]
    except (KeyError, IndexError, TypeError) as err:
        if isinstance(value, Mapping):
            keys = [str(k) for k in value]
            close = closest(str(key), keys)
            hint = f"; did you mean {close!r}?" if close else ""
            problem = f"has no key {key!r} (its keys: {', '.join(sorted(keys)) or 'none'}){hint}"
        else:
            problem = f"is of type {type(value).__name__}, which has no item {key!r} ({err})"
        raise ConfigError(
            f"{where} {problem}",
            fix="add it to the config (its file, or --config-value NAME JSON before the "
            "command), or correct the name where the flow reads it",
        ) from None


def config_expr(expr: str | Callable[[Mapping[str, Any]], Any]) -> ConfigExpr:
    """Defer a value to launch time: ``@retry(times=config_expr('config.retries'))``.

    The expression sees the configs and the globals of the module that calls this function.
    """
    caller = sys._getframe(1)  # the flow module (or whichever module wrote the expression)
    return ConfigExpr(expr, caller.f_globals)


def resolve_deferred(value: Any, configs: Mapping[str, Any]) -> Any:
    """``value`` with a ConfigExpr evaluated (inside dicts/lists/tuples too); others unchanged."""
    if isinstance(value, ConfigExpr):
        return value.evaluate(configs)
    if isinstance(value, dict):
        return {k: resolve_deferred(v, configs) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(resolve_deferred(v, configs) for v in value)
    return value


def is_deferred(value: Any) -> bool:
    if isinstance(value, ConfigExpr):
        return True
    if isinstance(value, dict):
        return any(is_deferred(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_deferred(v) for v in value)
    return False


class Config:
    """A configuration document of the flow, resolved when a run starts.

    **Parameters:** ``name`` (for ``--config NAME FILE`` / ``--config-value NAME JSON``),
    ``default`` (a file path, relative to the working directory or the flow file, or a function of
    a ParameterContext returning one), ``default_value`` (an inline dict, text for the parser, or a
    function of a ParameterContext returning either), ``help``, ``required``, ``parser`` (a
    callable or a dotted name such as ``'tomllib.loads'`` turning the text into a dict; JSON by
    default), ``plain`` (keep the value as it is: the text itself without a parser, or whatever
    the parser returns, e.g. a list, instead of a read-only ConfigValue).
    """

    def __init__(
        self,
        name: str,
        default: str | Callable[[Any], str] | None = None,
        default_value: Mapping[str, Any] | str | Callable[[Any], Any] | None = None,
        help: str | None = None,  # noqa: A002 - Metaflow's keyword
        required: bool | None = False,
        parser: str | Callable[[str], Any] | None = None,
        plain: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise FlowDefinitionError(f"Config name must be a non-empty string, got {name!r}")
        if default is not None and default_value is not None:
            raise FlowDefinitionError(
                f"Config '{name}' has both default= (a file) and default_value= (a value)",
                fix="keep one of them",
            )
        self.name = name
        self.default = default
        self.default_value = default_value
        self.help = help
        self.required = bool(required)
        self.parser = parser
        self.plain = bool(plain)
        self.kwargs = kwargs
        self.attr_name = name

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr_name = attr

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._hw_get_parameter(self.attr_name)

    def __set__(self, instance: Any, value: Any) -> None:
        raise ReservedAttributeError(
            f"cannot assign to 'self.{self.attr_name}': it is the config '{self.name}' and "
            "configs are read-only",
            fix=f"store a derived value under another name, e.g. self.{self.attr_name}_used = ...",
        )

    def __getattr__(self, name: str) -> ConfigPath:
        # Reached only for names that are not the Config's own (name, default, help, ...):
        # ``config.cpu`` in a class body, deferred to launch. Keys that clash: config['name'].
        if name.startswith("_"):
            raise AttributeError(name)
        return ConfigPath(self.__dict__.get("attr_name", self.__dict__.get("name", "")), (name,))

    def __getitem__(self, key: Any) -> ConfigPath:
        if isinstance(key, str) and key.startswith(SPREAD_PREFIX):
            return ConfigPath(self.attr_name)  # ``**config``: the whole value, at launch
        return ConfigPath(self.attr_name, (key,))

    def keys(self) -> list[str]:
        """``@decorator(**config)`` in a class body: one placeholder key, expanded at launch
        into the config's keys (a decorator sees them as if written out)."""
        return [SPREAD_PREFIX + self.attr_name]

    def __repr__(self) -> str:
        return f"Config({self.name!r})"


def flow_configs(flow_cls: type) -> dict[str, Config]:
    """The flow's configs, attribute name -> Config, including inherited ones."""
    return class_members(flow_cls, Config)
