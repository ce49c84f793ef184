"""The parsed form of a Nuclei-format template: plain immutable data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Severity names Nuclei uses; anything else is read as "unknown".
SEVERITIES = ("info", "low", "medium", "high", "critical", "unknown")


@dataclass(frozen=True)
class Classification:
    """CVE/CWE identifiers and CVSS data of ``info.classification``."""

    cve_ids: tuple[str, ...] = ()
    cwe_ids: tuple[str, ...] = ()
    cvss_metrics: str | None = None
    cvss_score: float | None = None
    epss_score: float | None = None
    cpe: str | None = None


@dataclass(frozen=True)
class Info:
    """The ``info`` block: what the template detects and how bad it is."""

    name: str
    authors: tuple[str, ...] = ()
    severity: str = "unknown"
    description: str | None = None
    remediation: str | None = None
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    classification: Classification = field(default_factory=Classification)
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    """The block as written (for output in Nuclei's JSON shape)."""


@dataclass(frozen=True)
class Matcher:
    """One matcher; ``values`` holds words, regexes, hex strings, DSL or XPath expressions
    depending on ``type``."""

    type: str
    part: str | None = None
    values: tuple[str, ...] = ()
    status: tuple[int, ...] = ()
    size: tuple[int, ...] = ()
    condition: str = "or"
    negative: bool = False
    internal: bool = False
    case_insensitive: bool = False
    match_all: bool = False
    name: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class Extractor:
    """One extractor; named ones set a variable for later requests, internal ones are
    not reported."""

    type: str
    part: str | None = None
    values: tuple[str, ...] = ()
    name: str | None = None
    internal: bool = False
    group: int = 0
    attribute: str | None = None
    case_insensitive: bool = False


@dataclass(frozen=True)
class Operators:
    """Matchers and extractors of one request block."""

    matchers: tuple[Matcher, ...] = ()
    extractors: tuple[Extractor, ...] = ()
    condition: str = "or"

    @property
    def empty(self) -> bool:
        """True when the block neither matches nor extracts."""
        return not self.matchers and not self.extractors


@dataclass(frozen=True)
class HttpRequest:
    """One entry of the ``http`` list (several requests when it has several paths, raw
    requests or payloads)."""

    index: int
    operators: Operators
    method: str = "GET"
    paths: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    payloads: dict[str, tuple[str, ...]] = field(default_factory=dict)
    attack: str = "batteringram"
    redirects: bool = False
    host_redirects: bool = False
    max_redirects: int = 10
    cookie_reuse: bool = True
    stop_at_first_match: bool = False
    req_condition: bool = False
    iterate_all: bool = False
    max_size: int | None = None
    skip_variables_check: bool = False
    disable_path_automerge: bool = False
    name: str | None = None


@dataclass(frozen=True)
class NetworkInput:
    """Data written to a TCP connection, optionally followed by a read."""

    data: str = ""
    hex: bool = False
    read: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class NetworkRequest:
    """One entry of the ``tcp``/``network`` list."""

    index: int
    operators: Operators
    hosts: tuple[str, ...] = ("{{Hostname}}",)
    ports: tuple[int, ...] = ()
    inputs: tuple[NetworkInput, ...] = ()
    read_size: int = 1024
    read_all: bool = False


@dataclass(frozen=True)
class SslRequest:
    """One entry of the ``ssl`` list (Nuclei's ssl protocol): a TLS handshake and the
    certificate facts, optionally enumerating versions and cipher suites."""

    index: int
    operators: Operators
    address: str = "{{Host}}:{{Port}}"
    min_version: str | None = None
    max_version: str | None = None
    cipher_suites: tuple[str, ...] = ()
    scan_mode: str = "auto"
    version_enum: bool = False
    cipher_enum: bool = False
    cipher_types: tuple[str, ...] = ()
    name: str | None = None
    """The block's ``id`` (``ssl("id")`` in a flow)."""


@dataclass(frozen=True)
class DnsRequest:
    """One entry of the ``dns`` list (Nuclei's dns protocol). ``query`` holds the
    template's ``name`` field (the name to look up); ``name`` is the block's ``id``, as
    for the other request kinds."""

    index: int
    operators: Operators
    query: str = "{{FQDN}}"
    qtype: str = "A"
    qclass: str = "inet"
    recursion: bool = True
    retries: int = 3
    resolvers: tuple[str, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class Unsupported:
    """A feature the template uses that the engine does not run, with the reason."""

    feature: str
    reason: str


@dataclass(frozen=True)
class Template:
    """A loaded template. ``unsupported`` is empty when the engine can run all of it."""

    id: str
    path: Path
    info: Info
    variables: tuple[tuple[str, str], ...] = ()
    http: tuple[HttpRequest, ...] = ()
    network: tuple[NetworkRequest, ...] = ()
    ssl: tuple[SslRequest, ...] = ()
    dns: tuple[DnsRequest, ...] = ()
    flow: str | None = None
    self_contained: bool = False
    protocols: tuple[str, ...] = ()
    """Protocol sections present, in file order (``http``, ``tcp``, ``ssl``, ...)."""
    unsupported: tuple[Unsupported, ...] = ()

    @property
    def runnable(self) -> bool:
        """Whether every feature the template uses is supported."""
        return not self.unsupported

    @property
    def features(self) -> list[str]:
        """The unsupported feature names, de-duplicated, in order of appearance."""
        return list(dict.fromkeys(item.feature for item in self.unsupported))
