"""等保差距分析报告: the engagement's current MLPS assessment — score, high risks, gaps, fixes.

Everything comes from the MLPS service's own JSON (``score`` and ``gaps``, which refresh the
pre-filled records first, exactly as ``shaobing mlps score/gaps`` do), the assessment's
objects and records, the rectification work orders filed by ``mlps gaps --work-orders``, and
the latest data security assessment when there is one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from shaobing.assess.datasec import service as datasec_service
from shaobing.assess.mlps import service as mlps_service
from shaobing.assess.mlps.gaps import SOURCE_TOOL
from shaobing.assess.mlps.models import MlpsAssessment
from shaobing.assess.mlps.scoring import RESULTS, load_scoring
from shaobing.core.errors import NotFoundError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings.models import WorkOrder
from shaobing.findings.service import FindingFilter, filtered_query
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import status_label
from shaobing.reports.builders import assess_common as ac
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.markup import Parts
from shaobing.reports.model import Chart, ChartSpec, Table

ACTOR = "report"
# Evidence text is shortened in the gap tables (the full text stays in the records).
EVIDENCE_WIDTH = 120


def _short(text: str | None) -> str:
    if not text:
        return ac.none_text()
    flat = " ".join(text.split())
    return flat if len(flat) <= EVIDENCE_WIDTH else flat[:EVIDENCE_WIDTH] + "…"


def _objects(session: Session, assessment: MlpsAssessment, w: dict[str, Any]) -> tuple[Table, int]:
    records = mlps_service.record_views(session, assessment)
    tally: dict[int, Counter[str]] = {}
    for record in records:
        tally.setdefault(record.object_id, Counter())[record.result] += 1
    rows = []
    for i, obj in enumerate(mlps_service.list_objects(session, assessment), start=1):
        counts = tally.get(obj.id, Counter())
        rows.append(
            [
                i,
                obj.name,
                t(f"mlps.object_type.{obj.object_type}"),
                ac.joined(list(obj.hosts)),
                *(counts.get(r, 0) for r in RESULTS),
            ]
        )
    return ac.make_table(w["tables"]["objects"], rows), len(rows)


def _ratings(w: dict[str, Any]) -> Table:
    words = w["tables"]["ratings_text"]
    rows = [
        [
            band.rating,
            words["score"].format(min=ac.num(band.min_score))
            if band.min_score
            else words["any_score"],
            words[band.max_risk],
        ]
        for band in load_scoring().ratings
    ]
    return ac.make_table(w["tables"]["ratings"], rows, sheet=False)


def _categories(doc: dict[str, Any], w: dict[str, Any]) -> tuple[Table, Table, Chart, Chart]:
    rows = []
    points = []
    totals: Counter[str] = Counter()
    scored = []
    for name, cat in doc["by_category"].items():
        counts = cat["counts"]
        totals.update({r: counts.get(r, 0) for r in RESULTS})
        rows.append([name, cat["score"], *(counts.get(r, 0) for r in RESULTS), cat["unassessed"]])
        if cat["score"] is not None:
            scored.append((name, float(cat["score"])))
        for point, info in cat["control_points"].items():
            points.append([name, info["clause"], point, info["score"], info["result"]])
    c = w["charts"]
    bar = ChartSpec(
        kind="barh",
        title=c["categories"],
        labels=[n for n, _ in scored],
        series={c["y_score"]: [s for _, s in scored]},
        x_title=c["y_score"],
    )
    pie = ChartSpec(
        kind="pie",
        title=c["results"],
        labels=[r for r in RESULTS if totals[r]],
        series={c["results"]: [float(totals[r]) for r in RESULTS if totals[r]]},
        colours=[
            colour
            for r, colour in zip(RESULTS, ["1E8449", "D68910", "C0392B", "5D6D7E"], strict=True)
            if totals[r]
        ],
    )
    return (
        ac.make_table(w["tables"]["categories"], rows),
        ac.make_table(w["tables"]["points"], points),
        Chart(bar),
        Chart(pie),
    )


def _risks(doc: dict[str, Any], w: dict[str, Any]) -> tuple[Table, list[dict[str, Any]]]:
    hits = [*doc["high_risk"], *doc["medium_risk"]]
    rows = []
    shown = []
    for i, hit in enumerate(hits, start=1):
        mark = w["verified"] if hit["verified"] else w["unverified"]
        rows.append(
            [
                i,
                hit["level"],
                hit["title"],
                f"{hit['category']}/{hit['control_point']}",
                ac.joined(hit["items"]),
                ac.joined(hit["objects"]),
                mark,
            ]
        )
        shown.append(
            {
                "level": hit["level"],
                "title": hit["title"],
                "advice": hit["advice"],
                "verified": hit["verified"],
                "mark": "" if hit["verified"] else w["unverified"],
                "compensations": ac.joined(hit["compensations"]) if hit["compensations"] else None,
            }
        )
    return ac.make_table(w["tables"]["risks"], rows, sheet=False), shown


def _gaps(
    gaps_doc: dict[str, Any], w: dict[str, Any]
) -> tuple[dict[str, Table], list[dict[str, Any]], list[list[object]]]:
    tables: dict[str, Table] = {}
    categories = []
    items: list[list[object]] = []
    for index, category in enumerate(gaps_doc["categories"], start=1):
        rows = []
        points = []
        for point in category["control_points"]:
            for gap in point["gaps"]:
                rows.append(
                    [
                        f"{point['clause']} {point['name']}",
                        gap["label"],
                        gap["requirement"],
                        gap["object"],
                        gap["result"],
                        bool(gap["high_risk"]),
                        _short(gap["evidence"] or gap["note"]),
                    ]
                )
                items.append(
                    [
                        len(items) + 1,
                        category["name"],
                        point["name"],
                        gap["label"],
                        gap["object"],
                        gap["result"],
                        point["advice"],
                    ]
                )
            points.append(
                {
                    "clause": point["clause"],
                    "name": point["name"],
                    "advice": point["advice"],
                    "count": len(point["gaps"]),
                    "failed": sum(1 for g in point["gaps"] if g["result"] == "不符合"),
                    "partial": sum(1 for g in point["gaps"] if g["result"] == "部分符合"),
                }
            )
        name = f"gap_{index}"
        tables[name] = ac.make_table(
            w["tables"]["gaps"], rows, sheet=False, category=category["name"]
        )
        categories.append(
            {"name": category["name"], "table": name, "points": points, "count": len(rows)}
        )
    return tables, categories, items


def _orders(
    session: Session, engagement: Engagement, w: dict[str, Any]
) -> tuple[Table, dict[str, int]]:
    findings = session.scalars(filtered_query(engagement, FindingFilter(source=SOURCE_TOOL))).all()
    rows: list[list[object]] = []
    states: Counter[str] = Counter()
    seen: set[int] = set()
    for finding in findings:
        order = session.get(WorkOrder, finding.work_order_id) if finding.work_order_id else None
        if order is not None and order.id in seen:
            continue
        if order is not None:
            seen.add(order.id)
        state = order.state if order is not None else finding.status
        states[status_label(state)] += 1
        rows.append(
            [
                len(rows) + 1,
                order.id if order is not None else None,
                order.title if order is not None else finding.title,
                Severity(order.severity if order is not None else finding.severity).label,
                status_label(state),
                order.assignee if order is not None else None,
                ac.short_day(order.due_date) if order is not None and order.due_date else None,
            ]
        )
    return ac.make_table(w["tables"]["orders"], rows), dict(states)


def _datasec(
    session: Session, engagement: Engagement, w: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Table]]:
    try:
        assessment = datasec_service.latest(session, engagement)
    except NotFoundError:
        return None, {}
    doc = datasec_service.score_json(session, assessment)
    gaps = datasec_service.gaps_json(session, assessment)
    stages = [
        [s["name"], s["score"], s["answered"], s["not_applicable"], s["questions"]]
        for s in doc["stages"].values()
    ]
    gap_rows = [
        [i, g["stage_name"], g["question"], g["answer"], g["advice"]]
        for i, g in enumerate(gaps, start=1)
    ]
    info = {
        "id": doc["assessment_id"],
        "score": ac.num(doc["score"]) if doc["score"] is not None else None,
        "level": doc["level"],
        "unanswered": len(doc["unanswered"]),
        "gaps": len(gaps),
        "failed": sum(1 for g in gaps if g["answer"] == "否"),
    }
    tables = {
        "datasec": ac.make_table(w["tables"]["datasec"], stages, sheet=False),
        "datasec_gaps": ac.make_table(w["tables"]["datasec_gaps"], gap_rows, sheet=False),
    }
    return info, tables


def collect(ctx: BuildContext) -> ReportData:
    """The MLPS gap analysis report's context, tables and charts."""
    w = ac.words("mlps_gap")
    session, engagement = ctx.session, ctx.engagement
    datasec, datasec_tables = _datasec(session, engagement, w)
    try:
        assessment = mlps_service.current_assessment(session, engagement)
    except NotFoundError:
        return ReportData(
            context={"has_data": False, "words": w, "datasec": datasec},
            parts=Parts(tables=datasec_tables),
        )
    doc = mlps_service.score(session, assessment, actor=ACTOR)
    gaps_doc = mlps_service.gaps(session, assessment, engagement, work_orders=False, actor=ACTOR)
    objects_table, object_count = _objects(session, assessment, w)
    categories_table, points_table, bar, pie = _categories(doc, w)
    risks_table, risks = _risks(doc, w)
    gap_tables, gap_categories, items = _gaps(gaps_doc, w)
    orders_table, order_states = _orders(session, engagement, w)
    items_table = ac.make_table(w["tables"]["items"], items)
    config = load_scoring()
    tables: dict[str, Table] = {
        "objects": objects_table,
        "ratings": _ratings(w),
        "categories": categories_table,
        "points": points_table,
        "risks": risks_table,
        "orders": orders_table,
        "items": items_table,
        **gap_tables,
        **datasec_tables,
    }
    totals = gaps_doc["totals"]
    weakest = min(
        ((n, c["score"]) for n, c in doc["by_category"].items() if c["score"] is not None),
        key=lambda nc: (nc[1], nc[0]),
        default=None,
    )
    context = {
        "has_data": True,
        "words": w,
        "assessment": {
            "id": assessment.id,
            "level": assessment.level,
            "created": ac.day_text(assessment.created_at),
        },
        "objects": object_count,
        "score": ac.num(doc["score"]) if doc["score"] is not None else None,
        "rating": doc["rating"],
        "method": doc["method"],
        "weights": {k: ac.num(v) for k, v in config.weights.items()},
        "weights_source": config.weights_source,
        "assessed": doc["assessed"],
        "unassessed": doc["unassessed"],
        "high": len(doc["high_risk"]),
        "medium": len(doc["medium_risk"]),
        "unverified": sum(1 for r in risks if not r["verified"]),
        "risks": risks,
        "failed": totals["不符合"],
        "partial": totals["部分符合"],
        "gap_categories": gap_categories,
        "weakest": {"name": weakest[0], "score": ac.num(weakest[1])} if weakest else None,
        "orders": sum(order_states.values()),
        "order_states": [{"state": k, "count": v} for k, v in sorted(order_states.items())],
        "items": len(items),
        "datasec": datasec,
    }
    parts = Parts(tables=tables, charts={"categories": bar, "results": pie})
    annexes = [objects_table, categories_table, points_table, items_table]
    if sum(order_states.values()):
        annexes.append(orders_table)
    return ReportData(context=context, parts=parts, annexes=annexes)
