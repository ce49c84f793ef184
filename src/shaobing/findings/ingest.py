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

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, and_, bindparam, func, insert, literal, select, update
from sqlalchemy.orm import Session

from shaobing.assets.models import Asset, AssetAddress, AssetChange, AssetService
from shaobing.core.audit import record_event
from shaobing.core.bulk import bulk_insert
from shaobing.core.i18n import t
from shaobing.core.models import JSONType, UTCDateTime
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
    refresh_work_orders,
    sla_days,
    workflow,
)

BATCH_SIZE = 2000
# Core tables for bulk inserts: the ORM's bulk path splits executemany batches whenever
# rows differ in which values are None, which turns one statement into thousands.
FINDINGS = cast(Table, Finding.__table__)
EVENTS = cast(Table, FindingEvent.__table__)
ORDERS = cast(Table, WorkOrder.__table__)
ASSETS = cast(Table, Asset.__table__)
ADDRESSES = cast(Table, AssetAddress.__table__)
CHANGES = cast(Table, AssetChange.__table__)
SERVICES = cast(Table, AssetService.__table__)
# SQLite limits bound parameters per statement; keep IN lists well below it.
IN_CHUNK = 1000
# Up to this many findings in the dedup scope, a re-import reads all their fingerprints in
# one query (a few hundred bytes each) instead of one lookup per batch.
PRELOAD_LIMIT = 500_000
_KNOWN_COLUMNS = (
    Finding.id,
    Finding.fingerprint,
    Finding.status,
    Finding.work_order_id,
    Finding.content_hash,
)
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
    # A scan persisted in several ingests: findings last seen by any of these imports count
    # as seen, and only these check ids are closed when absent (the checks that ran).
    seen_import_ids: frozenset[int] = frozenset()
    close_check_ids: frozenset[str] | None = None
    # Findings below this severity rank are left alone (a scan that kept only high ones).
    close_min_severity_rank: int | None = None


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

    def add_finding(self, row: dict[str, Any]) -> None:
        self.tools.add(row["source_tool"])
        if row["host"]:
            self.hosts.add(row["host"])
        if row["url"]:
            origin = url_origin(row["url"])
            if origin:
                self.urls.add(origin)
        if row["file_path"]:
            self.files.add(row["file_path"])

    def covers(self, host: str | None, url: str | None, file_path: str | None) -> bool:
        if host and host.lower() in self.hosts:
            return True
        if url:
            origin = url_origin(url)
            if origin and any(origin == u or url.lower().startswith(u) for u in self.urls):
                return True
        return bool(file_path and file_path in self.files)


@lru_cache(maxsize=65536)
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


@lru_cache(maxsize=65536)
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
    row: dict[str, Any] = {
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
        # Masked only when stored (new or changed findings): a plain repeat never needs it.
        "evidence": item.evidence,
        "confidence": item.confidence[:32] if item.confidence else None,
        "tool_unique_id": item.tool_unique_id[:300] if item.tool_unique_id else None,
        "extra": item.extra,
    }
    row["content_hash"] = content_hash(row)
    return row


def prepare_finding(item: FindingInput, config: FingerprintConfig) -> dict[str, Any]:
    """The row of a finding: validated columns, fingerprint, content digest, tool flags."""
    row = _row_for(item)
    row["fingerprint"] = fingerprint_with(row, config.rule_for(row["source_tool"]))
    row["_flags"] = (item.false_positive, item.risk_accepted)
    return row


def _host_digest(source: str, host: HostInput) -> str:
    """Digest of what one tool reported about a host (OS, names, services)."""
    services = sorted(
        (
            svc.port,
            (svc.protocol or "tcp").lower(),
            svc.state,
            svc.service or "",
            svc.product or "",
            svc.version or "",
            tuple(svc.cpe),
            svc.banner or "",
        )
        for svc in host.services
    )
    material = repr((source, host.os, sorted(host.hostnames), services))
    return hashlib.blake2b(material.encode("utf-8"), digest_size=16).hexdigest()


def content_hash(row: dict[str, Any]) -> str:
    """Digest of the fields whose change counts as an update of a finding."""
    material = "\x1f".join(
        "\x1e".join(map(str, value)) if isinstance(value, list) else str(value)
        for value in (row[name] for name in _UPDATABLE)
    )
    return hashlib.blake2b(material.encode("utf-8"), digest_size=16).hexdigest()


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
        self.host_orders: dict[str, int] = {}
        self.pending_hosts: list[HostInput] = []
        self.linked_hosts: set[str] = set()
        self.known: dict[str, dict[str, Any]] | None = None
        self.known_loaded = False
        self.asset_names: set[str] = set(
            session.scalars(select(Asset.name).where(Asset.client_id == engagement.client_id))
        )
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
    def add_batch(self, batch: list[dict[str, Any]]) -> None:
        """Ingest prepared finding rows (see :func:`prepare_finding`)."""
        self.flush_hosts()  # so findings of hosts seen so far link to their assets at once
        rows: dict[str, dict[str, Any]] = {}
        for row in batch:
            self.coverage.add_finding(row)
            fp = row["fingerprint"]
            if fp in self.seen or fp in rows:
                self.summary.duplicates += 1  # the same finding twice in one result
                continue
            rows[fp] = row
        if not rows:
            return
        # An IP a finding names is part of the estate: unknown ones join the ledger.
        queued = {str(h.address) for h in self.pending_hosts}
        for row in rows.values():
            ip = _normal_ip(row["host"])
            if ip is not None and ip not in self.address_to_asset and ip not in queued:
                self.pending_hosts.append(HostInput(address=ip))
                queued.add(ip)
        self.flush_hosts()
        self.seen.update(rows)
        existing = self._existing(list(rows))
        new_rows = [r for fp, r in rows.items() if fp not in existing]
        self._update_existing([(rows[fp], found) for fp, found in existing.items()])
        self._create(new_rows)

    def _existing(self, fingerprints: list[str]) -> dict[str, dict[str, Any]]:
        if not self.known_loaded:
            self.known = self._load_known()
            self.known_loaded = True
        if self.known is not None:
            # Preloaded: findings created in this run are never in ``fingerprints`` again
            # (the seen-set drops repeats), so the snapshot stays correct.
            known = self.known
            return {fp: known[fp] for fp in fingerprints if fp in known}
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(fingerprints), IN_CHUNK):
            chunk = fingerprints[start : start + IN_CHUNK]
            for fid, fp, status, order_id, digest in self.session.execute(
                select(*_KNOWN_COLUMNS).where(
                    Finding.dedup_scope == self.scope_key, Finding.fingerprint.in_(chunk)
                )
            ).all():
                found[fp] = {
                    "id": fid,
                    "status": status,
                    "work_order_id": order_id,
                    "content_hash": digest,
                }
        return found

    def _load_known(self) -> dict[str, dict[str, Any]] | None:
        """Every finding of the dedup scope in one query, unless there are too many (then
        None: look them up per batch)."""
        count = self.session.scalar(
            select(func.count()).select_from(Finding).where(Finding.dedup_scope == self.scope_key)
        )
        if not count:
            return {}
        if count > PRELOAD_LIMIT:
            return None
        return {
            fp: {"id": fid, "status": status, "work_order_id": order_id, "content_hash": digest}
            for fid, fp, status, order_id, digest in self.session.execute(
                select(*_KNOWN_COLUMNS).where(Finding.dedup_scope == self.scope_key)
            ).all()
        }

    def _update_existing(self, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        if not pairs:
            return
        changed_rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        redetect = workflow().on_redetect
        for row, old in pairs:
            change = (
                {name: row[name] for name in (*_UPDATABLE, "content_hash")}
                if row["content_hash"] != old["content_hash"]
                else {}
            )
            target = redetect.get(Status(old["status"]))
            if change:
                self.summary.updated += 1
            elif target is None:
                self.summary.duplicates += 1
                continue
            # Evidence follows the latest detection only when something else changed: a
            # plain repeat keeps the stored evidence (rewriting it is most of a re-import).
            params: dict[str, Any] = {
                "fid": old["id"],
                "evidence": mask_secrets(row["evidence"]),
            } | change
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
            changed_rows.append(params)
        # Grouped by the set of columns that change, so each group is one executemany.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for params in changed_rows:
            groups.setdefault(tuple(sorted(k for k in params if k != "fid")), []).append(params)
        for columns, group in groups.items():
            self.session.execute(
                update(FINDINGS)
                .where(FINDINGS.c.id == bindparam("fid"))
                .values({c: bindparam(c) for c in columns}),
                group,
            )
        # Every finding seen again: one set-based statement per chunk (times_seen is
        # incremented in SQL so concurrent imports cannot lose a count).
        ids = [old["id"] for _, old in pairs]
        for start in range(0, len(ids), IN_CHUNK):
            self.session.execute(
                update(FINDINGS)
                .where(FINDINGS.c.id.in_(ids[start : start + IN_CHUNK]))
                .values(
                    times_seen=FINDINGS.c.times_seen + 1,
                    last_seen=self.now,
                    last_import_id=self.run.id,
                )
            )
        if events:
            self.session.execute(insert(EVENTS), events)

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
                    "evidence": mask_secrets(row["evidence"]),
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
                    "work_order_id": None,
                }
            )
        # Work orders first, so findings are inserted already linked. No RETURNING: with
        # executemany it is quadratic in SQLAlchemy's result splicing; ids are read back
        # by their natural keys instead.
        orders = self._work_orders_for(values)
        for value in values:
            value["work_order_id"] = orders.get(id(value))
        bulk_insert(self.session, FINDINGS, values)
        self.summary.created += len(values)

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
    def _work_orders_for(self, values: list[dict[str, Any]]) -> dict[int, int]:
        """Work orders for new open findings: ``id(value) -> order id`` (created or, per
        host, reused)."""
        fresh = [v for v in values if v["is_open"]]
        if not fresh:
            return {}
        if self.options.grouping == "host":
            out: dict[int, int] = {}
            for value in fresh:
                key = value["host"] or value["url"] or value["file_path"] or "-"
                order_id = self._host_order(key, value)
                out[id(value)] = order_id
                self.touched_orders.add(order_id)
            return out
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
        bulk_insert(self.session, ORDERS, rows)
        self.summary.work_orders_created += len(rows)
        by_key: dict[str, int] = {}
        keys = [v["fingerprint"] for v in fresh]
        for start in range(0, len(keys), IN_CHUNK):
            by_key.update(
                (key, order_id)
                for order_id, key in self.session.execute(
                    select(WorkOrder.id, WorkOrder.group_key).where(
                        WorkOrder.engagement_id == self.engagement.id,
                        WorkOrder.grouping == "finding",
                        WorkOrder.group_key.in_(keys[start : start + IN_CHUNK]),
                        WorkOrder.created_at == self.now,
                    )
                ).all()
            )
        return {id(v): by_key[v["fingerprint"]] for v in fresh}

    def _host_order(self, key: str, value: dict[str, Any]) -> int:
        cached = self.host_orders.get(key)
        if cached is not None:
            return cached
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
        self.host_orders[key] = order.id
        return order.id

    # ------------------------------------------------------------ hosts
    def add_host(self, host: HostInput) -> None:
        """Queue a host for the ledger merge (done in batches by :meth:`flush_hosts`)."""
        if host.status != "up" and not host.services:
            return
        address = _normal_ip(host.address)
        if address:
            self.coverage.hosts.add(address)
        for hostname in host.hostnames:
            self.coverage.hosts.add(hostname.lower())
        self.pending_hosts.append(host)
        if len(self.pending_hosts) >= BATCH_SIZE:
            self.flush_hosts()

    def flush_hosts(self) -> None:
        """Merge queued hosts into the asset ledger: new assets, OS/hostname changes and
        services, with change history; counts each asset that changed once."""
        if not self.pending_hosts:
            return
        merged: dict[str, HostInput] = {}
        for host in self.pending_hosts:
            address = _normal_ip(host.address)
            name = host.hostnames[0].lower() if host.hostnames else None
            key = address or (f"name:{name}" if name else None)
            if key is None:
                continue
            if key in merged:
                merged[key].services.extend(host.services)
                merged[key].os = host.os or merged[key].os
                merged[key].hostnames.extend(
                    h for h in host.hostnames if h not in merged[key].hostnames
                )
            else:
                merged[key] = HostInput(
                    address=address,
                    hostnames=list(host.hostnames),
                    os=host.os,
                    status=host.status,
                    services=list(host.services),
                )
        self.pending_hosts = []
        known: dict[int, HostInput] = {}
        new: list[HostInput] = []
        for key, host in merged.items():
            name = host.hostnames[0].lower() if host.hostnames else None
            asset_id = (
                self.address_to_asset.get(key) if not key.startswith("name:") else None
            ) or (self.name_to_asset.get(name) if name else None)
            if asset_id is not None:
                known[asset_id] = host
            elif host.address is not None:
                new.append(host)  # a host known only by name is not added to the ledger
        changed = self._create_assets(new)
        unchanged = self._unchanged_hosts(known)
        if unchanged:
            # Reported exactly as last time by this tool: nothing to compare or rewrite;
            # only the last-seen time of the services this tool reported moves on.
            ids = sorted(unchanged)
            for start in range(0, len(ids), IN_CHUNK):
                self.session.execute(
                    update(SERVICES)
                    .where(
                        SERVICES.c.asset_id.in_(ids[start : start + IN_CHUNK]),
                        SERVICES.c.source == self.run.format,
                    )
                    .values(last_seen=self.now)
                )
            known = {k: v for k, v in known.items() if k not in unchanged}
        changed |= self._update_assets(known)
        merging = {**known, **{self.address_to_asset[str(h.address)]: h for h in new}}
        changed |= self._merge_services(merging)
        if merging:
            self.session.execute(
                update(ASSETS)
                .where(ASSETS.c.id == bindparam("aid"))
                .values(scan_digest=bindparam("digest")),
                [
                    {"aid": aid, "digest": _host_digest(self.run.format, h)}
                    for aid, h in merging.items()
                ],
            )
        self.summary.assets_updated += len(changed)

    def _unchanged_hosts(self, hosts: dict[int, HostInput]) -> set[int]:
        """Assets whose stored digest equals what this tool reports for them now."""
        ids = list(hosts)
        same: set[int] = set()
        for start in range(0, len(ids), IN_CHUNK):
            for asset_id, digest in self.session.execute(
                select(Asset.id, Asset.scan_digest).where(
                    Asset.id.in_(ids[start : start + IN_CHUNK])
                )
            ).all():
                if digest is not None and digest == _host_digest(self.run.format, hosts[asset_id]):
                    same.add(asset_id)
        return same

    def _create_assets(self, hosts: list[HostInput]) -> set[int]:
        if not hosts:
            return set()
        rows: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        for host in hosts:
            name = host.hostnames[0].lower() if host.hostnames else None
            rows.append(
                {
                    "client_id": self.client_id,
                    "name": self._free_name(name or str(host.address)),
                    "asset_type": "host",
                    "hostname": name,
                    "os": host.os,
                    "source": self.run.format,
                    "created_at": self.now,
                    "updated_at": self.now,
                    "confidentiality": 3,
                    "integrity": 3,
                    "availability": 3,
                    "value": 3,
                    "value_method": "log2",
                }
            )
        bulk_insert(self.session, ASSETS, rows)
        names = [r["name"] for r in rows]
        ids: dict[str, int] = {}
        for start in range(0, len(names), IN_CHUNK):
            ids.update(
                (n, i)
                for i, n in self.session.execute(
                    select(Asset.id, Asset.name).where(
                        Asset.client_id == self.client_id,
                        Asset.name.in_(names[start : start + IN_CHUNK]),
                    )
                ).all()
            )
        addresses = []
        for host, row in zip(hosts, rows, strict=True):
            asset_id = ids[row["name"]]
            address = str(host.address)
            self.address_to_asset[address] = asset_id
            self.linked_hosts.add(address)
            if row["hostname"]:
                self.name_to_asset.setdefault(row["hostname"], asset_id)
                self.linked_hosts.add(row["hostname"])
            addresses.append(
                {
                    "client_id": self.client_id,
                    "asset_id": asset_id,
                    "address": address,
                    "family": ipaddress.ip_address(address).version,
                }
            )
            changes.append(
                self._change(
                    asset_id,
                    row["name"],
                    "created",
                    {
                        "addresses": [[], [address]],
                        "hostname": [None, row["hostname"]],
                        "os": [None, host.os],
                    },
                )
            )
        bulk_insert(self.session, ADDRESSES, addresses)
        self.session.execute(insert(CHANGES), changes)
        return set(ids.values())

    def _update_assets(self, hosts: dict[int, HostInput]) -> set[int]:
        if not hosts:
            return set()
        ids = list(hosts)
        current: dict[int, tuple[str, str | None, str | None]] = {}
        for start in range(0, len(ids), IN_CHUNK):
            for asset_id, name, os_name, hostname in self.session.execute(
                select(Asset.id, Asset.name, Asset.os, Asset.hostname).where(
                    Asset.id.in_(ids[start : start + IN_CHUNK])
                )
            ).all():
                current[asset_id] = (name, os_name, hostname)
        updates, changes = [], []
        for asset_id, host in hosts.items():
            name, os_name, hostname = current[asset_id]
            new_name = host.hostnames[0].lower() if host.hostnames else None
            diff: dict[str, list[Any]] = {}
            params: dict[str, Any] = {"id": asset_id, "updated_at": self.now}
            if host.os and host.os != os_name:
                diff["os"] = [os_name, host.os]
                params["os"] = host.os
            if new_name and not hostname:
                diff["hostname"] = [hostname, new_name]
                params["hostname"] = new_name
            if diff:
                updates.append(params)
                changes.append(self._change(asset_id, name, "updated", diff))
        for params in updates:
            self.session.execute(
                update(ASSETS)
                .where(ASSETS.c.id == params["id"])
                .values({k: v for k, v in params.items() if k != "id"})
            )
        if changes:
            self.session.execute(insert(CHANGES), changes)
        return {u["id"] for u in updates}

    def _free_name(self, base: str) -> str:
        name, n = base, 1
        while name in self.asset_names:
            n += 1
            name = f"{base} ({n})"
        self.asset_names.add(name)
        return name

    def _merge_services(self, hosts: dict[int, HostInput]) -> set[int]:
        wanted = {aid: h for aid, h in hosts.items() if h.services}
        if not wanted:
            return set()
        ids = list(wanted)
        known: dict[tuple[int, int, str], dict[str, Any]] = {}
        for start in range(0, len(ids), IN_CHUNK):
            for row in self.session.execute(
                select(
                    AssetService.id,
                    AssetService.asset_id,
                    AssetService.port,
                    AssetService.protocol,
                    AssetService.state,
                    AssetService.service,
                    AssetService.product,
                    AssetService.version,
                    AssetService.cpe,
                    AssetService.banner,
                ).where(AssetService.asset_id.in_(ids[start : start + IN_CHUNK]))
            ).mappings():
                known[(row["asset_id"], row["port"], row["protocol"])] = dict(row)
        current_row: dict[str, Any] | None
        inserts: dict[tuple[int, int, str], dict[str, Any]] = {}
        touched: list[int] = []
        changed: set[int] = set()
        for asset_id, host in wanted.items():
            for svc in host.services:
                key = (asset_id, svc.port, (svc.protocol or "tcp").lower())
                fields = {
                    "state": svc.state,
                    "service": svc.service,
                    "product": svc.product,
                    "version": svc.version,
                    "cpe": list(svc.cpe),
                    "banner": svc.banner,
                }
                current_row = known.get(key)
                if current_row is None:
                    if key not in inserts:
                        inserts[key] = {
                            "client_id": self.client_id,
                            "asset_id": asset_id,
                            "port": key[1],
                            "protocol": key[2],
                            "source": self.run.format,
                            "first_seen": self.now,
                            "last_seen": self.now,
                        } | fields
                        changed.add(asset_id)
                    continue
                diff = {
                    k: v for k, v in fields.items() if v not in (None, []) and current_row[k] != v
                }
                if diff:
                    self.session.execute(
                        update(SERVICES).where(SERVICES.c.id == current_row["id"]).values(diff)
                    )
                    current_row.update(diff)
                    changed.add(asset_id)
                touched.append(current_row["id"])
        if inserts:
            bulk_insert(self.session, SERVICES, list(inserts.values()))
        for start in range(0, len(touched), IN_CHUNK):
            self.session.execute(
                update(SERVICES)
                .where(SERVICES.c.id.in_(touched[start : start + IN_CHUNK]))
                .values(last_seen=self.now)
            )
        return changed

    def _change(
        self, asset_id: int, name: str, kind: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "asset_id": asset_id,
            "asset_name": name,
            "changed_at": self.now,
            "actor": self.options.actor,
            "source": self.run.format,
            "kind": kind,
            "changes": changes,
        }

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
                Finding.last_import_id,
                Finding.check_id,
                Finding.severity_rank,
            ).where(
                Finding.engagement_id == self.engagement.id,
                Finding.source_tool.in_(sorted(tools)),
                Finding.status.in_([s.value for s in OPEN_STATES]),
                and_(Finding.last_import_id.is_distinct_from(self.run.id)),
            )
        ).all()
        if self.options.seen_import_ids:
            seen = self.options.seen_import_ids
            candidates = [c for c in candidates if c.last_import_id not in seen]
        if self.options.close_check_ids is not None:
            wanted = self.options.close_check_ids
            candidates = [c for c in candidates if c.check_id in wanted]
        if self.options.close_min_severity_rank is not None:
            floor = self.options.close_min_severity_rank
            candidates = [c for c in candidates if c.severity_rank >= floor]
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
            insert(EVENTS),
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
        """Record creation events, link findings to assets found later in the file, and
        refresh touched work orders."""
        created = select(
            Finding.client_id,
            Finding.id,
            Finding.work_order_id,
            literal(self.now, UTCDateTime()),
            literal(self.options.actor),
            literal(Role.SYSTEM.value),
            literal("created"),
            Finding.status,
            literal({"import_id": self.run.id}, JSONType),
        ).where(Finding.first_import_id == self.run.id)
        self.session.execute(
            insert(FindingEvent).from_select(
                [
                    "client_id",
                    "finding_id",
                    "work_order_id",
                    "at",
                    "actor",
                    "role",
                    "kind",
                    "to_state",
                    "detail",
                ],
                created,
            )
        )
        # Findings seen before their host's record (or before a later batch added the
        # asset) are linked now; only hosts that gained an asset in this import can match.
        keys = sorted(self.linked_hosts)
        for start in range(0, len(keys), IN_CHUNK):
            unlinked = self.session.execute(
                select(Finding.id, Finding.host).where(
                    Finding.engagement_id == self.engagement.id,
                    Finding.asset_id.is_(None),
                    Finding.host.in_(keys[start : start + IN_CHUNK]),
                )
            ).all()
            links = [
                {"fid": fid, "asset_id": aid}
                for fid, host in unlinked
                if (aid := self._asset_for({"host": host})) is not None
            ]
            if links:
                self.session.execute(
                    update(FINDINGS)
                    .where(FINDINGS.c.id == bindparam("fid"))
                    .values(asset_id=bindparam("asset_id")),
                    links,
                )
        refresh_work_orders(self.session, self.touched_orders, self.now, self.days)


def _order_title(value: dict[str, Any]) -> str:
    if value["url"]:
        # Web findings: the page (and parameter) tells work orders of one class apart.
        where = str(value["url"])
        if value.get("parameter"):
            where = f"{where} {value['parameter']}"
    else:
        where = value["host"] or value["file_path"] or ""
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
    batch: list[dict[str, Any]] = []
    for record in records:
        if isinstance(record, FindingInput):
            batch.append(prepare_finding(record, state.config))
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
