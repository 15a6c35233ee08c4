"""Who may talk to the UI, and how: loopback by default, a token beyond it, reading only.

- Binding an address other than loopback without a token is refused (:func:`check_bind`).
- With a token, every request must carry it: ``Authorization: Bearer TOKEN``, or the cookie a
  ``?token=TOKEN`` link sets (the link then redirects to itself without the token, so the token
  does not stay in the address bar or the history).
- Without a token (loopback only), the Host header must name loopback too: a web page the user
  visits cannot reach the UI through a DNS name rebound to 127.0.0.1. And the connection must be
  the starting user's own (or root's): every local account can connect to loopback, and would
  otherwise read through the UI the runs the file system keeps from it (:mod:`headwater.ui.peer`).
- Only GET and HEAD are answered; the UI changes nothing. It has no websocket: a websocket
  handshake is refused before it reaches the app, token or not.
- Another site's page cannot use the UI from the reader's browser (:func:`cross_site`): a
  request a browser marks as coming from another site (``Sec-Fetch-Site``, or an ``Origin``
  that is not this server) is refused, unless it is a link followed to one of the UI's pages.
  So no page elsewhere can read, probe (did that image load?) or stream the UI, through the
  reader's cookie or loopback address. Clients that are not browsers send neither header.

A pure ASGI middleware: it sees every request, the static files and the event streams included.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode

from headwater.exceptions import HeadwaterException
from headwater.ui.headers import stamped
from headwater.ui.peer import UNKNOWN_SYSTEM, peer_uid

TOKEN_ENV = "HEADWATER_UI_TOKEN"
COOKIE = "headwater_ui_token"


class UnsafeBindError(HeadwaterException):
    """The UI was asked to listen beyond loopback without a token."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_token(given: str | None) -> str | None:
    """The token from ``--token``, else from HEADWATER_UI_TOKEN, else None (no token)."""
    token = given if given is not None else os.environ.get(TOKEN_ENV)
    return token or None


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen on a non-loopback address without a token."""
    if token is None and not is_loopback(host):
        raise UnsafeBindError(
            f"refusing to serve the UI on {host}: anyone who can reach that address could read "
            "every run, and no token was given",
            fix=f"set {TOKEN_ENV} (or pass --token-file PATH or --new-token) to require a "
            "token, or bind 127.0.0.1 and reach it through an SSH tunnel",
        )
    if token is not None and len(token) < 8:
        raise UnsafeBindError("the UI token is too short to protect anything",
                              fix="use at least 8 characters, e.g. from `python -c \"import "
                              "secrets; print(secrets.token_urlsafe())\"`")


def masked(token: str) -> str:
    """The token as it may be printed: its last 4 characters only."""
    return "..." + token[-4:]


def new_token() -> str:
    return secrets.token_urlsafe(24)


Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


class Guard:
    """ASGI middleware enforcing the rules of the module docstring."""

    def __init__(self, app: ASGIApp, token: str | None, *,
                 owner: int | None = os.geteuid()) -> None:  # noqa: B008 - this process's user
        """``owner``: the user whose loopback connections are answered without a token (root's
        too); None answers any (only for tests that speak ASGI without a socket)."""
        self.app = app
        self.token = token
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        send = stamped(send)
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, "The headwater UI is read-only.", [(b"allow", b"GET, HEAD")])
            return
        if self.token is None and not _loopback_host(headers.get("host", "")):
            await _plain(send, 403, "This UI answers to localhost names only.")
            return
        if self.token is None and not self._own_connection(scope):
            await _plain(send, 403, "This UI answers only the user who started it: without a "
                         "token, other users of this machine may not read its runs. To share "
                         f"it, start it with a token ({TOKEN_ENV}) and give them the link.")
            return
        if cross_site(headers):
            await _plain(send, 403, "This UI answers another site's page only when a link to "
                         "one of its pages is followed; open it in its own tab.")
            return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        raw_query = scope.get("query_string", b"").decode("latin-1")
        query = dict(parse_qsl(raw_query))
        if "token" in query and any(self._matches(t) for t in _offered_tokens(raw_query)):
            await self._set_cookie_and_redirect(scope, query, send)
            return
        if self._matches(_bearer(headers)) or self._matches(_cookie(headers)):
            await self.app(scope, receive, send)
            return
        await _plain(send, 401, "A token is needed: open the link with ?token=... that the "
                     "person running `headwater ui` gave you, or send Authorization: Bearer.",
                     [(b"www-authenticate", b'Bearer realm="headwater"')])

    def _own_connection(self, scope: Scope) -> bool:
        """Whether the client's end of this connection belongs to the owner (or root)."""
        if self.owner is None:
            return True
        client, server = scope.get("client"), scope.get("server")
        if not client or not server:
            return False
        uid = peer_uid((str(client[0]), int(client[1])), (str(server[0]), int(server[1])))
        return uid in (self.owner, 0, UNKNOWN_SYSTEM)

    def _matches(self, offered: str | None) -> bool:
        if not offered or self.token is None:
            return False
        return hmac.compare_digest(offered.encode(), self.token.encode())

    async def _set_cookie_and_redirect(self, scope: Scope, query: dict, send: Callable) -> None:
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        # Back to the same page on this server: the path percent-encoded (no CR/LF or non-ASCII
        # can reach the header) and never starting "//", which a browser reads as another host.
        path = "/" + quote(scope["path"], safe="/%:@!$&'()*+,;=-._~").lstrip("/")
        location = path + (f"?{rest}" if rest else "")
        # Percent-encoded: a token holding ';', ',' or a space would otherwise end the cookie's
        # value early (or add attributes to it), and the sign-in would loop on 401.
        cookie = f"{COOKIE}={quote(self.token, safe='')}; Path=/; HttpOnly; SameSite=Strict"
        await _plain(send, 303, "Signed in.", [(b"location", location.encode()),
                                               (b"set-cookie", cookie.encode())])


def cross_site(headers: dict[str, str]) -> bool:
    """Whether a browser sent this request on behalf of another site's page (a fetch, an image,
    an event stream, a frame), rather than for the UI's own pages or a link the reader followed.

    ``Sec-Fetch-Site`` says so in current browsers ("same-origin" and "none", a typed address or
    a bookmark, are the reader's own); ``Origin`` in older ones ("null" is a sandboxed document,
    such as a card). A top-level navigation (a link from a chat message or a wiki) is allowed:
    it shows the page to the reader, and hands nothing to the site it came from.
    """
    navigating = (headers.get("sec-fetch-mode") == "navigate"
                  and headers.get("sec-fetch-dest", "document") == "document")
    site = headers.get("sec-fetch-site")
    if site is not None:  # the browser's own word: trusted over an Origin a proxy may not match
        return site not in ("same-origin", "none") and not navigating
    origin = headers.get("origin")
    if origin is None:
        return False
    same = origin.partition("://")[2] == headers.get("host", "") and origin != "null"
    return not same and not navigating


def _loopback_host(host_header: str) -> bool:
    """Whether a Host header ("localhost:8080", "[::1]:8080", ...) names this machine."""
    if host_header.startswith("["):
        host, closed, port = host_header[1:].partition("]")
        if not closed:
            return False
        port = port.removeprefix(":")
    else:
        host, _, port = host_header.partition(":")
    return is_loopback(host) and (port == "" or port.isascii() and port.isdigit())


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, credential = value.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


def _cookie(headers: dict[str, str]) -> str | None:
    """The token cookie's value, read in one pass over the header.

    Not ``http.cookies.SimpleCookie``: its unquoting takes time quadratic in the backslashes of
    a quoted value in the Pythons before 3.11.10 and 3.12.6 (CVE-2024-7592), and the guard reads
    the cookie of every request before knowing who sent it: one 16 KB header held the server's
    only event loop for more than a second, a few a second kept every page from answering. The
    cookie this module sets is percent-encoded, so no quoting is needed to read it back."""
    for pair in headers.get("cookie", "").split(";"):
        name, equals, value = pair.strip().partition("=")
        if equals and name == COOKIE:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return unquote(value)
    return None


def _offered_tokens(raw_query: str) -> list[str]:
    """The ``token`` of a query string, read both ways a person may have typed it: percent-
    decoded with ``+`` kept (a base64 token pasted as is, ``openssl rand -base64``) and with
    ``+`` read as a space (a form's encoding)."""
    offered = []
    for pair in raw_query.split("&"):
        name, _, value = pair.partition("=")
        if unquote_plus(name) == "token":
            offered += [unquote(value), unquote_plus(value)]
    return offered


async def _plain(send: Callable, status: int, text: str,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (text + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
