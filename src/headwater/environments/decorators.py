"""``@pypi`` / ``@conda`` on a step and ``@pypi_base`` / ``@conda_base`` on a flow.

The decorators only declare: the packages a step needs and the Python it wants. They write the
declaration on the step's policy (or on the flow class, for the ``_base`` forms); the launch turns
declarations into locked, built environments (:mod:`headwater.environments.prepare`) before any
task starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator
from headwater.exceptions import FlowDefinitionError

BASE_ATTR = "_hw_env_base"  # on the flow class: the @pypi_base / @conda_base declaration


def check_declaration(where: str, packages: Any, python: Any) -> None:
    """Packages are ``{name: version spec}`` and python a version such as ``"3.11"`` (or one
    of the spellings :func:`python_version` accepts)."""
    if not isinstance(packages, dict) or not all(
            isinstance(k, str) and k.strip() and isinstance(v, str) for k, v in packages.items()):
        raise FlowDefinitionError(
            f"{where}: packages must be a dict of package name -> version, got {packages!r}",
            fix="e.g. packages={'tabulate': '0.9.0', 'six': ''} ('' for any version)")
    if python is not None and (not isinstance(python, str)
                               or not _looks_like_version(python_version(python))):
        raise FlowDefinitionError(
            f"{where}: python must be a version such as '3.11', '3.11.7' or '3.11.*', "
            f"got {python!r}",
            fix="name one Python: e.g. python='3.11' (ranges such as '>=3.10' are not "
            "supported: headwater uses an interpreter installed on this machine)")


def python_version(text: str | None) -> str | None:
    """The version a ``python=`` argument names: Metaflow's flows also write the conda
    spellings ``'3.10.*'`` and ``'==3.10.7'``, which mean ``'3.10'`` and ``'3.10.7'`` here."""
    if text is None:
        return None
    text = text.strip()
    if text.startswith("=="):
        text = text[2:].strip()
    if text.endswith(".*"):
        text = text[:-2]
    return text


def _looks_like_version(text: str) -> bool:
    parts = text.split(".")
    return 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts)


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


def _base_decorator(kind: str) -> Callable[..., Any]:
    name = f"{kind}_base"

    def decorator(cls: Any = None, *, packages: dict[str, str] | None = None,
                  python: str | None = None, disabled: bool = False,
                  channels: list[str] | None = None, libraries: dict[str, str] | None = None,
                  ) -> Any:
        merged = {**(libraries or {}), **(packages or {})}
        check_declaration(f"@{name}", merged, python)

        def attach(flow_cls: Any) -> Any:
            setattr(flow_cls, BASE_ATTR, declaration_dict(kind, {
                "packages": merged, "python": python, "disabled": disabled,
                "channels": channels or []}))
            return flow_cls

        return attach(cls) if isinstance(cls, type) else attach

    decorator.__name__ = name
    decorator.__doc__ = (f"``@{name}(packages={{...}}, python='3.11')`` above the flow class: "
                         f"every step runs in this {kind} environment unless it says otherwise.")
    return decorator


pypi = make_step_decorator(PypiDecorator)
conda = make_step_decorator(CondaDecorator)
pypi_base = _base_decorator("pypi")
conda_base = _base_decorator("conda")
