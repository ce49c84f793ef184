"""Gap analysis: what fails per category and control point, what to do, and rectification items.

Rectification items become findings of the source tool ``shaobing-mlps`` through the one ingest
path (so they get work orders, SLA and history like any finding). Each (object, item) that is
不符合 or 部分符合 is one finding; one that has become 符合 is absent from the next run and
closes as fixed, because the run covers every object of the assessment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shaobing.assess.mlps.catalogue import Catalogue
from shaobing.assess.mlps.scoring import RecordView, RiskHit, ScoringConfig
from shaobing.core.i18n import t
from shaobing.findings.importers.base import CoverageInput, FindingInput, Record
from shaobing.findings.severity import Severity

SOURCE_TOOL = "shaobing-mlps"
GAP_RESULTS = ("不符合", "部分符合")
SEVERITIES = {
    "严重": Severity.CRITICAL,
    "高": Severity.HIGH,
    "中": Severity.MEDIUM,
    "低": Severity.LOW,
    "信息": Severity.INFO,
}


def _risk_by_item(hits: Sequence[RiskHit]) -> dict[str, list[RiskHit]]:
    out: dict[str, list[RiskHit]] = {}
    for hit in hits:
        for item in hit.items:
            out.setdefault(item, []).append(hit)
    return out


def analyse(
    catalogue: Catalogue, records: Sequence[RecordView], hits: Sequence[RiskHit] = ()
) -> dict[str, Any]:
    """Failing items grouped by category and control point, with the advice for each point."""
    risks = _risk_by_item(hits)
    failing = [r for r in records if r.result in GAP_RESULTS and r.item_id in catalogue.items]
    by_item: dict[str, list[RecordView]] = {}
    for record in failing:
        by_item.setdefault(record.item_id, []).append(record)
    categories: list[dict[str, Any]] = []
    for category in catalogue.categories:
        points: list[dict[str, Any]] = []
        for point in category.control_points:
            gaps: list[dict[str, Any]] = []
            for item in point.items:
                for record in sorted(by_item.get(item.id, []), key=lambda r: r.object_name):
                    gaps.append(
                        {
                            "item": item.id,
                            "label": item.label,
                            "unit": item.unit,
                            "weight": item.weight,
                            "requirement": item.text,
                            "object": record.object_name,
                            "object_type": record.object_type,
                            "result": record.result,
                            "source": record.source,
                            "evidence": record.evidence,
                            "note": record.note,
                            "finding_ids": list(record.finding_ids),
                            "baseline_run_ids": list(record.baseline_run_ids),
                            "high_risk": [
                                {"id": h.rule_id, "level": h.level, "advice": h.advice}
                                for h in risks.get(item.id, [])
                            ],
                        }
                    )
            if gaps:
                points.append(
                    {
                        "clause": point.clause,
                        "name": point.name,
                        "advice": point.advice,
                        "gaps": gaps,
                    }
                )
        if points:
            categories.append({"name": category.name, "control_points": points})
    return {
        "categories": categories,
        "totals": {
            "不符合": sum(1 for r in failing if r.result == "不符合"),
            "部分符合": sum(1 for r in failing if r.result == "部分符合"),
            "high_risk": sum(1 for h in hits if h.level == "高"),
            "medium_risk": sum(1 for h in hits if h.level == "中"),
        },
    }


def object_location(object_name: str) -> str:
    """The stable location key of an assessment object in rectification findings."""
    return t("mlps.gap.location", name=object_name)


def rectification_records(
    catalogue: Catalogue,
    config: ScoringConfig,
    assessment_id: int,
    objects: Sequence[tuple[str, str | None]],
    records: Sequence[RecordView],
    hits: Sequence[RiskHit] = (),
) -> list[Record]:
    """One finding per failing (object, item), and coverage of every object of the assessment.

    ``objects`` are (name, first host) pairs of all the assessment's objects.
    """
    risks = _risk_by_item(hits)
    hosts = dict(objects)
    out: list[Record] = []
    for record in records:
        if record.result not in GAP_RESULTS or record.item_id not in catalogue.items:
            continue
        item = catalogue.items[record.item_id]
        item_risks = risks.get(item.id, [])
        if any(h.level == "高" for h in item_risks):
            level = config.rectification_severity["high_risk"]
        elif item_risks:
            level = config.rectification_severity["medium_risk"]
        else:
            level = config.rectification_severity[record.result]
        advice = "\n".join(dict.fromkeys([item.advice, *(h.advice for h in item_risks)]))
        out.append(
            FindingInput(
                source_tool=SOURCE_TOOL,
                check_id=f"mlps.{item.id}",
                title=t(
                    "mlps.gap.title",
                    label=item.label,
                    control=item.control_point,
                    result=record.result,
                ),
                severity=SEVERITIES[level],
                description=t(
                    "mlps.gap.description",
                    category=item.category,
                    control=item.control_point,
                    label=item.label,
                    unit=item.unit,
                    text=item.text,
                    result=record.result,
                    object=record.object_name,
                ),
                remediation=advice,
                host=hosts.get(record.object_name),
                file_path=object_location(record.object_name),
                evidence=record.evidence or record.note,
                references=[f"GB/T 22239-2019 {item.label}", f"GB/T 28448-2019 {item.unit}"],
                confidence="confirmed",
                extra={
                    "assessment_id": assessment_id,
                    "item": item.id,
                    "unit": item.unit,
                    "object": record.object_name,
                    "result": record.result,
                    "high_risk": [h.rule_id for h in item_risks],
                    "finding_ids": list(record.finding_ids),
                    "baseline_run_ids": list(record.baseline_run_ids),
                },
            )
        )
    out.append(CoverageInput(files=[object_location(name) for name, _ in objects]))
    return out
