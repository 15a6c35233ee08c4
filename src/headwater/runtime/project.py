"""The project and branch of a run (``@project``, ``--branch``, ``--production``).

The result feeds two places: system tags on the run (so ``Flow(...).runs('project_branch:prod')``
finds production runs) and fields of ``current`` inside every task.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from headwater.decorators.project import project_name, project_options
from headwater.exceptions import FlowDefinitionError
from headwater.records import Record

_BRANCH = r"^[A-Za-z0-9_.\-]{1,128}$"  # a pattern string: re compiles (and caches) it on first use


class BranchChoice(NamedTuple):
    """``--branch NAME`` and ``--production``, as given on the command line."""

    branch: str | None = None
    production: bool = False


class ProjectInfo(Record, frozen=True):
    project: str
    branch: str
    is_production: bool
    is_user_branch: bool
    flow_name: str  # "<project>.<branch>.<Flow>"

    def current_fields(self) -> dict[str, Any]:
        return {
            "project_name": self.project,
            "branch_name": self.branch,
            "is_production": self.is_production,
            "is_user_branch": self.is_user_branch,
            "project_flow_name": self.flow_name,
        }

    def system_tags(self) -> list[str]:
        return [f"project:{self.project}", f"project_branch:{self.branch}"]


def project_info(flow_cls: type, user: str, branch: str | None = None,
                 production: bool = False, configs: Any = None) -> ProjectInfo | None:
    """The run's project and branch, or None for a flow without ``@project``; ``configs`` (the
    config scope) evaluates a project name given as ``config_expr(...)``."""
    name = project_name(flow_cls, configs)
    if name is None:
        if branch is not None or production:
            option = "--production" if production else "--branch"
            raise FlowDefinitionError(
                f"{option} needs a project, and flow {flow_cls.__name__} has no @project",
                fix="add @project(name='...') above the flow class, or drop the option",
            )
        return None
    branch, production = _with_decorator(flow_cls, configs, branch, production)
    if branch is not None and not re.match(_BRANCH, branch):
        raise FlowDefinitionError(
            f"--branch {branch!r}: a branch name is letters, digits, '_', '.' and '-'",
        )
    if production:
        full = "prod" if branch is None else f"prod.{branch}"
    elif branch is not None:
        full = f"test.{branch}"
    else:
        full = f"user.{user}"
    return ProjectInfo(name, full, production, not production and branch is None,
                       f"{name}.{full}.{flow_cls.__name__}")


def _with_decorator(flow_cls: type, configs: Any, branch: str | None,
                    production: bool) -> tuple[str | None, bool]:
    """The branch and production choice once ``@project(branch=..., production=...)`` is read:
    an option written in the decorator wins over the command line's default, and the command
    line may repeat it but not give another value (Metaflow's rule)."""
    given = project_options(flow_cls, configs)
    for key, cli, flag in (("branch", branch, "--branch"), ("production", production,
                                                             "--production")):
        if key in given and cli not in (None, False) and cli != given[key]:
            shown = flag if key == "production" else f"{flag} {cli}"
            raise FlowDefinitionError(
                f"flow {flow_cls.__name__}: {shown} on the command line contradicts "
                f"@project({key}={given[key]!r})",
                fix=f"drop {flag} from the command line, or {key}= from @project",
            )
    return given.get("branch", branch), given.get("production", production)
