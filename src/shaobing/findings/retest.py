"""Retest (复测, B9): ask the source of a finding to re-check exactly that finding.

Sources register a function per ``source_tool``; scanners added later plug in here. The
outcome moves the finding to 已验证 (not detected any more) or back to 待修复, with the
evidence recorded in its history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from shaobing.core.audit import record_event
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings.models import Finding, FindingEvent, WorkOrder
from shaobing.findings.workflow import Role, Status, apply_transition, refresh_work_order


@dataclass(frozen=True)
class RetestResult:
    """What a re-check found: still present or not, and the evidence of it."""

    detected: bool
    evidence: str


RetestFunction = Callable[[Finding], RetestResult]

_REGISTRY: dict[str, RetestFunction] = {}


def register_retest(source_tool: str, function: RetestFunction) -> None:
    """Register the re-check of findings produced by ``source_tool``."""
    _REGISTRY[source_tool.lower()] = function


def unregister_retest(source_tool: str) -> None:
    """Remove a registration (tests, plugins being unloaded)."""
    _REGISTRY.pop(source_tool.lower(), None)


def retest_function(source_tool: str) -> RetestFunction | None:
    """The registered re-check of a source, if any."""
    return _REGISTRY.get(source_tool.lower())


def retest_finding(session: Session, finding: Finding, *, actor: str) -> RetestResult:
    """Re-check one finding and move it: not detected → 已验证, detected → 待修复.

    Findings still open (新增/待修复) are first marked 已修复 by the system when the
    re-check no longer detects them, then verified, so the history shows both steps.
    """
    function = retest_function(finding.source_tool)
    if function is None:
        raise ValidationError(
            t("findings.retest_unsupported", id=finding.id, source=finding.source_tool)
        )
    result = function(finding)
    now = datetime.now(UTC)
    session.add(
        FindingEvent(
            client_id=finding.client_id,
            finding_id=finding.id,
            work_order_id=finding.work_order_id,
            at=now,
            actor=actor,
            role=Role.SYSTEM.value,
            kind="retest",
            reason=t("findings.retest_detected")
            if result.detected
            else t("findings.retest_not_detected"),
            detail={"detected": result.detected, "evidence": result.evidence[:20000]},
        )
    )
    status = Status(finding.status)
    if result.detected:
        if status in {Status.FIXED, Status.VERIFIED}:
            apply_transition(
                session,
                finding,
                Status.TO_FIX,
                actor=actor,
                role=Role.SYSTEM,
                reason=t("findings.retest_detected"),
                now=now,
            )
    else:
        if status in {Status.NEW, Status.TO_FIX}:
            apply_transition(
                session,
                finding,
                Status.FIXED,
                actor=actor,
                role=Role.SYSTEM,
                reason=t("findings.retest_not_detected"),
                now=now,
            )
        if Status(finding.status) is Status.FIXED:
            apply_transition(
                session,
                finding,
                Status.VERIFIED,
                actor=actor,
                role=Role.SYSTEM,
                reason=t("findings.retest_not_detected"),
                now=now,
            )
    session.flush()
    if finding.work_order_id:
        refresh_work_order(session, session.get_one(WorkOrder, finding.work_order_id), now)
    record_event(
        session,
        "findings.retest",
        actor=actor,
        client_id=finding.client_id,
        engagement_id=finding.engagement_id,
        target=f"#{finding.id}",
        detail={"detected": result.detected, "status": finding.status},
    )
    return result
