"""Login rate limits: per client address and per user name, sliding windows in memory.

Lockout (auth layer) protects an existing account after 5 failures; these limits slow
password spraying across many names, probing which names exist, and flooding argon2 with
work. Limits are organisation-defined defaults (``$SHAOBING_HOME/auth.yaml`` can't change
them yet; they are arguments of the app factory).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SlidingWindow:
    """At most ``limit`` events per ``seconds`` per key."""

    limit: int
    seconds: float
    clock: Callable[[], float] = time.monotonic
    _events: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, key: str) -> float | None:
        """Count one event for ``key``; None if allowed, else seconds until it would be."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                return max(0.0, self.seconds - (now - events[0]))
            events.append(now)
            if len(self._events) > 100_000:
                # Bound memory under a flood of distinct keys: drop keys with no recent events.
                self._events = {
                    k: v for k, v in self._events.items() if v and now - v[-1] < self.seconds
                }
            return None


@dataclass
class LoginLimiter:
    """The two windows a login attempt must pass."""

    # Organisation-defined defaults: 20 attempts a minute from one address, 10 a minute
    # against one name (above the auth layer's 5 failures, so lockout still speaks first).
    per_address: SlidingWindow = field(default_factory=lambda: SlidingWindow(20, 60.0))
    per_username: SlidingWindow = field(default_factory=lambda: SlidingWindow(10, 60.0))

    def check(self, address: str, username: str) -> float | None:
        """None if this attempt may proceed, else the seconds to wait."""
        wait = self.per_address.hit(address)
        if wait is not None:
            return wait
        return self.per_username.hit(username.strip().lower()[:64])
