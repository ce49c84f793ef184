"""项目交付物清单及终验汇总: what the contract asked for, what was done, what is still open.

Figures come from the database: the service items and their deliverables, the work recorded
for each item (scan, baseline, hardening, risk and 等保 runs, report builds), the work
orders against their remediation deadlines, and the findings still open.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shaobing.assess.datasec.models import DatasecAssessment
from shaobing.assess.mlps.models import MlpsAssessment
from shaobing.assess.risk.models import RiskRun
from shaobing.baseline.models import BaselineRun, HardeningRun
from shaobing.core.i18n import t
from shaobing.engagements import deliverables
from shaobing.engagements.catalog import catalog
from shaobing.engagements.models import DeliverableState, Engagement
from shaobing.findings.models import Finding, FindingEvent, WorkOrder
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import OPEN_STATES, Status
from shaobing.reports import config
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.builders.pentest import level_word, words
from shaobing.reports.markup import Parts
from shaobing.reports.model import Column, Table
from shaobing.reports.models import ReportBuild
from shaobing.scan.models import ScanRun, ScanStatus

_FIXED = frozenset({Status.FIXED.value, Status.VERIFIED.value})
_OPEN = frozenset(s.value for s in OPEN_STATES)
_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def activity_counts(session: Session, engagement: Engagement) -> dict[str, int]:
    """How much of each kind of work the platform recorded for the engagement."""
    spec = words()["acceptance"]
    eid = engagement.id
    scans = select(ScanRun.id).where(
        ScanRun.engagement_id == eid, ScanRun.status == ScanStatus.COMPLETED.value
    )
    findings = select(Finding.id).where(Finding.engagement_id == eid)
    baseline = select(BaselineRun.id).where(BaselineRun.engagement_id == eid)
    retested = (
        select(Finding.work_order_id)
        .distinct()
        .join(FindingEvent, FindingEvent.finding_id == Finding.id)
        .where(
            Finding.engagement_id == eid,
            FindingEvent.kind == "retest",
            Finding.work_order_id.is_not(None),
        )
    )
    return {
        "scan_network": _count(session, scans.where(ScanRun.kind == "network")),
        "scan_web": _count(session, scans.where(ScanRun.kind == "web")),
        "findings": _count(session, findings),
        "findings_pentest": _count(
            session, findings.where(Finding.source_tool.in_(spec["pentest_sources"]))
        ),
        "findings_code": _count(
            session, findings.where(Finding.source_tool.in_(spec["code_sources"]))
        ),
        "baseline_check": _count(
            session, baseline.where(BaselineRun.purpose.in_(["check", "sca"]))
        ),
        "baseline_harden": _count(
            session, baseline.where(BaselineRun.purpose.in_(["harden-before", "harden-after"]))
        ),
        "hardening_applied": _count(
            session,
            select(HardeningRun.id).where(
                HardeningRun.engagement_id == eid, HardeningRun.status == "applied"
            ),
        ),
        "risk_runs": _count(session, select(RiskRun.id).where(RiskRun.engagement_id == eid)),
        "mlps": _count(
            session, select(MlpsAssessment.id).where(MlpsAssessment.engagement_id == eid)
        ),
        "datasec": _count(
            session, select(DatasecAssessment.id).where(DatasecAssessment.engagement_id == eid)
        ),
        "retest_work_orders": _count(session, retested),
    }


def reports_by_deliverable(session: Session, engagement: Engagement) -> Counter[str]:
    """Distinct reports built (type and period; formats count once) per deliverable kind."""
    types = config.report_types().types
    built = session.execute(
        select(ReportBuild.report_type, ReportBuild.period)
        .where(ReportBuild.engagement_id == engagement.id)
        .distinct()
    ).all()
    out: Counter[str] = Counter()
    for report_type, _period in built:
        kind = types[report_type].deliverable if report_type in types else report_type
        out[kind] += 1
    return out


def _done_text(kind: str, counts: dict[str, int], reports: int) -> str:
    spec = words()["acceptance"]
    parts = [
        str(spec["counters"][name]).format(n=counts[name])
        for name in spec["activities"].get(kind, [])
        if counts.get(name)
    ]
    if reports:
        parts.append(str(spec["reports_built"]).format(n=reports))
    return "；".join(parts) or str(spec["nothing_recorded"])


def _columns(titles: list[str], widths: list[float]) -> list[Column]:
    return [Column(title, width) for title, width in zip(titles, widths, strict=True)]


def _items_table(
    engagement: Engagement, counts: dict[str, int], reports: Counter[str], spec: dict[str, Any]
) -> Table:
    items = catalog().items
    done = {DeliverableState.SUBMITTED.value, DeliverableState.ACCEPTED.value}
    rows = []
    for number, item in enumerate(engagement.service_items, start=1):
        owed = [d for d in engagement.deliverables if d.service_item_id == item.id]
        rows.append(
            [
                str(number),
                items[item.kind].name if item.kind in items else item.kind,
                t(f"engagements.frequency.{item.frequency}"),
                str(len(owed)),
                str(sum(d.state in done for d in owed)),
                str(sum(d.state == DeliverableState.ACCEPTED.value for d in owed)),
                _done_text(item.kind, counts, reports.get(item.deliverable, 0)),
            ]
        )
    return Table(
        columns=_columns(spec["columns"]["items"], [0.5, 1.4, 0.7, 0.7, 0.7, 0.7, 3.2]), rows=rows
    )


@dataclass
class SlaRow:
    """Work orders of one severity against their remediation deadlines."""

    total: int = 0
    fixed: int = 0
    on_time: int = 0
    late: int = 0
    other_closed: int = 0
    open: int = 0
    open_overdue: int = 0

    def add(self, order: WorkOrder, today: date, closed_on: date | None) -> None:
        """Count one work order."""
        self.total += 1
        if order.state in _OPEN:
            self.open += 1
            if order.due_date is not None and order.due_date < today:
                self.open_overdue += 1
        elif order.state in _FIXED:
            self.fixed += 1
            # Without a deadline (severity with no SLA) a fix is never late.
            if order.due_date is None or closed_on is None or closed_on <= order.due_date:
                self.on_time += 1
            else:
                self.late += 1
        else:
            self.other_closed += 1

    def cells(self) -> list[str]:
        """The table cells after the level column."""
        rate = f"{self.on_time / self.fixed * 100:.1f}%" if self.fixed else "—"
        values = [
            self.total,
            self.fixed,
            self.on_time,
            self.late,
            self.other_closed,
            self.open,
            self.open_overdue,
        ]
        return [*map(str, values), rate]


def sla_figures(
    session: Session, engagement: Engagement, today: date
) -> tuple[dict[str, SlaRow], SlaRow, list[WorkOrder]]:
    """Work orders per severity (and in total) against their deadlines; the open ones."""
    per: dict[str, SlaRow] = {s.value: SlaRow() for s in _ORDER}
    total = SlaRow()
    open_orders = []
    for order in session.scalars(select(WorkOrder).where(WorkOrder.engagement_id == engagement.id)):
        closed_on = deliverables.local_date(engagement, order.closed_at)
        per.setdefault(order.severity, SlaRow()).add(order, today, closed_on)
        total.add(order, today, closed_on)
        if order.state in _OPEN:
            open_orders.append(order)
    open_orders.sort(
        key=lambda o: (-Severity(o.severity).rank, o.due_date is None, o.due_date or date.max, o.id)
    )
    return per, total, open_orders


def _duration(minutes: int, spec: dict[str, Any]) -> str:
    units = spec["minutes_units"]
    if minutes % 1440 == 0:
        return str(units["day"]).format(n=minutes // 1440)
    if minutes % 60 == 0:
        return str(units["hour"]).format(n=minutes // 60)
    return str(units["minute"]).format(n=minutes)


def _open_table(
    orders: list[WorkOrder], today: date, spec: dict[str, Any], *, sheet: str | None
) -> Table:
    return Table(
        columns=_columns(spec["columns"]["open"], [0.8, 3.0, 0.8, 1.0, 1.0, 0.7]),
        rows=[
            [
                f"WO-{o.id}",
                o.title,
                level_word(o.severity),
                o.assignee or "—",
                o.due_date.isoformat() if o.due_date else str(spec["none"]),
                str(
                    spec["overdue_yes"] if o.due_date and o.due_date < today else spec["overdue_no"]
                ),
            ]
            for o in orders
        ],
        caption=spec["open_caption"] if sheet else None,
        level_column=2,
        sheet=sheet,
    )


def collect(ctx: BuildContext) -> ReportData:
    """Service items, deliverables, SLA figures and open issues of the whole engagement."""
    spec = words()["acceptance"]
    session, engagement, today = ctx.session, ctx.engagement, ctx.today
    counts = activity_counts(session, engagement)
    reports = reports_by_deliverable(session, engagement)

    all_deliverables = deliverables.list_deliverables(session, engagement)
    states = Counter(d.state for d in all_deliverables)
    late = [d for d in all_deliverables if deliverables.is_overdue(d, today)]
    index = deliverables.index_table(
        deliverables.delivery_index(session, engagement), caption=spec["index_caption"]
    )

    per, total, open_orders = sla_figures(session, engagement, today)
    sla = Table(
        columns=_columns(spec["columns"]["sla"], [0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8, 0.9]),
        rows=[[level_word(s.value), *per[s.value].cells()] for s in _ORDER if per[s.value].total]
        + [[str(spec["sla_total"]), *total.cells()]],
        level_column=0,
    )
    terms = Table(
        columns=_columns(spec["columns"]["sla_terms"], [3.0, 1.5]),
        rows=[
            [
                catalog().sla[term.key].name if term.key in catalog().sla else term.key,
                _duration(term.minutes, spec),
            ]
            for term in engagement.sla_terms
        ],
    )
    open_findings = Counter(
        session.scalars(
            select(Finding.severity).where(
                Finding.engagement_id == engagement.id, Finding.is_open.is_(True)
            )
        ).all()
    )
    listed = open_orders[: int(spec["max_open_listed"])]
    signatures = Table(
        columns=_columns(spec["columns"]["signatures"], [1.0, 2.5, 2.5]),
        rows=[
            [str(label), *_signature_cells(i, engagement, spec)]
            for i, label in enumerate(spec["signature_rows"])
        ],
    )
    annex_open = _open_table(open_orders, today, spec, sheet=spec["open_sheet"])
    tables = {
        "items": _items_table(engagement, counts, reports, spec),
        "states": Table(
            columns=_columns(spec["columns"]["states"], [1.5, 1.0]),
            rows=[
                [deliverables.state_label(s.value), str(states.get(s.value, 0))]
                for s in DeliverableState
            ],
        ),
        "deliverables": index,
        "sla": sla,
        "sla_terms": terms,
        "open_orders": _open_table(listed, today, spec, sheet=None),
        "open_orders_all": annex_open,
        "signatures": signatures,
    }
    context: dict[str, Any] = {
        "items": len(engagement.service_items),
        "deliverables_total": len(all_deliverables),
        "states": {
            deliverables.state_label(s.value): states.get(s.value, 0) for s in DeliverableState
        },
        "submitted": states.get(DeliverableState.SUBMITTED.value, 0),
        "accepted": states.get(DeliverableState.ACCEPTED.value, 0),
        "not_submitted": states.get(DeliverableState.PLANNED.value, 0)
        + states.get(DeliverableState.IN_PROGRESS.value, 0),
        "overdue": [
            {
                "id": d.id,
                "title": deliverables.kind_title(d.kind),
                "period": deliverables.period_label(d.period) or "",
                "due": d.due_date.isoformat() if d.due_date else "",
            }
            for d in late
        ],
        "activity": counts,
        "reports_built": sum(reports.values()),
        "work_orders": total.total,
        "fixed": total.fixed,
        "on_time": total.on_time,
        "late": total.late,
        "open_orders": total.open,
        "open_overdue": total.open_overdue,
        "on_time_rate": total.cells()[-1],
        "open_findings": {level_word(s.value): open_findings.get(s.value, 0) for s in _ORDER},
        "open_findings_total": sum(open_findings.values()),
        "open_severe": open_findings.get("critical", 0) + open_findings.get("high", 0),
        "open_listed": len(listed),
        "sla_terms": len(engagement.sla_terms),
        "today": f"{today.year}年{today.month}月{today.day}日",
        "vendor": config.load_branding().vendor,
    }
    return ReportData(
        context=context,
        parts=Parts(tables=tables),
        annexes=[index, annex_open],
    )


def _signature_cells(row: int, engagement: Engagement, spec: dict[str, Any]) -> list[str]:
    # The first row names the parties; the others are left blank for pen and stamp.
    if row == 0:
        return [engagement.client.name, config.load_branding().vendor]
    if row == len(spec["signature_rows"]) - 1:
        return [str(spec["signature_blank"])] * 2
    return ["", ""]
