"""Benchmark: one filtered page of findings out of 1,000,000 (issue 3: under 200 ms).

Fills a fresh SQLite database (WAL, in a temp dir) with N findings spread over 5,000 hosts,
all severities and work-order states, then times ``findings.service.list_findings`` for
typical filters (open + severity, status only, open, source, host) — each query run 20
times, reporting the median and worst — and a free-text title search, which is a substring
scan and is reported separately. There is no anchor tool that lists findings from the same
database; the figure is compared with the issue's 200 ms target.

    .venv/bin/python bench/list_findings.py [--findings 1000000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from shaobing.core.db import make_engine, session_scope, upgrade_database
from shaobing.engagements.models import Engagement
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from shaobing.findings import service
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import Status

SEVERITIES = list(Severity)
STATES = [Status.NEW, Status.TO_FIX, Status.FIXED, Status.VERIFIED, Status.FALSE_POSITIVE]


def fill(url: str, count: int) -> int:
    """Create the engagement and ``count`` findings; returns the engagement id."""
    engine = make_engine(url)
    upgrade_database(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        client = add_client(s, "基准测试客户")
        eng = create_engagement(s, client, EngagementInput(name="基准", scope=["127.0.0.0/8"]))
        eng_id, client_id = eng.id, client.id
    batch = []
    with session_scope(engine) as s:
        for i in range(count):
            sev = SEVERITIES[i % 5]
            host = f"127.{(i % 5000) // 250}.{(i % 250)}.{1 + i % 7}"
            batch.append(
                {
                    "client_id": client_id,
                    "engagement_id": eng_id,
                    "dedup_scope": f"e:{eng_id}",
                    "fingerprint": f"{i:064x}",
                    "source_tool": ("nuclei", "nessus", "zap")[i % 3],
                    "check_id": f"check-{i % 900}",
                    "title": f"问题 {i % 900}",
                    "severity": sev.value,
                    "severity_rank": sev.rank,
                    "host": host,
                    "port": 80,
                    "status": (st := STATES[(i // 5) % len(STATES)]).value,
                    "is_open": st in {Status.NEW, Status.TO_FIX},
                    "status_changed_at": now,
                    "first_seen": now,
                    "last_seen": now,
                    "times_seen": 1,
                    "cve_ids": [],
                    "cwe_ids": [],
                    "cnvd_ids": [],
                    "cnnvd_ids": [],
                    "references": [],
                    "extra": {},
                }
            )
            if len(batch) == 20000:
                s.execute(insert(Finding), batch)
                batch = []
        if batch:
            s.execute(insert(Finding), batch)
    engine.dispose()
    return eng_id


def main() -> None:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        eng_id = fill(url, args.findings)
        fill_s = time.perf_counter() - started
        engine = make_engine(url)
        filters = {
            "open_high": service.FindingFilter(severities=[Severity.HIGH], open_only=True),
            "status_fixed": service.FindingFilter(statuses=[Status.FIXED]),
            "open": service.FindingFilter(open_only=True),
            "source": service.FindingFilter(source="nessus"),
            "host": service.FindingFilter(host="127.3.17.4"),
            "source_open": service.FindingFilter(source="zap", open_only=True),
            "search": service.FindingFilter(search="问题 12"),
        }
        results = {}
        for name, flt in filters.items():
            times = []
            for _ in range(20):
                with session_scope(engine, readonly=True) as s:
                    eng = s.get_one(Engagement, eng_id)
                    t0 = time.perf_counter()
                    total, page = service.list_findings(s, eng, flt, limit=50, offset=0)
                    times.append((time.perf_counter() - t0) * 1000)
            results[name] = {
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
                "total": total,
                "page": len(page),
            }
        engine.dispose()
    # Free-text search is a substring scan (no full-text index yet): reported on its own.
    worst = max(r["median_ms"] for name, r in results.items() if name != "search")
    print(
        json.dumps(
            {
                "benchmark": "list_findings",
                "findings": args.findings,
                "fill_s": round(fill_s, 1),
                "queries": results,
                "worst_structured_median_ms": worst,
                "target_ms": 200,
                "search_median_ms": results["search"]["median_ms"],
                "ratio_to_target": round(worst / 200, 3),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
