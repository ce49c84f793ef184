"""CVE JSON 5 records (the cvelistV5 repository: ``cves/YYYY/NNxxx/CVE-YYYY-NNNN.json``).

The CNA container supplies description, metrics, problem types and references; metrics
missing there are taken from ADP containers (CISA's enrichment). ``affected[]`` entries are
mapped to criteria rows: each entry is one configuration with one OR node; an affected
range ``version`` … ``lessThan``/``lessThanOrEqual`` becomes version bounds, a single
version an exact criterion.
"""

from __future__ import annotations

import re
from typing import Any

from shaobing.vulndb.records import (
    CVE_ID_RE,
    VECTOR_LIMIT,
    CriterionInput,
    CveRecord,
    criterion,
    cwe_ids,
    description,
    parse_datetime,
    reference_urls,
    score,
    severity,
    split_cpe23,
    text,
)
from shaobing.vulndb.records import (
    as_dict as _dict,
)
from shaobing.vulndb.records import (
    as_list as _list,
)

# CPE 2.3 formatted-string attributes quote every character other than letters, digits,
# "_", "-" and "." with a backslash (NISTIR 7695, section 6.2.2.2).
_NEEDS_QUOTE = re.compile(r"([^A-Za-z0-9_.\-])")
# Placeholders CNAs write when they do not know the vendor, product or version.
_UNKNOWN = {"", "n/a", "na", "unknown", "unspecified", "-"}
# A range starting at one of these means "from the first version".
_OPEN_START = {"0", "*", "0.0", "0.0.0"}
_NO_VERSIONS = ("git",)  # versionType values whose "versions" are commit ids


def _quote(value: str) -> str:
    return _NEEDS_QUOTE.sub(r"\\\1", value)


def _name(value: object) -> str | None:
    raw = text(value, 200)
    if raw is None or raw.lower() in _UNKNOWN:
        return None
    return raw.lower().replace(" ", "_")


def _metric(containers: list[dict[str, Any]], *keys: str) -> dict[str, Any]:
    for container in containers:
        for entry in _list(container.get("metrics")):
            for key in keys:
                found = _dict(_dict(entry).get(key))
                if found:
                    return found
    return {}


def _affected(entries: object) -> list[CriterionInput]:
    out: list[CriterionInput] = []
    for c_index, raw_entry in enumerate(_list(entries)):
        entry = _dict(raw_entry)
        part, vendor, product = "a", _name(entry.get("vendor")), _name(entry.get("product"))
        for cpe in _list(entry.get("cpes")):
            parts = split_cpe23(cpe) if isinstance(cpe, str) else None
            if parts and parts[3] not in {"*", "-"} and parts[4] not in {"*", "-"}:
                part, vendor, product = parts[2], parts[3], parts[4]
                break
        else:
            vendor = _quote(vendor) if vendor else None
            product = _quote(product) if product else None
        if vendor is None or product is None:
            continue
        position = (c_index, "OR", False, 0, "OR", False)
        ranges: list[tuple[str, dict[str, object]]] = []
        for raw_version in _list(entry.get("versions")):
            version = _dict(raw_version)
            if version.get("status") != "affected" or version.get("versionType") in _NO_VERSIONS:
                continue
            start = text(version.get("version"), 100)
            end_lt = text(version.get("lessThan"), 100)
            end_le = text(version.get("lessThanOrEqual"), 100)
            if end_lt or end_le:
                bounds: dict[str, object] = {}
                if start and start not in _OPEN_START:
                    bounds["versionStartIncluding"] = start
                if end_lt and end_lt != "*":
                    bounds["versionEndExcluding"] = end_lt
                elif end_le and end_le != "*":
                    bounds["versionEndIncluding"] = end_le
                ranges.append(("*", bounds))
            elif start and start.lower() not in _UNKNOWN:
                ranges.append((_quote(start) if start != "*" else "*", {}))
        if not _list(entry.get("versions")) and entry.get("defaultStatus") == "affected":
            ranges.append(("*", {}))
        for version_field, bounds in ranges:
            row = criterion(
                f"cpe:2.3:{part}:{vendor}:{product}:{version_field}:*:*:*:*:*:*:*",
                position=position,
                vulnerable=True,
                bounds=bounds,
            )
            if row is not None:
                out.append(row)
    return out


def cve5_record(document: object) -> CveRecord | None:
    """A CVE JSON 5 document as a record; None when it has no valid ``cveMetadata.cveId``."""
    meta = _dict(_dict(document).get("cveMetadata"))
    cve_id = text(meta.get("cveId"), 32)
    if cve_id is None or not CVE_ID_RE.fullmatch(cve_id):
        return None
    containers = _dict(_dict(document).get("containers"))
    cna = _dict(containers.get("cna"))
    all_containers = [cna, *(_dict(a) for a in _list(containers.get("adp")))]
    v3 = _metric(all_containers, "cvssV3_1", "cvssV3_0")
    v4 = _metric(all_containers, "cvssV4_0")
    v3_score, v4_score = score(v3.get("baseScore")), score(v4.get("baseScore"))
    problems: list[str] = []
    for container in all_containers:
        for problem in _list(container.get("problemTypes")):
            for raw in _list(_dict(problem).get("descriptions")):
                entry = _dict(raw)
                problems.extend(str(entry.get(k)) for k in ("cweId", "description") if k in entry)
    rejected = meta.get("state") == "REJECTED"
    descriptions = cna.get("rejectedReasons") if rejected else cna.get("descriptions")
    return CveRecord(
        id=cve_id,
        source="cve5",
        published=parse_datetime(meta.get("datePublished")),
        modified=parse_datetime(meta.get("dateUpdated") or meta.get("datePublished")),
        rejected=rejected,
        description=description(descriptions),
        cvss3_vector=text(v3.get("vectorString"), VECTOR_LIMIT),
        cvss3_score=v3_score,
        cvss3_severity=severity(v3.get("baseSeverity"), v3_score),
        cvss4_vector=text(v4.get("vectorString"), VECTOR_LIMIT),
        cvss4_score=v4_score,
        cvss4_severity=severity(v4.get("baseSeverity"), v4_score),
        cwe_ids=cwe_ids(problems),
        reference_urls=reference_urls([_dict(r).get("url") for r in _list(cna.get("references"))]),
        criteria=[] if rejected else _affected(cna.get("affected")),
    )
