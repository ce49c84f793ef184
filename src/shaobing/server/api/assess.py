"""Assessment results: risk runs (and a new assessment), MLPS score and gaps, data security.

Also the assessor's entry of results: MLPS records per control item and object
(``mlps record``) and answers to the data security questionnaire (``datasec answer``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from shaobing.assess.datasec import service as datasec_service
from shaobing.assess.datasec.catalogue import questionnaire
from shaobing.assess.datasec.models import DatasecAnswer
from shaobing.assess.mlps import service as mlps_service
from shaobing.assess.mlps.catalogue import Category, Item
from shaobing.assess.mlps.models import MlpsObject, MlpsRecord
from shaobing.assess.mlps.scoring import RESULTS
from shaobing.assess.risk import service as risk_service
from shaobing.assess.risk.models import RiskRun
from shaobing.core.audit import record_event
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["assessment"])
EngagementQuery = Annotated[str, Query(min_length=1, max_length=64)]


class AssessBody(BaseModel):
    """Options of a new risk assessment (the engagement's method when not given)."""

    method: str | None = Field(default=None, max_length=16)


def run_detail(run: RiskRun) -> dict[str, Any]:
    """A stored risk assessment: method, summary, roll-up and every risk."""
    summary = dict(run.summary or {})
    return {
        "id": run.id,
        "engagement_id": run.engagement_id,
        "method": run.method,
        "created_at": run.created_at.isoformat(timespec="seconds"),
        "created_by": run.created_by,
        "summary": summary.get("summary", {}),
        "unacceptable": summary.get("unacceptable", 0),
        "rollup": summary.get("rollup", {}),
        "skipped": summary.get("skipped", {}),
        "risks": [{k: v for k, v in r.items() if k != "explain"} for r in run.results or []],
    }


def latest_risk(ctx: RequestContext, engagement: Engagement) -> RiskRun | None:
    """The engagement's newest stored risk assessment."""
    runs = risk_service.list_runs(ctx.db, engagement)
    return ctx.db.get(RiskRun, runs[0]["id"]) if runs else None


def mlps_documents(ctx: RequestContext, engagement: Engagement) -> dict[str, Any] | None:
    """The MLPS score and gap documents, or None when no assessment was started.

    Scoring refreshes the pre-filled records first; for a read it runs in a savepoint that
    is rolled back, so looking at the results never changes them.
    """
    try:
        assessment = mlps_service.current_assessment(ctx.db, engagement)
    except NotFoundError:
        return None
    savepoint = ctx.db.begin_nested()
    try:
        score = mlps_service.score(ctx.db, assessment, actor=ctx.actor)
        gaps = mlps_service.gaps(ctx.db, assessment, engagement, work_orders=False, actor=ctx.actor)
        level = assessment.level
    finally:
        savepoint.rollback()
    return {"level": level, "score": score, "gaps": gaps}


def datasec_document(ctx: RequestContext, engagement: Engagement) -> dict[str, Any] | None:
    """The data security score document, or None when no assessment was started."""
    try:
        assessment = datasec_service.latest(ctx.db, engagement)
    except NotFoundError:
        return None
    return datasec_service.score_json(ctx.db, assessment) | {
        "gaps": datasec_service.gaps_json(ctx.db, assessment)
    }


@router.get("/risk/runs", **action("risk.read"))
def risk_runs(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """Stored risk assessments of the engagement, newest first."""
    target = engagement_for(ctx, engagement, "risk.read")
    return {"items": risk_service.list_runs(ctx.db, target)}


@router.get("/risk/runs/{run_id}", **action("risk.read"))
def risk_run(ctx: Ctx, run_id: int) -> dict[str, Any]:
    """One stored risk assessment with every risk."""
    return run_detail(tenant_object(ctx, RiskRun, run_id, "risk.read", "risk_run"))


@router.post("/risk/assess", dependencies=CSRF, **action("risk.assess"))
def risk_assess(ctx: Ctx, engagement: EngagementQuery, body: AssessBody) -> dict[str, Any]:
    """Assess the engagement's risks now and store the run (compared with the previous one)."""
    target = engagement_for(ctx, engagement, "risk.assess")
    return risk_service.assess(ctx.db, target, method=body.method, actor=ctx.actor, save=True)


@router.get("/mlps/score", **action("mlps.read"))
def mlps_score(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """The MLPS (等级保护) composite score, per-category results and the gap analysis."""
    target = engagement_for(ctx, engagement, "mlps.read")
    docs = mlps_documents(ctx, target)
    if docs is None:
        # The service's own message ("no assessment for engagement X").
        mlps_service.current_assessment(ctx.db, target)
    assert docs is not None
    return docs


@router.get("/datasec/score", **action("datasec.read"))
def datasec_score(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """The data security assessment score per lifecycle stage, with its gaps."""
    target = engagement_for(ctx, engagement, "datasec.read")
    doc = datasec_document(ctx, target)
    if doc is None:
        datasec_service.latest(ctx.db, target)
    assert doc is not None
    return doc


# ------------------------------------------------------------------ entry of results

# The services cap evidence and notes at this many characters (mlps.service.MAX_TEXT).
MAX_ENTRY_TEXT = 20_000


class MlpsInitBody(BaseModel):
    """``mlps init``: level, extension packs and the system attributes high risks depend on."""

    level: int = Field(default=3, ge=1, le=5)
    packs: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=10)
    flags: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=10)


class MlpsRecordBody(BaseModel):
    """One object's result on one control item, with what supports it."""

    object: str = Field(min_length=1, max_length=200)
    result: str = Field(min_length=1, max_length=8)
    evidence: str | None = Field(default=None, max_length=MAX_ENTRY_TEXT)
    note: str | None = Field(default=None, max_length=MAX_ENTRY_TEXT)


class DatasecAnswerBody(BaseModel):
    """The answer to one question (是/部分/否/不适用), with what supports it."""

    answer: str = Field(min_length=1, max_length=8)
    evidence: str | None = Field(default=None, max_length=MAX_ENTRY_TEXT)
    note: str | None = Field(default=None, max_length=MAX_ENTRY_TEXT)


def _when(record: MlpsRecord | DatasecAnswer | None) -> str | None:
    return record.updated_at.isoformat(timespec="seconds") if record is not None else None


def _slot(obj: MlpsObject, record: MlpsRecord | None) -> dict[str, Any]:
    return {
        "object_id": obj.id,
        "object": obj.name,
        "object_type": obj.object_type,
        "object_type_label": t(f"mlps.object_type.{obj.object_type}"),
        "result": record.result if record else None,
        "source": record.source if record else None,
        "evidence": record.evidence if record else None,
        "note": record.note if record else None,
        "updated_by": record.updated_by if record else None,
        "updated_at": _when(record),
    }


def _item_view(item: Item, slots: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": item.id,
        "label": item.label,
        "unit": item.unit,
        "weight": item.weight,
        "text": item.text,
        "category": item.category,
        "category_id": item.category_id,
        "control_point": item.control_point,
        "control_point_clause": item.control_point_clause,
        "records": slots,
        "recorded": sum(1 for s in slots if s["result"] is not None),
    }


def _pick_category(categories: list[Category], ref: str | None) -> Category | None:
    if not ref:
        return None
    wanted = ref.strip()
    for category in categories:
        if wanted.upper() == category.id or wanted == category.name:
            return category
    known = "、".join(f"{c.id}（{c.name}）" for c in categories)
    raise ValidationError(t("server_more.mlps.unknown_category", category=ref, known=known))


def mlps_items(
    ctx: RequestContext, engagement: Engagement, category: str | None, *, unrecorded: bool
) -> dict[str, Any]:
    """The catalogue's items with every applicable object's current record.

    Records are shown as stored (pre-filled and manual); nothing is refreshed by reading.
    Items that apply to none of the assessment's objects have nothing to record and are left
    out; ``unrecorded`` keeps only items with at least one object still without a result.
    """
    assessment = mlps_service.current_assessment(ctx.db, engagement)
    catalogue = mlps_service.catalogue_of(assessment)
    objects = mlps_service.list_objects(ctx.db, assessment)
    stored = {
        (r.object_id, r.item_id): r
        for r in ctx.db.scalars(select(MlpsRecord).where(MlpsRecord.assessment_id == assessment.id))
    }
    chosen = _pick_category(catalogue.categories, category)
    summary, items = [], []
    for cat in catalogue.categories:
        slots_total = slots_done = 0
        for point in cat.control_points:
            for item in point.items:
                slots = [
                    _slot(o, stored.get((o.id, item.id)))
                    for o in objects
                    if item.applies_to(o.object_type)
                ]
                if not slots:
                    continue
                view = _item_view(item, slots)
                slots_total += len(slots)
                slots_done += view["recorded"]
                keep = chosen is None or chosen.id == cat.id
                if keep and not (unrecorded and view["recorded"] == len(slots)):
                    items.append(view)
        summary.append(
            {"id": cat.id, "name": cat.name, "slots": slots_total, "recorded": slots_done}
        )
    return {
        "assessment_id": assessment.id,
        "level": assessment.level,
        "results": list(RESULTS),
        "categories": summary,
        "category": chosen.id if chosen else None,
        "items": items,
    }


def record_mlps(
    ctx: RequestContext, engagement: Engagement, item: str, body: MlpsRecordBody
) -> dict[str, Any]:
    """``mlps record``: a manual result (it wins over pre-filled ones), audited."""
    saved = mlps_service.record_manual(
        ctx.db,
        engagement,
        body.object,
        item,
        body.result,
        evidence=body.evidence,
        note=body.note,
        actor=ctx.actor,
    )
    obj = ctx.db.get_one(MlpsObject, saved.object_id)
    catalogue = mlps_service.catalogue_of(mlps_service.current_assessment(ctx.db, engagement))
    return {"item": saved.item_id, "label": catalogue.item(saved.item_id).label} | _slot(obj, saved)


def datasec_questions(
    ctx: RequestContext, engagement: Engagement, stage: str | None, *, unanswered: bool
) -> dict[str, Any]:
    """The questionnaire with the latest assessment's answers, per lifecycle stage."""
    assessment = datasec_service.latest(ctx.db, engagement)
    catalogue = questionnaire()
    if stage and stage not in {s.id for s in catalogue.stages}:
        known = "、".join(f"{s.id}（{s.name}）" for s in catalogue.stages)
        raise ValidationError(t("server_more.datasec.unknown_stage", stage=stage, known=known))
    answers = datasec_service.answers_of(ctx.db, assessment)
    totals = {s.id: [0, 0] for s in catalogue.stages}  # questions, answered
    items = []
    for question in catalogue.questions:
        row = answers.get(question.id)
        totals[question.stage][0] += 1
        totals[question.stage][1] += row is not None
        if (stage and question.stage != stage) or (unanswered and row is not None):
            continue
        items.append(
            {
                "id": question.id,
                "stage": question.stage,
                "stage_name": catalogue.stage_name(question.stage),
                "weight": question.weight,
                "text": question.text,
                "advice": question.advice,
                "gb22239": list(question.gb22239),
                "auto": bool(question.evidence),
                "answer": row.answer if row else None,
                "source": row.source if row else None,
                "evidence": row.evidence if row else None,
                "note": row.note if row else None,
                "updated_by": row.updated_by if row else None,
                "updated_at": _when(row),
            }
        )
    return {
        "assessment_id": assessment.id,
        "answers": list(datasec_service.ANSWERS),
        "stages": [
            {"id": s.id, "name": s.name, "questions": totals[s.id][0], "answered": totals[s.id][1]}
            for s in catalogue.stages
        ],
        "stage": stage or None,
        "items": items,
    }


def answer_datasec(
    ctx: RequestContext, engagement: Engagement, question_id: str, body: DatasecAnswerBody
) -> dict[str, Any]:
    """``datasec answer``: a manual answer on the latest assessment (audited here)."""
    assessment = datasec_service.latest(ctx.db, engagement)
    row = datasec_service.record(
        ctx.db,
        assessment,
        question_id,
        body.answer,
        evidence=(body.evidence or "").strip() or None,
        note=(body.note or "").strip() or None,
        actor=ctx.actor,
    )
    record_event(
        ctx.db,
        "datasec.answer",
        actor=ctx.actor,
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        target=question_id,
        detail={"assessment": assessment.id, "answer": row.answer},
    )
    return {
        "question": row.question_id,
        "answer": row.answer,
        "source": row.source,
        "evidence": row.evidence,
        "note": row.note,
        "updated_by": row.updated_by,
        "updated_at": _when(row),
    }


@router.get("/mlps/items", **action("mlps.read"))
def mlps_item_list(
    ctx: Ctx,
    engagement: EngagementQuery,
    category: Annotated[str | None, Query(max_length=32)] = None,
    unrecorded: bool = False,
) -> dict[str, Any]:
    """Control items (one category, or all) with each applicable object's current record."""
    target = engagement_for(ctx, engagement, "mlps.read")
    return mlps_items(ctx, target, category, unrecorded=unrecorded)


@router.post("/mlps/items/{item}/record", dependencies=CSRF, **action("mlps.write"))
def mlps_item_record(
    ctx: Ctx,
    engagement: EngagementQuery,
    item: Annotated[str, Path(min_length=1, max_length=32)],
    body: MlpsRecordBody,
) -> dict[str, Any]:
    """Record one object's result (符合/部分符合/不符合/不适用) on a control item."""
    target = engagement_for(ctx, engagement, "mlps.write")
    return record_mlps(ctx, target, item, body)


@router.get("/datasec/questions", **action("datasec.read"))
def datasec_question_list(
    ctx: Ctx,
    engagement: EngagementQuery,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    unanswered: bool = False,
) -> dict[str, Any]:
    """The data security questions with their current answers."""
    target = engagement_for(ctx, engagement, "datasec.read")
    return datasec_questions(ctx, target, stage, unanswered=unanswered)


@router.post(
    "/datasec/questions/{question_id}/answer", dependencies=CSRF, **action("datasec.write")
)
def datasec_question_answer(
    ctx: Ctx,
    engagement: EngagementQuery,
    question_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: DatasecAnswerBody,
) -> dict[str, Any]:
    """Answer one question (是/部分/否/不适用); manual answers win over pre-filled ones."""
    target = engagement_for(ctx, engagement, "datasec.write")
    return answer_datasec(ctx, target, question_id, body)


def init_mlps(ctx: RequestContext, engagement: Engagement, body: MlpsInitBody) -> dict[str, Any]:
    """``mlps init``: create (or re-sync) the assessment with objects from the asset ledger."""
    outcome = mlps_service.init_assessment(
        ctx.db,
        engagement,
        level=body.level,
        packs=body.packs,
        flags=body.flags,
        actor=ctx.actor,
    )
    assessment = outcome.assessment
    return {
        "assessment_id": assessment.id,
        "created": outcome.created,
        "level": assessment.level,
        "packs": list(assessment.packs),
        "flags": list(assessment.flags),
        "objects": [
            {"name": o.name, "type": o.object_type}
            for o in mlps_service.list_objects(ctx.db, assessment)
        ],
        "objects_added": outcome.objects_added,
        "prefill": outcome.prefill,
    }


def init_datasec(ctx: RequestContext, engagement: Engagement) -> dict[str, Any]:
    """``datasec init``: a new assessment, pre-filled from the engagement's open findings."""
    assessment = datasec_service.create(ctx.db, engagement, actor=ctx.actor)
    filled = datasec_service.prefill(ctx.db, assessment, actor=ctx.actor)
    record_event(
        ctx.db,
        "datasec.init",
        actor=ctx.actor,
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        target=f"datasec#{assessment.id}",
        detail={"prefilled": len(filled)},
    )
    return {"assessment_id": assessment.id, "prefilled": filled}


@router.post("/mlps/init", dependencies=CSRF, **action("mlps.write"))
def mlps_init(ctx: Ctx, engagement: EngagementQuery, body: MlpsInitBody) -> dict[str, Any]:
    """Start the MLPS assessment (or re-sync its objects from the ledger and pre-fill)."""
    target = engagement_for(ctx, engagement, "mlps.write")
    return init_mlps(ctx, target, body)


@router.post("/datasec/init", dependencies=CSRF, **action("datasec.write"))
def datasec_init(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """Start a new data security assessment (earlier ones stay for comparison)."""
    target = engagement_for(ctx, engagement, "datasec.write")
    return init_datasec(ctx, target)
