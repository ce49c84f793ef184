"""目标凭据 page: an engagement's credentials, with add, rotate and delete forms.

Secrets are typed into password fields (or a key textarea), sent once in the form POST and
never rendered back, not even after a refused form.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError as PydanticError

from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t
from shaobing.credentials import service
from shaobing.engagements.models import Engagement
from shaobing.server.api.credentials import CredentialBody, SecretBody, add, credential_for
from shaobing.server.context import RequestContext
from shaobing.server.pages.page_forms import CSRF_PAGE, PageCtx, body_error, lines, see_other
from shaobing.server.pages.render import render
from shaobing.server.pages.scans import pick_engagement, reraise_refusal

router = APIRouter()
NOTICES = frozenset({"saved", "deleted", "rotated"})
KIND_CHOICES = [(kind, f"credentials.kind.{kind}") for kind in service.KINDS]


def _page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    *,
    message: str | None = None,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "credential.read")
    rows = (
        [service.credential_as_dict(c) for c in service.list_credentials(ctx.db, chosen)]
        if chosen
        else []
    )
    return render(
        request,
        "credentials.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        credentials=rows,
        can_write=chosen is not None and ctx.can("credential.write", client_id=chosen.client_id),
        kinds=[(kind, t(key)) for kind, key in KIND_CHOICES],
        form=form or {"name": "", "kind": service.SSH_PASSWORD, "username": "", "targets": "*"},
        message=message,
        notice=notice,
    )


def _refused(
    ctx: RequestContext, request: Request, engagement: str | None, exc: ShaobingError, **kw: Any
) -> Response:
    reraise_refusal(exc)
    ctx.db.rollback()
    return _page(ctx, request, engagement, message=exc.message, status=400, **kw)


def _engagement_of(ctx: RequestContext, engagement_id: int) -> str:
    found = ctx.db.get(Engagement, engagement_id)
    return str(found.id) if found else ""


@router.get("/credentials")
def credentials_page(
    ctx: PageCtx,
    request: Request,
    engagement: str | None = None,
    done: str | None = None,
    name: str | None = None,
) -> Response:
    """The chosen engagement's credentials (never their secrets) and the forms."""
    notice = t(f"credentials.web.{done}", name=(name or "")[:64]) if done in NOTICES else None
    return _page(ctx, request, engagement, notice=notice)


@router.post("/credentials", dependencies=CSRF_PAGE)
def add_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=16)] = service.SSH_PASSWORD,
    username: Annotated[str, Form(max_length=128)] = "",
    targets: Annotated[str, Form(max_length=20000)] = "*",
    password: Annotated[str, Form(max_length=service.MAX_PASSWORD)] = "",
    key: Annotated[str, Form(max_length=service.MAX_KEY)] = "",
    passphrase: Annotated[str, Form(max_length=service.MAX_PASSWORD)] = "",
) -> Response:
    """Store a credential from the form, then back to the list."""
    # The secret fields are never put back into the form.
    form = {"name": name, "kind": kind, "username": username, "targets": targets}
    try:
        if not engagement:
            raise ShaobingError(t("credentials.web.need_engagement"))
        body = CredentialBody(
            name=name,
            kind=kind,  # checked by the model (Literal)
            username=username,
            targets=lines(targets.replace(",", "\n")) or ["*"],
            secret=key if kind == service.SSH_KEY else password,
            passphrase=passphrase or None,
        )
        cred = add(ctx, engagement, body)
    except PydanticError as exc:
        return _refused(ctx, request, engagement or None, body_error(exc), form=form)
    except ShaobingError as exc:
        return _refused(ctx, request, engagement or None, exc, form=form)
    return see_other("/credentials", engagement=cred.engagement_id, done="saved", name=cred.name)


@router.post("/credentials/{credential_id}/delete", dependencies=CSRF_PAGE)
def delete_form(ctx: PageCtx, request: Request, credential_id: int) -> Response:
    """Delete a credential (the form asks for confirmation first)."""
    cred = credential_for(ctx, credential_id, "credential.write")
    engagement, name = cred.engagement_id, cred.name
    service.remove_credential(ctx.db, cred, actor=ctx.actor)
    return see_other("/credentials", engagement=engagement, done="deleted", name=name)


@router.post("/credentials/{credential_id}/rotate", dependencies=CSRF_PAGE)
def rotate_form(
    ctx: PageCtx,
    request: Request,
    credential_id: int,
    password: Annotated[str, Form(max_length=service.MAX_PASSWORD)] = "",
    key: Annotated[str, Form(max_length=service.MAX_KEY)] = "",
    passphrase: Annotated[str, Form(max_length=service.MAX_PASSWORD)] = "",
) -> Response:
    """Replace a credential's secret from the row's form."""
    cred = credential_for(ctx, credential_id, "credential.write")
    engagement = _engagement_of(ctx, cred.engagement_id)
    try:
        body = SecretBody(
            secret=key if cred.kind == service.SSH_KEY else password,
            passphrase=passphrase or None,
        )
        service.rotate_credential(ctx.db, cred, body.as_secret(), actor=ctx.actor)
    except PydanticError as exc:
        return _refused(ctx, request, engagement, body_error(exc))
    except ShaobingError as exc:
        return _refused(ctx, request, engagement, exc)
    return see_other("/credentials", engagement=engagement, done="rotated", name=cred.name)
