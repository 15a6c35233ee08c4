"""``headwater ui`` and ``python flow.py card server``: parse the options, start the web UI.

The server lives in :mod:`headwater.ui` (its packages come with ``pip install 'headwater[ui]'``);
this only reads the options and hands them over.
"""

from __future__ import annotations

import click

from headwater.cli.context import flow_class_of, reading_settings_of
from headwater.cli.errors import handle_errors
from headwater.settings import Settings

_HOST = click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to listen on. Anything but loopback needs a token.")
_PORT = click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
                     help="Port to listen on.")
_TOKEN = click.option("--token", default=None, metavar="TOKEN",
                      help="Require this token on every request (default: $HEADWATER_UI_TOKEN; "
                      "the variable keeps it out of `ps`).")


def _serve(settings: Settings, host: str, port: int, token: str | None, path: str = "/") -> None:
    from headwater.ui.server import serve

    serve(settings, host=host, port=port, token=token, path=path)


@click.command("ui", help="Serve the web UI: runs, graphs, tasks, logs, artifacts and cards, "
               "updating live. Read-only; listens on 127.0.0.1 unless told otherwise.")
@click.option("--datastore-root", default=None,
              help="Folder (or URL) holding runs' data (default: the nearest .headwater/).")
@click.option("--metadata", default=None, help="A metadata database path or URL.")
@_HOST
@_PORT
@_TOKEN
@handle_errors
def ui(datastore_root: str | None, metadata: str | None, host: str, port: int,
       token: str | None) -> None:
    _serve(Settings.resolve(datastore_root=datastore_root, metadata=metadata), host, port, token)


@click.command("server", help="Serve the web UI on this flow's runs; each task's page shows "
               "its cards (see `headwater ui`).")
@_HOST
@_PORT
@_TOKEN
@click.pass_context
@handle_errors
def card_server(ctx: click.Context, host: str, port: int, token: str | None) -> None:
    from urllib.parse import quote

    flow = flow_class_of(ctx).__name__
    _serve(reading_settings_of(ctx), host, port, token, path=f"/flows/{quote(flow)}")
