"""NVD CVE API 2.0 JSON (API pages and the yearly ``nvdcve-2.0-*.json`` files)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shaobing.vulndb.jsonstream import JsonStream
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
    text,
)
from shaobing.vulndb.records import (
    as_dict as _dict,
)
from shaobing.vulndb.records import (
    as_list as _list,
)

_OPERATORS = {"AND", "OR"}


def _pick_metric(metrics: dict[str, Any], *keys: str) -> dict[str, Any]:
    """cvssData of the first metric list present, the NVD ("Primary") entry preferred."""
    for key in keys:
        entries = [e for e in _list(metrics.get(key)) if isinstance(e, dict)]
        if entries:
            primary = [e for e in entries if e.get("type") == "Primary"]
            return _dict((primary or entries)[0].get("cvssData"))
    return {}


def _operator(value: object, default: str) -> str:
    return value if isinstance(value, str) and value in _OPERATORS else default


def configurations(items: object) -> list[CriterionInput]:
    """Criteria rows of NVD ``configurations`` (operators/negate kept per row)."""
    out: list[CriterionInput] = []
    for c_index, raw_config in enumerate(_list(items)):
        config = _dict(raw_config)
        # NVD omits the configuration operator for single-node configurations; OR is the
        # neutral reading (one node either way).
        config_op = _operator(config.get("operator"), "OR")
        config_negate = config.get("negate") is True
        for n_index, raw_node in enumerate(_list(config.get("nodes"))):
            node = _dict(raw_node)
            position = (
                c_index,
                config_op,
                config_negate,
                n_index,
                _operator(node.get("operator"), "OR"),
                node.get("negate") is True,
            )
            for raw_match in _list(node.get("cpeMatch")):
                match = _dict(raw_match)
                row = criterion(
                    match.get("criteria"),
                    position=position,
                    vulnerable=match.get("vulnerable") is not False,
                    bounds=match,
                )
                if row is not None:
                    out.append(row)
    return out


def nvd_record(item: object) -> CveRecord | None:
    """One ``vulnerabilities[]`` item as a record; None when it has no valid CVE id."""
    cve = _dict(_dict(item).get("cve"))
    cve_id = text(cve.get("id"), 32)
    if cve_id is None or not CVE_ID_RE.fullmatch(cve_id):
        return None
    metrics = _dict(cve.get("metrics"))
    v3 = _pick_metric(metrics, "cvssMetricV31", "cvssMetricV30")
    v4 = _pick_metric(metrics, "cvssMetricV40")
    v3_score, v4_score = score(v3.get("baseScore")), score(v4.get("baseScore"))
    weaknesses = [
        str(d.get("value"))
        for w in _list(cve.get("weaknesses"))
        for d in _list(_dict(w).get("description"))
        if isinstance(d, dict)
    ]
    return CveRecord(
        id=cve_id,
        source="nvd",
        published=parse_datetime(cve.get("published")),
        modified=parse_datetime(cve.get("lastModified")),
        rejected=cve.get("vulnStatus") == "Rejected",
        description=description(cve.get("descriptions")),
        cvss3_vector=text(v3.get("vectorString"), VECTOR_LIMIT),
        cvss3_score=v3_score,
        cvss3_severity=severity(v3.get("baseSeverity"), v3_score),
        cvss4_vector=text(v4.get("vectorString"), VECTOR_LIMIT),
        cvss4_score=v4_score,
        cvss4_severity=severity(v4.get("baseSeverity"), v4_score),
        cwe_ids=cwe_ids(weaknesses),
        reference_urls=reference_urls([_dict(r).get("url") for r in _list(cve.get("references"))]),
        criteria=configurations(cve.get("configurations")),
    )


def read_nvd(stream: JsonStream) -> Iterator[CveRecord]:
    """The records of an NVD 2.0 document, streamed; an item without a CVE id is an error."""
    meta: dict[str, Any] = {}
    for item in stream.stream_array("vulnerabilities", meta):
        record = nvd_record(item)
        if record is None:
            raise stream.item_error("bad_item")
        yield record
