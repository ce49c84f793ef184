"""漏洞与问题: the findings list (filters, keyset pages, bulk moves) and one finding."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import pydantic
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings import service
from shaobing.findings.importers.registry import all_importers
from shaobing.findings.models import Finding, ImportRun
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import Role, Status, check_transition, status_label, workflow
from shaobing.server.access import engagement_for, tenant_object, visible_engagements
from shaobing.server.api import findings as api
from shaobing.server.api.hardening import rededup_engagement
from shaobing.server.api.imports import GROUPINGS, receive_import
from shaobing.server.context import RequestContext
from shaobing.server.pages.page_forms import (
    CSRF_PAGE,
    PageCtx,
    body_error,
    form_date,
    helpers,
    refused,
    see_other,
)
from shaobing.server.pages.render import render
from shaobing.server.queries.findings_page import findings_page
from shaobing.server.workflow_role import workflow_role

router = APIRouter()
PAGE_SIZE = 50


def allowed_moves(status: str, role: Role) -> list[tuple[str, str]]:
    """The states ``role`` may move a finding in ``status`` to, as (value, label)."""
    moves = []
    for target in workflow().transitions.get(Status(status), {}):
        try:
            check_transition(status, target, role)
        except ValidationError:
            continue
        moves.append((target.value, status_label(target)))
    return moves


def reachable_states(role: Role) -> list[tuple[str, str]]:
    """Every state ``role`` can move some finding to (the bulk action's choices)."""
    found: dict[str, str] = {}
    for source in Status:
        for value, label in allowed_moves(source.value, role):
            found.setdefault(value, label)
    return [(s.value, found[s.value]) for s in Status if s.value in found]


def role_of(ctx: RequestContext, action: str, client_id: int) -> Role | None:
    """The state-machine role of the user if they may do ``action`` on the client."""
    if not ctx.can(action, client_id=client_id):
        return None
    return workflow_role(ctx.user.role)


def choose_engagement(
    ctx: RequestContext, ref: str | None, action: str
) -> tuple[list[Engagement], Engagement | None]:
    """The visible engagements and the chosen one (default: the newest visible)."""
    choices = visible_engagements(ctx, action)
    if ref:
        return choices, engagement_for(ctx, ref, action)
    return choices, (choices[0] if choices else None)


def state_choices() -> list[tuple[str, str]]:
    """Every state of the machine with its label (filters)."""
    return [(s.value, spec.label) for s, spec in workflow().states.items()]


def severity_choices() -> list[tuple[str, str]]:
    """Every severity with its label (filters)."""
    return [(s.value, s.label) for s in Severity]


def _filters(
    severity: str | None,
    status: str | None,
    host: str | None,
    source: str | None,
    search: str | None,
    open_only: bool,
) -> api.FilterParams:
    try:
        return api.FilterParams(
            severity=[severity] if severity else None,
            status=[status] if status else None,
            host=host or None,
            source=source or None,
            search=search or None,
            open=open_only,
        )
    except pydantic.ValidationError as exc:
        raise body_error(exc) from None


def _query(engagement: Engagement, params: dict[str, Any]) -> str:
    shown = {k: "true" if v is True else v for k, v in params.items() if v not in (None, "")}
    return urlencode({"engagement": engagement.id, **{k: v for k, v in shown.items() if v}})


def import_formats() -> list[tuple[str, str]]:
    """The importable formats as (name, label), for the import form's choice."""
    return [(name, cls.label) for name, cls in all_importers().items()]


def import_result(
    ctx: RequestContext, engagement: Engagement | None, import_id: int | None
) -> dict[str, Any] | None:
    """The stored summary of an import into the shown engagement (after the redirect)."""
    if engagement is None or import_id is None:
        return None
    run = ctx.db.get(ImportRun, import_id)
    # The engagement was checked for the user; an import of another one is not shown.
    if run is None or run.engagement_id != engagement.id:
        return None
    return {"id": run.id, "file": run.file_name, "format": run.format, **(run.summary or {})}


def _list_page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    params: dict[str, Any],
    after: str | None,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    imported: int | None = None,
    import_form: dict[str, Any] | None = None,
) -> Response:
    choices, chosen = choose_engagement(ctx, engagement, "findings.read")
    page = None
    if chosen is not None:
        flt = _filters(
            params["severity"],
            params["status"],
            params["host"],
            params["source"],
            params["search"],
            bool(params["open"]),
        )
        page = findings_page(
            ctx.db, engagement_id=chosen.id, flt=flt.to_filter(), limit=PAGE_SIZE, after=after
        )
    role = role_of(ctx, "findings.transition", chosen.client_id) if chosen else None
    query = _query(chosen, params) if chosen else ""
    return render(
        request,
        "findings.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        page=page,
        rows=[service.finding_as_dict(f) for f in page.items] if page else [],
        params=params,
        query=query,
        after=after,
        severities=severity_choices(),
        states=state_choices(),
        bulk_targets=reachable_states(role) if role else [],
        reason_required=[s.value for s in workflow().reason_required],
        can_export=chosen is not None and ctx.can("findings.export", client_id=chosen.client_id),
        can_import=chosen is not None and ctx.can("findings.import", client_id=chosen.client_id),
        can_dedup=chosen is not None and ctx.can("findings.dedup", client_id=chosen.client_id),
        import_formats=import_formats(),
        groupings=GROUPINGS,
        import_form=import_form or {"format": "", "grouping": "", "no_close": False},
        imported=import_result(ctx, chosen, imported),
        notice=notice,
        error=error,
        **helpers(),
    )


@router.get("/findings")
def findings_list(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str | None, Query(max_length=100)] = None,
    severity: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    host: Annotated[str | None, Query(max_length=255)] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    open: bool = False,
    after: Annotated[str | None, Query(max_length=200)] = None,
    moved: Annotated[int | None, Query(ge=0)] = None,
    unmoved: Annotated[int | None, Query(ge=0)] = None,
    imported: Annotated[int | None, Query(ge=1)] = None,
    deduped: Annotated[int | None, Query(ge=0)] = None,
    changed: Annotated[int | None, Query(ge=0)] = None,
    merged: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """An engagement's findings, most severe first, 50 a page, with filters."""
    params = {
        "severity": severity,
        "status": status,
        "host": host,
        "source": source,
        "search": search,
        "open": open,
    }
    notice = None
    if moved is not None:
        notice = t("server_pages.findings.bulk_done", moved=moved, refused=unmoved or 0)
    elif deduped is not None:
        notice = t(
            "server_harden.rededup_done", findings=deduped, changed=changed or 0, merged=merged or 0
        )
    return _list_page(ctx, request, engagement, params, after, notice=notice, imported=imported)


def _no_filters() -> dict[str, Any]:
    params: dict[str, Any] = dict.fromkeys(("severity", "status", "host", "source", "search"))
    params["open"] = False
    return params


@router.post("/findings/import", dependencies=CSRF_PAGE)
async def findings_import(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(max_length=100)],
    file: Annotated[UploadFile | None, File()] = None,
    format: Annotated[str, Form(max_length=32)] = "",
    grouping: Annotated[str, Form(max_length=16)] = "",
    no_close: Annotated[bool, Form()] = False,
) -> Response:
    """Import an uploaded scanner file (as ``findings import``), then show its summary."""
    try:
        result = await receive_import(
            ctx, engagement, file, fmt=format or None, grouping=grouping or None, no_close=no_close
        )
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        form = {"format": format, "grouping": grouping, "no_close": no_close}
        return _list_page(
            ctx,
            request,
            engagement,
            _no_filters(),
            None,
            error=message,
            status=code,
            import_form=form,
        )
    return see_other(
        "/findings", engagement=result["engagement"]["id"], imported=result["import_id"]
    )


@router.post("/findings/rededup", dependencies=CSRF_PAGE)
def findings_rededup(
    ctx: PageCtx, request: Request, engagement: Annotated[str, Form(max_length=100)]
) -> Response:
    """Recompute fingerprints with the current rules and merge findings that now coincide."""
    try:
        result = rededup_engagement(ctx, engagement)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _list_page(ctx, request, engagement, _no_filters(), None, error=message, status=code)
    target = engagement_for(ctx, engagement, "findings.read")
    return see_other(
        "/findings",
        engagement=target.id,
        deduped=result["findings"],
        changed=result["changed"],
        merged=result["merged"],
    )


@router.post("/findings/bulk", dependencies=CSRF_PAGE)
def findings_bulk(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(max_length=100)],
    ids: Annotated[list[int] | None, Form()] = None,
    to: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The same state change for the ticked findings of one engagement."""
    try:
        if not ids:
            raise ValidationError(t("server_pages.findings.none_ticked"))
        if not to:
            raise ValidationError(t("server_pages.findings.no_target"))
        try:
            body = api.BulkTransitionBody(
                ids=ids, to=to, reason=reason or None, until=form_date(until, "until")
            )
        except pydantic.ValidationError as exc:
            raise body_error(exc) from None
        result = api.bulk_transition(ctx, engagement, body)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _list_page(ctx, request, engagement, _no_filters(), None, error=message, status=code)
    target = engagement_for(ctx, engagement, "findings.read")
    return see_other(
        "/findings", engagement=target.id, moved=result["moved"], unmoved=len(result["refused"])
    )


def _detail_page(
    ctx: RequestContext,
    request: Request,
    finding_id: int,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    finding = tenant_object(ctx, Finding, finding_id, "findings.read", "finding")
    engagement = ctx.db.get_one(Engagement, finding.engagement_id)
    role = role_of(ctx, "findings.transition", finding.client_id)
    return render(
        request,
        "findings_detail.html",
        ctx,
        status=status,
        f=service.finding_as_dict(finding),
        engagement=engagement,
        history=[service.event_as_dict(e) for e in service.history(ctx.db, finding_id=finding.id)],
        moves=allowed_moves(finding.status, role) if role else [],
        reason_required=[s.value for s in workflow().reason_required],
        can_order=finding.work_order_id is not None
        and ctx.can("workorder.read", client_id=finding.client_id),
        notice=notice,
        error=error,
        **helpers(),
    )


@router.get("/findings/{finding_id}")
def finding_detail(ctx: PageCtx, request: Request, finding_id: int, done: bool = False) -> Response:
    """One finding: every field, masked evidence, history and the allowed moves."""
    notice = t("server_pages.findings.moved") if done else None
    return _detail_page(ctx, request, finding_id, notice=notice)


@router.post("/findings/{finding_id}/transition", dependencies=CSRF_PAGE)
def finding_transition(
    ctx: PageCtx,
    request: Request,
    finding_id: int,
    to: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Move one finding (误报、风险接受、忽略 …) and come back to it."""
    try:
        if not to:
            raise ValidationError(t("server_pages.findings.no_target"))
        body = api.TransitionBody(to=to, reason=reason or None, until=form_date(until, "until"))
        api.transition(ctx, finding_id, body)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _detail_page(ctx, request, finding_id, error=message, status=code)
    return see_other(f"/findings/{finding_id}", done=True)
