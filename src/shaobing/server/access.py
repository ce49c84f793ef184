"""Loading objects for a request with the tenant rule applied before anything else.

A client user asking for another client's object gets the same "not found" answer as for
an object that does not exist (no hint that the id is in use); a user whose role lacks the
action gets "permission denied". Staff roles see every client.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select

from shaobing.core.errors import NotFoundError
from shaobing.core.i18n import t
from shaobing.core.models import TenantScoped
from shaobing.engagements.models import Client, Engagement
from shaobing.engagements.service import resolve_engagement
from shaobing.server.context import RequestContext

_T = TypeVar("_T", bound=TenantScoped)


def visible(ctx: RequestContext, client_id: int | None) -> bool:
    """Whether the user may see data of ``client_id`` at all (tenant rule only)."""
    tenant = ctx.tenant
    return tenant is None or client_id == tenant


def visible_engagements(ctx: RequestContext, action: str) -> list[Engagement]:
    """The engagements the user may see for ``action``, newest first."""
    ctx.authorize(action, client_id=ctx.tenant)
    query = select(Engagement).order_by(Engagement.id.desc())
    if ctx.tenant is not None:
        query = query.where(Engagement.client_id == ctx.tenant)
    return list(ctx.db.scalars(query))


def engagement_for(ctx: RequestContext, ref: str, action: str) -> Engagement:
    """The engagement named by ``ref`` (id or code) if the user may do ``action`` on it."""
    client_id = ctx.tenant
    client = ctx.db.get(Client, client_id) if client_id is not None else None
    try:
        engagement = resolve_engagement(ctx.db, str(ref), client)
    except NotFoundError:
        raise NotFoundError(t("engagements.not_found", ref=ref)) from None
    ctx.authorize(action, client_id=engagement.client_id)
    return engagement


def client_for(ctx: RequestContext, client_id: int, action: str) -> Client:
    """A client by id if visible to the user and the action is allowed on it."""
    client = ctx.db.get(Client, client_id)
    if client is None or not visible(ctx, client.id):
        raise NotFoundError(t("server.not_found.client", id=client_id))
    ctx.authorize(action, client_id=client.id)
    return client


def tenant_object(
    ctx: RequestContext, model: type[_T], object_id: int, action: str, label: str
) -> _T:
    """A tenant-scoped row by id, refused as not found across tenants."""
    row = ctx.db.get(model, object_id)
    if row is None or not visible(ctx, row.client_id):
        raise NotFoundError(
            t("server.not_found.object", what=t(f"server.objects.{label}"), id=object_id)
        )
    ctx.authorize(action, client_id=row.client_id)
    return row
