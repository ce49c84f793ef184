"""A tiny TCP mock: each chunk a client sends is answered by ``respond(chunk)``; ``None``
closes the connection. An optional banner is sent on connect."""

from __future__ import annotations

import socket
import socketserver
from collections.abc import Callable

from tests.targets.served import ServedTarget

Respond = Callable[[bytes], bytes | None]


class MockTcpTarget(ServedTarget):
    """A local TCP server on 127.0.0.1 and a free port."""

    def __init__(self, respond: Respond, *, banner: bytes = b"") -> None:
        self.received: list[bytes] = []
        mock = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(2)
                try:
                    if banner:
                        sock.sendall(banner)
                    while True:
                        data = sock.recv(65536)
                        if not data:
                            return
                        mock.received.append(data)
                        reply = respond(data)
                        if reply is None:
                            return
                        sock.sendall(reply)
                except OSError:
                    return

        super().__init__(socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler))

    @property
    def address(self) -> str:
        """``127.0.0.1:port`` (a template target)."""
        return f"127.0.0.1:{self.port}"
