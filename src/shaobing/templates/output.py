"""Results in Nuclei's JSON Lines shape, so tools that read Nuclei output read ours."""

from __future__ import annotations

import json
from typing import Any

from shaobing.templates.state import TemplateResult


def _info(result: TemplateResult) -> dict[str, Any]:
    info = result.template.info
    out: dict[str, Any] = {
        "name": info.name,
        "author": list(info.authors),
        "tags": list(info.tags),
        "severity": info.severity,
    }
    if info.description:
        out["description"] = info.description
    if info.references:
        out["reference"] = list(info.references)
    if info.remediation:
        out["remediation"] = info.remediation
    classification = info.classification
    cls: dict[str, Any] = {}
    if classification.cve_ids:
        cls["cve-id"] = list(classification.cve_ids)
    if classification.cwe_ids:
        cls["cwe-id"] = list(classification.cwe_ids)
    if classification.cvss_metrics:
        cls["cvss-metrics"] = classification.cvss_metrics
    if classification.cvss_score is not None:
        cls["cvss-score"] = classification.cvss_score
    if cls:
        out["classification"] = cls
    if info.metadata:
        out["metadata"] = info.metadata
    return out


def result_record(result: TemplateResult, *, include_exchange: bool = False) -> dict[str, Any]:
    """One result as a Nuclei JSONL object (request/response only when asked, clipped)."""
    record: dict[str, Any] = {
        "template": result.template.path.name,
        "template-id": result.template.id,
        "template-path": str(result.template.path),
        "info": _info(result),
        "type": result.type,
        "host": result.host,
        "port": result.port,
        "scheme": result.scheme,
        "url": result.url,
        "matched-at": result.matched_at,
        "ip": result.ip,
        "timestamp": result.timestamp.isoformat(),
        "matcher-status": True,
    }
    if result.matcher_name:
        record["matcher-name"] = result.matcher_name
    if result.extracted:
        record["extracted-results"] = result.extracted
    if include_exchange:
        record["request"] = result.request
        record["response"] = result.response
    if result.interactions:
        # Nuclei reports the callback that proved an out-of-band match as "interaction".
        first = result.interactions[0]
        record["interaction"] = {
            "protocol": first.protocol,
            "unique-id": first.correlation_id,
            "full-id": first.correlation_id,
            "raw-request": first.request,
            "raw-response": first.response,
            "remote-address": first.remote_address,
            "timestamp": first.timestamp.isoformat(),
        }
    return record


def result_line(result: TemplateResult, *, include_exchange: bool = False) -> str:
    """:func:`result_record` as one line of JSON."""
    return json.dumps(
        result_record(result, include_exchange=include_exchange),
        ensure_ascii=False,
        default=str,
    )
