"""``headwater ui`` and ``python flow.py card server``: parse the options, start the web UI.

The server lives in :mod:`headwater.ui` (its packages come with ``pip install 'headwater[ui]'``);
this only reads the options and hands them over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from headwater.cli.context import flow_class_of, reading_settings_of
from headwater.cli.errors import handle_errors
from headwater.settings import Settings

_HOST = click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to listen on. Anything but loopback needs a token.")
_PORT = click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
                     help="Port to listen on.")


def _token_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--new-token", is_flag=True, default=False,
        help="Make a token and print it once, in the link to open.")(command)
    command = click.option(
        "--token-file", default=None, metavar="PATH",
        help="Read the token from the first line of PATH, a file only you may read (chmod 600)."
    )(command)
    return click.option(
        "--token", default=None, metavar="TOKEN",
        help="Require this token on every request (default: $HEADWATER_UI_TOKEN). Other users "
        "see it in `ps`: prefer the variable, --token-file or --new-token.")(command)


def _serve(settings: Settings, host: str, port: int, tokens: tuple[str | None, str | None, bool],
           path: str = "/") -> None:
    from headwater.ui.server import serve

    token, token_file, new_token = tokens
    if token is not None:
        from headwater.ui.tokens import COMMAND_LINE_WARNING

        click.echo(COMMAND_LINE_WARNING, err=True)
    serve(settings, host=host, port=port, token=token, path=path, token_file=token_file,
          new_token=new_token)


@click.command("ui", help="Serve the web UI: runs, graphs, tasks, logs, artifacts and cards, "
               "updating live. Read-only; listens on 127.0.0.1 unless told otherwise.")
@click.option("--datastore-root", default=None,
              help="Folder (or URL) holding runs' data (default: the nearest .headwater/).")
@click.option("--metadata", default=None, help="A metadata database path or URL.")
@_HOST
@_PORT
@_token_options
@handle_errors
def ui(datastore_root: str | None, metadata: str | None, host: str, port: int,
       token: str | None, token_file: str | None, new_token: bool) -> None:
    _serve(Settings.resolve(datastore_root=datastore_root, metadata=metadata), host, port,
           (token, token_file, new_token))


@click.command("server", help="Serve the web UI on this flow's runs; each task's page shows "
               "its cards (see `headwater ui`).")
@_HOST
@_PORT
@_token_options
@click.pass_context
@handle_errors
def card_server(ctx: click.Context, host: str, port: int, token: str | None,
                token_file: str | None, new_token: bool) -> None:
    from urllib.parse import quote

    flow = flow_class_of(ctx).__name__
    _serve(reading_settings_of(ctx), host, port, (token, token_file, new_token),
           path=f"/flows/{quote(flow)}")
