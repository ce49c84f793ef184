"""Scope guard: is this active operation authorised, here and now? (requirement A3)

Every active operation (scan, probe, request) asks :func:`evaluate` or :func:`ensure_allowed`
before any packet leaves. The module is pure: no database, no network except the optional
DNS look-up done through the injectable resolver.

Scope entries (:func:`parse_scope_entry`)
    ``ip``        ``10.0.0.5``, ``2001:db8::1``, ``[2001:db8::1]``
    ``cidr``      ``10.0.0.0/24``, ``2001:db8::/48``. Host bits must be zero: ``10.0.0.5/24`` is
                  refused with a hint naming ``10.0.0.0/24`` because it is usually a typo and
                  silently widening an authorisation is the wrong default.
    ``range``     ``10.0.0.1-20`` (last-octet short form, IPv4 only) and
                  ``10.0.0.1-10.0.0.20`` / ``2001:db8::1-2001:db8::ff`` (full form).
    ``host``      ``www.example.gov.cn``; case-insensitive, trailing dot stripped, IDN converted
                  to punycode. Matches that exact name only.
    ``wildcard``  ``*.example.gov.cn`` matches every subdomain at any depth but NOT the apex
                  ``example.gov.cn`` itself (add it separately when it is in scope).
    ``url``       ``http(s)://host[:port][/path]``; grants the host only on that port (default
                  80/443 by scheme) and, for URL targets, only below that path prefix. Query and
                  fragment are ignored; user information is refused.

    Include entries must be specific: the whole address space (``0.0.0.0/0``, ``::/0``), more
    than 2^24 IPv4 addresses (wider than a /8) or 2^96 IPv6 addresses (wider than a /32),
    single-label names and public suffixes (``com``, ``*.cn``, ``*.gov.cn``, ``*.com.cn``,
    checked with the bundled public suffix list) are refused. Exclude entries may be as broad as
    you like: excluding too much is always safe.

Time windows (:func:`parse_time_window`)
    ``08:00-20:00``, ``mon-fri 08:00-20:00``, ``sat,sun 09:00-12:00``, and the Chinese day
    words listed under ``syntax`` in the scope catalogue (weekday names, ranges written with the
    Chinese "to", the workday/weekend/daily words). Start is inclusive, end exclusive, both in the
    scope's time zone. A window whose end is before its start crosses midnight and its days
    name the day it *starts* on (``fri 22:00-06:00`` covers Friday night to Saturday 06:00).
    ``00:00-24:00`` is the whole day.

Targets
    An IP (``10.0.0.5``, ``2001:db8::1``, ``[2001:db8::1]``), a host name, ``host:port``,
    ``[v6]:port`` or a URL ``scheme://host[:port]/path``. The ``port=`` argument overrides the
    target's own port. IPv4-mapped IPv6 addresses (``::ffff:10.0.0.5``) are checked as IPv4.

Decision rules, in order (the first failing rule gives the reason code)
    0. Unparsable target -> ``invalid_target`` (a decision, never an exception, in evaluate).
    1. The date of ``now`` in ``scope.timezone`` outside ``start..end`` (both inclusive)
       -> ``outside_period``; when windows are defined and ``now`` is in none of them
       -> ``outside_window``. ``now`` defaults to the current time; a naive ``now`` is read as
       wall-clock time in the scope's zone.
    2. IP target: inside any exclude entry -> ``excluded`` (exclusions always win). Admitted by
       an include ip/cidr/range entry, or by an include URL entry whose host is that IP (rule 4);
       otherwise ``not_included``.
    3. Host-name target: a name matching an exclude host/wildcard/URL entry -> ``excluded``
       (before any DNS query). The name is resolved (all A/AAAA answers); failure or no answer
       -> ``unresolvable``. Any resolved address inside an exclude entry -> ``excluded``. Every
       resolved address must be admitted, either because the address itself is inside an
       include ip/cidr/range entry, or because the name is included by a host/wildcard/URL
       entry AND the address is globally routable (``ipaddress.is_global``). An included name
       that resolves to a loopback/private/link-local/reserved address not explicitly included
       is refused as ``rebinding`` (DNS-rebinding guard); other unadmitted addresses give
       ``not_included``. An allowed decision carries the resolved addresses: callers must
       connect to exactly those (pinning) instead of resolving again.
    4. When only URL include entries admit a target, its port (``port=``, then its own, then
       the scheme default of a URL target) must equal an entry's port -> else
       ``port_not_allowed`` (also when no port is known); a URL target's path must lie under
       that entry's path prefix, segment-aware (``/app`` admits ``/app`` and ``/app/x`` but not
       ``/apple``) -> else ``path_not_allowed``. Paths are compared after removing dot segments
       and ``;`` parameters, both as written and percent-decoded; every reading must be inside
       the prefix (case-sensitive) for inclusion. The scheme itself is not compared: the port
       is the boundary.
    Exclude URL entries exclude a URL target on that port whose path (any reading, compared
    case-insensitively) lies under the prefix, and exclude non-URL targets on that port or with
    no port at all, because a path-unaware operation cannot promise to avoid the path.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from heapq import heappop, heappush
from typing import Final, Literal, TypeAlias
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publicsuffixlist import PublicSuffixList

from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import DEFAULT_LANGUAGE, catalogue, t

__all__ = [
    "REASONS",
    "Scope",
    "ScopeDecision",
    "ScopeEntry",
    "ScopeEntryError",
    "ScopeRefused",
    "TimeWindow",
    "default_resolver",
    "ensure_allowed",
    "evaluate",
    "parse_scope_entry",
    "parse_time_window",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
EntryKind: TypeAlias = Literal["ip", "cidr", "range", "host", "wildcard", "url"]
Resolver: TypeAlias = Callable[[str], Sequence[str]]

# Stable reason codes of ScopeDecision.reason.
OK: Final = "ok"
NOT_INCLUDED: Final = "not_included"
EXCLUDED: Final = "excluded"
OUTSIDE_WINDOW: Final = "outside_window"
OUTSIDE_PERIOD: Final = "outside_period"
UNRESOLVABLE: Final = "unresolvable"
REBINDING: Final = "rebinding"
INVALID_TARGET: Final = "invalid_target"
PORT_NOT_ALLOWED: Final = "port_not_allowed"
PATH_NOT_ALLOWED: Final = "path_not_allowed"
REASONS: Final = frozenset(
    {
        OK,
        NOT_INCLUDED,
        EXCLUDED,
        OUTSIDE_WINDOW,
        OUTSIDE_PERIOD,
        UNRESOLVABLE,
        REBINDING,
        INVALID_TARGET,
        PORT_NOT_ALLOWED,
        PATH_NOT_ALLOWED,
    }
)

DEFAULT_TIMEZONE: Final = "Asia/Shanghai"
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# One entry may authorise at most a /8 (IPv4) or a /32 (IPv6): wider is almost surely a mistake.
MAX_IPV4_ADDRESSES: Final = 2**24
MAX_IPV6_ADDRESSES: Final = 2**96
RESOLVE_TIMEOUT: Final = 5.0

_MAPPED_V4 = ipaddress.IPv6Network("::ffff:0:0/96")
_MAPPED_BASE = int(_MAPPED_V4.network_address)
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_SHOW_LIMIT = 200


# --------------------------------------------------------------------------- errors


def _show(text: str) -> str:
    """Make untrusted text safe for a one-line message (escape controls, cap the length)."""
    cleaned = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
    if not cleaned.strip():
        return repr(text)
    if len(cleaned) > _SHOW_LIMIT:
        return cleaned[: _SHOW_LIMIT - 3] + "..."
    return cleaned


class ScopeEntryError(ValidationError):
    """An invalid scope entry, time window, period or time zone; the message names it."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


def _entry_error(raw: str, reason: str, **params: object) -> ScopeEntryError:
    return ScopeEntryError(
        t("scope.entry_invalid", entry=_show(raw), reason=t(f"scope.reason.{reason}", **params)),
        raw,
    )


def _window_error(raw: str, reason: str, **params: object) -> ScopeEntryError:
    return ScopeEntryError(
        t("scope.window_invalid", entry=_show(raw), reason=t(f"scope.reason.{reason}", **params)),
        raw,
    )


class ScopeRefused(ShaobingError):
    """Raised by :func:`ensure_allowed`; ``.decision`` holds the refusing decision."""

    def __init__(self, decision: ScopeDecision) -> None:
        super().__init__(decision.message)
        self.decision = decision


# --------------------------------------------------------------------------- helpers


@cache
def _psl() -> PublicSuffixList:
    # Parsing the bundled list takes a moment; do it once, on first use.
    return PublicSuffixList()


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScopeEntryError(t("scope.timezone_invalid", entry=_show(name)), name) from exc


def _canonical(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 addresses are IPv4 on the wire, so they are checked as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _format_address(address: IPAddress) -> str:
    """``str()`` but IPv4-mapped addresses keep their dotted tail (``::ffff:10.0.0.1``)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        scope_id = f"%{address.scope_id}" if address.scope_id else ""
        return f"::ffff:{address.ipv4_mapped}{scope_id}"
    return str(address)


def _key(address: IPAddress) -> tuple[int, int]:
    return address.version, int(address)


def _parse_ip(text: str) -> IPAddress | None:
    bracketed = text.startswith("[") and text.endswith("]")
    inner = text[1:-1] if bracketed else text
    try:
        address = ipaddress.ip_address(inner)
    except ValueError:
        return None
    if bracketed and address.version != 6:
        return None
    return address


def _host_network(address: IPAddress) -> IPNetwork:
    if isinstance(address, ipaddress.IPv4Address):
        return ipaddress.IPv4Network((int(address), 32))
    return ipaddress.IPv6Network((int(address), 128))


def normalise_hostname(text: str) -> str | None:
    """Lower-case, punycode, strip the trailing dot; ``None`` when not a valid DNS name."""
    if not text or any(ch.isspace() or not ch.isprintable() for ch in text):
        return None
    try:
        # The idna codec also maps the ideographic full stop (U+3002) and friends to ".".
        name = text.lower().encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    name = name.removesuffix(".")
    if not name or len(name) > 253:
        return None
    labels = name.split(".")
    if not all(_LABEL_RE.match(label) for label in labels):
        return None
    # No TLD is numeric; a numeric last label is a mistyped IPv4 address such as 10.0.0.256.
    if labels[-1].isdigit():
        return None
    return name


def looks_numeric(text: str) -> bool:
    """Digits and dots only: a (possibly mistyped) IPv4 address, never a host name."""
    return bool(text) and all(ch.isdigit() or ch == "." for ch in text)


def _normalise_path(path: str, *, decode: bool) -> str:
    """Resolve dot segments and drop ``;`` parameters (``/app/..;/x`` is ``/x`` to Tomcat)."""
    text = path
    if decode:
        # Decode until stable so double-encoded dot segments cannot hide.
        for _ in range(5):
            decoded = unquote(text)
            if decoded == text:
                break
            text = decoded
        text = text.replace("\\", "/")
    out: list[str] = []
    for segment in text.split("/"):
        bare = segment.split(";", 1)[0]
        if bare in ("", "."):
            continue
        if bare == "..":
            if out:
                out.pop()
            continue
        out.append(bare)
    return "/" + "/".join(out)


def _path_readings(path: str) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys((_normalise_path(path, decode=False), _normalise_path(path, decode=True)))
    )


def _path_within(path: str, prefix: str, *, fold: bool = False) -> bool:
    if fold:
        path, prefix = path.casefold(), prefix.casefold()
    return prefix in ("/", path) or path.startswith(prefix + "/")


def _format_count(count: int) -> str:
    if count & (count - 1) == 0:
        return f"2^{count.bit_length() - 1}"
    if count < 10**12:
        return str(count)
    return f"~2^{count.bit_length() - 1}"


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class ScopeEntry:
    """One parsed scope entry.

    ``networks`` is set for ip/cidr/range entries and for URL entries whose host is an IP;
    ``hostname`` (punycode, lower case) for host and URL entries and, for wildcards, the base
    name after ``*.``. ``port``, ``scheme`` and ``path`` (normalised prefix) only for URLs.
    """

    raw: str
    kind: EntryKind
    networks: tuple[IPNetwork, ...] = ()
    hostname: str | None = None
    port: int | None = None
    scheme: str | None = None
    path: str | None = None

    @property
    def address_count(self) -> int:
        """Number of addresses the entry's networks cover (0 for name entries)."""
        return sum(network.num_addresses for network in self.networks)


def parse_scope_entry(raw: str, *, exclude: bool = False) -> ScopeEntry:
    """Parse one scope entry; include entries (the default) must also be specific enough.

    Raises :class:`ScopeEntryError` naming ``raw`` and the reason.
    """
    entry = _parse_entry_syntax(raw)
    if not exclude:
        _check_include(entry)
    return entry


def _parse_entry_syntax(raw: str) -> ScopeEntry:
    text = raw.strip()
    if not text:
        raise _entry_error(raw, "empty")
    if "://" in text:
        return _parse_url_entry(raw, text)
    if "*" in text:
        return _parse_wildcard_entry(raw, text)
    if "/" in text:
        return _parse_cidr_entry(raw, text)
    if "-" in text:
        left, _, right = text.partition("-")
        first = _parse_ip(left.strip())
        if first is not None:
            return _parse_range_entry(raw, first, right.strip())
    address = _parse_ip(text)
    if address is not None:
        if _canonical(address).is_unspecified:
            raise _entry_error(raw, "unspecified", address=str(address))
        return ScopeEntry(raw=raw, kind="ip", networks=(_host_network(_canonical(address)),))
    if looks_numeric(text):
        raise _entry_error(raw, "ip_invalid")
    name = normalise_hostname(text)
    if name is None:
        raise _entry_error(raw, "unrecognised" if ":" in text else "hostname_invalid")
    return ScopeEntry(raw=raw, kind="host", hostname=name)


def _parse_wildcard_entry(raw: str, text: str) -> ScopeEntry:
    if text == "*":
        raise _entry_error(raw, "wildcard_everything")
    base_text = text[2:] if text.startswith("*.") else ""
    if not base_text or "*" in base_text:
        raise _entry_error(raw, "wildcard_invalid")
    base = normalise_hostname(base_text)
    if base is None:
        raise _entry_error(raw, "hostname_invalid")
    return ScopeEntry(raw=raw, kind="wildcard", hostname=base)


def _parse_cidr_entry(raw: str, text: str) -> ScopeEntry:
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise _entry_error(raw, "cidr_invalid") from None
        raise _entry_error(raw, "cidr_host_bits", network=str(loose)) from None
    return ScopeEntry(raw=raw, kind="cidr", networks=(network,))


def _parse_range_entry(raw: str, first: IPAddress, right: str) -> ScopeEntry:
    last: IPAddress | None
    if right.isdigit() and isinstance(first, ipaddress.IPv4Address):
        octet = int(right)
        if octet > 255 or (len(right) > 1 and right.startswith("0")):
            raise _entry_error(raw, "range_invalid")
        last = ipaddress.IPv4Address((int(first) & ~0xFF) | octet)
    else:
        last = _parse_ip(right)
        if last is None:
            raise _entry_error(raw, "range_invalid")
    if first.version != last.version:
        raise _entry_error(raw, "range_family")
    if int(last) < int(first):
        raise _entry_error(raw, "range_reversed", first=str(first), last=str(last))
    networks: list[IPNetwork]
    if isinstance(first, ipaddress.IPv4Address):
        networks = list(ipaddress.summarize_address_range(first, ipaddress.IPv4Address(int(last))))
    else:
        networks = list(
            ipaddress.summarize_address_range(
                ipaddress.IPv6Address(int(first)), ipaddress.IPv6Address(int(last))
            )
        )
    return ScopeEntry(raw=raw, kind="range", networks=tuple(networks))


def _parse_url_entry(raw: str, text: str) -> ScopeEntry:
    try:
        parts = urlsplit(text)
    except ValueError:
        raise _entry_error(raw, "url_invalid") from None
    try:
        port = parts.port
    except ValueError:
        raise _entry_error(raw, "url_port") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _entry_error(raw, "url_scheme", scheme=_show(scheme or "?"))
    if parts.username is not None or parts.password is not None:
        raise _entry_error(raw, "url_userinfo")
    host = parts.hostname
    if not host or "\\" in parts.netloc:
        raise _entry_error(raw, "url_invalid")
    if port == 0:
        raise _entry_error(raw, "url_port")
    port = port if port is not None else DEFAULT_PORTS[scheme]
    path = _normalise_path(parts.path, decode=True)
    address = _parse_ip(host)
    if address is not None:
        if _canonical(address).is_unspecified:
            raise _entry_error(raw, "unspecified", address=str(address))
        return ScopeEntry(
            raw=raw,
            kind="url",
            networks=(_host_network(_canonical(address)),),
            port=port,
            scheme=scheme,
            path=path,
        )
    if looks_numeric(host):
        raise _entry_error(raw, "ip_invalid")
    name = normalise_hostname(host)
    if name is None:
        raise _entry_error(raw, "hostname_invalid")
    return ScopeEntry(raw=raw, kind="url", hostname=name, port=port, scheme=scheme, path=path)


def _check_include(entry: ScopeEntry) -> None:
    """Refuse include entries that would authorise far more than any real engagement does."""
    if entry.kind in ("cidr", "range"):
        # Count what the index will actually grant, so ::ffff:0:0/96 counts as all of IPv4.
        counts = {4: 0, 6: 0}
        for network in entry.networks:
            for version, first, last in _network_spans(network, exclude=False):
                counts[version] += last - first + 1
        v4, v6 = counts[4], counts[6]
        if v4 >= 2**32 or v6 >= 2**128:
            everything = "0.0.0.0/0" if v4 >= 2**32 else "::/0"
            raise _entry_error(entry.raw, "everything", network=everything)
        if v4 > MAX_IPV4_ADDRESSES:
            raise _entry_error(entry.raw, "too_broad", count=_format_count(v4), limit="2^24 (/8)")
        if v6 > MAX_IPV6_ADDRESSES:
            raise _entry_error(entry.raw, "too_broad", count=_format_count(v6), limit="2^96 (/32)")
    elif entry.hostname is not None:
        name = entry.hostname
        psl = _psl()
        # A listed suffix (com, gov.cn) gets the precise message; an unknown single label
        # (db01) is "public" to the list only because it might be a TLD.
        if psl.is_public(name, accept_unknown=False):
            raise _entry_error(entry.raw, "public_suffix", name=name)
        if entry.kind != "wildcard" and "." not in name:
            raise _entry_error(entry.raw, "single_label", name=name)
        if psl.is_public(name):
            raise _entry_error(entry.raw, "public_suffix", name=name)


# --------------------------------------------------------------------------- windows

_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES: Final = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_DAY_ALIASES: Final = {
    "weekdays": frozenset(range(5)), "weekday": frozenset(range(5)),
    "weekend": frozenset({5, 6}), "weekends": frozenset({5, 6}),
    "daily": frozenset(range(7)), "everyday": frozenset(range(7)),
}  # fmt: skip


@dataclass(frozen=True)
class _DayVocabulary:
    names: dict[str, int]
    aliases: dict[str, frozenset[int]]
    range_words: tuple[str, ...]
    separators: tuple[str, ...]


@cache
def _day_vocabulary() -> _DayVocabulary:
    """English day words plus the localised ones from the catalogue's ``syntax`` section.

    The localised words live in the catalogue so this file stays free of non-English text;
    they are read from the default catalogue so parsing does not depend on the UI language.
    """
    words = catalogue(DEFAULT_LANGUAGE)

    def listed(key: str) -> list[str]:
        text = unicodedata.normalize("NFKC", words.get(f"scope.syntax.{key}", ""))
        return [word.strip().lower() for word in text.split(",") if word.strip()]

    names = dict(_DAY_NAMES)
    for number, day in enumerate(_WEEKDAYS):
        names.update(dict.fromkeys(listed(f"day_{day}"), number))
    aliases = dict(_DAY_ALIASES)
    for key in ("weekdays", "weekend", "daily"):
        aliases.update(dict.fromkeys(listed(key), _DAY_ALIASES[key]))
    return _DayVocabulary(
        names=names,
        aliases=aliases,
        range_words=("~", "\u2013", "\u2014", *listed("range")),
        separators=tuple(listed("separator")),
    )


_WINDOW_RE = re.compile(
    r"^(?P<days>.*?)\s*(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$", re.DOTALL
)


@dataclass(frozen=True)
class TimeWindow:
    """A recurring window: on ``days`` (0=Monday) from ``start`` (inclusive) to ``end``.

    ``end`` before ``start`` crosses midnight (days name the starting day); equal start and
    end is the whole day.
    """

    raw: str
    days: frozenset[int]
    start: time
    end: time

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment``'s wall-clock time (already in the scope's zone) is inside."""
        weekday = moment.weekday()
        clock = moment.time()
        if self.start == self.end:
            return weekday in self.days
        if self.start < self.end:
            return weekday in self.days and self.start <= clock < self.end
        return (weekday in self.days and clock >= self.start) or (
            (weekday - 1) % 7 in self.days and clock < self.end
        )


def parse_time_window(raw: str) -> TimeWindow:
    """Parse ``[days] HH:MM-HH:MM``.

    Days like ``mon-fri``, ``sat,sun``, ``weekdays`` or their Chinese forms (see the catalogue's
    ``syntax`` section); no days means every day.
    """
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    vocabulary = _day_vocabulary()
    for dash in vocabulary.range_words:
        text = text.replace(dash, "-")
    for separator in vocabulary.separators:
        text = text.replace(separator, ",")
    match = _WINDOW_RE.match(text)
    if match is None:
        raise _window_error(raw, "window_format")
    days = _parse_days(raw, match["days"].strip())
    start = _parse_clock(raw, match["start"], allow_24=False)
    end = _parse_clock(raw, match["end"], allow_24=True)
    if start == end and not (match["end"] == "24:00" and start == time(0)):
        raise _window_error(raw, "window_empty", value=match["start"])
    return TimeWindow(raw=raw, days=days, start=start, end=end)


def _parse_clock(raw: str, value: str, *, allow_24: bool) -> time:
    hours, _, minutes = value.partition(":")
    hour, minute = int(hours), int(minutes)
    if allow_24 and hour == 24 and minute == 0:
        return time(0)
    if hour > 23 or minute > 59:
        raise _window_error(raw, "window_time", value=value)
    return time(hour, minute)


def _parse_days(raw: str, spec: str) -> frozenset[int]:
    if not spec:
        return frozenset(range(7))
    spec = re.sub(r"\s*-\s*", "-", spec)
    vocabulary = _day_vocabulary()
    days: set[int] = set()
    for token in re.split(r"[,\s]+", spec):
        if not token:
            continue
        if token in vocabulary.aliases:
            days |= vocabulary.aliases[token]
            continue
        first_name, dash, last_name = token.partition("-")
        first = vocabulary.names.get(first_name.strip())
        if first is None:
            raise _window_error(raw, "window_day", day=_show(first_name or token))
        if not dash:
            days.add(first)
            continue
        last = vocabulary.names.get(last_name.strip())
        if last is None:
            raise _window_error(raw, "window_day", day=_show(last_name or token))
        # Ranges may wrap the week: fri-mon is Friday through Monday.
        day = first
        days.add(day)
        while day != last:
            day = (day + 1) % 7
            days.add(day)
    if not days:
        raise _window_error(raw, "window_format")
    return frozenset(days)


# --------------------------------------------------------------------------- index


class _IntervalIndex:
    """Disjoint sorted integer intervals, each owned by the lowest-numbered covering entry.

    Built once per scope by a sweep, so a lookup is one bisect however many entries exist.
    """

    __slots__ = ("_ends", "_owners", "_starts")

    def __init__(self, spans: list[tuple[int, int, int]]) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._owners: list[int] = []
        if not spans:
            return
        spans.sort()
        bounds = sorted({s for s, _, _ in spans} | {e + 1 for _, e, _ in spans})
        active: list[tuple[int, int]] = []  # heap of (owner, end)
        i = 0
        for k in range(len(bounds) - 1):
            low, high = bounds[k], bounds[k + 1] - 1
            while i < len(spans) and spans[i][0] == low:
                heappush(active, (spans[i][2], spans[i][1]))
                i += 1
            while active and active[0][1] < low:
                heappop(active)
            if not active:
                continue
            owner = active[0][0]
            if self._owners and self._owners[-1] == owner and self._ends[-1] == low - 1:
                self._ends[-1] = high
            else:
                self._starts.append(low)
                self._ends.append(high)
                self._owners.append(owner)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def lookup(self, value: int) -> int | None:
        """Owner of the interval containing ``value``, if any."""
        i = bisect_right(self._starts, value) - 1
        if i >= 0 and value <= self._ends[i]:
            return self._owners[i]
        return None


def _network_spans(network: IPNetwork, *, exclude: bool) -> list[tuple[int, int, int]]:
    """(version, first, last) spans, folding the IPv4-mapped block onto IPv4."""
    first, last = int(network.network_address), int(network.broadcast_address)
    spans: list[tuple[int, int, int]] = [(network.version, first, last)]
    if isinstance(network, ipaddress.IPv6Network):
        if network.subnet_of(_MAPPED_V4):
            spans.append((4, first - _MAPPED_BASE, last - _MAPPED_BASE))
        elif exclude and network.supernet_of(_MAPPED_V4):
            # Only for exclusions: mapped targets are checked as IPv4, so the exclusion must
            # follow them there; an include this wide must not grant all of IPv4.
            spans.append((4, 0, 2**32 - 1))
    return spans


class _RoleIndex:
    """Lookup structures for the include or the exclude side of a scope."""

    def __init__(self, entries: tuple[ScopeEntry, ...], *, exclude: bool) -> None:
        self.entries = entries
        spans: dict[int, list[tuple[int, int, int]]] = {4: [], 6: []}
        self.hosts: dict[str, ScopeEntry] = {}
        self.wildcards: dict[str, ScopeEntry] = {}
        self.url_hosts: dict[str, list[ScopeEntry]] = {}
        self.url_ips: dict[tuple[int, int], list[ScopeEntry]] = {}
        for index, entry in enumerate(entries):
            if entry.kind in ("ip", "cidr", "range"):
                for network in entry.networks:
                    for version, first, last in _network_spans(network, exclude=exclude):
                        spans[version].append((first, last, index))
            elif entry.kind == "url":
                if entry.hostname is not None:
                    self.url_hosts.setdefault(entry.hostname, []).append(entry)
                for network in entry.networks:
                    address = _canonical(network.network_address)
                    self.url_ips.setdefault(_key(address), []).append(entry)
            elif entry.kind == "host" and entry.hostname is not None:
                self.hosts.setdefault(entry.hostname, entry)
            elif entry.kind == "wildcard" and entry.hostname is not None:
                self.wildcards.setdefault(entry.hostname, entry)
        self.v4 = _IntervalIndex(spans[4])
        self.v6 = _IntervalIndex(spans[6])

    @property
    def has_addresses(self) -> bool:
        """Whether any entry can admit or refuse a bare address."""
        return bool(self.v4 or self.v6 or self.url_ips)

    def ip_entry(self, address: IPAddress) -> ScopeEntry | None:
        """The ip/cidr/range entry containing ``address`` (canonical form)."""
        index = self.v4 if address.version == 4 else self.v6
        owner = index.lookup(int(address))
        return None if owner is None else self.entries[owner]

    def url_entries_for_ip(self, address: IPAddress) -> list[ScopeEntry]:
        """URL entries whose host is ``address`` (canonical form)."""
        return self.url_ips.get(_key(address), [])

    def name_entry(self, name: str) -> ScopeEntry | None:
        """The host entry for ``name`` or the most specific wildcard covering it."""
        entry = self.hosts.get(name)
        if entry is not None:
            return entry
        labels = name.split(".")
        for i in range(1, len(labels)):
            entry = self.wildcards.get(".".join(labels[i:]))
            if entry is not None:
                return entry
        return None


# --------------------------------------------------------------------------- scope


def _as_date(raw: date | str | None) -> date | None:
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        reason = t("scope.reason.period_date", value=_show(raw))
        raise ScopeEntryError(t("scope.period_invalid", reason=reason), raw) from None


@dataclass(frozen=True)
class Scope:
    """An engagement's authorised scope: entries, windows, period and time zone.

    Construction validates the include entries, the period and the zone, and builds the
    lookup indexes once; a Scope is immutable and safe to share between threads.
    """

    includes: tuple[ScopeEntry, ...]
    excludes: tuple[ScopeEntry, ...]
    windows: tuple[TimeWindow, ...] = ()
    start: date | None = None
    end: date | None = None
    timezone: str = DEFAULT_TIMEZONE
    _include_index: _RoleIndex = field(init=False, repr=False, compare=False)
    _exclude_index: _RoleIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "includes", tuple(self.includes))
        object.__setattr__(self, "excludes", tuple(self.excludes))
        object.__setattr__(self, "windows", tuple(self.windows))
        object.__setattr__(self, "start", _as_date(self.start))
        object.__setattr__(self, "end", _as_date(self.end))
        _zone(self.timezone)
        if self.start is not None and self.end is not None and self.start > self.end:
            reason = t("scope.reason.period_reversed", start=self.start, end=self.end)
            raise ScopeEntryError(
                t("scope.period_invalid", reason=reason), f"{self.start}..{self.end}"
            )
        for entry in self.includes:
            _check_include(entry)
        object.__setattr__(self, "_include_index", _RoleIndex(self.includes, exclude=False))
        object.__setattr__(self, "_exclude_index", _RoleIndex(self.excludes, exclude=True))

    def time_refusal(self, now: datetime | None = None) -> ScopeDecision | None:
        """The refusal that applies to every target at ``now`` (outside the service period
        or every time window), or None while work is allowed."""
        return _check_time(self, "*", now)

    def port_sensitive(self, address: str) -> bool:
        """Whether the decision for IP ``address`` can depend on the port.

        Only URL entries naming the address (include or exclude) grant or refuse by port;
        without them a decision taken for one port holds for every port, which lets a port
        sweep check the scope once per address instead of once per connection.
        Non-IP text is always port-sensitive.
        """
        parsed = _parse_ip(address)
        if parsed is None:
            return True
        key = _canonical(parsed)
        return bool(
            self._include_index.url_entries_for_ip(key)
            or self._exclude_index.url_entries_for_ip(key)
        )

    @classmethod
    def from_strings(
        cls,
        includes: Iterable[str],
        excludes: Iterable[str] = (),
        windows: Iterable[str] = (),
        start: date | str | None = None,
        end: date | str | None = None,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> Scope:
        """Parse entries and windows as written.

        Raises :class:`ScopeEntryError` naming the first invalid item.
        """
        # A bare string would otherwise be split into characters.
        include_items = [includes] if isinstance(includes, str) else list(includes)
        exclude_items = [excludes] if isinstance(excludes, str) else list(excludes)
        window_items = [windows] if isinstance(windows, str) else list(windows)
        return cls(
            includes=tuple(parse_scope_entry(item) for item in include_items),
            excludes=tuple(parse_scope_entry(item, exclude=True) for item in exclude_items),
            windows=tuple(parse_time_window(item) for item in window_items),
            start=_as_date(start),
            end=_as_date(end),
            timezone=timezone,
        )


@dataclass(frozen=True)
class ScopeDecision:
    """The verdict for one target.

    ``reason`` is a stable code (see :data:`REASONS`), ``message`` the translated one-line
    explanation. When allowed, ``addresses`` are the addresses to connect to (pinned DNS
    answers for names); ``matched`` is the raw entry that admitted or excluded the target.
    ``host`` is the normalised host (punycode name or IP) and ``port`` the effective port.
    """

    target: str
    allowed: bool
    reason: str
    message: str
    addresses: tuple[str, ...] = ()
    matched: str | None = None
    host: str | None = None
    port: int | None = None


# --------------------------------------------------------------------------- targets


class _InvalidTargetError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class _Target:
    text: str
    ip: IPAddress | None
    name: str | None
    port: int | None
    paths: tuple[str, ...] | None  # path readings; None when the target is not a URL
    path: str | None

    @property
    def host(self) -> str:
        return _format_address(self.ip) if self.ip is not None else (self.name or "")


def _valid_port(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise _InvalidTargetError(t("scope.target.port", port=_show(str(value))))
    return value


def _parse_target(text: str, port: int | None) -> _Target:
    if not text:
        raise _InvalidTargetError(t("scope.target.empty"))
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise _InvalidTargetError(t("scope.target.characters"))
    host_text: str
    target_port: int | None = None
    path: str | None = None
    if "://" in text:
        try:
            parts = urlsplit(text)
            target_port = parts.port
        except ValueError:
            raise _InvalidTargetError(t("scope.target.url")) from None
        # Parsers disagree on "@" and "\" in the authority; refusing them avoids being fooled.
        if "@" in parts.netloc or "\\" in parts.netloc:
            raise _InvalidTargetError(t("scope.target.userinfo"))
        if not parts.hostname or not parts.scheme:
            raise _InvalidTargetError(t("scope.target.url"))
        host_text = parts.hostname
        path = parts.path or "/"
        if target_port is None:
            target_port = DEFAULT_PORTS.get(parts.scheme.lower())
        elif target_port == 0:
            raise _InvalidTargetError(t("scope.target.port", port=0))
    elif text.startswith("["):
        match = re.fullmatch(r"\[([^\]]+)\](?::(\d{1,5}))?", text)
        if match is None:
            raise _InvalidTargetError(t("scope.target.host"))
        host_text = f"[{match[1]}]"
        if match[2] is not None:
            target_port = _valid_port(int(match[2]))
    elif _parse_ip(text) is None and text.count(":") == 1:
        host_text, _, port_text = text.partition(":")
        if not port_text.isdigit() or len(port_text) > 5:
            raise _InvalidTargetError(t("scope.target.port", port=_show(port_text)))
        target_port = _valid_port(int(port_text))
    else:
        host_text = text
    if port is not None:
        target_port = _valid_port(port)
    address = _parse_ip(host_text)
    name: str | None = None
    if address is None:
        name = None if looks_numeric(host_text) else normalise_hostname(host_text)
        if name is None:
            raise _InvalidTargetError(t("scope.target.host"))
    elif _canonical(address).is_unspecified:
        raise _InvalidTargetError(t("scope.target.unspecified"))
    paths = _path_readings(path) if path is not None else None
    return _Target(text=text, ip=address, name=name, port=target_port, paths=paths, path=path)


# --------------------------------------------------------------------------- evaluation


def default_resolver(host: str, *, timeout: float = RESOLVE_TIMEOUT) -> list[str]:
    """All A/AAAA answers for ``host`` via getaddrinfo, deduplicated, in answer order.

    getaddrinfo cannot be cancelled, so it runs in a daemon thread and a slow resolver gives
    :class:`TimeoutError` after ``timeout`` seconds instead of hanging the caller.
    """
    answers: list[str] = []
    failures: list[BaseException] = []

    def work() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except Exception as exc:  # noqa: BLE001 - re-raised in the calling thread
            failures.append(exc)
            return
        for family, _, _, _, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                answers.append(str(sockaddr[0]))

    worker = threading.Thread(target=work, name=f"resolve {host[:60]}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(t("scope.resolve_timeout", host=_show(host), seconds=timeout))
    if failures:
        raise failures[0]
    return list(dict.fromkeys(answers))


def _decision(
    target: _Target | str,
    reason: str,
    message_key: str,
    *,
    matched: ScopeEntry | None = None,
    addresses: tuple[str, ...] = (),
    **params: object,
) -> ScopeDecision:
    text = target.text if isinstance(target, _Target) else target
    if matched is not None:
        params.setdefault("entry", _show(matched.raw))
    return ScopeDecision(
        target=text,
        allowed=reason == OK,
        reason=reason,
        message=t(message_key, target=_show(text), **params),
        addresses=addresses if reason == OK else (),
        matched=matched.raw if matched is not None else None,
        host=target.host if isinstance(target, _Target) else None,
        port=target.port if isinstance(target, _Target) else None,
    )


def _check_time(scope: Scope, target: _Target | str, now: datetime | None) -> ScopeDecision | None:
    zone = _zone(scope.timezone)
    if now is None:
        local = datetime.now(zone)
    elif now.tzinfo is None or now.utcoffset() is None:
        local = now.replace(tzinfo=zone)
    else:
        local = now.astimezone(zone)
    today = local.date()
    if (scope.start is not None and today < scope.start) or (
        scope.end is not None and today > scope.end
    ):
        unbounded = t("scope.unbounded")
        return _decision(
            target,
            OUTSIDE_PERIOD,
            "scope.refused_outside_period",
            today=today.isoformat(),
            start=scope.start.isoformat() if scope.start else unbounded,
            end=scope.end.isoformat() if scope.end else unbounded,
        )
    if scope.windows and not any(window.contains(local) for window in scope.windows):
        return _decision(
            target,
            OUTSIDE_WINDOW,
            "scope.refused_outside_window",
            now=local.strftime("%Y-%m-%d %H:%M"),
            timezone=scope.timezone,
            windows=_show(", ".join(window.raw for window in scope.windows)),
        )
    return None


def _url_excludes(entries: list[ScopeEntry], target: _Target) -> ScopeEntry | None:
    for entry in entries:
        if target.port is not None and target.port != entry.port:
            continue
        if target.paths is not None and not any(
            _path_within(path, entry.path or "/", fold=True) for path in target.paths
        ):
            continue
        return entry
    return None


def _url_admits(
    entries: list[ScopeEntry], target: _Target
) -> tuple[ScopeEntry | None, ScopeDecision | None]:
    """Apply rule 4: the admitting URL entry, or the port/path refusal."""
    names = _show(", ".join(dict.fromkeys(entry.raw for entry in entries)))
    if target.port is None:
        return None, _decision(
            target, PORT_NOT_ALLOWED, "scope.refused_port_required", entries=names
        )
    on_port = [entry for entry in entries if entry.port == target.port]
    if not on_port:
        return None, _decision(
            target,
            PORT_NOT_ALLOWED,
            "scope.refused_port_not_allowed",
            port=target.port,
            entries=names,
        )
    if target.paths is None:
        return on_port[0], None
    for entry in on_port:
        if all(_path_within(path, entry.path or "/") for path in target.paths):
            return entry, None
    return None, _decision(
        target,
        PATH_NOT_ALLOWED,
        "scope.refused_path_not_allowed",
        path=_show(target.path or "/"),
        entries=_show(", ".join(dict.fromkeys(entry.raw for entry in on_port))),
    )


def _evaluate_ip(scope: Scope, target: _Target, address: IPAddress) -> ScopeDecision:
    canonical = _canonical(address)
    excludes = scope._exclude_index
    refusing = excludes.ip_entry(canonical) or _url_excludes(
        excludes.url_entries_for_ip(canonical), target
    )
    if refusing is not None:
        return _decision(target, EXCLUDED, "scope.refused_excluded", matched=refusing)
    includes = scope._include_index
    admitting = includes.ip_entry(canonical)
    if admitting is None:
        urls = includes.url_entries_for_ip(canonical)
        if not urls:
            return _decision(target, NOT_INCLUDED, "scope.refused_not_included")
        admitting, refusal = _url_admits(urls, target)
        if refusal is not None:
            return refusal
    return _decision(
        target, OK, "scope.allowed", matched=admitting, addresses=(_format_address(address),)
    )


def _evaluate_name(
    scope: Scope, target: _Target, name: str, resolver: Resolver | None
) -> ScopeDecision:
    excludes, includes = scope._exclude_index, scope._include_index
    refusing = excludes.name_entry(name) or _url_excludes(excludes.url_hosts.get(name, []), target)
    if refusing is not None:
        return _decision(target, EXCLUDED, "scope.refused_excluded", matched=refusing)
    name_entry = includes.name_entry(name)
    name_urls = includes.url_hosts.get(name, [])
    if name_entry is None and not name_urls and not includes.has_addresses:
        # Nothing could admit it: refuse without sending a DNS query for an unrelated name.
        return _decision(target, NOT_INCLUDED, "scope.refused_not_included")

    resolve = resolver if resolver is not None else default_resolver
    try:
        answers = list(resolve(name))
    except Exception as exc:  # noqa: BLE001 - any resolver failure fails closed
        # Any resolver failure means "cannot resolve": fail closed.
        return _decision(
            target,
            UNRESOLVABLE,
            "scope.refused_unresolvable",
            detail=_show(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__),
        )
    addresses: dict[str, IPAddress] = {}
    for answer in answers:
        address = _parse_ip(str(answer).strip())
        if address is None:
            # A resolver answering garbage cannot be trusted for any of its answers.
            return _decision(
                target, UNRESOLVABLE, "scope.refused_unresolvable", detail=_show(str(answer))
            )
        addresses.setdefault(_format_address(address), address)
    if not addresses:
        return _decision(
            target, UNRESOLVABLE, "scope.refused_unresolvable", detail=t("scope.no_addresses")
        )

    for text, address in addresses.items():
        canonical = _canonical(address)
        refusing = excludes.ip_entry(canonical) or _url_excludes(
            excludes.url_entries_for_ip(canonical), target
        )
        if refusing is not None:
            return _decision(
                target, EXCLUDED, "scope.refused_excluded_address", matched=refusing, address=text
            )

    first_admitting: ScopeEntry | None = None
    for text, address in addresses.items():
        canonical = _canonical(address)
        admitting = includes.ip_entry(canonical)
        routable = canonical.is_global and not canonical.is_unspecified
        if admitting is None and routable and name_entry is not None:
            admitting = name_entry
        if admitting is None:
            urls = (name_urls if routable else []) + includes.url_entries_for_ip(canonical)
            if urls:
                admitting, refusal = _url_admits(urls, target)
                if refusal is not None:
                    return refusal
            elif name_entry is not None or name_urls:
                return _decision(target, REBINDING, "scope.refused_rebinding", address=text)
            else:
                return _decision(
                    target, NOT_INCLUDED, "scope.refused_address_not_included", address=text
                )
        first_admitting = first_admitting or admitting
    return _decision(
        target, OK, "scope.allowed", matched=first_admitting, addresses=tuple(addresses)
    )


def evaluate(
    scope: Scope,
    target: str,
    *,
    port: int | None = None,
    now: datetime | None = None,
    resolver: Resolver | None = None,
) -> ScopeDecision:
    """Decide whether ``target`` may be touched now; never raises for a bad target.

    See the module docstring for the rules. ``resolver`` defaults to :func:`default_resolver`
    and is only consulted for host-name targets that some entry could admit.
    """
    text = target.strip() if isinstance(target, str) else str(target)
    try:
        parsed = _parse_target(text, port)
    except _InvalidTargetError as exc:
        return _decision(text, INVALID_TARGET, "scope.refused_invalid_target", detail=exc.detail)
    refusal = _check_time(scope, parsed, now)
    if refusal is not None:
        return refusal
    if parsed.ip is not None:
        return _evaluate_ip(scope, parsed, parsed.ip)
    return _evaluate_name(scope, parsed, parsed.name or "", resolver)


def ensure_allowed(
    scope: Scope,
    target: str,
    *,
    port: int | None = None,
    now: datetime | None = None,
    resolver: Resolver | None = None,
) -> ScopeDecision:
    """Like :func:`evaluate` but raises :class:`ScopeRefused` unless the target is allowed."""
    decision = evaluate(scope, target, port=port, now=now, resolver=resolver)
    if not decision.allowed:
        raise ScopeRefused(decision)
    return decision
