"""Dashboard snapshots: computed at most once per minute per engagement set, served to
everyone who asks meanwhile.

At 1,000,000 findings one all-engagement dashboard costs 0.4–0.8 s of CPU (every open
finding is counted or grouped once; see docs/benchmarks.md), so computing it per request
would let a few users saturate the server. Each snapshot records when it was computed and
the page shows that time. A stale snapshot is still served while one background thread
recomputes it (stale-while-revalidate); only the very first request of a set waits.
Writes through the console mark every snapshot stale (the next view refreshes it); writes
from the CLI show up within the time-to-live.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("shaobing.server")

# Organisation-defined: how old a dashboard may be before it is recomputed, and how many
# engagement sets are remembered (least recently computed dropped first).
TTL_SECONDS = 60.0
MAX_SNAPSHOTS = 500
# A forced refresh of a snapshot younger than this just returns it (refresh-button storms).
MIN_REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class Snapshot:
    """One computed dashboard and when it was made."""

    data: dict[str, Any]
    computed_at: datetime
    monotonic: float
    compute_seconds: float

    def meta(self, now: float, *, refreshing: bool) -> dict[str, Any]:
        """What the page and the API say about the snapshot's age."""
        return {
            "computed_at": self.computed_at.isoformat(),
            "age_seconds": round(max(0.0, now - self.monotonic), 1),
            "compute_seconds": round(self.compute_seconds, 3),
            "ttl_seconds": TTL_SECONDS,
            "refreshing": refreshing,
        }


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    snapshot: Snapshot | None = None
    stale: bool = False
    refreshing: bool = False


@dataclass
class SnapshotCache:
    """Snapshots by key with single-flight computation."""

    ttl: float = TTL_SECONDS
    clock: Callable[[], float] = time.monotonic
    _slots: dict[Hashable, _Slot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _slot(self, key: Hashable) -> _Slot:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                if len(self._slots) >= MAX_SNAPSHOTS:
                    oldest = min(
                        self._slots,
                        key=lambda k: s.monotonic if (s := self._slots[k].snapshot) else 0.0,
                    )
                    self._slots.pop(oldest)
                slot = self._slots[key] = _Slot()
            return slot

    def invalidate(self) -> None:
        """Mark every snapshot stale (data changed through the console)."""
        with self._lock:
            for slot in self._slots.values():
                slot.stale = True

    def _compute(self, slot: _Slot, compute: Callable[[], dict[str, Any]]) -> Snapshot:
        started = self.clock()
        data = compute()
        done = self.clock()
        snapshot = Snapshot(data, datetime.now(UTC), done, done - started)
        slot.snapshot, slot.stale = snapshot, False
        return snapshot

    def _fresh(self, slot: _Slot, now: float) -> bool:
        snap = slot.snapshot
        return snap is not None and not slot.stale and now - snap.monotonic < self.ttl

    def get(
        self, key: Hashable, compute: Callable[[], dict[str, Any]], *, force: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(data, meta) for ``key``; ``compute`` opens its own database session."""
        slot = self._slot(key)
        now = self.clock()
        snap = slot.snapshot
        if force and snap is not None and now - snap.monotonic < MIN_REFRESH_SECONDS:
            return snap.data, snap.meta(now, refreshing=False)
        if not force and self._fresh(slot, now):
            assert snap is not None
            return snap.data, snap.meta(now, refreshing=False)
        if snap is not None and not force:
            # Stale: serve it and let one thread recompute.
            with self._lock:
                start = not slot.refreshing
                slot.refreshing = True
            if start:
                threading.Thread(target=self._background, args=(slot, compute), daemon=True).start()
            return snap.data, snap.meta(now, refreshing=True)
        with slot.lock:  # the first request (or a forced refresh) waits; others wait with it
            now = self.clock()
            if slot.snapshot is not None and (
                (not force and self._fresh(slot, now))
                or (force and now - slot.snapshot.monotonic < MIN_REFRESH_SECONDS)
            ):
                return slot.snapshot.data, slot.snapshot.meta(now, refreshing=False)
            fresh = self._compute(slot, compute)
            return fresh.data, fresh.meta(self.clock(), refreshing=False)

    def _background(self, slot: _Slot, compute: Callable[[], dict[str, Any]]) -> None:
        try:
            with slot.lock:
                self._compute(slot, compute)
        except Exception:
            log.exception("dashboard snapshot refresh failed")
        finally:
            with self._lock:
                slot.refreshing = False
