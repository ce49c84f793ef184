"""``/api/v1/scans``: list, progress, launch (network or web) and pause/resume/cancel.

A launch plans the scan in the request (the services check the scope and record the plan),
then the scan itself runs in a detached process (:mod:`shaobing.server.scan_runner`); the
scan page polls ``GET /api/v1/scans/{id}`` for its progress.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from shaobing.core.errors import ConflictError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import Scope
from shaobing.engagements.models import Engagement
from shaobing.engagements.scope_guard import check_target, scope_of
from shaobing.findings.severity import Severity
from shaobing.scan import service as scan_service
from shaobing.scan.engine import PHASES, ScanState
from shaobing.scan.models import ScanRun, ScanStatus
from shaobing.server import scan_runner
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext
from shaobing.web.service import WebScanRequest, plan_webscan

router = APIRouter(tags=["scans"])

FINAL = frozenset({ScanStatus.COMPLETED.value, ScanStatus.CANCELLED.value, ScanStatus.FAILED.value})
MAX_TARGETS = 256


class LaunchBody(BaseModel):
    """A scan to launch: the engagement, the kind and the options of that kind."""

    engagement: str = Field(min_length=1, max_length=64)
    kind: Literal["network", "web"] = "network"
    policy: str | None = Field(default=None, max_length=100)
    # network
    targets: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=MAX_TARGETS
    )
    exclude: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=MAX_TARGETS
    )
    ports: str | None = Field(default=None, max_length=2000)
    rate: int | None = Field(default=None, ge=0, le=1_000_000)
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    per_host: int | None = Field(default=None, ge=1, le=256)
    timeout: float | None = Field(default=None, gt=0, le=120)
    engine: Literal["native", "nmap"] = "native"
    # web
    url: str | None = Field(default=None, max_length=2000)
    login_form: str | None = Field(default=None, max_length=2000)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=500)
    cookie: str | None = Field(default=None, max_length=8000)
    headers: list[Annotated[str, Field(max_length=4000)]] = Field(
        default_factory=list, max_length=20
    )
    max_pages: int | None = Field(default=None, ge=1, le=1_000_000)
    max_time: float | None = Field(default=None, ge=1, le=7 * 86400)
    max_requests: int | None = Field(default=None, ge=1, le=100_000_000)
    allow_destructive: bool = False


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _progress(run: ScanRun) -> tuple[str, int]:
    """The current phase and a rough percentage (phases weigh the same; sweeps by host)."""
    if run.status == ScanStatus.COMPLETED.value:
        return "done", 100
    if run.kind != "network":
        return "web", 0
    state = ScanState.from_json(dict(run.checkpoint or {}))
    phase = state.phase
    steps = len(PHASES) - 1
    index = PHASES.index(phase) if phase in PHASES else 0
    fraction = 0.0
    if phase == "ports" and state.addresses:
        fraction = len(state.swept) / len(state.addresses)
    return phase, min(99, int(100 * (index + fraction) / steps))


def _counts(run: ScanRun) -> dict[str, Any]:
    stats = dict(run.stats or {})
    if run.kind == "network":
        return {
            "addresses": stats.get("addresses", run.plan.get("addresses", 0)),
            "hosts_up": stats.get("hosts_up", 0),
            "open_ports": stats.get("open_ports", 0),
            "identified": stats.get("identified", 0),
            "checks_run": stats.get("checks_run", 0),
            "findings": len((run.checkpoint or {}).get("fingerprints", [])),
            "refused": run.plan.get("refused_count", 0),
        }
    return {
        "pages": stats.get("pages", 0),
        "requests": stats.get("requests", 0),
        "findings": stats.get("findings", 0),
        "by_severity": stats.get("by_severity", {}),
    }


def scan_view(ctx: RequestContext, run: ScanRun) -> dict[str, Any]:
    """A scan's state as the list, the page and its live refresh show it."""
    engagement = ctx.db.get(Engagement, run.engagement_id)
    phase, percent = _progress(run)
    phase_label = t("server_work.scan.phase_web") if phase == "web" else t(f"scan.phase.{phase}")
    return {
        "id": run.id,
        "kind": run.kind,
        "kind_label": t(f"server_work.scan.kind.{run.kind}")
        if run.kind in scan_runner.KINDS
        else run.kind,
        "engagement_id": run.engagement_id,
        "engagement": engagement.name if engagement else None,
        "engagement_code": engagement.code if engagement else None,
        "status": run.status,
        "status_label": t(f"scan.status.{run.status}"),
        "final": run.status in FINAL,
        "control": run.control,
        "phase": phase,
        "phase_label": phase_label,
        "progress": percent,
        "policy": run.policy,
        "policy_title": run.plan.get("policy_title"),
        "targets": list(run.targets or []),
        "counts": _counts(run),
        "message": run.message,
        "created_by": run.created_by,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "expected_end": _iso(run.expected_end),
    }


def scan_detail(ctx: RequestContext, run: ScanRun) -> dict[str, Any]:
    """The view plus the plan summary and, for network scans, hosts, ports and findings."""
    data = scan_view(ctx, run)
    plan = run.plan or {}
    data["plan"] = {
        key: plan.get(key)
        for key in (
            "addresses",
            "refused_count",
            "ports",
            "port_count",
            "expected_seconds",
            "expected_connections",
            "safety",
            "target",
            "max_pages",
            "authenticated",
        )
        if key in plan
    }
    data["refused"] = list(plan.get("refused", []))[:50]
    if run.kind == "network":
        result = scan_service.scan_result(ctx.db, run)
        data["hosts"] = result["hosts"]
        data["findings"] = result["findings"][:500]
        data["errors"] = result["stats"]["errors"]
    else:
        data["hosts"] = []
        data["findings"] = []
        data["errors"] = list((run.stats or {}).get("error_samples", []))
    data["severity_counts"] = _severity_counts(data["findings"], run)
    return data


def _severity_counts(findings: list[dict[str, Any]], run: ScanRun) -> dict[str, int]:
    counts = {s.value: 0 for s in Severity}
    if run.kind == "web":
        counts.update((run.stats or {}).get("by_severity", {}))
        return counts
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    return counts


def list_runs(
    ctx: RequestContext, engagement: Engagement | None, limit: int = 100
) -> list[ScanRun]:
    """Scan runs of one engagement (or of every visible one), newest first."""
    query = select(ScanRun).order_by(ScanRun.id.desc()).limit(limit)
    if engagement is not None:
        query = query.where(ScanRun.engagement_id == engagement.id)
    elif ctx.tenant is not None:
        query = query.where(ScanRun.client_id == ctx.tenant)
    return list(ctx.db.scalars(query))


def _web_scope(ctx: RequestContext, engagement: Engagement, scope: Scope, url: str) -> None:
    """Refuse a web target outside the engagement's scope before anything is recorded.

    ``scope`` is read before the request's transaction ends: the refusal is audited in a
    transaction of its own, which must not wait on this session.
    """
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname
    if not host:
        raise ValidationError(t("web.scan.bad_target", target=url))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError(t("web.scan.bad_target", target=url)) from None
    decision = check_target(
        engagement,
        host,
        port=port,
        engine=ctx.engine,
        actor=ctx.actor,
        operation="webscan",
        scope=scope,
    )
    if not decision.allowed:
        raise ValidationError(
            t("server_work.scan.out_of_scope", target=url, reason=decision.message)
        )


def launch_scan(ctx: RequestContext, body: LaunchBody) -> int:
    """Plan the scan (scope enforced by the services) and start it in the background."""
    engagement = engagement_for(ctx, body.engagement, "scan.launch")
    ref = str(engagement.id)
    scope = scope_of(engagement)
    # The services open their own transactions (and audit scope refusals in another one).
    ctx.db.commit()
    if body.kind == "network":
        targets = [x.strip() for x in body.targets if x.strip()]
        if not targets:
            raise ValidationError(t("server_work.scan.need_targets"))
        request = scan_service.ScanRequest(
            targets=targets,
            exclude=[x.strip() for x in body.exclude if x.strip()],
            engagement=ref,
            policy=body.policy or None,
            ports=body.ports or None,
            rate=body.rate,
            concurrency=body.concurrency,
            per_host=body.per_host,
            timeout=body.timeout,
            engine=body.engine,
        )
        scan_id = scan_service.plan_scan(ctx.engine, request, actor=ctx.actor)
        scan_runner.launch(ctx.engine, scan_id, "network", actor=ctx.actor)
        return scan_id
    url = (body.url or "").strip()
    if not url:
        raise ValidationError(t("server_work.scan.need_url"))
    _web_scope(ctx, engagement, scope, url)
    web = WebScanRequest(
        target=url,
        engagement=ref,
        policy=body.policy or None,
        login_url=body.login_form or None,
        username=body.username or None,
        password=body.password or None,
        cookie=body.cookie or None,
        headers=list(body.headers),
        max_pages=body.max_pages,
        max_time=body.max_time,
        max_requests=body.max_requests,
        timeout=body.timeout,
        allow_destructive=body.allow_destructive,
    )
    scan_id, _ = plan_webscan(ctx.engine, web, actor=ctx.actor)
    payload = {k: getattr(web, k) for k in WebScanRequest.__dataclass_fields__}
    scan_runner.launch(ctx.engine, scan_id, "web", actor=ctx.actor, payload=payload)
    return scan_id


def control_scan(ctx: RequestContext, scan_id: int, what: str) -> str:
    """Pause, cancel or resume scan ``scan_id``; returns its status afterwards."""
    run = tenant_object(ctx, ScanRun, scan_id, "scan.control", "scan")
    if run.kind != "network":
        raise ValidationError(t("server_work.scan.web_no_control", id=scan_id))
    status = run.status
    ctx.db.commit()
    if what != "resume":
        return scan_service.request_control(ctx.engine, scan_id, what, actor=ctx.actor)
    if status == ScanStatus.RUNNING.value:
        raise ConflictError(
            t("server_work.scan.not_resumable", id=scan_id, status=t(f"scan.status.{status}"))
        )
    if status not in (ScanStatus.PAUSED.value, ScanStatus.PLANNED.value):
        raise ValidationError(
            t("server_work.scan.not_resumable", id=scan_id, status=t(f"scan.status.{status}"))
        )
    scan_runner.launch(ctx.engine, scan_id, "network", actor=ctx.actor)
    return status


@router.get("/scans", **action("scan.read"))
def list_scans(
    ctx: Ctx,
    engagement: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Scans of an engagement (or of every engagement the user may see), newest first."""
    target = engagement_for(ctx, engagement, "scan.read") if engagement else None
    if target is None:
        ctx.authorize("scan.read", client_id=ctx.tenant)
    return {"items": [scan_view(ctx, run) for run in list_runs(ctx, target, limit)]}


@router.get("/scans/{scan_id}", **action("scan.read"))
def show_scan(ctx: Ctx, scan_id: int) -> dict[str, Any]:
    """One scan: status, phase, progress, counts, plan, hosts and findings."""
    run = tenant_object(ctx, ScanRun, scan_id, "scan.read", "scan")
    return scan_detail(ctx, run)


@router.post("/scans", status_code=202, dependencies=CSRF, **action("scan.launch"))
def launch(ctx: Ctx, body: LaunchBody) -> dict[str, Any]:
    """Launch a network or web scan; it runs in the background (poll its state)."""
    scan_id = launch_scan(ctx, body)
    run = tenant_object(ctx, ScanRun, scan_id, "scan.read", "scan")
    return scan_view(ctx, run)


def _control_route(what: str) -> Any:
    def handler(ctx: Ctx, scan_id: int) -> dict[str, Any]:
        control_scan(ctx, scan_id, what)
        ctx.db.expire_all()
        run = tenant_object(ctx, ScanRun, scan_id, "scan.read", "scan")
        return scan_view(ctx, run)

    handler.__doc__ = f"Ask the scan to {what} (network scans)."
    handler.__name__ = f"{what}_scan"
    return handler


for _what in ("pause", "resume", "cancel"):
    router.add_api_route(
        f"/scans/{{scan_id}}/{_what}",
        _control_route(_what),
        methods=["POST"],
        dependencies=CSRF,
        **action("scan.control"),
    )
