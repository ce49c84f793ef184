"""testssl.sh results: flat JSON (``--jsonfile``), pretty JSON (``--jsonfile-pretty``) and CSV.

Every testssl.sh check is one entry ``{id, ip, port, severity, finding, cve, cwe[, hint]}``
— a flat array in ``--jsonfile``, grouped per target and section (protocols, ciphers,
vulnerabilities, ...) under ``scanResult`` in ``--jsonfile-pretty``, one line per entry in
``--csvfile`` (same columns, ``fqdn/ip`` for ``ip``). Entries rated LOW, MEDIUM, HIGH or
CRITICAL are findings (check id = testssl's id, title = id + finding); OK and INFO are
facts, WARN and FATAL are problems of the scan itself, DEBUG is noise. ``ip`` is written
``host/ip`` (either part may be empty). Every scanned ip/port becomes a
:class:`HostInput` (the service testssl detected, e.g. HTTP → https) and is listed in the
coverage.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from shaobing.findings.importers._json import (
    cve_ids,
    cwe_ids,
    fail,
    get_str,
    guarded,
    one_line,
    parse_json,
    read_text,
    sniff_text,
    to_int,
    truncate,
    unique,
    wrong_type,
)
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
    HostInput,
    Importer,
    Record,
    ServiceInput,
)
from shaobing.findings.severity import Severity

TOOL = "testssl"
_SEVERITIES = {
    "LOW": Severity.LOW,
    "MEDIUM": Severity.MEDIUM,
    "HIGH": Severity.HIGH,
    "CRITICAL": Severity.CRITICAL,
}
# Messages about the scan itself (and debug noise), not about the server.
_SCAN_PROBLEMS = {"WARN", "FATAL", "DEBUG"}
_CSV_HEADER_RE = re.compile(r'^"?id"?,"?fqdn/ip"?,"?port"?,"?severity"?,"?finding"?', re.IGNORECASE)
_CSV_REQUIRED = ("id", "fqdn/ip", "port", "severity", "finding")
_ENTRY_KEYS = (re.compile(r'"id"\s*:'), re.compile(r'"severity"\s*:'), re.compile(r'"finding"\s*:'))
_PRETTY_RE = re.compile(r'"scanResult"\s*:')


@dataclass
class _Target:
    """One scanned ip/port, as testssl names it."""

    hostname: str | None
    ip: str | None
    port: int | None
    service: str | None = None

    @property
    def host(self) -> str | None:
        """The address findings are attached to (IP when known, else the hostname)."""
        return self.ip or self.hostname


@dataclass
class _Collector:
    targets: dict[tuple[str, int | None], _Target] = field(default_factory=dict)

    def target(self, hostname: str | None, ip: str | None, port: int | None) -> _Target | None:
        host = ip or hostname
        if host is None:
            return None
        key = (host, port)
        if key not in self.targets:
            self.targets[key] = _Target(hostname, ip, port)
        return self.targets[key]


def split_host(value: str | None) -> tuple[str | None, str | None]:
    """testssl's ``host/ip`` (or a lone host or IP) as (hostname, ip)."""
    if not value or not value.strip():
        return None, None
    text = value.strip()
    if "/" in text:
        hostname, _, ip = text.partition("/")
        return hostname.strip() or None, ip.strip() or None
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return text, None
    return None, text.strip("[]")


def _service(finding: str) -> str:
    name = finding.strip().lower()
    return "https" if name == "http" else name or "tls"


class TestsslImporter(Importer):
    """testssl.sh JSON (flat or pretty) and CSV results — one finding per LOW+ check."""

    __test__ = False  # the name starts with "Test": keep pytest from collecting it

    name: ClassVar[str] = "testssl"
    label: ClassVar[str] = "testssl.sh JSON / CSV"
    suffixes: ClassVar[tuple[str, ...]] = (".json", ".csv")
    priority: ClassVar[int] = 5

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """testssl's CSV header, a JSON array of id/severity/finding, or scanResult."""
        text = sniff_text(head)
        if text.startswith("["):
            return all(pattern.search(text) for pattern in _ENTRY_KEYS) and '"ip"' in text
        if text.startswith("{"):
            return bool(_PRETTY_RE.search(text)) and (
                '"targetHost"' in text or '"Invocation"' in text
            )
        return bool(_CSV_HEADER_RE.match(text))

    def parse(self, path: Path) -> Iterator[Record]:
        """Stream the findings, then one host per ip/port and the coverage."""
        return guarded(path, self._parse(path))

    def _parse(self, path: Path) -> Iterator[Record]:
        text = read_text(path)
        collector = _Collector()
        stripped = text.lstrip()
        if stripped.startswith(("[", "{")):
            entries = _json_entries(path, parse_json(path, text))
        elif _CSV_HEADER_RE.match(stripped):
            entries = _csv_entries(path, text)
        else:
            raise fail(path, "not_testssl")
        for entry, hostname, ip, port in entries:
            check_id = get_str(entry, "id")
            severity_word = (get_str(entry, "severity") or "").strip().upper()
            if check_id is None or severity_word in _SCAN_PROBLEMS:
                continue
            target = collector.target(hostname, ip, port)
            if target is None:
                continue
            finding_text = get_str(entry, "finding") or ""
            if check_id == "service" and finding_text:
                target.service = _service(finding_text)
            if severity_word in _SEVERITIES:
                yield _finding(target, check_id, _SEVERITIES[severity_word], finding_text, entry)
        for target in collector.targets.values():
            yield _host(target)
        hosts = unique(t.host for t in collector.targets.values() if t.host)
        if hosts:
            yield CoverageInput(hosts=hosts)


_Entry = tuple[dict[str, Any], str | None, str | None, int | None]


def _json_entries(path: Path, document: object) -> Iterator[_Entry]:
    if isinstance(document, list):
        for index, entry in enumerate(document):
            if not isinstance(entry, dict):
                raise wrong_type(path, f"[{index}]", "object")
            hostname, ip = split_host(get_str(entry, "ip"))
            yield entry, hostname, ip, to_int(entry.get("port"), maximum=65535)
        return
    if not isinstance(document, dict) or not isinstance(document.get("scanResult"), list):
        raise fail(path, "not_testssl")
    for index, scan in enumerate(document["scanResult"]):
        if not isinstance(scan, dict):
            raise wrong_type(path, f"scanResult[{index}]", "object")
        hostname = get_str(scan, "targetHost")
        ip = get_str(scan, "ip")
        port = to_int(scan.get("port"), maximum=65535)
        if ip and "/" in ip:
            hostname, ip = split_host(ip)
        # Every list of entries is a section (protocols, ciphers, vulnerabilities, ...).
        for section in scan.values():
            if isinstance(section, list):
                for entry in section:
                    if isinstance(entry, dict):
                        yield entry, hostname, ip, port


def _csv_entries(path: Path, text: str) -> Iterator[_Entry]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in _CSV_REQUIRED if name not in header]
        if missing:
            raise fail(path, "csv_header", missing=", ".join(missing))
        for row in reader:
            entry = {
                (key or "").strip().lower(): value
                for key, value in row.items()
                if isinstance(value, str)
            }
            hostname, ip = split_host(entry.get("fqdn/ip"))
            yield entry, hostname, ip, to_int(entry.get("port"), maximum=65535)
    except csv.Error as exc:
        raise fail(path, "bad_csv", line=reader.line_num, error=exc) from exc


def _finding(
    target: _Target, check_id: str, severity: Severity, text: str, entry: dict[str, Any]
) -> FindingInput:
    cve_text = get_str(entry, "cve") or ""
    cwe_text = get_str(entry, "cwe") or ""
    extra: dict[str, Any] = {"hostname": target.hostname} if target.hostname else {}
    return FindingInput(
        source_tool=TOOL,
        check_id=check_id,
        title=one_line(f"{check_id}: {text}" if text.strip() else check_id),
        severity=severity,
        remediation=truncate(get_str(entry, "hint")),
        host=target.host,
        port=target.port,
        protocol="tcp",
        cve_ids=cve_ids(cve_text.split()),
        cwe_ids=cwe_ids(cwe_text.split()),
        evidence=truncate(text) if text.strip() else None,
        extra=extra,
    )


def _host(target: _Target) -> HostInput:
    services = []
    if target.port is not None:
        services.append(
            ServiceInput(
                port=target.port,
                protocol="tcp",
                service=target.service or ("https" if target.port == 443 else "tls"),
            )
        )
    hostnames = [target.hostname] if target.hostname and target.hostname != target.ip else []
    return HostInput(address=target.ip, hostnames=hostnames, services=services)
