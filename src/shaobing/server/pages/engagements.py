"""服务项目: list and creation, one engagement (scope, schedule, deliverables, scope check),
the client's full export, and the administrator's verified purge with a destruction record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from shaobing.core.audit import AuditEvent
from shaobing.core.errors import NotFoundError, ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements import deliverables
from shaobing.engagements.catalog import catalog
from shaobing.engagements.models import Client, Engagement
from shaobing.engagements.purge import plan_purge
from shaobing.engagements.service import engagement_as_dict
from shaobing.findings import service as findings
from shaobing.server.access import engagement_for, visible, visible_engagements
from shaobing.server.api import engagements as api
from shaobing.server.api.audit import event_as_dict
from shaobing.server.api.engagements import ClientBody
from shaobing.server.api.hardening import set_sla
from shaobing.server.context import RequestContext
from shaobing.server.pages.page_forms import (
    CSRF_PAGE,
    PageCtx,
    body_error,
    form_date,
    helpers,
    lines,
    refused,
    see_other,
)
from shaobing.server.pages.render import render

router = APIRouter()


def _clients(ctx: RequestContext) -> list[Client]:
    query = select(Client).order_by(Client.name)
    if ctx.tenant is not None:
        query = query.where(Client.id == ctx.tenant)
    return list(ctx.db.scalars(query))


def _list_page(
    ctx: RequestContext,
    request: Request,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    rows = visible_engagements(ctx, "engagement.read")
    can_create = ctx.can("engagement.write", client_id=ctx.tenant)
    can_add_client = ctx.can("client.write")
    return render(
        request,
        "engagements.html",
        ctx,
        status=status,
        rows=rows,
        clients=_clients(ctx) if can_create else [],
        can_create=can_create,
        can_add_client=can_add_client,
        notice=notice,
        items=catalog().items,
        sla_terms=catalog().sla,
        form=form or {},
        error=error,
        **helpers(),
    )


@router.get("/engagements")
def engagements_list(ctx: PageCtx, request: Request, client_added: int | None = None) -> Response:
    """Every engagement the user may see, and the creation form for engagement.write."""
    notice = None
    if client_added is not None:
        added = ctx.db.get(Client, client_added)
        if added is not None and ctx.can("client.read", client_id=added.id):
            notice = t("server_pages.engagements.client_added", name=added.name)
    return _list_page(ctx, request, notice=notice)


@router.post("/clients", dependencies=CSRF_PAGE)
def client_create(
    ctx: PageCtx,
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=50)] = "",
    contact: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Add a client (tenant) from the engagements page (client.write)."""
    try:
        if not name.strip():
            raise ValidationError(t("engagements.client_name_empty"))
        body = ClientBody(
            name=name.strip(), code=code.strip() or None, contact=contact.strip() or None
        )
        created = api.add_client(ctx, body)
    except ShaobingError as exc:
        message, code_ = refused(ctx, exc)
        return _list_page(ctx, request, error=message, status=code_)
    return see_other("/engagements", client_added=created["id"])


@router.post("/engagements", dependencies=CSRF_PAGE)
def engagements_create(
    ctx: PageCtx,
    request: Request,
    client: Annotated[int, Form()],
    name: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=50)] = "",
    scope: Annotated[str, Form(max_length=200_000)] = "",
    exclude: Annotated[str, Form(max_length=200_000)] = "",
    windows: Annotated[str, Form(max_length=10_000)] = "",
    start: Annotated[str, Form(max_length=20)] = "",
    end: Annotated[str, Form(max_length=20)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    items: Annotated[str, Form(max_length=10_000)] = "",
    sla: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Create an engagement from the form (the same checks as ``engagement create``)."""
    form = {
        "client": client,
        "name": name,
        "code": code,
        "scope": scope,
        "exclude": exclude,
        "windows": windows,
        "start": start,
        "end": end,
        "description": description,
        "items": items,
        "sla": sla,
    }
    try:
        if not name.strip() or not lines(scope):
            raise ValidationError(t("server_pages.engagements.need_name_scope"))
        try:
            body = api.EngagementBody(
                client=client,
                name=name.strip(),
                code=code.strip() or None,
                scope=lines(scope),
                exclude=lines(exclude),
                windows=lines(windows),
                start=form_date(start, "start"),
                end=form_date(end, "end"),
                description=description.strip() or None,
                items=lines(items),
                sla=lines(sla),
            )
        except pydantic.ValidationError as exc:
            raise body_error(exc) from None
        created = api.create_engagement(ctx, body)
    except ShaobingError as exc:
        message, code_ = refused(ctx, exc)
        return _list_page(ctx, request, form=form, error=message, status=code_)
    return see_other(f"/engagements/{created['id']}", done="created")


def _scope_result(
    ctx: RequestContext, engagement: Engagement, target: str | None, port: int | None
) -> dict[str, Any] | None:
    if not target or not ctx.can("scope.check", client_id=engagement.client_id):
        return None
    return api.scope_check(ctx, str(engagement.id), target.strip(), port)


@router.get("/engagements/destruction/{seq}")
def destruction_record(ctx: PageCtx, request: Request, seq: int) -> Response:
    """A purge's destruction record, read back from the audit log where it survives."""
    event = ctx.db.scalar(
        select(AuditEvent).where(AuditEvent.seq == seq, AuditEvent.action == "engagement.purge")
    )
    if event is None or not visible(ctx, event.client_id):
        raise NotFoundError(t("server_pages.purge.no_record", seq=seq))
    ctx.authorize("engagement.purge", client_id=event.client_id)
    detail = _record_detail(event)
    return render(
        request,
        "engagements_destroyed.html",
        ctx,
        seq=event.seq,
        outcome=event.outcome,
        chain_hash=event.hash,
        record=detail.get("record", {}),
        record_hash=detail.get("record_hash"),
        record_hash_alg=detail.get("record_hash_alg"),
        **helpers(),
    )


def _record_detail(event: AuditEvent) -> dict[str, Any]:
    """The JSON detail of an audit event (the purge stores its record there)."""
    detail = event_as_dict(event)["detail"]
    return detail if isinstance(detail, dict) else {}


@router.get("/engagements/{ref}")
def engagement_detail(
    ctx: PageCtx,
    request: Request,
    ref: str,
    target: Annotated[str | None, Query(max_length=500)] = None,
    port: Annotated[int | None, Query(ge=0, le=65535)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Scope, service period, items and schedule, SLA, deliverables, links, scope check."""
    return _detail_page(ctx, request, ref, target, port, done)


def _detail_page(
    ctx: RequestContext,
    request: Request,
    ref: str,
    target: str | None = None,
    port: int | None = None,
    done: str | None = None,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    engagement = engagement_for(ctx, ref, "engagement.read")
    client_id = engagement.client_id
    today = datetime.now(UTC).date()
    delivered = []
    if ctx.can("deliverables.read", client_id=client_id):
        delivered = [
            deliverables.deliverable_as_dict(d, today=today)
            for d in deliverables.list_deliverables(ctx.db, engagement)
        ]
    notices = {
        "created": t("server_pages.engagements.created"),
        "sla": t("server_harden.sla_saved"),
    }
    return render(
        request,
        "engagements_detail.html",
        ctx,
        status=status,
        error=error,
        can_sla=ctx.can("engagement.write", client_id=client_id),
        e=engagement_as_dict(engagement),
        sla_days=findings.sla_table(ctx.db, engagement),
        delivered=delivered,
        can_deliverables=ctx.can("deliverables.read", client_id=client_id),
        can_scope=ctx.can("scope.check", client_id=client_id),
        can_export=ctx.can("engagement.export", client_id=client_id),
        can_purge=ctx.can("engagement.purge", client_id=client_id),
        links=[
            (href, text)
            for href, text, needs in (
                ("/findings", "漏洞与问题", "findings.read"),
                ("/workorders", "整改工单", "workorder.read"),
                ("/scans", "扫描任务", "scan.read"),
                ("/reports", "报告", "report.read"),
                ("/baseline", "基线核查", "baseline.read"),
                ("/hardening", "基线加固", "baseline.read"),
                ("/assessment", "风险与等保", "risk.read"),
                ("/credentials", "目标凭据", "credential.read"),
            )
            if ctx.can(needs, client_id=client_id)
        ],
        check=_scope_result(ctx, engagement, target, port),
        check_target=target or "",
        check_port=port,
        notice=notices.get(done or ""),
        **helpers(),
    )


@router.post("/engagements/{ref}/sla", dependencies=CSRF_PAGE)
def engagement_sla(
    ctx: PageCtx,
    request: Request,
    ref: str,
    critical: Annotated[str, Form(max_length=10)] = "",
    high: Annotated[str, Form(max_length=10)] = "",
    medium: Annotated[str, Form(max_length=10)] = "",
    low: Annotated[str, Form(max_length=10)] = "",
    info: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Set remediation days per severity (empty fields keep their value)."""
    given = {"critical": critical, "high": high, "medium": medium, "low": low, "info": info}
    try:
        days: dict[str, int] = {}
        for level, raw in given.items():
            if not raw.strip():
                continue
            if not raw.strip().isdigit():
                raise ValidationError(t("findings.bad_sla_days", days=raw.strip()))
            days[level] = int(raw.strip())
        set_sla(ctx, ref, days)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        if isinstance(exc, NotFoundError):
            raise
        return _detail_page(ctx, request, ref, error=message, status=code)
    return see_other(f"/engagements/{ref}", done="sla")


@router.post("/engagements/{ref}/export", dependencies=CSRF_PAGE)
def engagement_export(ctx: PageCtx, ref: str) -> Response:
    """Download the engagement's complete archive (ZIP with manifest)."""
    return api.export(ctx, ref)


def _purge_page(
    ctx: RequestContext,
    request: Request,
    ref: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    engagement = engagement_for(ctx, ref, "engagement.purge")
    return render(
        request,
        "engagements_purge.html",
        ctx,
        status=status,
        e=engagement,
        plan=plan_purge(ctx.db, engagement).as_json(),
        error=error,
        **helpers(),
    )


@router.get("/engagements/{ref}/purge")
def purge_form(ctx: PageCtx, request: Request, ref: str) -> Response:
    """Step one of 销毁数据: what would be deleted and what stays, then the confirmation."""
    return _purge_page(ctx, request, ref)


@router.post("/engagements/{ref}/purge", dependencies=CSRF_PAGE)
def purge_submit(
    ctx: PageCtx,
    request: Request,
    ref: str,
    confirm: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """Step two: the code typed again and the administrator's password, then the purge."""
    try:
        if not confirm.strip() or not password:
            raise ValidationError(t("server_pages.purge.fill_both"))
        result = api.purge_engagement(ctx, ref, api.PurgeBody(confirm=confirm, password=password))
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _purge_page(ctx, request, ref, error=message, status=code)
    return see_other(f"/engagements/destruction/{result['audit_seq']}")
