"""Objects some matrix cases need on both tenants (scans, runs, builds, deliverables, assets)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from shaobing.assess.risk import service as risk
from shaobing.assets.service import import_rows, list_assets
from shaobing.core.db import session_scope
from shaobing.credentials.service import SSH_PASSWORD, CredentialInput, Secret, add_credential
from shaobing.engagements.models import Client, Engagement
from shaobing.reports.models import ReportBuild
from shaobing.scan import service as scans
from shaobing.scan.models import ScanRun
from tests.ledger_rows import host_row
from tests.server.conftest import Side
from tests.server.work import seed


def _scan(engine: Engine, side: Side, tmp: Path) -> int:
    request = scans.ScanRequest(targets=["127.0.0.30"], engagement=side.engagement_code, ports="80")
    return scans.plan_scan(engine, request, actor="test")


def _cancelled_scan(engine: Engine, side: Side, tmp: Path) -> int:
    scan_id = _scan(engine, side, tmp)
    with session_scope(engine) as db:
        db.get_one(ScanRun, scan_id).status = "cancelled"
    return scan_id


def _baseline(engine: Engine, side: Side, tmp: Path) -> int:
    return seed.baseline_run(engine, side.engagement_code, tmp)


def _risk(engine: Engine, side: Side, tmp: Path) -> int:
    with session_scope(engine) as db:
        result = risk.assess(db, db.get_one(Engagement, side.engagement_id), actor="test")
        return int(result["run_id"])


def _build(engine: Engine, side: Side, tmp: Path) -> int:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"report-{side.engagement_code}.html"
    path.write_text("<!DOCTYPE html><title>报告</title><p>矩阵测试</p>", encoding="utf-8")
    data = path.read_bytes()
    with session_scope(engine) as db:
        row = ReportBuild(
            client_id=side.client_id,
            engagement_id=side.engagement_id,
            report_type="vuln_scan",
            report_no=f"SB-VS-{side.engagement_code}-001",
            seq=1,
            format="html",
            path=str(path),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            built_by="test",
        )
        db.add(row)
        db.flush()
        return row.id


def _deliverable(engine: Engine, side: Side, tmp: Path) -> int:
    return seed.deliverable(engine, side.engagement_id)


def _asset(engine: Engine, side: Side, tmp: Path) -> int:
    with session_scope(engine) as db:
        client = db.get_one(Client, side.client_id)
        row = host_row(f"{side.engagement_code} 服务器", "127.0.0.40", None, (2, 2, 2))
        import_rows(db, client, [row], [], source_name="matrix", actor="test")
    with session_scope(engine, readonly=True) as db:
        return list_assets(db, db.get_one(Client, side.client_id))[0].id


def _credential(engine: Engine, side: Side, tmp: Path) -> int:
    data = CredentialInput("matrix-cred", SSH_PASSWORD, "ops", ["*"])
    with session_scope(engine) as db:
        engagement = db.get_one(Engagement, side.engagement_id)
        return add_credential(db, engagement, data, Secret("matrix-pw"), actor="test").id


def _assessments(engine: Engine, side: Side, tmp: Path) -> int:
    seed.assessments(engine, side.engagement_id)
    return side.engagement_id


MAKERS: dict[str, Callable[[Engine, Side, Path], int]] = {
    "scan": _scan,
    "cancelled_scan": _cancelled_scan,
    "baseline": _baseline,
    "risk": _risk,
    "build": _build,
    "deliverable": _deliverable,
    "asset": _asset,
    "assessments": _assessments,
    "credential": _credential,
}
