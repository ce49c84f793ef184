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
    hardening,
    imports,
    reportconfig,
    reports,
    riskconfig,
    scans,
    users,
    vulndb,
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
    vulndb,
    riskconfig,
    reportconfig,
    hardening,
):
    api_router.include_router(module.router)
