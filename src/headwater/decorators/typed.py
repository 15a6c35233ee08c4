"""How the decorators look to a type checker and an editor (the package ships ``py.typed``).

A step decorator is written bare (``@retry``) or with options (``@retry(times=2)``); either way
the step function comes back unchanged, so its own signature stays visible to the checker. A
flow decorator (``@schedule``, ``@pypi_base``) gives back the class the same way. These
Protocols are only the declared types: at run time each decorator is the plain function
``make_step_decorator`` (or its module) builds. A decorator with options declares its own
Protocol beside its class, naming each option, so an editor completes them and a checker flags
a misspelt one; an option's value may be a config expression (``@retry(times=cfg.retries)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, Union, overload

from headwater.flow.config import ConfigExpr

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)
T = TypeVar("T")

# An option's value: a T, or a config expression (``cfg.retries``) evaluated at launch.
Option = Union[T, ConfigExpr]  # noqa: UP007 - a generic alias: `T | ConfigExpr` is not subscriptable


class StepDecoratorFunction(Protocol):
    """A step decorator with no options of its own to declare (``@parallel``)."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, **options: Any) -> Callable[[F], F]: ...


class FlowDecoratorFunction(Protocol):
    """A decorator of the flow class: ``@schedule(daily=True)`` above ``class MyFlow``."""

    __name__: str

    @overload
    def __call__(self, cls: C, /) -> C: ...

    @overload
    def __call__(self, /, **options: Any) -> Callable[[C], C]: ...


class RetryFunction(Protocol):
    """``@retry`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, times: Option[int] = 3, minutes_between_retries: Option[float] = 2) -> Callable[[F], F]: ...

class CatchFunction(Protocol):
    """``@catch`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, var: Option[str | None] = None, print_exception: Option[bool] = True) -> Callable[[F], F]: ...

class CacheFunction(Protocol):
    """``@cache`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, max_age: Option[str | float | None] = None) -> Callable[[F], F]: ...

class ConcurrencyFunction(Protocol):
    """``@concurrency(limit=N)``."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, limit: Option[int] = 1) -> Callable[[F], F]: ...

class ResourcesFunction(Protocol):
    """``@resources`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, cpu: Option[float] = 1, memory: Option[float] = 4096, gpu: Option[float] = 0,
            disk: Option[float | None] = None, shared_memory: Option[float | None] = None) -> Callable[[F], F]: ...

class TimeoutFunction(Protocol):
    """``@timeout`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, seconds: Option[float] = 0, minutes: Option[float] = 0, hours: Option[float] = 0) -> Callable[[F], F]: ...

class EnvironmentFunction(Protocol):
    """``@environment`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, vars: Option[Mapping[str, Any]] = ...) -> Callable[[F], F]: ...

class CardFunction(Protocol):
    """``@card`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, type: Option[str] = "default", id: Option[str | None] = None,
            options: Option[Mapping[str, Any]] = ..., timeout: Option[float] = 45,
            save_errors: Option[bool] = True, refresh_interval: Option[float] = 5,
            customize: Option[bool] = False) -> Callable[[F], F]: ...

class SecretsFunction(Protocol):
    """``@secrets`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, sources: Option[Sequence[Any]] = ..., role: Option[str | None] = None,
            allow_override: Option[bool] = False) -> Callable[[F], F]: ...

class PypiFunction(Protocol):
    """``@pypi`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, packages: Option[Mapping[str, str]] = ..., python: Option[str | None] = None,
            disabled: Option[bool] = False) -> Callable[[F], F]: ...

class CondaFunction(Protocol):
    """``@conda`` bare, or with its options."""

    __name__: str

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, /, *, packages: Option[Mapping[str, str]] = ..., libraries: Option[Mapping[str, str]] = ...,
            python: Option[str | None] = None, disabled: Option[bool] = False,
            channels: Option[Sequence[str]] = ...) -> Callable[[F], F]: ...
