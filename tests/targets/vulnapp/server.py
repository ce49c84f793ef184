"""Serve the application with uvicorn on a loopback socket.

uvicorn runs with its h11 protocol, subclassed only to wrap the transport: the bytes of a
response head are passed through unchanged except that the CR/LF markers written by the
CRLF-injection pages (:data:`net.CR_MARK`, :data:`net.LF_MARK`) become real CR and LF. h11
validates header values and would otherwise refuse them; a careless server does not.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tests.targets.vulnapp.app import build_app
from tests.targets.vulnapp.config import AppConfig, require_loopback
from tests.targets.vulnapp.net import CR_MARK, LF_MARK


class _HeadRewritingTransport:
    """Delegates to a transport; rewrites the CR/LF markers in response heads."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        chunk = bytes(data)
        if chunk.startswith(b"HTTP/") and b"\xff\xfe<" in chunk:
            head, sep, body = chunk.partition(b"\r\n\r\n")
            head = head.replace(CR_MARK, b"\r").replace(LF_MARK, b"\n")
            chunk = head + sep + body
        self._transport.write(chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CrlfPassingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol writing through :class:`_HeadRewritingTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Wrap the transport, then set up as usual."""
        super().connection_made(_HeadRewritingTransport(transport))  # type: ignore[arg-type]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on loopback ``host`` and ``port`` (0: any free port)."""
    address = require_loopback(host)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that name it, and
    # without it every keep-alive answer waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(config: AppConfig, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; print one ``vulnapp ready`` line once listening."""
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    app = build_app(config)
    server_config = uvicorn.Config(
        app,
        http=CrlfPassingH11Protocol,
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=5,
    )
    server = uvicorn.Server(server_config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        shown = f"[{host}]" if ":" in host else host
        backends = ",".join(sorted(config.backends))
        print(f"vulnapp ready on http://{shown}:{actual}/ backends={backends}", flush=True)
    await task
    sys.stdout.flush()
