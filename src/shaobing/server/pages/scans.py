"""扫描任务 pages: the list with the launch form, and one scan's live progress."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticError

from shaobing.auth.permissions import PermissionDenied
from shaobing.core.errors import NotFoundError, ShaobingError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.scan.models import ScanRun
from shaobing.server.access import engagement_for, tenant_object, visible_engagements
from shaobing.server.api.catalog import policy_rows
from shaobing.server.api.scans import (
    LaunchBody,
    control_scan,
    launch_scan,
    list_runs,
    scan_detail,
    scan_view,
)
from shaobing.server.context import RequestContext, csrf_guard, request_context
from shaobing.server.pages.render import render

router = APIRouter()
PageCtx = Annotated[RequestContext, Depends(request_context)]
CSRF = [Depends(csrf_guard)]


def pick_engagement(
    ctx: RequestContext, engagement: str | None, action: str
) -> tuple[list[Engagement], Engagement | None]:
    """The engagements visible for ``action`` and the chosen one (tenant rule applied)."""
    choices = visible_engagements(ctx, action)
    chosen = engagement_for(ctx, engagement, action) if engagement else None
    return choices, chosen


def reraise_refusal(exc: ShaobingError) -> None:
    """Refusals keep their own answer (403 / 404 page); other errors stay on the form."""
    if isinstance(exc, PermissionDenied | NotFoundError):
        raise exc


def scope_text(engagement: Engagement | None) -> str:
    """The engagement's included scope entries, one a line (the launch form's default)."""
    if engagement is None:
        return ""
    return "\n".join(e.value for e in engagement.scope_entries if e.mode == "include")


def _default_form(chosen: Engagement | None) -> dict[str, Any]:
    return {
        "engagement": str(chosen.id) if chosen else "",
        "kind": "network",
        "policy": "quick",
        "targets": scope_text(chosen),
        "exclude": "",
        "ports": "",
        "url": "",
        "max_pages": "",
    }


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.replace(",", "\n").splitlines() if x.strip()]


def _list_page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    *,
    message: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "scan.read")
    can_launch = ctx.can("scan.launch", client_id=chosen.client_id if chosen else ctx.tenant)
    return render(
        request,
        "scans.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        scans=[scan_view(ctx, r) for r in list_runs(ctx, chosen)],
        can_launch=can_launch,
        policies=policy_rows() if can_launch else [],
        launch_engagements=visible_engagements(ctx, "scan.launch") if can_launch else [],
        form=form or _default_form(chosen),
        message=message,
    )


@router.get("/scans")
def scans_page(ctx: PageCtx, request: Request, engagement: str | None = None) -> Response:
    """Scans (newest first) and, for those who may, the launch form."""
    return _list_page(ctx, request, engagement)


@router.post("/scans", dependencies=CSRF)
def launch_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=16)] = "network",
    policy: Annotated[str, Form(max_length=100)] = "",
    targets: Annotated[str, Form(max_length=20000)] = "",
    exclude: Annotated[str, Form(max_length=20000)] = "",
    ports: Annotated[str, Form(max_length=2000)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    max_pages: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Launch from the form, then show the scan's progress (errors stay on the form)."""
    form = {
        "engagement": engagement,
        "kind": kind,
        "policy": policy,
        "targets": targets,
        "exclude": exclude,
        "ports": ports,
        "url": url,
        "max_pages": max_pages,
    }
    try:
        if not engagement:
            raise ShaobingError(t("server_work.engagement_required"))
        if kind not in ("network", "web"):
            raise ShaobingError(t("server_work.scan.bad_kind", kind=kind))
        if max_pages and not max_pages.isdigit():
            raise ShaobingError(
                t("server_work.scan.bad_number", field="max_pages", value=max_pages)
            )
        body = LaunchBody(
            engagement=engagement,
            kind="web" if kind == "web" else "network",
            policy=policy or None,
            targets=_lines(targets),
            exclude=_lines(exclude),
            ports=ports.strip() or None,
            url=url.strip() or None,
            max_pages=int(max_pages) if max_pages else None,
        )
        scan_id = launch_scan(ctx, body)
    except PydanticError as exc:
        first = exc.errors()[0]
        message = t(
            "server.invalid_input", field=".".join(map(str, first["loc"])), problem=first["msg"]
        )
        return _list_page(ctx, request, engagement or None, message=message, form=form, status=422)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _list_page(
            ctx, request, engagement or None, message=exc.message, form=form, status=400
        )
    return RedirectResponse(f"/scans/{scan_id}", status_code=303)


@router.get("/scans/{scan_id}")
def scan_page(ctx: PageCtx, request: Request, scan_id: int, message: str | None = None) -> Response:
    """One scan: live progress, controls, hosts and findings."""
    run = tenant_object(ctx, ScanRun, scan_id, "scan.read", "scan")
    data = scan_detail(ctx, run)
    return render(
        request,
        "scans_detail.html",
        ctx,
        scan=data,
        can_control=ctx.can("scan.control", client_id=run.client_id) and run.kind == "network",
        message=message,
    )


@router.post("/scans/{scan_id}/{what}", dependencies=CSRF)
def control_form(ctx: PageCtx, request: Request, scan_id: int, what: str) -> Response:
    """Pause, resume or cancel from the scan page."""
    if what not in ("pause", "resume", "cancel"):
        return RedirectResponse(f"/scans/{scan_id}", status_code=303)
    try:
        control_scan(ctx, scan_id, what)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        run = tenant_object(ctx, ScanRun, scan_id, "scan.read", "scan")
        return render(
            request,
            "scans_detail.html",
            ctx,
            status=400,
            scan=scan_detail(ctx, run),
            can_control=ctx.can("scan.control", client_id=run.client_id),
            message=exc.message,
        )
    return RedirectResponse(f"/scans/{scan_id}", status_code=303)
