"""The scan's gatekeepers: the scope gate, the rate limiter and the context checks get.

Every connection a scan makes passes :class:`ScopeGate` (the engagement's authorised scope
and time windows, A3) and :class:`RateLimiter` first. The gate caches decisions: where the
scope cannot depend on the port (``Scope.port_sensitive``) one decision per address serves
every port, which keeps a 65,535-port sweep from spending seconds in the scope evaluator;
cached decisions expire after a short time so a closing time window stops the scan.
Each refusal is written to the audit log once per (address, port).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from shaobing.core.audit import record_event_now
from shaobing.core.scope import Scope, ScopeDecision, ScopeRefused, evaluate

# Cached decisions are re-evaluated after this many seconds (time windows are given in
# minutes, so a window closing is noticed within this delay). Organisation-defined default.
DECISION_TTL = 15.0


class ScopeGate:
    """Scope decisions for one engagement, cached and audited."""

    def __init__(
        self,
        scope: Scope,
        *,
        client_id: int,
        engagement_id: int,
        audit_engine: Engine | None,
        actor: str,
        clock: Callable[[], datetime] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.scope = scope
        # Addresses that came from a host-name target are judged as that name, with the
        # resolver pinned to the address already resolved (no second lookup to rebind).
        self._names = dict(names or {})
        self._client_id = client_id
        self._engagement_id = engagement_id
        self._audit_engine = audit_engine
        self._actor = actor
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int | None], tuple[float, ScopeDecision]] = {}
        self._audited: set[tuple[str, int | None]] = set()
        self.refusals = 0

    def decide(self, address: str, port: int | None = None) -> ScopeDecision:
        """The decision for ``address`` (and ``port``); refusals are audited once each."""
        name = self._names.get(address)
        sensitive = name is not None or self.scope.port_sensitive(address)
        key_port = port if sensitive else None
        key = (address, key_port)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < DECISION_TTL:
            decision = cached[1]
        else:
            moment = self._clock() if self._clock else None
            if name is not None:
                decision = evaluate(
                    self.scope, name, port=key_port, now=moment, resolver=lambda _n: [address]
                )
            else:
                decision = evaluate(self.scope, address, port=key_port, now=moment)
            with self._lock:
                self._cache[key] = (now, decision)
        if not decision.allowed:
            self._audit(address, port, decision)
        return decision

    def time_refusal(self) -> ScopeDecision | None:
        """The refusal when the engagement's period or time windows exclude the present."""
        return self.scope.time_refusal(self._clock() if self._clock else None)

    def port_sensitive(self, address: str) -> bool:
        """Whether decisions for ``address`` depend on the port."""
        return address in self._names or self.scope.port_sensitive(address)

    def check(self, address: str, port: int | None = None) -> None:
        """Raise :class:`ScopeRefused` unless ``address``/``port`` may be touched now."""
        decision = self.decide(address, port)
        if not decision.allowed:
            raise ScopeRefused(decision)

    def _audit(self, address: str, port: int | None, decision: ScopeDecision) -> None:
        key = (address, port)
        with self._lock:
            self.refusals += 1
            if key in self._audited:
                return
            self._audited.add(key)
        if self._audit_engine is None:
            return
        record_event_now(
            self._audit_engine,
            "scope.refused",
            actor=self._actor,
            outcome="refused",
            client_id=self._client_id,
            engagement_id=self._engagement_id,
            target=address if port is None else f"{address}:{port}",
            detail={
                "operation": "scan.connect",
                "reason": decision.reason,
                "matched": decision.matched,
                "message": decision.message,
            },
        )


class RateLimiter:
    """Token bucket: at most ``rate`` new connections per second (0 = unlimited)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def acquire(self) -> None:
        """Wait for the next slot."""
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
        delay = slot - now
        if delay > 0:
            time.sleep(delay)


class ScanContext:
    """The :class:`~shaobing.scan.checks.CheckContext` the engine hands to checks."""

    def __init__(
        self,
        gate: ScopeGate,
        limiter: RateLimiter,
        *,
        timeout: float,
        options: Mapping[str, Any] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.gate = gate
        self.limiter = limiter
        self.timeout = timeout
        self.options: Mapping[str, Any] = options or {}
        self._stop = stop or threading.Event()
        self.connections = 0
        self._lock = threading.Lock()

    def with_options(self, options: Mapping[str, Any]) -> ScanContext:
        """A context sharing gate, limiter and stop flag, with a check's own options."""
        return ScanContext(
            self.gate, self.limiter, timeout=self.timeout, options=options, stop=self._stop
        )

    def permit(self, address: str, port: int) -> None:
        """Scope guard and rate limit for one connection (raises ScopeRefused)."""
        self.gate.check(address, port)
        self.limiter.acquire()
        with self._lock:
            self.connections += 1

    def connect(
        self, address: str, port: int, *, timeout: float | None = None, udp: bool = False
    ) -> socket.socket:
        """A connected blocking socket, after the scope guard and the rate limit."""
        self.permit(address, port)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        sock = socket.socket(family, kind)
        sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            sock.connect((address, port))
        except BaseException:
            sock.close()
            raise
        return sock

    def should_stop(self) -> bool:
        """True once the scan is pausing or cancelled."""
        return self._stop.is_set()
