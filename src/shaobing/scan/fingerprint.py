"""Service and version identification (requirement B2): probes and banner matching.

The fingerprints are data (``fingerprints.yaml``), validated with pydantic at load time;
every regular expression is compiled then, so a broken entry fails loudly at start-up
rather than silently during a scan.

Each probe is sent on a fresh TCP connection with its own deadline; at most ``max_bytes``
are read and every read is bounded by that deadline, so a peer that accepts and never
answers, sends garbage or trickles bytes slowly costs at most ``timeout`` per probe.
Names are never resolved: callers pass addresses that already passed the scope guard.
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

DEFAULT_MAX_PROBES = 6
BANNER_EXCERPT = 256
# How long the banner probe waits for a server that speaks first.
_BANNER_WAIT = 2.0
# Once some data has arrived, stop reading after this long without more.
_QUIET_AFTER_DATA = 0.3
_RECV_CHUNK = 4096
_FLAG_BITS = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE}
_TEMPLATE_REF = re.compile(r"\$(\d)")
_CPE_PREFIX = "cpe:2.3:"
_CPE_FIELDS = 13  # "cpe", "2.3" and 11 attributes


def _check_ports(value: tuple[int, ...]) -> tuple[int, ...]:
    for port in value:
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} is outside 1-65535")
    return value


def _check_latin1(field: str, value: str) -> str:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{field} must be latin-1 (use \\xNN escapes)") from None
    return value


class MatchSpec(BaseModel):
    """One match rule of a probe (see the header of ``fingerprints.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1)
    pattern: str = Field(min_length=1)
    flags: str = ""
    ports: tuple[int, ...] = ()
    product: str | None = None
    version: str | None = None
    info: str | None = None
    cpe: tuple[str, ...] = ()
    os: str | None = None

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: str) -> str:
        unknown = set(value) - set(_FLAG_BITS)
        if unknown:
            raise ValueError(f"unknown regex flag(s) {''.join(sorted(unknown))!r}")
        return value

    @field_validator("pattern")
    @classmethod
    def _latin1_pattern(cls, value: str) -> str:
        return _check_latin1("pattern", value)

    @field_validator("ports")
    @classmethod
    def _valid_ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return _check_ports(value)

    @field_validator("cpe")
    @classmethod
    def _cpe23(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not item.startswith(_CPE_PREFIX) or len(item.split(":")) != _CPE_FIELDS:
                raise ValueError(f"{item!r} is not a CPE 2.3 formatted string")
        return value


class ProbeSpec(BaseModel):
    """One probe: what to send, where to try it first, and how to read the answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    protocol: str = "tcp"
    payload: str = ""
    ports: tuple[int, ...] = ()
    rarity: int = Field(ge=1, le=9)
    matches: tuple[MatchSpec, ...] = Field(min_length=1)

    @field_validator("protocol")
    @classmethod
    def _tcp_only(cls, value: str) -> str:
        if value != "tcp":
            raise ValueError("only tcp probes are supported")
        return value

    @field_validator("payload")
    @classmethod
    def _latin1_payload(cls, value: str) -> str:
        return _check_latin1("payload", value)

    @field_validator("ports")
    @classmethod
    def _valid_ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return _check_ports(value)


class _Database(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    probes: tuple[ProbeSpec, ...] = Field(min_length=1)


@dataclass(frozen=True)
class _Rule:
    spec: MatchSpec
    regex: re.Pattern[bytes]

    def applies_to(self, port: int) -> bool:
        return not self.spec.ports or port in self.spec.ports


@dataclass(frozen=True)
class Probe:
    """A validated probe with its payload as bytes and its patterns compiled."""

    name: str
    payload: bytes
    ports: frozenset[int]
    rarity: int
    rules: tuple[_Rule, ...]


@dataclass(frozen=True)
class ServiceMatch:
    """What answers on one port; ``banner`` is a printable excerpt of at most 256 chars."""

    service: str
    product: str | None
    version: str | None
    info: str | None
    cpe: tuple[str, ...]
    os: str | None
    probe: str
    banner: str


class FingerprintError(ValueError):
    """The fingerprint database is malformed (a packaging bug or a bad custom file)."""


def parse_database(text: str, *, source: str = "fingerprints.yaml") -> tuple[Probe, ...]:
    """Validate a fingerprint YAML document and compile it; raise FingerprintError if bad."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FingerprintError(t("scan_fp.db_yaml", source=source, detail=exc)) from None
    try:
        database = _Database.model_validate(raw)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FingerprintError(
            t("scan_fp.db_invalid", source=source, where=where, detail=first["msg"])
        ) from None
    probes: list[Probe] = []
    names: set[str] = set()
    for index, spec in enumerate(database.probes):
        if spec.name in names:
            raise FingerprintError(t("scan_fp.db_duplicate", source=source, name=spec.name))
        names.add(spec.name)
        rules: list[_Rule] = []
        for number, match in enumerate(spec.matches):
            flags = 0
            for letter in match.flags:
                flags |= _FLAG_BITS[letter]
            try:
                regex = re.compile(match.pattern.encode("latin-1"), flags)
            except re.error as exc:
                where = f"probes.{index}.matches.{number}.pattern"
                raise FingerprintError(
                    t("scan_fp.db_invalid", source=source, where=where, detail=exc)
                ) from None
            rules.append(_Rule(match, regex))
        probes.append(
            Probe(
                name=spec.name,
                payload=spec.payload.encode("latin-1"),
                ports=frozenset(spec.ports),
                rarity=spec.rarity,
                rules=tuple(rules),
            )
        )
    if not any(not probe.payload for probe in probes):
        raise FingerprintError(t("scan_fp.db_no_banner", source=source))
    return tuple(probes)


@cache
def load_probes() -> tuple[Probe, ...]:
    """The packaged fingerprint database, validated and compiled once per process."""
    text = (
        resources.files("shaobing.scan").joinpath("fingerprints.yaml").read_text(encoding="utf-8")
    )
    return parse_database(text)


def _printable(data: bytes) -> str:
    out: list[str] = []
    size = 0
    for byte in data:
        if byte in (0x0A, 0x0D, 0x09):
            piece = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}[byte]
        elif 0x20 <= byte < 0x7F:
            piece = chr(byte)
        else:
            piece = f"\\x{byte:02x}"
        if size + len(piece) > BANNER_EXCERPT:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def _group_text(found: re.Match[bytes], number: int) -> str:
    try:
        value = found.group(number)
    except IndexError:
        return ""
    if value is None:
        return ""
    return "".join(ch for ch in value.decode("latin-1") if ch.isprintable()).strip()


def _fill(template: str | None, found: re.Match[bytes]) -> str | None:
    if template is None:
        return None
    text = _TEMPLATE_REF.sub(lambda ref: _group_text(found, int(ref.group(1))), template)
    text = " ".join(text.split())
    return text or None


def _cpe_value(found: re.Match[bytes], number: int) -> str:
    value = _group_text(found, number)
    if not value:
        return "*"
    # CPE 2.3 formatted string: escape everything that is not alphanumeric or _ . -
    return "".join(ch if ch.isalnum() or ch in "_.-" else f"\\{ch}" for ch in value.lower())


def _fill_cpe(template: str, found: re.Match[bytes]) -> str:
    return _TEMPLATE_REF.sub(lambda ref: _cpe_value(found, int(ref.group(1))), template)


def _match(rules: tuple[_Rule, ...], data: bytes, port: int, probe: str) -> ServiceMatch | None:
    for rule in rules:
        if not rule.applies_to(port):
            continue
        found = rule.regex.search(data)
        if found is None:
            continue
        spec = rule.spec
        return ServiceMatch(
            service=spec.service,
            product=_fill(spec.product, found),
            version=_fill(spec.version, found),
            info=_fill(spec.info, found),
            cpe=tuple(_fill_cpe(item, found) for item in spec.cpe),
            os=_fill(spec.os, found),
            probe=probe,
            banner=_printable(data),
        )
    return None


def _order(probes: tuple[Probe, ...], port: int, budget: int) -> list[Probe]:
    banner = [p for p in probes if not p.payload]
    hinted = sorted((p for p in probes if p.payload and port in p.ports), key=lambda p: p.rarity)
    rest = sorted((p for p in probes if p.payload and port not in p.ports), key=lambda p: p.rarity)
    return (banner[:1] + hinted + rest)[:budget]


def _exchange(
    family: int,
    address: str,
    port: int,
    payload: bytes,
    *,
    timeout: float,
    wait_first: float,
    max_bytes: int,
    done: Callable[[bytes], bool],
) -> bytes | None:
    """Send ``payload`` on a fresh connection and read the answer; None if connect fails.

    Reading stops at the deadline, at ``max_bytes``, when the peer closes, after a quiet
    spell once data has arrived, or as soon as ``done(data)`` says the answer is decisive.
    """
    deadline = time.monotonic() + timeout
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except OSError:
            return None
        sock.setblocking(False)
        data = bytearray()
        if payload:
            try:
                _send_all(sock, payload, deadline)
            except OSError:
                return bytes(data)
        first_deadline = min(deadline, time.monotonic() + wait_first)
        while len(data) < max_bytes:
            now = time.monotonic()
            limit = deadline if data else first_deadline
            if data:
                limit = min(limit, now + _QUIET_AFTER_DATA)
            remaining = limit - now
            if remaining <= 0:
                break
            if not _wait(sock, select.POLLIN, remaining):
                break
            try:
                chunk = sock.recv(min(_RECV_CHUNK, max_bytes - len(data)))
            except BlockingIOError:
                continue
            except OSError:
                break
            if not chunk:
                break
            data.extend(chunk)
            if done(bytes(data)):
                break
        return bytes(data)
    finally:
        sock.close()


def _wait(sock: socket.socket, event: int, seconds: float) -> bool:
    """Wait for ``event`` (or an error/hang-up) on ``sock``; poll, not select, so
    descriptors above FD_SETSIZE (busy scanner processes) work too."""
    poller = select.poll()
    poller.register(sock, event | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(max(1, int(seconds * 1000))))


def _send_all(sock: socket.socket, payload: bytes, deadline: float) -> None:
    view = memoryview(payload)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if not _wait(sock, select.POLLOUT, remaining):
            raise TimeoutError
        try:
            sent = sock.send(view)
        except BlockingIOError:
            continue
        view = view[sent:]


def identify(
    address: str,
    port: int,
    *,
    timeout: float = 3.0,
    max_bytes: int = 16384,
    max_probes: int = DEFAULT_MAX_PROBES,
) -> ServiceMatch | None:
    """Identify the service on ``address``:``port`` (TCP), or None if nothing matched.

    The banner probe runs first, then probes hinted for this port, then the rest by rarity,
    ``max_probes`` in all, each on a fresh connection bounded by ``timeout`` seconds.
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
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    probes = load_probes()
    banner_rules = next(p.rules for p in probes if not p.payload)
    for probe in _order(probes, port, max_probes):
        is_banner = not probe.payload
        rules = probe.rules if is_banner else probe.rules + banner_rules

        def decisive(data: bytes, rules: tuple[_Rule, ...] = rules) -> bool:
            # A match that yielded a version will not improve with more bytes; anything
            # vaguer keeps reading until the peer goes quiet.
            found = _match(rules, data, port, "")
            return found is not None and found.version is not None

        data = _exchange(
            family,
            str(ip),
            port,
            probe.payload,
            timeout=timeout,
            wait_first=min(timeout, _BANNER_WAIT) if is_banner else timeout,
            max_bytes=max_bytes,
            done=decisive,
        )
        if data is None:
            return None  # no connection: closed, filtered or refusing further connections
        if not data:
            continue
        found = _match(rules, data, port, probe.name)
        if found is not None:
            return found
    return None
