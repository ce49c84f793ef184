"""基线加固 pages: preview the exact plan, confirm it, see the result, roll a run back.

The preview is answered directly (it changes nothing on the target and must not be cached in
a URL); the confirmation, the apply and the rollback are POST/redirect/GET.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError as PydanticError

from shaobing.baseline.loader import raw_profiles
from shaobing.baseline.models import HardeningRun
from shaobing.baseline.results import STATUS_LABELS
from shaobing.core.errors import ConflictError, ShaobingError
from shaobing.core.i18n import t
from shaobing.credentials.service import credential_as_dict, list_credentials
from shaobing.engagements.models import Engagement
from shaobing.server.api.hardening import (
    HardenBody,
    engagement_runs,
    harden_target,
    rollback_run,
    run_as_dict,
)
from shaobing.server.context import RequestContext
from shaobing.server.pages.page_forms import CSRF_PAGE, PageCtx, body_error, lines, see_other
from shaobing.server.pages.render import render
from shaobing.server.pages.scans import pick_engagement, reraise_refusal

router = APIRouter()

Text64 = Annotated[str, Form(max_length=64)]


def _form(**values: str) -> dict[str, str]:
    return {"profile": "linux", "target": "", "credential": "", "rules": ""} | values


def _page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    *,
    form: dict[str, str] | None = None,
    plan: dict[str, Any] | None = None,
    shown: int | None = None,
    rolled: bool = False,
    error: str | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "baseline.read")
    if chosen is None:
        ctx.authorize("baseline.read", client_id=ctx.tenant)
    runs = [run_as_dict(r) for r in engagement_runs(ctx, chosen)] if chosen else []
    picked = next((r for r in runs if r["id"] == shown), None)
    notice = None
    if picked is not None and rolled:
        count = len(picked["restorable"])
        notice = t("server_harden.rolled_back", run_id=picked["id"], count=count)
    elif picked is not None:
        notice = t("server_harden.applied", run_id=picked["id"], status=picked["status_label"])
    can_harden = chosen is not None and ctx.can("baseline.harden", client_id=chosen.client_id)
    return render(
        request,
        "hardening.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        runs=runs,
        shown=picked,
        can_harden=can_harden,
        profiles=_profiles() if can_harden else [],
        credentials=_credentials(ctx, chosen) if can_harden else [],
        form=form or _form(),
        plan=plan,
        labels={s.value: label for s, label in STATUS_LABELS.items()},
        notice=notice,
        error=error,
    )


def _profiles() -> list[dict[str, str]]:
    return [{"id": pid, "title": raw.title or pid} for pid, raw in sorted(raw_profiles().items())]


def _credentials(ctx: RequestContext, chosen: Engagement | None) -> list[dict[str, Any]]:
    if chosen is None:
        return []
    return [credential_as_dict(c) for c in list_credentials(ctx.db, chosen)]


@router.get("/hardening")
def hardening_page(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str | None, Query(max_length=64)] = None,
    run: Annotated[int | None, Query(ge=1)] = None,
    rolled: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The plan form, the engagement's hardening runs and one run's result."""
    return _page(ctx, request, engagement, shown=run or rolled, rolled=rolled is not None)


def _body(
    engagement: str, profile: str, target: str, credential: str, rules: str, token: str | None
) -> HardenBody:
    return HardenBody(
        engagement=engagement,
        profile=profile,
        target=target,
        credential=credential,
        rules=lines(rules),
        apply=token is not None,
        plan_token=token,
    )


@router.post("/hardening/plan", dependencies=CSRF_PAGE)
def plan_form(
    ctx: PageCtx,
    request: Request,
    engagement: Text64 = "",
    profile: Annotated[str, Form(max_length=100)] = "",
    target: Annotated[str, Form(max_length=500)] = "",
    credential: Text64 = "",
    rules: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """Connect, evaluate and show the exact plan with its confirmation form."""
    form = _form(profile=profile, target=target, credential=credential, rules=rules)
    try:
        plan = harden_target(ctx, _body(engagement, profile, target, credential, rules, None))
    except PydanticError as exc:
        ctx.db.rollback()
        message = body_error(exc).message
        return _page(ctx, request, engagement or None, form=form, error=message, status=422)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _page(ctx, request, engagement or None, form=form, error=exc.message, status=400)
    return _page(ctx, request, engagement, form=form, plan=plan)


@router.post("/hardening/apply", dependencies=CSRF_PAGE)
def apply_form(
    ctx: PageCtx,
    request: Request,
    engagement: Text64 = "",
    profile: Annotated[str, Form(max_length=100)] = "",
    target: Annotated[str, Form(max_length=500)] = "",
    credential: Text64 = "",
    rules: Annotated[str, Form(max_length=20000)] = "",
    plan_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Apply the confirmed plan (refused when it changed since), then show the run."""
    form = _form(profile=profile, target=target, credential=credential, rules=rules)
    try:
        body = _body(engagement, profile, target, credential, rules, plan_token or "")
        result = harden_target(ctx, body)
    except PydanticError as exc:
        ctx.db.rollback()
        message = body_error(exc).message
        return _page(ctx, request, engagement or None, form=form, error=message, status=422)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        code = 409 if isinstance(exc, ConflictError) else 400
        return _page(ctx, request, engagement or None, form=form, error=exc.message, status=code)
    return see_other("/hardening", engagement=engagement, run=result["run_id"])


@router.post("/hardening/{run_id}/rollback", dependencies=CSRF_PAGE)
def rollback_form(
    ctx: PageCtx,
    request: Request,
    run_id: int,
    credential: Text64 = "",
) -> Response:
    """Restore the run's files with the chosen credential, then show the run."""
    row = ctx.db.get(HardeningRun, run_id)
    engagement = str(row.engagement_id) if row is not None else None
    try:
        result = rollback_run(ctx, run_id, credential)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _page(ctx, request, engagement, shown=run_id, error=exc.message, status=400)
    if result["problems"]:
        problems = "；".join(result["problems"])
        message = t("server_harden.rollback_problems", run_id=run_id, problems=problems)
        return _page(ctx, request, engagement, shown=run_id, error=message, status=200)
    return see_other("/hardening", engagement=engagement, rolled=run_id)
