"""Every adapter against hostile or broken peers: an ERROR within the timeout, never a hang
or an exception (tests.services.fake servers on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from shaobing.scan.credentials.base import Authenticator, Outcome
from shaobing.scan.credentials.memcached import MemcachedAuthenticator
from shaobing.scan.credentials.mongodb import MongoAuthenticator
from shaobing.scan.credentials.mysql import MySQLAuthenticator
from shaobing.scan.credentials.postgres import PostgresAuthenticator
from shaobing.scan.credentials.redis import RedisAuthenticator
from tests.scan.dbcreds.context import TestContext
from tests.scan.dbcreds.helpers import Serve, target
from tests.services.fake import drain

TIMEOUT = 0.5
# A plausible start for each protocol, so the trickle reaches the deep reads.
PREFIX = {
    "mysql": b"\xf0\x00\x00\x00\x0a5.5.5-10.11.2-MariaDB",
    "postgresql": b"R\x00\x00\x00\x0c\x00\x00\x00",
    "redis": b"$100\r\n",
    "memcached": b"VERSION 1",
    "mongodb": b"\x00\x01\x00\x00\x01\x00\x00\x00",
}
ADAPTERS: list[Authenticator] = [
    MySQLAuthenticator(),
    PostgresAuthenticator(),
    RedisAuthenticator(),
    MemcachedAuthenticator(),
    MongoAuthenticator(),
]
Handler = Callable[[socket.socket, threading.Event], None]


def silent(prefix: bytes) -> Handler:
    return drain


def garbage(prefix: bytes) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(bytes(range(256)) * 64)
        drain(conn, stop)

    return handle


def reset(prefix: bytes) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return handle


def trickle(prefix: bytes) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(prefix)
        while not stop.is_set():
            conn.sendall(b"A")
            time.sleep(0.05)

    return handle


def wrong_protocol(prefix: bytes) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        drain(conn, stop)

    return handle


def http_answer(prefix: bytes) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(1)
        with contextlib.suppress(TimeoutError):
            conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    return handle


@pytest.mark.parametrize(
    "behaviour",
    [silent, garbage, reset, trickle, wrong_protocol, http_answer],
    ids=lambda b: b.__name__,
)
@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.protocol)
def test_broken_peer_gives_error_within_the_timeout(
    serve: Serve,
    adapter: Authenticator,
    behaviour: Callable[[bytes], Handler],
) -> None:
    port = serve(behaviour(PREFIX[adapter.protocol]))
    ctx = TestContext(timeout=TIMEOUT)
    start = time.monotonic()
    try:
        session = adapter.open(ctx, target(port, adapter.protocol))
    except ConnectionResetError:
        # A reset can beat the connect call: open() may then raise, as its contract allows.
        assert behaviour is reset
        return
    try:
        first = session.login("root", "123456")
        second = session.login("root", "password")
    finally:
        session.close()
    elapsed = time.monotonic() - start
    assert first.outcome is Outcome.ERROR, first
    assert second.outcome is Outcome.ERROR, second
    assert not first.reusable
    # Greeting read, then one exchange: two deadlines at most, plus scheduling slack.
    assert elapsed < 4 * TIMEOUT + 0.5, elapsed


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.protocol)
def test_closed_port_raises_oserror_from_open(adapter: Authenticator) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: refused
        with pytest.raises(ConnectionRefusedError):
            adapter.open(TestContext(timeout=TIMEOUT), target(port, adapter.protocol))


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.protocol)
def test_out_of_scope_address_is_refused_before_any_packet(adapter: Authenticator) -> None:
    from shaobing.core.scope import ScopeRefused
    from shaobing.scan.checks import ServiceTarget

    ctx = TestContext(timeout=TIMEOUT)
    with pytest.raises(ScopeRefused):
        # 192.0.2.1 is TEST-NET-1; the context refuses before creating a socket.
        adapter.open(ctx, ServiceTarget("192.0.2.1", 3306, service=adapter.protocol))
    assert ctx.connections == []
