"""Read-only views of the evidence the MLPS assessment draws on: baseline runs and open findings.

Pre-filling and high-risk rules work on these plain values, so they can be tested without a
database and never depend on another feature's tables beyond these queries.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.baseline.models import BaselineRun
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity

#: purposes of baseline runs that describe the target's current state
CURRENT_PURPOSES = ("check", "harden-after")


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's result in one baseline run."""

    run_id: int
    profile: str
    host: str | None
    rule_id: str
    title: str
    status: str
    observed: str
    references: dict[str, Any]


@dataclass(frozen=True)
class FindingView:
    """An open finding, as pre-filling and high-risk rules read it."""

    id: int
    source_tool: str
    check_id: str
    severity: str
    title: str
    host: str | None
    asset_id: int | None

    def matches(
        self, check: str, source: str | None = None, min_severity: str | None = None
    ) -> bool:
        """Whether the finding matches a check pattern, source and severity floor."""
        if source is not None and self.source_tool != source:
            return False
        if min_severity is not None and Severity(self.severity).rank < Severity(min_severity).rank:
            return False
        return fnmatch.fnmatchcase(self.check_id, check)


def latest_outcomes(session: Session, engagement_id: int) -> list[RuleOutcome]:
    """Rule results of the latest run per (profile, host) of the engagement."""
    runs = session.scalars(
        select(BaselineRun)
        .where(
            BaselineRun.engagement_id == engagement_id,
            BaselineRun.purpose.in_(CURRENT_PURPOSES),
        )
        .order_by(BaselineRun.id)
    ).all()
    latest: dict[tuple[str, str], BaselineRun] = {}
    for run in runs:
        latest[(run.profile, (run.host or run.target).lower())] = run
    outcomes: list[RuleOutcome] = []
    for run in sorted(latest.values(), key=lambda r: r.id):
        for result in run.results or []:
            outcomes.append(
                RuleOutcome(
                    run_id=run.id,
                    profile=run.profile,
                    host=run.host,
                    rule_id=str(result.get("rule_id", "")),
                    title=str(result.get("title", "")),
                    status=str(result.get("status", "")),
                    observed=str(result.get("observed", "")),
                    references=dict(result.get("references") or {}),
                )
            )
    return outcomes


def open_findings(session: Session, engagement_id: int) -> list[FindingView]:
    """Findings of the engagement in an open state (新增, 待修复)."""
    rows = session.execute(
        select(
            Finding.id,
            Finding.source_tool,
            Finding.check_id,
            Finding.severity,
            Finding.title,
            Finding.host,
            Finding.asset_id,
        )
        .where(Finding.engagement_id == engagement_id, Finding.is_open.is_(True))
        .order_by(Finding.id)
    ).all()
    return [FindingView(*row) for row in rows]
