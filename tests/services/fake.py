"""Tiny fake TCP servers on 127.0.0.1 for protocol tests (never any other host)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

Handler = Callable[[socket.socket, threading.Event], None]


class FakeServer:
    """Accepts on a free 127.0.0.1 port and runs ``handler`` per connection in a thread."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self._handler(conn, self._stop)

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(2)
        self._sock.close()
        for worker in self._threads:
            worker.join(2)


def drain(conn: socket.socket, stop: threading.Event) -> None:
    """Keep the connection open, discarding input, until the client closes."""
    conn.settimeout(0.05)
    while not stop.is_set():
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            continue


def greeter(greeting: bytes) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(greeting)
        drain(conn, stop)

    return handle


def responder(answer: Callable[[bytes], bytes | None]) -> Handler:
    """Answer each request; close the connection on a request it does not understand."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(0.05)
        while not stop.is_set():
            try:
                request = conn.recv(4096)
            except TimeoutError:
                continue
            if not request:
                return
            reply = answer(request)
            if reply is None:
                return
            conn.sendall(reply)

    return handle


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], int]]:
    servers: list[FakeServer] = []

    def start(handler: Handler) -> int:
        server = FakeServer(handler)
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        server.close()
