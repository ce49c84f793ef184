"""Normalised CVE records and the small field parsers shared by the NVD and CVE 5 readers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

from shaobing.vulndb.cpe import split_escaped

CVE_ID_RE = re.compile(r"CVE-\d{4}-\d{4,}")
_CWE_RE = re.compile(r"\bCWE-(\d{1,6})\b", re.IGNORECASE)
_UNESCAPE_RE = re.compile(r"\\(.)")

#: Organisation-defined caps that keep one record's row small whatever the feed contains.
DESCRIPTION_LIMIT = 20_000
REFERENCE_LIMIT = 100
URL_LIMIT = 2_000
CWE_LIMIT = 50
#: Column widths of cpe_criteria (models.py); longer values cannot be stored and the
#: criterion is skipped rather than truncated (a cut version bound would match wrongly).
CRITERIA_LIMIT = 500
FIELD_LIMIT = 200
BOUND_LIMIT = 100
VECTOR_LIMIT = 200
#: CVSS v3.1 / v4.0 specifications, "Qualitative Severity Rating Scale": lower bounds.
_SEVERITY_SCALE = ((9.0, "critical"), (7.0, "high"), (4.0, "medium"), (0.1, "low"))
_SEVERITIES = {"critical", "high", "medium", "low", "none"}


@dataclass(slots=True)
class CriterionInput:
    """One cpeMatch entry with its configuration/node position (see CpeCriterionRecord)."""

    config_index: int
    config_operator: str
    config_negate: bool
    node_index: int
    node_operator: str
    node_negate: bool
    vulnerable: bool
    criteria: str
    part: str
    vendor: str
    product: str
    version: str
    version_start_including: str | None = None
    version_start_excluding: str | None = None
    version_end_including: str | None = None
    version_end_excluding: str | None = None


@dataclass(slots=True)
class CveRecord:
    """A CVE's core record as one feed states it."""

    id: str
    source: str
    published: datetime | None = None
    modified: datetime | None = None
    rejected: bool = False
    description: str | None = None
    cvss3_vector: str | None = None
    cvss3_score: float | None = None
    cvss3_severity: str | None = None
    cvss4_vector: str | None = None
    cvss4_score: float | None = None
    cvss4_severity: str | None = None
    cwe_ids: list[str] = field(default_factory=list)
    reference_urls: list[str] = field(default_factory=list)
    criteria: list[CriterionInput] = field(default_factory=list)

    def core_row(self) -> dict[str, Any]:
        """Column values of the ``cves`` row this record owns (not the enrichment ones)."""
        # Plain attribute reads: dataclasses.asdict deep-copies the criteria, which was
        # most of an import's time.
        row = {name: getattr(self, name) for name in _CORE_FIELDS}
        row["criteria_count"] = len(self.criteria)
        return row


_CORE_FIELDS = [f.name for f in fields(CveRecord) if f.name not in {"id", "criteria"}]


# --------------------------------------------------------------------------- scalars
def text(value: object, limit: int | None = None) -> str | None:
    """A non-blank string (stripped, optionally cut to ``limit``), else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value:
        return None
    return value[:limit] if limit else value


def parse_datetime(value: object) -> datetime | None:
    """An ISO 8601 timestamp as aware UTC; values without a zone are UTC (NVD's convention)."""
    raw = text(value, 64)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: object) -> date | None:
    """A ``YYYY-MM-DD`` date (a timestamp's date part is accepted), else None."""
    raw = text(value, 64)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def score(value: object) -> float | None:
    """A CVSS score in 0..10 (CVSS specifications), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and 0.0 <= number <= 10.0 else None


def severity(value: object, base_score: float | None) -> str | None:
    """Lower-case qualitative severity, derived from the score when the feed omits it."""
    label = text(value, 16)
    if label and label.lower() in _SEVERITIES:
        return label.lower()
    if base_score is None:
        return None
    for bound, name in _SEVERITY_SCALE:
        if base_score >= bound:
            return name
    return "none"


def description(entries: object) -> str | None:
    """The Chinese description if there is one, else English, else the first given."""
    if not isinstance(entries, list):
        return None
    by_lang: list[tuple[str, str]] = []
    for entry in entries:
        if isinstance(entry, dict):
            value = text(entry.get("value"), DESCRIPTION_LIMIT)
            if value:
                by_lang.append((str(entry.get("lang") or "").lower(), value))
    for prefix in ("zh", "en"):
        for lang, value in by_lang:
            if lang.startswith(prefix):
                return value
    return by_lang[0][1] if by_lang else None


def cwe_ids(values: list[str]) -> list[str]:
    """``CWE-<n>`` identifiers found in ``values``, de-duplicated in order, capped."""
    seen: dict[str, None] = {}
    for value in values:
        for number in _CWE_RE.findall(value):
            seen[f"CWE-{int(number)}"] = None
    return list(seen)[:CWE_LIMIT]


def reference_urls(urls: list[object]) -> list[str]:
    """Distinct URL strings, each and in number capped."""
    seen: dict[str, None] = {}
    for url in urls:
        value = text(url)
        if value and len(value) <= URL_LIMIT:
            seen[value] = None
            if len(seen) >= REFERENCE_LIMIT:
                break
    return list(seen)


# --------------------------------------------------------------------------- CPE
def as_dict(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (feeds are untrusted)."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def split_cpe23(criteria: str) -> list[str] | None:
    """The 13 components of a CPE 2.3 formatted string (escapes kept), else None."""
    parts = criteria.split(":") if "\\" not in criteria else split_escaped(criteria)
    # NISTIR 7695, section 6.2: "cpe", "2.3", then 11 attributes.
    if len(parts) != 13 or parts[0].lower() != "cpe" or parts[1] != "2.3":
        return None
    return parts


def cpe_field(value: str) -> str:
    """A CPE attribute unescaped and lower-cased, for indexed lookup."""
    if "\\" in value:
        value = _UNESCAPE_RE.sub(r"\1", value)
    return value.lower()


def criterion(
    criteria: object,
    *,
    position: tuple[int, str, bool, int, str, bool],
    vulnerable: bool,
    bounds: dict[str, object],
) -> CriterionInput | None:
    """A stored criterion from a CPE 2.3 string and version bounds; None if unusable."""
    raw = text(criteria)
    if raw is None or len(raw) > CRITERIA_LIMIT:
        return None
    parts = split_cpe23(raw)
    if parts is None:
        return None
    vendor, product, version = (cpe_field(p) for p in parts[3:6])
    if max(len(vendor), len(product), len(version)) > FIELD_LIMIT:
        return None
    values: dict[str, str | None] = {}
    for key, name in (
        ("versionStartIncluding", "version_start_including"),
        ("versionStartExcluding", "version_start_excluding"),
        ("versionEndIncluding", "version_end_including"),
        ("versionEndExcluding", "version_end_excluding"),
    ):
        value = text(bounds.get(key))
        if value is not None and len(value) > BOUND_LIMIT:
            return None
        values[name] = value
    config_index, config_op, config_negate, node_index, node_op, node_negate = position
    return CriterionInput(
        config_index=config_index,
        config_operator=config_op,
        config_negate=config_negate,
        node_index=node_index,
        node_operator=node_op,
        node_negate=node_negate,
        vulnerable=vulnerable,
        criteria=raw,
        part=cpe_field(parts[2])[:1],
        vendor=vendor,
        product=product,
        version=version,
        **values,
    )
