"""Keep what a flow says out of Argo's template language.

Argo reads ``{{...}}`` anywhere in a workflow's templates and parameter values as one of its own
references or expressions (``{{workflow.name}}``, ``{{=sprig.repeat(...)}}``), and has no way to
escape it. A tag, a parameter's default, an ``@environment`` value or a ``--with`` that holds
``{{`` would therefore reach the task changed (or fail the run with "failed to resolve"), and an
``{{=...}}`` would be evaluated by Argo. So :func:`check_documents` refuses, at ``create``, any
``{{`` the compiler did not write itself, naming where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from headwater.deployers.plan import DeployError, DeployPlan

OPEN = "{{"

# The references the compiler writes itself, and nothing else.
_OWN = re.compile(
    r"\{\{(?:inputs\.parameters\.(?:task-id|children)|workflow\.name|item"
    r"|workflow\.parameters\.[-a-zA-Z0-9_]+"
    r"|tasks\.[a-z0-9.-]+\.outputs\.parameters\.(?:children|branch)|tasks\.[a-z0-9.-]+\.status)"
    r"\}\}")


def check_documents(plan: DeployPlan, docs: list[dict[str, Any]], sources: list[tuple[str, str]]
                    ) -> None:
    """Refuse a ``{{`` in the flow's own text (``sources``: what it is, the text), then, as a
    net, any ``{{`` in ``docs`` that is not one of the compiler's references."""
    for what, text in sources:
        if OPEN in text:
            raise _refusal(plan, what, text)
    for where, text in _strings(docs, "manifest"):
        if OPEN in _OWN.sub("", text):
            raise _refusal(plan, f"the manifest's {where}", text)


def _refusal(plan: DeployPlan, what: str, text: str) -> DeployError:
    return DeployError(
        f"{what} of the deployment of flow {plan.flow_name} holds '{{{{' ({text!r}): Argo would "
        "read it as one of its own expressions, and it cannot be escaped",
        fix="leave '{{' out of it (a single '{' is fine), or run the flow with `run`")


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(str(key), f"{where}.{key} (name)")
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def plan_sources(plan: DeployPlan) -> list[tuple[str, str]]:
    """The flow's and the user's texts a manifest carries, each with what it is."""
    out: list[tuple[str, str]] = []
    for param in plan.parameters:
        out += [(f"the default of parameter '{param.name}'", param.default),
                (f"the help of parameter '{param.name}'", param.help)]
    out += [("--tag", tag) for tag in plan.tags]
    out += [("--with", spec) for spec in plan.with_specs]
    for step, policy in sorted(plan.policies.items()):
        for key, value in sorted(policy.env.items()):
            out += [(f"@environment variable {key} of step '{step}'", str(value)),
                    (f"@environment variable name of step '{step}'", str(key))]
    out += [(f"the flow option {key!r}", repr(value))
            for key, value in sorted(plan.flow_options.items())]
    out += [("the deployed name (--name or @project's)", plan.name),
            ("--branch", plan.branch or ""),
            ("the user name (HEADWATER_USER)", plan.username),
            ("the datastore root", plan.settings.datastore_root),
            ("the metadata setting", plan.settings.metadata_url)]
    out += [(f"the code package's {key}", str(value)) for key, value in sorted(plan.code.items())]
    return out
