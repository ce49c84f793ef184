"""Stable de-duplication fingerprints of findings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

# Fields that identify *where* and *what* a finding is; volatile text (timestamps,
# response bodies, scanner run ids) is deliberately absent so repeats hash the same.
DEFAULT_FINGERPRINT_FIELDS = (
    "source_tool",
    "check_id",
    "host",
    "port",
    "protocol",
    "url",
    "parameter",
)


def _normalise(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip().lower()
    return str(value)


def finding_fingerprint(
    values: Mapping[str, object], fields: tuple[str, ...] = DEFAULT_FINGERPRINT_FIELDS
) -> str:
    """SHA-256 over the normalised identifying fields of a finding (hex, 64 chars)."""
    canonical = json.dumps(
        [[name, _normalise(values.get(name))] for name in fields],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
