"""``shaobing webscan``: plan, run and record a web scan in an engagement.

The scan run (kind ``web``) is recorded with its plan before anything is sent; every
connection passes the engagement's scope gate (refusals audited); issues become findings
through the one ingest path (work orders, SLA, de-duplication). A re-scan closes earlier
web findings of the same site only when it covered the site completely (no budget ran out)
and only for the checks that ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.core.audit import record_event
from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Client, Engagement
from shaobing.engagements.scope_guard import scope_of
from shaobing.engagements.service import (
    EngagementInput,
    add_client,
    create_engagement,
    resolve_engagement,
)
from shaobing.findings.fingerprint import load_config as load_fingerprint_config
from shaobing.findings.importers.base import CoverageInput, Record
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import Finding
from shaobing.scan.context import RateLimiter, ScanContext, ScopeGate
from shaobing.scan.models import ScanRun, ScanStatus
from shaobing.scan.policy import Policy, get_policy
from shaobing.web.callback import HttpCallback, callback_for
from shaobing.web.checks.base import (
    PassiveCheck,
    PointCheck,
    SiteCheck,
    passive_checks,
    point_checks,
    site_checks,
)
from shaobing.web.issues import CHECK_PREFIX, SOURCE_TOOL, WebIssue, finding_input
from shaobing.web.scan import Progress, WebScanner, WebScanOptions, WebScanOutcome, load_checks
from shaobing.web.session import LoginFailed
from shaobing.web.texts import catalogue
from shaobing.web.urls import UrlError, normalise, origin

FORMAT_NAME = "shaobing-webscan"
DEFAULT_POLICY = "web"
# Evidence shown per finding in the JSON summary (the finding keeps all of it).
_JSON_EVIDENCE = 2000


@dataclass
class WebScanRequest:
    """What the user asked for; None means the policy's value."""

    target: str
    engagement: str | None = None
    policy: str | None = None
    login_url: str | None = None
    username: str | None = None
    password: str | None = None
    cookie: str | None = None
    headers: list[str] = field(default_factory=list)
    max_pages: int | None = None
    max_time: float | None = None
    max_requests: int | None = None
    timeout: float | None = None
    allow_destructive: bool = False


def _parse_headers(values: list[str]) -> list[tuple[str, str]]:
    headers = []
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip() or any(c in value for c in "\r\n"):
            raise ValidationError(t("web.scan.bad_header", value=value[:100]))
        headers.append((name.strip(), content.strip()))
    return headers


def _policy_options(policy: Policy) -> dict[str, Any]:
    return dict(policy.options.get("webscan", {}))


def _int_option(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(
            t("web.scan.option_invalid", name=name, value=value, detail=f"{low}-{high}")
        )
    return value


def scan_options(request: WebScanRequest, policy: Policy) -> WebScanOptions:
    """The scan's options from the request over the policy's ``webscan`` options."""
    base = WebScanOptions()
    values = _policy_options(policy)
    max_pages = (
        request.max_pages
        if request.max_pages is not None
        else values.get("max_pages", base.max_pages)
    )
    max_time = (
        request.max_time
        if request.max_time is not None
        else values.get("max_time", base.max_seconds)
    )
    max_requests = (
        request.max_requests
        if request.max_requests is not None
        else values.get("max_requests", base.max_requests)
    )
    timeout = (
        request.timeout if request.timeout is not None else values.get("timeout", base.timeout)
    )
    if not isinstance(max_time, int | float) or not 0 < float(max_time) <= 7 * 86400:
        raise ValidationError(
            t("web.scan.option_invalid", name="max-time", value=max_time, detail="1-604800")
        )
    if not isinstance(timeout, int | float) or not 0 < float(timeout) <= 120:
        raise ValidationError(
            t("web.scan.option_invalid", name="timeout", value=timeout, detail="0-120")
        )
    if (request.username is None) != (request.password is None) or (
        request.username is not None and not request.login_url
    ):
        raise ValidationError(t("web.scan.login_incomplete"))
    check_options: dict[str, Any] = {}
    for key, value in policy.options.items():
        if key.startswith(CHECK_PREFIX):
            check_options[key] = value
    check_options.update({k: v for k, v in values.items() if k not in ("max_pages", "max_time")})
    return WebScanOptions(
        max_pages=_int_option(max_pages, "max-pages", 1, 1_000_000),
        max_depth=_int_option(values.get("max_depth", base.max_depth), "max_depth", 0, 100),
        max_seconds=float(max_time),
        max_requests=_int_option(max_requests, "max-requests", 1, 100_000_000),
        timeout=float(timeout),
        workers=_int_option(values.get("workers", base.workers), "workers", 1, 64),
        per_pattern=_int_option(
            values.get("per_pattern", base.per_pattern), "per_pattern", 1, 1000
        ),
        header_pages=_int_option(
            values.get("header_pages", base.header_pages), "header_pages", 0, 10000
        ),
        allow_destructive=request.allow_destructive or bool(values.get("allow_destructive", False)),
        login_url=request.login_url,
        username=request.username,
        password=request.password,
        cookie=request.cookie,
        headers=_parse_headers(request.headers),
        allow=policy.allows,
        check_options=check_options,
        excluded_paths=[str(p) for p in values.get("exclude_paths", [])],
        inject_headers=[str(h) for h in values.get("inject_headers", [])],
    )


def _adhoc_engagement(session: Session, target: str, actor: str) -> Engagement:
    """An engagement whose scope is exactly the target's host and port."""
    name = t("scan.adhoc_client")
    client = session.scalar(select(Client).where(Client.name == name))
    if client is None:
        client = add_client(session, name, actor=actor)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    spec = EngagementInput(
        name=t("web.scan.adhoc_engagement", stamp=stamp), scope=[origin(target)], adhoc=True
    )
    return create_engagement(session, client, spec, actor=actor)


def _checks_allowed(policy: Policy) -> list[dict[str, str]]:
    load_checks()
    every: list[PassiveCheck | SiteCheck | PointCheck] = [
        *passive_checks(),
        *site_checks(),
        *point_checks(),
    ]
    return [{"id": c.id, "safety": c.safety.value} for c in every if policy.allows(c.id, c.safety)]


def plan_webscan(
    engine: Engine, request: WebScanRequest, *, actor: str
) -> tuple[int, WebScanOptions]:
    """Record the scan run with its plan; returns its id and options. Sends nothing."""
    try:
        target = normalise(request.target)
    except UrlError:
        raise ValidationError(t("web.scan.bad_target", target=request.target)) from None
    policy = get_policy(request.policy or DEFAULT_POLICY)
    options = scan_options(request, policy)
    checks = _checks_allowed(policy)
    with session_scope(engine) as session:
        if request.engagement:
            engagement = resolve_engagement(session, request.engagement)
        else:
            engagement = _adhoc_engagement(session, target, actor)
        now = datetime.now(UTC)
        plan = {
            "target": target,
            "policy": policy.name,
            "policy_title": policy.title,
            "safety": [s.value for s in policy.safety],
            "checks": checks,
            "max_pages": options.max_pages,
            "max_seconds": options.max_seconds,
            "max_requests": options.max_requests,
            "authenticated": bool(options.login_url or options.cookie),
            "login_url": options.login_url,
            "allow_destructive": options.allow_destructive,
        }
        run = ScanRun(
            client_id=engagement.client_id,
            engagement_id=engagement.id,
            kind="web",
            status=ScanStatus.PLANNED.value,
            policy=policy.name,
            targets=[target],
            plan=plan,
            options={"timeout": options.timeout, "max_pages": options.max_pages},
            created_by=actor,
            created_at=now,
            expected_end=now + timedelta(seconds=options.max_seconds or 3600),
        )
        session.add(run)
        session.flush()
        record_event(
            session,
            "webscan.plan",
            actor=actor,
            client_id=engagement.client_id,
            engagement_id=engagement.id,
            target=target,
            detail={"scan_id": run.id, "policy": policy.name, "checks": len(checks)},
        )
        return run.id, options


def _context(
    engine: Engine, run: ScanRun, policy: Policy, timeout: float, actor: str
) -> ScanContext:
    with session_scope(engine, readonly=True) as session:
        engagement = session.get(Engagement, run.engagement_id)
        assert engagement is not None
        scope = scope_of(engagement)
    host = urlsplit(run.targets[0]).hostname or ""
    gate = ScopeGate(
        scope,
        client_id=run.client_id,
        engagement_id=run.engagement_id,
        audit_engine=engine,
        actor=actor,
        names={},
    )
    refusal = gate.time_refusal()
    if refusal is not None:
        raise ValidationError(refusal.message)
    decision = gate.decide(host) if not gate.port_sensitive(host) else None
    if decision is not None and not decision.allowed:
        raise ValidationError(
            t("web.scan.out_of_scope", target=run.targets[0], detail=decision.message)
        )
    return ScanContext(gate, RateLimiter(policy.rate), timeout=timeout)


def _records(outcome: WebScanOutcome, complete: bool) -> list[Record]:
    texts = catalogue()
    records: list[Record] = []
    if complete:
        records.append(CoverageInput(urls=[origin(outcome.target) + "/"]))
    records.extend(finding_input(issue, texts) for issue in outcome.issues)
    return records


def _finding_ids(
    session: Session, engagement_id: int, import_id: int | None
) -> dict[tuple[str, str, str], int]:
    if import_id is None:
        return {}
    rows = session.execute(
        select(Finding.id, Finding.check_id, Finding.url, Finding.parameter).where(
            Finding.engagement_id == engagement_id, Finding.last_import_id == import_id
        )
    )
    return {(check, url or "", parameter or ""): fid for fid, check, url, parameter in rows}


def _issue_json(issue: WebIssue, finding_id: int | None) -> dict[str, Any]:
    texts = catalogue()
    text = texts.text(issue.kind)
    record = finding_input(issue, texts)
    evidence = record.evidence or ""
    return {
        "id": finding_id,
        "check_id": record.check_id,
        "title": text.title,
        "severity": (issue.severity or text.severity).value,
        "cwe": [f"CWE-{n}" for n in text.cwe],
        "owasp": text.owasp,
        "url": issue.url,
        "method": issue.method,
        "parameter": issue.parameter,
        "evidence": evidence
        if len(evidence) <= _JSON_EVIDENCE
        else evidence[:_JSON_EVIDENCE] + "…",
    }


def execute_webscan(
    engine: Engine,
    scan_id: int,
    options: WebScanOptions,
    *,
    actor: str,
    progress: Progress | None = None,
    callback: Any = None,
) -> dict[str, Any]:
    """Run the planned web scan and record its findings; returns the ``--json`` summary."""
    with session_scope(engine) as session:
        run = session.get(ScanRun, scan_id)
        if run is None:
            raise ValidationError(t("web.scan.unknown", scan_id=scan_id))
        run.status = ScanStatus.RUNNING.value
        run.started_at = datetime.now(UTC)
        session.flush()
        session.expunge(run)
    policy = get_policy(run.policy)
    ctx = _context(engine, run, policy, options.timeout, actor)
    owned = None
    notes: list[str] = []
    if callback is None:
        owned, note = _callback(run.targets[0], options)
        callback = owned
        notes += [note] if note else []
    scanner = WebScanner(ctx, run.targets[0], options, callback=callback, progress=progress)
    try:
        outcome = scanner.run()
    except LoginFailed as exc:
        _fail(engine, scan_id, t("web.scan.login_failed", detail=str(exc)))
        raise ValidationError(t("web.scan.login_failed", detail=str(exc))) from None
    finally:
        if owned is not None:
            owned.close()
    complete = outcome.stopped is None
    settings = get_settings()
    ingest_options = IngestOptions(
        actor=actor,
        grouping=settings.workorder_grouping,
        dedup_scope=settings.dedup_scope,
        close_absent=complete,
        fingerprints=load_fingerprint_config(settings.home / "fingerprints.yaml"),
        close_check_ids=frozenset(_closable(outcome, with_callback=callback is not None)),
    )
    with session_scope(engine) as session:
        engagement = session.get(Engagement, run.engagement_id)
        assert engagement is not None
        summary = ingest(
            session,
            engagement,
            _records(outcome, complete),
            format_name=FORMAT_NAME,
            source_tool=SOURCE_TOOL,
            scan_run_id=scan_id,
            options=ingest_options,
        )
        ids = _finding_ids(session, engagement.id, summary.import_id)
        stored = session.get(ScanRun, scan_id)
        assert stored is not None
        stored.status = ScanStatus.COMPLETED.value
        stored.finished_at = datetime.now(UTC)
        stored.message = t("web.scan.stopped", reason=outcome.stopped) if outcome.stopped else None
        stats = _stats(outcome) | {"ingest": summary.as_dict(), "notes": notes}
        stored.stats = stats
        record_event(
            session,
            "webscan.finish",
            actor=actor,
            client_id=stored.client_id,
            engagement_id=stored.engagement_id,
            target=outcome.target,
            detail={
                "scan_id": scan_id,
                "findings": len(outcome.issues),
                "requests": outcome.requests,
            },
        )
    findings = []
    for issue in outcome.issues:
        record = finding_input(issue)
        key = (record.check_id, record.url or "", record.parameter or "")
        findings.append(_issue_json(issue, ids.get(key)))
    return {
        "scan_id": scan_id,
        "target": outcome.target,
        "pages": outcome.pages,
        "requests": outcome.requests,
        "findings": findings,
    } | {"stats": stats}


def _callback(target: str, options: WebScanOptions) -> tuple[HttpCallback | None, str | None]:
    """The SSRF/RFI listener for a scan of ``target`` (see the ``web_callback`` setting)
    and a note when it could not be set up (the scan goes on without those checks)."""
    settings = get_settings()
    host = urlsplit(target).hostname or ""
    try:
        listener = callback_for(
            host,
            options.check_options,
            mode=settings.web_callback,
            port=settings.web_callback_port,
            advertise=settings.web_callback_advertise,
        )
    except (OSError, ValueError) as exc:
        return None, t("web.scan.callback_failed", detail=str(exc))
    if listener is None:
        return None, t("web.scan.callback_off")
    return listener, None


def _closable(outcome: WebScanOutcome, *, with_callback: bool = True) -> set[str]:
    """Finding check ids a complete re-scan may close: the classes the checks that ran
    report (a passive-only scan must not close SQL injection findings)."""
    load_checks()
    ran = set(outcome.checks_run)
    kinds: set[str] = set()
    for check in point_checks():
        if check.id in ran:
            kinds.update(check.kinds)
    others: list[PassiveCheck | SiteCheck] = [*passive_checks(), *site_checks()]
    for other in others:
        if other.id in ran:
            kinds.update(getattr(other, "kinds", ()))
    if not with_callback:
        # Without the listener SSRF and remote inclusion were not tested.
        kinds -= {"ssrf", "rfi"}
    return {CHECK_PREFIX + kind for kind in kinds}


def _stats(outcome: WebScanOutcome) -> dict[str, Any]:
    by_severity: dict[str, int] = {}
    texts = catalogue()
    for issue in outcome.issues:
        level = (issue.severity or texts.text(issue.kind).severity).value
        by_severity[level] = by_severity.get(level, 0) + 1
    return {
        "pages": outcome.pages,
        "requests": outcome.requests,
        "seconds": round(outcome.seconds, 1),
        "findings": len(outcome.issues),
        "by_severity": by_severity,
        "tested_parameters": outcome.tested_points,
        "surface": len(outcome.crawl.surface),
        "forms": len(outcome.crawl.forms),
        "skipped_destructive": outcome.crawl.skipped_destructive[:100],
        "stopped": outcome.stopped,
        "errors": len(outcome.errors),
        "error_samples": outcome.errors[:10],
        "authenticated": outcome.authenticated,
        "checks": outcome.checks_run,
    }


def _fail(engine: Engine, scan_id: int, message: str) -> None:
    with session_scope(engine) as session:
        run = session.get(ScanRun, scan_id)
        if run is not None:
            run.status = ScanStatus.FAILED.value
            run.finished_at = datetime.now(UTC)
            run.message = message


__all__ = [
    "DEFAULT_POLICY",
    "WebScanRequest",
    "execute_webscan",
    "plan_webscan",
    "scan_options",
]
