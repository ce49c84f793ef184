"""Service and version identification (requirement B2): probes and banner matching.

The probes and match rules are data (:mod:`shaobing.scan.fingerprint_db`); this module
sends them. Each probe is sent on a fresh TCP connection with its own deadline; at most
``max_bytes`` are read and every read is bounded by that deadline, so a peer that accepts
and never answers, sends garbage or trickles bytes slowly costs at most ``timeout`` per
probe. When a port is a usual TLS port, or an answer shows TLS (a ServerHello, or an HTTP
server complaining about plain HTTP), the probes run again inside TLS and the handshake's
certificate is described in ``ServiceMatch.extra["tls"]``. Several databases can be used
in turn (the project's own first, then nmap's probe file); answers to identical payloads
are reused. Names are never resolved: callers pass addresses that already passed the
scope guard.
"""

from __future__ import annotations

import dataclasses
import html
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.scan.fingerprint_db import (
    Component,
    Database,
    FingerprintError,
    MatchSpec,
    Probe,
    ProbeSpec,
    Rule,
    default_databases,
    load_database,
    load_probes,
    parse_database,
)
from shaobing.scan.fingerprint_net import connect, session_details, talk
from shaobing.scan.fingerprint_template import decode_text, fill, fill_cpe, printable

__all__ = [
    "DEFAULT_MAX_PROBES",
    "Database",
    "FingerprintError",
    "MatchSpec",
    "Probe",
    "ProbeSpec",
    "ServiceMatch",
    "default_databases",
    "http_details",
    "identify",
    "load_database",
    "load_probes",
    "parse_database",
    "web_components",
]

DEFAULT_MAX_PROBES = 6
# How long the banner probe waits for a server that speaks first.
_BANNER_WAIT = 2.0
_TLS_SERVICES = frozenset({"tls", "ssl"})
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HTTP_TEXT_LIMIT = 200
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_-]{2,20})""", re.IGNORECASE)


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class ServiceMatch:
    """What answers on one port; ``banner`` is a printable excerpt of at most 256 chars.

    ``extra`` carries structured details: ``tls`` (protocol version, cipher and
    ``certificate``: subject/issuer CN, SANs, validity, self-signed flag, key type/size,
    signature algorithm), ``http`` (status, server, title, ...), ``components`` (web
    frameworks and admin consoles recognised) and ``database`` (which database matched).
    """

    service: str
    product: str | None
    version: str | None
    info: str | None
    cpe: tuple[str, ...]
    os: str | None
    probe: str
    banner: str
    tls: bool = False
    hostname: str | None = None
    device: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Hit:
    rule: Rule
    match: ServiceMatch
    data: bytes

    @property
    def rank(self) -> tuple[bool, bool, bool]:
        return (self.match.product is not None, self.match.version is not None, not self.soft)

    @property
    def soft(self) -> bool:
        return self.rule.spec.soft

    @property
    def wants_tls(self) -> bool:
        return self.rule.spec.tls or self.rule.spec.service in _TLS_SERVICES


def _find(rules: tuple[Rule, ...], data: bytes, port: int) -> tuple[Rule, re.Match[bytes]] | None:
    for rule in rules:
        if not rule.applies_to(port) or not rule.candidate(data):
            continue
        found = rule.regex.search(data)
        if found is not None:
            return rule, found
    return None


def _hit(rule: Rule, found: re.Match[bytes], data: bytes, probe: str, database: str) -> _Hit:
    spec = rule.spec
    match = ServiceMatch(
        service=spec.service,
        product=fill(spec.product, found),
        version=fill(spec.version, found),
        info=fill(spec.info, found),
        cpe=tuple(dict.fromkeys(fill_cpe(item, found) for item in spec.cpe)),
        os=fill(spec.os, found),
        probe=probe,
        banner=printable(data),
        hostname=fill(spec.hostname, found),
        device=fill(spec.device, found),
        extra={"database": database},
    )
    return _Hit(rule, match, data)


def _order(
    probes: Sequence[Probe],
    port: int,
    budget: int,
    *,
    tls: bool = False,
    first: str | None = None,
) -> list[Probe]:
    """Probes to try on ``port``: hinted ones early, the rest by rarity, ``budget`` at most.

    The banner probe (empty payload) comes first, except on a port that some other probe
    is hinted for and the banner probe is not: a silent service would cost the whole
    banner wait, and a greeting still shows at the start of any probe's answer.
    """

    def hinted(probe: Probe) -> bool:
        return port in probe.ports or (tls and port in probe.tls_ports)

    usable = [p for p in probes if not (tls and p.speaks_tls)]
    banner = [p for p in usable if not p.payload][:1]
    chosen = [p for p in usable if p.name == first and p.payload]
    payload = [p for p in usable if p.payload and p.name != first]
    hints = sorted((p for p in payload if hinted(p)), key=lambda p: p.rarity)
    rest = sorted((p for p in payload if not hinted(p)), key=lambda p: p.rarity)
    if chosen or (hints and not (banner and hinted(banner[0]))):
        ordered = chosen + hints + banner + rest
    else:
        ordered = banner + hints + rest
    return ordered[:budget]


# --------------------------------------------------------------------------- identification


class _Session:
    """One target port: its connections, TLS state and the answers already received."""

    def __init__(self, family: int, address: str, port: int, timeout: float, max_bytes: int):
        self.family = family
        self.address = address
        self.port = port
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.tls = False
        self.tls_details: dict[str, Any] | None = None
        self.unreachable = False
        self._tls_tried = False
        self._answers: dict[tuple[bool, bytes], bytes] = {}

    def start_tls(self) -> bool:
        """Switch to TLS if a handshake succeeds (tried once); record the session details."""
        if self.tls or self._tls_tried:
            return self.tls
        self._tls_tried = True
        deadline = time.monotonic() + self.timeout
        sock = connect(self.family, self.address, self.port, deadline, tls=True)
        if sock is None:
            return False
        try:
            if isinstance(sock, ssl.SSLSocket):
                self.tls_details = session_details(sock)
        finally:
            sock.close()
        self.tls = True
        return True

    def exchange(self, payload: bytes, done: Callable[[bytes], bool]) -> bytes | None:
        """The answer to ``payload`` (cached per payload and TLS state); None: no connection."""
        key = (self.tls, payload)
        if key in self._answers:
            return self._answers[key]
        deadline = time.monotonic() + self.timeout
        sock = connect(self.family, self.address, self.port, deadline, tls=self.tls)
        if sock is None:
            return None
        try:
            wait_first = min(self.timeout, _BANNER_WAIT) if not payload else self.timeout
            data = talk(
                sock,
                payload,
                deadline=deadline,
                wait_first=wait_first,
                max_bytes=self.max_bytes,
                done=done,
            )
        finally:
            sock.close()
        self._answers[key] = data
        return data


def _run(db: Database, session: _Session, budget: int, first: str | None = None) -> _Hit | None:
    port = session.port
    soft: _Hit | None = None
    tried = 0
    for probe in _order(db.tcp_probes, port, len(db.tcp_probes), tls=session.tls, first=first):
        if tried >= budget:
            break
        if soft is not None and soft.match.service not in probe.services:
            continue  # after a soft match only probes that can confirm that service run
        tried += 1
        rules = db.rules_for(probe)

        def decisive(data: bytes, rules: tuple[Rule, ...] = rules) -> bool:
            # A hard match that yielded a version will not improve with more bytes;
            # anything vaguer keeps reading until the peer goes quiet.
            found = _find(rules, data, port)
            return (
                found is not None and not found[0].spec.soft and found[0].spec.version is not None
            )

        data = session.exchange(probe.payload, decisive)
        if data is None:
            if session.tls:
                continue
            session.unreachable = True  # closed, filtered or refusing further connections
            return None
        if not data:
            continue
        found = _find(rules, data, port)
        if found is None:
            continue
        hit = _hit(found[0], found[1], data, probe.name, db.name)
        if hit.wants_tls and not session.tls and session.start_tls():
            return _run(db, session, budget, None if probe.speaks_tls else probe.name)
        if hit.soft:
            soft = soft or hit
            continue
        return hit
    return soft


def identify(
    address: str,
    port: int,
    *,
    timeout: float = 3.0,
    max_bytes: int = 16384,
    max_probes: int = DEFAULT_MAX_PROBES,
    databases: Iterable[Database] | None = None,
) -> ServiceMatch | None:
    """Identify the service on ``address``:``port`` (TCP), or None if nothing matched.

    The banner probe runs first (unless the port is hinted for another probe), then probes
    hinted for this port, then the rest by rarity, ``max_probes`` per database (counted
    afresh once the connection moves inside TLS), each on a fresh connection bounded by
    ``timeout`` seconds. ``databases`` default to :func:`default_databases`; a later
    database is consulted only while no earlier one named a product, and answers to
    identical payloads are reused.
    """
    try:
        if not isinstance(address, str):
            raise ValueError(address)
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ValidationError(t("scan_fp.address_invalid", item=address)) from None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValidationError(t("scan_fp.port_invalid", item=port))
    if not timeout > 0 or max_bytes < 1 or max_probes < 1:
        raise ValidationError(
            t("scan_fp.option_invalid", timeout=timeout, max_bytes=max_bytes, probes=max_probes)
        )
    dbs = default_databases() if databases is None else tuple(databases)
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    session = _Session(family, str(ip), port, timeout, max_bytes)
    if any(port in db.tls_ports for db in dbs):
        session.start_tls()
    best: _Hit | None = None
    for db in dbs:
        if port in db.exclude:
            continue
        hit = _run(db, session, max_probes)
        if session.unreachable:
            return None
        if hit is not None and (best is None or hit.rank > best.rank):
            best = hit
        if best is not None and best.match.product is not None:
            break
    return _finish(best, session, dbs)


def _finish(best: _Hit | None, session: _Session, dbs: Sequence[Database]) -> ServiceMatch | None:
    if best is None:
        if not session.tls:
            return None
        return ServiceMatch(
            service="tls",
            product=None,
            version=None,
            info=None,
            cpe=(),
            os=None,
            probe="tls-handshake",
            banner="",
            tls=True,
            extra={"tls": session.tls_details or {}},
        )
    match = best.match
    extra = dict(match.extra)
    cpe = list(match.cpe)
    if session.tls:
        extra["tls"] = session.tls_details or {}
    if best.data.startswith(b"HTTP/"):
        extra["http"] = http_details(best.data)
        components = [c for db in dbs for c in db.components]
        found = web_components(best.data, components)
        if found:
            extra["components"] = found
            cpe.extend(item for entry in found for item in entry["cpe"] if item not in cpe)
    return dataclasses.replace(match, tls=session.tls, cpe=tuple(cpe), extra=extra)


# --------------------------------------------------------------------------- HTTP details


def _clip(text: str) -> str:
    text = " ".join(html.unescape(text).split())
    return "".join(ch for ch in text if ch.isprintable())[:_HTTP_TEXT_LIMIT]


def http_details(data: bytes) -> dict[str, Any]:
    """Status, selected headers and the page title of an HTTP answer."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    details: dict[str, Any] = {}
    if len(status_line) >= 2 and status_line[1].isdigit():
        details["status"] = int(status_line[1])
    wanted = {
        b"server": "server",
        b"x-powered-by": "powered_by",
        b"location": "location",
        b"www-authenticate": "authenticate",
    }
    cookies: list[str] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower()
        if key in wanted:
            details.setdefault(wanted[key], _clip(decode_text(value.strip())))
        elif key == b"set-cookie":
            cookie = value.strip().split(b"=", 1)[0]
            cookies.append(_clip(decode_text(cookie)))
    if cookies:
        details["cookies"] = cookies
    title = _TITLE.search(body)
    if title is not None:
        # Short GBK titles are often valid UTF-8 too: the declared charset decides.
        declared = _CHARSET.search(head) or _CHARSET.search(body[: title.start()])
        charset = declared.group(1).decode("ascii").lower() if declared else None
        details["title"] = _clip(decode_text(title.group(1), charset))
    return details


def web_components(data: bytes, components: Iterable[Component]) -> list[dict[str, Any]]:
    """Every web component recognised in an HTTP answer, each once, in database order."""
    found: dict[str, dict[str, Any]] = {}
    for component in components:
        spec = component.spec
        if spec.name in found:
            continue
        hit = component.regex.search(data)
        if hit is None:
            continue
        found[spec.name] = {
            "name": spec.name,
            "kind": spec.kind,
            "version": fill(spec.version, hit),
            "cpe": [fill_cpe(item, hit) for item in spec.cpe],
        }
    return list(found.values())
