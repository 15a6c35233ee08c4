"""Reading the owner of a loopback connection from the kernel's socket table (ui/peer.py),
against real sockets of this process."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from headwater.ui import peer

linux_only = pytest.mark.skipif(not peer.has_socket_tables(), reason="no /proc/net/tcp here")


def _connected(family: int, host: str) -> tuple[socket.socket, socket.socket, socket.socket]:
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((host, 0))
    server.listen(1)
    client = socket.socket(family, socket.SOCK_STREAM)
    client.connect(server.getsockname()[:2])
    accepted, _ = server.accept()
    return server, client, accepted


@linux_only
@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"),
                                          (socket.AF_INET6, "::1")])
def test_the_owner_of_a_loopback_connection_is_this_process_user(family, host):
    try:
        sockets = _connected(family, host)
    except OSError:
        pytest.skip(f"{host} is not available here")
    server, client, accepted = sockets
    try:
        client_address = client.getsockname()[:2]
        server_address = server.getsockname()[:2]
        assert peer.peer_uid(client_address, server_address) == os.geteuid()
        # The server's own end is not the client's: swapped, it is still this user's socket,
        # but a port nothing is connected from is found nowhere.
        assert peer.peer_uid((host, 1), server_address) == peer.NOT_FOUND
    finally:
        for s in sockets:
            s.close()


def test_addresses_are_read_in_the_kernels_spelling():
    if sys.byteorder != "little":
        pytest.skip("the spellings below are a little-endian machine's")
    assert peer._parse("0100007F:1F90") == (peer._endpoint("127.0.0.1", 8080))
    assert peer._parse("00000000000000000000000001000000:0050") == peer._endpoint("::1", 80)
    mapped = "0000000000000000FFFF00000100007F:0050"  # ::ffff:127.0.0.1, read as 127.0.0.1
    assert peer._parse(mapped) == peer._endpoint("127.0.0.1", 80)
    assert peer._parse("zz:1") is None and peer._parse("0100:1") is None
    assert peer._endpoint("not an address", 1) is None
