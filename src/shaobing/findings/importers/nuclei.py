"""Nuclei results: JSON Lines (``-jsonl``) and the JSON array of ``-json-export``.

Each result object becomes one finding. The check is the template id, refined by the
matcher name when the template has several named matchers (``tech-detect:nginx``).
HTTP-like results carry their ``matched-at`` URL; network/DNS/SSL results name
``host:port``. Nuclei has no stable result id (only a timestamp), so ``tool_unique_id``
stays empty.

Results of Nuclei 2.x use ``templateID`` / ``matcher_name`` / ``matched`` /
``extracted_results`` instead of the dashed keys of 3.x; both spellings are read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from shaobing.findings.importers import _web as w
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    Importer,
    ImportFormatError,
    Record,
)
from shaobing.findings.severity import parse_severity

_ARRAY_START = re.compile(r"\[\s*\{")
_TEMPLATE_KEY = re.compile(r'"(?:template-id|templateID)"\s*:')
_INFO_KEY = re.compile(r'"info"\s*:\s*\{')


def _template_id(obj: dict[str, Any]) -> str | None:
    return w.text(obj.get("template-id")) or w.text(obj.get("templateID"))


def _first(obj: dict[str, Any], *keys: str) -> Any:
    """The first present value among the spellings of one key."""
    for key in keys:
        if obj.get(key) is not None:
            return obj[key]
    return None


class NucleiImporter(Importer):
    """Nuclei JSON Lines and JSON-array output."""

    name: ClassVar[str] = "nuclei"
    label: ClassVar[str] = "Nuclei (JSONL / JSON)"
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl", ".json")
    priority: ClassVar[int] = 10

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """JSONL: the first non-blank line is an object with a template id and ``info``.
        JSON: an array whose first object has those keys."""
        text = w.sniff_text(head)
        if text.startswith("["):
            return bool(
                _ARRAY_START.match(text) and _TEMPLATE_KEY.search(text) and _INFO_KEY.search(text)
            )
        if not text.startswith("{"):
            return False
        line, newline, _ = text.partition("\n")
        if not newline and len(head) >= SNIFF_BYTES:
            # The first result is longer than the sniffed head (big responses): go by keys.
            return bool(_TEMPLATE_KEY.search(text) and _INFO_KEY.search(text))
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            return False
        return (
            isinstance(obj, dict)
            and _template_id(obj) is not None
            and isinstance(obj.get("info"), dict)
        )

    def parse(self, path: Path) -> Iterator[Record]:
        """One finding per result, then one coverage record with the hosts and origins."""
        kind = w.first_char(path)
        if kind == "[":
            results = _array_results(path)
        elif kind == "{":
            results = _line_results(path)
        else:
            raise ImportFormatError(path, w.problem("nuclei_not_json"))
        # dicts as insertion-ordered sets: a scan can span thousands of hosts
        urls: dict[str, None] = {}
        hosts: dict[str, None] = {}
        for obj in results:
            finding = _finding(obj)
            origin = w.origin_of(finding.url)
            if origin:
                urls[origin] = None
            elif finding.host:
                hosts[finding.host] = None
            yield finding
        if urls or hosts:
            yield CoverageInput(hosts=list(hosts), urls=list(urls))


def _array_results(path: Path) -> Iterator[dict[str, Any]]:
    for index, obj in w.iter_json_array(path):
        if not isinstance(obj, dict):
            raise ImportFormatError(path, w.problem("nuclei_item_not_object", index=index))
        if _template_id(obj) is None:
            raise ImportFormatError(path, w.problem("nuclei_item_no_template", index=index))
        yield obj


def _line_results(path: Path) -> Iterator[dict[str, Any]]:
    for lineno, line in w.iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                path,
                w.problem("nuclei_line_json", line=lineno, column=exc.colno, error=exc.msg),
            ) from exc
        except RecursionError as exc:
            raise ImportFormatError(path, w.problem("json_nesting")) from exc
        except ValueError as exc:  # e.g. an integer longer than Python accepts
            raise ImportFormatError(
                path, w.problem("nuclei_line_json", line=lineno, column=0, error=str(exc)[:200])
            ) from exc
        if not isinstance(obj, dict):
            raise ImportFormatError(path, w.problem("nuclei_line_not_object", line=lineno))
        if _template_id(obj) is None:
            raise ImportFormatError(path, w.problem("nuclei_line_no_template", line=lineno))
        yield obj


def _target_url(value: object) -> str | None:
    """A URL from a result field; some 3.x releases write ``"/http://host/"`` as ``url``."""
    raw = w.text(value)
    if raw is None:
        return None
    if raw.startswith("/") and "://" in raw:
        raw = raw.lstrip("/")
    return raw if w.split_url(raw).host else None


def _location(obj: dict[str, Any]) -> tuple[str | None, str | None, int | None]:
    """(url, host, port) of a result."""
    matched = w.text(_first(obj, "matched-at", "matched"))
    url = _target_url(matched)
    host: str | None = None
    port: int | None = None
    if url is None and matched:
        host, port = w.split_host_port(matched)
    elif url is None:
        # No matched-at (e.g. javascript templates): the target URL nuclei was given.
        url = next((u for u in map(_target_url, (obj.get("path"), obj.get("url"))) if u), None)
    if url is not None:
        where = w.split_url(url)
        host, port = where.host, where.port
    if host is None:
        host = w.split_host_port(obj.get("host"))[0] or w.text(obj.get("ip"))
    if port is None:
        port = w.port_number(obj.get("port"))
    return url, host, port


def _finding(obj: dict[str, Any]) -> FindingInput:
    template_id = _template_id(obj) or ""
    info = w.as_dict(obj.get("info"))
    classification = w.as_dict(info.get("classification"))
    matcher = w.text(_first(obj, "matcher-name", "matcher_name"))
    check_id = f"{template_id}:{matcher}" if matcher else template_id
    url, host, port = _location(obj)
    v3, v4 = w.cvss_vector(classification.get("cvss-metrics"))
    score = w.cvss_score(classification.get("cvss-score"))
    extracted = [
        value
        for value in map(w.text, w.as_list(_first(obj, "extracted-results", "extracted_results")))
        if value
    ]
    tags = info.get("tags")
    tag_list = [
        tag
        for tag in map(w.text, tags.split(",") if isinstance(tags, str) else w.as_list(tags))
        if tag
    ]
    extra: dict[str, Any] = {}
    for key, value in (
        ("type", obj.get("type")),
        ("ip", obj.get("ip")),
        ("template", obj.get("template")),
        ("template_url", obj.get("template-url")),
        ("matcher_name", matcher),
        ("cpe", classification.get("cpe")),
        ("impact", info.get("impact")),
    ):
        if found := w.text(value):
            extra[key] = w.clip(found, 2000)
    if tag_list:
        extra["tags"] = tag_list[:100]
    if extracted:
        extra["extracted_results"] = [w.clip(value, 500) for value in extracted[:50]]
    return FindingInput(
        source_tool="nuclei",
        check_id=check_id[:300],
        title=(w.text(info.get("name")) or template_id)[:1000],
        severity=parse_severity(w.text(info.get("severity"))),
        description=w.clip(w.text(info.get("description")), w.TEXT_LIMIT),
        remediation=w.clip(w.text(info.get("remediation")), w.TEXT_LIMIT),
        host=host,
        port=port,
        protocol="tcp" if port else None,
        url=url,
        parameter=w.text(_first(obj, "fuzzing_parameter", "fuzzing-parameter")),
        cvss_v3_vector=v3,
        cvss_v3_score=score if v4 is None else None,
        cvss_v4_vector=v4,
        cvss_v4_score=score if v4 is not None else None,
        cve_ids=w.cve_ids(classification.get("cve-id")),
        cwe_ids=w.cwe_ids(classification.get("cwe-id")),
        references=w.urls_in(*w.as_list(info.get("reference")), html_links=False),
        evidence=w.evidence(
            [
                ("extracted-results", "\n".join(extracted)),
                ("curl-command", obj.get("curl-command")),
                ("request", obj.get("request")),
                ("response", obj.get("response")),
            ]
        ),
        extra=extra,
    )
