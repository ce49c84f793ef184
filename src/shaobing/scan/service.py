"""Network scans as the platform runs them: plan, execute, pause/resume/cancel, results.

``plan_scan`` records the scan run with its plan before anything is sent (A3): the
targets, the addresses inside and outside the scope, ports, checks and their safety
classes, the expected number of connections and duration. ``execute_scan`` runs the
engine with a database sink; results reach the asset ledger and the findings through the
one ingest path, so work orders follow as for imported results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.assets.models import Asset, AssetAddress, AssetChange, AssetService
from shaobing.core.audit import record_event
from shaobing.core.db import session_scope
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import ScopeDecision
from shaobing.core.settings import get_settings
from shaobing.core.vault import MASKED, encrypt_secret
from shaobing.engagements.models import Client, Engagement
from shaobing.engagements.scope_guard import scope_of
from shaobing.engagements.service import (
    EngagementInput,
    add_client,
    create_engagement,
    resolve_engagement,
)
from shaobing.findings.fingerprint import load_config as load_fingerprint_config
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
    HostInput,
    Record,
    ServiceInput,
)
from shaobing.findings.ingest import IngestOptions, ingest, prepare_finding
from shaobing.findings.models import Finding, ImportRun
from shaobing.findings.severity import Severity
from shaobing.scan import adapters
from shaobing.scan.checks import Check, Observation, load_checks
from shaobing.scan.context import ScopeGate
from shaobing.scan.engine import (
    Control,
    EngineOptions,
    Progress,
    ScanEngine,
    ScanState,
    ServiceRecord,
)
from shaobing.scan.models import ScanRun, ScanStatus
from shaobing.scan.plugins.templates import CHECK_PREFIX, TemplateCheck
from shaobing.scan.policy import Policy, get_policy
from shaobing.scan.ports import parse_ports
from shaobing.scan.targets import TargetSet, expand_targets

SOURCE_TOOL = "shaobing-scan"
FORMAT_NAME = "shaobing-scan"
# Seconds between writes of buffered host records (the ledger merge is not free).
_HOST_FLUSH_SECONDS = 5.0
_HOST_FLUSH_RECORDS = 512


@dataclass
class ScanRequest:
    """What the user asked for (CLI flags or the API); None means the policy's value."""

    targets: list[str]
    exclude: list[str] = field(default_factory=list)
    engagement: str | None = None
    policy: str | None = None
    ports: str | None = None
    rate: int | None = None
    concurrency: int | None = None
    per_host: int | None = None
    timeout: float | None = None
    zone: str | None = None
    engine: str = "native"


# ---------------------------------------------------------------- planning


def _adhoc_engagement(session: Session, request: ScanRequest, actor: str) -> Engagement:
    """An engagement whose scope is exactly the given targets (no --engagement given)."""
    name = t("scan.adhoc_client")
    client = session.scalar(select(Client).where(Client.name == name))
    if client is None:
        client = add_client(session, name, actor=actor)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    spec = EngagementInput(
        name=t("scan.adhoc_engagement", stamp=stamp),
        scope=list(request.targets),
        exclude=list(request.exclude),
        adhoc=True,
    )
    return create_engagement(session, client, spec, actor=actor)


_V = TypeVar("_V")


def _given(value: _V | None, default: _V) -> _V:
    return default if value is None else value


def _options(request: ScanRequest, policy: Policy) -> dict[str, Any]:
    ports = request.ports or policy.ports
    parse_ports(ports)
    values: dict[str, Any] = {
        "ports": ports,
        "rate": request.rate if request.rate is not None else policy.rate,
        "concurrency": _given(request.concurrency, policy.concurrency),
        "per_host": _given(request.per_host, policy.per_host),
        "timeout": _given(request.timeout, policy.timeout),
        "zone": request.zone or policy.zone,
        "engine": request.engine,
    }
    if values["rate"] < 0:
        raise ValidationError(
            t("scan.option_invalid", name="rate", value=values["rate"], detail=">= 0")
        )
    if not 1 <= values["concurrency"] <= 1024:
        raise ValidationError(
            t(
                "scan.option_invalid",
                name="concurrency",
                value=values["concurrency"],
                detail="1-1024",
            )
        )
    if not 1 <= values["per_host"] <= 256:
        raise ValidationError(
            t("scan.option_invalid", name="per-host", value=values["per_host"], detail="1-256")
        )
    if not 0 < values["timeout"] <= 120:
        raise ValidationError(
            t("scan.option_invalid", name="timeout", value=values["timeout"], detail="0-120")
        )
    if request.engine not in {"native", "nmap"}:
        raise ValidationError(
            t("scan.option_invalid", name="engine", value=request.engine, detail="native, nmap")
        )
    return values


def _estimate_seconds(addresses: int, ports: int, options: dict[str, Any], checks: int) -> float:
    # Organisation-defined rough model: connects at the rate limit (or ~20,000/s on a LAN
    # sweep), two seconds of identification and checks per expected open port.
    connects = addresses * ports
    rate = options["rate"] or 20000
    return connects / rate + addresses * (2.0 + 0.5 * checks)


def plan_scan(engine: Engine, request: ScanRequest, *, actor: str) -> int:
    """Record a scan run with its plan; returns its id. Nothing is sent to targets."""
    if not request.targets:
        raise ValidationError(t("scan.no_targets"))
    policy = get_policy(request.policy)
    options = _options(request, policy)
    with session_scope(engine) as session:
        if request.engagement:
            engagement = resolve_engagement(session, request.engagement)
        else:
            engagement = _adhoc_engagement(session, request, actor)
        engagement_id, client_id = engagement.id, engagement.client_id
        scope = scope_of(engagement)
    target_set = expand_targets(request.targets, exclude=request.exclude)
    hostnames = _hostnames(target_set)
    # Outside any write transaction: refusals are audited in their own.
    gate = ScopeGate(
        scope,
        client_id=client_id,
        engagement_id=engagement_id,
        audit_engine=engine,
        actor=actor,
        names={a: names[0] for a, names in hostnames.items()},
    )
    allowed: list[str] = []
    refused: list[dict[str, str]] = []
    for address in target_set.addresses:
        if gate.port_sensitive(address):
            # Granted (or refused) port by port: the sweep asks the gate for each one.
            allowed.append(address)
            continue
        decision: ScopeDecision = gate.decide(address)
        if decision.allowed:
            allowed.append(address)
        else:
            refused.append(
                {"address": address, "reason": decision.reason, "message": decision.message}
            )
    if not allowed:
        first = refused[0]["message"] if refused else request.targets[0]
        raise ValidationError(t("scan.nothing_in_scope", detail=first))
    ports = parse_ports(options["ports"])
    checks = [
        {"id": c.id, "safety": c.safety.value} for c in _checks() if policy.allows(c.id, c.safety)
    ]
    expected = _estimate_seconds(len(allowed), len(ports), options, len(checks))
    plan = {
        "targets": list(request.targets),
        "exclude": list(request.exclude),
        "addresses": len(allowed),
        "refused": refused[:1000],
        "refused_count": len(refused),
        "ports": options["ports"],
        "port_count": len(ports),
        "udp_ports": list(policy.udp_ports),
        "policy": policy.name,
        "policy_title": policy.title,
        "safety": [s.value for s in policy.safety],
        "checks": checks,
        "discovery": policy.discovery,
        "expected_connections": len(allowed) * (len(ports) + len(policy.udp_ports)),
        "expected_seconds": round(expected, 1),
        "hostnames": hostnames,
    } | {k: options[k] for k in ("rate", "concurrency", "per_host", "timeout", "zone", "engine")}
    state = ScanState(addresses=allowed, hostnames=hostnames)
    with session_scope(engine, readonly=True) as session:
        state.zones = _ledger_zones(session, client_id, set(allowed))
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        run = ScanRun(
            client_id=client_id,
            engagement_id=engagement_id,
            kind="network",
            status=ScanStatus.PLANNED.value,
            policy=policy.name,
            targets=list(request.targets),
            plan=plan,
            options=options,
            checkpoint=state.to_json(),
            created_by=actor,
            created_at=now,
            expected_end=now + timedelta(seconds=expected),
        )
        session.add(run)
        session.flush()
        record_event(
            session,
            "scan.plan",
            actor=actor,
            client_id=client_id,
            engagement_id=engagement_id,
            target=" ".join(request.targets)[:500],
            detail={k: plan[k] for k in ("addresses", "refused_count", "ports", "policy", "safety")}
            | {"scan_id": run.id},
        )
        return run.id


def _ledger_zones(session: Session, client_id: int, addresses: set[str]) -> dict[str, str]:
    """Network zones the asset ledger records for these addresses (per-host exposure)."""
    zones: dict[str, str] = {}
    rows = session.execute(
        select(AssetAddress.address, Asset.zone)
        .join(Asset, Asset.id == AssetAddress.asset_id)
        .where(Asset.client_id == client_id, Asset.zone.is_not(None))
    )
    for address, zone in rows:
        if address in addresses and zone:
            zones[address] = zone
    return zones


def _hostnames(target_set: TargetSet) -> dict[str, list[str]]:
    """Addresses that came from host-name targets, with the names."""
    names: dict[str, list[str]] = {}
    for target in target_set:
        spec = target.spec.strip().lower().rstrip(".")
        if ":" in spec or "/" in spec or not any(c.isalpha() for c in spec):
            continue
        names.setdefault(target.address, []).append(spec)
    return names


def _checks() -> list[Check]:
    """One instance of every registered check (checks keep no per-target state)."""
    return [cls() for cls in load_checks().values()]


# ---------------------------------------------------------------- persistence


def _service_input(record: ServiceRecord) -> ServiceInput:
    return ServiceInput(
        port=record.port,
        protocol=record.protocol,
        state=record.state,
        service=record.service,
        product=record.product,
        version=record.version,
        cpe=list(record.cpe),
        banner=record.banner,
    )


def observation_input(item: Observation, service: ServiceRecord | None) -> FindingInput:
    """The finding record of an observation; a recovered secret is encrypted, never shown."""
    extra: dict[str, Any] = dict(item.extra)
    evidence = item.evidence
    if item.secret:
        extra["secret"] = encrypt_secret(item.secret)
        # A password equal to the account name (tomcat/tomcat) is shown anyway as the
        # account; masking it would hide which account is affected.
        if evidence and item.secret != item.identity:
            evidence = evidence.replace(item.secret, MASKED)
    if item.identity:
        extra["identity"] = item.identity
    if service is not None:
        extra.setdefault("service", service.service)
        if service.product:
            extra.setdefault("product", service.product)
        if service.version:
            extra.setdefault("version", service.version)
    return FindingInput(
        source_tool=SOURCE_TOOL,
        check_id=item.check_id,
        title=item.title,
        severity=Severity(item.severity),
        description=item.description,
        remediation=item.remediation,
        host=item.address,
        port=item.port,
        protocol=item.protocol,
        parameter=item.identity if item.url is None else _web_parameter(item),
        url=item.url,
        evidence=evidence,
        cvss_v3_vector=item.cvss_v3_vector,
        cwe_ids=list(item.cwe_ids),
        references=list(item.references),
        cve_ids=list(item.cve_ids),
        extra=extra,
    )


def _web_parameter(item: Observation) -> str | None:
    # A web observation's identity is "URL parameter"; the finding keeps them apart.
    identity = item.identity or ""
    url = item.url or ""
    rest = identity[len(url) :].strip() if identity.startswith(url) else identity
    return rest or None


class DatabaseSink:
    """Writes the engine's results through the ingest path (short transactions)."""

    def __init__(self, engine: Engine, run_id: int, *, actor: str) -> None:
        self.engine = engine
        self.run_id = run_id
        self.actor = actor
        self._hosts: dict[str, ServiceRecord] = {}
        self._last_host_flush = time.monotonic()
        self.fingerprints: set[str] = set()
        self._config = load_fingerprint_config(get_settings().home / "fingerprints.yaml")

    def _ingest(self, records: list[Record], *, options: IngestOptions | None = None) -> None:
        with session_scope(self.engine) as session:
            run = session.get(ScanRun, self.run_id)
            if run is None:
                raise NotFoundError(t("scan.not_found", ref=self.run_id))
            engagement = session.get(Engagement, run.engagement_id)
            assert engagement is not None
            ingest(
                session,
                engagement,
                records,
                format_name=FORMAT_NAME,
                source_tool=SOURCE_TOOL,
                scan_run_id=self.run_id,
                options=replace(
                    options or IngestOptions(actor=self.actor, close_absent=False),
                    fingerprints=self._config,
                ),
            )

    def hosts(self, records: list[ServiceRecord], state: ScanState) -> None:
        """Buffer host/service updates; written every few seconds."""
        for record in records:
            self._hosts[record.key] = record
        if (
            len(self._hosts) >= _HOST_FLUSH_RECORDS
            or time.monotonic() - self._last_host_flush >= _HOST_FLUSH_SECONDS
        ):
            self.flush_hosts(state)

    def flush_hosts(self, state: ScanState) -> None:
        """Write buffered host records to the asset ledger."""
        if not self._hosts:
            return
        by_address: dict[str, list[ServiceRecord]] = {}
        for record in self._hosts.values():
            by_address.setdefault(record.address, []).append(record)
        records: list[Record] = [
            HostInput(
                address=address,
                hostnames=list(state.hostnames.get(address, [])),
                os=adapters.guess_host_os(items) or next((r.os for r in items if r.os), None),
                services=[_service_input(r) for r in sorted(items, key=lambda r: r.port)],
            )
            for address, items in by_address.items()
        ]
        self._ingest(records)
        self._hosts.clear()
        self._last_host_flush = time.monotonic()

    def observations(self, items: list[Observation], state: ScanState) -> None:
        """Persist a batch of observations as findings (work orders follow)."""
        services = {(r.address, r.port, r.protocol): r for r in state.records()}
        inputs = [
            observation_input(o, services.get((o.address, o.port or 0, o.protocol or "tcp")))
            for o in items
        ]
        for item in inputs:
            self.fingerprints.add(prepare_finding(item, self._config)["fingerprint"])
        self._ingest(list[Record](inputs))

    def checkpoint(self, state: ScanState) -> None:
        """Save the state so the scan can resume from here."""
        with session_scope(self.engine) as session:
            run = session.get(ScanRun, self.run_id)
            if run is not None:
                data = state.to_json()
                data["fingerprints"] = sorted(self.fingerprints)
                run.checkpoint = data
                run.stats = _stats(state)

    def control(self) -> Control:
        """The pause/cancel request recorded by ``shaobing scan pause|cancel``."""
        with session_scope(self.engine, readonly=True) as session:
            value = session.scalar(select(ScanRun.control).where(ScanRun.id == self.run_id))
        return value if value in ("pause", "cancel") else "run"  # type: ignore[return-value]


def _stats(state: ScanState) -> dict[str, Any]:
    records = state.records()
    return {
        "phase": state.phase,
        "addresses": len(state.addresses),
        "hosts_up": len(state.alive),
        "hosts_swept": len(state.swept),
        "open_ports": sum(1 for r in records if r.protocol == "tcp"),
        "udp_services": sum(1 for r in records if r.protocol == "udp"),
        "identified": sum(1 for r in records if r.service),
        "checks_run": int(state.counters.get("checks_run", 0)),
        "check_errors": int(state.counters.get("check_errors", 0)),
        "connections": int(state.counters.get("connections", 0)),
    }


# ---------------------------------------------------------------- execution


@dataclass
class ScanOutcome:
    """How an execution ended."""

    scan_id: int
    status: str
    stats: dict[str, Any]
    message: str | None = None


def _engine_options(run: ScanRun) -> EngineOptions:
    options = run.options
    return EngineOptions(
        ports=parse_ports(options["ports"]),
        concurrency=int(options["concurrency"]),
        per_host=int(options["per_host"]),
        rate=int(options["rate"]),
        timeout=float(options["timeout"]),
        retries=get_policy(run.policy).retries,
        zone=options.get("zone"),
    )


def execute_scan(
    engine: Engine,
    scan_id: int,
    *,
    actor: str,
    progress: Progress | None = None,
    on_engine: Callable[[ScanEngine], None] | None = None,
) -> ScanOutcome:
    """Run (or continue) a scan to completion, pause or cancellation."""
    with session_scope(engine) as session:
        run = _get_run(session, scan_id)
        if run.status in (ScanStatus.COMPLETED.value, ScanStatus.CANCELLED.value):
            raise ValidationError(t("scan.already_finished", id=scan_id, status=run.status))
        engagement = session.get(Engagement, run.engagement_id)
        assert engagement is not None
        scope = scope_of(engagement)
        client_id = engagement.client_id
        policy = get_policy(run.policy)
        options = _engine_options(run)
        state = ScanState.from_json(dict(run.checkpoint))
        fingerprints = set(run.checkpoint.get("fingerprints", []))
        run.status = ScanStatus.RUNNING.value
        run.control = "run"
        run.started_at = run.started_at or datetime.now(UTC)
        record_event(
            session,
            "scan.start",
            actor=actor,
            client_id=client_id,
            engagement_id=run.engagement_id,
            target=f"scan:{scan_id}",
            detail={"phase": state.phase, "resumed": bool(state.swept or state.jobs_done)},
        )
        engagement_id = run.engagement_id
        engine_kind = run.options.get("engine", "native")
    gate = ScopeGate(
        scope,
        client_id=client_id,
        engagement_id=engagement_id,
        audit_engine=engine,
        actor=actor,
        names={a: names[0] for a, names in state.hostnames.items() if names},
    )
    sink = DatabaseSink(engine, scan_id, actor=actor)
    sink.fingerprints = fingerprints
    scanner = ScanEngine(
        policy,
        options,
        _checks(),
        gate,
        sink,
        identifier=adapters.identifier(),
        udp_prober=adapters.udp_prober(),
        discoverer=adapters.discoverer(),
        progress=progress,
    )
    if engine_kind == "nmap":
        scanner.port_phase = adapters.nmap_phase(options.timeout, scanner.stop)
    if on_engine is not None:
        on_engine(scanner)
    try:
        result = scanner.run(state)
    except BaseException:
        sink.flush_hosts(state)
        sink.checkpoint(state)
        _set_status(engine, scan_id, ScanStatus.PAUSED, t("scan.interrupted"))
        raise
    sink.flush_hosts(state)
    sink.checkpoint(state)
    if result == "pause":
        message = t("scan.paused_message", id=scan_id)
        if scanner.stop_message:
            message = t("scan.paused_window", reason=scanner.stop_message, id=scan_id)
        _set_status(engine, scan_id, ScanStatus.PAUSED, message)
    elif result == "cancel":
        _set_status(engine, scan_id, ScanStatus.CANCELLED, t("scan.cancelled_message"))
    else:
        _finish(engine, scan_id, state, sink, scanner, actor=actor)
    with session_scope(engine, readonly=True) as session:
        run = _get_run(session, scan_id)
        return ScanOutcome(
            scan_id=scan_id, status=run.status, stats=dict(run.stats), message=run.message
        )


def _set_status(engine: Engine, scan_id: int, status: ScanStatus, message: str) -> None:
    with session_scope(engine) as session:
        run = _get_run(session, scan_id)
        run.status = status.value
        run.message = message
        run.control = "run"
        if status in (ScanStatus.CANCELLED, ScanStatus.COMPLETED):
            run.finished_at = datetime.now(UTC)
        record_event(
            session,
            f"scan.{status.value}",
            actor="system",
            client_id=run.client_id,
            engagement_id=run.engagement_id,
            target=f"scan:{scan_id}",
            detail=dict(run.stats),
        )


def _finish(
    engine: Engine,
    scan_id: int,
    state: ScanState,
    sink: DatabaseSink,
    scanner: ScanEngine,
    *,
    actor: str,
) -> None:
    """Close findings of the checks that ran which this scan no longer sees; mark done."""
    ran = frozenset(_checks_that_ran(scanner))
    with session_scope(engine, readonly=True) as session:
        import_ids = frozenset(
            session.scalars(select(ImportRun.id).where(ImportRun.scan_run_id == scan_id))
        )
    swept = list(dict.fromkeys(state.swept))
    if swept and ran:
        sink._ingest(
            [CoverageInput(hosts=swept)],
            options=IngestOptions(
                actor=actor,
                close_absent=True,
                seen_import_ids=import_ids,
                close_check_ids=ran,
                close_min_severity_rank=(
                    scanner.policy.min_severity.rank if scanner.policy.min_severity else None
                ),
            ),
        )
    if swept:
        _close_ledger_ports(engine, scan_id, state, swept, actor=actor)
    _set_status(engine, scan_id, ScanStatus.COMPLETED, t("scan.completed_message"))


def _checks_that_ran(scanner: ScanEngine) -> set[str]:
    """Check ids whose absent findings this scan may close: the plugins that ran and, for
    the template plugins, ``template:<id>`` of every template they selected."""
    ran = {c.id for c in scanner.checks}
    for check in scanner.checks:
        if isinstance(check, TemplateCheck):
            options = scanner.policy.options_for(check.id)
            ran |= {CHECK_PREFIX + i.template.id for i in check.selected_templates(options)}
    return ran


def _close_ledger_ports(
    engine: Engine, scan_id: int, state: ScanState, swept: list[str], *, actor: str
) -> None:
    """Mark ledger ports of the swept hosts that this scan covered and found shut as closed.

    Only TCP ports inside the scan's port list count: a port the scan did not try says
    nothing. Each change is recorded in the asset's history.
    """
    now = datetime.now(UTC)
    open_now = {(r.address, r.port) for r in state.records() if r.protocol == "tcp"}
    with session_scope(engine) as session:
        run = _get_run(session, scan_id)
        covered = set(parse_ports(run.options["ports"]))
        swept_set = set(swept)
        rows = session.execute(
            select(AssetService, AssetAddress.address, Asset.name)
            .join(Asset, Asset.id == AssetService.asset_id)
            .join(AssetAddress, AssetAddress.asset_id == Asset.id)
            .where(
                Asset.client_id == run.client_id,
                AssetService.protocol == "tcp",
                AssetService.state == "open",
            )
        ).all()
        for service, address, name in rows:
            if address not in swept_set or service.port not in covered:
                continue
            if (address, service.port) in open_now:
                continue
            service.state = "closed"
            session.add(
                AssetChange(
                    client_id=run.client_id,
                    asset_id=service.asset_id,
                    asset_name=name,
                    changed_at=now,
                    actor=actor,
                    source=SOURCE_TOOL,
                    kind="updated",
                    changes={f"port {service.port}/tcp": ["open", "closed"]},
                )
            )


# ---------------------------------------------------------------- control and results


def _get_run(session: Session, scan_id: int) -> ScanRun:
    run = session.get(ScanRun, scan_id)
    if run is None or run.kind != "network":
        raise NotFoundError(t("scan.not_found", ref=scan_id))
    return run


def request_control(engine: Engine, scan_id: int, what: str, *, actor: str) -> str:
    """Ask a scan to pause or cancel; a scan not running is changed at once."""
    if what not in ("pause", "cancel"):
        raise ValidationError(
            t("scan.option_invalid", name="control", value=what, detail="pause, cancel")
        )
    with session_scope(engine) as session:
        run = _get_run(session, scan_id)
        if run.status in (ScanStatus.COMPLETED.value, ScanStatus.CANCELLED.value):
            raise ValidationError(t("scan.already_finished", id=scan_id, status=run.status))
        if run.status == ScanStatus.RUNNING.value:
            run.control = what
        elif what == "cancel":
            run.status = ScanStatus.CANCELLED.value
            run.finished_at = datetime.now(UTC)
        record_event(
            session,
            f"scan.request_{what}",
            actor=actor,
            client_id=run.client_id,
            engagement_id=run.engagement_id,
            target=f"scan:{scan_id}",
        )
        return run.status


def list_scans(session: Session, engagement: Engagement | None = None) -> list[ScanRun]:
    """Network scan runs, newest first."""
    query = select(ScanRun).where(ScanRun.kind == "network").order_by(ScanRun.id.desc())
    if engagement is not None:
        query = query.where(ScanRun.engagement_id == engagement.id)
    return list(session.scalars(query))


def get_scan(session: Session, scan_id: int) -> ScanRun:
    """One network scan run."""
    return _get_run(session, scan_id)


def scan_summary(session: Session, run: ScanRun) -> dict[str, Any]:
    """A scan's row for listings."""
    engagement = session.get(Engagement, run.engagement_id)
    return {
        "scan_id": run.id,
        "engagement": engagement.name if engagement else None,
        "status": run.status,
        "policy": run.policy,
        "targets": run.targets,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "stats": run.stats,
        "message": run.message,
    }


def scan_result(session: Session, run: ScanRun) -> dict[str, Any]:
    """The ``shaobing scan --json`` document of a scan run."""
    engagement = session.get(Engagement, run.engagement_id)
    state = ScanState.from_json(dict(run.checkpoint))
    by_host: dict[str, list[ServiceRecord]] = {}
    for record in state.records():
        by_host.setdefault(record.address, []).append(record)
    hosts = []
    for address in state.alive or sorted(by_host):
        records = sorted(by_host.get(address, []), key=lambda r: (r.protocol, r.port))
        hosts.append(
            {
                "address": address,
                "hostnames": list(state.hostnames.get(address, [])),
                "ports": [
                    {
                        "port": r.port,
                        "protocol": r.protocol,
                        "state": r.state,
                        "service": r.service,
                        "product": r.product,
                        "version": r.version,
                        "cpe": list(r.cpe),
                    }
                    for r in records
                ],
            }
        )
    fingerprints = list(run.checkpoint.get("fingerprints", []))
    findings: list[dict[str, Any]] = []
    for start in range(0, len(fingerprints), 500):
        rows = session.scalars(
            select(Finding)
            .where(
                Finding.engagement_id == run.engagement_id,
                Finding.fingerprint.in_(fingerprints[start : start + 500]),
            )
            .order_by(Finding.severity_rank.desc(), Finding.id)
        )
        findings.extend(
            {
                "id": f.id,
                "check_id": f.check_id,
                "title": f.title,
                "severity": f.severity,
                "host": f.host,
                "port": f.port,
                "protocol": f.protocol,
                "evidence": f.evidence,
                "status": f.status,
            }
            for f in rows
        )
    findings.sort(key=lambda f: (-Severity(f["severity"]).rank, f["id"]))
    return {
        "scan_id": run.id,
        "engagement": engagement.name if engagement else None,
        "status": run.status,
        "policy": run.policy,
        "hosts": hosts,
        "findings": findings,
        "stats": dict(run.stats)
        | {
            "refused": run.plan.get("refused_count", 0),
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "errors": state.errors[:20],
        },
    }
