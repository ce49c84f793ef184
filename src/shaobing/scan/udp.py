"""UDP service probes (requirement B1): DNS, SNMP v1/v2c and NTP.

UDP has no handshake, so a port is only known to be a service when it answers a request in
that service's own protocol. Each probe is a short conversation (a generator yielding
requests and receiving the parsed answer, or None after the retries ran out); one epoll loop
drives many conversations at once over connected sockets, so an ICMP port-unreachable ends a
conversation at once (ECONNREFUSED) and the kernel drops datagrams from other sources.

    dns   ``version.bind`` CHAOS TXT (product and version of BIND, dnsmasq, Unbound, ...) and
          an A query for ``localhost.`` with recursion desired (recursion offered or not)
    snmp  GetRequest for sysDescr.0, sysObjectID.0 and sysName.0 with the community
          (default ``public``), v2c then v1; Net-SNMP agents are also asked for versionTag
    ntp   a mode 3 client request (stratum, version, reference id) and, unless disabled, a
          mode 6 READVAR control query (product and version; answering it is an exposure).
          Mode 7 (``monlist``) is never sent: it is the amplification vector itself.

The codecs are written here from the RFCs (1035, 3416/X.690 BER, 5905, 1305 appendix B);
every parser raises :class:`MalformedPacket` and nothing else on bad input, and DNS name
decompression only follows pointers to strictly earlier offsets, so it always terminates.
"""

from __future__ import annotations

import heapq
import ipaddress
import re
import secrets
import selectors
import socket
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal, TypeAlias

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.scan.discovery import canonical_addresses
from shaobing.scan.fingerprint import ServiceMatch

__all__ = [
    "DEFAULT_UDP_PORTS",
    "DnsMessage",
    "DnsRecord",
    "MalformedPacket",
    "NtpControl",
    "NtpPacket",
    "SnmpMessage",
    "SnmpVarBind",
    "UdpResult",
    "UdpService",
    "encode_dns_query",
    "encode_ntp_readvar",
    "encode_snmp_get",
    "parse_dns_message",
    "parse_ntp_control",
    "parse_ntp_packet",
    "parse_ntp_variables",
    "parse_snmp_message",
    "udp_probe",
    "udp_scan",
]

UdpService: TypeAlias = Literal["dns", "snmp", "ntp"]
DEFAULT_UDP_PORTS: Final = (53, 123, 161)
_PORT_SERVICES: Final[Mapping[int, UdpService]] = {53: "dns", 123: "ntp", 161: "snmp"}
_SERVICES: Final = ("dns", "snmp", "ntp")
_MAX_DATAGRAM: Final = 65535
_TEXT_LIMIT: Final = 256


class MalformedPacket(ValueError):
    """A datagram that does not follow the protocol; the message says where it broke."""


# --------------------------------------------------------------------------- helpers


def _printable(data: bytes | str, limit: int = _TEXT_LIMIT) -> str:
    """Untrusted protocol text as one printable line (escapes, capped)."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    out = "".join(
        ch if ch.isprintable() and ch != "\\" else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )
    out = " ".join(out.split())
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _cpe(vendor: str, product: str, version: str | None, update: str | None = None) -> str:
    def part(value: str | None) -> str:
        if not value:
            return "*"
        # CPE 2.3 formatted string: everything but alphanumerics and _ . - is escaped.
        return "".join(ch if ch.isalnum() or ch in "_.-" else f"\\{ch}" for ch in value.lower())

    return f"cpe:2.3:a:{vendor}:{product}:{part(version)}:{part(update)}:*:*:*:*:*:*"


# --------------------------------------------------------------------------- DNS (RFC 1035)

DNS_TYPE_A: Final = 1
DNS_TYPE_NS: Final = 2
DNS_TYPE_CNAME: Final = 5
DNS_TYPE_PTR: Final = 12
DNS_TYPE_TXT: Final = 16
DNS_TYPE_AAAA: Final = 28
DNS_CLASS_IN: Final = 1
DNS_CLASS_CH: Final = 3
_DNS_RCODES: Final = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
}
_NAME_TYPES: Final = (DNS_TYPE_NS, DNS_TYPE_CNAME, DNS_TYPE_PTR)
_MAX_NAME: Final = 255


@dataclass(frozen=True)
class DnsRecord:
    """One resource record; ``value`` is decoded for A, AAAA, TXT, NS, CNAME and PTR."""

    name: str
    rtype: int
    rclass: int
    ttl: int
    data: bytes
    value: str | None


@dataclass(frozen=True)
class DnsMessage:
    """A parsed DNS message (header flags, question and the three record sections)."""

    ident: int
    flags: int
    questions: tuple[tuple[str, int, int], ...]
    answers: tuple[DnsRecord, ...]
    authority: tuple[DnsRecord, ...]
    additional: tuple[DnsRecord, ...]

    @property
    def is_response(self) -> bool:
        """QR bit."""
        return bool(self.flags & 0x8000)

    @property
    def recursion_available(self) -> bool:
        """RA bit: the server offers recursion to this client."""
        return bool(self.flags & 0x0080)

    @property
    def rcode(self) -> int:
        """Response code (low four bits of the flags)."""
        return self.flags & 0x000F

    @property
    def rcode_name(self) -> str:
        """NOERROR, NXDOMAIN, REFUSED, ... (``RCODE<n>`` for others)."""
        return _DNS_RCODES.get(self.rcode, f"RCODE{self.rcode}")


def _encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad DNS label in {name!r}")
        out += bytes([len(raw)]) + raw
    out.append(0)
    if len(out) > _MAX_NAME:
        raise ValueError(f"DNS name too long: {name!r}")
    return bytes(out)


def encode_dns_query(
    ident: int, name: str, qtype: int, qclass: int = DNS_CLASS_IN, *, recursion: bool = False
) -> bytes:
    """A standard query with one question (``ident`` 0-65535, RD bit as ``recursion``)."""
    flags = 0x0100 if recursion else 0
    header = ident.to_bytes(2, "big") + flags.to_bytes(2, "big") + b"\x00\x01" + bytes(6)
    return header + _encode_name(name) + qtype.to_bytes(2, "big") + qclass.to_bytes(2, "big")


def _u16(data: bytes, pos: int) -> int:
    if pos + 2 > len(data):
        raise MalformedPacket(f"truncated at offset {pos}")
    return int.from_bytes(data[pos : pos + 2], "big")


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """Decode a possibly compressed name at ``offset``; return it and the offset after it.

    Every pointer must point before the start of the label run it ends, so each jump moves
    strictly backwards and a crafted loop cannot make this spin.
    """
    labels: list[str] = []
    pos = offset
    run_start = offset
    after: int | None = None
    size = 1
    while True:
        if pos >= len(data):
            raise MalformedPacket(f"name runs past the end at offset {pos}")
        length = data[pos]
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= len(data):
                raise MalformedPacket(f"truncated pointer at offset {pos}")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if target >= run_start:
                raise MalformedPacket(f"forward or looping pointer at offset {pos}")
            if after is None:
                after = pos + 2
            pos = run_start = target
            continue
        if kind:
            raise MalformedPacket(f"unsupported label type at offset {pos}")
        if length == 0:
            name = ".".join(labels) + "."
            return name, (after if after is not None else pos + 1)
        size += length + 1
        if size > _MAX_NAME:
            raise MalformedPacket(f"name longer than 255 octets at offset {offset}")
        if pos + 1 + length > len(data):
            raise MalformedPacket(f"label runs past the end at offset {pos}")
        label = data[pos + 1 : pos + 1 + length]
        labels.append(
            "".join(
                chr(b) if 0x21 <= b < 0x7F and b not in (0x2E, 0x5C) else f"\\{b:03d}"
                for b in label
            )
        )
        pos += 1 + length


def _record_value(data: bytes, rtype: int, start: int, rdata: bytes) -> str | None:
    if rtype == DNS_TYPE_A and len(rdata) == 4:
        return str(ipaddress.IPv4Address(rdata))
    if rtype == DNS_TYPE_AAAA and len(rdata) == 16:
        return str(ipaddress.IPv6Address(rdata))
    if rtype == DNS_TYPE_TXT:
        parts: list[str] = []
        pos = 0
        while pos < len(rdata):
            length = rdata[pos]
            if pos + 1 + length > len(rdata):
                raise MalformedPacket(f"TXT string runs past its record at offset {start + pos}")
            parts.append(_printable(rdata[pos + 1 : pos + 1 + length], 1024))
            pos += 1 + length
        return "".join(parts)
    if rtype in _NAME_TYPES:
        name, end = _read_name(data, start)
        if end > start + len(rdata):
            raise MalformedPacket(f"name runs past its record at offset {start}")
        return name
    return None


def _read_records(data: bytes, pos: int, count: int) -> tuple[tuple[DnsRecord, ...], int]:
    records: list[DnsRecord] = []
    for _ in range(count):
        name, pos = _read_name(data, pos)
        rtype, rclass = _u16(data, pos), _u16(data, pos + 2)
        ttl = (_u16(data, pos + 4) << 16) | _u16(data, pos + 6)
        length = _u16(data, pos + 8)
        start = pos + 10
        if start + length > len(data):
            raise MalformedPacket(f"record data runs past the end at offset {start}")
        rdata = data[start : start + length]
        records.append(
            DnsRecord(name, rtype, rclass, ttl, rdata, _record_value(data, rtype, start, rdata))
        )
        pos = start + length
    return tuple(records), pos


def parse_dns_message(data: bytes) -> DnsMessage:
    """Parse a DNS message; raise :class:`MalformedPacket` when it does not hold together."""
    if len(data) < 12:
        raise MalformedPacket("shorter than the 12-octet header")
    ident, flags = _u16(data, 0), _u16(data, 2)
    qdcount, ancount, nscount, arcount = (_u16(data, 4 + 2 * i) for i in range(4))
    pos = 12
    questions: list[tuple[str, int, int]] = []
    for _ in range(qdcount):
        name, pos = _read_name(data, pos)
        questions.append((name, _u16(data, pos), _u16(data, pos + 2)))
        pos += 4
    answers, pos = _read_records(data, pos, ancount)
    authority, pos = _read_records(data, pos, nscount)
    additional, pos = _read_records(data, pos, arcount)
    return DnsMessage(ident, flags, tuple(questions), answers, authority, additional)


# --------------------------------------------------------------------------- SNMP (BER)

SNMP_V1: Final = 0
SNMP_V2C: Final = 1
_PDU_GET: Final = 0xA0
_PDU_RESPONSE: Final = 0xA2
_TAG_INTEGER: Final = 0x02
_TAG_OCTETS: Final = 0x04
_TAG_NULL: Final = 0x05
_TAG_OID: Final = 0x06
_TAG_SEQUENCE: Final = 0x30
_TAG_IPADDRESS: Final = 0x40
_UNSIGNED_TAGS: Final = frozenset({0x41, 0x42, 0x43, 0x46})  # Counter32/Gauge32/TimeTicks/Counter64
_EXCEPTIONS: Final = {0x80: "noSuchObject", 0x81: "noSuchInstance", 0x82: "endOfMibView"}
_MAX_SUBIDS: Final = 128
_MAX_VARBINDS: Final = 256

OID_SYS_DESCR: Final = "1.3.6.1.2.1.1.1.0"
OID_SYS_OBJECT_ID: Final = "1.3.6.1.2.1.1.2.0"
OID_SYS_NAME: Final = "1.3.6.1.2.1.1.5.0"
# UCD-SNMP-MIB versionTag: the Net-SNMP agent's own version.
OID_NET_SNMP_VERSION: Final = "1.3.6.1.4.1.2021.100.2.0"
_NET_SNMP_ENTERPRISE: Final = "1.3.6.1.4.1.8072"
# IANA private enterprise numbers of agents commonly met (sysObjectID prefix → vendor).
_ENTERPRISES: Final = {
    "1.3.6.1.4.1.8072": "Net-SNMP",
    "1.3.6.1.4.1.311": "Microsoft",
    "1.3.6.1.4.1.9": "Cisco",
    "1.3.6.1.4.1.2011": "Huawei",
    "1.3.6.1.4.1.25506": "H3C",
    "1.3.6.1.4.1.2636": "Juniper",
    "1.3.6.1.4.1.3902": "ZTE",
    "1.3.6.1.4.1.4881": "Ruijie",
    "1.3.6.1.4.1.12356": "Fortinet",
    "1.3.6.1.4.1.25461": "Palo Alto Networks",
}


@dataclass(frozen=True)
class SnmpVarBind:
    """One variable binding: ``tag`` is the BER tag of the value (0x80-0x82: exceptions).

    ``value`` is an int (INTEGER, counters, TimeTicks), bytes (OCTET STRING, Opaque), an
    OID or IP address as dotted text, or None (NULL and the exceptions).
    """

    oid: str
    tag: int
    value: int | bytes | str | None

    @property
    def missing(self) -> bool:
        """Whether the agent answered noSuchObject/noSuchInstance/endOfMibView or NULL."""
        return self.tag in _EXCEPTIONS or self.tag == _TAG_NULL


@dataclass(frozen=True)
class SnmpMessage:
    """A parsed SNMPv1/v2c message with one PDU."""

    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: tuple[SnmpVarBind, ...]

    def value(self, oid: str) -> SnmpVarBind | None:
        """The binding for ``oid`` (None when absent)."""
        return next((vb for vb in self.varbinds if vb.oid == oid), None)


def _ber(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _ber_int(value: int) -> bytes:
    return _ber(
        _TAG_INTEGER, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    )


def _ber_oid(oid: str) -> bytes:
    parts = [int(part) for part in oid.split(".")]
    if len(parts) < 2 or parts[0] > 2 or (parts[0] < 2 and parts[1] >= 40):
        raise ValueError(f"bad OID {oid!r}")
    out = bytearray()
    for sub in [parts[0] * 40 + parts[1], *parts[2:]]:
        chunk = [sub & 0x7F]
        rest = sub >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return _ber(_TAG_OID, bytes(out))


def encode_snmp_get(version: int, community: bytes, request_id: int, oids: Sequence[str]) -> bytes:
    """An SNMP GetRequest (``version`` 0 = v1, 1 = v2c) for ``oids``."""
    bindings = b"".join(_ber(_TAG_SEQUENCE, _ber_oid(oid) + _ber(_TAG_NULL, b"")) for oid in oids)
    pdu = _ber(
        _PDU_GET,
        _ber_int(request_id) + _ber_int(0) + _ber_int(0) + _ber(_TAG_SEQUENCE, bindings),
    )
    return _ber(_TAG_SEQUENCE, _ber_int(version) + _ber(_TAG_OCTETS, community) + pdu)


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``, within ``data[:end]``."""
    if pos + 2 > end:
        raise MalformedPacket(f"truncated BER header at offset {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise MalformedPacket(f"multi-octet BER tag at offset {pos}")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise MalformedPacket(f"unsupported BER length form at offset {pos - 1}")
        if pos + count > end:
            raise MalformedPacket(f"truncated BER length at offset {pos}")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise MalformedPacket(f"BER value runs past its container at offset {pos}")
    return tag, pos, pos + length


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    found, start, stop = _tlv(data, pos, end)
    if found != tag:
        raise MalformedPacket(f"expected BER tag 0x{tag:02x} at offset {pos}, found 0x{found:02x}")
    return start, stop


def _ber_integer(data: bytes, start: int, stop: int, *, signed: bool = True) -> int:
    if stop == start or stop - start > 9:
        raise MalformedPacket(f"bad BER integer length at offset {start}")
    return int.from_bytes(data[start:stop], "big", signed=signed)


def _decode_oid(raw: bytes) -> str:
    if not raw or raw[-1] & 0x80:
        raise MalformedPacket("empty or unterminated OID")
    subids: list[int] = []
    value = 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            subids.append(value)
            value = 0
            if len(subids) > _MAX_SUBIDS:
                raise MalformedPacket("OID with too many sub-identifiers")
    first = subids[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(part) for part in head + subids[1:])


def _decode_value(data: bytes, tag: int, start: int, stop: int) -> int | bytes | str | None:
    raw = data[start:stop]
    if tag == _TAG_INTEGER:
        return _ber_integer(data, start, stop)
    if tag in _UNSIGNED_TAGS:
        return _ber_integer(data, start, stop, signed=False)
    if tag == _TAG_OID:
        return _decode_oid(raw)
    if tag == _TAG_IPADDRESS:
        if len(raw) != 4:
            raise MalformedPacket(f"IpAddress of {len(raw)} octets at offset {start}")
        return str(ipaddress.IPv4Address(raw))
    if tag == _TAG_NULL or tag in _EXCEPTIONS:
        return None
    return raw  # OCTET STRING, Opaque, BIT STRING and anything else: the raw octets


def parse_snmp_message(data: bytes) -> SnmpMessage:
    """Parse an SNMPv1/v2c message; raise :class:`MalformedPacket` on anything else."""
    start, end = _expect(data, 0, len(data), _TAG_SEQUENCE)
    v_start, v_end = _expect(data, start, end, _TAG_INTEGER)
    version = _ber_integer(data, v_start, v_end)
    c_start, c_end = _expect(data, v_end, end, _TAG_OCTETS)
    community = data[c_start:c_end]
    pdu_type, p_start, p_end = _tlv(data, c_end, end)
    if not 0xA0 <= pdu_type <= 0xA8 or pdu_type == 0xA4:  # 0xA4 is the v1 Trap layout
        raise MalformedPacket(f"unsupported PDU type 0x{pdu_type:02x}")
    fields: list[int] = []
    pos = p_start
    for _ in range(3):
        f_start, f_end = _expect(data, pos, p_end, _TAG_INTEGER)
        fields.append(_ber_integer(data, f_start, f_end))
        pos = f_end
    l_start, l_end = _expect(data, pos, p_end, _TAG_SEQUENCE)
    varbinds: list[SnmpVarBind] = []
    pos = l_start
    while pos < l_end:
        if len(varbinds) >= _MAX_VARBINDS:
            raise MalformedPacket("too many variable bindings")
        b_start, b_end = _expect(data, pos, l_end, _TAG_SEQUENCE)
        o_start, o_end = _expect(data, b_start, b_end, _TAG_OID)
        oid = _decode_oid(data[o_start:o_end])
        tag, value_start, value_end = _tlv(data, o_end, b_end)
        varbinds.append(SnmpVarBind(oid, tag, _decode_value(data, tag, value_start, value_end)))
        pos = b_end
    return SnmpMessage(
        version, community, pdu_type, fields[0], fields[1], fields[2], tuple(varbinds)
    )


# --------------------------------------------------------------------------- NTP (RFC 5905)

_NTP_EPOCH_OFFSET: Final = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_NTP_MODE_CLIENT: Final = 3
_NTP_MODE_SERVER: Final = 4
_NTP_MODE_CONTROL: Final = 6
_CTL_READVAR: Final = 2
_CTL_HEADER: Final = 12
_MAX_CONTROL_DATA: Final = 65536
_MAX_VARIABLES: Final = 512


@dataclass(frozen=True)
class NtpPacket:
    """The header of an NTP packet (modes 1-5); times are Unix seconds (None when zero)."""

    leap: int
    version: int
    mode: int
    stratum: int
    poll: int
    precision: int
    root_delay: float
    root_dispersion: float
    reference_id: str
    reference_time: float | None
    origin: bytes
    transmit_time: float | None


def _ntp_time(raw: bytes) -> float | None:
    seconds, fraction = int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:], "big")
    if seconds == 0 and fraction == 0:
        return None
    return seconds - _NTP_EPOCH_OFFSET + fraction / 2**32


def _reference_id(stratum: int, raw: bytes) -> str:
    if stratum <= 1:
        # Stratum 0: a kiss code (DENY, RATE); stratum 1: the reference clock (GPS, PPS).
        return _printable(raw.rstrip(b"\x00"), 8)
    return str(ipaddress.IPv4Address(raw))  # stratum 2+: the upstream IPv4 address (or hash)


def parse_ntp_packet(data: bytes) -> NtpPacket:
    """Parse the 48-octet NTP header; raise :class:`MalformedPacket` if short or mode 6/7."""
    if len(data) < 48:
        raise MalformedPacket(f"{len(data)} octets, an NTP packet has at least 48")
    first = data[0]
    leap, version, mode = first >> 6, (first >> 3) & 0x07, first & 0x07
    if not 1 <= version <= 4 or mode in (0, 6, 7):
        raise MalformedPacket(f"not an NTP time packet (version {version}, mode {mode})")
    stratum = data[1]
    return NtpPacket(
        leap=leap,
        version=version,
        mode=mode,
        stratum=stratum,
        poll=int.from_bytes(data[2:3], "big", signed=True),
        precision=int.from_bytes(data[3:4], "big", signed=True),
        root_delay=int.from_bytes(data[4:8], "big") / 2**16,
        root_dispersion=int.from_bytes(data[8:12], "big") / 2**16,
        reference_id=_reference_id(stratum, data[12:16]),
        reference_time=_ntp_time(data[16:24]),
        origin=data[24:32],
        transmit_time=_ntp_time(data[40:48]),
    )


@dataclass(frozen=True)
class NtpControl:
    """An NTP mode 6 control message (header and this fragment's data)."""

    version: int
    response: bool
    error: bool
    more: bool
    opcode: int
    sequence: int
    status: int
    association: int
    offset: int
    data: bytes


def encode_ntp_readvar(sequence: int, version: int = 2) -> bytes:
    """A mode 6 READVAR request for the system variables (association 0)."""
    first = (version << 3) | _NTP_MODE_CONTROL
    return bytes([first, _CTL_READVAR]) + sequence.to_bytes(2, "big") + bytes(8)


def parse_ntp_control(data: bytes) -> NtpControl:
    """Parse one mode 6 message; raise :class:`MalformedPacket` if it does not hold together."""
    if len(data) < _CTL_HEADER:
        raise MalformedPacket(f"{len(data)} octets, a control message has at least 12")
    first, second = data[0], data[1]
    version, mode = (first >> 3) & 0x07, first & 0x07
    if mode != _NTP_MODE_CONTROL or not 1 <= version <= 4:
        raise MalformedPacket(f"not an NTP control message (version {version}, mode {mode})")
    offset = int.from_bytes(data[8:10], "big")
    count = int.from_bytes(data[10:12], "big")
    if _CTL_HEADER + count > len(data):
        raise MalformedPacket(f"data count {count} exceeds the {len(data) - 12} octets present")
    return NtpControl(
        version=version,
        response=bool(second & 0x80),
        error=bool(second & 0x40),
        more=bool(second & 0x20),
        opcode=second & 0x1F,
        sequence=int.from_bytes(data[2:4], "big"),
        status=int.from_bytes(data[4:6], "big"),
        association=int.from_bytes(data[6:8], "big"),
        offset=offset,
        data=data[_CTL_HEADER : _CTL_HEADER + count],
    )


def parse_ntp_variables(text: str) -> dict[str, str]:
    """``name=value, name="quoted, value", flag`` → {name: value}; quotes removed."""
    variables: dict[str, str] = {}
    item: list[str] = []
    quoted = False

    def flush() -> None:
        entry = "".join(item).strip()
        item.clear()
        if not entry or len(variables) >= _MAX_VARIABLES:
            return
        name, _, value = entry.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        variables[_printable(name.strip(), 64)] = _printable(value)

    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            flush()
        else:
            item.append(ch)
    flush()
    return variables


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class UdpResult:
    """A UDP service that answered in its own protocol.

    ``extra`` holds protocol details (sysDescr, stratum, version.bind text, ...); ``flags``
    are exposure markers for the risk checks: ``snmp_default_community``,
    ``dns_version_disclosed``, ``dns_recursion``, ``ntp_mode6_readvar``.
    """

    address: str
    port: int
    service: str
    product: str | None
    version: str | None
    info: str | None
    cpe: tuple[str, ...]
    probe: str
    rtt_ms: float | None
    extra: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    protocol: str = "udp"

    def to_service_match(self) -> ServiceMatch:
        """The same identification in the TCP fingerprinter's shape."""
        return ServiceMatch(
            service=self.service,
            product=self.product,
            version=self.version,
            info=self.info,
            cpe=self.cpe,
            os=None,
            probe=self.probe,
            banner=self.info or "",
        )


@dataclass(frozen=True)
class _Identity:
    service: str
    product: str | None
    version: str | None
    info: str | None
    cpe: tuple[str, ...]
    probe: str
    extra: dict[str, str]
    flags: tuple[str, ...]


# version.bind texts of common servers → (product, CPE vendor:product, version group).
_DNS_PRODUCTS: Final = (
    (re.compile(r"^dnsmasq-(\d[\w.]*)"), "dnsmasq", "thekelleys:dnsmasq"),
    (re.compile(r"^unbound (\d[\w.]*)", re.I), "Unbound", "nlnetlabs:unbound"),
    (re.compile(r"^NSD (\d[\w.]*)"), "NSD", "nlnetlabs:nsd"),
    (re.compile(r"^Knot DNS (\d[\w.]*)", re.I), "Knot DNS", "nic:knot_dns"),
    (re.compile(r"^PowerDNS Recursor (\d[\w.]*)"), "PowerDNS Recursor", "powerdns:recursor"),
    (
        re.compile(r"^PowerDNS Authoritative Server (\d[\w.]*)"),
        "PowerDNS",
        "powerdns:authoritative",
    ),
    (re.compile(r"^CoreDNS-(\d[\w.]*)"), "CoreDNS", "coredns.io:coredns"),
    # BIND answers its bare version: 9.18.24-1-Debian, 9.11.4-P2-RedHat-9.11.4-26.P2.el7.
    (re.compile(r"^(9\.\d+\.\d+)"), "ISC BIND", "isc:bind"),
)
_NTPD_RE: Final = re.compile(r"^ntpd (\d+\.\d+\.\d+)(p\d+)?")
_NTPSEC_RE: Final = re.compile(r"^ntpd ntpsec-(\d[\w.]*)")

_PENDING: Final = object()


@dataclass
class _Request:
    """One request of a conversation; ``accept`` returns None (not ours), _PENDING or a value."""

    payload: bytes
    accept: Callable[[bytes], object]
    retries: int | None = None


_Conversation: TypeAlias = Generator[_Request, object, _Identity | None]


def _ident16() -> int:
    return secrets.randbits(16)


def _dns_accept(ident: int, qname: str, qtype: int) -> Callable[[bytes], object]:
    def accept(data: bytes) -> object:
        try:
            message = parse_dns_message(data)
        except MalformedPacket:
            return None
        if not message.is_response or message.ident != ident:
            return None
        # Servers may echo the question in any letter case, or leave it out of an error.
        if message.questions and (
            message.questions[0][0].lower() != qname or message.questions[0][1] != qtype
        ):
            return None
        return message

    return accept


def _dns_conversation(_options: _Options) -> _Conversation:
    ident = _ident16()
    query = encode_dns_query(ident, "version.bind", DNS_TYPE_TXT, DNS_CLASS_CH)
    reply = yield _Request(query, _dns_accept(ident, "version.bind.", DNS_TYPE_TXT))
    chaos = reply if isinstance(reply, DnsMessage) else None
    ident = _ident16()
    query = encode_dns_query(ident, "localhost", DNS_TYPE_A, recursion=True)
    # A server silent to CHAOS is rarely a DNS server at all: one plain query, no resends.
    reply = yield _Request(
        query, _dns_accept(ident, "localhost.", DNS_TYPE_A), retries=None if chaos else 0
    )
    plain = reply if isinstance(reply, DnsMessage) else None
    if chaos is None and plain is None:
        return None
    extra: dict[str, str] = {}
    flags: list[str] = []
    product = version = None
    cpe: tuple[str, ...] = ()
    if chaos is not None:
        extra["version_bind_rcode"] = chaos.rcode_name
        texts = [r.value for r in chaos.answers if r.rtype == DNS_TYPE_TXT and r.value]
        if texts:
            extra["version_bind"] = texts[0]
            flags.append("dns_version_disclosed")
            for pattern, name, cpe_name in _DNS_PRODUCTS:
                found = pattern.match(texts[0])
                if found:
                    product, version = name, found.group(1)
                    vendor, _, cpe_product = cpe_name.partition(":")
                    cpe = (_cpe(vendor, cpe_product, version),)
                    break
    if plain is not None:
        extra["localhost_rcode"] = plain.rcode_name
        addresses = [r.value for r in plain.answers if r.rtype == DNS_TYPE_A and r.value]
        if addresses:
            extra["localhost_a"] = ",".join(addresses)
        extra["recursion_available"] = "yes" if plain.recursion_available else "no"
        if plain.recursion_available:
            flags.append("dns_recursion")
    info_parts = []
    if "version_bind" in extra:
        info_parts.append(f"version.bind: {extra['version_bind']}")
    if "recursion_available" in extra:
        info_parts.append(f"recursion: {extra['recursion_available']}")
    return _Identity(
        service="dns",
        product=product,
        version=version,
        info="; ".join(info_parts) or None,
        cpe=cpe,
        probe="dns-version-bind" if chaos is not None else "dns-a-localhost",
        extra=extra,
        flags=tuple(flags),
    )


def _snmp_accept(version: int, community: bytes, request_id: int) -> Callable[[bytes], object]:
    def accept(data: bytes) -> object:
        try:
            message = parse_snmp_message(data)
        except MalformedPacket:
            return None
        if (
            message.pdu_type != _PDU_RESPONSE
            or message.request_id != request_id
            or message.version != version
            or message.community != community
        ):
            return None
        return message

    return accept


def _snmp_text(binding: SnmpVarBind | None) -> str | None:
    if binding is None or binding.missing or binding.value is None:
        return None
    if isinstance(binding.value, bytes):
        return _printable(binding.value) or None
    return _printable(str(binding.value))


def _snmp_conversation(options: _Options) -> _Conversation:
    community = options.snmp_community
    message: SnmpMessage | None = None
    used = SNMP_V2C
    for snmp_version, oids in (
        (SNMP_V2C, (OID_SYS_DESCR, OID_SYS_OBJECT_ID, OID_SYS_NAME)),
        # v1 fails the whole request if one OID is missing: ask only what every agent has.
        (SNMP_V1, (OID_SYS_DESCR, OID_SYS_OBJECT_ID)),
    ):
        request_id = secrets.randbits(31)
        reply = yield _Request(
            encode_snmp_get(snmp_version, community, request_id, oids),
            _snmp_accept(snmp_version, community, request_id),
        )
        if isinstance(reply, SnmpMessage):
            message, used = reply, snmp_version
            break
    if message is None:
        return None
    descr = _snmp_text(message.value(OID_SYS_DESCR))
    object_id = _snmp_text(message.value(OID_SYS_OBJECT_ID))
    name = _snmp_text(message.value(OID_SYS_NAME))
    extra = {"snmp_version": "v2c" if used == SNMP_V2C else "v1"}
    extra["community"] = _printable(community)
    for key, value in (("sysDescr", descr), ("sysObjectID", object_id), ("sysName", name)):
        if value:
            extra[key] = value
    vendor = None
    if object_id:
        vendor = next(
            (v for prefix, v in _ENTERPRISES.items() if (object_id + ".").startswith(prefix + ".")),
            None,
        )
    product = version = None
    cpe: tuple[str, ...] = ()
    if vendor == "Net-SNMP":
        product = "Net-SNMP"
        request_id = secrets.randbits(31)
        reply = yield _Request(
            encode_snmp_get(used, community, request_id, (OID_NET_SNMP_VERSION,)),
            _snmp_accept(used, community, request_id),
            retries=0,
        )
        if isinstance(reply, SnmpMessage):
            tag = _snmp_text(reply.value(OID_NET_SNMP_VERSION))
            if tag and re.fullmatch(r"\d+(\.\d+)+\w*", tag):
                version = tag
        cpe = (_cpe("net-snmp", "net-snmp", version),)
    elif vendor is not None:
        extra["vendor"] = vendor
    flags = ("snmp_default_community",) if community in (b"public", b"private") else ()
    return _Identity(
        service="snmp",
        product=product,
        version=version,
        info=descr,
        cpe=cpe,
        probe=f"snmp-{extra['snmp_version']}-get",
        extra=extra,
        flags=flags,
    )


def _ntp_accept(nonce: bytes) -> Callable[[bytes], object]:
    def accept(data: bytes) -> object:
        try:
            packet = parse_ntp_packet(data)
        except MalformedPacket:
            return None
        # The server copies our transmit timestamp into origin: that binds answer to request.
        if packet.mode != _NTP_MODE_SERVER or packet.origin != nonce:
            return None
        return packet

    return accept


class _ReadvarCollector:
    """Reassembles the fragments of one READVAR response."""

    def __init__(self, sequence: int) -> None:
        self.sequence = sequence
        self.fragments: dict[int, bytes] = {}
        self.total: int | None = None
        self.error = False

    def accept(self, data: bytes) -> object:
        try:
            message = parse_ntp_control(data)
        except MalformedPacket:
            return None
        if not message.response or message.opcode != _CTL_READVAR:
            return None
        if message.sequence != self.sequence:
            return None
        if message.error:
            self.error = True
            return ""
        if message.offset + len(message.data) > _MAX_CONTROL_DATA or len(self.fragments) > 256:
            return None
        self.fragments[message.offset] = message.data
        if not message.more:
            self.total = message.offset + len(message.data)
        return self._assembled()

    def _assembled(self) -> object:
        if self.total is None:
            return _PENDING
        out = bytearray()
        for offset in sorted(self.fragments):
            if offset != len(out):
                return _PENDING  # a gap: a fragment is still on its way
            out += self.fragments[offset]
        if len(out) != self.total:
            return _PENDING
        return out.decode("latin-1")


def _ntp_product(version_text: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    found = _NTPSEC_RE.match(version_text)
    if found:
        return "NTPsec", found.group(1), (_cpe("ntpsec", "ntpsec", found.group(1)),)
    found = _NTPD_RE.match(version_text)
    if found:
        base, patch = found.group(1), found.group(2)
        return "ntpd", base + (patch or ""), (_cpe("ntp", "ntp", base, patch),)
    return None, None, ()


def _ntp_conversation(options: _Options) -> _Conversation:
    nonce = secrets.token_bytes(8)
    request = bytes([(4 << 3) | _NTP_MODE_CLIENT]) + bytes(39) + nonce
    reply = yield _Request(request, _ntp_accept(nonce))
    packet = reply if isinstance(reply, NtpPacket) else None
    variables: dict[str, str] | None = None
    if options.ntp_readvar and packet is not None:
        collector = _ReadvarCollector(_ident16())
        answer = yield _Request(encode_ntp_readvar(collector.sequence), collector.accept, retries=0)
        if isinstance(answer, str):
            variables = parse_ntp_variables(answer)
    if packet is None:
        return None
    extra = {
        "stratum": str(packet.stratum),
        "ntp_version": str(packet.version),
        "leap": str(packet.leap),
        "reference_id": packet.reference_id,
    }
    if packet.reference_time is not None and 0 < packet.reference_time < 2**33:
        moment = datetime.fromtimestamp(packet.reference_time, UTC)
        extra["reference_time"] = moment.isoformat(timespec="seconds")
    product = version = None
    cpe: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    if variables is not None:
        flags = ("ntp_mode6_readvar",)
        for key in ("version", "system", "processor"):
            if key in variables:
                extra[f"readvar_{key}"] = variables[key]
        product, version, cpe = _ntp_product(variables.get("version", ""))
    info = f"stratum {packet.stratum}, refid {packet.reference_id}, NTPv{packet.version}"
    return _Identity(
        service="ntp",
        product=product,
        version=version,
        info=info,
        cpe=cpe,
        probe="ntp-readvar" if variables is not None else "ntp-mode3",
        extra=extra,
        flags=flags,
    )


_CONVERSATIONS: Final[Mapping[str, Callable[[_Options], _Conversation]]] = {
    "dns": _dns_conversation,
    "snmp": _snmp_conversation,
    "ntp": _ntp_conversation,
}


def _chain(services: Sequence[str], options: _Options) -> _Conversation:
    """Try the services in turn; the first that identifies the port wins."""
    for service in services:
        found = yield from _CONVERSATIONS[service](options)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class _Options:
    timeout: float
    retries: int
    snmp_community: bytes
    ntp_readvar: bool


@dataclass(eq=False)
class _Job:
    index: int
    address: str
    port: int
    conversation: _Conversation
    sock: socket.socket | None = None
    request: _Request | None = None
    attempts: int = 0
    generation: int = 0
    sent_at: float = 0.0
    rtt_ms: float | None = None
    done: bool = False


class _Engine:
    """Drives many conversations over non-blocking connected UDP sockets."""

    def __init__(
        self,
        options: _Options,
        concurrency: int,
        on_result: Callable[[UdpResult], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.options = options
        self.concurrency = concurrency
        self.on_result = on_result
        self.should_stop = should_stop
        self.selector = selectors.DefaultSelector()
        self.deadlines: list[tuple[float, int, int, _Job]] = []
        self.counter = 0
        self.active = 0
        self.found: list[tuple[int, UdpResult]] = []

    def run(self, jobs: Iterator[_Job]) -> list[UdpResult]:
        stopped = False
        try:
            while True:
                while not stopped and self.active < self.concurrency:
                    if self.should_stop is not None and self.should_stop():
                        stopped = True
                        break
                    job = next(jobs, None)
                    if job is None:
                        break
                    self._start(job)
                if stopped or self.active == 0:
                    break
                self._step()
        finally:
            for key in list(self.selector.get_map().values()):
                job = key.data
                if isinstance(job, _Job) and job.sock is not None:
                    job.sock.close()
            self.selector.close()
        self.found.sort(key=lambda item: (item[0], item[1].port))
        return [result for _index, result in self.found]

    def _start(self, job: _Job) -> None:
        family = socket.AF_INET6 if ":" in job.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            # connect() on UDP sends nothing; it fixes the peer so ICMP errors come back
            # as ECONNREFUSED and the kernel drops datagrams from anyone else.
            sock.connect((job.address, job.port))
        except OSError:
            sock.close()
            job.conversation.close()
            return
        job.sock = sock
        self.active += 1
        self.selector.register(sock, selectors.EVENT_READ, job)
        self._advance(job, None, first=True)

    def _finish(self, job: _Job, identity: _Identity | None) -> None:
        if job.done:
            return
        job.done = True
        self.active -= 1
        if job.sock is not None:
            self.selector.unregister(job.sock)
            job.sock.close()
        job.conversation.close()
        if identity is None:
            return
        result = UdpResult(
            address=job.address,
            port=job.port,
            service=identity.service,
            product=identity.product,
            version=identity.version,
            info=identity.info,
            cpe=identity.cpe,
            probe=identity.probe,
            rtt_ms=job.rtt_ms,
            extra=identity.extra,
            flags=identity.flags,
        )
        self.found.append((job.index, result))
        if self.on_result is not None:
            self.on_result(result)

    def _advance(self, job: _Job, value: object, *, first: bool = False) -> None:
        try:
            request = next(job.conversation) if first else job.conversation.send(value)
        except StopIteration as stop:
            identity = stop.value
            self._finish(job, identity if isinstance(identity, _Identity) else None)
            return
        job.request = request
        job.attempts = 0
        self._send(job)

    def _send(self, job: _Job) -> None:
        assert job.sock is not None and job.request is not None
        job.generation += 1
        job.sent_at = time.monotonic()
        try:
            job.sock.send(job.request.payload)
        except BlockingIOError:
            pass  # the send buffer is full; the deadline below resends
        except OSError:
            # ECONNREFUSED from an earlier probe's ICMP error, or unreachable: port closed.
            self._finish(job, None)
            return
        self._schedule(job, job.sent_at + self.options.timeout)

    def _schedule(self, job: _Job, deadline: float) -> None:
        self.counter += 1
        heapq.heappush(self.deadlines, (deadline, self.counter, job.generation, job))

    def _step(self) -> None:
        while self.deadlines and (
            self.deadlines[0][3].done or self.deadlines[0][2] != self.deadlines[0][3].generation
        ):
            heapq.heappop(self.deadlines)
        wait = 0.25  # every live conversation has a deadline; this only bounds the wait
        if self.deadlines:
            wait = min(wait, max(0.0, self.deadlines[0][0] - time.monotonic()))
        for key, _events in self.selector.select(wait):
            self._readable(key.data)
        now = time.monotonic()
        while self.deadlines and self.deadlines[0][0] <= now:
            _deadline, _n, generation, job = heapq.heappop(self.deadlines)
            if job.done or generation != job.generation:
                continue
            request = job.request
            assert request is not None
            allowed = self.options.retries if request.retries is None else request.retries
            if job.attempts < allowed:
                job.attempts += 1
                self._send(job)
            else:
                self._advance(job, None)

    def _readable(self, job: _Job) -> None:
        while not job.done and job.sock is not None and job.request is not None:
            try:
                data = job.sock.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # ECONNREFUSED (ICMP port unreachable: nothing listens), host or network
                # unreachable: either way nothing will answer this conversation.
                self._finish(job, None)
                return
            verdict = job.request.accept(data)
            if verdict is None:
                continue  # a stale or foreign datagram
            if job.rtt_ms is None:
                job.rtt_ms = (time.monotonic() - job.sent_at) * 1000.0
            if verdict is _PENDING:
                # More fragments are coming: give them a fresh timeout.
                job.generation += 1
                self._schedule(job, time.monotonic() + self.options.timeout)
                continue
            self._advance(job, verdict)


def _check_options(timeout: float, retries: int, concurrency: int) -> None:
    for name, value, ok, detail in (
        ("timeout", timeout, isinstance(timeout, int | float) and timeout > 0, "> 0"),
        ("retries", retries, isinstance(retries, int) and 0 <= retries <= 10, "0-10"),
        ("concurrency", concurrency, isinstance(concurrency, int) and concurrency >= 1, ">= 1"),
    ):
        if isinstance(value, bool) or not ok:
            raise ValidationError(
                t("scan_discovery.option_invalid", name=name, value=value, detail=detail)
            )


def _services_for(port: int, service: str | None) -> tuple[str, ...]:
    if service is not None:
        return (service,)
    known = _PORT_SERVICES.get(port)
    return (known,) if known else _SERVICES


def udp_scan(
    addresses: Sequence[str],
    ports: Sequence[int] = DEFAULT_UDP_PORTS,
    *,
    service: UdpService | None = None,
    timeout: float = 1.0,
    retries: int = 1,
    concurrency: int = 256,
    snmp_community: str = "public",
    ntp_readvar: bool = True,
    on_result: Callable[[UdpResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[UdpResult]:
    """Probe every (address, port); return the identified services, by address then port.

    Each port gets the probe of its well-known service (53 dns, 123 ntp, 161 snmp), or
    ``service`` when given, or else all three in turn. ``timeout`` is per request, resent
    ``retries`` times; up to ``concurrency`` conversations run at once. A closed port
    (ICMP port unreachable) ends at once; a silent one costs the timeouts.
    ``should_stop`` is checked before each new conversation; once True, running ones are
    abandoned and what was identified so far is returned.
    """
    texts = canonical_addresses(addresses)
    port_list: list[int] = []
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError(t("scan_discovery.udp_port_invalid", item=port))
        port_list.append(port)
    if service is not None and service not in _CONVERSATIONS:
        raise ValidationError(
            t("scan_discovery.option_invalid", name="service", value=service, detail="dns|snmp|ntp")
        )
    _check_options(timeout, retries, concurrency)
    try:
        community = snmp_community.encode("utf-8")
    except (AttributeError, UnicodeError):
        raise ValidationError(
            t(
                "scan_discovery.option_invalid",
                name="snmp_community",
                value=snmp_community,
                detail="text",
            )
        ) from None
    options = _Options(float(timeout), retries, community, bool(ntp_readvar))

    def jobs() -> Iterator[_Job]:
        for index, address in enumerate(texts):
            for port in dict.fromkeys(port_list):
                conversation = _chain(_services_for(port, service), options)
                yield _Job(index, address, port, conversation)

    engine = _Engine(options, concurrency, on_result, should_stop)
    return engine.run(jobs())


def udp_probe(
    address: str,
    port: int,
    service: UdpService | None = None,
    *,
    timeout: float = 1.0,
    retries: int = 1,
    snmp_community: str = "public",
    ntp_readvar: bool = True,
) -> UdpResult | None:
    """Identify the UDP service on one port (see :func:`udp_scan`); None when none answered."""
    found = udp_scan(
        [address],
        [port],
        service=service,
        timeout=timeout,
        retries=retries,
        concurrency=1,
        snmp_community=snmp_community,
        ntp_readvar=ntp_readvar,
    )
    return found[0] if found else None
