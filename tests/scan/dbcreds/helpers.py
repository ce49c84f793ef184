"""Shared helpers of the adapter tests: run a session against bytes or a target, in time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from shaobing.scan.checks import ServiceTarget
from shaobing.scan.credentials._stream import Stream
from shaobing.scan.credentials.base import Attempt, Authenticator
from tests.scan.dbcreds.context import TestContext
from tests.services.fake import Handler

Serve = Callable[[Handler], int]
"""The type of the ``serve`` fixture (tests.services.fake)."""

# Passwords a dictionary would try; none is the strong planted password.
COMMON = ["123456", "password", "admin", "root", "12345678", "qwerty", "admin123", "", "test"]


def target(port: int, service: str) -> ServiceTarget:
    """A loopback service target."""
    return ServiceTarget("127.0.0.1", port, service=service)


def attempt(
    adapter: Authenticator, port: int, user: str | None, password: str, timeout: float = 3.0
) -> Attempt:
    """Open a fresh session, try one pair, close."""
    session = adapter.open(TestContext(timeout=timeout), target(port, adapter.protocol))
    try:
        return session.login(user, password)
    finally:
        session.close()


def stream_from(data: bytes, timeout: float = 0.5) -> Stream:
    """A Stream whose peer sends ``data`` and then closes (for feeding parsers garbage)."""
    ours, theirs = socket.socketpair()
    sender = threading.Thread(target=_send_and_close, args=(theirs, data), daemon=True)
    sender.start()
    return Stream(ours, timeout)


def _send_and_close(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2)
        while sock.recv(65536):  # swallow what the client says until it closes
            pass
    except OSError:
        pass
    finally:
        sock.close()


def timed(func: Callable[[], Attempt]) -> tuple[Attempt, float]:
    """Run ``func`` and return its result with the elapsed seconds."""
    start = time.monotonic()
    result = func()
    return result, time.monotonic() - start
