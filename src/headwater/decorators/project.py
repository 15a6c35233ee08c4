"""``@project(name='x')``: a flow belongs to a project, and each run to a branch of it.

Branches keep people's experiments apart from production: by default a run is on the user's own
branch (``user.<name>``), ``--branch B`` puts it on ``test.B`` and ``--production`` on ``prod``.
``@project(name=..., branch=..., production=...)`` may fix the branch in the code instead, as
Metaflow's decorator does (then the command line may repeat the value but not contradict it).
The decorator only records the project name and those options on the class; the launch computes
the branch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar, overload

from headwater.exceptions import FlowDefinitionError
from headwater.flow.config import ConfigExpr, is_deferred, resolve_deferred

PROJECT_ATTR = "_hw_project"
# The options @project was given besides its name: {"branch": ..., "production": ...}, only
# those written (Metaflow tells an option written from one left at its default).
PROJECT_OPTIONS_ATTR = "_hw_project_options"
_NAME = r"^[a-z0-9_]{1,128}$"  # a pattern string: re compiles (and caches) it on first use


C = TypeVar("C", bound=type)


@overload
def project(cls: C, /) -> C: ...


@overload
def project(*, name: str | ConfigExpr, branch: str | None = None,
            production: bool = False) -> Callable[[C], C]: ...


_UNSET: Any = object()


def project(cls: Any = None, *, name: Any = None, branch: Any = _UNSET,
            production: Any = _UNSET) -> Any:
    """Class decorator: ``@project(name='fraud')`` above the flow class; ``branch='x'`` runs on
    ``test.x`` (``prod.x`` with ``production=True``), ``production=True`` alone on ``prod``."""
    options = {key: value for key, value in (("branch", branch), ("production", production))
               if value is not _UNSET}

    def attach(flow_cls: Any) -> Any:
        # A name from a config (config_expr(...)) is checked at launch, once configs are known.
        if not is_deferred(name):
            checked_name(name, flow_cls)
        setattr(flow_cls, PROJECT_ATTR, name)
        setattr(flow_cls, PROJECT_OPTIONS_ATTR, dict(options))
        return flow_cls

    if cls is not None and not isinstance(cls, type):  # @project("shop")
        from headwater.decorators.base import flow_positional

        raise flow_positional("project", cls, "name")
    if cls is not None:
        if name is None:
            raise FlowDefinitionError("@project needs a name", fix="write @project(name='my_project')")
        return attach(cls)
    return attach


def checked_name(name: Any, flow_cls: Any) -> str:
    if not isinstance(name, str) or not re.match(_NAME, name):
        raise FlowDefinitionError(
            f"@project(name={name!r}) on flow {getattr(flow_cls, '__name__', flow_cls)}: "
            "the name must be lowercase letters, digits and underscores",
            fix="e.g. @project(name='fraud_model')",
        )
    return name


def project_options(flow_cls: type, configs: Any = None) -> dict[str, Any]:
    """The ``branch`` / ``production`` options written in the flow's ``@project`` (only those
    written), config expressions evaluated against ``configs``."""
    given = dict(getattr(flow_cls, PROJECT_OPTIONS_ATTR, None) or {})
    for key, value in list(given.items()):
        if is_deferred(value):
            if configs is None:
                raise FlowDefinitionError(
                    f"flow {flow_cls.__name__}: @project's {key} comes from a config, which is "
                    "known only at launch")
            given[key] = resolve_deferred(value, configs)
    branch = given.get("branch")
    if branch is not None and not isinstance(branch, str):
        raise FlowDefinitionError(
            f"@project(branch={branch!r}) on flow {flow_cls.__name__}: the branch is a name",
            fix="e.g. @project(name='fraud_model', branch='new_features')")
    if "production" in given:
        given["production"] = bool(given["production"])
    return given


def project_name(flow_cls: type, configs: Any = None) -> str | None:
    """The flow's project; a name given as config_expr(...) is evaluated against ``configs``."""
    name = getattr(flow_cls, PROJECT_ATTR, None)
    if name is None or not is_deferred(name):
        return name
    if configs is None:
        raise FlowDefinitionError(
            f"flow {flow_cls.__name__}: @project's name comes from a config, which is known only "
            "at launch"
        )
    return checked_name(resolve_deferred(name, configs), flow_cls)
