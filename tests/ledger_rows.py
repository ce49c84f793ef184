"""Ledger rows for tests that need hosts with C/I/A values in the asset ledger."""

from __future__ import annotations

from shaobing.assets.kinds import AssetType
from shaobing.assets.ledger_io import LedgerRow


def host_row(name: str, address: str, system: str | None, cia: tuple[int, int, int]) -> LedgerRow:
    """A host row with one address, its business system and C/I/A values."""
    return LedgerRow(
        row=0,
        name=name,
        asset_type=AssetType.HOST,
        addresses=[address],
        hostname=None,
        url=None,
        os=None,
        system=system,
        zone=None,
        owner=None,
        importance=None,
        confidentiality=cia[0],
        integrity=cia[1],
        availability=cia[2],
        vendor=None,
        version=None,
        location=None,
        notes=None,
    )
