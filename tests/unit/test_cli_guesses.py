"""The guesses of cli/guesses.py name only commands and options that exist."""

from __future__ import annotations

import click
import pytest

from headwater import FlowSpec, Parameter, step
from headwater.cli import guesses
from headwater.cli.flow_cli import build_cli
from headwater.cli.main import flow_commands


class NamedFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def _rendered() -> list[tuple[str, str]]:
    """``(command, before)`` of every ``{cmd:...}`` placeholder the tables hold."""
    found: list[tuple[str, str]] = []

    def typed(command: str, before: str) -> str:
        found.append((command, before))
        return command

    for word in guesses.COMMANDS:
        guesses.command_hint(word, typed)
    for option in guesses.OPTIONS:
        guesses.option_hint(option, typed)
    return found


def test_every_command_a_guess_names_exists():
    group = build_cli(NamedFlow)
    ctx = click.Context(group)
    for command, _ in _rendered():
        first, *sub = command.split()
        assert first in flow_commands(), command
        found = group.get_command(ctx, first)
        assert found is not None, command
        if sub:
            assert isinstance(found, click.Group) and sub[0] in found.commands, command


def test_every_option_a_guess_puts_before_a_command_is_a_top_level_option():
    group = build_cli(NamedFlow)
    options = {opt for p in group.params for opt in getattr(p, "opts", ())}
    befores = {before.split()[0] for _, before in _rendered() if before}
    assert befores == {"--with", "--config"}
    assert befores <= options


def test_no_guess_shadows_a_real_command():
    real = set(flow_commands()) | {"runs", "delete", "gc", "code", "ui", "shim", "configure",
                                   "version", "help"}
    assert not real & set(guesses.COMMANDS)


@pytest.mark.parametrize("option", ["--retries", "--RETRIES", "--retries=3"],
                         ids=["plain", "upper", "with-value"])
def test_an_option_is_found_however_typed(option):
    assert guesses.option_hint(option, lambda c, b: f"<{b} {c}>") is not None


def test_a_word_of_no_tool_gets_no_guess():
    assert guesses.command_hint("frobnicate", lambda c, b: c) is None
    assert guesses.option_hint("--frobnicate", lambda c, b: c) is None
