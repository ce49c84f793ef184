"""Data security assessment as a service: create, answer, pre-fill from findings, score, gaps.

Used by the CLI (and later the web console and the report builders, which read
``score_json`` and ``gaps_json``: stable JSON forms).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.assess.datasec.catalogue import Question, questionnaire
from shaobing.assess.datasec.models import DatasecAnswer, DatasecAssessment
from shaobing.assess.datasec.scoring import DatasecScore, compute
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings.importers.base import CoverageInput, FindingInput, Record
from shaobing.findings.ingest import IngestOptions, IngestSummary, ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity

SOURCE_TOOL = "shaobing-datasec"
ANSWERS = ("是", "部分", "否", "不适用")
# a gap's severity from the question's weight (organisation-defined default)
GAP_SEVERITY = {3: Severity.HIGH, 2: Severity.MEDIUM, 1: Severity.LOW}
# the coverage marker of gap findings: a re-run closes gaps that are no longer gaps
GAP_SCOPE = "datasec"
MAX_EVIDENCE_FINDINGS = 20


def create(session: Session, engagement: Engagement, *, actor: str) -> DatasecAssessment:
    """A new assessment of the engagement (earlier ones stay for comparison)."""
    assessment = DatasecAssessment(
        client_id=engagement.client_id, engagement_id=engagement.id, created_by=actor
    )
    session.add(assessment)
    session.flush()
    return assessment


def latest(session: Session, engagement: Engagement) -> DatasecAssessment:
    """The engagement's newest assessment (one-line error when there is none)."""
    found = session.scalar(
        select(DatasecAssessment)
        .where(DatasecAssessment.engagement_id == engagement.id)
        .order_by(DatasecAssessment.id.desc())
        .limit(1)
    )
    if found is None:
        raise NotFoundError(t("datasec.no_assessment", engagement=engagement.name))
    return found


def answers_of(session: Session, assessment: DatasecAssessment) -> dict[str, DatasecAnswer]:
    """Answers by question id."""
    rows = session.scalars(
        select(DatasecAnswer).where(DatasecAnswer.assessment_id == assessment.id)
    )
    return {row.question_id: row for row in rows}


def record(
    session: Session,
    assessment: DatasecAssessment,
    question_id: str,
    answer: str,
    *,
    evidence: str | None,
    note: str | None,
    actor: str,
) -> DatasecAnswer:
    """A manual answer (it wins over pre-filled ones from now on)."""
    questionnaire().question(question_id)
    if answer not in ANSWERS:
        raise ValidationError(t("datasec.bad_answer", answer=answer, allowed="、".join(ANSWERS)))
    row = answers_of(session, assessment).get(question_id)
    if row is None:
        row = DatasecAnswer(
            client_id=assessment.client_id, assessment_id=assessment.id, question_id=question_id
        )
        session.add(row)
    row.answer = answer
    row.source = "manual"
    row.evidence = evidence
    row.note = note
    row.updated_by = actor
    row.updated_at = datetime.now(UTC)
    session.flush()
    return row


def _matching(question: Question, findings: list[Finding]) -> tuple[str | None, list[Finding]]:
    """The worst pre-filled answer the open findings support, and those findings."""
    worst: str | None = None
    hits: list[Finding] = []
    for finding in findings:
        for rule in question.evidence:
            if rule.matches(finding.source_tool, finding.check_id):
                hits.append(finding)
                if worst != "否":
                    worst = rule.answer
                break
    return worst, hits


def _evidence_text(hits: list[Finding]) -> str:
    lines = [
        t("datasec.evidence_line", id=f.id, title=f.title, target=f.host or f.url or "-")
        for f in hits[:MAX_EVIDENCE_FINDINGS]
    ]
    if len(hits) > MAX_EVIDENCE_FINDINGS:
        lines.append(t("datasec.evidence_more", count=len(hits) - MAX_EVIDENCE_FINDINGS))
    return "\n".join(lines)


def prefill(session: Session, assessment: DatasecAssessment, *, actor: str) -> dict[str, str]:
    """Pre-fill unanswered (or earlier pre-filled) questions from the engagement's open findings.

    Manual answers are never touched; a pre-filled answer whose findings are all closed now
    is removed (the question goes back to unanswered, for a person to judge).
    """
    findings = list(
        session.scalars(
            select(Finding).where(
                Finding.engagement_id == assessment.engagement_id,
                Finding.is_open.is_(True),
                Finding.source_tool != SOURCE_TOOL,
            )
        )
    )
    existing = answers_of(session, assessment)
    changed: dict[str, str] = {}
    for question in questionnaire().questions:
        if not question.evidence:
            continue
        row = existing.get(question.id)
        if row is not None and row.source == "manual":
            continue
        answer, hits = _matching(question, findings)
        if answer is None:
            if row is not None:
                session.delete(row)
                changed[question.id] = "-"
            continue
        if row is None:
            row = DatasecAnswer(
                client_id=assessment.client_id,
                assessment_id=assessment.id,
                question_id=question.id,
            )
            session.add(row)
        row.answer = answer
        row.source = "auto"
        row.evidence = _evidence_text(hits)
        row.finding_ids = [f.id for f in hits]
        row.updated_by = actor
        row.updated_at = datetime.now(UTC)
        changed[question.id] = answer
    session.flush()
    return changed


def score(session: Session, assessment: DatasecAssessment) -> DatasecScore:
    """The assessment's scores."""
    answers = {qid: row.answer for qid, row in answers_of(session, assessment).items()}
    return compute(questionnaire(), answers)


def score_json(session: Session, assessment: DatasecAssessment) -> dict[str, Any]:
    """``datasec score --json``: overall score and level, per-stage scores, unanswered ids."""
    result = score(session, assessment)
    return {
        "assessment_id": assessment.id,
        "score": result.score,
        "level": result.level,
        "stages": {
            s.stage: {
                "name": s.name,
                "score": s.score,
                "answered": s.answered,
                "not_applicable": s.not_applicable,
                "questions": s.total,
            }
            for s in result.stages
        },
        "unanswered": result.unanswered,
    }


@dataclass
class Gap:
    """A question answered 否 or 部分, with what to do."""

    question: Question
    answer: DatasecAnswer

    def as_json(self, stage_name: str) -> dict[str, Any]:
        """Stable JSON form for reports."""
        return {
            "question_id": self.question.id,
            "stage": self.question.stage,
            "stage_name": stage_name,
            "question": self.question.text,
            "answer": self.answer.answer,
            "source": self.answer.source,
            "evidence": self.answer.evidence,
            "advice": self.question.advice,
            "weight": self.question.weight,
            "gb22239": self.question.gb22239,
        }


def gaps(session: Session, assessment: DatasecAssessment) -> list[Gap]:
    """Questions answered 否 or 部分, heaviest first."""
    catalogue = questionnaire()
    rows = answers_of(session, assessment)
    found = [
        Gap(q, rows[q.id])
        for q in catalogue.questions
        if q.id in rows and rows[q.id].answer in {"否", "部分"}
    ]
    found.sort(key=lambda g: (g.answer.answer != "否", -g.question.weight, g.question.id))
    return found


def gaps_json(session: Session, assessment: DatasecAssessment) -> list[dict[str, Any]]:
    """The gaps in their stable JSON form."""
    catalogue = questionnaire()
    return [g.as_json(catalogue.stage_name(g.question.stage)) for g in gaps(session, assessment)]


def gap_work_orders(
    session: Session, engagement: Engagement, assessment: DatasecAssessment, *, actor: str
) -> IngestSummary:
    """Gaps as findings with work orders; gaps closed since the last run are marked fixed."""
    catalogue = questionnaire()
    records: list[Record] = []
    for gap in gaps(session, assessment):
        question = gap.question
        severity = GAP_SEVERITY.get(question.weight, Severity.MEDIUM)
        if gap.answer.answer == "部分" and severity.rank > Severity.LOW.rank:
            severity = Severity.MEDIUM if severity is Severity.HIGH else Severity.LOW
        records.append(
            FindingInput(
                source_tool=SOURCE_TOOL,
                check_id=question.id,
                title=t(
                    "datasec.gap_title",
                    stage=catalogue.stage_name(question.stage),
                    question=question.text,
                ),
                severity=severity,
                description=t(
                    "datasec.gap_description", answer=gap.answer.answer, note=gap.answer.note or "-"
                ),
                remediation=question.advice,
                file_path=GAP_SCOPE,
                evidence=gap.answer.evidence,
                references=[f"GB/T 22239-2019 {c}" for c in question.gb22239],
                extra={"assessment_id": assessment.id, "stage": question.stage},
            )
        )
    records.append(CoverageInput(files=[GAP_SCOPE]))
    return ingest(
        session,
        engagement,
        records,
        format_name="datasec",
        source_tool=SOURCE_TOOL,
        file_name=f"datasec-{assessment.id}",
        options=IngestOptions(actor=actor),
    )
