"""Conventions shared by the console's work pages: context, CSRF, redirects, form input."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

import pydantic
from fastapi import Depends
from fastapi.responses import RedirectResponse

from shaobing.auth.permissions import PermissionDenied
from shaobing.core.errors import ConflictError, NotFoundError, ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.findings.workflow import status_label
from shaobing.server.context import RequestContext, csrf_guard, request_context

PageCtx = Annotated[RequestContext, Depends(request_context)]
# Every form POST of a page carries the session's CSRF token (hidden field csrf_token).
CSRF_PAGE = [Depends(csrf_guard)]


def see_other(path: str, **params: object) -> RedirectResponse:
    """POST/redirect/GET: back to a page (query parameters with a value only)."""
    kept = {k: v for k, v in params.items() if not (v is None or v is False or v == "")}
    query = urlencode({k: "true" if v is True else v for k, v in kept.items()})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def refused(ctx: RequestContext, exc: ShaobingError) -> tuple[str, int]:
    """Undo the handler's changes and give the message and status to show on the page.

    A refused permission is not a form error: it goes on to the console's 403 page.
    """
    ctx.db.rollback()
    if isinstance(exc, PermissionDenied):
        raise exc
    status = 400
    if isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, ConflictError):
        status = 409
    return exc.message, status


def body_error(exc: pydantic.ValidationError) -> ValidationError:
    """A form that does not fit the API's body model, as one Chinese line."""
    errors = exc.errors()
    if not errors:
        return ValidationError(t("server.invalid_input", field="-", problem=""))
    where = ".".join(str(p) for p in errors[0]["loc"])
    return ValidationError(t("server.invalid_input", field=where or "-", problem=errors[0]["msg"]))


def lines(text: str | None) -> list[str]:
    """The non-empty lines of a textarea (one entry per line)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def form_date(value: str | None, field: str) -> date | None:
    """A date field of a form (YYYY-MM-DD), empty meaning none."""
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            t("server_pages.bad_date", field=t(f"server_pages.field.{field}"), value=value[:40])
        ) from None


def label(group: str, value: str | None) -> str:
    """The Chinese label of a code under ``server_pages.<group>`` (the code itself if none)."""
    if value is None:
        return "—"
    key = f"server_pages.{group}.{value}"
    text = t(key)
    return value if text == key else text


def helpers() -> dict[str, Any]:
    """Functions every work page's template may call."""
    return {"label": label, "state_label": status_label}
