"""A minimal BSON codec (bsonspec.org 1.1) for the MongoDB checks.

Decoding is for untrusted input: every length is checked against the buffer, nesting is
bounded, and anything malformed raises :class:`BsonError` (a ProtocolError), never
IndexError or struct.error. Values decode to plain Python: documents to dicts, arrays to
lists, binary and decimal128 to bytes, ObjectId to its hex string, dates and timestamps to
integers, min/max key and undefined to None.
"""

from __future__ import annotations

import struct
from typing import Any

from shaobing.scan.credentials._stream import ProtocolError

_MAX_DEPTH = 32
_INT32 = struct.Struct("<i")
_INT64 = struct.Struct("<q")
_UINT64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")


class BsonError(ProtocolError):
    """Malformed BSON."""


def encode(document: dict[str, Any]) -> bytes:
    """Encode a document of str/int/float/bool/None/bytes/dict/list values."""
    body = b"".join(_element(key, value) for key, value in document.items())
    return _INT32.pack(len(body) + 5) + body + b"\0"


def _element(key: str, value: Any) -> bytes:
    name = key.encode() + b"\0"
    if isinstance(value, bool):
        return b"\x08" + name + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"\x10" + name + _INT32.pack(value)
        return b"\x12" + name + _INT64.pack(value)
    if isinstance(value, float):
        return b"\x01" + name + _DOUBLE.pack(value)
    if isinstance(value, str):
        data = value.encode() + b"\0"
        return b"\x02" + name + _INT32.pack(len(data)) + data
    if isinstance(value, bytes):
        return b"\x05" + name + _INT32.pack(len(value)) + b"\x00" + value
    if isinstance(value, dict):
        return b"\x03" + name + encode(value)
    if isinstance(value, list):
        return b"\x04" + name + encode({str(i): item for i, item in enumerate(value)})
    if value is None:
        return b"\x0a" + name
    raise TypeError(f"cannot encode {type(value).__name__} as BSON")


def decode(data: bytes) -> dict[str, Any]:
    """Decode one document that fills ``data`` exactly."""
    document, end = decode_at(data, 0)
    if end != len(data):
        raise BsonError("trailing bytes after document")
    return document


def decode_at(
    data: bytes, pos: int, depth: int = 0, limit: int | None = None
) -> tuple[dict[str, Any], int]:
    """Decode the document starting at ``pos`` (ending by ``limit``); returns it and the
    position after it."""
    if depth > _MAX_DEPTH:
        raise BsonError("documents nested too deeply")
    bound = len(data) if limit is None else limit
    size = _read(_INT32, data, pos)
    end = pos + size
    if size < 5 or end > bound or data[end - 1] != 0:
        raise BsonError("document length out of bounds")
    out: dict[str, Any] = {}
    pos += 4
    while pos < end - 1:
        kind = data[pos]
        key, pos = _cstring(data, pos + 1, end)
        out[key], pos = _value(kind, data, pos, end, depth)
    if pos != end - 1:
        raise BsonError("element overruns document")
    return out, end


def _read(fmt: struct.Struct, data: bytes, pos: int) -> Any:
    if pos < 0 or pos + fmt.size > len(data):
        raise BsonError("value truncated")
    return fmt.unpack_from(data, pos)[0]


def _cstring(data: bytes, pos: int, end: int) -> tuple[str, int]:
    stop = data.find(b"\0", pos, end)
    if stop < 0:
        raise BsonError("unterminated name")
    return data[pos:stop].decode("utf-8", "replace"), stop + 1


def _string(data: bytes, pos: int, end: int) -> tuple[str, int]:
    size = _read(_INT32, data, pos)
    stop = pos + 4 + size
    if size < 1 or stop > end or data[stop - 1] != 0:
        raise BsonError("string length out of bounds")
    return data[pos + 4 : stop - 1].decode("utf-8", "replace"), stop


def _fixed(data: bytes, pos: int, end: int, size: int) -> tuple[bytes, int]:
    if pos + size > end:
        raise BsonError("value truncated")
    return data[pos : pos + size], pos + size


def _value(kind: int, data: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    if kind == 0x01:
        raw, pos = _fixed(data, pos, end, 8)
        return _DOUBLE.unpack(raw)[0], pos
    if kind in (0x02, 0x0D, 0x0E):
        return _string(data, pos, end)
    if kind in (0x03, 0x04):
        child, after = decode_at(data, pos, depth + 1, end)
        return (list(child.values()) if kind == 0x04 else child), after
    if kind == 0x05:
        size = _read(_INT32, data, pos)
        if size < 0:
            raise BsonError("binary length negative")
        return _fixed(data, pos + 5, end, size)
    if kind in (0x06, 0x0A, 0x7F, 0xFF):
        return None, pos
    if kind == 0x07:
        raw, pos = _fixed(data, pos, end, 12)
        return raw.hex(), pos
    if kind == 0x08:
        raw, pos = _fixed(data, pos, end, 1)
        return raw != b"\x00", pos
    if kind in (0x09, 0x12):
        raw, pos = _fixed(data, pos, end, 8)
        return _INT64.unpack(raw)[0], pos
    if kind == 0x11:
        raw, pos = _fixed(data, pos, end, 8)
        return _UINT64.unpack(raw)[0], pos
    if kind == 0x10:
        raw, pos = _fixed(data, pos, end, 4)
        return _INT32.unpack(raw)[0], pos
    if kind == 0x13:
        return _fixed(data, pos, end, 16)
    if kind == 0x0B:
        pattern, pos = _cstring(data, pos, end)
        _, pos = _cstring(data, pos, end)
        return pattern, pos
    if kind == 0x0C:
        text, pos = _string(data, pos, end)
        _, pos = _fixed(data, pos, end, 12)
        return text, pos
    if kind == 0x0F:
        size = _read(_INT32, data, pos)
        stop = pos + size
        if size < 14 or stop > end:
            raise BsonError("code with scope out of bounds")
        code, after = _string(data, pos + 4, stop)
        _, after = decode_at(data, after, depth + 1, stop)
        if after != stop:
            raise BsonError("code with scope length mismatch")
        return code, stop
    raise BsonError(f"unknown BSON type 0x{kind:02x}")
