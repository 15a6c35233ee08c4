"""A TCP proxy on loopback that a test can turn off, or make silent, under a running client.

It stands between a client and a real server (moto's S3, PostgreSQL) so a test can make the
server *look* stopped or slow without losing what the server holds:

- ``"pass"``: bytes flow both ways, as if there were no proxy;
- ``"silent"``: connections are accepted (and held) but nothing comes back, and the
  connections already open go quiet too: a server that answers too slowly (a black hole);
- ``"down"``: the port is closed and every open connection is cut: a stopped server (a new
  connection is refused); ``"pass"`` again listens on the same port, as a restarted server.

Nothing here depends on pytest.
"""

from __future__ import annotations

import selectors
import socket
import threading


class Proxy:
    """Forwards ``127.0.0.1:port`` to ``target`` (host, port) in a thread of its own."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "pass"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True, name="netproxy")
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _listen(port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.setblocking(False)
        return sock

    def set(self, mode: str) -> None:
        """Switch to ``"pass"``, ``"silent"`` or ``"down"`` (see the module docstring)."""
        assert mode in ("pass", "silent", "down"), mode
        with self._lock:
            if mode == "down":
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
                self._cut_all()
            elif self._listener is None:
                self._listener = self._listen(self.port)
            if mode == "pass" and self.mode == "silent":
                self._cut_all()  # what was held never reached the server: start afresh
            self.mode = mode
        self._wake_w.send(b"x")

    def _cut_all(self) -> None:
        for client, server in self._pairs:
            for sock in (client, server):
                if sock is not None:
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST, not FIN
                    except OSError:
                        pass
                    sock.close()
        self._pairs.clear()

    def close(self) -> None:
        self._stop = True
        self.set("down")
        self._thread.join(10)
        self._wake_r.close()
        self._wake_w.close()

    def _loop(self) -> None:
        while not self._stop:
            sel = selectors.DefaultSelector()
            with self._lock:
                sel.register(self._wake_r, selectors.EVENT_READ, None)
                if self._listener is not None:
                    sel.register(self._listener, selectors.EVENT_READ, "accept")
                if self.mode == "pass":
                    for pair in self._pairs:
                        client, server = pair
                        if server is not None:
                            sel.register(client, selectors.EVENT_READ, (client, server))
                            sel.register(server, selectors.EVENT_READ, (server, client))
            for key, _ in sel.select(1.0):
                if key.data is None:
                    self._wake_r.recv(4096)
                elif key.data == "accept":
                    self._accept()
                else:
                    self._forward(*key.data)
            sel.close()

    def _accept(self) -> None:
        with self._lock:
            if self._listener is None:
                return
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = None
            if self.mode == "pass":
                try:
                    server = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    return
            self._pairs.append((client, server))

    def _forward(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            data = src.recv(65536)
            if data:
                dst.sendall(data)
                return
        except OSError:
            pass
        with self._lock:  # one side closed: close the pair
            for pair in list(self._pairs):
                if src in pair:
                    self._pairs.remove(pair)
                    for sock in pair:
                        if sock is not None:
                            sock.close()
