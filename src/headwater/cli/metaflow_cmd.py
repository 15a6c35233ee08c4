"""The ``metaflow`` command, served by headwater: ``metaflow code pull|diff|diff-runs|patch``.

Metaflow's console script is ``metaflow = metaflow.cmd.main_cli:start``. With the forwarding
package of ``headwater shim`` first on ``PYTHONPATH``, ``metaflow.cmd.main_cli`` is this module,
so an installed ``metaflow`` script (or ``python -m metaflow.cmd.main_cli``) runs headwater's
``code`` commands on headwater's runs. Of Metaflow's other subcommands only ``help`` is served;
the rest say what to use instead.
"""

from __future__ import annotations

import click

from headwater.cli.code_cmd import code

# Metaflow's subcommands headwater does not serve -> what to use instead.
_ELSEWHERE = {
    "status": "`headwater runs` lists the flows and runs of the nearest .headwater/",
    "configure": "`headwater configure show` shows the settings in effect (docs/configs.md)",
    "tutorials": "headwater's examples/ folder holds flows to start from",
    "develop": "headwater is typed inline (py.typed): editors complete its names without stubs",
}


class _MetaflowGroup(click.Group):
    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        if args and args[0] in _ELSEWHERE:
            raise click.UsageError(f"`metaflow {args[0]}` is not served by headwater: "
                                   f"{_ELSEWHERE[args[0]]}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=_MetaflowGroup, help="Metaflow's command, served by headwater: `metaflow code "
             "...` compares and pulls the code of headwater's runs.")
def start() -> None:
    """The group: ``code`` and ``help``."""


@start.command(help="Show all available commands.")
@click.pass_context
def help(ctx: click.Context) -> None:  # noqa: A001 - Metaflow's subcommand name
    assert ctx.parent is not None
    click.echo(ctx.parent.get_help())


start.add_command(code)
main = start

__all__ = ["main", "start"]

if __name__ == "__main__":
    start()
