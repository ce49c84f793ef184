"""Dashboard figures against the same figures computed in plain Python over the rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.core.db import session_scope
from shaobing.findings.models import Finding, WorkOrder
from shaobing.server.queries.dashboard import overview, vulnerability_posture
from tests.server.queries.seed import TODAY, seed

WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}
SEVERITIES = ["critical", "high", "medium", "low", "info"]


def _findings(s: Session, ids: list[int]) -> list[Finding]:
    return list(s.scalars(select(Finding).where(Finding.engagement_id.in_(ids))))


def _monday_midnight(weeks_back: int) -> datetime:
    monday = TODAY - timedelta(days=TODAY.weekday()) - timedelta(weeks=weeks_back)
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def expected_overview(s: Session, ids: list[int]) -> dict[str, Any]:
    """Every overview figure, the straightforward way."""
    rows = _findings(s, ids)
    open_rows = [f for f in rows if f.status in {"new", "to_fix"}]
    per_eng = {
        eid: {
            "open": sum(1 for f in open_rows if f.engagement_id == eid),
            "closed": sum(1 for f in rows if f.engagement_id == eid and not f.is_open),
            "open_by_severity": {
                sev: sum(1 for f in open_rows if f.engagement_id == eid and f.severity == sev)
                for sev in SEVERITIES
            },
        }
        for eid in ids
    }
    trend = []
    for back in range(11, -1, -1):
        start, end = _monday_midnight(back), _monday_midnight(back - 1)
        trend.append(
            (
                start.date().isoformat(),
                sum(1 for f in rows if start <= f.first_seen < end),
                sum(1 for f in rows if not f.is_open and start <= f.status_changed_at < end),
            )
        )
    sla: Counter[str] = Counter()
    for order in s.scalars(select(WorkOrder).where(WorkOrder.engagement_id.in_(ids))):
        if order.state not in {"new", "to_fix"}:
            continue
        if order.due_date is None:
            sla["no_deadline"] += 1
        elif order.due_date < TODAY:
            sla["overdue"] += 1
        elif (order.due_date - TODAY).days <= 7:
            sla["due_soon"] += 1
        else:
            sla["on_time"] += 1
    weight: Counter[tuple[int, str]] = Counter()
    count: Counter[tuple[int, str]] = Counter()
    for f in open_rows:
        if f.host is not None:
            weight[(f.engagement_id, f.host)] += WEIGHTS[f.severity]
            count[(f.engagement_id, f.host)] += 1
    top = sorted(weight, key=lambda k: (-weight[k], -count[k], k[0], k[1]))[:10]
    return {
        "open_by_severity": {
            sev: sum(1 for f in open_rows if f.severity == sev) for sev in SEVERITIES
        },
        "closed": sum(1 for f in rows if f.status not in {"new", "to_fix"}),
        "per_engagement": per_eng,
        "trend": trend,
        "sla": {k: sla[k] for k in ("overdue", "due_soon", "on_time", "no_deadline")},
        "top": [(e, h, weight[(e, h)], count[(e, h)]) for e, h in top],
        "top_by_severity": [
            {
                sev: sum(
                    1 for f in open_rows if (f.engagement_id, f.host) == key and f.severity == sev
                )
                for sev in SEVERITIES
            }
            for key in top
        ],
    }


@pytest.fixture
def seeded(engine: Engine) -> list[int]:
    """The seeded engagements' ids (the last but one has no findings)."""
    with session_scope(engine) as s:
        return seed(s).engagements


def test_overview_matches_straightforward_figures(engine: Engine, seeded: list[int]) -> None:
    with session_scope(engine, readonly=True) as s:
        got = overview(s, engagement_ids=seeded, today=TODAY)
        want = expected_overview(s, seeded)
    assert got["engagement_count"] == 4
    assert got["open_by_severity"] == want["open_by_severity"]
    assert list(got["open_by_severity"]) == SEVERITIES
    assert got["totals"]["closed"] == want["closed"]
    assert got["totals"]["open"] == sum(want["open_by_severity"].values())
    assert got["totals"]["all"] == got["totals"]["open"] + want["closed"]
    assert [(w["start"], w["new"], w["closed"]) for w in got["trend"]] == want["trend"]
    assert len(got["trend"]) == 12
    assert got["trend"][-1]["week"] == "2026-W12"  # the ISO week of 2026-03-18
    assert {k: got["sla"][k] for k in want["sla"]} == want["sla"]
    assert got["sla"]["open_work_orders"] == sum(want["sla"].values())
    assert [
        (h["engagement_id"], h["host"], h["weight"], h["open"]) for h in got["top_hosts"]
    ] == want["top"]
    assert [h["by_severity"] for h in got["top_hosts"]] == want["top_by_severity"]
    for row in got["engagements"]:
        per = want["per_engagement"][row["id"]]
        assert (row["open"], row["closed"], row["open_by_severity"]) == (
            per["open"],
            per["closed"],
            per["open_by_severity"],
        )
    # The figures are not trivially zero: the seed exercises every panel.
    assert got["totals"]["open"] > 50 and got["totals"]["closed"] > 50
    assert all(w["new"] for w in got["trend"])
    assert all(got["sla"][k] for k in want["sla"])


def test_top_hosts_name_assets_and_keep_clients_apart(engine: Engine, seeded: list[int]) -> None:
    with session_scope(engine, readonly=True) as s:
        got = overview(s, engagement_ids=seeded, today=TODAY)
        for host in got["top_hosts"]:
            linked = s.scalars(
                select(Finding.asset_id).where(
                    Finding.engagement_id == host["engagement_id"],
                    Finding.host == host["host"],
                    Finding.is_open.is_(True),
                    Finding.asset_id.is_not(None),
                )
            ).first()
            assert host["asset_id"] == linked
            if linked is not None:
                assert host["asset_name"] == f"资产-{host['engagement_id']}-{host['host']}"
    # Addresses shared by two clients' engagements are ranked as separate machines.
    keys = [(h["engagement_id"], h["host"]) for h in got["top_hosts"]]
    assert len(keys) == len(set(keys)) == 10


def test_engagement_rows_and_latest_risk_levels(engine: Engine, seeded: list[int]) -> None:
    e1, e2, e3, e4 = seeded
    with session_scope(engine, readonly=True) as s:
        got = overview(s, engagement_ids=[e4, e3, e2, e1, e1], today=TODAY)
    rows = {r["id"]: r for r in got["engagements"]}
    assert [r["id"] for r in got["engagements"]] == sorted(seeded)
    assert rows[e1]["client_name"] == "甲单位" and rows[e1]["name"] == "甲-一期"
    assert rows[e4]["client_name"] == "乙单位"
    # Newest run of e1: 高 is its highest level holding a risk (the older run had 很高).
    assert rows[e1]["risk"]["level"] == "高" and rows[e1]["risk"]["level_rank"] == 4
    assert rows[e2]["risk"] is None  # a run without any risk
    assert rows[e3]["risk"] is None and rows[e4]["risk"] is None  # no run
    assert got["risk"] == {"level": "高", "level_rank": 4, "engagement_id": e1}
    assert rows[e3]["open"] == rows[e3]["closed"] == 0


def test_overview_only_counts_the_given_engagements(engine: Engine, seeded: list[int]) -> None:
    e4 = seeded[3]
    with session_scope(engine, readonly=True) as s:
        whole = overview(s, engagement_ids=seeded, today=TODAY)
        part = overview(s, engagement_ids=[e4], today=TODAY)
        want = expected_overview(s, [e4])
    assert part["open_by_severity"] == want["open_by_severity"]
    assert part["totals"]["open"] < whole["totals"]["open"]
    assert {h["engagement_id"] for h in part["top_hosts"]} == {e4}
    assert [r["id"] for r in part["engagements"]] == [e4]
    assert part["risk"] is None
    assert {k: part["sla"][k] for k in want["sla"]} == want["sla"]


def test_unknown_engagement_ids_are_ignored(engine: Engine, seeded: list[int]) -> None:
    with session_scope(engine, readonly=True) as s:
        got = overview(s, engagement_ids=[max(seeded) + 100], today=TODAY)
    assert got["engagement_count"] == 0 and got["engagements"] == []


def expected_posture(s: Session, ids: list[int]) -> dict[str, Any]:
    """Every posture figure, the straightforward way."""
    rows = _findings(s, ids)
    open_rows = [f for f in rows if f.is_open]
    checks = Counter((f.source_tool, f.check_id) for f in open_rows)
    ports = Counter((f.port, f.protocol) for f in open_rows)
    age: Counter[str] = Counter()
    for f in open_rows:
        days = (TODAY - f.first_seen.date()).days
        age["0-7" if days <= 7 else "8-30" if days <= 30 else "31-90" if days <= 90 else "90+"] += 1
    fixed = sum(1 for f in rows if f.status in {"fixed", "verified"})
    return {
        "open": len(open_rows),
        "by_source": Counter(f.source_tool for f in open_rows),
        "top_checks": sorted(checks.items(), key=lambda kv: (-kv[1], kv[0]))[:15],
        "by_port": sorted(ports.items(), key=lambda kv: (-kv[1], str(kv[0])))[:20],
        "age": {k: age[k] for k in ("0-7", "8-30", "31-90", "90+")},
        "fixed": fixed,
        "fixed_rate": round(fixed / (fixed + len(open_rows)), 4),
    }


def test_posture_matches_straightforward_figures(engine: Engine, seeded: list[int]) -> None:
    with session_scope(engine, readonly=True) as s:
        got = vulnerability_posture(s, engagement_ids=seeded, today=TODAY)
        want = expected_posture(s, seeded)
        samples = {(f.source_tool, f.check_id): f for f in _findings(s, seeded) if f.is_open}
    assert got["open"] == want["open"]
    assert {r["source_tool"]: r["open"] for r in got["by_source"]} == dict(want["by_source"])
    assert [r["open"] for r in got["by_source"]] == sorted(want["by_source"].values(), reverse=True)
    assert [((r["source_tool"], r["check_id"]), r["open"]) for r in got["top_checks"]] == want[
        "top_checks"
    ]
    for row in got["top_checks"]:
        sample = samples[(row["source_tool"], row["check_id"])]
        assert row["title"] == sample.title and row["cve_ids"] == sample.cve_ids
    assert sorted(r["open"] for r in got["by_port"]) == sorted(n for _, n in want["by_port"])
    assert {(r["port"], r["protocol"]): r["open"] for r in got["by_port"]} == dict(want["by_port"])
    assert got["age"] == want["age"]
    assert all(want["age"].values())  # the seed fills every bucket, edges included
    assert got["fixed"] == want["fixed"] and got["fixed_rate"] == want["fixed_rate"]


@pytest.mark.parametrize("ids", [[], [10_000]])
def test_empty_engagement_lists(engine: Engine, ids: list[int]) -> None:
    with session_scope(engine, readonly=True) as s:
        over = overview(s, engagement_ids=ids, today=TODAY)
        posture = vulnerability_posture(s, engagement_ids=ids, today=TODAY)
    assert over["totals"] == {"open": 0, "closed": 0, "all": 0}
    assert set(over["open_by_severity"].values()) == {0}
    assert over["top_hosts"] == [] and over["engagements"] == [] and over["risk"] is None
    assert [w["new"] + w["closed"] for w in over["trend"]] == [0] * 12
    assert over["sla"]["open_work_orders"] == 0
    assert posture["open"] == 0 and posture["fixed_rate"] is None
    assert posture["by_source"] == posture["top_checks"] == posture["by_port"] == []
    assert set(posture["age"].values()) == {0}
