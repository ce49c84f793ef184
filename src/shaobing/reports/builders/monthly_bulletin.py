"""每月安全信息通报: the month's new and fixed findings, overdue work orders, public
vulnerabilities relevant to the client's products, incidents, and the monthly trend.

* New: findings first seen in the period (误报 left out).
* Fixed: findings moved to 已修复 during the period (their current state is shown).
* Overdue: work orders open on the report date whose deadline fell before the period's end
  (or the report date, when earlier).
* Public vulnerabilities: CVEs of the offline vulnerability database published or updated in
  the period that apply to an identified open service of the client's asset ledger (the same
  matching as ``shaobing vulndb match``, without the per-service limit).
* Incidents: the platform has no incident records yet; the template says so.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding, FindingEvent
from shaobing.findings.workflow import Status
from shaobing.reports.builders import common as c
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.markup import Parts
from shaobing.reports.model import Chart, Column, Table
from shaobing.reports.period import Period
from shaobing.vulndb.assess import finding_severity, ledger_services, match_services
from shaobing.vulndb.models import Cve

_NOT_FP = Finding.status != Status.FALSE_POSITIVE.value


def fixed_events(
    session: Session, engagement: Engagement, start: datetime, after: datetime
) -> list[tuple[int, datetime]]:
    """(finding id, when) of every move to 已修复 in [start, after), oldest first."""
    rows = session.execute(
        select(FindingEvent.finding_id, FindingEvent.at)
        .join(Finding, Finding.id == FindingEvent.finding_id)
        .where(
            Finding.engagement_id == engagement.id,
            FindingEvent.kind == "transition",
            FindingEvent.to_state == Status.FIXED.value,
            FindingEvent.at >= start,
            FindingEvent.at < after,
        )
        .order_by(FindingEvent.at, FindingEvent.id)
    )
    return [(int(fid), at) for fid, at in rows if fid is not None]


def public_vulnerabilities(
    session: Session, engagement: Engagement, start: datetime, after: datetime
) -> dict[str, Any]:
    """CVEs published or updated in [start, after) that apply to the client's services.

    Returns ``state`` (``no_database``, ``no_services`` or ``ok``), the number of services
    assessed, and ``items``: one entry per CVE with its services, most urgent first.
    """
    if session.scalar(select(Cve.id).limit(1)) is None:
        return {"state": "no_database", "services": 0, "items": []}
    services, _covered = ledger_services(session, engagement.client_id)
    if not services:
        return {"state": "no_services", "services": 0, "items": []}
    matches = match_services(session, (s.facts for s in services), limit_per_service=None)
    ids = sorted({m.cve_id for m in matches})
    dates: dict[str, tuple[datetime | None, datetime | None]] = {}
    for first in range(0, len(ids), c.CHUNK):
        chunk = ids[first : first + c.CHUNK]
        for cve_id, published, modified in session.execute(
            select(Cve.id, Cve.published, Cve.modified).where(
                Cve.id.in_(chunk),
                or_(
                    and_(Cve.published >= start, Cve.published < after),
                    and_(Cve.modified >= start, Cve.modified < after),
                ),
            )
        ):
            dates[cve_id] = (published, modified)
    grouped: dict[str, dict[str, Any]] = {}
    for match in matches:
        if match.cve_id not in dates:
            continue
        service = services[match.service_index]
        entry = grouped.setdefault(
            match.cve_id,
            {
                "cve": match.cve_id,
                "severity": finding_severity(match.summary).value,
                "score": match.summary.score,
                "kev": match.summary.kev,
                "description": match.summary.description or "",
                "published": dates[match.cve_id][0],
                "modified": dates[match.cve_id][1],
                "products": set(),
                "places": set(),
                "order": len(grouped),
            },
        )
        entry["products"].add(f"{service.display_product} {service.display_version}")
        entry["places"].add(f"{service.host}:{service.port}/{service.protocol}")
    # match_services returns the most urgent first; the first match of a CVE fixes its place.
    items = sorted(grouped.values(), key=lambda e: e["order"])
    return {"state": "ok", "services": len(services), "items": items}


def _trend(
    session: Session, engagement: Engagement, period: Period, tz: str
) -> tuple[list[str], list[int], list[int], list[tuple[int, int]]]:
    last = int(c.node("trend_months"))
    wanted = c.months(engagement.start_date or period.start, period.end)
    if not wanted or wanted[-1] != (period.end.year, period.end.month):
        wanted = c.months(period.start, period.end)
    wanted = wanted[-last:]
    first_day = date(wanted[0][0], wanted[0][1], 1)
    start, after = c.day_bounds(first_day, period.end, tz)
    seen = session.scalars(
        select(Finding.first_seen).where(
            Finding.engagement_id == engagement.id,
            _NOT_FP,
            Finding.first_seen >= start,
            Finding.first_seen < after,
        )
    )
    new = c.month_counts((c.local_date(d, tz) for d in seen), wanted)
    fixed_months = {
        (fid, (day.year, day.month))
        for fid, at in fixed_events(session, engagement, start, after)
        for day in (c.local_date(at, tz),)
    }
    fixed = c.month_counts((date(y, m, 1) for _, (y, m) in fixed_months), wanted)
    labels = [c.month_label(y, m, compact=True) for y, m in wanted]
    return labels, new, fixed, wanted


def collect(ctx: BuildContext) -> ReportData:
    """Collect the bulletin of the period (see the module docstring)."""
    session, engagement = ctx.session, ctx.engagement
    period = ctx.period
    if period is None:  # types.yaml makes the period required; compose checks it first
        raise ValueError("monthly_bulletin needs a period")
    tz = engagement.timezone
    start, after = c.day_bounds(period.start, period.end, tz)
    as_of = min(ctx.today, period.end)

    new_rows = c.load_findings(
        session, engagement, _NOT_FP, Finding.first_seen >= start, Finding.first_seen < after
    )
    events = fixed_events(session, engagement, start, after)
    fixed_at: dict[int, datetime] = {}
    for fid, at in events:
        fixed_at.setdefault(fid, at)
    fixed_rows = [
        r
        for first in range(0, len(fixed_at), c.CHUNK)
        for r in c.load_findings(
            session, engagement, Finding.id.in_(sorted(fixed_at)[first : first + c.CHUNK])
        )
    ]
    fixed_rows.sort(key=lambda r: (-r.rank, r.id))
    open_now = c.load_findings(session, engagement, Finding.is_open.is_(True))
    orders = c.load_work_orders(session, engagement)
    overdue = [o for o in orders if c.is_overdue(o, as_of)]
    overdue.sort(key=lambda o: (-c.overdue_days(o, as_of), o.id))

    new_counts = c.severity_counts(r.severity for r in new_rows)
    groups = c.group_findings(new_rows)
    top_types = int(c.node("top_types"))
    public = public_vulnerabilities(session, engagement, start, after)
    labels, trend_new, trend_fixed, trend_months = _trend(session, engagement, period, tz)
    none = c.text("none")

    new_table = c.findings_table(
        new_rows,
        caption=c.text("captions.new_findings"),
        sheet=c.text("sheets.new_findings"),
        tz=tz,
    )
    fixed_table = Table(
        columns=[
            c.column("index", 0.5, "center"),
            c.column("vuln_title", 2.6),
            c.column("level", 0.6, "center"),
            c.column("location", 2.0),
            c.column("fixed_at", 1.0),
            c.column("current_status", 0.7, "center"),
        ],
        rows=[
            [
                str(i),
                r.title,
                c.severity_word(r.severity),
                r.location,
                c.cn_date(fixed_at[r.id], tz),
                c.state_word(r.status),
            ]
            for i, r in enumerate(fixed_rows, start=1)
        ],
        caption=c.text("captions.fixed_findings"),
        level_column=2,
        sheet=c.text("sheets.fixed_findings"),
    )
    overdue_table = Table(
        columns=[
            c.column("work_order", 0.7, "center"),
            c.column("order_title", 2.8),
            c.column("level", 0.6, "center"),
            c.column("assignee", 0.8),
            c.column("due", 1.0),
            c.column("overdue_days", 0.7, "right"),
        ],
        rows=[
            [
                f"WO-{o.id}",
                o.title,
                c.severity_word(o.severity),
                o.assignee or none,
                c.cn_date(o.due_date),
                str(c.overdue_days(o, as_of)),
            ]
            for o in overdue
        ],
        caption=c.text("captions.overdue_orders"),
        level_column=2,
        sheet=c.text("sheets.overdue"),
    )
    description_chars = int(c.node("cve_description_chars"))
    shown = int(c.node("affected_shown"))
    public_table = Table(
        columns=[
            c.column("cve", 1.1),
            c.column("level", 0.6, "center"),
            c.column("score", 0.5, "right"),
            c.column("kev", 0.6, "center"),
            c.column("products", 1.4),
            c.column("affected_list", 1.6),
            c.column("description", 2.6),
        ],
        rows=[
            [
                e["cve"],
                c.severity_word(e["severity"]),
                f"{e['score']:.1f}" if e["score"] is not None else none,
                c.text("word_yes") if e["kev"] else c.text("word_no"),
                "、".join(sorted(e["products"])),
                c.listing(sorted(e["places"]), shown),
                c.short(e["description"], description_chars) or none,
            ]
            for e in public["items"]
        ],
        caption=c.text("captions.public_vulns"),
        level_column=1,
        sheet=c.text("sheets.public_vulns"),
    )
    type_table = Table(
        columns=[
            c.column("index", 0.5, "center"),
            c.column("vuln_title", 3.2),
            c.column("level", 0.7, "center"),
            c.column("count", 0.7, "right"),
        ],
        rows=[
            [str(i), g.title, c.severity_word(g.severity), str(g.count)]
            for i, g in enumerate(groups[:top_types], start=1)
        ],
        caption=c.text("captions.new_types", n=top_types),
        level_column=2,
    )
    trend_table = Table(
        columns=[
            c.column("title", 1.0),
            Column(c.text("series.new"), 1.0, "right"),
            Column(c.text("series.fixed"), 1.0, "right"),
        ],
        rows=[
            [c.month_label(y, m), str(n), str(f)]
            for (y, m), n, f in zip(trend_months, trend_new, trend_fixed, strict=True)
        ],
        caption=c.text("captions.trend_table"),
    )
    charts: dict[str, Chart] = {
        "severity": c.severity_chart(new_counts, c.text("captions.severity_new")),
        "trend": c.trend_chart(
            c.text("captions.trend_chart"),
            labels,
            {c.text("series.new"): trend_new, c.text("series.fixed"): trend_fixed},
        ),
    }
    public_items = [
        {
            "cve": e["cve"],
            "level": c.severity_word(e["severity"]),
            "kev": e["kev"],
            "places": len(e["places"]),
            "products": "、".join(sorted(e["products"])),
        }
        for e in public["items"]
    ]
    context: dict[str, Any] = {
        "facts": c.engagement_facts(engagement),
        "period_label": period.label,
        "period_start": c.cn_date(period.start),
        "period_end": c.cn_date(period.end),
        "as_of": c.cn_date(as_of),
        "today": c.cn_date(ctx.today),
        "new_total": len(new_rows),
        "new_counts": c.severity_rows(new_counts),
        "new_hosts": len({r.target for r in new_rows}),
        "new_kinds": len(groups),
        "new_high": new_counts["critical"] + new_counts["high"],
        "fixed_total": len(fixed_rows),
        "fixed_still_closed": sum(1 for r in fixed_rows if not r.is_open),
        "open_total": len(open_now),
        "open_high": sum(1 for r in open_now if r.rank >= 3),
        "overdue_total": len(overdue),
        "overdue_max_days": max((c.overdue_days(o, as_of) for o in overdue), default=0),
        "public_state": public["state"],
        "public_services": public["services"],
        "public_total": len(public["items"]),
        "public_kev": sum(1 for e in public["items"] if e["kev"]),
        "public_items": public_items,
        "trend": [
            {"label": c.month_label(y, m), "new": n, "fixed": f}
            for (y, m), n, f in zip(trend_months, trend_new, trend_fixed, strict=True)
        ],
        "rating": c.rating(new_counts),
    }
    tables: dict[str, Table] = {
        "severity": c.severity_table(new_counts, c.text("captions.severity_new")),
        "types": type_table,
        "new_findings": new_table,
        "fixed": fixed_table,
        "overdue": overdue_table,
        "public": public_table,
        "trend": trend_table,
    }
    return ReportData(
        context=context,
        parts=Parts(tables=tables, charts=charts),
        annexes=[new_table, fixed_table, overdue_table, public_table],
        subtitle=period.label,
    )
