"""DNS messages (RFC 1035, 3596, 6891 and the record types of 2782, 4034, 6698, 8659):
an encoder, a decoder for hostile input, and the text form miekg/dns prints.

Nuclei's dns templates match against miekg/dns's ``String()`` output (``IN\\tCNAME\\t``,
``status: NXDOMAIN``), so :func:`message_text` and :func:`record_text` reproduce it.

The decoder reads answers from servers that may be hostile: every read is bounds
checked, a message is at most 65,535 bytes, a name at most 255 bytes, compression
pointers must point before the label run that contains them (so they cannot loop) and
at most :data:`MAX_POINTER_JUMPS` are followed, and section counts are checked against
the message length before anything is allocated. Anything wrong raises
:class:`DnsError` and nothing else.
"""

from __future__ import annotations

import base64
import ipaddress
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shaobing.core.i18n import t

MAX_MESSAGE = 65535
MAX_NAME = 255
MAX_LABEL = 63
MAX_POINTER_JUMPS = 64
_HEADER = 12
_MIN_QUESTION = 5  # root name, type, class
_MIN_RECORD = 11  # root name, type, class, ttl, rdlength

TYPES: dict[str, int] = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15, "TXT": 16,
    "AAAA": 28, "SRV": 33, "NAPTR": 35, "DNAME": 39, "OPT": 41, "DS": 43, "SSHFP": 44,
    "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "TLSA": 52, "SPF": 99, "AXFR": 252,
    "ANY": 255, "CAA": 257,
}  # fmt: skip
TYPE_NAMES = {code: name for name, code in TYPES.items()}
CLASSES: dict[str, int] = {"IN": 1, "CS": 2, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}
CLASS_NAMES = {code: name for name, code in CLASSES.items()}
RCODES: dict[int, str] = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
    6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 16: "BADSIG",
    17: "BADKEY", 18: "BADTIME", 19: "BADMODE", 20: "BADNAME", 21: "BADALG",
    22: "BADTRUNC", 23: "BADCOOKIE",
}  # fmt: skip
OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
# What a template's ``type`` and ``class`` may name (Nuclei's lists).
QUERY_TYPES = (
    "A", "NS", "DS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "CAA", "TLSA", "ANY", "SRV",
)  # fmt: skip
QUERY_CLASSES = {"inet": CLASSES["IN"], "csnet": CLASSES["CS"], "chaos": CLASSES["CH"]}
QUERY_CLASSES.update(hesiod=CLASSES["HS"], none=CLASSES["NONE"], any=CLASSES["ANY"])

Name = tuple[bytes, ...]
"""A domain name as its labels (wire bytes, no escaping); the root is ``()``."""
Field = int | bytes | tuple[bytes, ...]


class DnsError(ValueError):
    """A DNS message that cannot be decoded (or a name that cannot be encoded)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(t(f"templates_dns.codec.{key}", **params))
        self.key = key


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Header:
    """The fixed 12-byte header (counts are implied by the sections)."""

    id: int
    qr: bool = False
    opcode: int = 0
    aa: bool = False
    tc: bool = False
    rd: bool = False
    ra: bool = False
    z: bool = False
    ad: bool = False
    cd: bool = False
    rcode: int = 0

    def flags(self) -> int:
        """The 16-bit flags word."""
        value = (self.opcode & 0xF) << 11 | (self.rcode & 0xF)
        for bit, on in (
            (0x8000, self.qr),
            (0x0400, self.aa),
            (0x0200, self.tc),
            (0x0100, self.rd),
            (0x0080, self.ra),
            (0x0040, self.z),
            (0x0020, self.ad),
            (0x0010, self.cd),
        ):
            if on:
                value |= bit
        return value


@dataclass(frozen=True)
class Question:
    """One entry of the question section."""

    name: Name
    qtype: int
    qclass: int = 1


@dataclass(frozen=True)
class Record:
    """A resource record; ``data`` holds the RDATA fields in the order of the type's
    schema (see :data:`SCHEMAS`): ints, raw bytes, names (tuples of labels) or lists of
    character-strings."""

    name: Name
    rtype: int
    rclass: int
    ttl: int
    data: tuple[Field, ...]


@dataclass(frozen=True)
class Message:
    """A whole DNS message."""

    header: Header
    questions: tuple[Question, ...] = ()
    answers: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()

    @property
    def opt(self) -> Record | None:
        """The EDNS OPT pseudo-record, if any."""
        return next((r for r in self.additional if r.rtype == TYPES["OPT"]), None)

    @property
    def rcode(self) -> int:
        """The response code, with the upper bits from the OPT record (RFC 6891)."""
        opt = self.opt
        extended = (opt.ttl >> 24) & 0xFF if opt is not None else 0
        return extended << 4 | self.header.rcode


# Field kinds: u8/u16/u32 integers, ipv4/ipv6 addresses, a (compressible) name, one
# character-string, "strings" (character-strings up to the end), "rest" (the remaining
# bytes, uninterpreted).
SCHEMAS: dict[int, tuple[str, ...]] = {
    TYPES["A"]: ("ipv4",),
    TYPES["AAAA"]: ("ipv6",),
    TYPES["NS"]: ("name",),
    TYPES["CNAME"]: ("name",),
    TYPES["PTR"]: ("name",),
    TYPES["DNAME"]: ("name",),
    TYPES["MX"]: ("u16", "name"),
    TYPES["SOA"]: ("name", "name", "u32", "u32", "u32", "u32", "u32"),
    TYPES["TXT"]: ("strings",),
    TYPES["SPF"]: ("strings",),
    TYPES["HINFO"]: ("string", "string"),
    TYPES["SRV"]: ("u16", "u16", "u16", "name"),
    TYPES["NAPTR"]: ("u16", "u16", "string", "string", "string", "name"),
    TYPES["CAA"]: ("u8", "string", "rest"),
    TYPES["DS"]: ("u16", "u8", "u8", "rest"),
    TYPES["SSHFP"]: ("u8", "u8", "rest"),
    TYPES["DNSKEY"]: ("u16", "u8", "u8", "rest"),
    TYPES["RRSIG"]: ("u16", "u8", "u8", "u32", "u32", "u32", "u16", "name", "rest"),
    TYPES["NSEC"]: ("name", "rest"),
    TYPES["TLSA"]: ("u8", "u8", "u8", "rest"),
    TYPES["OPT"]: ("rest",),
}
# RFC 3597: only the types of RFC 1035 may have their RDATA names compressed.
_COMPRESSIBLE_RDATA = {TYPES[n] for n in ("NS", "CNAME", "PTR", "MX", "SOA")}
_INT_SIZES = {"u8": 1, "u16": 2, "u32": 4}


def schema(rtype: int) -> tuple[str, ...]:
    """The RDATA layout of ``rtype`` (unknown types: the raw bytes)."""
    return SCHEMAS.get(rtype, ("rest",))


# --------------------------------------------------------------------------- names


def name_from_text(text: str) -> Name:
    """Labels of a presentation-form name (``\\.`` and ``\\DDD`` escapes understood);
    raises DnsError for empty labels or a name too long for the wire."""
    stripped = text.strip()
    if stripped in ("", "."):
        return ()
    labels: list[bytes] = []
    current = bytearray()
    index = 0
    raw = stripped.encode("utf-8")
    while index < len(raw):
        byte = raw[index]
        if byte == 0x5C and index + 1 < len(raw):  # backslash escape
            following = raw[index + 1 : index + 4]
            if len(following) == 3 and following.isdigit() and int(following) < 256:
                current.append(int(following))
                index += 4
                continue
            current.append(raw[index + 1])
            index += 2
            continue
        if byte == 0x2E:  # "."
            if not current:
                raise DnsError("empty_label", name=text[:80])
            labels.append(bytes(current))
            current = bytearray()
        else:
            current.append(byte)
        index += 1
    if current:
        labels.append(bytes(current))
    _check_name(labels, text)
    return tuple(labels)


def _check_name(labels: Sequence[bytes], shown: str) -> None:
    if any(len(label) > MAX_LABEL or not label for label in labels):
        raise DnsError("label_too_long", name=shown[:80])
    if sum(len(label) + 1 for label in labels) + 1 > MAX_NAME:
        raise DnsError("name_too_long", name=shown[:80])


_NAME_SPECIAL = frozenset(b".' @;()\"\\")


def name_text(name: Name) -> str:
    """miekg/dns's presentation form: labels escaped (``\\.``, ``\\DDD``), a final dot."""
    if not name:
        return "."
    out: list[str] = []
    for label in name:
        text = []
        for byte in label:
            if byte in _NAME_SPECIAL:
                text.append("\\" + chr(byte))
            elif byte < 0x20 or byte > 0x7E:
                text.append(f"\\{byte:03d}")
            else:
                text.append(chr(byte))
        out.append("".join(text))
    return ".".join(out) + "."


def name_key(name: Name) -> Name:
    """``name`` with ASCII letters lower-cased (DNS names compare case-insensitively)."""
    return tuple(label.lower() for label in name)


# ------------------------------------------------------------------------- encoding


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()
        self.offsets: dict[Name, int] = {}

    def name(self, name: Name, compress: bool) -> None:
        _check_name(name, name_text(name))
        for index in range(len(name)):
            suffix = name_key(name[index:])
            offset = self.offsets.get(suffix) if compress else None
            if offset is not None:
                self.data += struct.pack("!H", 0xC000 | offset)
                return
            if len(self.data) < 0x4000:
                self.offsets.setdefault(suffix, len(self.data))
            label = name[index]
            self.data.append(len(label))
            self.data += label
        self.data.append(0)


def _encode_field(writer: _Writer, kind: str, value: Field, compress: bool) -> None:
    if kind in _INT_SIZES:
        if not isinstance(value, int):
            raise DnsError("field", kind=kind)
        writer.data += value.to_bytes(_INT_SIZES[kind], "big")
    elif kind in ("ipv4", "ipv6", "rest"):
        if not isinstance(value, bytes):
            raise DnsError("field", kind=kind)
        writer.data += value
    elif kind == "name":
        if not isinstance(value, tuple):
            raise DnsError("field", kind=kind)
        writer.name(value, compress)
    elif kind == "string":
        if not isinstance(value, bytes) or len(value) > 255:
            raise DnsError("field", kind=kind)
        writer.data.append(len(value))
        writer.data += value
    elif kind == "strings":
        if not isinstance(value, tuple):
            raise DnsError("field", kind=kind)
        for item in value:
            if len(item) > 255:
                raise DnsError("field", kind=kind)
            writer.data.append(len(item))
            writer.data += item


def _encode_record(writer: _Writer, record: Record) -> None:
    writer.name(record.name, True)
    writer.data += struct.pack("!HHI", record.rtype, record.rclass, record.ttl & 0xFFFFFFFF)
    length_at = len(writer.data)
    writer.data += b"\0\0"
    kinds = schema(record.rtype)
    if len(kinds) != len(record.data):
        raise DnsError("field", kind=TYPE_NAMES.get(record.rtype, str(record.rtype)))
    compress = record.rtype in _COMPRESSIBLE_RDATA
    for kind, value in zip(kinds, record.data, strict=True):
        _encode_field(writer, kind, value, compress)
    length = len(writer.data) - length_at - 2
    if length > 0xFFFF:
        raise DnsError("too_large", size=length)
    writer.data[length_at : length_at + 2] = struct.pack("!H", length)


def encode_message(message: Message) -> bytes:
    """The wire form of ``message`` (names compressed where RFC 3597 allows it)."""
    writer = _Writer()
    header = message.header
    writer.data += struct.pack(
        "!HHHHHH",
        header.id & 0xFFFF,
        header.flags(),
        len(message.questions),
        len(message.answers),
        len(message.authority),
        len(message.additional),
    )
    for question in message.questions:
        writer.name(question.name, True)
        writer.data += struct.pack("!HH", question.qtype, question.qclass)
    for record in (*message.answers, *message.authority, *message.additional):
        _encode_record(writer, record)
    if len(writer.data) > MAX_MESSAGE:
        raise DnsError("too_large", size=len(writer.data))
    return bytes(writer.data)


def opt_record(udp_size: int = 4096, *, do: bool = False, options: bytes = b"") -> Record:
    """An EDNS(0) OPT pseudo-record advertising ``udp_size``."""
    return Record((), TYPES["OPT"], udp_size, 0x8000 if do else 0, (options,))


def query(
    name: Name,
    qtype: int,
    *,
    qclass: int = 1,
    message_id: int,
    recursion: bool = True,
    udp_size: int = 4096,
) -> Message:
    """A query as Nuclei builds it: RD as asked, EDNS(0) with ``udp_size``, AD set for TXT."""
    header = Header(id=message_id, rd=recursion, ad=qtype == TYPES["TXT"])
    return Message(header, (Question(name, qtype, qclass),), additional=(opt_record(udp_size),))


# ------------------------------------------------------------------------- decoding


def _read_name(data: bytes, offset: int) -> tuple[Name, int]:
    """The name at ``offset`` and the offset after it in the original stream."""
    labels: list[bytes] = []
    position = offset
    segment_start = offset
    resume: int | None = None
    jumps = 0
    wire_length = 1
    while True:
        if position >= len(data):
            raise DnsError("truncated", offset=position)
        length = data[position]
        kind = length & 0xC0
        if kind == 0xC0:
            if position + 1 >= len(data):
                raise DnsError("truncated", offset=position)
            target = (length & 0x3F) << 8 | data[position + 1]
            # Pointers must lead strictly before the run of labels they end: each jump
            # then moves backwards, so no sequence of pointers can loop.
            if target >= segment_start:
                raise DnsError("pointer_forward", offset=position, target=target)
            jumps += 1
            if jumps > MAX_POINTER_JUMPS:
                raise DnsError("pointer_loop", offset=offset)
            if resume is None:
                resume = position + 2
            position = target
            segment_start = target
            continue
        if kind != 0:
            raise DnsError("label_type", offset=position, value=length)
        if length == 0:
            return tuple(labels), (resume if resume is not None else position + 1)
        end = position + 1 + length
        if end > len(data):
            raise DnsError("truncated", offset=position)
        wire_length += length + 1
        if wire_length > MAX_NAME:
            raise DnsError("name_too_long", name=name_text(tuple(labels))[:80])
        labels.append(data[position + 1 : end])
        position = end


def _read_field(data: bytes, kind: str, position: int, end: int) -> tuple[Field, int]:
    if kind in _INT_SIZES:
        size = _INT_SIZES[kind]
        if position + size > end:
            raise DnsError("rdata", offset=position)
        return int.from_bytes(data[position : position + size], "big"), position + size
    if kind in ("ipv4", "ipv6"):
        size = 4 if kind == "ipv4" else 16
        if end - position != size:
            raise DnsError("rdata", offset=position)
        return data[position:end], end
    if kind == "name":
        name, after = _read_name(data, position)
        if after > end:
            raise DnsError("rdata", offset=position)
        return name, after
    if kind == "string":
        if position >= end or position + 1 + data[position] > end:
            raise DnsError("rdata", offset=position)
        size = data[position]
        return data[position + 1 : position + 1 + size], position + 1 + size
    if kind == "strings":
        items: list[bytes] = []
        while position < end:
            size = data[position]
            if position + 1 + size > end:
                raise DnsError("rdata", offset=position)
            items.append(data[position + 1 : position + 1 + size])
            position += 1 + size
        return tuple(items), end
    return data[position:end], end


def _read_record(data: bytes, position: int) -> tuple[Record, int]:
    name, position = _read_name(data, position)
    if position + 10 > len(data):
        raise DnsError("truncated", offset=position)
    rtype, rclass, ttl, length = struct.unpack_from("!HHIH", data, position)
    position += 10
    end = position + length
    if end > len(data):
        raise DnsError("truncated", offset=position)
    fields: list[Field] = []
    for kind in schema(rtype):
        value, position = _read_field(data, kind, position, end)
        fields.append(value)
    if position != end:
        raise DnsError("rdata", offset=position)
    return Record(name, rtype, rclass, ttl, tuple(fields)), end


def decode_header(data: bytes) -> Header:
    """Only the header of ``data`` (enough to see the TC bit of a cut-off reply)."""
    if len(data) < _HEADER:
        raise DnsError("short", size=len(data))
    message_id, flags = struct.unpack_from("!HH", data, 0)
    return Header(
        id=message_id,
        qr=bool(flags & 0x8000),
        opcode=(flags >> 11) & 0xF,
        aa=bool(flags & 0x0400),
        tc=bool(flags & 0x0200),
        rd=bool(flags & 0x0100),
        ra=bool(flags & 0x0080),
        z=bool(flags & 0x0040),
        ad=bool(flags & 0x0020),
        cd=bool(flags & 0x0010),
        rcode=flags & 0xF,
    )


def decode_message(data: bytes) -> Message:
    """Decode ``data``; raises :class:`DnsError` (and nothing else) when it is malformed."""
    if len(data) > MAX_MESSAGE:
        raise DnsError("too_large", size=len(data))
    header = decode_header(data)
    qdcount, ancount, nscount, arcount = struct.unpack_from("!HHHH", data, 4)
    # Every entry needs a minimum number of bytes: reject impossible counts up front.
    needed = _HEADER + qdcount * _MIN_QUESTION + (ancount + nscount + arcount) * _MIN_RECORD
    if needed > len(data):
        raise DnsError("counts", size=len(data))
    position = _HEADER
    questions: list[Question] = []
    for _ in range(qdcount):
        name, position = _read_name(data, position)
        if position + 4 > len(data):
            raise DnsError("truncated", offset=position)
        qtype, qclass = struct.unpack_from("!HH", data, position)
        position += 4
        questions.append(Question(name, qtype, qclass))
    sections: list[tuple[Record, ...]] = []
    for count in (ancount, nscount, arcount):
        records: list[Record] = []
        for _ in range(count):
            record, position = _read_record(data, position)
            records.append(record)
        sections.append(tuple(records))
    return Message(header, tuple(questions), sections[0], sections[1], sections[2])


# ----------------------------------------------------------------- text (miekg/dns)


def type_text(rtype: int) -> str:
    """``A``, ``CNAME``, ... or ``TYPE1234`` for types without a name."""
    return TYPE_NAMES.get(rtype, f"TYPE{rtype}")


def class_text(rclass: int) -> str:
    """``IN``, ``CH``, ... or ``CLASS1234``."""
    return CLASS_NAMES.get(rclass, f"CLASS{rclass}")


def rcode_text(rcode: int) -> str:
    """``NOERROR``, ``NXDOMAIN``, ... or ``RCODE<n>`` for unassigned codes."""
    return RCODES.get(rcode, f"RCODE{rcode}")


def _txt(item: bytes) -> str:
    out = ['"']
    for byte in item:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif byte < 0x20 or byte > 0x7E:
            out.append(f"\\{byte:03d}")
        else:
            out.append(chr(byte))
    out.append('"')
    return "".join(out)


def _ipv6(data: bytes) -> str:
    # Go prints IPv4-mapped addresses dotted; miekg/dns then adds the "::ffff:" back.
    if data[:10] == bytes(10) and data[10:12] == b"\xff\xff":
        return "::ffff:" + str(ipaddress.IPv4Address(data[12:]))
    return str(ipaddress.IPv6Address(data))


def _dns_time(value: int) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y%m%d%H%M%S")


def _type_bitmap(data: bytes) -> list[str]:
    out: list[str] = []
    position = 0
    while position + 2 <= len(data):
        window, length = data[position], data[position + 1]
        bitmap = data[position + 2 : position + 2 + length]
        position += 2 + length
        for index, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.append(type_text(window * 256 + index * 8 + bit))
    return out


def _render_fields(record: Record) -> str:
    kinds = schema(record.rtype)
    data = record.data
    if record.rtype not in SCHEMAS:
        raw = data[0] if data and isinstance(data[0], bytes) else b""
        return f"\\# {len(raw)} {raw.hex()}"
    rtype = type_text(record.rtype)
    parts: list[str] = []
    for kind, value in zip(kinds, data, strict=True):
        if isinstance(value, int):
            parts.append(str(value))
        elif kind == "ipv4" and isinstance(value, bytes):
            parts.append(str(ipaddress.IPv4Address(value)))
        elif kind == "ipv6" and isinstance(value, bytes):
            parts.append(_ipv6(value))
        elif kind == "name" and isinstance(value, tuple):
            parts.append(name_text(value))
        elif kind == "strings" and isinstance(value, tuple):
            parts.append(" ".join(_txt(item) for item in value))
        elif kind == "string" and isinstance(value, bytes):
            # The CAA tag is printed bare, every other character-string quoted.
            parts.append(value.decode("latin-1") if rtype == "CAA" else _txt(value))
        elif isinstance(value, bytes):
            parts.append(_render_rest(rtype, value))
    if rtype == "RRSIG" and len(parts) >= 6 and isinstance(data[0], int):
        parts[0] = type_text(data[0])
        for index in (4, 5):
            value = data[index]
            if isinstance(value, int):
                parts[index] = _dns_time(value)
    return " ".join(parts)


def _render_rest(rtype: str, value: bytes) -> str:
    if rtype == "CAA":
        return _txt(value)
    if rtype in ("DS", "SSHFP"):
        return value.hex().upper()
    if rtype in ("DNSKEY", "RRSIG"):
        return base64.b64encode(value).decode("ascii")
    if rtype == "NSEC":
        return " ".join(_type_bitmap(value))
    return value.hex()


def record_header_text(record: Record) -> str:
    """``name.\\tTTL\\tCLASS\\tTYPE\\t`` (miekg/dns's RR_Header.String)."""
    if record.rtype not in SCHEMAS:
        # miekg/dns prints unknown types in the generic form of RFC 3597.
        return f"{name_text(record.name)}\t{record.ttl}\tCLASS{record.rclass}\tTYPE{record.rtype}\t"
    return (
        f"{name_text(record.name)}\t{record.ttl}\t{class_text(record.rclass)}\t"
        f"{type_text(record.rtype)}\t"
    )


def record_data_text(record: Record) -> str:
    """The RDATA part of :func:`record_text` (what Nuclei exposes as ``cname``, ``a``, ...)."""
    return _render_fields(record)


_EDNS_OPTIONS: dict[int, Callable[[bytes], str]] = {
    3: lambda value: f"; NSID: {value.hex()}",
    10: lambda value: f"; COOKIE: {value.hex()}",
    12: lambda value: f"; PADDING: {value.hex()}",
}


def _opt_text(record: Record) -> str:
    version = (record.ttl >> 16) & 0xFF
    flags = "flags: do; " if record.ttl & 0x8000 else "flags:; "
    text = f"\n;; OPT PSEUDOSECTION:\n; EDNS: version {version}; {flags}udp: {record.rclass}"
    options = record.data[0] if record.data and isinstance(record.data[0], bytes) else b""
    position = 0
    while position + 4 <= len(options):
        code, length = struct.unpack_from("!HH", options, position)
        value = options[position + 4 : position + 4 + length]
        position += 4 + length
        render = _EDNS_OPTIONS.get(code)
        text += "\n" + (render(value) if render else f"; LOCAL OPT: {code}:0x{value.hex()}")
    return text


def record_text(record: Record) -> str:
    """One record as a zone-file line, e.g. ``example.com.\\t300\\tIN\\tA\\t127.0.0.1``."""
    if record.rtype == TYPES["OPT"]:
        return _opt_text(record)
    return record_header_text(record) + record_data_text(record)


def question_text(question: Question) -> str:
    """miekg/dns's Question.String: ``;example.com.\\tIN\\t A``."""
    name, qclass = name_text(question.name), class_text(question.qclass)
    return f";{name}\t{qclass}\t {type_text(question.qtype)}"


def header_text(message: Message) -> str:
    """The two ``;;`` header lines of :func:`message_text`."""
    header = message.header
    flags = "".join(
        f" {name}"
        for name, on in (
            ("qr", header.qr),
            ("aa", header.aa),
            ("tc", header.tc),
            ("rd", header.rd),
            ("ra", header.ra),
            ("z", header.z),
            ("ad", header.ad),
            ("cd", header.cd),
        )
        if on
    )
    opcode = OPCODES.get(header.opcode, f"OPCODE{header.opcode}")
    return (
        f";; opcode: {opcode}, status: {rcode_text(message.rcode)}, id: {header.id}\n"
        f";; flags:{flags}; QUERY: {len(message.questions)}, ANSWER: {len(message.answers)}, "
        f"AUTHORITY: {len(message.authority)}, ADDITIONAL: {len(message.additional)}\n"
    )


def message_text(message: Message) -> str:
    """miekg/dns's Msg.String: the dig-like text Nuclei's ``raw`` part holds."""
    text = header_text(message)
    opt = message.opt
    if opt is not None:
        text += _opt_text(opt) + "\n"
    if message.questions:
        text += "\n;; QUESTION SECTION:\n"
        text += "".join(question_text(q) + "\n" for q in message.questions)
    for title, records in (("ANSWER", message.answers), ("AUTHORITY", message.authority)):
        if records:
            text += f"\n;; {title} SECTION:\n"
            text += "".join(record_text(r) + "\n" for r in records)
    extra = [r for r in message.additional if r.rtype != TYPES["OPT"]]
    if extra:
        text += "\n;; ADDITIONAL SECTION:\n"
        text += "".join(record_text(r) + "\n" for r in extra)
    return text


def records_text(records: Sequence[Record]) -> str:
    """The records of one section, one line each (Nuclei's ``answer``, ``ns``, ``extra``)."""
    return "\n".join(record_text(record) for record in records)
