"""What every importer produces, and the interface it implements.

An importer turns one scanner output file into a stream of records — findings, hosts
with their services, and coverage (what the scan looked at) — without touching the
database. The ingest path (``shaobing.findings.ingest``) owns de-duplication, the asset
ledger, work orders and persistence. Importers stream (iterparse / line by line) so memory
stays flat on large files, and raise :class:`ImportFormatError` for malformed input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings.severity import Severity

# How many leading bytes importers get to recognise their format.
SNIFF_BYTES = 64 * 1024


@dataclass
class FindingInput:
    """One finding as reported by a tool, before de-duplication.

    Text fields are kept as the tool wrote them (imported findings are not translated).
    ``tool_unique_id`` is a stable identifier the tool itself provides for the finding
    (e.g. SARIF ``partialFingerprints``, gitleaks ``Fingerprint``) and is preferred for
    de-duplication; leave it None when the tool has none — never put per-run values
    (timestamps, scan ids, random ids) in it.
    """

    source_tool: str
    check_id: str
    title: str
    severity: Severity
    description: str | None = None
    remediation: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    url: str | None = None
    parameter: str | None = None
    file_path: str | None = None
    line: int | None = None
    cvss_v3_vector: str | None = None
    cvss_v3_score: float | None = None
    cvss_v4_vector: str | None = None
    cvss_v4_score: float | None = None
    cve_ids: list[str] = field(default_factory=list)
    cwe_ids: list[int] = field(default_factory=list)
    cnvd_ids: list[str] = field(default_factory=list)
    cnnvd_ids: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    evidence: str | None = None
    tool_unique_id: str | None = None
    confidence: str | None = None
    false_positive: bool = False
    risk_accepted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServiceInput:
    """An open (or otherwise reported) port on a host."""

    port: int
    protocol: str = "tcp"
    state: str = "open"
    service: str | None = None
    product: str | None = None
    version: str | None = None
    cpe: list[str] = field(default_factory=list)
    banner: str | None = None


@dataclass
class HostInput:
    """A host the tool saw, with what it learned about it (updates the asset ledger)."""

    address: str | None = None
    hostnames: list[str] = field(default_factory=list)
    os: str | None = None
    status: str = "up"
    services: list[ServiceInput] = field(default_factory=list)


@dataclass
class CoverageInput:
    """What the scan covered, beyond the hosts/URLs/files its findings name.

    Re-import closes absent findings only inside coverage, so importers report every host,
    site (URL prefix) or file the tool scanned, including those with no findings.
    """

    hosts: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


Record = FindingInput | HostInput | CoverageInput


class ImportFormatError(ValidationError):
    """The file is malformed, truncated, empty or not of the expected format."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(t("findings.import_format_error", file=str(path), problem=problem))
        self.path = str(path)
        self.problem = problem


class Importer(ABC):
    """One file format. Subclasses are discovered automatically in this package."""

    #: format id used with ``--format`` (e.g. "nmap", "nuclei", "sarif")
    name: ClassVar[str]
    #: human-readable name of the format
    label: ClassVar[str]
    #: file name suffixes this format commonly has (lower case, with dot)
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: higher wins when several importers recognise the same file
    priority: ClassVar[int] = 0

    @classmethod
    @abstractmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """Whether the file looks like this format, from its first SNIFF_BYTES bytes."""

    @abstractmethod
    def parse(self, path: Path) -> Iterator[Record]:
        """Stream the file's records; raise ImportFormatError on malformed input."""
