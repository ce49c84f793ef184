"""A CheckContext for tests: loopback allow-list, counted connections, no engine needed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shaobing.core.scope import ScopeDecision, ScopeRefused

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass
class TestContext:
    """Connects only to allowed networks (loopback by default) and records every use."""

    __test__ = False  # not a pytest test class

    timeout: float = 2.0
    options: Mapping[str, Any] = field(default_factory=dict)
    allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = LOOPBACK
    connections: list[tuple[str, int, bool]] = field(default_factory=list)
    permits: list[tuple[str, int]] = field(default_factory=list)
    stopped: bool = False

    def _guard(self, address: str, port: int) -> None:
        ip = ipaddress.ip_address(address)  # names are never resolved here
        if not any(ip in net for net in self.allowed):
            decision = ScopeDecision(
                target=f"{address}:{port}", allowed=False, reason="not_in_scope", message=address
            )
            raise ScopeRefused(decision)

    def connect(
        self, address: str, port: int, *, timeout: float | None = None, udp: bool = False
    ) -> socket.socket:
        """A connected socket with the timeout set, after the allow-list check."""
        self._guard(address, port)
        self.connections.append((address, port, udp))
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
        """Record a connection a client library opens itself."""
        self._guard(address, port)
        self.permits.append((address, port))

    def should_stop(self) -> bool:
        """True once a test sets ``stopped``."""
        return self.stopped
