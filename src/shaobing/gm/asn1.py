"""A small, strict DER codec (ITU-T X.690) for certificates, keys and signatures.

Only the subset X.509 needs: single-octet tags, definite minimal lengths, and the
universal types below. Anything DER forbids (indefinite or padded lengths, non-minimal
integers, constructed strings, trailing bytes) is refused, so one certificate has
exactly one encoding and the bytes that were signed are the bytes that were parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
T61_STRING = 0x14
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31

CONSTRUCTED = 0x20
CONTEXT = 0x80

# Certificates and keys are a few kilobytes; a bound on the input and on nesting keeps a
# hostile upload from costing more than a bounded amount of work.
MAX_INPUT = 64 * 1024
MAX_DEPTH = 20
# Four length octets already allow 4 GiB, far past MAX_INPUT.
_MAX_LENGTH_OCTETS = 4

_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")
_UTC_TIME = re.compile(rb"(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z")
_GENERALIZED_TIME = re.compile(rb"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z")


class DerError(ValidationError):
    """Bytes that are not valid DER (or not the expected structure)."""


def _fail(detail_key: str, offset: int | None = None, **kw: object) -> DerError:
    detail = t(f"gm.der.{detail_key}", **kw)
    if offset is None:
        return DerError(t("gm.der.invalid", detail=detail))
    return DerError(t("gm.der.invalid_at", detail=detail, offset=offset))


@dataclass(frozen=True)
class Node:
    """One decoded TLV: its identifier octet, contents, full encoding and children."""

    tag: int
    value: bytes = field(repr=False)
    raw: bytes = field(repr=False)
    children: tuple[Node, ...] = ()

    @property
    def constructed(self) -> bool:
        """Whether the contents are a series of TLVs."""
        return bool(self.tag & CONSTRUCTED)


def decode(data: bytes, *, max_size: int = MAX_INPUT) -> Node:
    """Decode exactly one DER element; refuse trailing bytes, oversize input and deep nesting."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _fail("not_bytes")
    buf = bytes(data)
    if len(buf) > max_size:
        raise _fail("too_large", size=len(buf), limit=max_size)
    node, end = _parse(buf, 0, len(buf), 0)
    if end != len(buf):
        raise _fail("trailing", end, count=len(buf) - end)
    return node


def _parse(buf: bytes, pos: int, limit: int, depth: int) -> tuple[Node, int]:
    if depth > MAX_DEPTH:
        raise _fail("too_deep", pos, limit=MAX_DEPTH)
    if pos + 2 > limit:
        raise _fail("truncated", pos)
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise _fail("high_tag", pos)
    first = buf[pos + 1]
    start = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise _fail("indefinite", pos)
    else:
        count = first & 0x7F
        if count > _MAX_LENGTH_OCTETS or start + count > limit:
            raise _fail("bad_length", pos)
        length_bytes = buf[start : start + count]
        if length_bytes[0] == 0:
            raise _fail("bad_length", pos)
        length = int.from_bytes(length_bytes, "big")
        if length < 0x80:
            raise _fail("bad_length", pos)
        start += count
    end = start + length
    if end > limit:
        raise _fail("truncated", pos)
    value = buf[start:end]
    children: list[Node] = []
    if tag & CONSTRUCTED:
        if tag & 0xC0 == 0 and tag not in (SEQUENCE, SET):
            raise _fail("constructed_primitive", pos, tag=f"{tag:#04x}")
        cursor = start
        while cursor < end:
            child, cursor = _parse(buf, cursor, end, depth + 1)
            children.append(child)
    else:
        if tag in (SEQUENCE & ~CONSTRUCTED, SET & ~CONSTRUCTED):
            raise _fail("primitive_sequence", pos)
        _check_primitive(tag, value, pos)
    return Node(tag, value, buf[pos:end], tuple(children)), end


def _check_primitive(tag: int, value: bytes, pos: int) -> None:
    if tag == BOOLEAN and (len(value) != 1 or value[0] not in (0x00, 0xFF)):
        raise _fail("bad_boolean", pos)
    if tag == NULL and value:
        raise _fail("bad_null", pos)
    if tag == INTEGER:
        _check_integer(value, pos)
    if tag == BIT_STRING:
        _check_bit_string(value, pos)
    if tag == OID:
        _oid_text(value, pos)


def _check_integer(value: bytes, pos: int) -> None:
    if not value:
        raise _fail("bad_integer", pos)
    if len(value) > 1 and (
        (value[0] == 0x00 and value[1] < 0x80) or (value[0] == 0xFF and value[1] >= 0x80)
    ):
        raise _fail("bad_integer", pos)


def _check_bit_string(value: bytes, pos: int) -> None:
    if not value or value[0] > 7 or (len(value) == 1 and value[0] != 0):
        raise _fail("bad_bit_string", pos)
    unused = value[0]
    if unused and value[-1] & ((1 << unused) - 1):
        raise _fail("bad_bit_string", pos)


def _oid_text(value: bytes, pos: int) -> str:
    if not value or value[-1] & 0x80:
        raise _fail("bad_oid", pos)
    arcs: list[int] = []
    current = 0
    fresh = True
    for octet in value:
        if fresh and octet == 0x80:
            raise _fail("bad_oid", pos)
        current = (current << 7) | (octet & 0x7F)
        fresh = not octet & 0x80
        if fresh:
            arcs.append(current)
            current = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


# --- reading -----------------------------------------------------------------------------


def expect(node: Node, tag: int, what: str) -> Node:
    """Return ``node`` if it has ``tag``; otherwise refuse, naming ``what`` was expected."""
    if node.tag != tag:
        raise _fail("unexpected", what=what, tag=f"{node.tag:#04x}")
    return node


def children(node: Node, what: str, *, minimum: int, maximum: int) -> tuple[Node, ...]:
    """The children of a constructed ``node``, refusing a count outside the bounds."""
    if not node.constructed or not minimum <= len(node.children) <= maximum:
        raise _fail("bad_structure", what=what)
    return node.children


def read_int(node: Node) -> int:
    """An INTEGER's value."""
    expect(node, INTEGER, "INTEGER")
    return int.from_bytes(node.value, "big", signed=True)


def read_oid(node: Node) -> str:
    """An OBJECT IDENTIFIER in dotted form."""
    expect(node, OID, "OBJECT IDENTIFIER")
    return _oid_text(node.value, 0)


def read_bool(node: Node) -> bool:
    """A BOOLEAN's value."""
    expect(node, BOOLEAN, "BOOLEAN")
    return node.value[0] == 0xFF


def read_bits(node: Node) -> tuple[bytes, int]:
    """A BIT STRING's octets and the count of unused bits in the last one."""
    expect(node, BIT_STRING, "BIT STRING")
    return node.value[1:], node.value[0]


def read_octets(node: Node) -> bytes:
    """An OCTET STRING's contents."""
    return expect(node, OCTET_STRING, "OCTET STRING").value


def read_text(node: Node) -> str:
    """The text of a directory string (UTF8String, PrintableString, IA5String, ...)."""
    try:
        if node.tag == UTF8_STRING:
            return node.value.decode("utf-8")
        if node.tag == PRINTABLE_STRING:
            text = node.value.decode("ascii")
            if not _PRINTABLE.fullmatch(text):
                raise _fail("bad_string")
            return text
        if node.tag == IA5_STRING:
            return node.value.decode("ascii")
        if node.tag == BMP_STRING:
            return node.value.decode("utf-16-be")
        if node.tag == T61_STRING:
            return node.value.decode("latin-1")
    except UnicodeDecodeError:
        raise _fail("bad_string") from None
    raise _fail("unexpected", what="string", tag=f"{node.tag:#04x}")


def read_time(node: Node) -> datetime:
    """A UTCTime or GeneralizedTime in the DER form (``...Z``, whole seconds), as UTC."""
    if node.tag == UTC_TIME:
        match = _UTC_TIME.fullmatch(node.value)
        if not match:
            raise _fail("bad_time")
        yy = int(match[1])
        # RFC 5280 4.1.2.5.1: two-digit years 50-99 are 19xx, 00-49 are 20xx.
        year = 1900 + yy if yy >= 50 else 2000 + yy
        rest = [int(g) for g in match.groups()[1:]]
    elif node.tag == GENERALIZED_TIME:
        match = _GENERALIZED_TIME.fullmatch(node.value)
        if not match:
            raise _fail("bad_time")
        year, *rest = (int(g) for g in match.groups())
    else:
        raise _fail("unexpected", what="Time", tag=f"{node.tag:#04x}")
    try:
        return datetime(year, rest[0], rest[1], rest[2], rest[3], rest[4], tzinfo=UTC)
    except ValueError:
        raise _fail("bad_time") from None


# --- writing -----------------------------------------------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    """One element: identifier, minimal definite length, contents."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def integer(value: int) -> bytes:
    """INTEGER in minimal two's complement."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def sequence(*parts: bytes) -> bytes:
    """SEQUENCE of already-encoded elements."""
    return tlv(SEQUENCE, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    """SET OF, with members sorted by encoding as DER requires."""
    return tlv(SET, b"".join(sorted(parts)))


def octet_string(data: bytes) -> bytes:
    """OCTET STRING."""
    return tlv(OCTET_STRING, data)


def bit_string(data: bytes, unused: int = 0) -> bytes:
    """BIT STRING with ``unused`` padding bits in the last octet."""
    return tlv(BIT_STRING, bytes((unused,)) + data)


def boolean(value: bool) -> bytes:
    """BOOLEAN (DER: TRUE is 0xFF)."""
    return tlv(BOOLEAN, b"\xff" if value else b"\x00")


def null() -> bytes:
    """NULL."""
    return tlv(NULL, b"")


def utf8_string(text: str) -> bytes:
    """UTF8String."""
    return tlv(UTF8_STRING, text.encode("utf-8"))


def time(moment: datetime) -> bytes:
    """UTCTime before 2050, GeneralizedTime from 2050 (RFC 5280 4.1.2.5), in UTC."""
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return tlv(UTC_TIME, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return tlv(GENERALIZED_TIME, f"{moment.year:04d}{moment:%m%d%H%M%S}Z".encode("ascii"))


def explicit(number: int, inner: bytes) -> bytes:
    """A context-specific EXPLICIT tag around one encoded element."""
    return tlv(CONTEXT | CONSTRUCTED | number, inner)


def implicit(number: int, content: bytes, *, constructed: bool = False) -> bytes:
    """A context-specific IMPLICIT tag around raw contents."""
    return tlv(CONTEXT | (CONSTRUCTED if constructed else 0) | number, content)
