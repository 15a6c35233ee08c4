"""``tag list`` (and what ``tag add|remove|replace`` print) in Metaflow's layout, for a flow that
imports ``metaflow``: scripts written for Metaflow read it.

Metaflow prints a heading, then the tags in columns (read top to bottom, at most 124 characters
wide); with several groups (``--group-by-run``, ``--group-by-tag``) each has a ``For run X`` /
``For tag T`` line. Under the top-level ``--quiet`` it prints one parseable line a group instead:
``RUNS ; SYSTEM,TAGS ; USER,TAGS`` (by run) or ``user:TAG ; RUNS`` / ``system:TAG ; RUNS`` (by
tag). Every name is shown through :func:`printable` (a shared database may hold any text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import click

from headwater.cli.dump_output import printable

HEADING = ["", "System tags and tags; only tags can be modified",
           "-" * 56, ""]
_WIDTH = 124  # Metaflow's: columns of the longest name plus 4 spaces fit in 120 + 4
_GAP = "    "


def columns(names: Iterable[str]) -> list[str]:
    """``names`` sorted, laid out in columns read top to bottom."""
    cells = sorted(printable(n) for n in names)
    width = max((len(c) for c in cells), default=0)
    count = max(1, _WIDTH // (width + len(_GAP)))
    rows = (len(cells) + count - 1) // count
    cells += [""] * (rows * count - len(cells))
    return [_GAP.join(cells[r + c * rows].ljust(width) for c in range(count)).rstrip()
            for r in range(rows)]


def print_groups(groups: Mapping[str, tuple[set[str], set[str]]], *, by_tag: bool,
                 quiet: bool) -> None:
    """Print ``groups``: by run, ``{runs: (system tags, all tags)}``; by tag,
    ``{tag: (runs as system tag, runs as user tag)}``."""
    if not quiet:
        click.echo("\n".join(HEADING))
    for group in sorted(groups):
        system, every = groups[group]
        if by_tag:
            for runs, kind in ((every, "user"), (system, "system")):
                if not runs:
                    continue
                if quiet:
                    click.echo(f"{kind}:{printable(group)} ; {','.join(sorted(runs))}")
                else:
                    click.echo("\n".join([f"For tag {printable(group)}", *columns(runs), ""]))
        elif quiet:
            click.echo(" ; ".join([printable(group),
                                   ",".join(printable(t) for t in sorted(system)),
                                   ",".join(printable(t) for t in sorted(every - system))]))
        else:
            heading = [] if len(groups) == 1 else [f"For run {printable(group)}"]
            click.echo("\n".join([*heading, *columns(every), ""]))


def group_runs(runs: list, *, by_run: bool, by_tag: bool,
               hide_system: bool) -> dict[str, tuple[set[str], set[str]]]:
    """The groups :func:`print_groups` prints, from client ``Run`` objects: one per run, one per
    tag, or (neither) one for all the runs together, named by their pathspecs."""
    groups: dict[str, tuple[set[str], set[str]]] = {}
    if by_tag:
        for run in runs:
            for name in run.user_tags:
                groups.setdefault(name, (set(), set()))[1].add(run.pathspec)
            if not hide_system:
                for name in run.system_tags:
                    groups.setdefault(name, (set(), set()))[0].add(run.pathspec)
        return groups
    per_run = {run.pathspec: (set() if hide_system else set(run.system_tags),
                              set(run.user_tags) if hide_system else set(run.tags))
               for run in runs}
    if by_run:
        return per_run
    system = set().union(*(s for s, _ in per_run.values()))
    every = set().union(*(a for _, a in per_run.values()))
    return {",".join(per_run): (system, every)}
