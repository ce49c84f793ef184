"""Greenbone / OpenVAS reports: the XML report format and the CSV results export.

XML is accepted with a ``<report>`` root (as downloaded from GSA) or wrapped in a
``<get_reports_response>`` (as returned by ``gvm-cli``/GMP). Each ``results/result`` is a
finding: the NVT OID is the check id, the numeric severity gives the level (a "Log"
result is info), QoD is the confidence, the result's own text is the evidence. Report-level
``<host>`` elements give hosts (address, hostname, best OS) and coverage; hosts named only
by results are covered too.

The CSV export ("CSV Results") has one row per result with the same fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from xml.etree.ElementTree import Element

from shaobing.findings.importers._xml import (
    CsvRow,
    child_text,
    clean,
    cve_ids,
    cvss_v2,
    cvss_v3,
    cvss_v4,
    cwe_ids,
    dedent_lines,
    fail,
    iter_csv_rows,
    iter_xml,
    looks_like_xml,
    prefixed_ids,
    read_head,
    sniff_csv_header,
    sniff_root,
    to_float,
    to_int,
    truncate,
    unique,
)
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
    HostInput,
    Importer,
    Record,
)
from shaobing.findings.severity import Severity, parse_severity, severity_from_score

TOOL = "openvas"
_ROOTS = {"report", "get_reports_response"}
# A bare <report> root is also used by other tools (Wapiti); these only occur in GVM's.
_GVM_MARKERS = (
    b"<nvt oid=",
    b"<scan_run_status",
    b"<report_format",
    b"<gmp>",
    b"<omp>",
    b"<result_count",
    b"<severity_class",
    b"<task id=",
    b" format_id=",
)
_CSV_REQUIRED = ("IP", "Port", "NVT Name", "NVT OID")
# Tag values are "key=value|key=value"; a "|" not followed by "key=" belongs to the value.
_TAG_SPLIT_RE = re.compile(r"\|(?=[A-Za-z_0-9]+=)")
_PORT_RE = re.compile(r"^\s*(\d+)\s*/\s*(\w+)\s*$")
_DEBUG = -2.0
_THREAT_WORDS = {"critical", "high", "medium", "low"}
_FALSE_POSITIVE = -1.0


@dataclass
class _Hosts:
    """Hosts met so far (by address), in order, for host records and coverage."""

    hosts: dict[str, HostInput] = field(default_factory=dict)
    yielded: set[str] = field(default_factory=set)

    def note(self, address: str | None, hostname: str | None) -> None:
        if not address:
            return
        host = self.hosts.setdefault(address, HostInput(address=address))
        if hostname and hostname not in host.hostnames:
            host.hostnames.append(hostname)

    def pending(self) -> Iterator[HostInput]:
        for address, host in self.hosts.items():
            if address not in self.yielded:
                yield host

    def coverage(self) -> CoverageInput:
        return CoverageInput(hosts=list(self.hosts))


class GvmImporter(Importer):
    """Greenbone / OpenVAS XML report or CSV results export."""

    name: ClassVar[str] = "openvas"
    label: ClassVar[str] = "Greenbone/OpenVAS"
    suffixes: ClassVar[tuple[str, ...]] = (".xml", ".csv")

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """GVM XML by its root and GMP-only elements; CSV by its header line."""
        root = sniff_root(head)
        if root == "get_reports_response":
            return True
        if root == "report":
            return any(marker in head for marker in _GVM_MARKERS)
        if root is None:
            header = set(sniff_csv_header(head))
            return all(name in header for name in _CSV_REQUIRED)
        return False

    def parse(self, path: Path) -> Iterator[Record]:
        """Findings and hosts, then the hosts of the report as coverage."""
        if looks_like_xml(read_head(path)):
            yield from self._parse_xml(path)
        else:
            yield from self._parse_csv(path)

    # ----------------------------------------------------------------------- XML
    def _parse_xml(self, path: Path) -> Iterator[Record]:
        hosts = _Hosts()
        index = 0
        for event in iter_xml(path, roots=_ROOTS, format_label=self.label, capture=_wanted):
            elem = event.elem
            if event.path[-1] == "result":
                index += 1
                finding = _result(path, elem, index)
                if finding is not None:
                    hostname = finding.extra.get("hostname")
                    hosts.note(finding.host, hostname if isinstance(hostname, str) else None)
                    yield finding
            else:
                host = _report_host(elem)
                if host is not None and host.address:
                    hosts.note(host.address, None)
                    known = hosts.hosts[host.address]
                    known.hostnames = unique([*known.hostnames, *host.hostnames])
                    known.os = host.os or known.os
                    hosts.yielded.add(host.address)
                    yield known
        yield from hosts.pending()
        yield hosts.coverage()

    # ----------------------------------------------------------------------- CSV
    def _parse_csv(self, path: Path) -> Iterator[Record]:
        hosts = _Hosts()
        for row in iter_csv_rows(path, format_label=self.label, required=_CSV_REQUIRED):
            finding = _csv_finding(path, row)
            hosts.note(row.get("IP"), row.get("Hostname"))
            if finding is not None:
                yield finding
        yield from hosts.pending()
        yield hosts.coverage()


def _wanted(path: tuple[str, ...]) -> bool:
    # results/result only: <result> also appears in delta, override and detection blocks.
    if len(path) < 2:
        return False
    if path[-1] == "result":
        return path[-2] == "results"
    return path[-1] == "host" and path[-2] == "report"


# --------------------------------------------------------------------------- XML parts
def _report_host(elem: Element) -> HostInput | None:
    address = child_text(elem, "ip")
    if address is None:
        return None
    details: dict[str, list[str]] = {}
    for detail in elem.findall("detail"):
        name = child_text(detail, "name")
        value = child_text(detail, "value")
        if name and value:
            details.setdefault(name, []).append(value)
    os_name = next(iter(details.get("best_os_txt", [])), None)
    return HostInput(address=address, hostnames=unique(details.get("hostname", [])), os=os_name)


def _tags(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in _TAG_SPLIT_RE.split(text or ""):
        key, sep, value = part.partition("=")
        if sep and (cleaned := dedent_lines(value)):
            out[key.strip()] = cleaned
    return out


def _result(path: Path, elem: Element, index: int) -> FindingInput | None:
    """One ``<result>`` as a finding (None for debug messages)."""
    nvt = elem.find("nvt")
    if nvt is None:
        nvt = Element("nvt")
    oid = clean(nvt.get("oid"))
    title = child_text(nvt, "name") or child_text(elem, "name") or oid
    if title is None:
        raise fail(path, "missing_field", element="<result>", index=index, field="nvt oid")
    score = to_float(child_text(elem, "severity"), low=-10.0)
    threat = child_text(elem, "threat")
    if (threat or "").lower() == "debug" or score == _DEBUG:
        return None  # scanner debug messages, not findings
    false_positive = (
        score == _FALSE_POSITIVE or (threat or "").lower().replace(" ", "_") == "false_positive"
    )
    if false_positive:
        score = to_float(child_text(elem, "original_severity"))
        threat = child_text(elem, "original_threat")
    severity = _severity(score, threat)
    host_elem = elem.find("host")
    address = clean(host_elem.text) if host_elem is not None else None
    hostname = child_text(host_elem, "hostname") if host_elem is not None else None
    port, protocol, location = _port(child_text(elem, "port"))
    tags = _tags(child_text(nvt, "tags"))
    refs = [
        (ref.get("type", "").lower(), clean(ref.get("id")) or "") for ref in nvt.findall("refs/ref")
    ]
    old_xrefs = [x.strip() for x in (child_text(nvt, "xref") or "").split(",")]
    cves = cve_ids([oid, *(rid for kind, rid in refs if kind == "cve"), child_text(nvt, "cve")])
    references = unique(
        [
            *(rid for kind, rid in refs if kind == "url"),
            *(x.removeprefix("URL:") for x in old_xrefs if x.startswith("URL:")),
        ]
    )
    v3_vector, v3_score, v4_vector, v2_vector = _cvss(nvt, tags)
    solution = dedent_lines(child_text(nvt, "solution")) or tags.get("solution")
    qod = to_int(child_text(elem, "qod/value"), high=100)
    extra: dict[str, object] = {
        key: value
        for key, value in {
            "hostname": hostname,
            "location": location,
            "threat": threat,
            "score": score,
            "family": child_text(nvt, "family"),
            "qod_type": child_text(elem, "qod/type") or tags.get("qodType"),
            "solution_type": tags.get("solution_type") or _attr(nvt.find("solution"), "type"),
            "affected": tags.get("affected"),
            "vuldetect": tags.get("vuldetect"),
            "cvss_v2_vector": v2_vector,
            "certs": unique(rid for kind, rid in refs if kind in {"cert-bund", "dfn-cert"}),
            "bids": unique(rid for kind, rid in refs if kind == "bid"),
        }.items()
        if value not in (None, [])
    }
    return FindingInput(
        source_tool=TOOL,
        check_id=oid or title,
        title=title,
        severity=severity,
        description=_join(tags.get("summary"), tags.get("insight"), tags.get("impact")),
        remediation=solution,
        host=address,
        port=port,
        protocol=protocol,
        cvss_v3_vector=v3_vector,
        cvss_v3_score=v3_score if v3_vector else None,
        cvss_v4_vector=v4_vector,
        cve_ids=cves,
        cwe_ids=cwe_ids(rid for kind, rid in refs if kind == "cwe"),
        cnvd_ids=prefixed_ids((rid for kind, rid in refs if kind == "cnvd"), "CNVD"),
        cnnvd_ids=prefixed_ids((rid for kind, rid in refs if kind == "cnnvd"), "CNNVD"),
        references=references,
        evidence=truncate(dedent_lines(child_text(elem, "description"))),
        confidence=str(qod) if qod is not None else None,
        false_positive=false_positive,
        extra=extra,
    )


def _attr(elem: Element | None, name: str) -> str | None:
    return clean(elem.get(name)) if elem is not None else None


def _cvss(
    nvt: Element, tags: dict[str, str]
) -> tuple[str | None, float | None, str | None, str | None]:
    """(v3 vector, v3 score, v4 vector, v2 vector) from <severities> or the tags."""
    v3_vector = v3_score = v4_vector = v2_vector = None
    for sev in nvt.findall("severities/severity"):
        value = child_text(sev, "value")
        v3_vector = v3_vector or cvss_v3(value)
        if cvss_v3(value):
            v3_score = to_float(child_text(sev, "score"))
        v4_vector = v4_vector or cvss_v4(value)
        v2_vector = v2_vector or cvss_v2(value)
    tag_vector = tags.get("cvss_base_vector")
    v3_vector = v3_vector or cvss_v3(tag_vector)
    v4_vector = v4_vector or cvss_v4(tag_vector)
    v2_vector = v2_vector or cvss_v2(tag_vector)
    return v3_vector, v3_score, v4_vector, v2_vector


def _join(*parts: str | None) -> str | None:
    return "\n\n".join(p for p in parts if p) or None


def _port(text: str | None) -> tuple[int | None, str | None, str | None]:
    """(port, protocol, the raw location) from "443/tcp", "general/tcp", "package", ..."""
    if not text:
        return None, None, None
    match = _PORT_RE.match(text)
    if match and (number := to_int(match.group(1), low=1)) is not None:
        return number, match.group(2).lower(), text
    return None, None, text


def _severity(score: float | None, threat: str | None) -> Severity:
    """GVM's numeric severity (a CVSS base score) first, else its threat word."""
    if score is not None and score >= 0:
        return severity_from_score(score)
    word = (threat or "").strip().lower()
    # "Log", "Error" (a scan error message) and anything unknown are information only.
    return parse_severity(word) if word in _THREAT_WORDS else Severity.INFO


# --------------------------------------------------------------------------- CSV
def _csv_finding(path: Path, row: CsvRow) -> FindingInput | None:
    oid = row.get("NVT OID")
    title = row.get("NVT Name") or oid
    if title is None:
        raise fail(path, "csv_missing", line=row.line, column="NVT OID")
    threat = row.get("Severity")
    score = to_float(row.get("CVSS"), low=-10.0)
    if (threat or "").lower() == "debug" or score == _DEBUG:
        return None
    false_positive = score == _FALSE_POSITIVE or (threat or "").lower() == "false positive"
    port_number = to_int(row.get("Port"), low=1)
    protocol = (row.get("Port Protocol") or "").lower() or None
    location = f"{row.get('Port') or 'general'}/{protocol}" if protocol else row.get("Port")
    references = unique(re.split(r"[,\s]+", row.get("Other References") or ""))
    qod = to_int(row.get("QoD"), high=100)
    extra: dict[str, object] = {
        key: value
        for key, value in {
            "hostname": row.get("Hostname"),
            "location": location,
            "threat": threat,
            "score": score,
            "solution_type": row.get("Solution Type"),
            "affected": dedent_lines(row.get("Affected Software/OS")),
            "vuldetect": dedent_lines(row.get("Vulnerability Detection Method")),
            "certs": unique((row.get("CERTs") or "").split(",")),
            "bids": unique((row.get("BIDs") or "").split(",")),
        }.items()
        if value not in (None, [])
    }
    return FindingInput(
        source_tool=TOOL,
        check_id=oid or title,
        title=title,
        severity=_severity(
            score if not false_positive else None, threat if not false_positive else None
        ),
        description=_join(
            dedent_lines(row.get("Summary")),
            dedent_lines(row.get("Vulnerability Insight")),
            dedent_lines(row.get("Impact")),
        ),
        remediation=dedent_lines(row.get("Solution")),
        host=row.get("IP"),
        port=port_number,
        protocol=protocol if port_number is not None else None,
        cve_ids=cve_ids([oid, row.get("CVEs")]),
        references=[r for r in references if "://" in r],
        evidence=truncate(dedent_lines(row.get("Specific Result"))),
        confidence=str(qod) if qod is not None else None,
        false_positive=false_positive,
        extra=extra,
    )
