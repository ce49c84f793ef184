"""Seeded data for the console query tests: a mix of clients, engagements, hosts, assets,
severities, states, dates, work orders and risk runs, generated from a fixed seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from shaobing.assess.risk.models import RiskRun
from shaobing.assets.models import Asset
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from shaobing.findings.models import Finding, WorkOrder
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import OPEN_STATES, Status

TODAY = date(2026, 3, 18)  # a Wednesday
NOW = datetime(2026, 3, 18, 9, 30, tzinfo=UTC)
LEVELS = {"5": "很高", "4": "高", "3": "中等", "2": "低", "1": "很低"}
TOOLS = ["nessus", "nuclei", "zap", "xray"]
PORTS = [(443, "tcp"), (80, "tcp"), (22, "tcp"), (161, "udp"), (None, None)]


@dataclass
class Seeded:
    """Ids of what was made."""

    engagements: list[int]
    clients: list[int]


def _moment(rng: random.Random) -> datetime:
    """A time within the last 200 days, sometimes exactly on a week or day boundary."""
    this_monday = TODAY - timedelta(days=TODAY.weekday())
    pick = rng.random()
    if pick < 0.1:  # exactly Monday 00:00 UTC of one of the trend weeks (boundary)
        day = this_monday - timedelta(weeks=rng.randrange(0, 13))
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    if pick < 0.15:  # one microsecond before a Monday (the previous week's last instant)
        day = this_monday - timedelta(weeks=rng.randrange(0, 13))
        return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(microseconds=1)
    if pick < 0.25:  # exactly an age-bucket edge (7, 8, 30, 31, 90, 91 days ago)
        day = TODAY - timedelta(days=rng.choice([0, 7, 8, 30, 31, 90, 91]))
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=rng.choice([0, 86399])
        )
    return NOW - timedelta(seconds=rng.randrange(0, 200 * 86400))


def seed(session: Session, *, findings: int = 420, seed_value: int = 3) -> Seeded:
    """Two clients, three engagements (one empty), findings, work orders and risk runs."""
    rng = random.Random(seed_value)
    c1 = add_client(session, "甲单位", code="JIA")
    c2 = add_client(session, "乙单位", code="YI")
    e1 = create_engagement(session, c1, EngagementInput(name="甲-一期", scope=["10.1.0.0/16"]))
    e2 = create_engagement(session, c1, EngagementInput(name="甲-二期", scope=["10.2.0.0/16"]))
    e3 = create_engagement(session, c2, EngagementInput(name="乙-空项目", scope=["10.3.0.0/16"]))
    e4 = create_engagement(session, c2, EngagementInput(name="乙-一期", scope=["10.1.0.0/16"]))
    session.flush()
    engagements = [e1, e2, e4]
    # The same addresses in two clients' engagements: different machines.
    hosts = [f"10.1.0.{i}" for i in range(1, 16)]
    assets: dict[tuple[int, str], int] = {}
    for eng in engagements:
        for host in hosts[::3]:
            asset = Asset(
                client_id=eng.client_id, name=f"资产-{eng.id}-{host}", asset_type="server"
            )
            session.add(asset)
            session.flush()
            assets[(eng.id, host)] = asset.id
    orders: dict[tuple[int, str], WorkOrder] = {}
    for eng in engagements:
        for host in hosts:
            state = rng.choice([Status.NEW, Status.TO_FIX, Status.FIXED, Status.VERIFIED])
            due = rng.choice(
                [
                    None,
                    TODAY - timedelta(days=1),
                    TODAY,
                    TODAY + timedelta(days=7),
                    TODAY + timedelta(days=8),
                    TODAY + timedelta(days=40),
                ]
            )
            order = WorkOrder(
                client_id=eng.client_id,
                engagement_id=eng.id,
                title=f"{host} 整改",
                grouping="host",
                group_key=host,
                state=state.value,
                severity="high",
                due_date=due,
            )
            session.add(order)
            orders[(eng.id, host)] = order
    session.flush()
    severities = list(Severity)
    for n in range(findings):
        eng = engagements[rng.choice([0, 0, 0, 1, 2])]
        sev = rng.choice(severities)
        status = rng.choice(list(Status))
        first = _moment(rng)
        changed = max(first, _moment(rng))
        target: str | None = None if rng.random() < 0.08 else rng.choice(hosts)
        port, proto = rng.choice(PORTS)
        check = rng.randrange(0, 25)
        session.add(
            Finding(
                client_id=eng.client_id,
                engagement_id=eng.id,
                asset_id=assets.get((eng.id, target)) if target else None,
                work_order_id=orders[(eng.id, target)].id if target else None,
                dedup_scope=f"e:{eng.id}",
                fingerprint=f"{n:064x}",
                source_tool=rng.choice(TOOLS),
                check_id=f"check-{check:02d}",
                title=f"问题 {check:02d}",
                severity=sev.value,
                severity_rank=sev.rank,
                host=target,
                port=port,
                protocol=proto,
                status=status.value,
                is_open=status in OPEN_STATES,
                status_changed_at=changed,
                first_seen=first,
                last_seen=changed,
                cve_ids=[f"CVE-2024-{1000 + check}"] if check % 2 else [],
            )
        )
    # Risk runs: e1 has two (the newest counts), e2 one with no risk at all, e4 none.
    for at, counts in (
        (NOW - timedelta(days=40), {"很高": 2, "高": 0, "中等": 1, "低": 0, "很低": 0}),
        (NOW - timedelta(days=2), {"很高": 0, "高": 3, "中等": 1, "低": 0, "很低": 4}),
    ):
        session.add(
            RiskRun(
                client_id=e1.client_id,
                engagement_id=e1.id,
                method="matrix",
                parameters={"levels": LEVELS},
                summary={"summary": counts},
                results=[],
                created_at=at,
            )
        )
    session.add(
        RiskRun(
            client_id=e2.client_id,
            engagement_id=e2.id,
            method="matrix",
            parameters={"levels": LEVELS},
            summary={"summary": dict.fromkeys(LEVELS.values(), 0)},
            results=[],
            created_at=NOW,
        )
    )
    session.flush()
    return Seeded(engagements=[e1.id, e2.id, e3.id, e4.id], clients=[c1.id, c2.id])
