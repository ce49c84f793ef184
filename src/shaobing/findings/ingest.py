"""The one ingest path for findings from every source (D1, D4, D5).

Scanners, baseline checks and importers all hand their records here. It fingerprints and
de-duplicates findings within the dedup scope, merges hosts and services into the asset
ledger, creates work orders for new findings, and applies re-import semantics:

* a finding seen again bumps ``last_seen``/``times_seen``; a changed title, severity,
  description, remediation or CVSS counts as *updated*;
* a finding that reappears in a state listed under ``on_redetect`` (已修复, 已验证,
  单次忽略) is reopened by the system, and its work order with it (SLA clock restarts);
* an open finding (新增/待修复) of the same tool that is absent from this result, but
  inside what the result covered (its hosts, site URLs, files), is marked 已修复 ("not
  detected"); findings outside that coverage are never touched.

Everything happens in the caller's transaction: a file that fails half-way imports nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session

from shaobing.assets.models import Asset, AssetAddress, AssetChange, AssetService
from shaobing.core.audit import record_event
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings.cvss_scores import cvss3_score, cvss4_score
from shaobing.findings.fingerprint import FingerprintConfig, fingerprint_with, load_config
from shaobing.findings.importers.base import CoverageInput, FindingInput, HostInput, Record
from shaobing.findings.masking import mask_secrets
from shaobing.findings.models import Finding, FindingEvent, ImportRun, WorkOrder
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import (
    OPEN_STATES,
    Role,
    Status,
    due_date,
    refresh_work_order,
    sla_days,
    workflow,
)

BATCH_SIZE = 2000
# SQLite limits bound parameters per statement; keep IN lists well below it.
IN_CHUNK = 500
# Tool-flagged risk acceptance has no expiry in the tool's file: one year, then it is
# reviewed again (organisation-defined default).
IMPORTED_RISK_ACCEPTANCE_DAYS = 365

# Fields that, when a tool reports them differently for the same finding, count as an update.
_UPDATABLE = (
    "title",
    "severity",
    "severity_rank",
    "description",
    "remediation",
    "cvss_v3_vector",
    "cvss_v3_score",
    "cvss_v4_vector",
    "cvss_v4_score",
    "cve_ids",
    "cwe_ids",
    "references",
)


@dataclass
class IngestOptions:
    """How an ingest behaves (settings and per-call choices)."""

    actor: str = "system"
    grouping: str = "finding"  # one work order per finding, or per host
    dedup_scope: str = "engagement"  # engagement | client
    close_absent: bool = True
    fingerprints: FingerprintConfig | None = None


@dataclass
class IngestSummary:
    """What an ingest did; ``as_dict`` is the ``findings import --json`` shape."""

    format: str
    created: int = 0
    duplicates: int = 0
    updated: int = 0
    closed: int = 0
    reopened: int = 0
    assets_updated: int = 0
    import_id: int | None = None
    work_orders_created: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The public JSON summary."""
        return {
            "format": self.format,
            "created": self.created,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "closed": self.closed,
            "reopened": self.reopened,
            "assets_updated": self.assets_updated,
            "import_id": self.import_id,
            "work_orders_created": self.work_orders_created,
        }


@dataclass
class _Coverage:
    hosts: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    tools: set[str] = field(default_factory=set)

    def add_finding(self, item: FindingInput) -> None:
        self.tools.add(item.source_tool.lower())
        if item.host:
            self.hosts.add(item.host.lower())
        if item.url:
            origin = url_origin(item.url)
            if origin:
                self.urls.add(origin)
        if item.file_path:
            self.files.add(item.file_path)

    def covers(self, host: str | None, url: str | None, file_path: str | None) -> bool:
        if host and host.lower() in self.hosts:
            return True
        if url:
            origin = url_origin(url)
            if origin and any(origin == u or url.lower().startswith(u) for u in self.urls):
                return True
        return bool(file_path and file_path in self.files)


def url_origin(url: str) -> str | None:
    """``scheme://host:port`` of a URL (lower case, default ports made explicit)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    scheme = parts.scheme.lower()
    port = port or {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host.lower()}:{port}" if port else f"{scheme}://{host.lower()}"


def _host_of(item: FindingInput) -> str | None:
    if item.host:
        return item.host.strip().strip("[]").lower() or None
    if item.url:
        try:
            return urlsplit(item.url).hostname
        except ValueError:
            return None
    return None


def _normal_ip(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def _row_for(item: FindingInput) -> dict[str, Any]:
    """Column values of a finding from an importer record (validated, masked)."""
    severity = Severity(item.severity)
    v3 = cvss3_score(item.cvss_v3_vector)
    v4 = cvss4_score(item.cvss_v4_vector)
    return {
        "source_tool": item.source_tool.lower()[:64],
        "check_id": (item.check_id or "unknown")[:300],
        "title": (item.title or item.check_id or "—")[:1000],
        "description": item.description,
        "remediation": item.remediation,
        "severity": severity.value,
        "severity_rank": severity.rank,
        "cvss_v3_vector": v3[0] if v3 else None,
        "cvss_v3_score": v3[1] if v3 else item.cvss_v3_score,
        "cvss_v4_vector": v4[0] if v4 else None,
        "cvss_v4_score": v4[1] if v4 else item.cvss_v4_score,
        "cve_ids": list(dict.fromkeys(c.upper() for c in item.cve_ids)),
        "cwe_ids": list(dict.fromkeys(item.cwe_ids)),
        "cnvd_ids": list(dict.fromkeys(item.cnvd_ids)),
        "cnnvd_ids": list(dict.fromkeys(item.cnnvd_ids)),
        "references": list(dict.fromkeys(item.references))[:50],
        "host": _host_of(item),
        "port": item.port,
        "protocol": item.protocol.lower() if item.protocol else None,
        "url": item.url[:2000] if item.url else None,
        "parameter": item.parameter[:500] if item.parameter else None,
        "file_path": item.file_path[:1000] if item.file_path else None,
        "line": item.line,
        "evidence": mask_secrets(item.evidence),
        "confidence": item.confidence[:32] if item.confidence else None,
        "tool_unique_id": item.tool_unique_id[:300] if item.tool_unique_id else None,
        "extra": item.extra,
    }


class _Ingest:
    """State of one ingest run (kept out of the public function for readability)."""

    def __init__(
        self,
        session: Session,
        engagement: Engagement,
        run: ImportRun,
        options: IngestOptions,
        now: datetime,
    ) -> None:
        self.session = session
        self.engagement = engagement
        self.run = run
        self.options = options
        self.now = now
        self.client_id = engagement.client_id
        self.scope_key = (
            f"c:{engagement.client_id}" if options.dedup_scope == "client" else f"e:{engagement.id}"
        )
        self.config = options.fingerprints or load_config()
        self.summary = IngestSummary(format=run.format, import_id=run.id)
        self.coverage = _Coverage()
        self.seen: set[str] = set()
        self.days = sla_days(session, engagement.id)
        self.touched_orders: set[int] = set()
        address_rows = session.execute(
            select(AssetAddress.address, AssetAddress.asset_id).where(
                AssetAddress.client_id == self.client_id
            )
        ).all()
        self.address_to_asset: dict[str, int] = {row[0]: row[1] for row in address_rows}
        self.name_to_asset: dict[str, int] = {
            name.lower(): asset_id
            for name, asset_id in session.execute(
                select(Asset.hostname, Asset.id).where(
                    Asset.client_id == self.client_id, Asset.hostname.is_not(None)
                )
            ).all()
            if name
        }

    # ------------------------------------------------------------ findings
    def add_batch(self, batch: list[FindingInput]) -> None:
        rows: dict[str, dict[str, Any]] = {}
        for item in batch:
            self.coverage.add_finding(item)
            row = _row_for(item)
            fp = fingerprint_with(row, self.config.rule_for(row["source_tool"]))
            if fp in self.seen or fp in rows:
                self.summary.duplicates += 1  # the same finding twice in one result
                continue
            row["fingerprint"] = fp
            row["_flags"] = (item.false_positive, item.risk_accepted)
            rows[fp] = row
        if not rows:
            return
        self.seen.update(rows)
        existing = self._existing(list(rows))
        new_rows = [r for fp, r in rows.items() if fp not in existing]
        self._update_existing([(rows[fp], found) for fp, found in existing.items()])
        self._create(new_rows)

    def _existing(self, fingerprints: list[str]) -> dict[str, dict[str, Any]]:
        cols = [
            Finding.id,
            Finding.fingerprint,
            Finding.status,
            Finding.work_order_id,
            *[getattr(Finding, name) for name in _UPDATABLE],
        ]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(fingerprints), IN_CHUNK):
            chunk = fingerprints[start : start + IN_CHUNK]
            for row in self.session.execute(
                select(*cols).where(
                    Finding.dedup_scope == self.scope_key, Finding.fingerprint.in_(chunk)
                )
            ).mappings():
                found[row["fingerprint"]] = dict(row)
        return found

    def _update_existing(self, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        if not pairs:
            return
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        redetect = workflow().on_redetect
        for row, old in pairs:
            change = {name: row[name] for name in _UPDATABLE if row[name] != old[name]}
            params: dict[str, Any] = {
                "id": old["id"],
                "last_seen": self.now,
                "last_import_id": self.run.id,
                "evidence": row["evidence"],
            } | change
            if change:
                self.summary.updated += 1
            target = redetect.get(Status(old["status"]))
            if target is not None:
                params |= {
                    "status": target.value,
                    "is_open": target in OPEN_STATES,
                    "status_changed_at": self.now,
                    "risk_accepted_until": None,
                }
                events.append(
                    self._event(
                        old["id"],
                        old["work_order_id"],
                        "transition",
                        old["status"],
                        target.value,
                        t("findings.reason_redetected"),
                    )
                )
                self.summary.reopened += 1
                if old["work_order_id"]:
                    self.touched_orders.add(old["work_order_id"])
            elif not change:
                self.summary.duplicates += 1
            updates.append(params)
        # times_seen is incremented in SQL so concurrent imports cannot lose a count.
        self.session.execute(update(Finding), updates)
        ids = [u["id"] for u in updates]
        for start in range(0, len(ids), IN_CHUNK):
            self.session.execute(
                update(Finding)
                .where(Finding.id.in_(ids[start : start + IN_CHUNK]))
                .values(times_seen=Finding.times_seen + 1)
                .execution_options(synchronize_session=False)
            )
        if events:
            self.session.execute(insert(FindingEvent), events)

    def _create(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        accept_until = self.now.date() + timedelta(days=IMPORTED_RISK_ACCEPTANCE_DAYS)
        values = []
        for row in rows:
            false_positive, risk_accepted = row.pop("_flags")
            status = (
                Status.FALSE_POSITIVE
                if false_positive
                else Status.RISK_ACCEPTED
                if risk_accepted
                else Status.NEW
            )
            values.append(
                row
                | {
                    "client_id": self.client_id,
                    "engagement_id": self.engagement.id,
                    "dedup_scope": self.scope_key,
                    "asset_id": self._asset_for(row),
                    "scan_run_id": self.run.scan_run_id,
                    "first_import_id": self.run.id,
                    "last_import_id": self.run.id,
                    "status": status.value,
                    "is_open": status in OPEN_STATES,
                    "status_changed_at": self.now,
                    "first_seen": self.now,
                    "last_seen": self.now,
                    "times_seen": 1,
                    "risk_accepted_until": accept_until if status is Status.RISK_ACCEPTED else None,
                }
            )
        created = self.session.execute(
            insert(Finding).returning(
                Finding.id, Finding.fingerprint, sort_by_parameter_order=True
            ),
            values,
        ).all()
        self.summary.created += len(created)
        by_fp = {fp: fid for fid, fp in created}
        orders = self._work_orders_for(values, by_fp)
        events = [
            self._event(
                by_fp[v["fingerprint"]],
                orders.get(v["fingerprint"]),
                "created",
                None,
                v["status"],
                None,
            )
            for v in values
        ]
        self.session.execute(insert(FindingEvent), events)

    def _asset_for(self, row: dict[str, Any]) -> int | None:
        host = row.get("host")
        if not host:
            return None
        ip = _normal_ip(host)
        if ip is not None:
            return self.address_to_asset.get(ip)
        return self.name_to_asset.get(host.lower())

    def _event(
        self,
        finding_id: int | None,
        order_id: int | None,
        kind: str,
        source: str | None,
        target: str | None,
        reason: str | None,
    ) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "finding_id": finding_id,
            "work_order_id": order_id,
            "at": self.now,
            "actor": self.options.actor,
            "role": Role.SYSTEM.value,
            "kind": kind,
            "from_state": source,
            "to_state": target,
            "reason": reason,
            "detail": {"import_id": self.run.id},
        }

    # ------------------------------------------------------------ work orders
    def _work_orders_for(
        self, values: list[dict[str, Any]], by_fp: dict[str, int]
    ) -> dict[str, int]:
        """Create (or reuse, per host) work orders for newly created open findings."""
        fresh = [v for v in values if v["status"] in OPEN_STATES]
        if not fresh:
            return {}
        assignments: dict[str, int] = {}
        if self.options.grouping == "host":
            for value in fresh:
                key = value["host"] or value["url"] or value["file_path"] or "-"
                order_id = self._host_order(key, value)
                assignments[value["fingerprint"]] = order_id
                self.touched_orders.add(order_id)
        else:
            rows = [
                {
                    "client_id": self.client_id,
                    "engagement_id": self.engagement.id,
                    "title": _order_title(v),
                    "grouping": "finding",
                    "group_key": v["fingerprint"],
                    "state": v["status"],
                    "severity": v["severity"],
                    "due_date": due_date(self.now, v["severity"], self.days),
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for v in fresh
            ]
            ids = (
                self.session.execute(
                    insert(WorkOrder).returning(WorkOrder.id, sort_by_parameter_order=True), rows
                )
                .scalars()
                .all()
            )
            assignments = {v["fingerprint"]: oid for v, oid in zip(fresh, ids, strict=True)}
            self.summary.work_orders_created += len(ids)
        self.session.execute(
            update(Finding),
            [{"id": by_fp[fp], "work_order_id": oid} for fp, oid in assignments.items()],
        )
        return assignments

    def _host_order(self, key: str, value: dict[str, Any]) -> int:
        order = self.session.scalar(
            select(WorkOrder)
            .where(
                WorkOrder.engagement_id == self.engagement.id,
                WorkOrder.grouping == "host",
                WorkOrder.group_key == key,
                WorkOrder.state.in_([s.value for s in OPEN_STATES]),
            )
            .order_by(WorkOrder.id.desc())
            .limit(1)
        )
        if order is None:
            order = WorkOrder(
                client_id=self.client_id,
                engagement_id=self.engagement.id,
                title=t("findings.host_order_title", host=key),
                grouping="host",
                group_key=key,
                state=Status.NEW.value,
                severity=value["severity"],
                due_date=due_date(self.now, value["severity"], self.days),
                created_at=self.now,
                updated_at=self.now,
            )
            self.session.add(order)
            self.session.flush()
            self.summary.work_orders_created += 1
        return order.id

    # ------------------------------------------------------------ hosts
    def add_host(self, host: HostInput) -> None:
        address = _normal_ip(host.address)
        name = host.hostnames[0].lower() if host.hostnames else None
        if host.status != "up" and not host.services:
            return
        if address:
            self.coverage.hosts.add(address)
        for hostname in host.hostnames:
            self.coverage.hosts.add(hostname.lower())
        asset_id = (self.address_to_asset.get(address) if address else None) or (
            self.name_to_asset.get(name) if name else None
        )
        if asset_id is None and address is None:
            return  # a host known only by name that is not in the ledger: nothing to merge
        changed = False
        if asset_id is None:
            asset = Asset(
                client_id=self.client_id,
                name=self._free_name(name or str(address)),
                asset_type="host",
                hostname=name,
                os=host.os,
                source=self.run.format,
                created_at=self.now,
                updated_at=self.now,
            )
            asset.addresses = [
                AssetAddress(
                    client_id=self.client_id,
                    address=str(address),
                    family=ipaddress.ip_address(str(address)).version,
                )
            ]
            self.session.add(asset)
            self.session.flush()
            asset_id = asset.id
            self.address_to_asset[str(address)] = asset_id
            if name:
                self.name_to_asset.setdefault(name, asset_id)
            self._log_asset(
                asset_id,
                asset.name,
                "created",
                {
                    "addresses": [[], [str(address)]],
                    "hostname": [None, name],
                    "os": [None, host.os],
                },
            )
            changed = True
        else:
            asset = self.session.get_one(Asset, asset_id)
            diff: dict[str, list[Any]] = {}
            if host.os and asset.os != host.os:
                diff["os"] = [asset.os, host.os]
                asset.os = host.os
            if name and not asset.hostname:
                diff["hostname"] = [asset.hostname, name]
                asset.hostname = name
            if diff:
                asset.updated_at = self.now
                self._log_asset(asset_id, asset.name, "updated", diff)
                changed = True
        if self._merge_services(asset_id, host) or changed:
            self.summary.assets_updated += 1

    def _free_name(self, base: str) -> str:
        name, n = base, 1
        while (
            self.session.scalar(
                select(Asset.id).where(Asset.client_id == self.client_id, Asset.name == name)
            )
            is not None
        ):
            n += 1
            name = f"{base} ({n})"
        return name

    def _merge_services(self, asset_id: int, host: HostInput) -> bool:
        if not host.services:
            return False
        known = {
            (s.port, s.protocol): s
            for s in self.session.scalars(
                select(AssetService).where(AssetService.asset_id == asset_id)
            )
        }
        changed = False
        for svc in host.services:
            key = (svc.port, (svc.protocol or "tcp").lower())
            fields = {
                "state": svc.state,
                "service": svc.service,
                "product": svc.product,
                "version": svc.version,
                "cpe": list(svc.cpe),
                "banner": svc.banner,
            }
            row = known.get(key)
            if row is None:
                row = AssetService(
                    client_id=self.client_id,
                    asset_id=asset_id,
                    port=key[0],
                    protocol=key[1],
                    source=self.run.format,
                    first_seen=self.now,
                    last_seen=self.now,
                    **fields,
                )
                self.session.add(row)
                known[key] = row
                changed = True
                continue
            row.last_seen = self.now
            for attr, value in fields.items():
                if value not in (None, []) and getattr(row, attr) != value:
                    setattr(row, attr, value)
                    changed = True
        return changed

    def _log_asset(self, asset_id: int, name: str, kind: str, changes: dict[str, Any]) -> None:
        self.session.add(
            AssetChange(
                client_id=self.client_id,
                asset_id=asset_id,
                asset_name=name,
                changed_at=self.now,
                actor=self.options.actor,
                source=self.run.format,
                kind=kind,
                changes=changes,
            )
        )

    # ------------------------------------------------------------ closing
    def close_absent(self) -> None:
        """Mark open findings of the covered tools and places that this result lacks as fixed."""
        tools = self.coverage.tools or {self.run.source_tool.lower()}
        if not (self.coverage.hosts or self.coverage.urls or self.coverage.files):
            return
        candidates = self.session.execute(
            select(
                Finding.id,
                Finding.host,
                Finding.url,
                Finding.file_path,
                Finding.status,
                Finding.work_order_id,
            ).where(
                Finding.engagement_id == self.engagement.id,
                Finding.source_tool.in_(sorted(tools)),
                Finding.status.in_([s.value for s in OPEN_STATES]),
                and_(Finding.last_import_id.is_distinct_from(self.run.id)),
            )
        ).all()
        closing = [c for c in candidates if self.coverage.covers(c.host, c.url, c.file_path)]
        if not closing:
            return
        reason = t("findings.reason_not_detected")
        self.session.execute(
            update(Finding),
            [
                {
                    "id": c.id,
                    "status": Status.FIXED.value,
                    "is_open": False,
                    "status_changed_at": self.now,
                }
                for c in closing
            ],
        )
        self.session.execute(
            insert(FindingEvent),
            [
                self._event(
                    c.id, c.work_order_id, "transition", c.status, Status.FIXED.value, reason
                )
                for c in closing
            ],
        )
        self.touched_orders.update(c.work_order_id for c in closing if c.work_order_id)
        self.summary.closed += len(closing)

    def finish(self) -> None:
        """Link findings to assets found later in the file, and refresh touched work orders."""
        unlinked = self.session.execute(
            select(Finding.id, Finding.host).where(
                Finding.last_import_id == self.run.id,
                Finding.asset_id.is_(None),
                Finding.host.is_not(None),
            )
        ).all()
        links = [
            {"id": fid, "asset_id": aid}
            for fid, host in unlinked
            if (aid := self._asset_for({"host": host})) is not None
        ]
        if links:
            self.session.execute(update(Finding), links)
        for order_id in sorted(self.touched_orders):
            order = self.session.get(WorkOrder, order_id)
            if order is not None:
                refresh_work_order(self.session, order, self.now, self.days)


def _order_title(value: dict[str, Any]) -> str:
    where = value["host"] or value["url"] or value["file_path"] or ""
    if value["port"]:
        where = f"{where}:{value['port']}"
    return f"{value['title']}（{where}）"[:500] if where else value["title"][:500]


def ingest(
    session: Session,
    engagement: Engagement,
    records: Iterable[Record],
    *,
    format_name: str,
    source_tool: str | None = None,
    file_name: str | None = None,
    file_sha256: str | None = None,
    scan_run_id: int | None = None,
    options: IngestOptions | None = None,
    now: datetime | None = None,
) -> IngestSummary:
    """Ingest a stream of records into an engagement; returns what changed."""
    opts = options or IngestOptions()
    moment = now or datetime.now(UTC)
    run = ImportRun(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        scan_run_id=scan_run_id,
        format=format_name,
        source_tool=(source_tool or format_name).lower(),
        file_name=file_name,
        file_sha256=file_sha256,
        actor=opts.actor,
        started_at=moment,
    )
    session.add(run)
    session.flush()
    state = _Ingest(session, engagement, run, opts, moment)
    batch: list[FindingInput] = []
    for record in records:
        if isinstance(record, FindingInput):
            batch.append(record)
            if len(batch) >= BATCH_SIZE:
                state.add_batch(batch)
                batch = []
        elif isinstance(record, HostInput):
            state.add_host(record)
        elif isinstance(record, CoverageInput):
            state.coverage.hosts.update(h.lower() for h in record.hosts)
            state.coverage.urls.update(o for u in record.urls if (o := url_origin(u)))
            state.coverage.files.update(record.files)
    state.add_batch(batch)
    if opts.close_absent:
        state.close_absent()
    state.finish()
    run.finished_at = datetime.now(UTC)
    run.summary = state.summary.as_dict()
    record_event(
        session,
        "findings.import",
        actor=opts.actor,
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        target=file_name or format_name,
        detail=state.summary.as_dict(),
    )
    return state.summary
