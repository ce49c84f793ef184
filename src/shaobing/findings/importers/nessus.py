"""Tenable Nessus: ``.nessus`` (NessusClientData_v2) XML and the CSV exports.

``.nessus`` XML: each ``ReportHost`` becomes a :class:`HostInput` (host-ip, host-fqdn,
operating-system, and the ports its ReportItems name as services) and each ``ReportItem``
a finding — pluginID as the check id, the 0–4 severity, plugin output as evidence, CVE /
CWE / CNVD / CVSS v3 and v4 / see-also. Items on port 0 are host-level (no port).
Compliance-check items are keyed by their check id, so each check stays apart.

CSV: the classic Nessus "CSV" export (``Plugin ID,CVE,...,Risk,Host,...``; a plugin with
several CVEs is written as consecutive rows that differ only in the CVE, merged here) and
the Tenable Vulnerability Management export (``;``-separated ``definition.*`` / ``asset.*``
columns; FIXED rows are skipped, accepted risks are flagged).

Coverage is every ReportHost (every host named in a CSV).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from xml.etree.ElementTree import Element

from shaobing.findings.importers._xml import (
    CsvRow,
    clean,
    cve_ids,
    cvss_v2,
    cvss_v3,
    cvss_v4,
    cwe_ids,
    fail,
    iter_csv_rows,
    iter_xml,
    local,
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
    ServiceInput,
)
from shaobing.findings.severity import Severity, parse_severity

TOOL = "nessus"
_ROOT = "NessusClientData_v2"
_LEVELS = {
    0: Severity.INFO,
    1: Severity.LOW,
    2: Severity.MEDIUM,
    3: Severity.HIGH,
    4: Severity.CRITICAL,
}
_CLASSIC_REQUIRED = ("Plugin ID", "Host", "Port", "Name")
_TVM_REQUIRED = ("definition.id", "definition.name", "severity")
_TVM_ADDRESS = (
    "asset.display_ipv4_address",
    "asset.display_ipv6_address",
    "asset.ipv4",
    "asset.ipv6",
)
_NOT_APPLICABLE = {"n/a", "none", "-"}


class NessusImporter(Importer):
    """Nessus ``.nessus`` XML, Nessus CSV and Tenable VM CSV exports."""

    name: ClassVar[str] = "nessus"
    label: ClassVar[str] = "Tenable Nessus"
    suffixes: ClassVar[tuple[str, ...]] = (".nessus", ".xml", ".csv")

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """``<NessusClientData_v2>`` XML, or a CSV whose header is one of Tenable's."""
        root = sniff_root(head)
        if root is not None:
            return root == _ROOT
        header = set(sniff_csv_header(head))
        return (
            all(name in header for name in _CLASSIC_REQUIRED)
            and ("Risk" in header or "Risk Factor" in header)
        ) or (
            all(name in header for name in _TVM_REQUIRED)
            and any(name in header for name in _TVM_ADDRESS)
        )

    def parse(self, path: Path) -> Iterator[Record]:
        """Findings and hosts, then every host of the file as coverage."""
        head = read_head(path)
        if looks_like_xml(head):
            yield from self._parse_xml(path)
            return
        header = set(sniff_csv_header(head))
        if all(name in header for name in _TVM_REQUIRED):
            yield from self._parse_tvm(path)
        else:
            yield from self._parse_classic(path)

    # ----------------------------------------------------------------------- XML
    def _parse_xml(self, path: Path) -> Iterator[Record]:
        covered: list[str] = []
        host: _HostState | None = None
        items = 0
        for event in iter_xml(
            path, roots={_ROOT}, format_label=self.label, capture=_captured, notify=_is_report_host
        ):
            tag = event.path[-1]
            if tag == "ReportHost":
                if event.kind == "start":
                    host = _HostState(name=clean(event.elem.get("name")))
                elif host is not None:
                    record = host.record()
                    if record.address or record.hostnames:
                        yield record
                    covered.extend(unique([host.key, host.name]))
                    host = None
            elif host is None:
                continue  # a HostProperties/ReportItem outside a ReportHost: not Nessus's
            elif tag == "HostProperties":
                host.properties = {
                    name: text
                    for t in event.elem.findall("tag")
                    if (name := t.get("name")) and (text := clean(t.text))
                }
            else:
                items += 1
                yield _item(path, event.elem, host, items)
        yield CoverageInput(hosts=unique(covered))

    # ----------------------------------------------------------------------- CSV
    def _parse_classic(self, path: Path) -> Iterator[Record]:
        hosts = _CsvHosts()
        pending: tuple[tuple[str, ...], FindingInput] | None = None
        for row in iter_csv_rows(path, format_label=self.label, required=_CLASSIC_REQUIRED):
            finding = _classic_finding(path, row)
            hosts.add(finding)
            # Rows identical but for the CVE column are one finding listing several CVEs.
            key = tuple(value for name, value in row.cells.items() if name != "CVE")
            if pending is not None and pending[0] == key:
                pending[1].cve_ids = unique([*pending[1].cve_ids, *finding.cve_ids])
                continue
            if pending is not None:
                yield pending[1]
            pending = (key, finding)
        if pending is not None:
            yield pending[1]
        yield from hosts.records()
        yield hosts.coverage()

    def _parse_tvm(self, path: Path) -> Iterator[Record]:
        hosts = _CsvHosts()
        for row in iter_csv_rows(path, format_label=self.label, required=_TVM_REQUIRED):
            finding = _tvm_finding(path, row)
            address = finding.host
            if address:
                hosts.add(
                    finding,
                    hostnames=[
                        row.get("asset.display_fqdn"),
                        row.get("asset.host_name"),
                        row.get("asset.netbios_name"),
                    ],
                    os=_first_line(row.get("asset.operating_system")),
                )
            if (row.get("state") or "").upper() == "FIXED":
                continue  # the export also lists what was fixed; those are not findings
            yield finding
        yield from hosts.records()
        yield hosts.coverage()


def _captured(path: tuple[str, ...]) -> bool:
    return (
        len(path) >= 2 and path[-2] == "ReportHost" and path[-1] in {"HostProperties", "ReportItem"}
    )


def _is_report_host(path: tuple[str, ...]) -> bool:
    return path[-1] == "ReportHost"


def _is_ip(text: str | None) -> bool:
    try:
        ipaddress.ip_address((text or "").strip())
    except ValueError:
        return False
    return True


def _first_line(text: str | None) -> str | None:
    # Nessus lists several OS guesses one per line, the most likely first.
    return clean(text.splitlines()[0]) if text and text.strip() else None


# --------------------------------------------------------------------------- XML parts
@dataclass
class _HostState:
    """What is known about the ReportHost being read."""

    name: str | None
    properties: dict[str, str] = field(default_factory=dict)
    services: dict[tuple[int, str], ServiceInput] = field(default_factory=dict)
    uncertain: set[tuple[int, str]] = field(default_factory=set)

    @property
    def key(self) -> str | None:
        """The host findings are filed under: the scanned IP, else the target name."""
        return self.properties.get("host-ip") or self.name

    def add_service(self, port: int, protocol: str, svc_name: str | None) -> None:
        """Note an open port; a name Nessus marks with "?" yields to a certain one."""
        key = (port, protocol)
        guess = bool(svc_name and svc_name.endswith("?"))
        name = svc_name.rstrip("?") if svc_name else None
        if name in {None, "", "general", "unknown"}:
            name = None
        known = self.services.get(key)
        if known is None:
            self.services[key] = ServiceInput(port=port, protocol=protocol, service=name)
        elif name and (known.service is None or (key in self.uncertain and not guess)):
            known.service = name
        else:
            return
        if guess:
            self.uncertain.add(key)
        else:
            self.uncertain.discard(key)

    def record(self) -> HostInput:
        """The host record, with the services its items named."""
        props = self.properties
        address = props.get("host-ip") or (self.name if _is_ip(self.name) else None)
        names = [
            props.get("host-fqdn"),
            None if _is_ip(self.name) else self.name,
            props.get("host-rdns"),
        ]
        return HostInput(
            address=address,
            hostnames=[n for n in unique(names) if not _is_ip(n)],
            os=_first_line(props.get("operating-system")),
            services=sorted(self.services.values(), key=lambda s: (s.protocol, s.port)),
        )


def _fields(elem: Element) -> dict[str, list[str]]:
    """Child texts by local tag name (``cm:`` compliance children included)."""
    out: dict[str, list[str]] = {}
    for child in elem:
        text = clean("".join(child.itertext()))
        if text:
            out.setdefault(local(child.tag), []).append(text)
    return out


def _one(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _item(path: Path, elem: Element, host: _HostState, index: int) -> FindingInput:
    """One ReportItem as a finding (and its port as a service of the host)."""
    plugin_id = clean(elem.get("pluginID"))
    if plugin_id is None:
        raise fail(path, "missing_field", element="<ReportItem>", index=index, field="pluginID")
    fields = _fields(elem)
    port = to_int(elem.get("port")) or None  # port 0: about the host as a whole
    protocol = (clean(elem.get("protocol")) or "tcp").lower()
    svc_name = clean(elem.get("svc_name"))
    if port is not None:
        host.add_service(port, protocol, svc_name)
    level = to_int(elem.get("severity"), high=4)
    risk = _one(fields, "risk_factor")
    severity = _LEVELS[level] if level is not None else parse_severity(risk)
    xrefs = fields.get("xref", [])
    title = clean(elem.get("pluginName")) or _one(fields, "plugin_name") or plugin_id
    check_id = plugin_id
    description = _join(_one(fields, "synopsis"), _one(fields, "description"))
    remediation = _solution(_one(fields, "solution"))
    evidence = _one(fields, "plugin_output")
    compliance = _one(fields, "compliance-check-name")
    if compliance:
        # One compliance plugin reports every check of an audit file: key by the check.
        title = compliance
        check_id = f"{plugin_id}:{_one(fields, 'compliance-check-id') or compliance}"
        description = _one(fields, "compliance-info") or description
        remediation = _solution(_one(fields, "compliance-solution")) or remediation
        evidence = _one(fields, "compliance-actual-value") or evidence
    v2_vector = cvss_v2(_one(fields, "cvss_vector"))
    extra: dict[str, object] = {
        key: value
        for key, value in {
            "plugin_family": clean(elem.get("pluginFamily")),
            "svc_name": svc_name,
            "risk_factor": risk,
            "plugin_type": _one(fields, "plugin_type"),
            "exploit_available": _one(fields, "exploit_available"),
            "vpr_score": to_float(_one(fields, "vpr_score")),
            "epss_score": to_float(_one(fields, "epss_score"), high=1.0),
            "cvss_v2_vector": v2_vector,
            "cvss_v2_score": to_float(_one(fields, "cvss_base_score")) if v2_vector else None,
            "bids": fields.get("bid"),
            "xrefs": [x for x in xrefs if not x.upper().startswith("CWE:")] or None,
            "compliance_result": _one(fields, "compliance-result"),
            "compliance_policy_value": _one(fields, "compliance-policy-value"),
        }.items()
        if value is not None
    }
    v3_vector = cvss_v3(_one(fields, "cvss3_vector"))
    v4_vector = cvss_v4(_one(fields, "cvss4_vector"))
    return FindingInput(
        source_tool=TOOL,
        check_id=check_id,
        title=title,
        severity=severity,
        description=description,
        remediation=remediation,
        host=host.key,
        port=port,
        protocol=protocol if port is not None else None,
        cvss_v3_vector=v3_vector,
        cvss_v3_score=to_float(_one(fields, "cvss3_base_score")) if v3_vector else None,
        cvss_v4_vector=v4_vector,
        cvss_v4_score=to_float(_one(fields, "cvss4_base_score")) if v4_vector else None,
        cve_ids=cve_ids(fields.get("cve", [])),
        cwe_ids=list(dict.fromkeys([*cwe_ids(fields.get("cwe", []), bare=True), *cwe_ids(xrefs)])),
        cnvd_ids=prefixed_ids(xrefs, "CNVD"),
        cnnvd_ids=prefixed_ids(xrefs, "CNNVD"),
        references=unique(" ".join(fields.get("see_also", [])).split()),
        evidence=truncate(evidence),
        extra=extra,
    )


def _join(synopsis: str | None, description: str | None) -> str | None:
    # Tenable's descriptions often start by repeating the synopsis.
    if synopsis and description and description.startswith(synopsis):
        return description
    return "\n\n".join(p for p in (synopsis, description) if p) or None


def _solution(text: str | None) -> str | None:
    return None if text is None or text.strip().lower() in _NOT_APPLICABLE else text


# --------------------------------------------------------------------------- CSV parts
@dataclass
class _CsvHosts:
    """Hosts named by CSV rows, with the ports they were reported on."""

    hosts: dict[str, HostInput] = field(default_factory=dict)

    def add(
        self,
        finding: FindingInput,
        *,
        hostnames: list[str | None] | None = None,
        os: str | None = None,
    ) -> None:
        """Note the finding's host (and its port as a service)."""
        name = finding.host
        if not name:
            return
        host = self.hosts.get(name)
        if host is None:
            host = HostInput(
                address=name if _is_ip(name) else None, hostnames=[] if _is_ip(name) else [name]
            )
            self.hosts[name] = host
        host.hostnames = [n for n in unique([*host.hostnames, *(hostnames or [])]) if not _is_ip(n)]
        host.os = host.os or os
        if finding.port is not None and not any(
            s.port == finding.port and s.protocol == finding.protocol for s in host.services
        ):
            host.services.append(
                ServiceInput(port=finding.port, protocol=finding.protocol or "tcp")
            )

    def records(self) -> Iterator[HostInput]:
        """The host records (those with an address or a name)."""
        yield from self.hosts.values()

    def coverage(self) -> CoverageInput:
        """Every host named in the file."""
        return CoverageInput(hosts=list(self.hosts))


def _classic_finding(path: Path, row: CsvRow) -> FindingInput:
    plugin_id = row.get("Plugin ID")
    if plugin_id is None:
        raise fail(path, "csv_missing", line=row.line, column="Plugin ID")
    port = to_int(row.get("Port")) or None
    protocol = (row.get("Protocol") or "tcp").lower()
    risk = row.get("Risk") or row.get("Risk Factor")
    xrefs = [x.strip() for x in (row.get("XREF") or "").replace(",", ";").split(";")]
    v2_vector = cvss_v2(row.get("CVSS v2.0 Vector", "CVSS Vector"))
    v3_vector = cvss_v3(row.get("CVSS v3.0 Vector", "CVSS v3.1 Vector"))
    v4_vector = cvss_v4(row.get("CVSS v4.0 Vector"))
    extra: dict[str, object] = {
        key: value
        for key, value in {
            "risk_factor": row.get("Risk Factor"),
            "cvss_v2_score": to_float(row.get("CVSS v2.0 Base Score", "CVSS")),
            "cvss_v2_vector": v2_vector,
            "vpr_score": to_float(row.get("VPR Score")),
            "stig_severity": row.get("STIG Severity"),
            "bids": unique((row.get("BID") or "").replace(",", ";").split(";")) or None,
            "xrefs": [x for x in unique(xrefs) if not x.upper().startswith("CWE:")] or None,
            "metasploit": row.get("Metasploit"),
        }.items()
        if value is not None
    }
    return FindingInput(
        source_tool=TOOL,
        check_id=plugin_id,
        title=row.get("Name") or plugin_id,
        severity=parse_severity(risk),
        description=_join(row.get("Synopsis"), row.get("Description")),
        remediation=_solution(row.get("Solution")),
        host=row.get("IP Address", "Host"),
        port=port,
        protocol=protocol if port is not None else None,
        cvss_v3_vector=v3_vector,
        cvss_v3_score=to_float(row.get("CVSS v3.0 Base Score", "CVSS v3.1 Base Score")),
        cvss_v4_vector=v4_vector,
        cvss_v4_score=to_float(row.get("CVSS v4.0 Base Score")),
        cve_ids=cve_ids([row.get("CVE")]),
        cwe_ids=cwe_ids(xrefs),
        cnvd_ids=prefixed_ids(xrefs, "CNVD"),
        cnnvd_ids=prefixed_ids(xrefs, "CNNVD"),
        references=unique((row.get("See Also") or "").split()),
        evidence=truncate(row.get("Plugin Output")),
        extra=extra,
    )


def _tvm_finding(path: Path, row: CsvRow) -> FindingInput:
    plugin_id = row.get("definition.id")
    if plugin_id is None:
        raise fail(path, "csv_missing", line=row.line, column="definition.id")
    port = to_int(row.get("port")) or None
    protocol = (row.get("protocol") or "tcp").lower()
    output = row.get("output")
    if output and output.startswith("'"):
        output = clean(output[1:])  # Tenable's guard against spreadsheet formulas
    v3_vector = cvss_v3(row.get("definition.cvss3.base_vector"))
    v4_vector = cvss_v4(row.get("definition.cvss4.base_vector"))
    v2_vector = cvss_v2(row.get("definition.cvss2.base_vector"))
    see_also = (row.get("definition.see_also") or "").replace(",", " ").split()
    extra: dict[str, object] = {
        key: value
        for key, value in {
            "plugin_family": row.get("definition.family"),
            "state": row.get("state"),
            "definition_severity": row.get("definition.severity"),
            "vpr_score": to_float(row.get("definition.vpr.score")),
            "cvss_v2_vector": v2_vector,
            "cvss_v2_score": to_float(row.get("definition.cvss2.base_score")),
            "risk_modified": row.get("risk_modified"),
            "stig_severity": row.get("definition.stig_severity"),
        }.items()
        if value is not None
    }
    return FindingInput(
        source_tool=TOOL,
        check_id=plugin_id,
        title=row.get("definition.name") or plugin_id,
        severity=parse_severity(row.get("severity")),
        # The description column has lost its name in Tenable's export (header "").
        description=_join(row.get("definition.synopsis"), row.get("definition.description", "")),
        remediation=_solution(row.get("definition.solution")),
        host=row.get(*_TVM_ADDRESS) or row.get("asset.display_fqdn", "asset.name"),
        port=port,
        protocol=protocol if port is not None else None,
        cvss_v3_vector=v3_vector,
        cvss_v3_score=to_float(row.get("definition.cvss3.base_score")) if v3_vector else None,
        cvss_v4_vector=v4_vector,
        cvss_v4_score=to_float(row.get("definition.cvss4.base_score")) if v4_vector else None,
        cve_ids=cve_ids([row.get("definition.cve")]),
        cwe_ids=cwe_ids([row.get("definition.cwe")], bare=True),
        references=unique(u for u in see_also if "://" in u),
        evidence=truncate(output),
        risk_accepted=(row.get("risk_modified") or "").upper() == "ACCEPTED",
        extra=extra,
    )
