"""Conventions shared by the API routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from shaobing.server.context import RequestContext, csrf_guard, request_context

# Every route that touches data names the permission it checks; the role/tenant matrix test
# reads this from the app's routes, so a route without it fails that test.
ACTION_KEY = "x-shaobing-action"

Ctx = Annotated[RequestContext, Depends(request_context)]
# Routers that change data list this among their dependencies (cookie callers need CSRF).
CSRF = [Depends(csrf_guard)]


def action(name: str) -> dict[str, Any]:
    """Route keyword arguments that record the permission the route checks."""
    return {"openapi_extra": {ACTION_KEY: name}}
