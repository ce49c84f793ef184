"""整改复测报告 / 整改确认: what was retested, the verdicts, and what remains open.

A finding counts as retested by its history: a re-check (``retest`` event), a verification
(to 已验证), or a reopening from 已修复/已验证 (the re-check found it again). Its verdict is
that of the latest such event — in the period, when one is given. Work orders take the
verdicts of their retested findings (all fixed, none fixed, or partly). The remaining open
items are every work order still open on the report date.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding, FindingEvent
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import Status
from shaobing.reports.builders import common as c
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.markup import Parts
from shaobing.reports.model import Chart, ChartSpec, Column, Table

_CLOSED_BY_FIX = (Status.FIXED.value, Status.VERIFIED.value)


@dataclass(frozen=True)
class Verdict:
    """The latest retest outcome of one finding."""

    finding_id: int
    fixed: bool
    at: datetime
    actor: str


def retest_verdicts(
    session: Session, engagement: Engagement, window: tuple[datetime, datetime] | None
) -> dict[int, Verdict]:
    """The latest retest verdict per finding (within the window, when given)."""
    retested = or_(
        FindingEvent.kind == "retest",
        and_(FindingEvent.kind == "transition", FindingEvent.to_state == Status.VERIFIED.value),
        and_(
            FindingEvent.kind == "transition",
            FindingEvent.from_state.in_(_CLOSED_BY_FIX),
            FindingEvent.to_state == Status.TO_FIX.value,
        ),
    )
    query = (
        select(
            FindingEvent.finding_id,
            FindingEvent.kind,
            FindingEvent.to_state,
            FindingEvent.detail,
            FindingEvent.at,
            FindingEvent.actor,
        )
        .join(Finding, Finding.id == FindingEvent.finding_id)
        .where(Finding.engagement_id == engagement.id, retested)
        .order_by(FindingEvent.at, FindingEvent.id)
    )
    if window is not None:
        start, after = window
        query = query.where(FindingEvent.at >= start, FindingEvent.at < after)
    verdicts: dict[int, Verdict] = {}
    for finding_id, kind, to_state, detail, at, actor in session.execute(query):
        if kind == "retest":
            fixed = not bool((detail or {}).get("detected"))
        else:
            fixed = to_state == Status.VERIFIED.value
        # Ordered by time: the last event of a finding wins.
        verdicts[finding_id] = Verdict(finding_id, fixed, at, actor)
    return verdicts


def _verdict_word(fixed: bool) -> str:
    return c.text("verdict.fixed" if fixed else "verdict.present")


def _order_verdict(fixed: int, retested: int) -> str:
    if fixed == retested:
        return c.text("verdict.fixed")
    return c.text("verdict.present" if fixed == 0 else "verdict.partial")


def collect(ctx: BuildContext) -> ReportData:
    """Collect the retest results of the engagement (see the module docstring)."""
    session, engagement = ctx.session, ctx.engagement
    tz = engagement.timezone
    window = c.period_window(ctx.period, tz)
    verdicts = retest_verdicts(session, engagement, window)
    rows = [
        r
        for chunk_start in range(0, len(verdicts), c.CHUNK)
        for r in c.load_findings(
            session,
            engagement,
            Finding.id.in_(sorted(verdicts)[chunk_start : chunk_start + c.CHUNK]),
        )
    ]
    rows.sort(key=lambda r: (-r.rank, r.id))
    fixed_rows = [r for r in rows if verdicts[r.id].fixed]
    present_rows = [r for r in rows if not verdicts[r.id].fixed]

    by_severity = {
        s.value: (
            sum(1 for r in rows if r.severity == s.value),
            sum(1 for r in fixed_rows if r.severity == s.value),
        )
        for s in c.SEVERITIES
    }
    summary_table = Table(
        columns=[
            c.column("level", 0.8, "center"),
            c.column("count", 0.8, "right"),
            Column(c.text("verdict.fixed"), 0.8, "right"),
            Column(c.text("verdict.present"), 0.8, "right"),
            c.column("share", 0.8, "right"),
        ],
        rows=[
            [c.severity_word(k), str(n), str(f), str(n - f), c.percent(f, n)]
            for k, (n, f) in by_severity.items()
            if n
        ]
        + [
            [
                c.text("columns.total"),
                str(len(rows)),
                str(len(fixed_rows)),
                str(len(present_rows)),
                c.percent(len(fixed_rows), len(rows)),
            ]
        ],
        caption=c.text("captions.retest_summary"),
        level_column=0,
    )
    none = c.text("none")
    detail_table = Table(
        columns=[
            c.column("index", 0.5, "center"),
            c.column("vuln_title", 2.4),
            c.column("level", 0.6, "center"),
            c.column("location", 1.8),
            c.column("work_order", 0.7, "center"),
            c.column("retest_at", 1.2),
            c.column("verdict", 0.7, "center"),
            c.column("current_status", 0.7, "center"),
        ],
        rows=[
            [
                str(i),
                r.title,
                c.severity_word(r.severity),
                r.location,
                f"WO-{r.work_order_id}" if r.work_order_id else none,
                c.cn_datetime(verdicts[r.id].at, tz),
                _verdict_word(verdicts[r.id].fixed),
                c.state_word(r.status),
            ]
            for i, r in enumerate(rows, start=1)
        ],
        caption=c.text("captions.retest_findings"),
        level_column=2,
        sheet=c.text("sheets.retest"),
    )

    per_order: dict[int, Counter[bool]] = {}
    for r in rows:
        if r.work_order_id is not None:
            per_order.setdefault(r.work_order_id, Counter())[verdicts[r.id].fixed] += 1
    orders = c.load_work_orders(session, engagement, per_order)
    order_verdicts = {
        o.id: _order_verdict(per_order[o.id][True], sum(per_order[o.id].values())) for o in orders
    }
    orders_table = Table(
        columns=[
            c.column("work_order", 0.7, "center"),
            c.column("order_title", 3.0),
            c.column("level", 0.6, "center"),
            c.column("findings_in_order", 0.6, "right"),
            c.column("fixed_in_order", 0.6, "right"),
            c.column("verdict", 0.8, "center"),
            c.column("current_status", 0.8, "center"),
        ],
        rows=[
            [
                f"WO-{o.id}",
                o.title,
                c.severity_word(o.severity),
                str(sum(per_order[o.id].values())),
                str(per_order[o.id][True]),
                order_verdicts[o.id],
                c.state_word(o.state),
            ]
            for o in orders
        ],
        caption=c.text("captions.retest_orders"),
        level_column=2,
    )
    open_orders = [o for o in c.load_work_orders(session, engagement) if c.status_is_open(o.state)]
    open_table = c.work_order_table(
        open_orders,
        as_of=ctx.today,
        caption=c.text("captions.open_orders"),
        sheet=c.text("sheets.open_orders"),
    )
    chart = Chart(
        ChartSpec(
            kind="pie",
            title=c.text("captions.retest_summary"),
            labels=[c.text("verdict.fixed"), c.text("verdict.present")],
            series={c.text("series.count"): [float(len(fixed_rows)), float(len(present_rows))]},
        )
    )
    verdict_counts = Counter(order_verdicts.values())
    context: dict[str, Any] = {
        "facts": c.engagement_facts(engagement),
        "period_label": ctx.period.label if ctx.period else "",
        "today": c.cn_date(ctx.today),
        "retested": len(rows),
        "fixed": len(fixed_rows),
        "present": len(present_rows),
        "fixed_rate": c.percent(len(fixed_rows), len(rows)),
        "first_retest": c.cn_date(min((v.at for v in verdicts.values()), default=None), tz),
        "last_retest": c.cn_date(max((v.at for v in verdicts.values()), default=None), tz),
        "retesters": sorted({v.actor for v in verdicts.values()}),
        "orders": len(orders),
        "orders_fixed": verdict_counts.get(c.text("verdict.fixed"), 0),
        "orders_partial": verdict_counts.get(c.text("verdict.partial"), 0),
        "orders_present": verdict_counts.get(c.text("verdict.present"), 0),
        "present_items": [
            {"title": r.title, "level": c.severity_word(r.severity), "location": r.location}
            for r in present_rows
        ],
        "open_orders": len(open_orders),
        "open_overdue": sum(1 for o in open_orders if c.is_overdue(o, ctx.today)),
        "open_high": sum(1 for o in open_orders if Severity(o.severity).rank >= Severity.HIGH.rank),
        "verdict_fixed": c.text("verdict.fixed"),
        "verdict_present": c.text("verdict.present"),
        "verdict_partial": c.text("verdict.partial"),
    }
    return ReportData(
        context=context,
        parts=Parts(
            tables={
                "summary": summary_table,
                "findings": detail_table,
                "orders": orders_table,
                "open_orders": open_table,
            },
            charts={"summary": chart},
        ),
        annexes=[detail_table, open_table],
        subtitle=ctx.period.label if ctx.period else None,
    )
