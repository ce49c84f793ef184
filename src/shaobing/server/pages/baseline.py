"""基线核查 pages: the runs of an engagement, one run's results per rule, and a launch form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticError

from shaobing.baseline.loader import raw_profiles
from shaobing.baseline.models import BaselineRun
from shaobing.baseline.results import STATUS_LABELS
from shaobing.core.errors import ShaobingError
from shaobing.credentials.service import credential_as_dict, list_credentials
from shaobing.engagements.models import Engagement
from shaobing.server.access import tenant_object
from shaobing.server.api.baseline import (
    CheckBody,
    launch_check,
    list_runs,
    parse_status,
    run_results,
    run_summary,
)
from shaobing.server.context import RequestContext, csrf_guard, request_context
from shaobing.server.pages.page_forms import body_error
from shaobing.server.pages.render import render
from shaobing.server.pages.scans import pick_engagement, reraise_refusal

router = APIRouter()
PageCtx = Annotated[RequestContext, Depends(request_context)]
CSRF = [Depends(csrf_guard)]


def _launch_values(ctx: RequestContext, chosen: Engagement | None) -> dict[str, Any]:
    """What the launch form needs: shown only for an engagement the user may check."""
    if chosen is None or not ctx.can("baseline.check", client_id=chosen.client_id):
        return {"can_check": False, "profiles": [], "credentials": []}
    profiles = [
        {"id": pid, "title": raw.title or pid} for pid, raw in sorted(raw_profiles().items())
    ]
    creds = [credential_as_dict(c) for c in list_credentials(ctx.db, chosen)]
    return {"can_check": True, "profiles": profiles, "credentials": creds}


def _list_page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    *,
    message: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "baseline.read")
    if chosen is None:
        ctx.authorize("baseline.read", client_id=ctx.tenant)
    runs = [run_summary(r) for r in list_runs(ctx, chosen)]
    return render(
        request,
        "baseline.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        runs=runs,
        labels={s.value: label for s, label in STATUS_LABELS.items()},
        message=message,
        form=form or {"profile": "linux", "target": "", "credential": ""},
        **_launch_values(ctx, chosen),
    )


@router.get("/baseline")
def baseline_page(ctx: PageCtx, request: Request, engagement: str | None = None) -> Response:
    """Baseline check runs with score and counts, and the launch form."""
    return _list_page(ctx, request, engagement)


@router.post("/baseline/check", dependencies=CSRF)
def check_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(max_length=64)] = "",
    profile: Annotated[str, Form(max_length=100)] = "",
    target: Annotated[str, Form(max_length=500)] = "",
    credential: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Run one check from the form, then show its results (errors stay on the form)."""
    form = {"profile": profile, "target": target, "credential": credential}
    try:
        body = CheckBody(
            engagement=engagement,
            profile=profile,
            target=target,
            credential=credential or None,
        )
        run_id = launch_check(ctx, body)
    except PydanticError as exc:
        ctx.db.rollback()
        return _list_page(
            ctx, request, engagement or None, message=body_error(exc).message, form=form, status=422
        )
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _list_page(
            ctx, request, engagement or None, message=exc.message, form=form, status=400
        )
    return RedirectResponse(f"/baseline/{run_id}", status_code=303)


@router.get("/baseline/{run_id}")
def baseline_run_page(
    ctx: PageCtx, request: Request, run_id: int, status: str | None = None
) -> Response:
    """One run: score, counts, and the rules (failures first, with advice) by status."""
    run = tenant_object(ctx, BaselineRun, run_id, "baseline.read", "baseline_run")
    chosen = parse_status([status]) if status else set()
    return render(
        request,
        "baseline_detail.html",
        ctx,
        run=run_summary(run),
        results=run_results(run, chosen),
        filter_status=status or "",
        labels={s.value: label for s, label in STATUS_LABELS.items()},
    )
