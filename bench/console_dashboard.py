"""Benchmark: the web console's dashboards and findings list at 1,000,000 findings (issue 10:
under 300 ms p95 on SQLite and on PostgreSQL).

Generates N findings (default 1,000,000) over 4 clients and 12 engagements of skewed
sizes (the largest holds 30 %), ~20,000 hosts with an asset each, one work order per host,
first-seen dates spread over two years with older findings more often closed, and risk
runs; once into a SQLite file (WAL) and once into a throw-away PostgreSQL cluster on
127.0.0.1 (started as tests/services/postgres.py does). Then times, over ``--runs`` runs
each (default 30, one fresh session per run as a request has), p50 and p95 of:

- ``dashboard.overview`` and ``dashboard.vulnerability_posture`` over every engagement
  (the admin view, all N findings) and over the largest engagement;
- ``findings_page.findings_page``: the first page, a filtered page (open + high), and a
  deep page (cursor at row 100,000 of the largest engagement).

Anchor, side by side: the same figures computed the straightforward way — every finding
of the engagements streamed through the ORM into Python and summed there, and
``findings.service.list_findings`` with OFFSET for the pages — over ``--anchor-runs`` runs
(default 5; the anchor dashboards take seconds each). The anchor's figures are also
compared with the queries' (``agree``). The ratio is anchor p50 / query p50.

If ``shaobing.server.app.create_app`` exists, the HTTP endpoints are timed as well through
``shaobing serve`` (uvicorn) on 127.0.0.1 against the PostgreSQL database; otherwise the
line says ``"http": "skipped: server not present"``.

    .venv/bin/python bench/console_dashboard.py [--findings 1000000] [--runs 30]
        [--anchor-runs 5] [--databases sqlite,postgresql] [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert, select, text  # noqa: E402

from shaobing.assess.risk.models import RiskRun  # noqa: E402
from shaobing.assets.models import Asset  # noqa: E402
from shaobing.core.bulk import bulk_insert  # noqa: E402
from shaobing.core.db import make_engine, session_scope, upgrade_database  # noqa: E402
from shaobing.engagements.models import Engagement  # noqa: E402
from shaobing.engagements.service import EngagementInput, add_client, create_engagement  # noqa: E402
from shaobing.findings import service  # noqa: E402
from shaobing.findings.models import Finding, WorkOrder  # noqa: E402
from shaobing.findings.severity import Severity  # noqa: E402
from shaobing.findings.workflow import Status  # noqa: E402
from shaobing.server.queries import dashboard  # noqa: E402
from shaobing.server.queries.common import (  # noqa: E402
    SEVERITY_WEIGHTS,
    iso_week_label,
    midnight,
    week_starts,
)
from shaobing.server.queries.findings_page import findings_page  # noqa: E402

TARGET_MS = 300
PASSWORD = "Bench#Console-2026!"
# Engagement sizes (share of the findings), largest first: 4 clients x 3 engagements.
SHARES = [30, 15, 10, 8, 7, 6, 5, 5, 5, 4, 3, 2]
HOSTS_TOTAL = 20_000
TOOLS = [
    ("nessus", 30),
    ("nuclei", 25),
    ("openvas", 15),
    ("zap", 10),
    ("xray", 10),
    ("shaobing", 10),
]
SEVERITY_MIX = [("critical", 3), ("high", 12), ("medium", 35), ("low", 30), ("info", 20)]
CLOSED_MIX = [
    (Status.FIXED, 50),
    (Status.VERIFIED, 30),
    (Status.FALSE_POSITIVE, 8),
    (Status.IGNORED_ONCE, 4),
    (Status.IGNORED_FOREVER, 3),
    (Status.RISK_ACCEPTED, 5),
]
PORTS = [
    (443, "tcp"),
    (80, "tcp"),
    (22, "tcp"),
    (3306, "tcp"),
    (8080, "tcp"),
    (445, "tcp"),
    (3389, "tcp"),
    (6379, "tcp"),
    (161, "udp"),
    (53, "udp"),
    (None, None),
]
RANK = {s.value: s.rank for s in Severity}
SLA_DAYS = {"critical": 7, "high": 15, "medium": 30, "low": 90, "info": None}


def _weighted(rng: random.Random, table: list[tuple[Any, int]], n: int) -> list[Any]:
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights=weights, k=n)


@dataclass
class Dataset:
    """What the generator made: engagement ids, largest first."""

    engagement_ids: list[int]
    findings: int
    work_orders: int
    hosts: int
    fill_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def fill(url: str, count: int, today: date, seed: int = 10) -> Dataset:
    """Create the clients, engagements, assets, work orders, findings and risk runs."""
    rng = random.Random(seed)
    started = time.perf_counter()
    engine = make_engine(url)
    upgrade_database(engine)
    now = midnight(today) + timedelta(hours=9)
    eng_ids: list[int] = []
    clients: list[int] = []
    with session_scope(engine) as s:
        for c in range(4):
            client = add_client(s, f"基准客户{c + 1}", code=f"BC{c + 1}")
            clients.append(client.id)
            for k in range(3):
                eng = create_engagement(
                    s,
                    client,
                    EngagementInput(name=f"基准项目{c + 1}-{k + 1}", scope=["10.0.0.0/8"]),
                )
                eng_ids.append(eng.id)
        s.flush()
        client_of = {e.id: e.client_id for e in s.scalars(select(Engagement))}
    total_share = sum(SHARES)
    sizes = [count * share // total_share for share in SHARES]
    sizes[0] += count - sum(sizes)
    checks = [
        (f"check-{i:04d}", f"问题 {i:04d}", [f"CVE-20{10 + i % 15}-{1000 + i}"] if i % 3 else [])
        for i in range(3000)
    ]
    check_weights = [1.0 / (i + 1) ** 0.8 for i in range(len(checks))]
    work_orders = hosts_made = 0
    next_fp = 0
    for eid, size in zip(eng_ids, sizes, strict=True):
        client_id = client_of[eid]
        n_hosts = max(50, HOSTS_TOTAL * size // count)
        hosts = [f"10.{eid}.{h // 250}.{h % 250 + 1}" for h in range(n_hosts)]
        hosts_made += n_hosts
        with session_scope(engine) as s:
            s.execute(
                insert(Asset),
                [
                    {
                        "client_id": client_id,
                        "name": f"主机-{eid}-{h}",
                        "asset_type": "server",
                        "hostname": host,
                        "source": "scan",
                    }
                    for h, host in enumerate(hosts)
                ],
            )
        with session_scope(engine) as s:
            asset_of = dict(
                s.execute(
                    select(Asset.hostname, Asset.id).where(
                        Asset.client_id == client_id, Asset.name.like(f"主机-{eid}-%")
                    )
                ).all()
            )
        # Findings as compact tuples first: work orders need each host's open state.
        sevs = _weighted(rng, SEVERITY_MIX, size)
        tools = _weighted(rng, TOOLS, size)
        check_pick = rng.choices(range(len(checks)), weights=check_weights, k=size)
        rows = []
        host_open: dict[str, list[int]] = defaultdict(list)
        host_first: dict[str, datetime] = {}
        for i in range(size):
            age_days = int(rng.random() ** 1.6 * 730)
            first = now - timedelta(days=age_days, minutes=rng.randrange(1440))
            closed_p = 0.85 if age_days > 90 else 0.45 if age_days > 14 else 0.15
            host = hosts[int(rng.random() ** 1.5 * n_hosts)]
            if rng.random() < closed_p:
                status = _weighted(rng, CLOSED_MIX, 1)[0]
                changed = min(now, first + timedelta(days=rng.randrange(1, 60), minutes=i % 997))
            else:
                status = Status.TO_FIX if rng.random() < 0.6 else Status.NEW
                changed = first
                host_open[host].append(RANK[sevs[i]])
            host_first[host] = min(host_first.get(host, first), first)
            rows.append((host, sevs[i], tools[i], check_pick[i], status, first, changed))
        orders = []
        for host in hosts:
            ranks = host_open.get(host)
            first = host_first.get(host, now)
            if ranks:
                sev = next(n for n, r in RANK.items() if r == max(ranks))
                days = SLA_DAYS[sev]
                due = (first + timedelta(days=days)).date() if days is not None else None
                state, closed_at = Status.TO_FIX.value, None
            else:
                sev, due, state, closed_at = "low", None, Status.FIXED.value, now
            orders.append(
                {
                    "client_id": client_id,
                    "engagement_id": eid,
                    "title": f"{host} 的整改",
                    "grouping": "host",
                    "group_key": host,
                    "state": state,
                    "severity": sev,
                    "assignee": "运维组" if ranks else None,
                    "due_date": due,
                    "created_at": first,
                    "updated_at": now,
                    "closed_at": closed_at,
                }
            )
        with session_scope(engine) as s:
            ids = s.scalars(
                insert(WorkOrder).returning(WorkOrder.id, sort_by_parameter_order=True), orders
            ).all()
        order_of = {o["group_key"]: oid for o, oid in zip(orders, ids, strict=True)}
        work_orders += len(orders)
        batch: list[dict[str, Any]] = []
        table = Finding.__table__
        with session_scope(engine) as s:
            for host, sev, tool, ci, status, first, changed in rows:
                check_id, title, cves = checks[ci]
                port, proto = PORTS[ci % len(PORTS)]
                batch.append(
                    {
                        "client_id": client_id,
                        "engagement_id": eid,
                        "asset_id": asset_of.get(host),
                        "work_order_id": order_of[host],
                        "dedup_scope": f"e:{eid}",
                        "fingerprint": f"{next_fp:064x}",
                        "source_tool": tool,
                        "check_id": check_id,
                        "title": title,
                        "severity": sev,
                        "severity_rank": RANK[sev],
                        "host": host,
                        "port": port,
                        "protocol": proto,
                        "status": status.value,
                        "is_open": status in {Status.NEW, Status.TO_FIX},
                        "status_changed_at": changed,
                        "first_seen": first,
                        "last_seen": changed,
                        "times_seen": 1,
                        "cve_ids": cves,
                        "cwe_ids": [],
                        "cnvd_ids": [],
                        "cnnvd_ids": [],
                        "references": [],
                        "extra": {},
                    }
                )
                next_fp += 1
                if len(batch) == 20_000:
                    _write(s, table, batch)
                    batch = []
            _write(s, table, batch)
    levels = {"5": "很高", "4": "高", "3": "中等", "2": "低", "1": "很低"}
    with session_scope(engine) as s:
        for n, eid in enumerate(eng_ids[:-1]):  # the last engagement has no assessment
            for run in range(2):
                top = 5 - (n + run) % 4
                counts = {levels[str(lv)]: (3 if lv <= top else 0) for lv in range(5, 0, -1)}
                s.add(
                    RiskRun(
                        client_id=client_of[eid],
                        engagement_id=eid,
                        method="matrix",
                        parameters={"levels": levels},
                        summary={"summary": counts},
                        results=[],
                        created_at=now - timedelta(days=30 * (1 - run)),
                    )
                )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # What autovacuum does after a bulk load: statistics and the visibility map
            # (index-only scans need it).
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()
    engine.dispose()
    return Dataset(eng_ids, count, work_orders, hosts_made, time.perf_counter() - started)


def _write(session: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert generated rows: COPY on PostgreSQL (executemany manages ~1,000 rows/s into a
    table with this many indexes), the platform's bulk insert on SQLite."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        bulk_insert(session, table, rows)
        return
    from psycopg.types.json import Json  # noqa: PLC0415

    columns = ", ".join(f'"{name}"' for name in rows[0])  # "references" is a keyword
    raw = connection.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY findings ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    Json(v)
                    if isinstance(v, list | dict)
                    else v.astimezone(UTC).replace(tzinfo=None)
                    if isinstance(v, datetime)
                    else v
                    for v in row.values()
                ]
            )


# ------------------------------------------------------------------ anchor (straightforward)
def anchor_overview(s: Any, ids: list[int], today: date) -> dict[str, Any]:
    """Overview figures from every finding loaded into Python."""
    bounds = week_starts(today)
    starts = [midnight(b) for b in bounds]
    by_sev: Counter[str] = Counter()
    closed = 0
    new_w: Counter[int] = Counter()
    closed_w: Counter[int] = Counter()
    host_weight: Counter[tuple[int, str]] = Counter()
    host_count: Counter[tuple[int, str]] = Counter()
    query = select(
        Finding.engagement_id,
        Finding.severity,
        Finding.is_open,
        Finding.first_seen,
        Finding.status_changed_at,
        Finding.host,
    ).where(Finding.engagement_id.in_(ids))
    for eid, sev, is_open, first, changed, host in s.execute(
        query.execution_options(yield_per=5000)
    ):
        if is_open:
            by_sev[sev] += 1
            if host is not None:
                host_weight[(eid, host)] += SEVERITY_WEIGHTS[sev]
                host_count[(eid, host)] += 1
        else:
            closed += 1
        for i in range(12):
            if starts[i] <= first < starts[i + 1]:
                new_w[i] += 1
            if not is_open and starts[i] <= changed < starts[i + 1]:
                closed_w[i] += 1
    sla: Counter[str] = Counter()
    for order in s.scalars(select(WorkOrder).where(WorkOrder.engagement_id.in_(ids))):
        if order.state not in {"new", "to_fix"}:
            continue
        if order.due_date is None:
            sla["no_deadline"] += 1
        elif order.due_date < today:
            sla["overdue"] += 1
        elif order.due_date <= today + timedelta(days=7):
            sla["due_soon"] += 1
        else:
            sla["on_time"] += 1
    top = sorted(host_weight, key=lambda k: (-host_weight[k], -host_count[k], k))[:10]
    return {
        "open_by_severity": {s.value: by_sev[s.value] for s in Severity},
        "closed": closed,
        "trend": [(iso_week_label(bounds[i]), new_w[i], closed_w[i]) for i in range(12)],
        "sla": {k: sla[k] for k in ("overdue", "due_soon", "on_time", "no_deadline")},
        "top_hosts": [(e, h, host_weight[(e, h)]) for e, h in top],
    }


def mine_overview(data: dict[str, Any]) -> dict[str, Any]:
    """The same figures picked from ``dashboard.overview``."""
    return {
        "open_by_severity": data["open_by_severity"],
        "closed": data["totals"]["closed"],
        "trend": [(w["week"], w["new"], w["closed"]) for w in data["trend"]],
        "sla": {k: data["sla"][k] for k in ("overdue", "due_soon", "on_time", "no_deadline")},
        "top_hosts": [(h["engagement_id"], h["host"], h["weight"]) for h in data["top_hosts"]],
    }


def anchor_posture(s: Any, ids: list[int], today: date) -> dict[str, Any]:
    """Posture figures from every finding loaded into Python."""
    by_source: Counter[str] = Counter()
    checks: Counter[tuple[str, str]] = Counter()
    ports: Counter[tuple[Any, Any]] = Counter()
    age: Counter[str] = Counter()
    fixed = 0
    query = select(
        Finding.is_open,
        Finding.status,
        Finding.source_tool,
        Finding.check_id,
        Finding.port,
        Finding.protocol,
        Finding.first_seen,
    ).where(Finding.engagement_id.in_(ids))
    for is_open, status, tool, check, port, proto, first in s.execute(
        query.execution_options(yield_per=5000)
    ):
        if status in {"fixed", "verified"}:
            fixed += 1
        if not is_open:
            continue
        by_source[tool] += 1
        checks[(tool, check)] += 1
        ports[(port, proto)] += 1
        days = (today - first.date()).days
        age["0-7" if days <= 7 else "8-30" if days <= 30 else "31-90" if days <= 90 else "90+"] += 1
    top = sorted(checks, key=lambda k: (-checks[k], k))[:15]
    return {
        "by_source": dict(by_source),
        "top_checks": [(t, c, checks[(t, c)]) for t, c in top],
        "port_counts": sorted(ports.values(), reverse=True)[:20],
        "age": {k: age[k] for k in ("0-7", "8-30", "31-90", "90+")},
        "fixed": fixed,
    }


def mine_posture(data: dict[str, Any]) -> dict[str, Any]:
    """The same figures picked from ``dashboard.vulnerability_posture``."""
    return {
        "by_source": {r["source_tool"]: r["open"] for r in data["by_source"]},
        "top_checks": [(r["source_tool"], r["check_id"], r["open"]) for r in data["top_checks"]],
        "port_counts": [r["open"] for r in data["by_port"]],
        "age": data["age"],
        "fixed": data["fixed"],
    }


# ------------------------------------------------------------------ timing
def _stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1)}


def timed(engine: Engine, runs: int, call: Callable[[Any], Any]) -> tuple[dict[str, float], Any]:
    """p50/p95 of ``call(session)`` over ``runs`` runs after one warm-up, fresh session each."""
    with session_scope(engine, readonly=True) as s:
        result = call(s)
    times = []
    for _ in range(runs):
        with session_scope(engine, readonly=True) as s:
            t0 = time.perf_counter()
            result = call(s)
            times.append((time.perf_counter() - t0) * 1000)
    return _stats(times), result


def deep_cursor(engine: Engine, eid: int, position: int) -> tuple[str | None, int]:
    """The cursor after ``position`` rows of the unfiltered listing (and the offset)."""
    from shaobing.server.queries.findings_page import _filter_digest, encode_cursor  # noqa: PLC0415

    with session_scope(engine, readonly=True) as s:
        row = s.execute(
            select(Finding.severity_rank, Finding.id)
            .where(Finding.engagement_id == eid)
            .order_by(Finding.severity_rank.desc(), Finding.id.desc())
            .offset(position - 1)
            .limit(1)
        ).first()
    if row is None:
        return None, 0
    return encode_cursor(row[0], row[1], _filter_digest(eid, service.FindingFilter())), position


def bench_database(
    engine: Engine, data: Dataset, today: date, runs: int, anchor_runs: int
) -> dict[str, Any]:
    """Every query and its anchor on one database."""
    all_ids, big = data.engagement_ids, data.engagement_ids[0]
    cursor, offset = deep_cursor(
        engine, big, 100_000 if data.findings >= 500_000 else data.findings // 10
    )
    unfiltered = service.FindingFilter()
    open_high = service.FindingFilter(severities=[Severity.HIGH], open_only=True)
    cases: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
        "overview_all": (
            lambda s: dashboard.overview(s, engagement_ids=all_ids, today=today),
            lambda s: anchor_overview(s, all_ids, today),
        ),
        "overview_largest": (
            lambda s: dashboard.overview(s, engagement_ids=[big], today=today),
            lambda s: anchor_overview(s, [big], today),
        ),
        "posture_all": (
            lambda s: dashboard.vulnerability_posture(s, engagement_ids=all_ids, today=today),
            lambda s: anchor_posture(s, all_ids, today),
        ),
        "posture_largest": (
            lambda s: dashboard.vulnerability_posture(s, engagement_ids=[big], today=today),
            lambda s: anchor_posture(s, [big], today),
        ),
        "page_first": (
            lambda s: findings_page(s, engagement_id=big, flt=unfiltered, limit=50, after=None),
            lambda s: service.list_findings(s, s.get_one(Engagement, big), unfiltered, limit=50),
        ),
        "page_open_high": (
            lambda s: findings_page(s, engagement_id=big, flt=open_high, limit=50, after=None),
            lambda s: service.list_findings(s, s.get_one(Engagement, big), open_high, limit=50),
        ),
        "page_deep": (
            lambda s: findings_page(s, engagement_id=big, flt=unfiltered, limit=50, after=cursor),
            lambda s: service.list_findings(
                s, s.get_one(Engagement, big), unfiltered, limit=50, offset=offset
            ),
        ),
    }
    out: dict[str, Any] = {}
    agree = True
    for name, (mine, anchor) in cases.items():
        ours, result = timed(engine, runs, mine)
        theirs, expected = timed(engine, anchor_runs, anchor)
        if name.startswith("overview"):
            agree &= mine_overview(result) == expected
        elif name.startswith("posture"):
            agree &= mine_posture(result) == expected
        else:
            agree &= [f.id for f in result.items] == [f.id for f in expected[1]]
        out[name] = ours | {
            "anchor_p50_ms": theirs["p50_ms"],
            "anchor_p95_ms": theirs["p95_ms"],
            "ratio": round(theirs["p50_ms"] / max(ours["p50_ms"], 0.01), 1),
        }
    out["worst_p95_ms"] = max(v["p95_ms"] for v in out.values() if isinstance(v, dict))
    out["agree"] = agree
    return out


# ------------------------------------------------------------------ databases
@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL of ``kind`` (the PostgreSQL cluster lives for the block)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'console.db'}"
        return
    from tests.services.postgres import start_postgres  # noqa: PLC0415

    server = start_postgres()
    try:
        admin = make_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE console"))
        admin.dispose()
        yield server.url("console")
    finally:
        server.stop()


def server_present() -> bool:
    """Whether the web console can be imported (an import error is a failure, not a skip)."""
    module = importlib.import_module("shaobing.server.app")
    return hasattr(module, "create_app")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_users(url: str, names: list[str], role: str = "admin") -> None:
    """Accounts for the HTTP runs (no forced password change)."""
    from shaobing.auth.policy import AuthContext  # noqa: PLC0415
    from shaobing.auth.service import create_user  # noqa: PLC0415

    engine = make_engine(url)
    ctx = AuthContext()
    with session_scope(engine) as s:
        for name in names:
            create_user(
                s,
                name,
                role=role,
                password=PASSWORD,
                must_change_password=False,
                actor="bench",
                ctx=ctx,
            )
    engine.dispose()


@contextmanager
def serve(url: str, home: Path) -> Iterator[str]:
    """``shaobing serve`` on 127.0.0.1 and a free port; yields the base URL."""
    import httpx  # noqa: PLC0415

    port = free_port()
    env = os.environ | {"SHAOBING_HOME": str(home), "SHAOBING_DATABASE_URL": url}
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/shaobing"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError((home / "serve.log").read_text(errors="replace")[-2000:])
            try:
                httpx.get(f"{base}/api/v1/auth/login", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def login(client: Any, base: str, username: str) -> None:
    """Log in and keep the bearer token on the client."""
    reply = client.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    )
    reply.raise_for_status()
    client.headers["Authorization"] = f"Bearer {reply.json()['token']}"


def bench_http(url: str, home: Path, data: Dataset, runs: int) -> dict[str, Any]:
    """p50/p95 of the dashboard and findings endpoints through a real server."""
    import httpx  # noqa: PLC0415

    create_users(url, ["bench-admin"])
    big = data.engagement_ids[0]
    out: dict[str, Any] = {}
    with serve(url, home) as base, httpx.Client(timeout=60) as client:
        login(client, base, "bench-admin")
        first = client.get(f"{base}/api/v1/findings", params={"engagement": big, "limit": 50})
        first.raise_for_status()
        cursor = first.json()["next_cursor"]
        deep = cursor
        for _ in range(20):  # 10,000 rows in, by following the cursors as a client would
            reply = client.get(
                f"{base}/api/v1/findings", params={"engagement": big, "limit": 500, "after": deep}
            )
            if reply.status_code != 200:
                raise RuntimeError(f"paging: HTTP {reply.status_code} {reply.text[:200]}")
            if reply.json()["next_cursor"] is None:
                break
            cursor = deep = reply.json()["next_cursor"]
        paths: dict[str, tuple[str, dict[str, Any]]] = {
            "dashboard_all": ("/api/v1/dashboard", {}),
            "dashboard_largest": ("/api/v1/dashboard", {"engagement": big}),
            "vulnerabilities_all": ("/api/v1/dashboard/vulnerabilities", {}),
            "findings_first": ("/api/v1/findings", {"engagement": big, "limit": 50}),
            "findings_open_high": (
                "/api/v1/findings",
                {"engagement": big, "limit": 50, "severity": "high", "status": "new"},
            ),
            "findings_deep": (
                "/api/v1/findings",
                {"engagement": big, "limit": 50, "after": cursor},
            ),
        }
        for name, (path, params) in paths.items():
            times = []
            for i in range(runs + 1):
                t0 = time.perf_counter()
                reply = client.get(f"{base}{path}", params=params)
                elapsed = (time.perf_counter() - t0) * 1000
                if reply.status_code != 200:
                    out[name] = {"error": reply.status_code, "body": reply.text[:200]}
                    break
                if i:
                    times.append(elapsed)
            else:
                out[name] = _stats(times)
    return out


def main() -> None:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--anchor-runs", type=int, default=5)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--keep", type=Path, help="keep the SQLite file in this directory")
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    result: dict[str, Any] = {
        "benchmark": "console_dashboard",
        "findings": args.findings,
        "runs": args.runs,
        "anchor_runs": args.anchor_runs,
        "target_p95_ms": TARGET_MS,
    }
    http_done = False
    with tempfile.TemporaryDirectory(prefix="shaobing-console-") as tmp:
        workdir = Path(tmp)
        for kind in args.databases.split(","):
            with database(kind, workdir) as url:
                data = fill(url, args.findings, today)
                engine = make_engine(url)
                figures = bench_database(engine, data, today, args.runs, args.anchor_runs)
                engine.dispose()
                result[kind] = {
                    "fill_s": round(data.fill_s, 1),
                    "hosts": data.hosts,
                    "work_orders": data.work_orders,
                } | figures
                # HTTP once, on the production database (PostgreSQL when it is benchmarked).
                last = kind == args.databases.split(",")[-1]
                if last and not http_done:
                    http_done = True
                    if server_present():
                        home = workdir / f"home-{kind}"
                        home.mkdir()
                        result["http"] = {"database": kind} | bench_http(url, home, data, args.runs)
                    else:
                        result["http"] = "skipped: server not present"
                if kind == "sqlite" and args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(workdir / "console.db", args.keep / "console.db")
    worst = [result[k]["worst_p95_ms"] for k in ("sqlite", "postgresql") if k in result]
    result["worst_p95_ms"] = max(worst) if worst else None
    result["ratio_to_target"] = round(max(worst) / TARGET_MS, 3) if worst else None
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
