"""Read-only catalogues: scan policies, baseline profiles, report types, vulnerability database."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, or_, select

from shaobing.baseline.loader import raw_profiles
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.reports import config as report_config
from shaobing.reports.render import FORMATS
from shaobing.scan.policy import load_policies
from shaobing.server.api.common import Ctx, action
from shaobing.vulndb.models import CpeCriterionRecord, Cve
from shaobing.vulndb.query import cve_summaries
from shaobing.vulndb.records import cpe_field

router = APIRouter(tags=["catalog"])

_CVE_PREFIX = re.compile(r"^CVE-\d{4}(-\d{0,7})?$", re.IGNORECASE)
MAX_HITS = 100


def policy_rows() -> list[dict[str, Any]]:
    """The scan policies (built-in and the organisation's) for pickers and the API."""
    return [
        {
            "name": p.name,
            "title": p.title,
            "description": p.description,
            "safety": [s.value for s in p.safety],
            "ports": p.ports,
            "udp_ports": list(p.udp_ports),
        }
        for p in load_policies().values()
    ]


def profile_rows() -> list[dict[str, Any]]:
    """The baseline profiles with their rule counts."""
    return [
        {"id": pid, "title": raw.title or pid, "target": raw.target, "rules": len(raw.rules)}
        for pid, raw in sorted(raw_profiles().items())
    ]


def report_type_rows() -> list[dict[str, Any]]:
    """The report types with their deliverable kind and period rule."""
    return [
        {
            "type": name,
            "title": kind.title,
            "deliverable": kind.deliverable,
            "period": kind.period,
            "description": kind.description,
            "formats": list(FORMATS),
        }
        for name, kind in report_config.report_types().types.items()
    ]


@router.get("/policies", **action("policy.read"))
def policies(ctx: Ctx) -> dict[str, Any]:
    """Scan policies."""
    ctx.authorize("policy.read")
    return {"items": policy_rows()}


@router.get("/baseline/profiles", **action("baseline.read"))
def profiles(ctx: Ctx) -> dict[str, Any]:
    """Baseline profiles."""
    ctx.authorize("baseline.read", client_id=ctx.tenant)
    return {"items": profile_rows()}


@router.get("/reports/types", **action("report.read"))
def report_types(ctx: Ctx) -> dict[str, Any]:
    """Report types and their formats."""
    ctx.authorize("report.read", client_id=ctx.tenant)
    return {"items": report_type_rows()}


@router.get("/vulndb", **action("vulndb.read"))
def vulndb_search(
    ctx: Ctx,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=MAX_HITS)] = 20,
) -> dict[str, Any]:
    """CVEs by id (or id prefix), affected product name, or words of the description."""
    ctx.authorize("vulndb.read")
    text = q.strip()
    if len(text) < 2:
        raise ValidationError(t("server_work.vulndb.query_short", q=q))
    if _CVE_PREFIX.match(text):
        query = select(Cve.id).where(Cve.id.like(f"{text.upper()}%")).order_by(Cve.id.desc())
    else:
        product = select(CpeCriterionRecord.cve_id).where(
            CpeCriterionRecord.product == cpe_field(text)
        )
        pattern = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = (
            select(Cve.id)
            .where(or_(Cve.id.in_(product), func.lower(Cve.description).like(pattern, escape="\\")))
            .order_by(Cve.modified.desc(), Cve.id.desc())
        )
    ids = list(ctx.db.scalars(query.limit(limit)))
    found = cve_summaries(ctx.db, ids)
    items = []
    for cve_id in ids:
        s = found[cve_id]
        items.append(
            {
                "id": s.id,
                "severity": s.severity,
                "score": s.score,
                "cvss_vector": s.cvss_vector,
                "kev": s.kev,
                "epss_score": s.epss_score,
                "cnvd_ids": list(s.cnvd_ids),
                "cnnvd_ids": list(s.cnnvd_ids),
                "rejected": s.rejected,
                "description": s.description,
            }
        )
    return {"query": text, "items": items}
