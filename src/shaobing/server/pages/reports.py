"""报告 page: build a report, the built reports with download links, and the deliverables."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticError

from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements import deliverables as svc
from shaobing.engagements.catalog import catalog
from shaobing.engagements.models import Deliverable, Engagement
from shaobing.reports.render import FORMATS
from shaobing.server.access import engagement_for
from shaobing.server.api.catalog import report_type_rows
from shaobing.server.api.deliverables import (
    AcceptBody,
    AddBody,
    ReopenBody,
    SubmitBody,
    accept_deliverable,
    add_deliverable,
    reopen_deliverable,
    submit_deliverable,
    view,
)
from shaobing.server.api.reportconfig import branding_view
from shaobing.server.api.reports import BuildBody, build, build_view, list_builds
from shaobing.server.context import RequestContext, csrf_guard, request_context
from shaobing.server.pages.render import render
from shaobing.server.pages.scans import pick_engagement, reraise_refusal

router = APIRouter()
PageCtx = Annotated[RequestContext, Depends(request_context)]
CSRF = [Depends(csrf_guard)]


def added_notice(ctx: RequestContext, chosen: Engagement | None, added: int | None) -> str | None:
    """The confirmation of a deliverable just added to the shown engagement (from the database)."""
    row = ctx.db.get(Deliverable, added) if chosen is not None and added else None
    if row is None or chosen is None or row.engagement_id != chosen.id:
        return None
    data = view(row)
    return t("server_more.deliverable.added", id=row.id, title=data["title"], due=data["due_date"])


def _page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    *,
    message: str | None = None,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    add_form: dict[str, Any] | None = None,
    added: int | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "report.read")
    if chosen is None:
        ctx.authorize("report.read", client_id=ctx.tenant)
    client_id = chosen.client_id if chosen else ctx.tenant
    builds = [build_view(b) for b in list_builds(ctx, chosen)]
    deliverables: list[dict[str, Any]] = []
    can_deliverables = chosen is not None and ctx.can("deliverables.read", client_id=client_id)
    if chosen is not None and can_deliverables:
        deliverables = [view(d) for d in svc.list_deliverables(ctx.db, chosen)]
    configure: dict[str, Any] | None = None
    if ctx.can("report.configure"):
        try:
            configure = {"branding": branding_view(), "error": None}
        except ShaobingError as exc:
            # A broken branding file must not hide the page that helps fix it.
            configure = {"branding": None, "error": exc.message}
    return render(
        request,
        "reports.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        types=report_type_rows(),
        formats=list(FORMATS),
        builds=builds,
        deliverables=deliverables,
        can={
            "build": chosen is not None and ctx.can("report.build", client_id=client_id),
            "download": ctx.can("report.download", client_id=client_id),
            "deliverables": can_deliverables,
            "write": ctx.can("deliverables.write", client_id=client_id),
            "accept": ctx.can("deliverables.accept", client_id=client_id),
        },
        form=form or {"type": "vuln_scan", "format": "docx", "period": ""},
        kinds=sorted(catalog().deliverables.items()),
        add_form=add_form or {"kind": "", "due": "", "period": "", "note": ""},
        configure=configure,
        message=message,
        notice=added_notice(ctx, chosen, added) or notice,
    )


@router.get("/reports")
def reports_page(
    ctx: PageCtx,
    request: Request,
    engagement: str | None = None,
    added: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Build form, built reports and the engagement's deliverables."""
    # Notices come from stored data (the deliverable just added), never from the query
    # string: a crafted link cannot put words in the console's mouth.
    return _page(ctx, request, engagement, added=added)


@router.post("/reports", dependencies=CSRF)
def build_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(max_length=64)] = "",
    type: Annotated[str, Form(max_length=32)] = "",
    format: Annotated[str, Form(max_length=8)] = "docx",
    period: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Build from the form (a few seconds), then back to the list."""
    form = {"type": type, "format": format, "period": period}
    try:
        if not engagement:
            raise ValidationError(t("server_work.engagement_required"))
        body = BuildBody(engagement=engagement, type=type, format=format, period=period or None)
        built = build(ctx, body)
    except PydanticError as exc:
        first = exc.errors()[0]
        message = t(
            "server.invalid_input", field=".".join(map(str, first["loc"])), problem=first["msg"]
        )
        return _page(ctx, request, engagement or None, message=message, form=form, status=422)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _page(ctx, request, engagement or None, message=exc.message, form=form, status=400)
    return RedirectResponse(f"/reports?engagement={built.engagement_id}", status_code=303)


def _date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(t("server.invalid_input", field="date", problem=value)) from None


@router.post("/deliverables/{deliverable_id}/{what}", dependencies=CSRF)
def deliverable_form(
    ctx: PageCtx,
    request: Request,
    deliverable_id: int,
    what: str,
    engagement: Annotated[str, Form(max_length=64)] = "",
    build_id: Annotated[str, Form(max_length=12)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
    by: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    force: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Submit, accept or reopen a deliverable from the reports page."""
    try:
        if what == "submit":
            chosen = int(build_id) if build_id.isdigit() else None
            body = SubmitBody(build_id=chosen, on=_date(on), force=bool(force))
            done = submit_deliverable(ctx, deliverable_id, body)
        elif what == "accept":
            done = accept_deliverable(
                ctx, deliverable_id, AcceptBody(by=by or None, on=_date(on), note=note or None)
            )
        elif what == "reopen":
            done = reopen_deliverable(ctx, deliverable_id, ReopenBody(reason=note or None))
        else:
            return RedirectResponse("/reports", status_code=303)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _page(ctx, request, engagement or None, message=exc.message, status=400)
    return RedirectResponse(f"/reports?engagement={done.engagement_id}", status_code=303)


@router.post("/reports/deliverables", dependencies=CSRF)
def add_deliverable_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
    kind: Annotated[str, Form(max_length=64)] = "",
    due: Annotated[str, Form(max_length=10)] = "",
    period: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=svc.MAX_NOTE)] = "",
) -> Response:
    """Add an on-demand deliverable (``deliverables add``) from the reports page."""
    # Refusals (role, other tenant) come before any check of the form.
    engagement_for(ctx, engagement, "deliverables.write")
    add_form = {"kind": kind, "due": due, "period": period, "note": note}
    try:
        if not kind:
            raise ValidationError(t("server_more.deliverable.need_kind"))
        due_date = _date(due)
        if due_date is None:
            raise ValidationError(t("server_more.deliverable.need_due"))
        body = AddBody(
            engagement=engagement, kind=kind, due=due_date, period=period or None, note=note or None
        )
        row = add_deliverable(ctx, body)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _page(ctx, request, engagement, message=exc.message, add_form=add_form, status=400)
    return RedirectResponse(
        f"/reports?engagement={row.engagement_id}&added={row.id}#deliv-title", status_code=303
    )
