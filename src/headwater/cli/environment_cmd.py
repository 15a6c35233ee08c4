"""``python flow.py environment resolve|show``: the steps' @pypi/@conda environments."""

from __future__ import annotations

import click

from headwater.cli.context import flow_class_of, settings_of
from headwater.cli.errors import handle_errors


@click.group(help="The steps' @pypi/@conda environments: resolve them, or show their locks.")
def environment() -> None:
    pass


_FULL = click.option("--lock", "full", is_flag=True,
                     help="Print the whole lock, hashes included (default: the pinned versions).")


def _policies(ctx: click.Context) -> dict:
    """Each step's policy, its decorators' config options read (``@pypi(**reqs)``) from the
    configs a run would get (``--config`` / ``--config-value`` and the defaults)."""
    from headwater.graph import check_flow
    from headwater.runtime.configs import launch_configs
    from headwater.runtime.launcher import step_policies

    flow_cls = flow_class_of(ctx)
    root = ctx.find_root().obj
    scope = launch_configs(flow_cls, root["configs"]).scope
    return step_policies(flow_cls, check_flow(flow_cls), tuple(root["with"]), scope)


def _needs(ctx: click.Context) -> dict[str, str]:
    """What the datastore and metadata a run with these options would use need in a task:
    the locks ``run`` makes hold them, so these commands resolve and look up the same locks."""
    from headwater.environments.backend_packages import backend_packages

    settings = settings_of(ctx)
    return backend_packages(settings.datastore_root, settings.metadata_url)


@environment.command(help="Resolve every step's environment to a lock and build it (cached).")
@_FULL
@click.pass_context
@handle_errors
def resolve(ctx: click.Context, full: bool) -> None:
    from headwater.environments.report import resolve_report

    for line in resolve_report(flow_class_of(ctx), _policies(ctx), click.echo, full,
                               _needs(ctx)):
        click.echo(line)


@environment.command(help="Print each step's declared environment and its lock, if resolved.")
@_FULL
@click.pass_context
@handle_errors
def show(ctx: click.Context, full: bool) -> None:
    from headwater.environments.report import show_report

    for line in show_report(flow_class_of(ctx), _policies(ctx), full, _needs(ctx)):
        click.echo(line)
