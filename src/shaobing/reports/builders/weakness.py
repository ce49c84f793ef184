"""弱点评估报告: weak passwords, unauthorised access, exposure, configuration and TLS
weaknesses, with the exposure surface (open ports and services of the asset ledger).

A finding belongs to the first weakness class of ``builders_scan.yaml`` whose patterns
match ``source_tool:check_id`` or whose tags it carries; other findings (e.g. a component's
CVE) are vulnerabilities for the vulnerability scan report and are only counted here.
Findings marked 误报 are left out. With a period, only findings detected during it and
services seen during it count.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.assets.models import Asset, AssetAddress, AssetService
from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding
from shaobing.findings.workflow import Status
from shaobing.reports.builders import common as c
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.markup import Parts
from shaobing.reports.model import Chart, ChartSpec, Column, Table


def classify(row: c.FindingRow, classes: list[dict[str, Any]]) -> str | None:
    """The key of the first class matching the finding, or None (not a weakness)."""
    subject = f"{row.source_tool}:{row.check_id}"
    for cls in classes:
        if c.matches_any(subject, cls.get("patterns") or []):
            return str(cls["key"])
        if set(row.tags) & {str(tag).lower() for tag in cls.get("tags") or []}:
            return str(cls["key"])
    return None


def _host_names(session: Session, client_id: int) -> dict[int, str]:
    """Each asset's lowest address (IPv4 sorts before IPv6 text here), else its name."""
    names: dict[int, str] = {}
    for asset_id, address in session.execute(
        select(AssetAddress.asset_id, AssetAddress.address)
        .where(AssetAddress.client_id == client_id)
        .order_by(AssetAddress.asset_id, AssetAddress.family, AssetAddress.address)
    ):
        names.setdefault(asset_id, address)
    for asset_id, name in session.execute(
        select(Asset.id, Asset.name).where(Asset.client_id == client_id)
    ):
        names.setdefault(asset_id, name)
    return names


def open_services(
    session: Session, engagement: Engagement, window: tuple[datetime, datetime] | None
) -> list[dict[str, Any]]:
    """The client's open ports and services (seen during the window, when given)."""
    query = select(
        AssetService.asset_id,
        AssetService.port,
        AssetService.protocol,
        AssetService.service,
        AssetService.product,
        AssetService.version,
    ).where(AssetService.client_id == engagement.client_id, AssetService.state == "open")
    if window is not None:
        start, after = window
        query = query.where(AssetService.first_seen < after, AssetService.last_seen >= start)
    hosts = _host_names(session, engagement.client_id)
    rows = [
        {
            "host": hosts.get(asset_id, str(asset_id)),
            "port": port,
            "protocol": protocol,
            "service": service or "",
            "product": " ".join(p for p in (product, version) if p),
        }
        for asset_id, port, protocol, service, product, version in session.execute(query)
    ]
    rows.sort(key=lambda r: (r["host"], r["protocol"], r["port"]))
    return rows


def _services_tables(
    services: list[dict[str, Any]],
) -> tuple[Table, Table, Table, list[dict[str, Any]]]:
    none = c.text("none")
    by_service: dict[str, set[str]] = defaultdict(set)
    ports_of: dict[str, set[str]] = defaultdict(set)
    for s in services:
        name = s["service"] or f"{s['port']}/{s['protocol']}"
        by_service[name].add(s["host"])
        ports_of[name].add(f"{s['port']}/{s['protocol']}")
    n = int(c.node("top_services"))
    ranked = sorted(by_service.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:n]
    top = Table(
        columns=[
            c.column("index", 0.5, "center"),
            c.column("service", 1.4),
            c.column("port", 1.6),
            c.column("hosts", 0.8, "right"),
        ],
        rows=[
            [str(i), name, "、".join(sorted(ports_of[name])), str(len(hosts))]
            for i, (name, hosts) in enumerate(ranked, start=1)
        ],
        caption=c.text("captions.services_table", n=n),
    )
    risky_names: dict[int, str] = {int(k): str(v) for k, v in c.node("risky_ports").items()}
    risky_hosts: dict[int, set[str]] = defaultdict(set)
    for s in services:
        if s["protocol"] == "tcp" and s["port"] in risky_names:
            risky_hosts[s["port"]].add(s["host"])
    shown = int(c.node("affected_shown"))
    risky_rows: list[dict[str, Any]] = [
        {"port": port, "name": risky_names[port], "hosts": sorted(hosts)}
        for port, hosts in sorted(risky_hosts.items())
    ]
    risky = Table(
        columns=[
            c.column("port", 0.6, "center"),
            c.column("service", 1.6),
            c.column("hosts", 0.6, "right"),
            c.column("affected_list", 3.0),
        ],
        rows=[
            [str(r["port"]), r["name"], str(len(r["hosts"])), c.listing(r["hosts"], shown)]
            for r in risky_rows
        ],
        caption=c.text("captions.risky_ports"),
    )
    annex = Table(
        columns=[
            c.column("index", 0.5, "center"),
            c.column("host", 1.4),
            c.column("port", 0.6, "right"),
            c.column("protocol", 0.6, "center"),
            c.column("service", 1.0),
            c.column("product", 2.0),
        ],
        rows=[
            [
                str(i),
                s["host"],
                str(s["port"]),
                s["protocol"],
                s["service"] or none,
                s["product"] or none,
            ]
            for i, s in enumerate(services, start=1)
        ],
        caption=c.text("captions.services_annex"),
        sheet=c.text("sheets.services"),
    )
    return top, risky, annex, risky_rows


def _class_table(name: str, groups: list[c.FindingGroup]) -> Table:
    shown = int(c.node("affected_shown"))
    return Table(
        columns=[
            c.column("index", 0.5, "center"),
            c.column("title", 2.4),
            c.column("level", 0.6, "center"),
            c.column("affected", 0.7, "right"),
            c.column("affected_list", 2.6),
        ],
        rows=[
            [
                str(i),
                g.title,
                c.severity_word(g.severity),
                str(g.count),
                c.listing(g.locations, shown),
            ]
            for i, g in enumerate(groups, start=1)
        ],
        caption=c.text("captions.weakness_class_table", name=name),
        level_column=2,
    )


def _weakness_annex(rows: list[tuple[str, c.FindingRow]], tz: str) -> Table:
    return Table(
        columns=[
            c.column("index", 0.5, "center"),
            c.column("weakness_class", 1.1),
            c.column("title", 2.4),
            c.column("level", 0.6, "center"),
            c.column("location", 2.0),
            c.column("status", 0.7, "center"),
            c.column("first_seen", 1.0),
        ],
        rows=[
            [
                str(i),
                cls,
                r.title,
                c.severity_word(r.severity),
                r.location,
                c.state_word(r.status),
                c.cn_date(r.first_seen, tz),
            ]
            for i, (cls, r) in enumerate(rows, start=1)
        ],
        caption=c.text("captions.weakness_annex"),
        level_column=3,
        sheet=c.text("sheets.weakness"),
    )


def collect(ctx: BuildContext) -> ReportData:
    """Collect the engagement's weaknesses and exposure surface (see the module docstring)."""
    session, engagement = ctx.session, ctx.engagement
    tz = engagement.timezone
    window = c.period_window(ctx.period, tz)
    classes: list[dict[str, Any]] = c.node("weakness_classes")
    loaded = c.load_findings(
        session,
        engagement,
        Finding.source_tool.not_in(c.node("non_weakness_sources")),
        Finding.status != Status.FALSE_POSITIVE.value,
        *c.seen_within(window),
        with_tags=True,
    )
    members: dict[str, list[c.FindingRow]] = {str(cls["key"]): [] for cls in classes}
    others = 0
    for row in loaded:
        key = classify(row, classes)
        if key is None:
            others += 1
        else:
            members[key].append(row)
    weak_rows = [r for rows in members.values() for r in rows]
    counts = c.severity_counts(r.severity for r in weak_rows)

    tables: dict[str, Table] = {}
    class_entries: list[dict[str, Any]] = []
    annex_rows: list[tuple[str, c.FindingRow]] = []
    details = c.load_details(
        session,
        (g.rows[0].id for rows in members.values() for g in c.group_findings(rows)),
    )
    for number, cls in enumerate(classes, start=1):
        key, name = str(cls["key"]), str(cls["name"])
        rows = members[key]
        groups = c.group_findings(rows)
        tables[f"class_{key}"] = _class_table(name, groups)
        annex_rows.extend((name, r) for r in rows)
        class_counts = c.severity_counts(r.severity for r in rows)
        class_entries.append(
            {
                "number": f"4.{number}",
                "key": key,
                "name": name,
                "table": f"class_{key}",
                "count": len(rows),
                "open": sum(1 for r in rows if r.is_open),
                "hosts": len({r.target for r in rows}),
                "kinds": len(groups),
                "counts": c.severity_rows(class_counts),
                "advice": str(cls.get("advice") or ""),
                "remediations": [
                    {
                        "title": g.title,
                        "text": (details[g.rows[0].id].remediation or "")
                        if g.rows[0].id in details
                        else "",
                    }
                    for g in groups
                ],
            }
        )
    tables["classes"] = Table(
        columns=[
            c.column("weakness_class", 1.4),
            *(Column(c.severity_word(s.value), 0.6, "right") for s in c.SEVERITIES),
            c.column("total", 0.6, "right"),
            c.column("hosts", 0.7, "right"),
        ],
        rows=[
            [
                e["name"],
                *(str(row["count"]) for row in e["counts"]),
                str(e["count"]),
                str(e["hosts"]),
            ]
            for e in class_entries
        ],
        caption=c.text("captions.weakness_classes"),
    )
    charts: dict[str, Chart] = {
        "classes": Chart(
            ChartSpec(
                kind="barh",
                title=c.text("captions.weakness_chart"),
                labels=[e["name"] for e in class_entries],
                series={c.text("series.count"): [float(e["count"]) for e in class_entries]},
            )
        ),
        "severity": c.severity_chart(counts, c.text("captions.severity_chart")),
    }
    services = open_services(session, engagement, window)
    top, risky, services_annex, risky_rows = _services_tables(services)
    tables["services"] = top
    tables["risky_ports"] = risky
    tables["services_annex"] = services_annex
    weakness_annex = _weakness_annex(annex_rows, tz)
    tables["weakness_annex"] = weakness_annex
    tables["severity"] = c.severity_table(counts, c.text("captions.severity_table"))

    context: dict[str, Any] = {
        "facts": c.engagement_facts(engagement),
        "period_label": ctx.period.label if ctx.period else "",
        "today": c.cn_date(ctx.today),
        "total": len(weak_rows),
        "open_total": sum(1 for r in weak_rows if r.is_open),
        "hosts": len({r.target for r in weak_rows}),
        "others": others,
        "counts": c.severity_rows(counts),
        "rating": c.rating(counts),
        "classes": class_entries,
        "service_count": len(services),
        "service_hosts": len({s["host"] for s in services}),
        "service_ports": len({(s["port"], s["protocol"]) for s in services}),
        "risky": [
            {"port": r["port"], "name": r["name"], "hosts": len(r["hosts"])} for r in risky_rows
        ],
        "sla": c.sla_rows(session, engagement),
    }
    return ReportData(
        context=context,
        parts=Parts(tables=tables, charts=charts),
        annexes=[weakness_annex, services_annex],
        subtitle=ctx.period.label if ctx.period else None,
    )
