"""A small authoritative DNS responder for the callback zone, with its own wire codec.

Only what an authoritative server for one zone needs (RFC 1035): read a query's header
and single question, answer A/AAAA for every name in the zone with the advertised
address, NS/SOA at the zone apex, MX pointing at the name itself, and NODATA otherwise;
names outside the zone are REFUSED (the responder never recurses, so it never sends a
packet to anyone but the peer that asked). Decoding is bounds-checked at every step and
follows compression pointers only backwards, with a jump limit, so truncated or hostile
packets (pointer loops, oversized labels) end in :class:`DnsFormatError`.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

HEADER = struct.Struct("!HHHHHH")
# RFC 1035 2.3.4: labels of at most 63 octets, names of at most 255 octets.
MAX_LABEL = 63
MAX_NAME = 255
# A name has at most 127 labels, so more jumps than that can only be a loop.
MAX_POINTERS = 127
# RFC 1035 4.2.1: UDP messages are limited to 512 octets (no EDNS in our answers).
UDP_LIMIT = 512

# Record types and classes: RFC 1035 3.2.2-3.2.4, AAAA from RFC 3596.
TYPE_A = 1
TYPE_NS = 2
TYPE_SOA = 6
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_ANY = 255
CLASS_IN = 1
TYPE_NAMES = {
    TYPE_A: "A",
    TYPE_NS: "NS",
    5: "CNAME",
    TYPE_SOA: "SOA",
    12: "PTR",
    TYPE_MX: "MX",
    TYPE_TXT: "TXT",
    TYPE_AAAA: "AAAA",
    33: "SRV",
    TYPE_ANY: "ANY",
}

# Response codes and header flag bits: RFC 1035 4.1.1.
RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_NOTIMP = 4
RCODE_REFUSED = 5
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

_QR = 0x8000
_AA = 0x0400
_TC = 0x0200
_RD = 0x0100

# Organisation-defined TTLs: callback names are unique, so answers may be cached briefly;
# the zone's own NS/SOA data changes rarely.
ANSWER_TTL = 60
ZONE_TTL = 3600
# SOA timers (RFC 1912 2.2 recommended ranges); the serial is fixed: the zone never changes.
SOA_TIMERS = (1, 3600, 600, 86400, 60)


class DnsFormatError(ValueError):
    """A packet that is not a well-formed DNS message (or not one this server reads)."""


@dataclass(frozen=True)
class Question:
    """The question of a query, with the name's labels exactly as received."""

    labels: tuple[bytes, ...]
    qtype: int
    qclass: int

    @property
    def name(self) -> str:
        """The name as dotted text (case preserved, non-printable octets escaped)."""
        return ".".join(_label_text(label) for label in self.labels)


@dataclass(frozen=True)
class Query:
    """The parts of a DNS message this server needs."""

    id: int
    flags: int
    question: Question | None
    qdcount: int

    @property
    def is_response(self) -> bool:
        """Whether the QR bit is set (never answer a response: no reflection loops)."""
        return bool(self.flags & _QR)

    @property
    def opcode(self) -> int:
        """The operation code (0 is a standard query)."""
        return (self.flags >> 11) & 0xF


def _label_text(label: bytes) -> str:
    out = []
    for byte in label:
        char = chr(byte)
        if byte in (0x2E, 0x5C) or not 0x21 <= byte <= 0x7E:
            out.append(f"\\{byte:03d}" if not 0x21 <= byte <= 0x7E else "\\" + char)
        else:
            out.append(char)
    return "".join(out)


def decode_name(data: bytes, offset: int) -> tuple[tuple[bytes, ...], int]:
    """Read a (possibly compressed) name at ``offset``; return its labels and the offset
    just after the name in the original position. Raises DnsFormatError."""
    labels: list[bytes] = []
    length = 1  # the root label's zero octet
    position = offset
    end_offset: int | None = None
    jumps = 0
    # Every pointer must point strictly before the name's start, then before the previous
    # pointer's target: offsets only decrease, so a loop is impossible.
    limit = offset
    while True:
        if position >= len(data):
            raise DnsFormatError("name runs past the end of the message")
        size = data[position]
        kind = size & 0xC0
        if kind == 0xC0:
            if position + 1 >= len(data):
                raise DnsFormatError("truncated compression pointer")
            target = ((size & 0x3F) << 8) | data[position + 1]
            if end_offset is None:
                end_offset = position + 2
            jumps += 1
            if jumps > MAX_POINTERS or target >= limit:
                raise DnsFormatError("compression pointer loop or forward pointer")
            limit = target
            position = target
            continue
        if kind != 0:
            raise DnsFormatError("extended label types are not supported")
        if size == 0:
            if end_offset is None:
                end_offset = position + 1
            return tuple(labels), end_offset
        start = position + 1
        stop = start + size
        if stop > len(data):
            raise DnsFormatError("label runs past the end of the message")
        length += size + 1
        if length > MAX_NAME:
            raise DnsFormatError("name longer than 255 octets")
        labels.append(data[start:stop])
        position = stop


def encode_name(labels: tuple[bytes, ...] | list[bytes]) -> bytes:
    """A name in wire form (no compression). Raises DnsFormatError when too long."""
    out = bytearray()
    for label in labels:
        if not 0 < len(label) <= MAX_LABEL:
            raise DnsFormatError("label length out of range")
        out.append(len(label))
        out.extend(label)
    out.append(0)
    if len(out) > MAX_NAME:
        raise DnsFormatError("name longer than 255 octets")
    return bytes(out)


def name_labels(name: str) -> tuple[bytes, ...]:
    """Dotted text (ASCII) as labels; the trailing dot is optional."""
    text = name.strip().rstrip(".")
    return tuple(part.encode("ascii") for part in text.split(".")) if text else ()


def parse_query(data: bytes) -> Query:
    """Read the header and the first question. Raises DnsFormatError."""
    if len(data) < HEADER.size:
        raise DnsFormatError("shorter than a DNS header")
    ident, flags, qdcount, _an, _ns, _ar = HEADER.unpack_from(data)
    if qdcount == 0:
        return Query(ident, flags, None, 0)
    labels, offset = decode_name(data, HEADER.size)
    if offset + 4 > len(data):
        raise DnsFormatError("question runs past the end of the message")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    return Query(ident, flags, Question(labels, qtype, qclass), qdcount)


def encode_query(name: str, qtype: int = TYPE_A, ident: int = 0) -> bytes:
    """A standard recursive query for ``name`` (used by the self-check)."""
    header = HEADER.pack(ident, _RD, 1, 0, 0, 0)
    return header + encode_name(name_labels(name)) + struct.pack("!HH", qtype, CLASS_IN)


@dataclass(frozen=True)
class Answer:
    """What the responder sent: the wire message and a readable rendering of it."""

    wire: bytes
    text: str


class Zone:
    """The callback zone: its apex name and the address its names resolve to."""

    def __init__(self, domain: str, address: str) -> None:
        self.labels = tuple(label.lower() for label in name_labels(domain))
        if not self.labels:
            raise ValueError("empty zone name")
        encode_name(self.labels)
        self.domain = ".".join(label.decode("ascii") for label in self.labels)
        parsed = ipaddress.ip_address(address)
        self.address = parsed
        self.nameserver = (b"ns1", *self.labels)
        self.mailbox = (b"hostmaster", *self.labels)

    def contains(self, labels: tuple[bytes, ...]) -> bool:
        """Whether ``labels`` name the apex or a name below it (case-insensitive)."""
        size = len(self.labels)
        if len(labels) < size:
            return False
        return tuple(label.lower() for label in labels[len(labels) - size :]) == self.labels

    def is_apex(self, labels: tuple[bytes, ...]) -> bool:
        """Whether ``labels`` name the zone apex itself."""
        return len(labels) == len(self.labels) and self.contains(labels)

    # ------------------------------------------------------------ answering

    def respond(self, data: bytes, *, udp: bool = True) -> Answer | None:
        """The answer to one received message; None when it must not be answered
        (a response, or a packet too broken to carry an id to answer)."""
        if len(data) < HEADER.size:
            return None
        try:
            query = parse_query(data)
        except DnsFormatError:
            ident, flags = struct.unpack_from("!HH", data)
            if flags & _QR:
                return None
            return self._message(ident, flags, None, RCODE_FORMERR, [], [], udp)
        if query.is_response:
            return None
        if query.opcode != 0:
            return self._message(query.id, query.flags, None, RCODE_NOTIMP, [], [], udp)
        question = query.question
        if question is None or query.qdcount != 1:
            return self._message(query.id, query.flags, None, RCODE_FORMERR, [], [], udp)
        if question.qclass not in (CLASS_IN, TYPE_ANY) or not self.contains(question.labels):
            return self._message(query.id, query.flags, question, RCODE_REFUSED, [], [], udp)
        answers = self._answers(question)
        authority = [] if answers else [self._soa()]
        return self._message(
            query.id, query.flags, question, RCODE_NOERROR, answers, authority, udp
        )

    def _answers(self, question: Question) -> list[tuple[int, int, bytes, str]]:
        """(type, ttl, rdata, rdata text) for ``question`` (owner is the question name)."""
        qtype = question.qtype
        out: list[tuple[int, int, bytes, str]] = []
        version = self.address.version
        if qtype in (TYPE_A, TYPE_ANY) and version == 4:
            out.append((TYPE_A, ANSWER_TTL, self.address.packed, str(self.address)))
        if qtype in (TYPE_AAAA, TYPE_ANY) and version == 6:
            out.append((TYPE_AAAA, ANSWER_TTL, self.address.packed, str(self.address)))
        if qtype == TYPE_MX:
            # Mail for a callback name goes to the name itself (it resolves to us).
            out.append((TYPE_MX, ANSWER_TTL, struct.pack("!H", 10) + b"\xc0\x0c", "10 @"))
        if self.is_apex(question.labels):
            if qtype in (TYPE_NS, TYPE_ANY):
                out.append(
                    (TYPE_NS, ZONE_TTL, encode_name(self.nameserver), _text(self.nameserver))
                )
            if qtype in (TYPE_SOA, TYPE_ANY):
                out.append(self._soa())
        return out

    def _soa(self) -> tuple[int, int, bytes, str]:
        rdata = (
            encode_name(self.nameserver)
            + encode_name(self.mailbox)
            + struct.pack("!IIIII", *SOA_TIMERS)
        )
        text = f"{_text(self.nameserver)} {_text(self.mailbox)} " + " ".join(
            str(value) for value in SOA_TIMERS
        )
        return (TYPE_SOA, ZONE_TTL, rdata, text)

    def _message(
        self,
        ident: int,
        query_flags: int,
        question: Question | None,
        rcode: int,
        answers: list[tuple[int, int, bytes, str]],
        authority: list[tuple[int, int, bytes, str]],
        udp: bool,
    ) -> Answer:
        authoritative = rcode == RCODE_NOERROR
        flags = _QR | (query_flags & _RD) | rcode | (_AA if authoritative else 0)
        body = bytearray()
        if question is not None:
            body += encode_name(question.labels) + struct.pack(
                "!HH", question.qtype, question.qclass
            )
        records = bytearray()
        for rtype, ttl, rdata, _ in answers:
            records += _record(b"\xc0\x0c", rtype, ttl, rdata)
        for rtype, ttl, rdata, _ in authority:
            records += _record(encode_name(self.labels), rtype, ttl, rdata)
        counts = (1 if question else 0, len(answers), len(authority), 0)
        if udp and HEADER.size + len(body) + len(records) > UDP_LIMIT:
            # Never happens with our short records, but a client must learn to use TCP.
            flags |= _TC
            counts = (counts[0], 0, 0, 0)
            records = bytearray()
        wire = HEADER.pack(ident, flags, *counts) + bytes(body) + bytes(records)
        return Answer(wire, self._render(ident, rcode, question, answers, authority))

    def _render(
        self,
        ident: int,
        rcode: int,
        question: Question | None,
        answers: list[tuple[int, int, bytes, str]],
        authority: list[tuple[int, int, bytes, str]],
    ) -> str:
        lines = [f";; opcode: QUERY, status: {RCODE_NAMES.get(rcode, rcode)}, id: {ident}"]
        if question is not None:
            owner = question.name + "."
            lines += [";; ANSWER SECTION:"] if answers else []
            for rtype, ttl, _, text in answers:
                shown = text.replace("@", owner)
                lines.append(f"{owner}\t{ttl}\tIN\t{TYPE_NAMES.get(rtype, rtype)}\t{shown}")
            if authority:
                lines.append(";; AUTHORITY SECTION:")
            for rtype, ttl, _, text in authority:
                zone = self.domain + "."
                lines.append(f"{zone}\t{ttl}\tIN\t{TYPE_NAMES.get(rtype, rtype)}\t{text}")
        return "\n".join(lines)


def _text(labels: tuple[bytes, ...]) -> str:
    return ".".join(_label_text(label) for label in labels) + "."


def _record(owner: bytes, rtype: int, ttl: int, rdata: bytes) -> bytes:
    return owner + struct.pack("!HHIH", rtype, CLASS_IN, ttl, len(rdata)) + rdata


def describe_query(data: bytes) -> str:
    """A dig-like rendering of a received query (what ``interactsh_request`` holds)."""
    try:
        query = parse_query(data)
    except DnsFormatError as exc:
        return f";; malformed DNS message: {exc}"
    flags = [
        name
        for bit, name in ((_QR, "qr"), (_AA, "aa"), (_TC, "tc"), (_RD, "rd"))
        if query.flags & bit
    ]
    lines = [
        f";; opcode: {query.opcode}, id: {query.id}",
        f";; flags: {' '.join(flags)}; QUERY: {query.qdcount}",
    ]
    if query.question is not None:
        question = query.question
        kind = TYPE_NAMES.get(question.qtype, f"TYPE{question.qtype}")
        klass = "IN" if question.qclass == CLASS_IN else f"CLASS{question.qclass}"
        lines += [";; QUESTION SECTION:", f";{question.name}.\t{klass}\t{kind}"]
    return "\n".join(lines)
