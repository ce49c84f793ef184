"""A tiny TCP mock: each chunk a client sends is answered by ``respond(chunk)``; ``None``
closes the connection. An optional banner is sent on connect."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from types import TracebackType

Respond = Callable[[bytes], bytes | None]


class MockTcpTarget:
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

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """``127.0.0.1:port`` (a template target)."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> MockTcpTarget:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> MockTcpTarget:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
