"""``@pypi`` / ``@conda`` on a step and ``@pypi_base`` / ``@conda_base`` on a flow.

The decorators only declare: the packages a step needs and the Python it wants. They write the
declaration on the step's policy (or on the flow class, for the ``_base`` forms); the launch turns
declarations into locked, built environments (:mod:`headwater.environments.prepare`) before any
task starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator
from headwater.exceptions import FlowDefinitionError
from headwater.flow.config import SPREAD_PREFIX, is_deferred, resolve_deferred

if TYPE_CHECKING:
    from headwater.decorators.typed import CondaFunction, FlowDecoratorFunction, PypiFunction

BASE_ATTR = "_hw_env_base"  # on the flow class: the @pypi_base / @conda_base declaration


def check_declaration(where: str, packages: Any, python: Any) -> None:
    """Packages are ``{name: version spec}`` and python a version (``"3.11"``, conda's
    ``"3.11.*"``) or a range (``">=3.8,<3.13"``): see :mod:`headwater.environments.python_spec`."""
    if not isinstance(packages, dict) or not all(
            isinstance(k, str) and k.strip() and isinstance(v, str) for k, v in packages.items()):
        raise FlowDefinitionError(
            f"{where}: packages must be a dict of package name -> version, got {packages!r}",
            fix="e.g. packages={'tabulate': '0.9.0', 'six': ''} ('' for any version)")
    for name, spec in packages.items():
        _check_package(where, name, spec)
    if python is None or (isinstance(python, str) and not python.strip()):
        return
    why = "not a string"
    if isinstance(python, str):
        from headwater.environments import python_spec  # only flows that declare a Python


        try:
            python_spec.parse(python)
            return
        except ValueError as err:
            why = str(err)
    raise FlowDefinitionError(
        f"{where}: python must be a version such as '3.11' or a range such as '>=3.10,<3.13', "
        f"got {python!r} ({why})",
        fix="e.g. python='3.11', python='3.11.7', python='>=3.10' or python='>=3.8,<3.13' "
        "(PEP 440 specifiers joined by commas)")


def _check_package(where: str, name: str, spec: str) -> None:
    """One package of a declaration must stay one line of the resolver's input: a newline in a
    name or version (from a config, say) would add a line of its own, such as
    ``--extra-index-url`` or ``-e URL``, and a name starting with ``-`` is read as an option."""
    bad_name = name.strip().startswith("-") or any(_is_control(ch) for ch in name)
    if bad_name or any(_is_control(ch) for ch in spec):
        what = f"package name {name!r}" if bad_name else f"version {spec!r} of package {name!r}"
        raise FlowDefinitionError(
            f"{where}: {what} is not a package requirement (it holds a line break or another "
            "control character, or starts with '-')",
            fix="give the bare package name and a version spec such as '1.2.3' or '>=1.2'; "
            "an index or a file is not a package")
    if "@" in name or spec.strip().startswith("@"):
        _check_direct_reference(where, name, spec)


# ``name[extras] @ URL``: PEP 508's direct reference, the one requirement form with a URL.
_DIRECT = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,\s-]*\])?\s*"
    r"@\s*[A-Za-z][A-Za-z0-9+.-]*://[^\s;]+(?:\s+;.*)?")


def _check_direct_reference(where: str, name: str, spec: str) -> None:
    """A direct reference (``'pkg @ https://...'``, ``'pkg @ file:///...'`` or the version
    ``'@ git+https://...'``) is accepted on purpose: Metaflow's flows and its requirements
    parsers write them, for a wheel of one's own or a fork. It must be exactly that one form
    (a URL with a scheme and no spaces; a marker after a space, as for any package), and a
    name that already carries its URL takes no version: ``'pkg @ URL'`` with ``'1.0'`` would
    become the URL ``URL==1.0``."""
    if "@" in name and spec.strip():
        raise FlowDefinitionError(
            f"{where}: package {name!r} is a direct reference (a URL) and also has the "
            f"version {spec!r}; a URL names one file, so it takes no version",
            fix=f"give {name!r}: '' (any version), or the bare name with the version")
    line = name.strip() + (spec.strip() if "@" not in name else "")
    if _DIRECT.fullmatch(line) is None:
        raise FlowDefinitionError(
            f"{where}: package {name!r}{f' with {spec!r}' if spec.strip() else ''} is not "
            "a direct reference: after '@' comes one URL with its scheme (https://, "
            "git+https://, file:///) without spaces",
            fix="write it as 'name @ https://host/name-1.0-py3-none-any.whl' (or "
            "'name': '@ git+https://host/repo.git'), or give the bare name and a version")


def _is_control(ch: str) -> bool:
    return ch < " " or "\x7f" <= ch <= "\x9f"


def python_version(text: str | None) -> str | None:
    """What a declaration keeps of a ``python=`` argument: the one version it names (Metaflow's
    flows also write conda's ``'3.10.*'`` and ``'==3.10.7'``, read as ``'3.10'`` and
    ``'3.10.7'``), the range without spaces, or None (blank: the flow's own Python)."""
    if text is None or not text.strip():
        return None
    from headwater.environments import python_spec

    return python_spec.canonical(text.strip())


class _EnvStepDecorator(StepDecorator):
    kind = ""

    def validate(self) -> None:
        packages = self.attributes["packages"]
        if self.kind == "conda" and self.attributes.get("libraries"):
            packages = {**self.attributes["libraries"], **(packages or {})}
            self.attributes["packages"] = packages
        check_declaration(f"@{self.name}", packages, self.attributes["python"])

    def apply(self, policy: StepPolicy) -> None:
        other = policy.python_env
        policy.python_env = declaration_dict(self.kind, self.attributes)
        if other is not None and other["kind"] != self.kind:  # refused when environments are built
            policy.python_env["also"] = other["kind"]


class PypiDecorator(_EnvStepDecorator):
    """``@pypi(packages={'tabulate': '0.9.0'}, python='3.11')``: the step runs in its own
    environment holding exactly these PyPI packages (plus headwater's task runtime)."""

    name = "pypi"
    kind = "pypi"
    excludes = ("conda",)
    defaults = {"packages": {}, "python": None, "disabled": False}


class CondaDecorator(_EnvStepDecorator):
    """``@conda(packages={'tabulate': '0.9.0'}, python='3.11', channels=[...])``: the step runs
    in its own environment holding these conda packages (plus headwater's task runtime)."""

    name = "conda"
    kind = "conda"
    excludes = ("pypi",)
    defaults = {"packages": {}, "libraries": {}, "python": None, "disabled": False,
                "channels": []}


def declaration_dict(kind: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "packages": dict(attributes.get("packages") or {}),
            "python": python_version(attributes.get("python")),
            "disabled": bool(attributes.get("disabled")),
            "channels": list(attributes.get("channels") or [])}


_BASE_OPTIONS = ("packages", "python", "disabled", "channels", "libraries")


def _base_declaration(kind: str, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The flow-wide declaration of ``@{kind}_base(**options)``, checked."""
    merged = {**(options.get("libraries") or {}), **(options.get("packages") or {})}
    check_declaration(f"@{name}", merged, options.get("python"))
    return declaration_dict(kind, {"packages": merged, "python": options.get("python"),
                                   "disabled": options.get("disabled", False),
                                   "channels": options.get("channels") or []})


class DeferredBase:
    """A ``_base`` declaration whose options come from configs (``**config_expr('reqs')``,
    ``python=config_expr(...)``): read at launch by :func:`resolve_base`, before any step's
    environment is looked at."""

    def __init__(self, kind: str, name: str, spreads: list[Any], options: dict[str, Any]) -> None:
        self.kind, self.name, self.spreads, self.options = kind, name, spreads, options
        self.value: dict[str, Any] | None = None  # the declaration, once the configs are known

    def resolve(self, configs: Mapping[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for spread in self.spreads:
            value = resolve_deferred(spread, configs)
            options.update(value.to_dict() if hasattr(value, "to_dict") else value)
        options.update(resolve_deferred(self.options, configs))
        unknown = sorted(set(options) - set(_BASE_OPTIONS))
        if unknown:
            raise FlowDefinitionError(
                f"@{self.name} has no option {', '.join(map(repr, unknown))} (from a config)",
                fix=f"the options of @{self.name} are: {', '.join(sorted(_BASE_OPTIONS))}")
        try:
            self.value = _base_declaration(self.kind, self.name, options)
        except FlowDefinitionError as err:
            raise FlowDefinitionError(f"{err.msg} (from a config)", fix=err.fix) from None
        return self.value


def resolve_base(flow_cls: type, configs: Mapping[str, Any]) -> None:
    """Read the configs of a flow's ``_base`` declaration, if it has any (called at launch)."""
    base = getattr(flow_cls, BASE_ATTR, None)
    if isinstance(base, DeferredBase):
        base.resolve(configs)


def base_declaration(flow_cls: type) -> dict[str, Any] | None:
    """The flow's ``_base`` declaration as a dict (None without one)."""
    base = getattr(flow_cls, BASE_ATTR, None)
    if not isinstance(base, DeferredBase):
        return base
    if base.value is None:
        raise FlowDefinitionError(
            f"@{base.name} of {flow_cls.__name__} reads configs that were not read yet",
            fix="launch the flow (run, resume, environment show) so its configs are resolved")
    return base.value


def _base_decorator(kind: str) -> FlowDecoratorFunction:
    name = f"{kind}_base"

    def decorator(cls: Any = None, **options: Any) -> Any:
        if cls is not None and not isinstance(cls, type):  # @pypi_base({"pandas": "2.2"})
            from headwater.decorators.base import flow_positional

            raise flow_positional(name, cls, "packages")
        spreads = [options.pop(k) for k in list(options) if k.startswith(SPREAD_PREFIX)]
        unknown = sorted(set(options) - set(_BASE_OPTIONS))
        if unknown:
            raise FlowDefinitionError(
                f"@{name} has no option {', '.join(map(repr, unknown))}",
                fix=f"the options of @{name} are: {', '.join(sorted(_BASE_OPTIONS))}")
        if spreads or is_deferred(options):
            declared: Any = DeferredBase(kind, name, spreads, options)
        else:
            declared = _base_declaration(kind, name, options)

        def attach(flow_cls: Any) -> Any:
            setattr(flow_cls, BASE_ATTR, declared)
            return flow_cls

        return attach(cls) if isinstance(cls, type) else attach

    decorator.__name__ = name
    decorator.__doc__ = (f"``@{name}(packages={{...}}, python='3.11')`` above the flow class: "
                         f"every step runs in this {kind} environment unless it says otherwise. "
                         "Options may come from configs: ``@pypi_base(**config_expr('reqs'))``.")
    return cast("FlowDecoratorFunction", decorator)


pypi: PypiFunction = make_step_decorator(PypiDecorator)
conda: CondaFunction = make_step_decorator(CondaDecorator)
pypi_base: FlowDecoratorFunction = _base_decorator("pypi")
conda_base: FlowDecoratorFunction = _base_decorator("conda")
