"""The life cycle the mock targets share: serve a socketserver on a thread, stop it."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Self


class ServedTarget:
    """A threaded socketserver on 127.0.0.1 and a free port; a context manager."""

    def __init__(self, server: socketserver.TCPServer) -> None:
        self._server = server
        if isinstance(server, socketserver.ThreadingMixIn):
            server.daemon_threads = True  # a hung client must not keep the tests alive
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    def start(self) -> Self:
        """Serve on a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
