"""``/api/v1/credentials``: an engagement's target credentials (J2), secrets write-only.

Secrets arrive in a POST body only and are never returned: listings carry names, kinds,
users, target patterns and timestamps. Every change is audited by the service layer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shaobing.core.errors import ConflictError, NotFoundError
from shaobing.core.i18n import t
from shaobing.credentials import service
from shaobing.credentials.models import TargetCredential
from shaobing.server.access import engagement_for, visible
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["credentials"])

EngagementQuery = Annotated[str, Query(min_length=1, max_length=64)]


class SecretBody(BaseModel):
    """A new secret: a password, or a private key (PEM) with an optional passphrase."""

    secret: str = Field(min_length=1, max_length=service.MAX_KEY)
    passphrase: str | None = Field(default=None, max_length=service.MAX_PASSWORD)

    def as_secret(self) -> service.Secret:
        """The service's form of the secret."""
        return service.Secret(self.secret, self.passphrase or None)


class CredentialBody(SecretBody):
    """A credential to store."""

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["ssh_password", "ssh_key", "db_password"]
    username: str = Field(default="", max_length=128)
    targets: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=64
    )


def credential_for(ctx: RequestContext, credential_id: int, action_name: str) -> TargetCredential:
    """A credential by id with the tenant rule applied (another client's is "not found")."""
    row = ctx.db.get(TargetCredential, credential_id)
    if row is None or not visible(ctx, row.client_id):
        raise NotFoundError(t("credentials.not_found_id", id=credential_id))
    ctx.authorize(action_name, client_id=row.client_id)
    return row


def add(ctx: RequestContext, engagement_ref: str, body: CredentialBody) -> TargetCredential:
    """Store a credential for the engagement (the API's and the page's way)."""
    engagement = engagement_for(ctx, engagement_ref, "credential.write")
    data = service.CredentialInput(body.name, body.kind, body.username, list(body.targets))
    return service.add_credential(ctx.db, engagement, data, body.as_secret(), actor=ctx.actor)


@router.get("/credentials", **action("credential.read"))
def list_credentials(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """The engagement's credentials (never their secrets)."""
    found = engagement_for(ctx, engagement, "credential.read")
    rows = service.list_credentials(ctx.db, found)
    return {"items": [service.credential_as_dict(c) for c in rows]}


@router.post("/credentials", status_code=201, dependencies=CSRF, **action("credential.write"))
def create(ctx: Ctx, engagement: EngagementQuery, body: CredentialBody) -> dict[str, Any]:
    """Store a credential; the answer describes it without the secret."""
    return service.credential_as_dict(add(ctx, engagement, body))


@router.delete("/credentials/{credential_id}", dependencies=CSRF, **action("credential.write"))
def delete(
    ctx: Ctx, credential_id: int, name: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """Delete a credential; ``name``, when given, must be its name (guards against a wrong id)."""
    cred = credential_for(ctx, credential_id, "credential.write")
    if name is not None and name != cred.name:
        raise ConflictError(t("credentials.name_mismatch", id=credential_id, name=name))
    name = cred.name
    service.remove_credential(ctx.db, cred, actor=ctx.actor)
    return {"deleted": name, "id": credential_id}


@router.post("/credentials/{credential_id}/rotate", dependencies=CSRF, **action("credential.write"))
def rotate(ctx: Ctx, credential_id: int, body: SecretBody) -> dict[str, Any]:
    """Replace a credential's secret."""
    cred = credential_for(ctx, credential_id, "credential.write")
    service.rotate_credential(ctx.db, cred, body.as_secret(), actor=ctx.actor)
    return service.credential_as_dict(cred)
