"""Fixtures of the engine tests: listeners on loopback and the test plugins."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from shaobing.scan import checks as checks_module
from shaobing.scan.checks import Check
from tests.scan.engine.plugins import BannerCheck, BrokenCheck, IntrusiveCheck, SlowCheck


class Listener:
    """A TCP listener on 127.x.y.z that greets each client and counts connections."""

    def __init__(self, address: str, greeting: bytes = b"", port: int = 0) -> None:
        self.address = address
        self.greeting = greeting
        self.accepted = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((address, port))
        self._sock.listen(128)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            try:
                if self.greeting:
                    conn.sendall(self.greeting)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


@pytest.fixture
def listen() -> Iterator[Callable[..., Listener]]:
    """Start listeners; all are closed after the test."""
    made: list[Listener] = []

    def start(address: str = "127.0.0.1", greeting: bytes = b"", port: int = 0) -> Listener:
        listener = Listener(address, greeting, port)
        made.append(listener)
        return listener

    yield start
    for listener in made:
        listener.close()


@pytest.fixture
def test_checks() -> Iterator[Callable[..., None]]:
    """Register test plugins for one test; the registry is restored afterwards."""
    added: list[type[Check]] = []

    def install(*classes: type[Check]) -> None:
        for cls in classes:
            checks_module.register_check(cls)
            added.append(cls)

    SlowCheck.running.clear()
    SlowCheck.peak.clear()
    SlowCheck.calls.clear()
    IntrusiveCheck.ran = 0
    yield install
    for cls in added:
        checks_module._REGISTRY.pop(cls.id, None)


__all__ = ["BannerCheck", "BrokenCheck", "IntrusiveCheck", "Listener", "SlowCheck"]
