"""A simple CheckContext for the credential tests: an allow-list of loopback addresses.

The engine's real context (scope guard, rate limits) comes from the engine; this one keeps
the same contract so tests can show that adapters only reach the network through it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shaobing.core.scope import ScopeDecision, ScopeRefused


@dataclass
class RecordingContext:
    """Admits connections to ``allowed`` addresses only (all must be loopback) and counts
    them; ``stop()`` makes ``should_stop()`` true, ``stop_after`` does so after that many
    connections."""

    allowed: frozenset[str] = frozenset({"127.0.0.1"})
    timeout: float = 2.0
    options: Mapping[str, Any] = field(default_factory=dict)
    stop_after: int | None = None
    connections: list[tuple[str, int, bool]] = field(default_factory=list)
    permits: list[tuple[str, int]] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for address in self.allowed:
            # Network safety: tests never send traffic outside the loopback.
            assert ipaddress.ip_address(address).is_loopback, address

    def _guard(self, address: str, port: int) -> None:
        if address not in self.allowed:
            with self._lock:
                self.refused.append((address, port))
            decision = ScopeDecision(
                target=address,
                allowed=False,
                reason="not_in_scope",
                message=f"{address} is not in the test scope",
            )
            raise ScopeRefused(decision)

    def connect(
        self, address: str, port: int, *, timeout: float | None = None, udp: bool = False
    ) -> socket.socket:
        """A connected socket to an allowed address."""
        self._guard(address, port)
        with self._lock:
            self.connections.append((address, port, udp))
            if self.stop_after is not None and len(self.connections) >= self.stop_after:
                self._stop.set()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        sock = socket.socket(family, kind)
        sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            sock.connect((address, port))
        except OSError:
            sock.close()
            raise
        return sock

    def permit(self, address: str, port: int) -> None:
        """Scope check for a connection a library opens itself."""
        self._guard(address, port)
        with self._lock:
            self.permits.append((address, port))

    def should_stop(self) -> bool:
        """True after stop() or ``stop_after`` connections."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask running checks to return."""
        self._stop.set()
