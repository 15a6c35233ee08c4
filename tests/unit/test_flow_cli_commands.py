"""A flow's command line loads a command's module only when that command is asked for: ``run``
does not import the card, deploy, tag or inspection commands, and every listed name resolves
to the command of that name."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CODE = textwrap.dedent("""
    import sys
    import click
    from headwater import FlowSpec, step
    from headwater.cli.flow_cli import LAZY_COMMANDS, build_cli

    class TinyFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    cli = build_cli(TinyFlow)
    ctx = click.Context(cli)
    assert cli.get_command(ctx, "run").name == "run"
    assert cli.get_command(ctx, "resume").name == "resume"
    loaded = sorted({module for module, _ in LAZY_COMMANDS.values() if module in sys.modules})
    assert loaded == [], loaded

    for name in LAZY_COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name, (name, command)
    assert cli.get_command(ctx, "no-such-command") is None
    assert cli.list_commands(ctx) == sorted({"run", "resume", *LAZY_COMMANDS})
""")


def test_commands_load_on_demand_and_every_listed_name_resolves() -> None:
    subprocess.run([sys.executable, "-c", CODE], check=True)


def test_help_lists_every_command() -> None:
    flow = textwrap.dedent("""
        from headwater import FlowSpec, step

        class TinyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            TinyFlow()
    """)
    proc = subprocess.run([sys.executable, "-c", flow, "--help"], capture_output=True, text=True,
                          check=True)
    listed = proc.stdout.split("Commands:")[1].split()
    for name in ("run", "resume", "check", "show", "dump", "logs", "card", "tag", "runs",
                 "spin", "environment", "argo-workflows", "airflow", "output-dot"):
        assert name in listed, proc.stdout
