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

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from headwater.exceptions import ConfigError, FlowDefinitionError, ReservedAttributeError
from headwater.flow.members import class_members

# Keyword names a ``**config`` spread leaves in a decorator's options until launch.
SPREAD_PREFIX = "__hw_spread__"


class ConfigValue(Mapping[str, Any]):
    """A read-only dict with attribute access; nested dicts are ConfigValues too.

    Read-only because every task of the run shares one stored value: a step that changed it would
    see a different configuration from its siblings.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return _wrap(self._data[name])
        except KeyError:
            keys = ", ".join(sorted(map(str, self._data))) or "none"
            raise AttributeError(f"config has no key {name!r} (its keys: {keys})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise ReservedAttributeError(
            f"cannot set {name!r} on a config value: configs are read-only",
            fix="copy it first, e.g. settings = self.config.to_dict()",
        )

    __setitem__ = __setattr__  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable deep copy."""
        import copy

        return copy.deepcopy(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConfigValue):
            return self._data == other._data
        return isinstance(other, Mapping) and self._data == dict(other)

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (self._data,))

    def __repr__(self) -> str:
        return f"ConfigValue({self._data!r})"


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return ConfigValue(value)
    if isinstance(value, list):
        return tuple(_wrap(v) for v in value)
    return value


class ConfigExpr:
    """An expression over the flow's configs, evaluated at launch (see :func:`config_expr`)."""

    def __init__(self, expr: str | Callable[[Mapping[str, Any]], Any]) -> None:
        if not (isinstance(expr, str) and expr.strip()) and not callable(expr):
            raise FlowDefinitionError(
                f"config_expr() takes an expression such as 'config.retries', got {expr!r}"
            )
        self.expr = expr

    def evaluate(self, configs: Mapping[str, Any]) -> Any:
        """The value of the expression with each config bound to its attribute and config name."""
        try:
            if callable(self.expr):
                return self.expr(configs)
            return eval(self.expr, {"__builtins__": __builtins__}, dict(configs))  # noqa: S307
        except Exception as err:  # the user's expression: say which one failed and why
            names = ", ".join(sorted(configs)) or "none"
            raise ConfigError(
                f"{self!r} failed: {type(err).__name__}: {err}",
                fix=f"the configs in scope are: {names}",
            ) from None

    def __getattr__(self, name: str) -> ConfigExpr:
        # ``config_expr('config').project_name``: a path below the expression, still deferred.
        if name.startswith("_") or name in ("expr", "evaluate"):
            raise AttributeError(name)
        return _Below(self, name, by_attribute=True)

    def __getitem__(self, key: Any) -> ConfigExpr:
        return _Below(self, key, by_attribute=False)

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
        return value[self._key]

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
        for key in self._path:
            value = value[key]
        return value

    def __getattr__(self, name: str) -> ConfigPath:
        if name.startswith("_"):
            raise AttributeError(name)
        return ConfigPath(self._root, (*self._path, name))

    def __getitem__(self, key: Any) -> ConfigPath:
        return ConfigPath(self._root, (*self._path, key))

    def __repr__(self) -> str:
        return self._root + "".join(f"[{k!r}]" for k in self._path)


def config_expr(expr: str | Callable[[Mapping[str, Any]], Any]) -> ConfigExpr:
    """Defer a value to launch time: ``@retry(times=config_expr('config.retries'))``."""
    return ConfigExpr(expr)


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
    ``default`` (a file path, relative to the working directory or the flow file), ``default_value``
    (an inline dict, or text for the parser), ``help``, ``required``, ``parser`` (a callable or a
    dotted name such as ``'tomllib.loads'`` turning the text into a dict; JSON by default).
    """

    def __init__(
        self,
        name: str,
        default: str | None = None,
        default_value: Mapping[str, Any] | str | None = None,
        help: str | None = None,  # noqa: A002 - Metaflow's keyword
        required: bool = False,
        parser: str | Callable[[str], Mapping[str, Any]] | None = None,
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
        self.required = required
        self.parser = parser
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
