"""Which local user is on the other end of a loopback connection.

Loopback is not private to one user: every account on the machine can connect to
``127.0.0.1:8080``. Without a token the UI answers only connections made by the user who
started it (or by root, who can read that user's datastore anyway), so another local user cannot
read runs, logs and artifacts through it that the file system would not show them.

Linux says who owns each TCP socket in ``/proc/net/tcp`` and ``/proc/net/tcp6``: the client's
end of a loopback connection is listed there, with the uid of its owner, as a socket whose local
address is the client's and whose remote address is the server's. Elsewhere (macOS, BSD) there
is no such table to read and :func:`peer_uid` answers :data:`UNKNOWN_SYSTEM`.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
UNKNOWN_SYSTEM = -1  # no socket table on this system: the owner cannot be told
NOT_FOUND = -2  # the table holds no such connection (closed meanwhile, or not from here)

Address = tuple[str, int]


def has_socket_tables() -> bool:
    return TABLES[0].exists()


def peer_uid(client: Address, server: Address) -> int:
    """The uid owning the socket at ``client`` connected to ``server`` on this machine, or
    :data:`UNKNOWN_SYSTEM` / :data:`NOT_FOUND`."""
    if not has_socket_tables():
        return UNKNOWN_SYSTEM
    wanted_local = _endpoint(*client)
    wanted_remote = _endpoint(*server)
    if wanted_local is None or wanted_remote is None:
        return NOT_FOUND
    # The kernel prints a port as four upper-case hex digits: a line whose local port is not
    # the client's is passed over before any address is parsed (this runs for every request,
    # and a busy machine lists thousands of sockets).
    port_suffix = f":{wanted_local[1]:04X}"
    for table in TABLES:
        try:
            lines = table.read_text(encoding="ascii", errors="replace").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 8 or not fields[1].endswith(port_suffix):
                continue
            if (_parse(fields[1]) == wanted_local and _parse(fields[2]) == wanted_remote
                    and fields[7].isdigit()):
                return int(fields[7])
    return NOT_FOUND


def _endpoint(host: str, port: int) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address,
                                             int] | None:
    try:
        address = ipaddress.ip_address(host.strip("[]").partition("%")[0])
    except ValueError:
        return None
    return _plain(address), int(port)


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address
           ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it carries (one spelling to compare)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _parse(field: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int] | None:
    """``0100007F:1F90`` (the kernel prints each 32-bit word of the address in the machine's own
    byte order, the port in hexadecimal) as (address, port)."""
    hex_address, _, hex_port = field.partition(":")
    try:
        raw = bytes.fromhex(hex_address)
        port = int(hex_port, 16)
    except ValueError:
        return None
    if len(raw) not in (4, 16):
        return None
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = (ipaddress.IPv4Address(raw) if len(raw) == 4 else ipaddress.IPv6Address(raw))
    return _plain(address), port
