"""``python flow.py package info|list|save``: what the flow's code package holds, before a run.

Metaflow's command of the same shape. The package is the one a remote task or a deployment gets
(``store/code_package.py``): the flow's folder, ``.py`` files plus ``--package-suffixes``, the
files of the active ``metaflow_extensions`` packages, and what the flow's ``add_to_package``
hooks add. Nothing is stored: these only build it here.
"""

from __future__ import annotations

import hashlib

import click

from headwater.cli.context import flow_class_of
from headwater.cli.errors import handle_errors


def _suffixes(ctx: click.Context) -> tuple[str, ...]:
    from headwater.store.code_package import parse_suffixes

    return parse_suffixes(ctx.find_root().obj["executor"].options.get("package_suffixes"))


def _additions(flow_cls: type) -> list[tuple[str, str]]:
    """What a remote run's or a deployment's package carries besides the folder: the active
    ``metaflow_extensions`` packages, then the ``add_to_package`` files."""
    from headwater.decorators.package_hooks import package_additions
    from headwater.runtime.launcher import shipped_extensions

    return [*shipped_extensions(), *package_additions(flow_cls)]


def _members(ctx: click.Context) -> dict[str, str]:
    from headwater.store.code_package import members

    flow_cls = flow_class_of(ctx)
    return members(flow_cls, _suffixes(ctx), _additions(flow_cls))


def _build(ctx: click.Context) -> tuple[bytes, dict[str, str]]:
    from headwater.store.code_package import build

    flow_cls = flow_class_of(ctx)
    return build(flow_cls, _suffixes(ctx), _additions(flow_cls))


@click.group(help="Commands about the flow's code package (what remote tasks and deployments "
             "run): info, list, save.")
@click.option("--timeout", default=60, show_default=True,
              help="Accepted for Metaflow; building the package here does not time out.")
def package(timeout: int) -> None:
    pass


@package.command(help="What the code package is: the flow, its suffixes, files, size and key.")
@click.pass_context
@handle_errors
def info(ctx: click.Context) -> None:
    tarball, code = _build(ctx)
    click.echo(f"Code package of {code['class']} ({code['path']}): "
               f"{len(_members(ctx))} files, {len(tarball):,} bytes (gzip), "
               f"suffixes {', '.join(_suffixes(ctx))}, sha1 {hashlib.sha1(tarball).hexdigest()}")


@package.command(name="list", help="List the files the code package holds.")
@click.option("--archive/--no-archive", default=False, show_default=True,
              help="Print the paths inside the package instead of the files on this machine.")
@click.pass_context
@handle_errors
def list_files(ctx: click.Context, archive: bool) -> None:
    named = _members(ctx)
    click.secho("Files included in the code package (change with --package-suffixes):",
                fg="magenta", err=True)
    for arcname, path in named.items():
        click.echo(arcname if archive else path)


@package.command(help="Save the code package (a gzip tarball) to PATH.")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.pass_context
@handle_errors
def save(ctx: click.Context, path: str) -> None:
    tarball, code = _build(ctx)
    from headwater.outfiles import replace_file  # never through another user's link

    replace_file(path, tarball, private=False)
    click.secho(f"Code package of {code['class']} saved in {path} ({len(tarball):,} bytes).",
                fg="magenta", err=True)


__all__ = ["package"]
