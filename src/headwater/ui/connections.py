"""How many of the UI's open connections one peer may hold.

uvicorn keeps a connection open, without a deadline, until its first request has arrived whole:
a client that connects and sends nothing (or one byte at a time) holds a file descriptor for
ever. Every local user can connect to loopback, and the guard (``ui/security.py``) refuses
another user only once a request's head has arrived, so a few hundred idle connections from
another account used up the server's descriptors: the owner's own browser then waited for ever,
the accept loop failing with "too many open files". With a token, anyone who can reach the
address could do the same.

Here each accepted connection is counted against its peer, before uvicorn reads a byte of it:
the local user owning its client end on loopback (``ui/peer.py``), else its address. The user
who started the UI and root are not counted (they could stop the server anyway); any other peer
holding :data:`PER_PEER_LIMIT` connections has each further one closed at once, so it can never
hold more than that many descriptors. The soft limit on open files is also raised to the hard
one (at most :data:`WANTED_FILES`), so that many peers' shares fit.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

from headwater.ui.peer import peer_uid
from headwater.ui.security import is_loopback

PER_PEER_LIMIT = 64  # a browser opens about six per server; a team's script a few more
WANTED_FILES = 65536

Peer = tuple[str, Any]


def peer_of(client: tuple[str, int] | None, server: tuple[str, int] | None,
            owner: int) -> Peer | None:
    """Whom a connection is counted against: ``("uid", N)`` for another local user's on
    loopback, ``("address", HOST)`` otherwise, None for the owner's and root's (never counted)."""
    if not client or not server:
        return None
    host = str(client[0])
    if is_loopback(host):
        uid = peer_uid((host, int(client[1])), (str(server[0]), int(server[1])))
        if uid in (owner, 0):
            return None
        if uid >= 0:
            return ("uid", uid)
    return ("address", host)


def bounded_protocol(owner: int = os.geteuid(),  # noqa: B008 - this process's user
                     limit: int = PER_PEER_LIMIT) -> type:
    """uvicorn's h11 protocol class, closing at once a connection whose peer already holds
    ``limit`` open ones (see the module docstring)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    held: Counter[Peer] = Counter()

    class BoundedH11Protocol(H11Protocol):
        _counted: Peer | None = None
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = peer_of(transport.get_extra_info("peername"),
                           transport.get_extra_info("sockname"), owner)
            if peer is not None and held[peer] >= limit:
                self._refused = True
                transport.abort()  # nothing read, nothing answered: the descriptor goes now
                return
            if peer is not None:
                held[peer] += 1
                self._counted = peer
            super().connection_made(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                return
            if self._counted is not None:
                held[self._counted] -= 1
                if held[self._counted] <= 0:
                    del held[self._counted]
                self._counted = None
            super().connection_lost(exc)

    return BoundedH11Protocol


def raise_open_file_limit(wanted: int = WANTED_FILES) -> None:
    """Raise the soft limit on open files toward the hard one (many systems start at 1,024)."""
    try:
        import resource
    except ImportError:  # not on this system
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass  # the system would not: the per-peer bound still holds
