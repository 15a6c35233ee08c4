"""The keyword names ``Runner(...)`` and ``Deployer(...)`` take, and the refusal of any other.

The Runner and the Deployer turn keywords into command-line options without importing the flow
(see :mod:`headwater.runner.command`), so a misspelled keyword used to reach the child as an
option click refused after a process had started, and one whose value is ``False`` or ``None``
(``quite=False``) vanished without a word. Metaflow's Runner and Deployer refuse any keyword
they do not know with a ``ValueError`` naming it and the accepted ones; these do the same, in
the caller, before anything starts.

The names are written out here because the runner may not import the command line that
declares them; ``tests/unit/test_runner_accepted.py`` checks them against it. An option that a
flow's own Metaflow-style flow decorator declares (``FlowDecorator.options``) is known only once
the flow is imported, which the caller never does: it is given through the environment,
``env={'METAFLOW_<NAME>': value}``, which that option reads too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from headwater.runner.command import RunnerArgumentError
from headwater.spelling import closest


class UnknownRunnerArgumentError(RunnerArgumentError, ValueError):
    """A keyword the Runner or the Deployer does not take: a ``ValueError``, as Metaflow's."""


# The flow's top-level options as Python keywords (``datastore_root`` -> ``--datastore-root``;
# ``with_``/``decospecs``/``with_decorators`` -> ``--with``; ``config``/``config_value`` take
# pairs). The executor backends' own options (``dask_address``, ...) come from the registry.
TOP_LEVEL = frozenset({
    "datastore_root", "metadata", "datastore", "environment", "quiet", "progress", "with_",
    "decospecs", "with_decorators", "pylint", "event_logger", "monitor", "config",
    "config_value", "branch", "production", "executor", "mode",
})

# Each orchestrator's ``create`` options as Python keywords (``only_json`` -> ``--only-json``;
# ``tags`` is Metaflow's keyword for ``--tag``); ``out`` is Airflow's DAG file.
_DEPLOY_COMMON = frozenset({"name", "image", "namespace", "tag", "tags", "with_",
                            "decospecs", "with_decorators", "max_workers"})
DEPLOY_CREATE: dict[str, frozenset[str]] = {
    "argo-workflows": _DEPLOY_COMMON | {"only_json", "service_account", "secret",
                                        "event_source", "events_url"},
    "airflow": _DEPLOY_COMMON | {"out", "operator", "python"},
}


# What a refusal of a top-level keyword adds: where an option of the flow's own decorators goes.
FLOW_DECORATOR_OPTIONS = ("an option a Metaflow-style flow decorator of the flow declares is "
                          "given as env={'METAFLOW_<NAME>': value}")


def top_level_names() -> frozenset[str]:
    """Every top-level keyword: the fixed ones and each executor backend's options."""
    from headwater import backends

    return TOP_LEVEL | {option.key for option in backends.options("executor")}


def refuse_unknown(given: Mapping[str, Any] | Iterable[str], accepted: Iterable[str],
                   where: str, *, also: str = "") -> None:
    """Raise :class:`UnknownRunnerArgumentError` for the first name of ``given`` not in
    ``accepted``, naming it, the closest accepted name and all of them (``also`` adds what
    else the caller could have meant)."""
    known = sorted(set(accepted))
    for name in given:
        if name in known:
            continue
        close = closest(name, known)
        hint = f"; did you mean {close!r}?" if close else ""
        raise UnknownRunnerArgumentError(
            f"{where} was given {name!r}, which it does not take{hint}",
            fix=f"it takes {', '.join(known)}" + (f"; {also}" if also else ""))
