"""Rendering of the console's pages: one Jinja2 environment with autoescaping."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shaobing import __version__
from shaobing.auth.permissions import allowed_actions
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.server.context import RequestContext

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
# Installed by scripts/fetch-web-assets.sh (make deps); pages fall back to tables without it.
ECHARTS = TEMPLATE_DIR.parent / "static" / "vendor" / "echarts.min.js"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment (autoescaped HTML, undefined names are errors)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    env.globals["t"] = t
    env.globals["label"] = label
    env.filters["local_time"] = local_time
    return env


def local_time(value: str) -> str:
    """An ISO timestamp shown in the platform's time zone (``2026-11-22 20:31:05``)."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    return moment.astimezone(get_settings().tz).strftime("%Y-%m-%d %H:%M:%S")


def label(kind: str, value: object) -> str:
    """The Chinese label of a stored code (``label("engagement_status", "active")``)."""
    key = f"server.labels.{kind}.{value}"
    text = t(key)
    return str(value) if text == key else text


def render(
    request: Request,
    template: str,
    ctx: RequestContext | None = None,
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A full page; ``ctx`` supplies the user, the navigation and the CSRF token."""
    page = {
        "request": request,
        "path": request.url.path,
        "user": ctx.user if ctx else None,
        "csrf_token": ctx.csrf_token if ctx else "",
        "actions": allowed_actions(ctx.user.role) if ctx else frozenset(),
        "role_label": t(f"auth.role.{ctx.user.role}") if ctx else "",
        "policy": request.app.state.auth.config,
        "echarts": ECHARTS.exists(),
    }
    html = environment().get_template(template).render(**page, **values)
    return HTMLResponse(html, status_code=status)


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error page (no user context: it may be shown for a failed authentication)."""
    return render(request, "error.html", status=status, status_code=status, message=message)
