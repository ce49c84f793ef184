"""Baseline checks as a service (C1, C2): open targets, run profiles, record results and findings.

Used by the CLI (and later the web console and scheduler). Without an engagement a check
only reports; with one, network targets (SSH hosts, database servers, the ``http_url`` of
online probes) are checked against the engagement's authorised scope before any connection,
and the run, every rule's result and the failures as findings (with work orders) are stored.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shaobing.baseline.collectors.base import CollectorUnavailable, HostCollector
from shaobing.baseline.collectors.database import DatabaseCollector, is_dsn, open_database
from shaobing.baseline.collectors.filesystem import LocalCollector, TreeCollector
from shaobing.baseline.engine import run_profile
from shaobing.baseline.http import fetch
from shaobing.baseline.loader import get_profile
from shaobing.baseline.model import Profile, Rule
from shaobing.baseline.models import BaselineRun
from shaobing.baseline.probes import Context
from shaobing.baseline.results import ProfileReport, RuleResult, Status
from shaobing.baseline.retest_hook import SOURCE_TOOL
from shaobing.baseline.score import profile_score
from shaobing.baseline.system import detect_os
from shaobing.baseline.wazuh import ScaPolicy, is_sca_policy, load_sca_policy, run_sca_policy
from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import Scope
from shaobing.engagements.models import Engagement
from shaobing.engagements.scope_guard import check_target, scope_of
from shaobing.engagements.service import resolve_engagement
from shaobing.findings.importers.base import CoverageInput, FindingInput, Record
from shaobing.findings.ingest import IngestOptions, IngestSummary, ingest
from shaobing.findings.severity import Severity

SEVERITIES = {
    "严重": Severity.CRITICAL,
    "高": Severity.HIGH,
    "中": Severity.MEDIUM,
    "低": Severity.LOW,
    "信息": Severity.INFO,
}
# SSH hosts checked at the same time. OpenSSH's MaxStartups (10:30:100) starts dropping
# unauthenticated connections beyond 10 per server, so one server is never hit harder.
DEFAULT_CONCURRENCY = 10


@dataclass
class Access:
    """How to reach targets: SSH credentials, sudo, the host collector of a DSN target."""

    password: str | None = None
    key_files: list[str] = field(default_factory=list)
    sudo: bool = False
    sudo_password: str | None = None
    known_hosts: str | None = None
    #: for DSN targets: where the server's files are read (local, ssh://..., or --root)
    files_from: str | None = None
    root: Path | None = None
    timeout: float = 15.0


@dataclass
class OpenedTarget:
    """Collectors of one target, and how findings name it."""

    label: str
    host: HostCollector | None
    db: DatabaseCollector | None
    address: str | None
    port: int | None = None
    spec: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        """Close connections."""
        if self.host is not None:
            await self.host.close()
        if self.db is not None:
            await self.db.close()


def _tree_hostname(root: Path) -> str:
    try:
        name = (root / "etc" / "hostname").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    return name.splitlines()[0] if name else root.name or str(root)


def _host_collector(text: str, access: Access) -> tuple[HostCollector, str | None, dict[str, Any]]:
    if text == "local":
        return LocalCollector(), socket.gethostname(), {"kind": "local"}
    if text.startswith("ssh://"):
        from shaobing.baseline.collectors.ssh import SshCollector, SshTarget  # noqa: PLC0415 - asyncssh only for SSH targets

        try:
            target = SshTarget.parse(text)
        except ValueError:
            raise ValidationError(t("baseline.target.bad_ssh", target=text)) from None
        target.password = target.password or access.password
        target.key_files = list(access.key_files)
        target.sudo = access.sudo
        target.sudo_password = access.sudo_password
        target.known_hosts = access.known_hosts
        target.connect_timeout = access.timeout
        spec = {
            "kind": "ssh",
            "host": target.host,
            "port": target.port,
            "user": target.user,
            "key_files": target.key_files,
            "sudo": target.sudo,
        }
        return SshCollector(target), target.host, spec
    raise ValidationError(t("baseline.target.unknown", target=text))


def open_target(text: str | None, access: Access) -> OpenedTarget:
    """Collectors for ``--target`` (local, ssh://, DSN) and ``--root``; nothing is connected yet."""
    if text is not None and is_dsn(text):
        try:
            db = open_database(text)
        except ValueError:
            raise ValidationError(t("baseline.target.bad_dsn", target=text)) from None
        host: HostCollector | None = None
        spec: dict[str, Any] = {"kind": "dsn", "dsn": db.label}
        if access.root is not None:
            host = TreeCollector(access.root)
        elif access.files_from:
            host, _, _ = _host_collector(access.files_from, access)
        label = db.label if host is None else f"{db.label} ({host.label})"
        return OpenedTarget(label, host, db, db.host, db.port, spec)
    if access.root is not None:
        if text not in (None, "local"):
            raise ValidationError(t("baseline.target.root_and_target", target=text))
        if not access.root.is_dir():
            raise ValidationError(t("baseline.target.bad_root", root=str(access.root)))
        tree = TreeCollector(access.root)
        return OpenedTarget(
            tree.label,
            tree,
            None,
            _tree_hostname(tree.root),
            spec={"kind": "root", "root": str(tree.root)},
        )
    collector, address, spec = _host_collector(text or "local", access)
    port = spec.get("port")
    return OpenedTarget(
        collector.label, collector, None, address, port if isinstance(port, int) else None, spec
    )


def check_scope(
    engagement: Engagement,
    opened: OpenedTarget,
    http_url: str | None,
    engine: Engine | None,
    actor: str,
    scope: Scope | None = None,
) -> None:
    """Refuse network targets (SSH, database, http_url) outside the engagement's scope.

    Call it outside any write transaction: a refusal is audited in a transaction of its own,
    which on SQLite would wait on the caller's lock (pass ``scope`` read beforehand).
    """
    if opened.spec.get("kind") in {"ssh", "dsn"} and opened.address:
        decision = check_target(
            engagement,
            opened.address,
            port=opened.port,
            engine=engine,
            actor=actor,
            operation="baseline.check",
            scope=scope,
        )
        if not decision.allowed:
            raise ValidationError(
                t("baseline.target.out_of_scope", target=opened.label, reason=decision.reason)
            )
    if http_url:
        parts = urlsplit(http_url)
        if parts.hostname:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            decision = check_target(
                engagement,
                parts.hostname,
                port=port,
                engine=engine,
                actor=actor,
                operation="baseline.http",
                scope=scope,
            )
            if not decision.allowed:
                raise ValidationError(
                    t("baseline.target.out_of_scope", target=http_url, reason=decision.reason)
                )


async def check_one(
    profile: Profile | ScaPolicy,
    opened: OpenedTarget,
    *,
    rules: Sequence[str] = (),
    allow_commands: bool = True,
) -> ProfileReport:
    """Run one profile (or Wazuh SCA policy) on one opened target; connection failures
    become an error result per rule."""
    try:
        if opened.host is not None:
            await opened.host.connect()
        if isinstance(profile, ScaPolicy):
            if opened.host is None:
                raise CollectorUnavailable(t("baseline.observed.no_host"))
            found = await detect_os(opened.host)
            report = await run_sca_policy(profile, opened.host, allow_commands=allow_commands)
            report.os = found.label if found else None
            return report
        chosen = select_rules(profile, rules)
        http_url = str(profile.variables.get("http_url") or "") or None
        ctx = Context(host=opened.host, db=opened.db, http=fetch, http_url=http_url)
        return await run_profile(profile, ctx, chosen)
    except CollectorUnavailable as exc:
        if isinstance(profile, ScaPolicy):
            results = [
                RuleResult(
                    rule_id=str(c.id),
                    title=c.title,
                    status=Status.ERROR,
                    observed=t("baseline.observed.unavailable", reason=exc.reason),
                    expected="",
                    remediation=c.remediation,
                )
                for c in profile.checks
            ]
            return ProfileReport(profile.id, opened.label, results, title=profile.name)
        return ProfileReport(
            profile=profile.id,
            target=opened.label,
            title=profile.title,
            results=[_unreachable(r, exc.reason) for r in select_rules(profile, rules)],
        )
    finally:
        await opened.close()


def _unreachable(rule: Rule, reason: str) -> RuleResult:
    return RuleResult(
        rule_id=rule.id,
        title=rule.title,
        status=Status.ERROR,
        observed=t("baseline.observed.unavailable", reason=reason),
        expected=rule.expected,
        severity=rule.severity,
        references=rule.references.model_dump(),
        remediation=rule.remediation.text,
    )


def load_checkable(name: str, variables: dict[str, str] | None = None) -> Profile | ScaPolicy:
    """A built-in/organisation profile, a rule file, or a Wazuh SCA policy file."""
    path = Path(name)
    if path.suffix in {".yml", ".yaml"} and path.is_file() and is_sca_policy(path):
        return load_sca_policy(path)
    return get_profile(name, variables)


def select_rules(profile: Profile, wanted: Sequence[str]) -> list[Rule]:
    """The profile's rules, or those named (exact ids or id prefixes ending in '.')."""
    if not wanted:
        return list(profile.rules)
    chosen: list[Rule] = []
    for name in wanted:
        hits = [
            r
            for r in profile.rules
            if r.id == name or (name.endswith(".") and r.id.startswith(name))
        ]
        if not hits:
            raise ValidationError(t("baseline.unknown_rule", rule=name, profile=profile.id))
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


async def check_many(
    profile: Profile | ScaPolicy,
    targets: Sequence[OpenedTarget],
    *,
    rules: Sequence[str] = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[ProfileReport], None] | None = None,
    allow_commands: bool = True,
) -> list[ProfileReport]:
    """Run one profile on many targets in parallel (SSH hosts: ``concurrency`` at a time)."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(opened: OpenedTarget) -> ProfileReport:
        async with gate:
            report = await check_one(profile, opened, rules=rules, allow_commands=allow_commands)
        if progress is not None:
            progress(report)
        return report

    jobs: list[Awaitable[ProfileReport]] = [one(o) for o in targets]
    return list(await asyncio.gather(*jobs))


def report_json(report: ProfileReport) -> dict[str, Any]:
    """The issue's ``--json`` shape for one target."""
    return {
        "profile": report.profile,
        "target": report.target,
        "score": profile_score(report),
        "os": report.os,
        "counts": report.counts(),
        "results": [r.as_json() for r in report.results],
    }


def finding_records(
    report: ProfileReport,
    address: str | None,
    port: int | None,
    *,
    target_spec: dict[str, Any] | None = None,
    profile_source: str | None = None,
) -> list[Record]:
    """Failed rules as findings; the host is covered so fixed rules close on re-check."""
    records: list[Record] = []
    for result in report.results:
        if result.status is not Status.FAIL:
            continue
        refs = result.references
        clauses = "、".join(refs.get("gb22239") or [])
        description = t(
            "baseline.finding.description",
            description=result.description,
            rationale=result.rationale,
            control=refs.get("control", ""),
            clauses=clauses,
        )
        records.append(
            FindingInput(
                source_tool=SOURCE_TOOL,
                check_id=result.rule_id,
                title=result.title,
                severity=SEVERITIES.get(result.severity, Severity.MEDIUM),
                description=description,
                remediation=result.remediation,
                host=address,
                port=port,
                protocol="tcp" if port else None,
                evidence=t(
                    "baseline.finding.evidence", observed=result.observed, expected=result.expected
                ),
                references=[f"GB/T 22239-2019 {c}" for c in refs.get("gb22239") or []]
                + [f"CIS {c}" for c in refs.get("cis") or []],
                confidence="confirmed",
                extra={
                    "profile": report.profile,
                    "target": report.target,
                    "gb22239": refs.get("gb22239") or [],
                    "control": refs.get("control"),
                    "cis": refs.get("cis") or [],
                    # how a retest reaches the target again (never secrets)
                    "target_spec": target_spec or {},
                    "profile_source": profile_source or report.profile,
                },
            )
        )
    if address:
        records.append(CoverageInput(hosts=[address]))
    return records


def record_report(
    session: Session,
    engagement: Engagement,
    report: ProfileReport,
    opened: OpenedTarget,
    *,
    actor: str,
    purpose: str = "check",
    started: datetime | None = None,
    make_findings: bool = True,
    profile_source: str | None = None,
) -> tuple[BaselineRun, IngestSummary | None]:
    """Store the run and turn failures into findings (closing rules that now pass)."""
    run = BaselineRun(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        profile=report.profile,
        target=report.target,
        host=opened.address,
        os=report.os,
        purpose=purpose,
        score=profile_score(report),
        counts=report.counts(),
        results=[r.as_json() for r in report.results],
        created_by=actor,
        started_at=started or datetime.now(UTC),
        finished_at=datetime.now(UTC),
    )
    session.add(run)
    session.flush()
    summary = None
    decided = frozenset(r.rule_id for r in report.results if r.status in {Status.PASS, Status.FAIL})
    if make_findings and decided:
        summary = ingest(
            session,
            engagement,
            finding_records(
                report,
                opened.address,
                opened.port,
                target_spec=opened.spec,
                profile_source=profile_source,
            ),
            format_name="baseline",
            source_tool=SOURCE_TOOL,
            file_name=f"{report.profile}@{report.target}",
            options=IngestOptions(actor=actor, close_check_ids=decided),
        )
    return run, summary


@dataclass
class CheckOutcome:
    """Reports plus what was stored."""

    reports: list[ProfileReport]
    run_ids: list[int] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)


def run_check(
    engine: Engine | None,
    *,
    profile_name: str,
    targets: Sequence[str | None],
    access: Access,
    engagement_ref: str | None,
    variables: dict[str, str],
    rules: Sequence[str] = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    actor: str = "system",
    progress: Callable[[ProfileReport], None] | None = None,
    allow_commands: bool = True,
) -> CheckOutcome:
    """``baseline check``: validate, enforce scope, run, and record when an engagement is given.

    ``profile_name`` may also be the path of a Wazuh SCA policy file, run directly (C4).
    """
    profile = load_checkable(profile_name, variables)
    opened = [open_target(t_, access) for t_ in (targets or [None])]
    needs_host = isinstance(profile, ScaPolicy) or profile.target == "host"
    if needs_host and any(o.host is None for o in opened):
        raise ValidationError(t("baseline.target.needs_host", profile=profile.id))
    http_url = None
    if isinstance(profile, Profile):
        http_url = str(profile.variables.get("http_url") or "") or None
    engagement_id: int | None = None
    if engagement_ref is not None:
        if engine is None:
            raise ValidationError(t("baseline.target.needs_database"))
        with session_scope(engine, readonly=True) as session:
            engagement = resolve_engagement(session, engagement_ref)
            scope = scope_of(engagement)
            engagement_id = engagement.id
        for item in opened:
            check_scope(engagement, item, http_url, engine, actor, scope)
    started = datetime.now(UTC)
    reports = asyncio.run(
        check_many(
            profile,
            opened,
            rules=rules,
            concurrency=concurrency,
            progress=progress,
            allow_commands=allow_commands,
        )
    )
    outcome = CheckOutcome(reports)
    if engagement_id is not None and engine is not None:
        with session_scope(engine) as session:
            stored = session.get(Engagement, engagement_id)
            assert stored is not None
            for report, item in zip(reports, opened, strict=True):
                run, summary = record_report(
                    session,
                    stored,
                    report,
                    item,
                    actor=actor,
                    started=started,
                    profile_source=profile_name,
                )
                outcome.run_ids.append(run.id)
                if summary is not None:
                    outcome.findings.append(summary.as_dict())
    return outcome
