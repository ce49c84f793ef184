"""nmap's service probe file (``nmap-service-probes``) as an extra fingerprint database.

The file is read from the machine at run time (settings ``nmap_service_probes``, or the
usual install paths) and never copied into this repository. Its directives become the
structures of :mod:`shaobing.scan.fingerprint_db`:

    Exclude T:9100-9107                       ports never probed (TCP part kept)
    Probe TCP|UDP <name> q|<payload>| [no-payload]
    ports / sslports <list>                   hints (plain / inside TLS)
    rarity <1-9>, fallback <a,b>, totalwaitms <ms>, tcpwrappedms <ms>
    match|softmatch <service> m|<regex>|[is] [p/../] [v/../] [i/../] [h/../] [o/../]
                                            [d/../] [cpe:/../[a]]...

Any delimiter may replace ``|`` and ``/``. Payload escapes are ``\\\\ \\0 \\a \\b \\f \\n \\r \\t
\\v \\xHH``. CPE 2.2 URIs are converted to CPE 2.3 formatted strings. Patterns are compiled
on first use (all ~11,900 take seconds to compile; a scan needs few), unless
``check_patterns`` asks for all at load. Every error names the file and line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from shaobing.core.i18n import t
from shaobing.scan.fingerprint_db import (
    DOTALL,
    IGNORECASE,
    Database,
    FingerprintError,
    Probe,
    Rule,
    RuleSpec,
    literal_prefix,
)
from shaobing.scan.fingerprint_template import TEMPLATE_REF, check_template, cpe_escape

DEFAULT_PATHS = (
    Path("/usr/share/nmap/nmap-service-probes"),
    Path("/usr/local/share/nmap/nmap-service-probes"),
)
_ESCAPES = {"\\": 0x5C, "0": 0, "a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_HEX = frozenset("0123456789abcdefABCDEF")
_FIELD_KEYS = {"p": "product", "v": "version", "i": "info", "h": "hostname", "o": "os"}
_FIELD_KEYS["d"] = "device"
_MATCH_FLAGS = {"i": IGNORECASE, "s": DOTALL}
_CPE_PARTS = frozenset("aho")
_CPE23_ATTRIBUTES = 11
_PERCENT = re.compile(r"%([0-9a-fA-F]{2})")
_LETTERS = re.compile(r"[A-Za-z]*")
_SPACES = re.compile(r" *")


class NmapProbeError(FingerprintError):
    """The probe file is missing, unreadable or has an invalid line (named in the message)."""


def find_probe_file() -> Path | None:
    """The first of the usual install paths that exists, or None."""
    for path in DEFAULT_PATHS:
        if path.is_file():
            return path
    return None


def load_nmap_database(path: str | os.PathLike[str] | None = None) -> Database:
    """Parse ``path`` (default: :func:`find_probe_file`), cached while the file is unchanged."""
    chosen = Path(path) if path is not None else find_probe_file()
    if chosen is None:
        raise NmapProbeError(t("scan_fp.nmap_file_missing", path=DEFAULT_PATHS[0]))
    try:
        stat = chosen.stat()
    except OSError:
        raise NmapProbeError(t("scan_fp.nmap_file_missing", path=chosen)) from None
    return _load_cached(str(chosen.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime_ns: int, _size: int) -> Database:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise NmapProbeError(
            t("scan_fp.nmap_file_unreadable", path=path, detail=exc.strerror or exc)
        ) from None
    return parse_nmap_probes(data, source=path)


def parse_nmap_probes(
    data: bytes | str, *, source: str = "nmap-service-probes", check_patterns: bool = False
) -> Database:
    """Parse the whole file; NmapProbeError naming the line on the first invalid one."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    parser = _Parser(source)
    for number, line in enumerate(text.split("\n"), start=1):
        parser.feed(number, line.rstrip("\r"))
    database = parser.finish()
    if check_patterns:
        for probe in database.probes:
            for rule in probe.rules:
                _ = rule.regex  # compiles, or raises naming the line
    return database


# --------------------------------------------------------------------------- conversion


def _template_aware_split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside ``$HELPER(...)`` references."""
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        ref = TEMPLATE_REF.match(text, index) if text[index] == "$" else None
        if ref is not None:
            current.append(ref.group(0))
            index = ref.end()
            continue
        if text[index] == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(text[index])
        index += 1
    parts.append("".join(current))
    return parts


def _convert_attribute(value: str) -> str:
    if not value:
        return "*"
    out: list[str] = []
    position = 0
    for ref in TEMPLATE_REF.finditer(value):
        out.append(_literal(value[position : ref.start()]))
        out.append(ref.group(0))
        position = ref.end()
    out.append(_literal(value[position:]))
    return "".join(out)


def _literal(text: str) -> str:
    decoded = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), text)
    return cpe_escape(decoded)


@lru_cache(maxsize=8192)
def cpe22_to_23(uri: str) -> str:
    """``cpe:/a:vendor:product:1.0`` → ``cpe:2.3:a:vendor:product:1.0:*:*:*:*:*:*:*``.

    Template references (``$1``, ``$SUBST(...)``) are kept for filling at match time;
    literal text is percent-decoded and escaped; ValueError if it is not a CPE 2.2 URI.
    """
    body = uri.removeprefix("cpe:")
    if not body.startswith("/"):
        raise ValueError(uri)
    parts = _template_aware_split(body[1:], ":")
    if parts[0] not in _CPE_PARTS or len(parts) > 7:
        raise ValueError(uri)
    attributes = [parts[0], *(_convert_attribute(part) for part in parts[1:])]
    attributes += ["*"] * (_CPE23_ATTRIBUTES - len(attributes))
    return "cpe:2.3:" + ":".join(attributes)


# --------------------------------------------------------------------------- parser


@dataclass
class _ProbeDraft:
    protocol: str
    name: str
    payload: bytes
    line: int
    ports: frozenset[int] = frozenset()
    tls_ports: frozenset[int] = frozenset()
    rarity: int | None = None
    fallback: tuple[str, ...] = ()
    rules: list[Rule] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


class _LineError(Exception):
    """An invalid line; ``detail`` is already translated."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.drafts: list[_ProbeDraft] = []
        self.exclude: frozenset[int] = frozenset()
        self.names: set[tuple[str, str]] = set()

    def feed(self, number: int, line: str) -> None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return
        directive, _, rest = stripped.partition(" ")
        rest = rest.strip()
        try:
            self._directive(number, directive, rest)
        except _LineError as exc:
            raise NmapProbeError(
                t("scan_fp.nmap_line", source=self.source, line=number, detail=exc.detail)
            ) from None

    def _directive(self, number: int, directive: str, rest: str) -> None:
        if directive == "Probe":
            self._probe(number, rest)
            return
        if directive == "Exclude":
            if self.drafts:
                raise _LineError(t("scan_fp.nmap_exclude_late"))
            self.exclude = _port_list(rest, exclude=True)
            return
        if directive not in {
            "match",
            "softmatch",
            "ports",
            "sslports",
            "rarity",
            "fallback",
            "totalwaitms",
            "tcpwrappedms",
        }:
            raise _LineError(t("scan_fp.nmap_unknown_directive", directive=directive[:40]))
        if not self.drafts:
            raise _LineError(t("scan_fp.nmap_before_probe", directive=directive))
        draft = self.drafts[-1]
        if directive in {"match", "softmatch"}:
            draft.rules.append(
                _match_rule(rest, soft=directive == "softmatch", line=number, source=self.source)
            )
            return
        if directive in draft.seen:
            raise _LineError(t("scan_fp.nmap_repeated", directive=directive))
        draft.seen.add(directive)
        if directive == "ports":
            draft.ports = _port_list(rest)
        elif directive == "sslports":
            draft.tls_ports = _port_list(rest)
        elif directive == "rarity":
            draft.rarity = _number(rest, 1, 9)
        elif directive == "fallback":
            names = tuple(name.strip() for name in rest.split(","))
            if not all(names):
                raise _LineError(t("scan_fp.nmap_bad_value", value=rest[:40]))
            draft.fallback = names
        else:  # totalwaitms / tcpwrappedms: nmap's timing; identify() uses its own
            _number(rest, 1, 10**7)

    def _probe(self, number: int, rest: str) -> None:
        protocol, _, rest = rest.partition(" ")
        name, _, rest = rest.strip().partition(" ")
        if protocol not in {"TCP", "UDP"}:
            raise _LineError(t("scan_fp.nmap_bad_protocol", value=protocol[:20]))
        if not name or not rest.startswith("q") or len(rest) < 3:
            raise _LineError(t("scan_fp.nmap_bad_probe"))
        delimiter = rest[1]
        end = rest.find(delimiter, 2)
        if end < 0:
            raise _LineError(t("scan_fp.nmap_unterminated", what=rest[:20]))
        tail = rest[end + 1 :].strip()
        if tail not in {"", "no-payload"}:
            raise _LineError(t("scan_fp.nmap_bad_value", value=tail[:40]))
        key = (protocol.lower(), name)
        if key in self.names:
            raise _LineError(t("scan_fp.nmap_duplicate_probe", name=name[:40]))
        self.names.add(key)
        payload = unescape_payload(rest[2:end])
        self.drafts.append(_ProbeDraft(protocol.lower(), name, payload, number))

    def finish(self) -> Database:
        if not self.drafts:
            raise NmapProbeError(t("scan_fp.nmap_no_probes", source=self.source))
        probes = tuple(
            Probe(
                name=draft.name,
                payload=draft.payload,
                ports=draft.ports,
                rarity=draft.rarity or 1,
                rules=tuple(draft.rules),
                protocol=draft.protocol,
                tls_ports=draft.tls_ports,
                fallback=draft.fallback,
            )
            for draft in self.drafts
        )
        return Database(self.source, probes, (), self.exclude)


def unescape_payload(text: str) -> bytes:
    """A probe string with nmap's C-style escapes as bytes; _LineError on a bad escape."""
    out = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\":
            out.append(ord(char) & 0xFF)
            index += 1
            continue
        escaped = text[index + 1 : index + 2]
        if escaped == "x":
            digits = text[index + 2 : index + 4]
            if len(digits) != 2 or not set(digits) <= _HEX:
                raise _LineError(t("scan_fp.nmap_bad_escape", escape=text[index : index + 4]))
            out.append(int(digits, 16))
            index += 4
        elif escaped in _ESCAPES and escaped:
            out.append(_ESCAPES[escaped])
            index += 2
        else:
            raise _LineError(t("scan_fp.nmap_bad_escape", escape=text[index : index + 2]))
    return bytes(out)


def _number(text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise _LineError(t("scan_fp.nmap_bad_number", value=text[:20], low=low, high=high))
    return int(text)


def _port_list(text: str, *, exclude: bool = False) -> frozenset[int]:
    """``21,80-85`` (``T:``/``U:`` prefixes switch protocol; only TCP ports are kept)."""
    ports: set[int] = set()
    tcp = True
    for raw in text.replace(" ", "").split(","):
        item = raw
        if exclude and item[:2].upper() in {"T:", "U:"}:
            tcp = item[0].upper() == "T"
            item = item[2:]
        low, sep, high = item.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise _LineError(t("scan_fp.nmap_bad_port", value=raw[:20]))
        first, last = int(low), int(high) if sep else int(low)
        if not 0 <= first <= last <= 65535:
            raise _LineError(t("scan_fp.nmap_bad_port", value=raw[:20]))
        if tcp:
            ports.update(range(first, last + 1))
    return frozenset(ports)


def _delimited(text: str, start: int, what: str) -> tuple[str, int]:
    """The text between the delimiter at ``start`` and its next occurrence; end index."""
    if start >= len(text):
        raise _LineError(t("scan_fp.nmap_unterminated", what=what))
    delimiter = text[start]
    end = text.find(delimiter, start + 1)
    if end < 0:
        raise _LineError(t("scan_fp.nmap_unterminated", what=what))
    return text[start + 1 : end], end + 1


def _letters(text: str, start: int) -> tuple[str, int]:
    found = _LETTERS.match(text, start)
    end = found.end() if found else start
    return text[start:end], end


def _match_rule(rest: str, *, soft: bool, line: int, source: str) -> Rule:
    service, _, rest = rest.partition(" ")
    if not service or not rest.startswith("m"):
        raise _LineError(t("scan_fp.nmap_bad_match"))
    pattern, position = _delimited(rest, 1, rest[:20])
    if not pattern:
        raise _LineError(t("scan_fp.nmap_bad_match"))
    letters, position = _letters(rest, position)
    flags = 0
    for letter in letters:
        if letter not in _MATCH_FLAGS:
            raise _LineError(t("scan_fp.nmap_bad_flag", flag=letter))
        flags |= _MATCH_FLAGS[letter]
    values: dict[str, str] = {}
    cpes: list[str] = []
    size = len(rest)
    while True:
        position = _SPACES.match(rest, position).end()  # type: ignore[union-attr]
        if position >= size:
            break
        if rest.startswith("cpe:", position):
            value, position = _delimited(rest, position + 4, rest[position : position + 20])
            _, position = _letters(rest, position)  # the "a" flag: nmap's own bookkeeping
            try:
                cpes.append(cpe22_to_23("cpe:/" + value))
            except ValueError:
                raise _LineError(t("scan_fp.nmap_bad_cpe", value=value[:60])) from None
            continue
        key = _FIELD_KEYS.get(rest[position])
        if key is None or key in values:
            raise _LineError(t("scan_fp.nmap_bad_field", value=rest[position : position + 20]))
        value, position = _delimited(rest, position + 1, rest[position : position + 20])
        values[key] = _utf8(value)
    for template in (*values.values(), *cpes):
        try:
            _check_template(template)
        except ValueError as exc:
            raise _LineError(str(exc)) from None
    raw = pattern.encode("latin-1")
    spec = RuleSpec(
        service=service,
        product=values.get("product"),
        version=values.get("version"),
        info=values.get("info"),
        os=values.get("os"),
        hostname=values.get("hostname"),
        device=values.get("device"),
        cpe=tuple(cpes),
        soft=soft,
    )
    return Rule(spec, raw, flags, literal_prefix(raw, flags), line, source)


# Many rules share their templates; checking each distinct one once halves the load time.
_check_template = lru_cache(maxsize=16384)(check_template)


def _utf8(value: str) -> str:
    # The file is UTF-8 in a few product names; lines were read as latin-1 for the regexes.
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return value
