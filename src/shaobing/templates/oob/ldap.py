"""Just enough BER to read an LDAP bindRequest/searchRequest and answer a bind.

JNDI clients (Log4j ``${jndi:ldap://...}``) bind first and send the searchRequest that
carries the looked-up DN only after a successful bindResponse. Every read is checked
against the buffer; definite lengths only (LDAP forbids the indefinite form, RFC 4511
5.1), low tag numbers only, nesting walked iteratively.
"""

from __future__ import annotations

from dataclasses import dataclass

# Tags of RFC 4511 4.2-4.5 (APPLICATION class, constructed unless noted).
TAG_SEQUENCE = 0x30
TAG_INTEGER = 0x02
TAG_OCTETS = 0x04
TAG_ENUM = 0x0A
TAG_BIND_REQUEST = 0x60
TAG_BIND_RESPONSE = 0x61
TAG_UNBIND = 0x42  # primitive
TAG_SEARCH = 0x63
OPERATIONS = {
    TAG_BIND_REQUEST: "Bind",
    TAG_BIND_RESPONSE: "BindResponse",
    TAG_UNBIND: "Unbind",
    TAG_SEARCH: "Search",
    0x66: "Modify",
    0x68: "Add",
    0x4A: "Delete",
    0x77: "Extended",
}
# Length fields of more than four octets would describe messages far above our cap.
MAX_LENGTH_OCTETS = 4


class BerError(ValueError):
    """Bytes that are not the BER this reader accepts."""


@dataclass(frozen=True)
class Element:
    """One TLV: its tag, where its content starts and where the element ends."""

    tag: int
    start: int
    end: int


def read_element(data: bytes, offset: int) -> Element | None:
    """The TLV at ``offset``; None when more bytes are needed. Raises BerError."""
    if offset >= len(data):
        return None
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise BerError("high tag numbers are not used by LDAP")
    if offset + 1 >= len(data):
        return None
    first = data[offset + 1]
    position = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise BerError("indefinite length")
        if count > MAX_LENGTH_OCTETS:
            raise BerError("length field too long")
        if position + count > len(data):
            return None
        length = int.from_bytes(data[position : position + count], "big")
        position += count
    end = position + length
    return Element(tag, position, end)


def message_size(data: bytes) -> int | None:
    """Octets of the first LDAPMessage in ``data`` (None while its header is incomplete)."""
    element = read_element(data, 0)
    if element is None:
        return None
    if element.tag != TAG_SEQUENCE:
        raise BerError("an LDAPMessage is a SEQUENCE")
    return element.end


def _child(data: bytes, offset: int, end: int) -> Element:
    element = read_element(data, offset)
    if element is None or element.end > end:
        raise BerError("element runs past its parent")
    return element


@dataclass(frozen=True)
class Message:
    """One LDAPMessage: its id (encoded octets, echoed in the answer) and operation."""

    message_id: bytes
    operation: int
    name: str = ""
    """The bind name or the search base DN."""
    version: int | None = None

    @property
    def operation_name(self) -> str:
        """The operation's name (``Bind``, ``Search``, ...)."""
        return OPERATIONS.get(self.operation, f"0x{self.operation:02x}")

    def describe(self) -> str:
        """Lines in the shape interactsh uses for LDAP (``Type=Search``, ``BaseDN=...``)."""
        lines = [f"Type={self.operation_name}"]
        if self.operation == TAG_BIND_REQUEST:
            lines += [f"Version={self.version}", f"Name={self.name}"]
        elif self.operation == TAG_SEARCH:
            lines.append(f"BaseDN={self.name}")
        return "\n".join(lines)


def parse_message(data: bytes) -> Message:
    """Read one complete LDAPMessage (``data`` holds exactly it). Raises BerError."""
    outer = read_element(data, 0)
    if outer is None or outer.tag != TAG_SEQUENCE or outer.end > len(data):
        raise BerError("incomplete LDAPMessage")
    ident = _child(data, outer.start, outer.end)
    if ident.tag != TAG_INTEGER or not 0 < ident.end - ident.start <= 4:
        raise BerError("bad messageID")
    message_id = data[ident.start : ident.end]
    op = _child(data, ident.end, outer.end)
    if op.tag == TAG_BIND_REQUEST:
        version = _child(data, op.start, op.end)
        if version.tag != TAG_INTEGER or not 0 < version.end - version.start <= 4:
            raise BerError("bad bind version")
        name = _child(data, version.end, op.end)
        if name.tag != TAG_OCTETS:
            raise BerError("bad bind name")
        return Message(
            message_id,
            op.tag,
            _text(data[name.start : name.end]),
            int.from_bytes(data[version.start : version.end], "big"),
        )
    if op.tag == TAG_SEARCH:
        base = _child(data, op.start, op.end)
        if base.tag != TAG_OCTETS:
            raise BerError("bad search base")
        return Message(message_id, op.tag, _text(data[base.start : base.end]))
    return Message(message_id, op.tag)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def bind_success(message_id: bytes) -> bytes:
    """A bindResponse with resultCode success for the request ``message_id``."""
    result = _tlv(TAG_ENUM, b"\x00") + _tlv(TAG_OCTETS, b"") + _tlv(TAG_OCTETS, b"")
    return _tlv(TAG_SEQUENCE, _tlv(TAG_INTEGER, message_id) + _tlv(TAG_BIND_RESPONSE, result))
