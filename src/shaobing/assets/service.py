"""Service functions of the asset ledger: import with change history, export, listing."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shaobing.assets.kinds import AssetType, asset_type_label
from shaobing.assets.ledger_io import LedgerRow, RowError, ledger_spec
from shaobing.assets.models import Asset, AssetAddress, AssetChange, AssetService
from shaobing.assets.valuation import ValuationMethod, asset_value
from shaobing.core.audit import record_event
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import BusinessSystem, Client
from shaobing.engagements.service import get_or_create_system

# Ledger fields copied onto the Asset row as they are (addresses and system handled apart).
_PLAIN_FIELDS = (
    "asset_type",
    "hostname",
    "url",
    "os",
    "zone",
    "owner",
    "importance",
    "confidentiality",
    "integrity",
    "availability",
    "vendor",
    "version",
    "location",
    "notes",
)


class LedgerImportRefused(ValidationError):
    """The ledger had errors and nothing was imported; ``errors`` lists every one."""

    def __init__(self, message: str, errors: list[RowError]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass
class ImportSummary:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [e.message() for e in self.skipped],
        }


def _family(address: str) -> int:
    return ipaddress.ip_address(address).version


def import_rows(
    session: Session,
    client: Client,
    rows: list[LedgerRow],
    errors: list[RowError],
    *,
    source_name: str,
    actor: str = "system",
    skip_bad: bool = False,
    method: ValuationMethod | str = ValuationMethod.LOG2,
    weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3),
) -> ImportSummary:
    """Merge ledger rows into the client's assets (matched by name), recording each change.

    By default any error (in the file, or an address already owned by another asset)
    refuses the whole import; with ``skip_bad`` the good rows go in and the bad ones are
    reported. The caller's transaction makes it all-or-nothing.
    """
    all_errors = list(errors)
    existing = {
        a.name: a
        for a in session.scalars(
            select(Asset).where(Asset.client_id == client.id).options(selectinload(Asset.addresses))
        )
    }
    owner_of = dict(
        session.execute(
            select(AssetAddress.address, Asset.name)
            .join(Asset, Asset.id == AssetAddress.asset_id)
            .where(AssetAddress.client_id == client.id)
        ).all()
    )
    good: list[LedgerRow] = []
    for row in rows:
        conflicts = [a for a in row.addresses if owner_of.get(a, row.name) != row.name]
        if conflicts:
            all_errors.extend(
                RowError(
                    row.row,
                    ledger_spec().column("addresses").header,
                    a,
                    t(
                        "assets.address_conflict",
                        row=row.row,
                        address=a,
                        other=owner_of[a],
                        name=row.name,
                    ),
                )
                for a in conflicts
            )
            continue
        good.append(row)
    if all_errors and not skip_bad:
        all_errors.sort(key=lambda e: e.row)
        raise LedgerImportRefused(
            t(
                "assets.import_refused",
                file=source_name,
                count=len(all_errors),
                first=all_errors[0].message(),
            ),
            all_errors,
        )

    summary = ImportSummary(skipped=sorted(all_errors, key=lambda e: e.row))
    systems: dict[str, BusinessSystem] = {}
    for row in good:
        system_id = None
        if row.system:
            if row.system not in systems:
                systems[row.system] = get_or_create_system(session, client, row.system)
            system_id = systems[row.system].id
        value = asset_value(row.confidentiality, row.integrity, row.availability, method, weights)
        wanted: dict[str, Any] = {f: getattr(row, f) for f in _PLAIN_FIELDS}
        wanted["asset_type"] = AssetType(row.asset_type).value
        wanted |= {"system_id": system_id, "value": value, "value_method": str(method)}
        asset = existing.get(row.name)
        if asset is None:
            asset = Asset(client_id=client.id, name=row.name, source="import", **wanted)
            asset.addresses = [
                AssetAddress(client_id=client.id, address=a, family=_family(a))
                for a in row.addresses
            ]
            session.add(asset)
            session.flush()
            existing[row.name] = asset
            _log_change(
                session,
                asset,
                actor,
                source_name,
                "created",
                {k: [None, v] for k, v in wanted.items() if v is not None}
                | {"addresses": [[], row.addresses]},
            )
            summary.created += 1
            continue
        changes = {k: [getattr(asset, k), v] for k, v in wanted.items() if getattr(asset, k) != v}
        old_addresses = [a.address for a in asset.addresses]
        if sorted(old_addresses) != sorted(row.addresses):
            changes["addresses"] = [old_addresses, row.addresses]
            keep = {a.address: a for a in asset.addresses if a.address in row.addresses}
            asset.addresses = [
                keep.get(a) or AssetAddress(client_id=client.id, address=a, family=_family(a))
                for a in row.addresses
            ]
        if not changes:
            summary.unchanged += 1
            continue
        for key, (_, new) in changes.items():
            if key != "addresses":
                setattr(asset, key, new)
        session.flush()
        _log_change(session, asset, actor, source_name, "updated", changes)
        summary.updated += 1
    record_event(
        session,
        "asset.import",
        actor=actor,
        client_id=client.id,
        target=source_name,
        detail={
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "skipped": len(summary.skipped),
        },
    )
    return summary


def _log_change(
    session: Session, asset: Asset, actor: str, source: str, kind: str, changes: dict[str, Any]
) -> None:
    session.add(
        AssetChange(
            client_id=asset.client_id,
            asset_id=asset.id,
            asset_name=asset.name,
            actor=actor,
            source=source,
            kind=kind,
            changes=changes,
        )
    )


def list_assets(
    session: Session,
    client: Client,
    *,
    system: str | None = None,
    asset_type: AssetType | None = None,
    zone: str | None = None,
) -> list[Asset]:
    """The client's assets, filtered, by name."""
    query = (
        select(Asset)
        .where(Asset.client_id == client.id)
        .options(selectinload(Asset.addresses))
        .order_by(Asset.name)
    )
    if system is not None:
        query = query.join(BusinessSystem, BusinessSystem.id == Asset.system_id).where(
            BusinessSystem.name == system
        )
    if asset_type is not None:
        query = query.where(Asset.asset_type == asset_type.value)
    if zone is not None:
        query = query.where(Asset.zone == zone)
    return list(session.scalars(query))


def system_names(session: Session, client: Client) -> dict[int, str]:
    """Map of the client's business system ids to names."""
    rows = session.execute(
        select(BusinessSystem.id, BusinessSystem.name).where(BusinessSystem.client_id == client.id)
    ).all()
    return dict(rows)


def asset_to_row(asset: Asset, systems: dict[int, str]) -> LedgerRow:
    """The ledger row of an asset (for export)."""
    return LedgerRow(
        row=0,
        name=asset.name,
        asset_type=AssetType(asset.asset_type),
        addresses=[a.address for a in asset.addresses],
        hostname=asset.hostname,
        url=asset.url,
        os=asset.os,
        system=systems.get(asset.system_id) if asset.system_id else None,
        zone=asset.zone,
        owner=asset.owner,
        importance=asset.importance,
        confidentiality=asset.confidentiality,
        integrity=asset.integrity,
        availability=asset.availability,
        vendor=asset.vendor,
        version=asset.version,
        location=asset.location,
        notes=asset.notes,
    )


def asset_as_dict(asset: Asset, systems: dict[int, str]) -> dict[str, Any]:
    """The stable JSON form of an asset (``asset list --json``)."""
    return {
        "id": asset.id,
        "name": asset.name,
        "type": asset.asset_type,
        "type_label": asset_type_label(AssetType(asset.asset_type)),
        "addresses": [a.address for a in asset.addresses],
        "hostname": asset.hostname,
        "url": asset.url,
        "os": asset.os,
        "system": systems.get(asset.system_id) if asset.system_id else None,
        "zone": asset.zone,
        "owner": asset.owner,
        "importance": asset.importance,
        "confidentiality": asset.confidentiality,
        "integrity": asset.integrity,
        "availability": asset.availability,
        "value": asset.value,
        "value_method": asset.value_method,
        "vendor": asset.vendor,
        "version": asset.version,
        "location": asset.location,
        "notes": asset.notes,
        "source": asset.source,
    }


def find_asset(session: Session, client: Client, ref: str) -> Asset:
    """One of the client's assets by id, name or IP address."""
    ref = ref.strip()
    query = select(Asset).where(Asset.client_id == client.id)
    found = None
    if ref.isdigit():
        found = session.scalar(query.where(Asset.id == int(ref)))
    if found is None:
        found = session.scalar(query.where(Asset.name == ref))
    if found is None:
        found = session.scalar(
            query.join(AssetAddress, AssetAddress.asset_id == Asset.id).where(
                AssetAddress.address == ref
            )
        )
    if found is None:
        raise NotFoundError(t("assets.unknown_client_asset", client=client.name, asset=ref))
    return found


def asset_services(session: Session, client: Client, asset_id: int) -> list[AssetService]:
    """Ports and services seen on one asset, by protocol and port."""
    return list(
        session.scalars(
            select(AssetService)
            .where(AssetService.client_id == client.id, AssetService.asset_id == asset_id)
            .order_by(AssetService.protocol, AssetService.port)
        )
    )


def asset_history(session: Session, client: Client, asset_id: int) -> list[AssetChange]:
    """Change history of one asset, oldest first."""
    return list(
        session.scalars(
            select(AssetChange)
            .where(AssetChange.client_id == client.id, AssetChange.asset_id == asset_id)
            .order_by(AssetChange.id)
        )
    )
