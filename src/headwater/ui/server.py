"""Start the UI: check the address is safe, build the app, serve it with uvicorn until stopped."""

from __future__ import annotations

import socket
import sys
from typing import TextIO
from urllib.parse import quote

from headwater.exceptions import HeadwaterException
from headwater.redaction import redact
from headwater.settings import Settings
from headwater.ui.security import check_bind, masked, resolve_token

# Connections waiting to be accepted. asyncio accepts up to this many in one go before any of
# them is checked (ui/connections.py), so it also bounds the descriptors a burst takes at once.
BACKLOG = 128


class UIDependencyError(HeadwaterException):
    """The UI's web server packages are not installed."""


def _require_server_packages() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UIDependencyError(
            f"the web UI needs {exc.name}, which is not installed",
            fix="pip install 'headwater[ui]'") from None


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8080,
          token: str | None = None, path: str = "/", out: TextIO = sys.stdout,
          token_file: str | None = None, new_token: bool = False) -> None:
    """Serve the UI over ``settings`` on ``host:port`` until interrupted.

    ``token`` (or ``token_file``, a private file holding it, or ``new_token``, one made here, or
    HEADWATER_UI_TOKEN) is required for any address beyond loopback; it is never printed, only
    its last four characters, except a new token, printed once in the link to open.
    ``path`` is the page the printed address opens.
    """
    from headwater.ui.tokens import chosen_token

    token = resolve_token(chosen_token(token, token_file, new_token))
    check_bind(host, token)
    _require_server_packages()
    import uvicorn

    from headwater.ui.app import create_app
    from headwater.ui.connections import bounded_protocol, raise_open_file_limit

    listening = _listen(host, port)
    port = listening.getsockname()[1]  # the one the system chose, for --port 0
    app = create_app(settings, token=token)
    shown_host = f"[{host}]" if ":" in host else host
    out.write(f"headwater UI on http://{shown_host}:{port}{path}\n"
              f"  datastore: {redact(settings.datastore_root)}\n"
              f"  metadata:  {redact(settings.metadata_url)}\n")
    if token is not None and new_token:
        out.write(f"  a new token is required: open http://{shown_host}:{port}{path}?token="
                  f"{quote(token, safe='')}\n  (this link is printed once; keep it to yourself)\n")
    elif token is not None:
        out.write(f"  a token is required (the one ending {masked(token)}): open "
                  f"http://{shown_host}:{port}{path}?token=<TOKEN>\n")
    out.write("Press Ctrl-C to stop.\n")
    out.flush()
    # proxy_headers off: uvicorn would otherwise take the client's address from an
    # X-Forwarded-For any local user may send, and the guard asks who owns the real one.
    # http: uvicorn's h11 protocol, bounding the connections one peer may hold open
    # (ui/connections.py: idle connections of another user used up every descriptor).
    raise_open_file_limit()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            server_header=False, lifespan="on", proxy_headers=False,
                            http=bounded_protocol(), backlog=BACKLOG)
    uvicorn.Server(config).run(sockets=[listening])


class UIBindError(HeadwaterException):
    """The UI's address cannot be listened on (taken, not this machine's, not allowed)."""


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` before anything is printed: an address in use is one
    clear error (not "headwater UI on ..." followed by the server's own complaint), and the
    address printed is the one really listened on."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listening = socket.socket(family, kind, proto)
        try:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.bind(address)
            listening.listen(BACKLOG)
        except BaseException:
            listening.close()
            raise
    except OSError as err:
        raise UIBindError(f"cannot serve the UI on {host}:{port}: {err.strerror or err}",
                          fix="pick another --port (--port 0 takes any free one) or stop what "
                          "listens there; --host must be an address of this machine") from None
    return listening
