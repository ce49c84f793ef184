"""Service functions for findings and work orders (CLI, API and scheduler use these)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from shaobing.core.audit import record_event
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Engagement
from shaobing.findings.fingerprint import fingerprint_with, load_config
from shaobing.findings.importers.registry import detect_importer, get_importer
from shaobing.findings.ingest import IngestOptions, IngestSummary, ingest
from shaobing.findings.models import Finding, FindingEvent, RemediationSla, WorkOrder
from shaobing.findings.pipeline import parse_records
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import (
    OPEN_STATES,
    Role,
    Status,
    apply_transition,
    refresh_work_order,
    refresh_work_orders,
    sla_days,
    status_label,
)


def import_file(
    session: Session,
    engagement: Engagement,
    path: Path,
    *,
    fmt: str | None = None,
    options: IngestOptions | None = None,
) -> IngestSummary:
    """Detect (or take) the format of ``path`` and ingest it into the engagement.

    Fingerprints follow the packaged rules, overridden by ``$SHAOBING_HOME/fingerprints.yaml``
    when it exists (the same rules ``findings rededup`` applies).
    """
    importer = get_importer(fmt) if fmt else detect_importer(path)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    opts = options or IngestOptions()
    if opts.fingerprints is None:
        opts.fingerprints = load_config(get_settings().home / "fingerprints.yaml")
    return ingest(
        session,
        engagement,
        parse_records(importer.name, path),
        format_name=importer.name,
        file_name=path.name,
        file_sha256=digest.hexdigest(),
        options=opts,
    )


# Listing counts stop here: counting every match of a broad filter over a million findings
# costs more than the page itself, and nobody pages through more than this.
COUNT_CAP = 10_000


@dataclass
class FindingFilter:
    """Filters of ``findings list``."""

    severities: list[Severity] | None = None
    statuses: list[Status] | None = None
    asset_id: int | None = None
    host: str | None = None
    source: str | None = None
    search: str | None = None
    open_only: bool = False


def _filtered(query: Select[Any], engagement: Engagement, flt: FindingFilter) -> Select[Any]:
    query = query.where(Finding.engagement_id == engagement.id)
    if flt.statuses:
        query = query.where(Finding.status.in_([s.value for s in flt.statuses]))
    elif flt.open_only:
        query = query.where(Finding.is_open.is_(True))
    if flt.severities:
        query = query.where(Finding.severity_rank.in_([s.rank for s in flt.severities]))
    if flt.asset_id is not None:
        query = query.where(Finding.asset_id == flt.asset_id)
    if flt.host:
        query = query.where(Finding.host == flt.host.lower())
    if flt.source:
        query = query.where(Finding.source_tool == flt.source.lower())
    if flt.search:
        like = f"%{flt.search}%"
        query = query.where(or_(Finding.title.ilike(like), Finding.check_id.ilike(like)))
    return query


def list_findings(
    session: Session,
    engagement: Engagement,
    flt: FindingFilter,
    *,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Finding]]:
    """One page of findings (most severe first) and the matching count, capped at
    COUNT_CAP + 1 (a page only needs to know "more than 10,000")."""
    counted = _filtered(select(Finding.id), engagement, flt).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(counted)) or 0
    page = session.scalars(
        _filtered(select(Finding), engagement, flt)
        .order_by(Finding.severity_rank.desc(), Finding.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(page)


def filtered_query(engagement: Engagement, flt: FindingFilter) -> Select[Any]:
    """All findings matching ``flt``, most severe first (for exports that stream)."""
    return _filtered(select(Finding), engagement, flt).order_by(
        Finding.severity_rank.desc(), Finding.id
    )


def get_finding(
    session: Session, engagement: Engagement | None, finding_id: int, client_id: int | None = None
) -> Finding:
    """A finding by id, refused when it belongs to another engagement or client."""
    finding = session.get(Finding, finding_id)
    if (
        finding is None
        or (engagement is not None and finding.engagement_id != engagement.id)
        or (client_id is not None and finding.client_id != client_id)
    ):
        raise NotFoundError(t("findings.finding_not_found", id=finding_id))
    return finding


def get_work_order(session: Session, engagement: Engagement | None, order_id: int) -> WorkOrder:
    """A work order by id (within the engagement when given)."""
    order = session.get(WorkOrder, order_id)
    if order is None or (engagement is not None and order.engagement_id != engagement.id):
        raise NotFoundError(t("findings.work_order_not_found", id=order_id))
    return order


def history(
    session: Session, *, finding_id: int | None = None, order_id: int | None = None
) -> list[FindingEvent]:
    """Events of a finding or a work order, oldest first."""
    query = select(FindingEvent).order_by(FindingEvent.id)
    if finding_id is not None:
        query = query.where(FindingEvent.finding_id == finding_id)
    if order_id is not None:
        query = query.where(FindingEvent.work_order_id == order_id)
    return list(session.scalars(query))


def order_findings(session: Session, order: WorkOrder) -> list[Finding]:
    """The findings a work order covers."""
    return list(
        session.scalars(
            select(Finding)
            .where(Finding.work_order_id == order.id)
            .order_by(Finding.severity_rank.desc(), Finding.id)
        )
    )


def move_work_order(
    session: Session,
    order: WorkOrder,
    target: Status | str,
    *,
    actor: str,
    role: Role | str,
    reason: str | None = None,
    until: date | None = None,
    now: datetime | None = None,
) -> int:
    """Move every finding of a work order that can make the move; returns how many moved.

    Findings already in the target state are left alone; if none of the others may make
    the move the whole call is refused with the state machine's reason.
    """
    moment = now or datetime.now(UTC)
    members = [f for f in order_findings(session, order) if f.status != Status(target).value]
    if not members:
        raise ValidationError(
            t("findings.nothing_to_move", id=order.id, target=status_label(target))
        )
    moved = 0
    first_error: ValidationError | None = None
    for finding in members:
        try:
            apply_transition(
                session,
                finding,
                target,
                actor=actor,
                role=role,
                reason=reason,
                until=until,
                now=moment,
            )
            moved += 1
        except ValidationError as exc:
            first_error = first_error or exc
    if moved == 0 and first_error is not None:
        raise first_error
    session.flush()
    refresh_work_order(session, order, moment)
    record_event(
        session,
        "workorder.move",
        actor=actor,
        client_id=order.client_id,
        engagement_id=order.engagement_id,
        target=f"WO-{order.id}",
        detail={
            "to": Status(target).value,
            "role": Role(role).value,
            "moved": moved,
            "reason": reason,
        },
    )
    return moved


def move_finding(
    session: Session,
    finding: Finding,
    target: Status | str,
    *,
    actor: str,
    role: Role | str,
    reason: str | None = None,
    until: date | None = None,
    now: datetime | None = None,
) -> None:
    """Move one finding and refresh its work order."""
    moment = now or datetime.now(UTC)
    apply_transition(
        session, finding, target, actor=actor, role=role, reason=reason, until=until, now=moment
    )
    session.flush()
    if finding.work_order_id:
        refresh_work_order(session, session.get_one(WorkOrder, finding.work_order_id), moment)


def assign(
    session: Session,
    order: WorkOrder,
    assignee: str,
    *,
    actor: str,
    role: Role | str = Role.ENGINEER,
) -> None:
    """Assign a work order; a new one moves to 待修复 (dispatched to its owner)."""
    now = datetime.now(UTC)
    previous = order.assignee
    order.assignee = assignee.strip()
    order.updated_at = now
    session.add(
        FindingEvent(
            client_id=order.client_id,
            work_order_id=order.id,
            at=now,
            actor=actor,
            role=Role(role).value,
            kind="assign",
            detail={"from": previous, "to": order.assignee},
        )
    )
    if any(f.status == Status.NEW.value for f in order_findings(session, order)):
        move_work_order(
            session,
            order,
            Status.TO_FIX,
            actor=actor,
            role=role,
            reason=t("findings.reason_assigned", assignee=order.assignee),
            now=now,
        )


def comment(
    session: Session, order: WorkOrder, text: str, *, actor: str, role: Role | str = Role.ENGINEER
) -> FindingEvent:
    """Add a comment to a work order's history."""
    if not text.strip():
        raise ValidationError(t("findings.comment_empty"))
    event = FindingEvent(
        client_id=order.client_id,
        work_order_id=order.id,
        at=datetime.now(UTC),
        actor=actor,
        role=Role(role).value,
        kind="comment",
        reason=text.strip(),
    )
    session.add(event)
    return event


def list_work_orders(
    session: Session,
    engagement: Engagement,
    *,
    states: list[Status] | None = None,
    assignee: str | None = None,
    overdue_on: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[WorkOrder]]:
    """Work orders of an engagement, earliest deadline first; ``overdue_on`` keeps open ones
    whose deadline is before that day."""
    query = select(WorkOrder).where(WorkOrder.engagement_id == engagement.id)
    if states:
        query = query.where(WorkOrder.state.in_([s.value for s in states]))
    if assignee:
        query = query.where(WorkOrder.assignee == assignee)
    if overdue_on is not None:
        query = query.where(
            WorkOrder.state.in_([s.value for s in OPEN_STATES]), WorkOrder.due_date < overdue_on
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WorkOrder.due_date.is_(None), WorkOrder.due_date, WorkOrder.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(rows)


def expire_risk_acceptances(
    session: Session, engagement: Engagement, now: datetime | None = None
) -> int:
    """Reopen findings whose risk acceptance has expired (D2); returns how many."""
    moment = now or datetime.now(UTC)
    expired = session.scalars(
        select(Finding).where(
            Finding.engagement_id == engagement.id,
            Finding.status == Status.RISK_ACCEPTED.value,
            Finding.risk_accepted_until.is_not(None),
            Finding.risk_accepted_until <= moment.date(),
        )
    ).all()
    for finding in expired:
        move_finding(
            session,
            finding,
            Status.TO_FIX,
            actor="system",
            role=Role.SYSTEM,
            reason=t("findings.reason_risk_expired"),
            now=moment,
        )
    return len(expired)


def set_sla_days(session: Session, engagement: Engagement, severity: Severity, days: int) -> None:
    """Override the remediation days of one severity for an engagement."""
    if days <= 0:
        raise ValidationError(t("findings.bad_sla_days", days=days))
    row = session.scalar(
        select(RemediationSla).where(
            RemediationSla.engagement_id == engagement.id, RemediationSla.severity == severity.value
        )
    )
    if row is None:
        session.add(
            RemediationSla(
                client_id=engagement.client_id,
                engagement_id=engagement.id,
                severity=severity.value,
                days=days,
            )
        )
    else:
        row.days = days


def rededup(
    session: Session, engagement: Engagement, *, actor: str, override: Path | None = None
) -> dict[str, int]:
    """Recompute every fingerprint of the engagement with the current rules and merge
    findings that now share one (the oldest survives, counts and history move to it)."""
    load_config.cache_clear()
    config = load_config(override)
    findings = session.scalars(
        select(Finding).where(Finding.engagement_id == engagement.id).order_by(Finding.id)
    ).all()
    survivors: dict[tuple[str, str], Finding] = {}
    emptied: dict[int, int] = {}
    changed = merged = 0
    for finding in findings:
        values = {
            c: getattr(finding, c)
            for c in (
                "source_tool",
                "check_id",
                "host",
                "port",
                "protocol",
                "url",
                "parameter",
                "file_path",
                "line",
                "tool_unique_id",
            )
        }
        new_fp = fingerprint_with(values, config.rule_for(finding.source_tool))
        key = (finding.dedup_scope, new_fp)
        keeper = survivors.get(key)
        if keeper is None:
            if new_fp != finding.fingerprint:
                changed += 1
            survivors[key] = finding
            continue
        keeper.times_seen += finding.times_seen
        keeper.last_seen = max(keeper.last_seen, finding.last_seen)
        keeper.first_seen = min(keeper.first_seen, finding.first_seen)
        if finding.work_order_id and keeper.work_order_id is None:
            keeper.work_order_id = finding.work_order_id  # the survivor adopts the order
        elif (
            finding.work_order_id
            and keeper.work_order_id is not None
            and finding.work_order_id != keeper.work_order_id
        ):
            emptied[finding.work_order_id] = keeper.work_order_id
        session.execute(
            update(FindingEvent)
            .where(FindingEvent.finding_id == finding.id)
            .values(finding_id=keeper.id, work_order_id=keeper.work_order_id)
        )
        session.add(
            FindingEvent(
                client_id=keeper.client_id,
                finding_id=keeper.id,
                work_order_id=keeper.work_order_id,
                at=datetime.now(UTC),
                actor=actor,
                role=Role.SYSTEM.value,
                kind="merged",
                detail={"merged_finding": finding.id},
            )
        )
        session.delete(finding)
        merged += 1
    session.flush()
    # A work order whose findings all merged into another one's has nothing left to track:
    # its own history (assignments, comments) moves to the surviving order, then it goes.
    for order_id, target_id in sorted(emptied.items()):
        if session.scalar(select(func.count()).where(Finding.work_order_id == order_id)):
            continue
        session.execute(
            update(FindingEvent)
            .where(FindingEvent.work_order_id == order_id)
            .values(work_order_id=target_id)
        )
        session.execute(delete(WorkOrder).where(WorkOrder.id == order_id))
    refresh_work_orders(session, set(emptied.values()), datetime.now(UTC))
    # Fingerprints are unique per scope: clear them first so swaps cannot collide.
    for (_, fp), finding in survivors.items():
        if finding.fingerprint != fp:
            finding.fingerprint = "~" + hashlib.sha256(f"{finding.id}".encode()).hexdigest()[:63]
    session.flush()
    for (_, fp), finding in survivors.items():
        finding.fingerprint = fp
    session.flush()
    record_event(
        session,
        "findings.rededup",
        actor=actor,
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        detail={"changed": changed, "merged": merged},
    )
    return {"findings": len(findings), "changed": changed, "merged": merged}


def finding_as_dict(finding: Finding) -> dict[str, Any]:
    """The stable JSON form of a finding."""
    return {
        "id": finding.id,
        "engagement_id": finding.engagement_id,
        "work_order_id": finding.work_order_id,
        "asset_id": finding.asset_id,
        "source_tool": finding.source_tool,
        "check_id": finding.check_id,
        "title": finding.title,
        "severity": finding.severity,
        "severity_label": Severity(finding.severity).label,
        "status": finding.status,
        "status_label": status_label(finding.status),
        "host": finding.host,
        "port": finding.port,
        "protocol": finding.protocol,
        "url": finding.url,
        "parameter": finding.parameter,
        "file_path": finding.file_path,
        "line": finding.line,
        "cvss_v3_vector": finding.cvss_v3_vector,
        "cvss_v3_score": finding.cvss_v3_score,
        "cvss_v4_vector": finding.cvss_v4_vector,
        "cvss_v4_score": finding.cvss_v4_score,
        "cve_ids": finding.cve_ids,
        "cwe_ids": finding.cwe_ids,
        "cnvd_ids": finding.cnvd_ids,
        "cnnvd_ids": finding.cnnvd_ids,
        "references": finding.references,
        "description": finding.description,
        "remediation": finding.remediation,
        "evidence": finding.evidence,
        "confidence": finding.confidence,
        "fingerprint": finding.fingerprint,
        "first_seen": finding.first_seen.isoformat(),
        "last_seen": finding.last_seen.isoformat(),
        "times_seen": finding.times_seen,
        "risk_accepted_until": (
            finding.risk_accepted_until.isoformat() if finding.risk_accepted_until else None
        ),
    }


def work_order_as_dict(order: WorkOrder, *, today: date | None = None) -> dict[str, Any]:
    """The stable JSON form of a work order."""
    day = today or datetime.now(UTC).date()
    return {
        "id": order.id,
        "engagement_id": order.engagement_id,
        "title": order.title,
        "grouping": order.grouping,
        "state": order.state,
        "state_label": status_label(order.state),
        "severity": order.severity,
        "severity_label": Severity(order.severity).label,
        "assignee": order.assignee,
        "due_date": order.due_date.isoformat() if order.due_date else None,
        "overdue": bool(order.due_date and order.due_date < day and order.state in OPEN_STATES),
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
    }


def event_as_dict(event: FindingEvent) -> dict[str, Any]:
    """The stable JSON form of a history entry."""
    return {
        "at": event.at.isoformat(),
        "actor": event.actor,
        "role": event.role,
        "kind": event.kind,
        "from": event.from_state,
        "to": event.to_state,
        "reason": event.reason,
        "finding_id": event.finding_id,
        "work_order_id": event.work_order_id,
        "detail": event.detail,
    }


def sla_table(session: Session, engagement: Engagement) -> dict[str, int | None]:
    """Remediation days per severity for display."""
    return {s.value: d for s, d in sla_days(session, engagement.id).items()}
