"""风险评估参数 page: the engagement's method parameters and its threat catalogue.

Linked from /assessment. Readers see the parameters in force and the threats; users with
risk.assess upload a (partial) method file, go back to the defaults, and edit threats.
"""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
import yaml
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from shaobing.assess.risk import service
from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.server.access import engagement_for
from shaobing.server.api.riskconfig import (
    ThreatEditBody,
    edit_threat,
    method_view,
    read_method_upload,
    reset_method,
    set_method,
)
from shaobing.server.context import RequestContext
from shaobing.server.pages.page_forms import CSRF_PAGE, PageCtx, body_error, refused, see_other
from shaobing.server.pages.render import render
from shaobing.server.pages.scans import pick_engagement

router = APIRouter()
PATH = "/assessment/risk-config"
LEVELS = [1, 2, 3, 4, 5]


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
    method: dict[str, Any] | None = None
    threats: list[dict[str, Any]] = []
    if chosen is not None:
        method = method_view(ctx, chosen)
        method["override_text"] = (
            yaml.safe_dump(method["override"], allow_unicode=True, sort_keys=False)
            if method["override"]
            else ""
        )
        threats = service.list_threats(ctx.db, chosen)
    return render(
        request,
        "riskconfig.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        method=method,
        threats=threats,
        levels=LEVELS,
        can_edit=chosen is not None and ctx.can("risk.assess", client_id=chosen.client_id),
        message=message,
    )


@router.get(PATH)
def risk_config_page(ctx: PageCtx, request: Request, engagement: str | None = None) -> Response:
    """Method parameters in force, the stored override, and the threat catalogue."""
    return _page(ctx, request, engagement)


def _target(ctx: RequestContext, engagement: str) -> Engagement:
    # Refusals (role, other tenant) come before anything the form says.
    return engagement_for(ctx, engagement, "risk.assess")


@router.post(f"{PATH}/method", dependencies=CSRF_PAGE)
async def method_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Store the uploaded method file as the engagement's override."""
    target = _target(ctx, engagement)
    try:
        data, name = await read_method_upload(file)
        set_method(ctx, target, data, name)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _page(ctx, request, str(target.id), message=message, status=code)
    return see_other(PATH, engagement=target.id)


@router.post(f"{PATH}/reset", dependencies=CSRF_PAGE)
def reset_form(
    ctx: PageCtx, engagement: Annotated[str, Form(min_length=1, max_length=64)]
) -> Response:
    """Back to the shipped method parameters."""
    target = _target(ctx, engagement)
    reset_method(ctx, target)
    return see_other(PATH, engagement=target.id)


def _level(value: str, field: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise ValidationError(
            t(
                "server_config.risk.bad_level",
                field=t(f"server_config.risk.field.{field}"),
                value=text[:20],
            )
        )
    return int(text)


def _current(ctx: RequestContext, engagement: Engagement, threat_id: str) -> dict[str, Any]:
    key = threat_id.strip().upper()
    for threat in service.list_threats(ctx.db, engagement):
        if threat["id"] == key:
            return threat | {"enabled": not threat["disabled"]}
    return {}


@router.post(f"{PATH}/threats/{{threat_id}}", dependencies=CSRF_PAGE)
def threat_form(
    ctx: PageCtx,
    request: Request,
    threat_id: str,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
    frequency: Annotated[str, Form(max_length=4)] = "",
    capability: Annotated[str, Form(max_length=4)] = "",
    enabled: Annotated[str, Form(max_length=5)] = "",
    reset: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Set a threat's frequency, capability and whether it is used (or drop its edits)."""
    target = _target(ctx, engagement)
    try:
        current = _current(ctx, target, threat_id)
        wanted: dict[str, Any] = {
            "frequency": _level(frequency, "frequency"),
            "capability": _level(capability, "capability"),
            "enabled": enabled == "true" if enabled else None,
        }
        # The form shows every field; only what the user changed becomes an edit.
        changed = {k: v for k, v in wanted.items() if v is not None and current.get(k) != v}
        try:
            body = ThreatEditBody(**changed, reset=bool(reset))
        except pydantic.ValidationError as exc:
            raise body_error(exc) from None
        edit_threat(ctx, target, threat_id[:32], body)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _page(ctx, request, str(target.id), message=message, status=code)
    return see_other(PATH, engagement=target.id)
