"""``python flow.py card view|get|list PATHSPEC``: look at the cards tasks kept.

PATHSPEC is ``STEP`` (your latest run), ``RUN_ID/STEP``, ``RUN_ID/STEP/TASK_ID`` or a full
``Flow/RUN_ID/STEP/TASK_ID``. The client does the reading; this only picks and prints.
"""

from __future__ import annotations

import json
import sys

import click

from headwater.cli.context import flow_class_of, reading_settings_of
from headwater.cli.errors import handle_errors
from headwater.cli.ui_cmd import card_server
from headwater.exceptions import CardNotPresentException, NotFoundError
from headwater.settings import current_username

_PATHSPEC = "STEP | RUN_ID/STEP | RUN_ID/STEP/TASK_ID"


def _tasks(ctx: click.Context, pathspec: str) -> list:  # -> list[headwater.client.Task]
    from headwater.client import Flow, Step, Task, namespace, use_settings

    use_settings(reading_settings_of(ctx))
    flow_name = flow_class_of(ctx).__name__
    parts = pathspec.strip("/").split("/")
    if len(parts) in (3, 4) and parts[0] == flow_name:
        parts = parts[1:]  # FLOW/RUN_ID/STEP[/TASK_ID], as the client and the run's lines say
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise NotFoundError(f"expected {_PATHSPEC}, got {pathspec!r}",
                            fix="e.g. `card view start` or `card view 12/start/1`")
    if len(parts) == 1:
        namespace(f"user:{current_username()}")
        run = Flow(flow_name).latest_run
        if run is None:
            raise NotFoundError(f"you have no run of {flow_name} yet",
                                fix="run the flow first, or give RUN_ID/STEP")
        parts = [run.id, *parts]
    namespace(None)
    full = "/".join([flow_name, *parts])
    if len(parts) == 3:
        return [Task(full)]
    return list(Step(full))


def _latest_run_tasks(ctx: click.Context) -> list:  # -> list[headwater.client.Task]
    """Every task of your latest run of the flow, step by step (``card list`` alone)."""
    from headwater.client import Flow, namespace, use_settings

    use_settings(reading_settings_of(ctx))
    flow_name = flow_class_of(ctx).__name__
    namespace(f"user:{current_username()}")
    run = Flow(flow_name).latest_run
    if run is None:
        raise NotFoundError(f"you have no run of {flow_name} yet",
                            fix="run the flow first, or give RUN_ID/STEP")
    namespace(None)
    return [task for step in run for task in step]  # in the client's order, as Metaflow's


def _one_card(ctx: click.Context, pathspec: str, card_id: str | None, card_type: str | None,
              card_hash: str | None = None):
    from headwater.client.cards import require_cards

    tasks = _tasks(ctx, pathspec)
    cards = require_cards(tasks[0], id=card_id, type=card_type)
    if card_hash:
        cards = [c for c in cards if (c.hash or "").startswith(card_hash)]
        if not cards:
            raise CardNotPresentException(
                f"task {tasks[0].pathspec} has no card whose hash starts with {card_hash!r}",
                fix="`card list` shows each card's hash")
    # A card's type and id, and a task's id, are what its record says: `card list` and these
    # lines show their control and format characters as escapes (anyone who can write a
    # shared metadata database chooses them).
    from headwater.cli.dump_output import printable

    shown = printable(str(cards[0]))
    if len(tasks) > 1:
        click.echo(f"{len(tasks)} tasks match {pathspec!r}; showing {shown}, the first in "
                   "`card list`'s order (give RUN_ID/STEP/TASK_ID for another)", err=True)
    if len(cards) > 1:
        click.echo(f"{printable(tasks[0].pathspec)} has {len(cards)} cards that match; showing "
                   f"{shown} (choose with --id or --type)", err=True)
    return cards[0]


@click.group(help="View, save or list the cards (HTML reports) of tasks with @card, or "
             "serve them in the web UI.")
def card() -> None:
    pass


card.add_command(card_server)


_id_option = click.option("--id", "card_id", default=None, help="Only the card with this id.")
_type_option = click.option("--type", "card_type", default=None,
                            help="Only cards of this type (default, blank, ...).")
_hash_option = click.option("--hash", "card_hash", default=None,
                            help="Only the card whose content hash starts with this.")


@card.command(help="Open a task's card in the web browser (or print where the file is).")
@click.argument("pathspec", metavar="PATHSPEC")
@_id_option
@_type_option
@_hash_option
@click.pass_context
@handle_errors
def view(ctx: click.Context, pathspec: str, card_id: str | None, card_type: str | None,
         card_hash: str | None) -> None:
    import webbrowser

    from headwater.client.cards import write_private_copy

    path = write_private_copy(_one_card(ctx, pathspec, card_id, card_type, card_hash))
    try:
        opened = webbrowser.get().open("file://" + path)
    except webbrowser.Error:
        opened = False
    click.echo(f"{'Opened' if opened else 'No web browser found; the card is at'} {path}")


@card.command(help="Write a task's card HTML to FILE (or to standard output; on a terminal, "
              "control characters in it are shown as escapes).")
@click.argument("pathspec", metavar="PATHSPEC")
@click.argument("file", required=False, type=click.Path(dir_okay=False, writable=True))
@_id_option
@_type_option
@_hash_option
@click.pass_context
@handle_errors
def get(ctx: click.Context, pathspec: str, file: str | None, card_id: str | None,
        card_type: str | None, card_hash: str | None) -> None:
    found = _one_card(ctx, pathspec, card_id, card_type, card_hash)
    if file:
        found.save(file)
        from headwater.cli.dump_output import printable  # the record's type and id, as text

        click.echo(f"Wrote {printable(str(found))} to {file}", err=True)
    elif sys.stdout.isatty():
        # A card is someone's HTML: on a terminal, its control characters are shown as text
        # (``ESC ] 52`` would set the reader's clipboard), as ``logs`` shows a step's output.
        from headwater.cli.log_output import terminal_safe

        sys.stdout.write(terminal_safe(found.html))
    else:
        sys.stdout.write(found.html)


@card.command("list", help="List the cards of a task, of every task of a step, or (without "
              "PATHSPEC) of every task of your latest run.")
@click.argument("pathspec", metavar="[PATHSPEC]", required=False)
@click.option("--as-json", is_flag=True, help="Print a JSON list instead of text.")
@click.option("--file", "json_file", default=None, type=click.Path(dir_okay=False),
              help="With --as-json: write Metaflow's document ({pathspec, cards: [{id, hash, "
              "type, filename}]}, a list of them for a step) to this file.")
@_id_option
@_type_option
@click.pass_context
@handle_errors
def list_cards(ctx: click.Context, pathspec: str | None, as_json: bool, json_file: str | None,
               card_id: str | None, card_type: str | None) -> None:
    from headwater.client.cards import select_cards, task_cards

    rows = []
    if pathspec is None:
        tasks = _latest_run_tasks(ctx)
        pathspec = tasks[0].pathspec.rsplit("/", 2)[0] if tasks else "your latest run"
    else:
        tasks = _tasks(ctx, pathspec)
    for task in tasks:
        for index, found in enumerate(select_cards(task_cards(task), card_id, card_type)):
            rows.append({"pathspec": task.pathspec, "index": index, "type": found.type,
                         "id": found.id, "hash": found.hash, "live": found.live,
                         "path": found.path})
    if not rows:
        # an error, as Metaflow's (exit 1, in every form): a script that lists cards learns
        # there are none from the status, not from an empty listing
        chosen = "".join(f" {flag} {value}" for flag, value in (("--id", card_id),
                                                               ("--type", card_type)) if value)
        flow = tasks[0].pathspec.split("/")[0] if tasks else ""
        where = pathspec if not flow or pathspec.startswith(f"{flow}/") else f"{flow}/{pathspec}"
        raise CardNotPresentException(
            f"no cards for {where}{chosen and ' matching' + chosen}",
            fix="add @card to the step, or run with --with card" + (
                "; `card list` without --id/--type lists every card" if chosen else ""))
    if json_file:
        _write_metaflow_listing(json_file, tasks, rows, single=len(pathspec.split("/")) >= 3)
        return
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from headwater.cli.dump_output import printable  # names from records, shown as text

    for row in rows:
        label = f"{row['type']}" + (f" id={row['id']}" if row["id"] else "")
        state = " (live)" if row["live"] else ""
        click.echo(printable(f"{row['pathspec']}  [{row['index']}] {label}{state}  {row['path']}"))


def _metaflow_filename(row: dict) -> str:
    """The name Metaflow gives a card's file, ``TYPE[-ID]-HASH.html``: tools written for
    Metaflow tell a card's type and id from it. headwater keeps the page as a blob named by its
    hash alone, so the name says what the card is, not where the bytes are (``path`` does)."""
    parts = [row["type"], *([row["id"]] if row["id"] else []), row["hash"] or ""]
    return "-".join(str(part) for part in parts) + ".html"


def _write_metaflow_listing(path: str, tasks: list, rows: list[dict], *, single: bool) -> None:
    """``card list --as-json --file``: the document Metaflow's tools read back."""
    documents = []
    for task in tasks:
        cards = [{"id": r["id"], "hash": r["hash"], "type": r["type"],
                  "filename": _metaflow_filename(r)}
                 for r in rows if r["pathspec"] == task.pathspec]
        documents.append({"pathspec": task.pathspec, "cards": cards})
    from headwater.outfiles import replace_file  # never through another user's link

    replace_file(path, json.dumps(documents[0] if single and documents else documents).encode(),
                 private=False)
