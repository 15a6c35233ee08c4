"""The names ``from metaflow import ...`` gives a flow or a notebook, served by headwater.

:func:`headwater.compat.alias.install` registers this module as ``metaflow`` for one process, so a
flow file written for Metaflow runs unchanged under ``headwater run flow.py``.
"""

from __future__ import annotations

from typing import Any

from headwater import backends
from headwater.client import (
    DataArtifact,
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    default_metadata,
    default_namespace,
    get_metadata,
    get_namespace,
    inspect_spin,
    metadata,
    namespace,
)
from headwater.compat import (
    extension_finder,
    flowspec_names,  # noqa: F401 - gives flows MyFlow._flow_state
)
from headwater.compat.exception_names import (
    MetaflowException,
    MetaflowInternalError,
    MetaflowNamespaceMismatch,
    MetaflowNotFound,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)
from headwater.compat.user_decorators import (
    USER_SKIP_STEP,
    FlowMutator,
    StepMutator,
    UserStepDecorator,
    user_step_decorator,
)
from headwater.compat.version_names import METAFLOW_API_VERSION
from headwater.decorators import (
    card,
    catch,
    environment,
    parallel,
    project,
    resources,
    retry,
    secrets,
    timeout,
)
from headwater.decorators.deployment import schedule, trigger, trigger_on_finish
from headwater.decorators.exit_hook import exit_hook
from headwater.decorators.fallbacks import STEP_FALLBACKS
from headwater.environments import conda, conda_base, pypi, pypi_base
from headwater.flow import (
    Config,
    ConfigValue,
    FlowSpec,
    IncludeFile,
    JSONType,
    Parameter,
    config_expr,
    current,
    step,
)
from headwater.graph import metaflow_view  # noqa: F401 - gives flows their Metaflow graph view
from headwater.runner import (
    DeployedFlow,
    Deployer,
    ExecutingRun,
    ExecutingTask,
    NBRunner,
    Runner,
)
from headwater.s3client import S3  # light: s3fs is imported only when an S3 is made

batch = STEP_FALLBACKS["batch"]
kubernetes = STEP_FALLBACKS["kubernetes"]

__version__ = METAFLOW_API_VERSION

__all__ = [
    "Config", "ConfigValue", "DataArtifact", "DeployedFlow", "Deployer", "ExecutingRun", "ExecutingTask", "Flow", "FlowSpec", "IncludeFile", "JSONType", "Metaflow",
    "MetaflowException", "MetaflowInternalError", "MetaflowNamespaceMismatch", "MetaflowNotFound",
    "MissingInMergeArtifactsException", "NBRunner", "Parameter", "Run", "Runner", "S3", "Step", "Task",
    "UnhandledInMergeArtifactsException", "batch", "card", "catch", "conda", "conda_base",
    "config_expr", "current", "default_metadata", "default_namespace", "environment", "exit_hook", "get_metadata", "get_namespace", "inspect_spin", "kubernetes",
    "metadata", "namespace", "parallel", "project", "pypi", "pypi_base", "resources", "retry", "schedule", "secrets",
    "step", "timeout", "trigger", "trigger_on_finish",
    "FlowMutator", "StepMutator", "UserStepDecorator", "user_step_decorator", "USER_SKIP_STEP",
]

# Config parsers (``Config(..., parser=requirements_txt_parser)``): served on first use, not in
# __all__, so ``import metaflow`` (and the shim's star import) does not load them.
_PARSER_NAMES = ("requirements_txt_parser", "pyproject_toml_parser",
                 "conda_environment_yml_parser", "yaml_parser")


def __getattr__(name: str) -> Any:
    if name in _PARSER_NAMES:
        import headwater.environments.parsers as parsers

        return getattr(parsers, name)
    if name in ("parallel_map", "parallel_imap_unordered"):  # the multicore page's names
        from headwater.flow import multicore

        return getattr(multicore, name)
    if name == "profile":  # ``with profile('loading'):`` times a block (metaflow_profile)
        from headwater.compat.profile_names import profile

        return profile
    if name == "pytorch_parallel":  # @parallel that sets torch.distributed's variables
        from headwater.compat.pytorch_names import pytorch_parallel

        return pytorch_parallel
    if name == "unbounded_test_foreach_internal":  # Metaflow's test plug-in (its own suite's)
        from headwater.compat import ubf_test_names

        return ubf_test_names.unbounded_test_foreach_internal
    if not name.startswith("__"):
        # Names metaflow_extensions packages add: toplevel modules' names, plug-in decorators.
        from headwater.compat.extension_points import toplevel

        try:
            return toplevel(name)
        except AttributeError:
            pass
    raise AttributeError(f"module 'metaflow' has no attribute {name!r}")


extension_finder.install()  # promoted extension modules: metaflow.plugins.<sub>


def _extension_secrets(name: str) -> Any:
    """A secrets provider ``metaflow_extensions`` declares (read only when @secrets names one
    that is neither built in nor an entry point)."""
    from headwater.compat.extension_points import secrets_provider

    return secrets_provider(name)


backends.add_finder("secrets", _extension_secrets)
