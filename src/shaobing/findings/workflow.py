"""The work-order state machine (D2) and remediation SLA (D3), loaded from workflow.yaml."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings.models import Finding, FindingEvent, RemediationSla, WorkOrder
from shaobing.findings.severity import Severity


class Role(StrEnum):
    """Who makes a transition."""

    ENGINEER = "engineer"
    CLIENT_OWNER = "client_owner"
    SYSTEM = "system"
    ADMIN = "admin"


class Status(StrEnum):
    """Finding / work-order states named in the contracts."""

    NEW = "new"
    TO_FIX = "to_fix"
    FIXED = "fixed"
    VERIFIED = "verified"
    IGNORED_ONCE = "ignored_once"
    IGNORED_FOREVER = "ignored_forever"
    FALSE_POSITIVE = "false_positive"
    RISK_ACCEPTED = "risk_accepted"


class StateSpec(BaseModel):
    """One state: its Chinese label and whether it counts as open (needs work)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    open: bool


class WorkflowSpec(BaseModel):
    """The whole state machine, validated at load."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    states: dict[Status, StateSpec]
    transitions: dict[Status, dict[Status, list[Role]]]
    on_redetect: dict[Status, Status]
    sla_days: dict[Severity, int] = Field(default_factory=dict)
    reason_required: list[Status] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> WorkflowSpec:
        if set(self.states) != set(Status):
            raise ValueError("every Status needs a state entry")
        for source, targets in self.transitions.items():
            for target, roles in targets.items():
                if source == target or not roles:
                    raise ValueError(f"bad transition {source} -> {target}")
        for source, target in self.on_redetect.items():
            if Role.SYSTEM not in self.transitions.get(source, {}).get(target, []):
                raise ValueError(f"on_redetect {source} -> {target} is not a system transition")
        return self


@cache
def workflow() -> WorkflowSpec:
    """The state machine from workflow.yaml (loaded once)."""
    text = resources.files("shaobing.findings").joinpath("workflow.yaml").read_text("utf-8")
    return WorkflowSpec.model_validate(yaml.safe_load(text))


OPEN_STATES = frozenset(s for s in Status if s in {Status.NEW, Status.TO_FIX})

# Order used to summarise a work order's members: the least advanced state wins.
_AGGREGATE_ORDER = [
    Status.TO_FIX,
    Status.NEW,
    Status.FIXED,
    Status.RISK_ACCEPTED,
    Status.VERIFIED,
    Status.FALSE_POSITIVE,
    Status.IGNORED_ONCE,
    Status.IGNORED_FOREVER,
]


def status_label(status: str) -> str:
    """Chinese label of a state."""
    spec = workflow().states.get(Status(status))
    return spec.label if spec else status


def allowed_roles(source: Status | str, target: Status | str) -> list[Role]:
    """Roles that may move a finding from ``source`` to ``target`` (empty: not allowed)."""
    return list(workflow().transitions.get(Status(source), {}).get(Status(target), []))


def check_transition(source: Status | str, target: Status | str, role: Role | str) -> None:
    """Raise a ValidationError with a Chinese message unless ``role`` may do the move."""
    src, dst, who = Status(source), Status(target), Role(role)
    roles = allowed_roles(src, dst)
    if not roles:
        raise ValidationError(
            t("findings.transition_not_allowed", source=status_label(src), target=status_label(dst))
        )
    if who is Role.ADMIN and roles != [Role.SYSTEM]:
        return
    if who not in roles:
        raise ValidationError(
            t(
                "findings.transition_role",
                role=t(f"findings.role.{who.value}"),
                source=status_label(src),
                target=status_label(dst),
                allowed="、".join(t(f"findings.role.{r.value}") for r in roles),
            )
        )


def aggregate_status(states: list[str]) -> Status:
    """A work order's state from its findings' states (the least advanced one)."""
    present = {Status(s) for s in states}
    for status in _AGGREGATE_ORDER:
        if status in present:
            return status
    return Status.NEW


def sla_days(session: Session, engagement_id: int) -> dict[Severity, int | None]:
    """Remediation days per severity for an engagement (overrides, else defaults)."""
    days: dict[Severity, int | None] = dict.fromkeys(Severity)
    days |= dict(workflow().sla_days)
    for row in session.scalars(
        select(RemediationSla).where(RemediationSla.engagement_id == engagement_id)
    ):
        days[Severity(row.severity)] = row.days
    return days


def due_date(
    start: datetime, severity: Severity | str, days: dict[Severity, int | None]
) -> date | None:
    """The remediation deadline for a finding opened (or reopened) at ``start``."""
    limit = days.get(Severity(severity))
    if limit is None:
        return None
    return start.date() + timedelta(days=limit)


def apply_transition(
    session: Session,
    finding: Finding,
    target: Status | str,
    *,
    actor: str,
    role: Role | str,
    reason: str | None = None,
    until: date | None = None,
    now: datetime,
    detail: dict[str, object] | None = None,
) -> FindingEvent:
    """Move one finding, checking the table, and record who/when/from/to/why."""
    dst = Status(target)
    check_transition(finding.status, dst, role)
    if dst in workflow().reason_required and not (reason and reason.strip()):
        raise ValidationError(t("findings.reason_required", target=status_label(dst)))
    if dst is Status.RISK_ACCEPTED:
        if until is None or until <= now.date():
            raise ValidationError(t("findings.risk_until_required"))
        finding.risk_accepted_until = until
    elif finding.risk_accepted_until is not None:
        finding.risk_accepted_until = None
    event = FindingEvent(
        client_id=finding.client_id,
        finding_id=finding.id,
        work_order_id=finding.work_order_id,
        at=now,
        actor=actor,
        role=Role(role).value,
        kind="transition",
        from_state=finding.status,
        to_state=dst.value,
        reason=reason,
        detail=dict(detail or {}),
    )
    finding.status = dst.value
    finding.is_open = dst in OPEN_STATES
    finding.status_changed_at = now
    session.add(event)
    return event


def refresh_work_order(
    session: Session,
    order: WorkOrder,
    now: datetime,
    days: dict[Severity, int | None] | None = None,
) -> None:
    """Recompute a work order's state and severity from its findings; restart the SLA
    clock when it reopens."""
    rows = session.execute(
        select(Finding.status, Finding.severity, Finding.severity_rank).where(
            Finding.work_order_id == order.id
        )
    ).all()
    if not rows:
        return
    new_state = aggregate_status([r[0] for r in rows])
    order.severity = max(rows, key=lambda r: r[2])[1]
    was_open = order.state in OPEN_STATES
    if new_state != order.state:
        if new_state in OPEN_STATES and not was_open:
            # Reopened: the remediation deadline starts again (D3).
            order.due_date = due_date(
                now, order.severity, days or sla_days(session, order.engagement_id)
            )
            order.closed_at = None
        elif new_state not in OPEN_STATES:
            order.closed_at = now
        order.state = new_state.value
        order.updated_at = now


def refresh_work_orders(
    session: Session,
    order_ids: set[int],
    now: datetime,
    days: dict[Severity, int | None] | None = None,
) -> None:
    """:func:`refresh_work_order` for many orders at once (two queries per 500 orders)."""
    ids = sorted(order_ids)
    limits = days or {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        members: dict[int, list[tuple[str, str, int]]] = {}
        for order_id, status, severity, rank in session.execute(
            select(
                Finding.work_order_id, Finding.status, Finding.severity, Finding.severity_rank
            ).where(Finding.work_order_id.in_(chunk))
        ).all():
            if order_id is not None:
                members.setdefault(order_id, []).append((status, severity, rank))
        for order in session.scalars(select(WorkOrder).where(WorkOrder.id.in_(chunk))):
            rows = members.get(order.id)
            if not rows:
                continue
            new_state = aggregate_status([r[0] for r in rows])
            order.severity = max(rows, key=lambda r: r[2])[1]
            if new_state.value == order.state:
                continue
            if new_state in OPEN_STATES and order.state not in OPEN_STATES:
                if not limits:
                    limits = sla_days(session, order.engagement_id)
                order.due_date = due_date(now, order.severity, limits)
                order.closed_at = None
            elif new_state not in OPEN_STATES:
                order.closed_at = now
            order.state = new_state.value
            order.updated_at = now
