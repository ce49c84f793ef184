"""All page routers of the console."""

from __future__ import annotations

from fastapi import APIRouter

from shaobing.server.pages import (
    admin,
    assessment,
    assets,
    auth,
    baseline,
    credentials,
    engagements,
    findings,
    hardening,
    overview,
    reports,
    riskconfig,
    scans,
    vulndb,
    workorders,
)

pages_router = APIRouter(include_in_schema=False)
for module in (
    auth,
    overview,
    findings,
    workorders,
    engagements,
    assets,
    admin,
    scans,
    baseline,
    assessment,
    reports,
    credentials,
    hardening,
    vulndb,
    riskconfig,
):
    pages_router.include_router(module.router)
