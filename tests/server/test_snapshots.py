"""Dashboard snapshots: fresh ones are reused, stale ones are served while one thread
recomputes, writes through the console mark them stale, a forced refresh recomputes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from shaobing.server.queries.snapshots import MIN_REFRESH_SECONDS, SnapshotCache
from tests.server.conftest import World


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counter() -> tuple[list[int], Callable[[], dict[str, Any]]]:
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"n": len(calls)}

    return calls, compute


def _settle(cache: SnapshotCache, key: object) -> None:
    deadline = time.monotonic() + 5
    while cache._slot(key).refreshing and time.monotonic() < deadline:
        time.sleep(0.01)


def test_fresh_snapshots_are_reused_and_stale_ones_refreshed_in_background() -> None:
    clock = Clock()
    cache = SnapshotCache(ttl=60, clock=clock)
    calls, compute = counter()
    data, meta = cache.get("k", compute)
    assert data == {"n": 1} and meta["refreshing"] is False
    clock.now += 30
    assert cache.get("k", compute)[0] == {"n": 1} and len(calls) == 1
    clock.now += 31
    data, meta = cache.get("k", compute)
    assert data == {"n": 1} and meta["refreshing"] is True  # the old one, while recomputing
    _settle(cache, "k")
    assert cache.get("k", compute)[0] == {"n": 2} and len(calls) == 2


def test_invalidate_and_forced_refresh() -> None:
    clock = Clock()
    cache = SnapshotCache(ttl=60, clock=clock)
    calls, compute = counter()
    cache.get("k", compute)
    cache.invalidate()
    assert cache.get("k", compute)[1]["refreshing"] is True
    _settle(cache, "k")
    assert len(calls) == 2
    # A forced refresh of a brand-new snapshot returns it; an older one is recomputed now.
    assert cache.get("k", compute, force=True)[0] == {"n": 2}
    clock.now += MIN_REFRESH_SECONDS + 1
    assert cache.get("k", compute, force=True)[0] == {"n": 3}


def test_concurrent_first_requests_compute_once() -> None:
    cache = SnapshotCache(ttl=60)
    started = threading.Event()
    calls: list[int] = []

    def slow() -> dict[str, Any]:
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return {"ok": True}

    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", slow)[0])) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and results == [{"ok": True}] * 8


def test_dashboard_reflects_a_change_made_in_the_console(
    login: Callable[[str], TestClient], world: World
) -> None:
    client = login("engineer")
    first = client.get(f"/api/v1/dashboard?engagement={world.own.engagement_id}").json()
    assert first["snapshot"]["refreshing"] is False
    open_before = first["totals"]["open"]
    finding = world.own.finding_ids[0]
    moved = client.post(
        f"/api/v1/findings/{finding}/transition",
        json={"to": "false_positive", "reason": "复核为误报"},
    )
    assert moved.status_code == 200
    deadline = time.monotonic() + 10
    while True:
        now = client.get(f"/api/v1/dashboard?engagement={world.own.engagement_id}").json()
        if now["totals"]["open"] == open_before - 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert now["totals"]["open"] == open_before - 1
    page = client.get(f"/?engagement={world.own.engagement_id}")
    assert "数据统计于" in page.text and "立即刷新" in page.text
