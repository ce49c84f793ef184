"""Fixtures for the template engine: local mock HTTP/TCP targets and scoped contexts.

Every server listens on 127.0.0.1 and a free port; contexts are scoped to exactly the
targets a test names, so a request anywhere else is refused before a packet is sent.
"""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shaobing.cli.templates import build_context
from shaobing.scan.context import ScanContext
from shaobing.templates.loader import load_template
from shaobing.templates.model import Template


@dataclass
class Seen:
    """One request the mock server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[Seen], Reply]


@dataclass
class MockHttp:
    """A local HTTP server with a route table; records every request."""

    server: ThreadingHTTPServer
    routes: dict[str, Route | Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [item.path for item in self.seen]


def _handler(mock: MockHttp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            mock.connections += 1
            super().setup()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, dict(self.headers.items()), body)
            mock.seen.append(seen)
            route = mock.routes.get(self.path.split("?", 1)[0], mock.routes.get("*"))
            if route is None:
                status, headers, payload = 404, {"Content-Type": "text/plain"}, b"not found"
            elif callable(route):
                status, headers, payload = route(seen)
            else:
                status, headers, payload = route
            headers = dict(headers)
            chunked = headers.pop("X-Chunked", None)
            if headers.pop("X-Gzip", None):
                payload = gzip.compress(payload)
                headers["Content-Encoding"] = "gzip"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(payload), 7):
                    piece = payload[start : start + 7]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_OPTIONS = _serve  # noqa: N815

    return Handler


def _start_http() -> MockHttp:
    mock = MockHttp(server=None)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(mock))
    server.daemon_threads = True
    mock.server = server
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return mock


@pytest.fixture
def http_target() -> Iterator[MockHttp]:
    """A mock HTTP target on 127.0.0.1."""
    mock = _start_http()
    yield mock
    mock.server.shutdown()
    mock.server.server_close()


@pytest.fixture
def other_http_target() -> Iterator[MockHttp]:
    """A second mock HTTP target (used as the out-of-scope host)."""
    mock = _start_http()
    yield mock
    mock.server.shutdown()
    mock.server.server_close()


@dataclass
class MockTcp:
    """A TCP server answering each received chunk with ``respond(data)``."""

    server: socketserver.ThreadingTCPServer
    received: list[bytes] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@pytest.fixture
def tcp_target() -> Iterator[Callable[[Callable[[bytes], bytes]], MockTcp]]:
    """Factory: start a TCP mock with a reply function."""
    started: list[MockTcp] = []

    def start(respond: Callable[[bytes], bytes]) -> MockTcp:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(2)
                try:
                    data = sock.recv(4096)
                except OSError:
                    return
                mock.received.append(data)
                sock.sendall(respond(data))

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        mock = MockTcp(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(mock)
        return mock

    yield start
    for mock in started:
        mock.server.shutdown()
        mock.server.server_close()


def context_for(*targets: str, timeout: float = 3.0) -> ScanContext:
    """A scan context whose scope is exactly ``targets``."""
    return build_context(list(targets), timeout)


def write_template(folder: Path, text: str, name: str = "t.yaml") -> Template:
    """Write ``text`` as a template file and load it."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return load_template(path)
