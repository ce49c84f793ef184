"""The engagement's risk method parameters and threat catalogue (``risk method``/``risk threats``).

The same service functions as the CLI: an uploaded (partial) method file is checked by
:func:`shaobing.assess.risk.config.parse_override` (safe YAML, size cap, schema) before it is
stored; threat edits go through :func:`shaobing.assess.risk.service.edit_threat`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile
from pydantic import BaseModel, Field

from shaobing.assess.risk import service
from shaobing.assess.risk.config import MAX_BYTES, parse_override
from shaobing.core.audit import record_event
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.server.access import engagement_for
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.api.imports import size_text, upload_name
from shaobing.server.context import RequestContext

router = APIRouter(tags=["assessment"])
EngagementQuery = Annotated[str, Query(min_length=1, max_length=64)]
_FIELD = 200


class ThreatEditBody(BaseModel):
    """What ``risk threats edit`` may change; ``enabled`` false disables the threat."""

    frequency: int | None = Field(default=None, ge=1, le=5)
    capability: int | None = Field(default=None, ge=1, le=5)
    name: str | None = Field(default=None, min_length=1, max_length=_FIELD)
    source: str | None = Field(default=None, max_length=_FIELD)
    actor: str | None = Field(default=None, max_length=_FIELD)
    kind: str | None = Field(default=None, max_length=_FIELD)
    motive: str | None = Field(default=None, max_length=_FIELD)
    timing: str | None = Field(default=None, max_length=_FIELD)
    exploits: list[str] | None = Field(default=None, max_length=50)
    enabled: bool | None = None
    reset: bool = False

    def changes(self) -> dict[str, Any]:
        """The fields given, as the CLI passes them to the service."""
        plain = ("frequency", "capability", "name", "source", "actor", "kind", "motive", "timing")
        out: dict[str, Any] = {k: getattr(self, k) for k in plain if getattr(self, k) is not None}
        if self.exploits:
            out["exploits"] = [e.strip()[:32] for e in self.exploits if e.strip()]
        if self.enabled is not None:
            out["disabled"] = not self.enabled
        return out


def method_view(ctx: RequestContext, engagement: Engagement) -> dict[str, Any]:
    """What ``risk method show --json`` prints: the override and the parameters in force."""
    config = service.engagement_config(ctx.db, engagement)
    stored = service.stored_override(ctx.db, engagement)
    return {
        "engagement": {"id": engagement.id, "code": engagement.code},
        "override": stored.override if stored else None,
        "override_source": stored.source_name if stored else None,
        "updated_by": stored.updated_by if stored else None,
        "parameters": config.model_dump(mode="json"),
    }


async def read_method_upload(upload: UploadFile | None) -> tuple[dict[str, Any], str]:
    """The uploaded method file, read with the CLI's size cap and checks."""
    if upload is None or not upload.filename:
        raise ValidationError(t("server_config.upload.no_file"))
    name = upload_name(upload.filename)
    raw = await upload.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ValidationError(
            t("server_config.upload.too_large", file=name, limit=size_text(MAX_BYTES))
        )
    if not raw:
        raise ValidationError(t("server_config.upload.empty", file=name))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(t("server_config.upload.not_utf8", file=name)) from None
    return parse_override(text, name), name


def set_method(
    ctx: RequestContext, engagement: Engagement, data: dict[str, Any], name: str
) -> dict[str, Any]:
    """Store the override (``risk method set``) and record who did it."""
    service.set_override(ctx.db, engagement, data, name, ctx.actor)
    record_event(
        ctx.db,
        "risk.method.set",
        actor=ctx.actor,
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        target=name,
    )
    return method_view(ctx, engagement)


def reset_method(ctx: RequestContext, engagement: Engagement) -> bool:
    """Drop the override (``risk method reset``); whether there was one."""
    dropped = service.reset_override(ctx.db, engagement)
    if dropped:
        record_event(
            ctx.db,
            "risk.method.reset",
            actor=ctx.actor,
            client_id=engagement.client_id,
            engagement_id=engagement.id,
        )
    return dropped


def edit_threat(
    ctx: RequestContext, engagement: Engagement, threat_id: str, body: ThreatEditBody
) -> dict[str, Any]:
    """Change a threat for this engagement (``risk threats edit``)."""
    data = service.edit_threat(
        ctx.db, engagement, threat_id, body.changes(), reset=body.reset, actor=ctx.actor
    )
    record_event(
        ctx.db,
        "risk.threat.edit",
        actor=ctx.actor,
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        target=data["id"],
        detail={"edited": data["edited"], "reset": body.reset},
    )
    return data


@router.get("/risk/method", **action("risk.read"))
def method_show(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """The method parameters in force for the engagement and its stored override."""
    return method_view(ctx, engagement_for(ctx, engagement, "risk.read"))


@router.post("/risk/method", dependencies=CSRF, **action("risk.assess"))
async def method_set(
    ctx: Ctx, engagement: EngagementQuery, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    """Store an uploaded (partial) method YAML file as the engagement's override."""
    target = engagement_for(ctx, engagement, "risk.assess")
    data, name = await read_method_upload(file)
    return set_method(ctx, target, data, name)


@router.post("/risk/method/reset", dependencies=CSRF, **action("risk.assess"))
def method_reset(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """Back to the shipped parameters."""
    target = engagement_for(ctx, engagement, "risk.assess")
    return {"reset": reset_method(ctx, target)} | method_view(ctx, target)


@router.get("/risk/threats", **action("risk.read"))
def threats(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """The engagement's threat catalogue with its edits and threat values."""
    target = engagement_for(ctx, engagement, "risk.read")
    return {"items": service.list_threats(ctx.db, target)}


@router.post("/risk/threats/{threat_id}", dependencies=CSRF, **action("risk.assess"))
def threat_edit(
    ctx: Ctx,
    engagement: EngagementQuery,
    threat_id: Annotated[str, Path(min_length=1, max_length=32)],
    body: ThreatEditBody,
) -> dict[str, Any]:
    """Set frequency, capability or other fields of a threat (or reset its edits)."""
    return edit_threat(ctx, engagement_for(ctx, engagement, "risk.assess"), threat_id, body)
