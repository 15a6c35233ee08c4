"""headwater: write a workflow as a Python class of steps; run it anywhere; read every step's data.

This module only re-exports the public names; the client and the Runner are imported on first use
so that ``import headwater`` stays fast for flows that never read past runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.cli.excepthook import install as _install_excepthook  # noqa: E402
from headwater.decorators import (  # noqa: E402
    cache,
    card,
    catch,
    concurrency,
    environment,
    parallel,
    project,
    resources,
    retry,
    secrets,
    timeout,
)
from headwater.decorators.deployment import schedule, trigger, trigger_on_finish  # noqa: E402
from headwater.decorators.exit_hook import exit_hook  # noqa: E402
from headwater.decorators.mutators import FlowMutator, StepMutator  # noqa: E402
from headwater.decorators.transient import transient  # noqa: E402
from headwater.decorators.user_step import UserStepDecorator, user_step_decorator  # noqa: E402
from headwater.environments import conda, conda_base, pypi, pypi_base  # noqa: E402
from headwater.flow import (  # noqa: E402
    Config,
    FlowSpec,
    IncludeFile,
    JSONType,
    Parameter,
    config_expr,
    current,
    step,
)
from headwater.version import __version__  # noqa: E402, F401

if TYPE_CHECKING:  # served on first use (below); a type checker and an editor see them here
    from headwater.client import DataArtifact as DataArtifact
    from headwater.client import Flow as Flow
    from headwater.client import Metaflow as Metaflow
    from headwater.client import Run as Run
    from headwater.client import Step as Step
    from headwater.client import Task as Task
    from headwater.client import default_metadata as default_metadata
    from headwater.client import default_namespace as default_namespace
    from headwater.client import get_metadata as get_metadata
    from headwater.client import get_namespace as get_namespace
    from headwater.client import inspect_spin as inspect_spin
    from headwater.client import metadata as metadata
    from headwater.client import namespace as namespace
    from headwater.environments.parsers import (
        conda_environment_yml_parser as conda_environment_yml_parser,
    )
    from headwater.environments.parsers import pyproject_toml_parser as pyproject_toml_parser
    from headwater.environments.parsers import requirements_txt_parser as requirements_txt_parser
    from headwater.environments.parsers import yaml_parser as yaml_parser
    from headwater.runner import Deployer as Deployer
    from headwater.runner import ExecutingRun as ExecutingRun
    from headwater.runner import ExecutingTask as ExecutingTask
    from headwater.runner import NBRunner as NBRunner
    from headwater.runner import Runner as Runner
    from headwater.s3client import S3 as S3

_install_excepthook()  # a mistake in a flow's class body reads like any other user error

_CLIENT_NAMES = (
    "Metaflow", "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
    "default_namespace", "metadata", "get_metadata", "default_metadata", "inspect_spin",
)
_RUNNER_NAMES = ("Runner", "NBRunner", "ExecutingRun", "ExecutingTask", "Deployer")
_S3_NAMES = ("S3",)
# Config parsers for environment files: imported only by a flow that names one.
_PARSER_NAMES = ("requirements_txt_parser", "pyproject_toml_parser",
                 "conda_environment_yml_parser", "yaml_parser")

__all__ = [
    "Config", "FlowSpec", "IncludeFile", "JSONType", "Parameter", "config_expr", "current", "step",
    "cache", "card", "catch", "concurrency", "environment", "parallel", "project", "resources", "retry", "secrets", "timeout",
    "schedule", "trigger", "trigger_on_finish", "exit_hook", "transient",
    "UserStepDecorator", "user_step_decorator", "StepMutator", "FlowMutator",
    "pypi", "pypi_base", "conda", "conda_base", *_CLIENT_NAMES, *_S3_NAMES, *_PARSER_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        import headwater.client as client

        return getattr(client, name)
    if name in _RUNNER_NAMES:
        import headwater.runner as runner

        return getattr(runner, name)
    if name in _S3_NAMES:  # the S3 client: s3fs is imported only when one is made
        import headwater.s3client as s3client

        return getattr(s3client, name)
    if name in _PARSER_NAMES:
        import headwater.environments.parsers as parsers

        return getattr(parsers, name)
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")
