"""Scan target specifications → concrete addresses (requirement B1).

Accepted specs (one per item; the same syntax for ``exclude``)
    ``10.0.0.5``, ``2001:db8::1``, ``[2001:db8::1]``       single addresses
    ``10.0.0.0/24``, ``2001:db8::/120``                     networks (host bits must be zero,
                                                            as in the scope entries)
    ``10.0.0.1-10.0.0.20``, ``10.0.0.1-20``, ``2001:db8::1-2001:db8::ff``  inclusive ranges
    ``www.example.gov.cn``                                  a host name, resolved only through
                                                            the resolver given (all answers)

Addresses are kept as integer intervals, so a /16 costs no more than one address until it is
iterated, and exclusions and overlaps are interval arithmetic. The order is stable: specs in
the order given, each one's addresses ascending (a name's answers sorted); an address listed
twice is scanned once and reported under the first spec that named it. IPv4-mapped IPv6
addresses (``::ffff:10.0.0.5``) are IPv4 on the wire and are treated as such.

The total is capped (``max_addresses``, default 2^20) so a typo like ``10.0.0.0/8`` instead of
``/24``, or any IPv6 /64, is refused with a message instead of a scan that never ends.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple, TypeAlias

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import default_resolver, looks_numeric, normalise_hostname

__all__ = [
    "DEFAULT_MAX_ADDRESSES",
    "HARD_MAX_ADDRESSES",
    "Resolver",
    "Target",
    "TargetSet",
    "expand_targets",
]

Resolver: TypeAlias = Callable[[str], Sequence[str]]

DEFAULT_MAX_ADDRESSES: Final = 2**20
# The scope guard authorises at most a /8 per entry; a larger allowance could never be used.
HARD_MAX_ADDRESSES: Final = 2**24

_MAPPED_FIRST: Final = int(ipaddress.IPv6Address("::ffff:0:0"))
_MAPPED_LAST: Final = _MAPPED_FIRST + 2**32 - 1
_SPEC_LIMIT: Final = 1024
_SHOW_LIMIT: Final = 120

_IP: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


class Target(NamedTuple):
    """One address to scan and the spec that produced it (for reporting)."""

    address: str
    spec: str


@dataclass(frozen=True, slots=True)
class _Piece:
    version: int
    first: int
    last: int
    spec: int  # index into TargetSet.specs


def _format(version: int, value: int) -> str:
    if version == 4:
        # inet_ntoa is several times faster than str(IPv4Address) for big ranges.
        return socket.inet_ntoa(value.to_bytes(4, "big"))
    return str(ipaddress.IPv6Address(value))


class TargetSet:
    """The expanded, de-duplicated targets; iterate lazily, ``len()`` is cheap."""

    def __init__(self, specs: tuple[str, ...], pieces: tuple[_Piece, ...]) -> None:
        self.specs = specs
        self._pieces = pieces
        self._count = sum(piece.last - piece.first + 1 for piece in pieces)
        self._index: dict[int, tuple[list[int], list[_Piece]]] | None = None

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Target]:
        for piece in self._pieces:
            spec = self.specs[piece.spec]
            for value in range(piece.first, piece.last + 1):
                yield Target(_format(piece.version, value), spec)

    @property
    def addresses(self) -> Iterator[str]:
        """A fresh iterator over the address texts, in scan order."""
        for piece in self._pieces:
            for value in range(piece.first, piece.last + 1):
                yield _format(piece.version, value)

    def chunks(self, size: int) -> Iterator[list[str]]:
        """The addresses in lists of at most ``size`` (for sweeps run batch by batch)."""
        if size < 1:
            raise ValueError("size must be >= 1")
        chunk: list[str] = []
        for address in self.addresses:
            chunk.append(address)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _lookup(self, address: str) -> _Piece | None:
        ip = _parse_address(address)
        if ip is None:
            return None
        version, value = _canonical(ip)
        if self._index is None:
            index: dict[int, tuple[list[int], list[_Piece]]] = {4: ([], []), 6: ([], [])}
            for piece in sorted(self._pieces, key=lambda p: (p.version, p.first)):
                index[piece.version][0].append(piece.first)
                index[piece.version][1].append(piece)
            self._index = index
        starts, pieces = self._index[version]
        position = bisect_right(starts, value) - 1
        if position >= 0 and pieces[position].last >= value:
            return pieces[position]
        return None

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and self._lookup(address) is not None

    def spec_for(self, address: str) -> str | None:
        """The spec that produced ``address`` (None when it is not a target)."""
        piece = self._lookup(address)
        return None if piece is None else self.specs[piece.spec]


class _Covered:
    """Sorted, disjoint, non-adjacent [first, last] intervals of one IP version."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def claim(self, first: int, last: int) -> list[tuple[int, int]]:
        """Mark [first, last] covered; return its parts that were not covered before."""
        starts, ends = self.starts, self.ends
        low = bisect_right(starts, first) - 1
        if low < 0 or ends[low] < first - 1:
            low += 1  # the interval before does not touch [first, last]
        high = low
        gaps: list[tuple[int, int]] = []
        cursor = first
        new_first, new_last = first, last
        while high < len(starts) and starts[high] <= last + 1:
            start, end = starts[high], ends[high]
            if start > cursor:
                gaps.append((cursor, min(start - 1, last)))
            cursor = max(cursor, end + 1)
            new_first = min(new_first, start)
            new_last = max(new_last, end)
            high += 1
        if cursor <= last:
            gaps.append((cursor, last))
        starts[low:high] = [new_first]
        ends[low:high] = [new_last]
        return gaps


def _show(text: str) -> str:
    """Untrusted text made safe for a one-line message (controls escaped, length capped)."""
    cleaned = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
    if not cleaned.strip():
        return repr(text)
    if len(cleaned) > _SHOW_LIMIT:
        return cleaned[: _SHOW_LIMIT - 3] + "..."
    return cleaned


class _Role:
    """Builds the error messages of one role (target or exclusion) for one spec."""

    def __init__(self, exclude: bool) -> None:
        self.exclude = exclude
        self.kind = t("scan_discovery.kind_exclude" if exclude else "scan_discovery.kind_target")

    def error(self, key: str, raw: object, **params: object) -> ValidationError:
        item = _show(raw) if isinstance(raw, str) else _show(repr(raw))
        return ValidationError(t(f"scan_discovery.{key}", kind=self.kind, item=item, **params))


def _parse_address(text: str) -> _IP | None:
    """An IP literal (v6 optionally in brackets, no zone id), else None."""
    bracketed = text.startswith("[") and text.endswith("]")
    inner = text[1:-1] if bracketed else text
    if "%" in inner or not inner.isascii():
        return None
    try:
        address = ipaddress.ip_address(inner)
    except ValueError:
        return None
    if bracketed and address.version != 6:
        return None
    return address


def _canonical(address: _IP) -> tuple[int, int]:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return 4, int(address.ipv4_mapped)
    return address.version, int(address)


def _split_mapped(version: int, first: int, last: int) -> list[tuple[int, int, int]]:
    """Split an interval so its IPv4-mapped IPv6 part becomes an IPv4 interval."""
    if version == 4 or last < _MAPPED_FIRST or first > _MAPPED_LAST:
        return [(version, first, last)]
    parts: list[tuple[int, int, int]] = []
    if first < _MAPPED_FIRST:
        parts.append((6, first, _MAPPED_FIRST - 1))
    parts.append(
        (4, max(first, _MAPPED_FIRST) - _MAPPED_FIRST, min(last, _MAPPED_LAST) - _MAPPED_FIRST)
    )
    if last > _MAPPED_LAST:
        parts.append((6, _MAPPED_LAST + 1, last))
    return parts


def _parse_range(role: _Role, raw: str, left: _IP, right_text: str) -> list[tuple[int, int, int]]:
    right: _IP | None
    if right_text.isascii() and right_text.isdecimal() and left.version == 4:
        if (
            len(right_text) > 3
            or int(right_text) > 255
            or (len(right_text) > 1 and right_text[0] == "0")
        ):
            raise role.error("range_invalid", raw)
        right = ipaddress.IPv4Address((int(left) & ~0xFF) | int(right_text))
    else:
        right = _parse_address(right_text)
        if right is None:
            raise role.error("range_invalid", raw)
    first_version, first = _canonical(left)
    last_version, last = _canonical(right)
    if first_version != last_version:
        raise role.error("range_family", raw)
    if last < first:
        raise role.error(
            "range_reversed",
            raw,
            first=_format(first_version, first),
            last=_format(last_version, last),
        )
    return [(first_version, first, last)]


def _parse_network(role: _Role, raw: str, text: str) -> list[tuple[int, int, int]]:
    if not text.isascii() or "%" in text:
        raise role.error("cidr_invalid", raw)
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise role.error("cidr_invalid", raw) from None
        raise role.error("cidr_host_bits", raw, network=str(loose)) from None
    first = int(network.network_address)
    return _split_mapped(network.version, first, first + network.num_addresses - 1)


def _resolve(role: _Role, raw: str, name: str, resolver: Resolver) -> list[tuple[int, int, int]]:
    try:
        answers = list(resolver(name))
    except Exception as exc:  # noqa: BLE001 - any resolver failure is one message about the name
        raise role.error(
            "resolve_failed", raw, detail=_show(str(exc) or type(exc).__name__)
        ) from None
    found: set[tuple[int, int]] = set()
    for answer in answers:
        ip = _parse_address(answer) if isinstance(answer, str) else None
        if ip is None:
            raise role.error("resolve_garbage", raw, answer=_show(repr(answer)))
        found.add(_canonical(ip))
    if not found:
        raise role.error("resolve_empty", raw)
    # Sorted: resolvers rotate their answers, and the scan order should not.
    return [(version, value, value) for version, value in sorted(found)]


def _parse_spec(role: _Role, raw: object, resolver: Resolver) -> list[tuple[int, int, int]]:
    """(version, first, last) intervals of one spec, in the spec's own order."""
    if not isinstance(raw, str):
        raise role.error("spec_type", raw)
    text = raw.strip()
    if not text:
        raise role.error("spec_empty", raw)
    if len(text) > _SPEC_LIMIT:
        raise role.error("spec_invalid", raw)
    if "/" in text:
        return _parse_network(role, raw, text)
    if "-" in text:
        left_text, _, right_text = text.partition("-")
        left = _parse_address(left_text.strip())
        if left is not None:
            return _parse_range(role, raw, left, right_text.strip())
    address = _parse_address(text)
    if address is not None:
        version, value = _canonical(address)
        # Only as a target: connect() reads 0.0.0.0 as "this host"; excluding it is harmless.
        if value == 0 and not role.exclude:
            raise role.error("unspecified", raw)
        return [(version, value, value)]
    if "%" in text and ":" in text:
        raise role.error("zone_id", raw)
    if looks_numeric(text):
        raise role.error("ip_invalid", raw)
    name = normalise_hostname(text)
    if name is None:
        raise role.error("spec_invalid", raw)
    return _resolve(role, raw, name, resolver)


def _format_count(count: int) -> str:
    if count > 0 and count & (count - 1) == 0:
        return f"2^{count.bit_length() - 1}"
    if count < 10**12:
        return str(count)
    return f"~2^{count.bit_length() - 1}"


def expand_targets(
    specs: Iterable[str],
    *,
    exclude: Iterable[str] = (),
    resolver: Resolver | None = None,
    max_addresses: int = DEFAULT_MAX_ADDRESSES,
) -> TargetSet:
    """Parse target specs into a de-duplicated, lazily iterated :class:`TargetSet`.

    ``exclude`` takes the same syntax and always wins. Host names (in either list) are
    resolved with ``resolver`` (default: the scope module's getaddrinfo wrapper with a
    timeout); every answer becomes a target. More than ``max_addresses`` addresses in total
    (at most :data:`HARD_MAX_ADDRESSES`), a bad spec, or nothing left after the exclusions
    raise :class:`ValidationError` naming the item.
    """
    if (
        isinstance(max_addresses, bool)
        or not isinstance(max_addresses, int)
        or not 1 <= max_addresses <= HARD_MAX_ADDRESSES
    ):
        raise ValidationError(
            t(
                "scan_discovery.max_invalid",
                value=_show(repr(max_addresses)),
                hard_limit=_format_count(HARD_MAX_ADDRESSES),
            )
        )
    resolve: Resolver = resolver if resolver is not None else default_resolver
    if isinstance(specs, str) or isinstance(exclude, str):
        # A bare string would be iterated character by character.
        raise ValidationError(t("scan_discovery.spec_list", item=_show(str(specs))))
    covered = {4: _Covered(), 6: _Covered()}
    excluder = _Role(exclude=True)
    for raw in exclude:
        for version, first, last in _parse_spec(excluder, raw, resolve):
            covered[version].claim(first, last)

    role = _Role(exclude=False)
    spec_texts: list[str] = []
    pieces: list[_Piece] = []
    total = 0
    for raw in specs:
        intervals = _parse_spec(role, raw, resolve)
        index = len(spec_texts)
        spec_texts.append(raw.strip())
        for version, first, last in intervals:
            for gap_first, gap_last in covered[version].claim(first, last):
                total += gap_last - gap_first + 1
                if total > max_addresses:
                    raise role.error(
                        "too_many",
                        raw,
                        count=_format_count(total),
                        limit=_format_count(max_addresses),
                        hard_limit=_format_count(HARD_MAX_ADDRESSES),
                    )
                pieces.append(_Piece(version, gap_first, gap_last, index))
    if not pieces:
        raise ValidationError(t("scan_discovery.targets_none"))
    return TargetSet(tuple(spec_texts), tuple(pieces))
