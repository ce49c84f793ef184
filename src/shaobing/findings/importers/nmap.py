"""Nmap XML output (``nmap -oX``): hosts, their ports and NSE vulnerability findings.

Every ``<host>`` becomes a :class:`HostInput` (address, hostnames, state, best OS guess,
ports with service/product/version/CPEs). Open ports are inventory, not findings; findings
come only from NSE scripts that report vulnerabilities:

* ``vulners`` — one finding per CVE with the CVSS score vulners gives (→ severity);
* scripts built on Nmap's ``vulns`` library (``smb-vuln-*``, ``http-vuln-*``,
  ``ssl-heartbleed``, ...) — one finding per entry whose state is VULNERABLE or LIKELY
  VULNERABLE; NOT VULNERABLE entries are ignored.

Coverage lists every host that was up, with or without open ports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from xml.etree.ElementTree import Element

from shaobing.findings.importers._xml import (
    clean,
    cve_ids,
    cvss_v3,
    fail,
    iter_xml,
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
from shaobing.findings.severity import Severity, parse_severity, severity_from_score
from shaobing.scan.nmap_probes import cpe22_to_23

TOOL = "nmap"
_HOST_PATH = ("nmaprun", "host")
# "State: VULNERABLE" lines of the text output (scripts run by Nmap without XML tables).
_TEXT_STATE_RE = re.compile(r"^[ \t]*State:[ \t]*((?:LIKELY[ \t]+)?VULNERABLE\b.*)$", re.MULTILINE)
_RISK_RE = re.compile(r"Risk factor:\s*(\w+)", re.IGNORECASE)
_SCORE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)")
_VECTOR_RE = re.compile(r"\((CVSS:3\.\d/[^)\s]+)\)")
_VULNERS_LINE_RE = re.compile(r"^\s*(CVE-\d{4}-\d{4,})\s+(\d+(?:\.\d+)?)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a script ran: the host address and, for port scripts, the port."""

    address: str
    port: int | None = None
    protocol: str | None = None


class NmapImporter(Importer):
    """Nmap ``-oX`` XML."""

    name: ClassVar[str] = "nmap"
    label: ClassVar[str] = "Nmap XML"
    suffixes: ClassVar[tuple[str, ...]] = (".xml",)

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """Nmap XML has the root element ``<nmaprun>``."""
        return sniff_root(head) == "nmaprun"

    def parse(self, path: Path) -> Iterator[Record]:
        """Hosts (with services) and script findings, then the up hosts as coverage."""
        covered: list[str] = []
        events = iter_xml(
            path, roots={"nmaprun"}, format_label=self.label, capture=lambda p: p == _HOST_PATH
        )
        for index, event in enumerate(events, start=1):
            elem = event.elem
            host = _host(path, elem, index)
            if host is None or host.address is None:
                continue  # no IP address (e.g. MAC only): nothing to key a host or finding on
            yield host
            if host.status != "up":
                continue
            covered.append(host.address)
            for script in elem.findall("hostscript/script"):
                yield from _script_findings(script, _Where(host.address))
            for port in elem.findall("ports/port"):
                where = _Where(
                    host.address,
                    to_int(port.get("portid")),
                    (port.get("protocol") or "tcp").lower(),
                )
                for script in port.findall("script"):
                    yield from _script_findings(script, where)
        yield CoverageInput(hosts=unique(covered))


# --------------------------------------------------------------------------- hosts
def _host(path: Path, elem: Element, index: int) -> HostInput | None:
    addresses = {
        a.get("addrtype", "ipv4"): a.get("addr") for a in reversed(elem.findall("address"))
    }
    address = clean(addresses.get("ipv4")) or clean(addresses.get("ipv6"))
    if address is None:
        return None
    status_elem = elem.find("status")
    status = (status_elem.get("state") if status_elem is not None else None) or "up"
    hostnames = unique(h.get("name") for h in elem.findall("hostnames/hostname"))
    services = [_service(path, port, index) for port in elem.findall("ports/port")]
    return HostInput(
        address=address,
        hostnames=hostnames,
        os=_best_os(elem),
        status=status.lower(),
        services=services,
    )


def _best_os(elem: Element) -> str | None:
    best: tuple[int, str] | None = None
    for match in elem.findall("os/osmatch"):
        name = clean(match.get("name"))
        accuracy = to_int(match.get("accuracy"), high=100) or 0
        # Nmap lists matches best first; ">" keeps the first of equally accurate ones.
        if name and (best is None or accuracy > best[0]):
            best = (accuracy, name)
    return best[1] if best else None


def _service(path: Path, port: Element, index: int) -> ServiceInput:
    number = to_int(port.get("portid"))
    if number is None:
        raise fail(
            path,
            "bad_value",
            element="<host>",
            index=index,
            field="portid",
            value=str(port.get("portid"))[:40],
        )
    state_elem = port.find("state")
    state = (state_elem.get("state") if state_elem is not None else None) or "unknown"
    svc = port.find("service")
    name = product = version = banner = None
    cpes: list[str] = []
    if svc is not None:
        name = clean(svc.get("name"))
        if name and svc.get("tunnel") == "ssl":
            name = f"ssl/{name}"  # as Nmap prints it; "http" over TLS is not plain http
        product = clean(svc.get("product"))
        version = clean(svc.get("version"))
        cpes = unique(_cpe23(c.text) for c in svc.findall("cpe") if c.text)
        extrainfo = clean(svc.get("extrainfo"))
        if product:
            # Nmap's VERSION column, the closest thing to a banner it records.
            banner = " ".join(
                x for x in (product, version, f"({extrainfo})" if extrainfo else None) if x
            )
    for script in port.findall("script"):
        if script.get("id") == "banner":
            banner = truncate(clean(script.get("output")), 2000) or banner
    return ServiceInput(
        port=number,
        protocol=(port.get("protocol") or "tcp").lower(),
        state=state.lower(),
        service=name,
        product=product,
        version=version,
        cpe=cpes,
        banner=banner,
    )


# --------------------------------------------------------------------------- scripts
def _script_findings(script: Element, where: _Where) -> Iterator[FindingInput]:
    script_id = clean(script.get("id")) or ""
    if script_id == "vulners":
        yield from _vulners(script, where)
        return
    tables = [tbl for tbl in script.findall("table") if tbl.find("elem[@key='state']") is not None]
    if tables:
        for table in tables:
            finding = _vulns_entry(script, script_id, table, where, single=len(tables) == 1)
            if finding is not None:
                yield finding
        return
    finding = _vulns_text(script, script_id, where)
    if finding is not None:
        yield finding


def _elem(table: Element, key: str) -> str | None:
    found = table.find(f"elem[@key='{key}']")
    return clean(found.text) if found is not None else None


def _list(table: Element, key: str) -> list[str]:
    found = table.find(f"table[@key='{key}']")
    if found is None:
        return []
    return unique("".join(e.itertext()) for e in found.iter("elem"))


def _vulns_entry(
    script: Element, script_id: str, table: Element, where: _Where, *, single: bool
) -> FindingInput | None:
    """One entry of the ``vulns`` library's structured output."""
    state = (_elem(table, "state") or "").upper()
    if "VULNERABLE" not in state or state.startswith("NOT"):
        return None
    key = clean(table.get("key"))
    title = _elem(table, "title") or key or script_id
    ids = _list(table, "ids")
    scores = table.find("table[@key='scores']")
    v3_text = _elem(scores, "CVSSv3") if scores is not None else None
    v2_text = _elem(scores, "CVSSv2") if scores is not None else None
    vector = None
    if v3_text and (match := _VECTOR_RE.search(v3_text)):
        vector = cvss_v3(match.group(1))
    v3_score = _score(v3_text)
    risk = _elem(table, "risk_factor")
    if risk is None and single:
        # The library prints the risk factor only in the text output.
        found = _RISK_RE.search(script.get("output") or "")
        risk = found.group(1) if found else None
    severity = _severity(risk, v3_score if v3_score is not None else _score(v2_text))
    description = "\n".join(_list(table, "description")) or None
    evidence_parts = [
        *_list(table, "check_results"),
        *_list(table, "extra_info"),
        *_list(table, "exploit_results"),
    ]
    evidence = "\n".join(evidence_parts) or clean(script.get("output"))
    extra: dict[str, object] = {"script": script_id, "state": state}
    if ids:
        extra["ids"] = ids
    if disclosure := _elem(table, "disclosure"):
        extra["disclosure"] = disclosure
    if v2_text:
        extra["cvss_v2"] = v2_text
    return FindingInput(
        source_tool=TOOL,
        check_id=f"{script_id}:{key}" if key else script_id,
        title=title,
        severity=severity,
        description=description,
        host=where.address,
        port=where.port,
        protocol=where.protocol,
        cvss_v3_vector=vector,
        cvss_v3_score=v3_score if vector else None,
        cve_ids=cve_ids([key, *ids]),
        references=_list(table, "refs"),
        evidence=truncate(evidence),
        confidence="likely" if state.startswith("LIKELY") else "confirmed",
        extra=extra,
    )


def _vulns_text(script: Element, script_id: str, where: _Where) -> FindingInput | None:
    """A ``vulns``-style report known only from its text output (no XML tables)."""
    output = script.get("output") or ""
    match = _TEXT_STATE_RE.search(output)
    if match is None:
        return None
    state = match.group(1).strip().upper()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    title = script_id
    for number, line in enumerate(lines[:-1]):
        if line.rstrip(":").upper() in {"VULNERABLE", "LIKELY VULNERABLE"}:
            title = lines[number + 1]
            break
    risk = _RISK_RE.search(output)
    return FindingInput(
        source_tool=TOOL,
        check_id=script_id,
        title=title,
        severity=_severity(risk.group(1) if risk else None, None),
        host=where.address,
        port=where.port,
        protocol=where.protocol,
        cve_ids=cve_ids([output]),
        evidence=truncate(clean(output)),
        confidence="likely" if state.startswith("LIKELY") else "confirmed",
        extra={"script": script_id, "state": state},
    )


def _score(text: str | None) -> float | None:
    match = _SCORE_RE.match(text or "")
    return to_float(match.group(1)) if match else None


def _severity(risk: str | None, score: float | None) -> Severity:
    # The script's own risk factor first, then its score; a bare VULNERABLE is medium.
    if risk and risk.strip().lower() in {"critical", "high", "medium", "low", "none", "info"}:
        return parse_severity(risk)
    if score is not None:
        return severity_from_score(score)
    return Severity.MEDIUM


def _vulners(script: Element, where: _Where) -> Iterator[FindingInput]:
    """One finding per CVE the ``vulners`` script lists (highest score if listed twice)."""
    found: dict[str, tuple[float | None, list[str], bool]] = {}
    for cpe_table in script.findall("table"):
        cpe = clean(cpe_table.get("key"))
        for entry in cpe_table.findall("table"):
            kind = (_elem(entry, "type") or "cve").lower()
            ids = cve_ids([_elem(entry, "id")])
            if kind != "cve" or not ids:
                continue  # exploit-db, packetstorm, ... entries repeat CVEs listed anyway
            _add_vulners(
                found,
                ids[0],
                to_float(_elem(entry, "cvss")),
                cpe,
                (_elem(entry, "is_exploit") or "").lower() == "true",
            )
    output = script.get("output") or ""
    if not found:
        # Older vulners versions wrote text only: "cpe:...:" headings, then "CVE  score  url".
        cpe = None
        for line in output.splitlines():
            stripped = line.strip()
            if stripped.lower().startswith("cpe:") and stripped.endswith(":"):
                cpe = stripped[:-1]
            elif match := _VULNERS_LINE_RE.match(line):
                _add_vulners(
                    found,
                    match.group(1).upper(),
                    to_float(match.group(2)),
                    cpe,
                    "*EXPLOIT*" in line,
                )
    lines = output.splitlines()
    for cve, (score, cpes, exploit) in found.items():
        evidence = "\n".join(line.strip() for line in lines if cve in line.upper()) or None
        extra: dict[str, object] = {"script": "vulners", "cvss": score, "is_exploit": exploit}
        if cpes:
            extra["cpe"] = cpes
        yield FindingInput(
            source_tool=TOOL,
            check_id=f"vulners:{cve}",
            title=f"{cve} ({cpes[0]})" if cpes else cve,
            severity=severity_from_score(score) if score is not None else Severity.MEDIUM,
            host=where.address,
            port=where.port,
            protocol=where.protocol,
            cve_ids=[cve],
            references=[f"https://vulners.com/cve/{cve}"],
            evidence=truncate(evidence),
            extra=extra,
        )


def _add_vulners(
    found: dict[str, tuple[float | None, list[str], bool]],
    cve: str,
    score: float | None,
    cpe: str | None,
    exploit: bool,
) -> None:
    old_score, cpes, old_exploit = found.get(cve, (None, [], False))
    if cpe and cpe not in cpes:
        cpes.append(cpe)
    if old_score is not None and (score is None or old_score > score):
        score = old_score
    found[cve] = (score, cpes, exploit or old_exploit)


def _cpe23(value: str) -> str:
    """Nmap writes CPE 2.2 URIs; the platform keeps CPE 2.3 formatted strings."""
    try:
        return cpe22_to_23(value.strip()) if value.strip().startswith("cpe:/") else value.strip()
    except ValueError:
        return value.strip()
