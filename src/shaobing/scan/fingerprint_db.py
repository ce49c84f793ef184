"""Fingerprint databases: the YAML schema, the compiled form and loading.

The project's own database (``fingerprints.yaml``) is validated with pydantic and every
pattern is compiled at load, so a broken entry fails at start-up. Extra databases (nmap's
probe file, :mod:`shaobing.scan.nmap_probes`) build the same structures directly; their
thousands of patterns are compiled on first use, and a literal prefix lets a rule be
skipped without running (or compiling) its regex when an answer cannot match it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from shaobing.core.i18n import t
from shaobing.scan.fingerprint_template import check_template

# Plain ints: RegexFlag enum arithmetic is slow over ~12,000 nmap rules.
IGNORECASE, DOTALL, MULTILINE = int(re.IGNORECASE), int(re.DOTALL), int(re.MULTILINE)
FLAG_BITS = {"i": IGNORECASE, "s": DOTALL, "m": MULTILINE}
_CPE_PREFIX = "cpe:2.3:"
_CPE_FIELDS = 13  # "cpe", "2.3" and 11 attributes


def _check_ports(value: tuple[int, ...]) -> tuple[int, ...]:
    for port in value:
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} is outside 1-65535")
    return value


def _check_latin1(field_name: str, value: str) -> str:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{field_name} must be latin-1 (use \\xNN escapes)") from None
    return value


def _check_flags(value: str) -> str:
    unknown = set(value) - set(FLAG_BITS)
    if unknown:
        raise ValueError(f"unknown regex flag(s) {''.join(sorted(unknown))!r}")
    return value


def _check_cpes(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        if not item.startswith(_CPE_PREFIX) or len(item.split(":")) != _CPE_FIELDS:
            raise ValueError(f"{item!r} is not a CPE 2.3 formatted string")
        check_template(item)
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
    hostname: str | None = None
    device: str | None = None
    # A soft match names the service only; identification goes on with the probes that
    # know that service and falls back to the soft match.
    soft: bool = False
    # The answer says "speak TLS to me": the probes are repeated inside TLS.
    tls: bool = False

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: str) -> str:
        return _check_flags(value)

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
        return _check_cpes(value)

    @field_validator("product", "version", "info", "os", "hostname", "device")
    @classmethod
    def _templates(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)


class ProbeSpec(BaseModel):
    """One probe: what to send, where to try it first, and how to read the answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    protocol: str = "tcp"
    payload: str = ""
    ports: tuple[int, ...] = ()
    # Ports where the probe is tried early once the connection is inside TLS.
    tls_ports: tuple[int, ...] = ()
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

    @field_validator("ports", "tls_ports")
    @classmethod
    def _valid_ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return _check_ports(value)


class ComponentSpec(BaseModel):
    """A web technology recognised in an HTTP answer (server, framework, admin console)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    pattern: str = Field(min_length=1)
    flags: str = ""
    version: str | None = None
    cpe: tuple[str, ...] = ()

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: str) -> str:
        return _check_flags(value)

    @field_validator("pattern")
    @classmethod
    def _latin1_pattern(cls, value: str) -> str:
        return _check_latin1("pattern", value)

    @field_validator("cpe")
    @classmethod
    def _cpe23(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_cpes(value)

    @field_validator("version")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)


class _DatabaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    probes: tuple[ProbeSpec, ...] = Field(min_length=1)
    components: tuple[ComponentSpec, ...] = ()


class FingerprintError(ValueError):
    """The fingerprint database is malformed (a packaging bug or a bad custom file)."""


# --------------------------------------------------------------------------- compiled form


def regex_flags(letters: str) -> int:
    """The ``re`` flags for a string of flag letters (i, s, m)."""
    flags = 0
    for letter in letters:
        flags |= FLAG_BITS[letter]
    return flags


# A prefix of a few bytes already rules out nearly every non-matching answer.
_PREFIX_MAX = 16
# One plain byte of a pattern: \xHH, \n-style, escaped punctuation, \0, or a non-meta byte.
_ATOM = rb"\\x[0-9a-fA-F]{2}|\\[nrtfv]|\\[^0-9A-Za-z]|\\0(?![0-7])|[^.^$*+?{}\[\]\\|()]"
_RUN = re.compile(rb"\^((?:" + _ATOM + rb")*)")
_ONE_ATOM = re.compile(_ATOM)
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|[nrtfv0]|[^0-9A-Za-z])")
_SIMPLE_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"f": b"\f", b"v": b"\v", b"0": b"\0"}
_QUANTIFIERS = (b"*", b"+", b"?", b"{")
_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_CLASS = re.compile(rb"\[\^?\]?[^\]]*\]")
_GROUPING = re.compile(rb"[()|]")


def _unescape(found: re.Match[bytes]) -> bytes:
    code = found.group(1)
    if code[:1] == b"x":
        return bytes([int(code[1:], 16)])
    return _SIMPLE_ESCAPES.get(code, code)


def _top_level_alternation(pattern: bytes) -> bool:
    if b"|" not in pattern:
        return False
    # Escapes first (so "\]" cannot end a class), then character classes.
    depth = 0
    for token in _GROUPING.finditer(_CLASS.sub(b"", _ESCAPED.sub(b"", pattern))):
        char = token.group()
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
        elif depth == 0:
            return True
    return False


def literal_prefix(pattern: bytes, flags: int) -> bytes:
    """Bytes every match of ``pattern`` must start with (lower-cased under IGNORECASE).

    Only patterns anchored with ``^`` (and not multi-line) have one: the run of plain
    bytes after the ``^``, without a last byte a quantifier applies to, at most 16 bytes.
    """
    if flags & MULTILINE:
        return b""
    run_match = _RUN.match(pattern)
    if run_match is None:
        return b""
    run = run_match.group(1)
    if run and pattern[run_match.end() : run_match.end() + 1] in _QUANTIFIERS:
        run = b"".join(_ONE_ATOM.findall(run)[:-1])
    if not run or _top_level_alternation(pattern):
        return b""
    prefix = (_ESCAPE.sub(_unescape, run) if b"\\" in run else run)[:_PREFIX_MAX]
    return prefix.lower() if flags & IGNORECASE else prefix


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule reports when it matches (templates), whichever database it came from."""

    service: str
    product: str | None = None
    version: str | None = None
    info: str | None = None
    cpe: tuple[str, ...] = ()
    os: str | None = None
    hostname: str | None = None
    device: str | None = None
    ports: frozenset[int] = frozenset()
    soft: bool = False
    tls: bool = False


@dataclass(frozen=True)
class Rule:
    """A match rule: its spec, its pattern as bytes and a literal prefix to skip it fast."""

    spec: RuleSpec
    pattern: bytes
    flags: int
    prefix: bytes = b""
    line: int = 0
    source: str = ""

    @classmethod
    def build(cls, match: MatchSpec, *, line: int = 0, source: str = "") -> Rule:
        """A rule for a validated ``match``; the regex is compiled on first use."""
        pattern = match.pattern.encode("latin-1")
        flags = regex_flags(match.flags)
        spec = RuleSpec(
            service=match.service,
            product=match.product,
            version=match.version,
            info=match.info,
            cpe=match.cpe,
            os=match.os,
            hostname=match.hostname,
            device=match.device,
            ports=frozenset(match.ports),
            soft=match.soft,
            tls=match.tls,
        )
        return cls(spec, pattern, flags, literal_prefix(pattern, flags), line, source)

    @cached_property
    def regex(self) -> re.Pattern[bytes]:
        """The compiled pattern; FingerprintError naming the source line if it is invalid."""
        try:
            return re.compile(self.pattern, self.flags)
        except re.error as exc:
            raise FingerprintError(
                t("scan_fp.db_pattern", source=self.source, line=self.line, detail=exc)
            ) from None

    def applies_to(self, port: int) -> bool:
        """Whether the rule is restricted to other ports."""
        return not self.spec.ports or port in self.spec.ports

    def candidate(self, data: bytes) -> bool:
        """False when ``data`` cannot match because it lacks the literal prefix."""
        if not self.prefix:
            return True
        head = data[: len(self.prefix)]
        if self.flags & IGNORECASE:
            head = head.lower()
        return head == self.prefix


@dataclass(frozen=True)
class Probe:
    """A validated probe with its payload as bytes and its match rules."""

    name: str
    payload: bytes
    ports: frozenset[int]
    rarity: int
    rules: tuple[Rule, ...]
    protocol: str = "tcp"
    tls_ports: frozenset[int] = frozenset()
    # Probes whose rules also apply to this probe's answers (nmap's "fallback").
    fallback: tuple[str, ...] = ()

    @cached_property
    def services(self) -> frozenset[str]:
        """Services this probe can identify with a hard match."""
        return frozenset(rule.spec.service for rule in self.rules if not rule.spec.soft)

    @property
    def speaks_tls(self) -> bool:
        """Whether the payload is itself a TLS/SSL ClientHello (pointless inside TLS)."""
        return self.payload[:2] == b"\x16\x03" or self.payload[:1] == b"\x80"


@dataclass(frozen=True)
class Component:
    """A compiled :class:`ComponentSpec`."""

    spec: ComponentSpec
    regex: re.Pattern[bytes]


@dataclass(frozen=True)
class Database:
    """A fingerprint database: probes in file order, web components, excluded ports."""

    name: str
    probes: tuple[Probe, ...]
    components: tuple[Component, ...] = ()
    exclude: frozenset[int] = frozenset()

    @cached_property
    def tcp_probes(self) -> tuple[Probe, ...]:
        """The TCP probes, the only ones :func:`identify` sends."""
        return tuple(p for p in self.probes if p.protocol == "tcp")

    @cached_property
    def tls_ports(self) -> frozenset[int]:
        """Ports where a TLS handshake is tried before any plain probe."""
        return frozenset().union(*(p.tls_ports for p in self.tcp_probes))

    @cached_property
    def _rule_sets(self) -> dict[str, tuple[Rule, ...]]:
        by_name = {p.name: p for p in self.tcp_probes}
        banner = next((p for p in self.tcp_probes if not p.payload), None)
        out: dict[str, tuple[Rule, ...]] = {}
        for probe in self.tcp_probes:
            rules = list(probe.rules)
            included = {probe.name}
            extras = [by_name.get(name) for name in probe.fallback] + [banner]
            for extra in extras:
                if extra is not None and extra.name not in included:
                    included.add(extra.name)
                    rules.extend(extra.rules)
            out[probe.name] = tuple(rules)
        return out

    def rules_for(self, probe: Probe) -> tuple[Rule, ...]:
        """The probe's rules, then its fallbacks' rules, then the banner probe's rules."""
        return self._rule_sets.get(probe.name, probe.rules)


# --------------------------------------------------------------------------- loading


def parse_database(text: str, *, source: str = "fingerprints.yaml") -> Database:
    """Validate a fingerprint YAML document and compile it; raise FingerprintError if bad."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FingerprintError(t("scan_fp.db_yaml", source=source, detail=exc)) from None
    try:
        spec = _DatabaseSpec.model_validate(raw)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FingerprintError(
            t("scan_fp.db_invalid", source=source, where=where, detail=first["msg"])
        ) from None
    probes: list[Probe] = []
    names: set[str] = set()
    for index, probe_spec in enumerate(spec.probes):
        if probe_spec.name in names:
            raise FingerprintError(t("scan_fp.db_duplicate", source=source, name=probe_spec.name))
        names.add(probe_spec.name)
        rules: list[Rule] = []
        for number, match in enumerate(probe_spec.matches):
            rule = Rule.build(match, source=source)
            _compile_now(rule.pattern, rule.flags, source, f"probes.{index}.matches.{number}")
            rules.append(rule)
        probes.append(
            Probe(
                name=probe_spec.name,
                payload=probe_spec.payload.encode("latin-1"),
                ports=frozenset(probe_spec.ports),
                rarity=probe_spec.rarity,
                rules=tuple(rules),
                tls_ports=frozenset(probe_spec.tls_ports),
            )
        )
    if not any(not probe.payload for probe in probes):
        raise FingerprintError(t("scan_fp.db_no_banner", source=source))
    components = tuple(
        Component(
            item,
            _compile_now(
                item.pattern.encode("latin-1"),
                regex_flags(item.flags),
                source,
                f"components.{index}",
            ),
        )
        for index, item in enumerate(spec.components)
    )
    return Database(source, tuple(probes), components)


def _compile_now(pattern: bytes, flags: int, source: str, where: str) -> re.Pattern[bytes]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise FingerprintError(
            t("scan_fp.db_invalid", source=source, where=f"{where}.pattern", detail=exc)
        ) from None


@cache
def load_database() -> Database:
    """The packaged fingerprint database, validated and compiled once per process."""
    text = (
        resources.files("shaobing.scan").joinpath("fingerprints.yaml").read_text(encoding="utf-8")
    )
    return parse_database(text)


def load_probes() -> tuple[Probe, ...]:
    """The packaged database's probes (see :func:`load_database`)."""
    return load_database().probes


def default_databases() -> tuple[Database, ...]:
    """The project's database, then nmap's probe file when the settings name one."""
    from shaobing.core.settings import get_settings  # noqa: PLC0415 - settings on first use

    path = get_settings().nmap_service_probes
    if path is None:
        return (load_database(),)
    from shaobing.scan.nmap_probes import load_nmap_database  # noqa: PLC0415 - optional

    return (load_database(), load_nmap_database(path))
