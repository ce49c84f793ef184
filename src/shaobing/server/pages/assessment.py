"""风险与等保 pages: risk level and risk list, MLPS score and gaps, data security score.

Also the assessor's entry pages: MLPS records per control item (/assessment/mlps) and the
data security questionnaire (/assessment/datasec), one category or stage at a time.
"""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from shaobing.assess.mlps.models import MlpsObject, MlpsRecord
from shaobing.assess.risk import service as risk_service
from shaobing.core.errors import NotFoundError, ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.server.access import engagement_for
from shaobing.server.api.assess import (
    MAX_ENTRY_TEXT,
    DatasecAnswerBody,
    MlpsInitBody,
    MlpsRecordBody,
    answer_datasec,
    datasec_document,
    datasec_questions,
    init_datasec,
    init_mlps,
    latest_risk,
    mlps_documents,
    mlps_items,
    record_mlps,
    run_detail,
)
from shaobing.server.context import RequestContext, csrf_guard, request_context
from shaobing.server.pages.page_forms import body_error, refused, see_other
from shaobing.server.pages.render import render
from shaobing.server.pages.scans import pick_engagement, reraise_refusal

router = APIRouter()
PageCtx = Annotated[RequestContext, Depends(request_context)]
CSRF = [Depends(csrf_guard)]
# The five levels of GB/T 20984, lowest first (heat map axes are 1..5).
AXIS = [1, 2, 3, 4, 5]


def heat_map(risks: list[dict[str, Any]]) -> list[list[int]]:
    """Risk counts per (likelihood, loss) cell, both rounded to the 1–5 scale."""
    cells: dict[tuple[int, int], int] = {}
    for risk in risks:
        x = min(5, max(1, round(float(risk["likelihood"]))))
        y = min(5, max(1, round(float(risk["loss"]))))
        cells[(x, y)] = cells.get((x, y), 0) + 1
    return [[x - 1, y - 1, cells.get((x, y), 0)] for x in AXIS for y in AXIS]


def _risk_section(ctx: RequestContext, engagement: Engagement) -> dict[str, Any] | None:
    run = latest_risk(ctx, engagement)
    if run is None:
        return None
    detail = run_detail(run)
    risks = sorted(detail["risks"], key=lambda r: (-int(r.get("level_rank", 0)), r["asset"]))
    detail["risks"] = risks
    detail["top_level"] = risks[0]["level"] if risks else None
    detail["heat"] = heat_map(risks)
    detail["heat_max"] = max([c[2] for c in detail["heat"]] + [1])
    return detail


def _page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    *,
    message: str | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "risk.read")
    if chosen is None and choices:
        chosen = choices[0]
    values: dict[str, Any] = {"risk": None, "mlps": None, "datasec": None}
    can = {
        "mlps": False,
        "datasec": False,
        "assess": False,
        "mlps_write": False,
        "datasec_write": False,
    }
    if chosen is not None:
        values["risk"] = _risk_section(ctx, chosen)
        can["mlps"] = ctx.can("mlps.read", client_id=chosen.client_id)
        can["datasec"] = ctx.can("datasec.read", client_id=chosen.client_id)
        can["assess"] = ctx.can("risk.assess", client_id=chosen.client_id)
        can["mlps_write"] = ctx.can("mlps.write", client_id=chosen.client_id)
        can["datasec_write"] = ctx.can("datasec.write", client_id=chosen.client_id)
        if can["mlps"]:
            values["mlps"] = mlps_documents(ctx, chosen)
        if can["datasec"]:
            values["datasec"] = datasec_document(ctx, chosen)
    return render(
        request,
        "assessment.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        can=can,
        message=message,
        levels=AXIS,
        **values,
    )


@router.get("/assessment")
def assessment_page(ctx: PageCtx, request: Request, engagement: str | None = None) -> Response:
    """The engagement's latest risk assessment, MLPS score and gaps, data security score."""
    return _page(ctx, request, engagement)


@router.post("/assessment/assess", dependencies=CSRF)
def assess_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
    method: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Run a new risk assessment from the page."""
    target = engagement_for(ctx, engagement, "risk.assess")
    try:
        risk_service.assess(ctx.db, target, method=method or None, actor=ctx.actor, save=True)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _page(ctx, request, engagement, message=exc.message, status=400)
    return RedirectResponse(f"/assessment?engagement={target.id}", status_code=303)


# ------------------------------------------------------------------ entry of results


def _first_with_slots(categories: list[dict[str, Any]]) -> str | None:
    return next((c["id"] for c in categories if c["slots"]), None)


def _saved_mlps(ctx: RequestContext, assessment_id: int, item: str, object_id: int) -> str | None:
    record = ctx.db.scalar(
        select(MlpsRecord).where(
            MlpsRecord.assessment_id == assessment_id,
            MlpsRecord.object_id == object_id,
            MlpsRecord.item_id == item,
        )
    )
    obj = ctx.db.get(MlpsObject, object_id)
    if record is None or obj is None:
        return None
    return t("server_more.mlps.saved", item=record.item_id, object=obj.name, result=record.result)


def _mlps_page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    view: dict[str, Any],
    *,
    notice_of: tuple[str, int] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "mlps.read")
    if chosen is None and choices:
        chosen = choices[0]
    doc = None
    notice = None
    if chosen is not None:
        try:
            doc = mlps_items(ctx, chosen, view["category"] or None, unrecorded=view["unrecorded"])
        except NotFoundError:
            doc = None  # no assessment yet: the page says how to start one
    if doc is not None:
        if doc["category"] is None:
            doc["category"] = _first_with_slots(doc["categories"])
            doc["items"] = [i for i in doc["items"] if i["category_id"] == doc["category"]]
        if notice_of is not None:
            notice = _saved_mlps(ctx, doc["assessment_id"], *notice_of)
    return render(
        request,
        "assessment_mlps.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        doc=doc,
        view=view,
        can_write=chosen is not None and ctx.can("mlps.write", client_id=chosen.client_id),
        notice=notice,
        message=message,
    )


@router.get("/assessment/mlps")
def mlps_entry_page(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    unrecorded: bool = False,
    saved: Annotated[str | None, Query(max_length=32)] = None,
    obj: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """等级测评记录: one category's control items with a record form per item."""
    view = {"category": category or "", "unrecorded": unrecorded}
    notice_of = (saved, obj) if saved and obj else None
    return _mlps_page(ctx, request, engagement, view, notice_of=notice_of)


@router.post("/assessment/mlps/record", dependencies=CSRF)
def mlps_record_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
    item: Annotated[str, Form(max_length=32)] = "",
    object: Annotated[str, Form(max_length=200)] = "",
    result: Annotated[str, Form(max_length=8)] = "",
    evidence: Annotated[str, Form(max_length=MAX_ENTRY_TEXT)] = "",
    note: Annotated[str, Form(max_length=MAX_ENTRY_TEXT)] = "",
    category: Annotated[str, Form(max_length=32)] = "",
    unrecorded: Annotated[bool, Form()] = False,
) -> Response:
    """Record one object's result on one item, then back to the same category."""
    view = {"category": category, "unrecorded": unrecorded}
    target = engagement_for(ctx, engagement, "mlps.write")
    try:
        for field, value in (("item", item), ("object", object), ("result", result)):
            if not value.strip():
                raise ValidationError(
                    t("server_more.mlps.need", field=t(f"server_more.mlps.field.{field}"))
                )
        try:
            body = MlpsRecordBody(
                object=object, result=result, evidence=evidence or None, note=note or None
            )
        except pydantic.ValidationError as exc:
            raise body_error(exc) from None
        saved = record_mlps(ctx, target, item, body)
    except ShaobingError as exc:
        text, code = refused(ctx, exc)
        return _mlps_page(ctx, request, engagement, view, message=text, status=code)
    response = see_other(
        "/assessment/mlps",
        engagement=target.id,
        category=category,
        unrecorded=unrecorded,
        saved=saved["item"],
        obj=saved["object_id"],
    )
    response.headers["location"] += f"#item-{saved['item']}"
    return response


def _datasec_page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    view: dict[str, Any],
    *,
    saved: str | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "datasec.read")
    if chosen is None and choices:
        chosen = choices[0]
    doc = None
    notice = None
    if chosen is not None:
        try:
            doc = datasec_questions(ctx, chosen, view["stage"] or None, unanswered=False)
        except NotFoundError:
            doc = None
    if doc is not None:
        stage = doc["stage"] or (doc["stages"][0]["id"] if doc["stages"] else None)
        doc["stage"] = stage
        # The notice shows what is stored, never text from the query string.
        done = next((q for q in doc["items"] if q["id"] == saved and q["answer"]), None)
        if done is not None:
            notice = t("server_more.datasec.saved", question=done["id"], answer=done["answer"])
        doc["items"] = [
            q
            for q in doc["items"]
            if q["stage"] == stage and not (view["unanswered"] and q["answer"] is not None)
        ]
    return render(
        request,
        "assessment_datasec.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        doc=doc,
        view=view,
        can_write=chosen is not None and ctx.can("datasec.write", client_id=chosen.client_id),
        notice=notice,
        message=message,
    )


@router.get("/assessment/datasec")
def datasec_entry_page(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str | None, Query(max_length=64)] = None,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    unanswered: bool = False,
    saved: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """数据安全评估问卷: one lifecycle stage's questions with an answer form each."""
    view = {"stage": stage or "", "unanswered": unanswered}
    return _datasec_page(ctx, request, engagement, view, saved=saved)


@router.post("/assessment/datasec/answer", dependencies=CSRF)
def datasec_answer_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
    question: Annotated[str, Form(min_length=1, max_length=100)],
    answer: Annotated[str, Form(max_length=8)] = "",
    evidence: Annotated[str, Form(max_length=MAX_ENTRY_TEXT)] = "",
    note: Annotated[str, Form(max_length=MAX_ENTRY_TEXT)] = "",
    stage: Annotated[str, Form(max_length=32)] = "",
    unanswered: Annotated[bool, Form()] = False,
) -> Response:
    """Answer one question, then back to the same stage."""
    view = {"stage": stage, "unanswered": unanswered}
    target = engagement_for(ctx, engagement, "datasec.write")
    try:
        if not answer.strip():
            raise ValidationError(t("server_more.datasec.need"))
        body = DatasecAnswerBody(answer=answer, evidence=evidence or None, note=note or None)
        answer_datasec(ctx, target, question, body)
    except ShaobingError as exc:
        text, code = refused(ctx, exc)
        return _datasec_page(ctx, request, engagement, view, message=text, status=code)
    response = see_other(
        "/assessment/datasec",
        engagement=target.id,
        stage=stage,
        unanswered=unanswered,
        saved=question,
    )
    response.headers["location"] += f"#q-{question}"
    return response


@router.post("/assessment/mlps/init", dependencies=CSRF)
def mlps_init_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    """Start the level-3 assessment (or re-sync objects and pre-fill), then to its records."""
    target = engagement_for(ctx, engagement, "mlps.write")
    view = {"category": "", "unrecorded": False}
    try:
        init_mlps(ctx, target, MlpsInitBody())
    except ShaobingError as exc:
        text, code = refused(ctx, exc)
        return _mlps_page(ctx, request, engagement, view, message=text, status=code)
    return see_other("/assessment/mlps", engagement=target.id)


@router.post("/assessment/datasec/init", dependencies=CSRF)
def datasec_init_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    """Start a data security assessment (pre-filled from findings), then to its questions."""
    target = engagement_for(ctx, engagement, "datasec.write")
    view = {"stage": "", "unanswered": False}
    try:
        init_datasec(ctx, target)
    except ShaobingError as exc:
        text, code = refused(ctx, exc)
        return _datasec_page(ctx, request, engagement, view, message=text, status=code)
    return see_other("/assessment/datasec", engagement=target.id)
