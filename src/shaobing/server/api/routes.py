"""All API routers, mounted by the app under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from shaobing.server.api import (
    assess,
    assets,
    audit,
    auth,
    baseline,
    catalog,
    credentials,
    dashboard,
    deliverables,
    engagements,
    findings,
    imports,
    reports,
    scans,
    users,
    workorders,
)

api_router = APIRouter()
for module in (
    auth,
    dashboard,
    engagements,
    findings,
    workorders,
    users,
    audit,
    catalog,
    scans,
    baseline,
    assess,
    reports,
    deliverables,
    assets,
    imports,
    credentials,
):
    api_router.include_router(module.router)
