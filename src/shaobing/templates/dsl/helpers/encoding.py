"""Encoding, hashing and compression helpers (outputs of binary helpers are bytes)."""

from __future__ import annotations

import base64 as b64
import binascii
import gzip as gzip_module
import hashlib
import hmac as hmac_module
import html
import io
import json
import struct
import urllib.parse
import zipfile
import zlib as zlib_module
from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.helpers.mmh3 import mmh3_signed
from shaobing.templates.dsl.helpers.registry import helper
from shaobing.templates.dsl.values import (
    as_bytes,
    as_text,
    check_length,
    render,
    short,
)

#: Decompression output cap (Nuclei uses the same 10 MB) against decompression bombs.
MAX_DECOMPRESSED = 10 * 1024 * 1024


def _fail(error: Exception) -> HelperFailure:
    return HelperFailure(detail("bad_argument", value=short(str(error))))


@helper("base64", 1)
def base64(args: list[Any]) -> str:
    """Standard base64 with padding."""
    return b64.b64encode(as_bytes(args[0])).decode("ascii")


@helper("base64_py", 1)
def base64_py(args: list[Any]) -> str:
    """Base64 as Python's encodebytes writes it: 76-character lines, each ending in \\n."""
    return b64.encodebytes(as_bytes(args[0])).decode("ascii")


@helper("base64_decode", 1)
def base64_decode(args: list[Any]) -> bytes:
    """Decode standard base64 (strict, like Go's StdEncoding)."""
    try:
        return b64.b64decode(as_bytes(args[0]), validate=True)
    except (binascii.Error, ValueError) as error:
        raise _fail(error) from None


@helper("url_encode", 1)
def url_encode(args: list[Any]) -> str:
    """Query-escape like Go's url.QueryEscape (space as +)."""
    return urllib.parse.quote_plus(as_bytes(args[0]), safe="")


@helper("url_decode", 1)
def url_decode(args: list[Any]) -> str:
    """Query-unescape (+ as space)."""
    return urllib.parse.unquote_plus(as_text(args[0]), errors="surrogateescape")


@helper("hex_encode", 1)
def hex_encode(args: list[Any]) -> str:
    """Lower-case hexadecimal of the input bytes."""
    return as_bytes(args[0]).hex()


@helper("hex_decode", 1)
def hex_decode(args: list[Any]) -> bytes:
    """Decode hexadecimal into bytes."""
    try:
        return bytes.fromhex(as_text(args[0]))
    except ValueError as error:
        raise _fail(error) from None


@helper("html_escape", 1)
def html_escape(args: list[Any]) -> str:
    """Escape <, >, &, ' and \" as Go's html.EscapeString does."""
    text = as_text(args[0])
    for raw, escaped in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, escaped)
    return text.replace('"', "&#34;")


@helper("html_unescape", 1)
def html_unescape(args: list[Any]) -> str:
    """Resolve HTML character references."""
    return html.unescape(as_text(args[0]))


def _digest(name: str, args: list[Any]) -> str:
    return hashlib.new(name, as_bytes(args[0])).hexdigest()


@helper("md5", 1)
def md5(args: list[Any]) -> str:
    """Hex MD5 of the input."""
    return _digest("md5", args)


@helper("sha1", 1)
def sha1(args: list[Any]) -> str:
    """Hex SHA-1 of the input."""
    return _digest("sha1", args)


@helper("sha256", 1)
def sha256(args: list[Any]) -> str:
    """Hex SHA-256 of the input."""
    return _digest("sha256", args)


@helper("sha512", 1)
def sha512(args: list[Any]) -> str:
    """Hex SHA-512 of the input."""
    return _digest("sha512", args)


@helper("mmh3", 1)
def mmh3(args: list[Any]) -> str:
    """Signed 32-bit MurmurHash3 as decimal text (favicon hashes: mmh3(base64_py(body)))."""
    return str(mmh3_signed(as_bytes(args[0])))


@helper("crc32", 1)
def crc32(args: list[Any]) -> int:
    """IEEE CRC-32 of the input as an unsigned integer."""
    return zlib_module.crc32(as_bytes(args[0]))


@helper("hmac", 3)
def hmac(args: list[Any]) -> str:
    """Hex HMAC with sha1, sha256 or sha512 (algorithm, data, secret)."""
    algorithm = as_text(args[0]).lower().replace("-", "")
    if algorithm not in ("sha1", "sha256", "sha512", "md5"):
        raise HelperFailure(detail("bad_algorithm", value=short(algorithm)))
    return hmac_module.new(as_bytes(args[2]), as_bytes(args[1]), algorithm).hexdigest()


def _bounded_decompress(decompressor: Any, data: bytes) -> bytes:
    try:
        out = decompressor.decompress(data, MAX_DECOMPRESSED + 1)
    except (zlib_module.error, EOFError, OSError) as error:
        raise _fail(error) from None
    if len(out) > MAX_DECOMPRESSED:
        raise HelperFailure(detail("decompressed_too_large", limit=MAX_DECOMPRESSED))
    return bytes(out)


@helper("gzip", 1)
def gzip(args: list[Any]) -> bytes:
    """Gzip-compress the input (mtime 0, so the output is reproducible)."""
    return gzip_module.compress(as_bytes(args[0]), mtime=0)


@helper("gzip_decode", 1)
def gzip_decode(args: list[Any]) -> bytes:
    """Gunzip the input (bounded output)."""
    return _bounded_decompress(
        zlib_module.decompressobj(16 + zlib_module.MAX_WBITS), as_bytes(args[0])
    )


@helper("zlib", 1)
def zlib(args: list[Any]) -> bytes:
    """Zlib-compress the input."""
    return zlib_module.compress(as_bytes(args[0]))


@helper("zlib_decode", 1)
def zlib_decode(args: list[Any]) -> bytes:
    """Zlib-decompress the input (bounded output)."""
    return _bounded_decompress(zlib_module.decompressobj(), as_bytes(args[0]))


@helper("deflate", 1)
def deflate(args: list[Any]) -> bytes:
    """Raw DEFLATE-compress the input."""
    compressor = zlib_module.compressobj(wbits=-zlib_module.MAX_WBITS)
    return compressor.compress(as_bytes(args[0])) + compressor.flush()


@helper("inflate", 1)
def inflate(args: list[Any]) -> bytes:
    """Raw DEFLATE-decompress the input (bounded output)."""
    return _bounded_decompress(zlib_module.decompressobj(-zlib_module.MAX_WBITS), as_bytes(args[0]))


@helper("zip", 2, None)
def zip_(args: list[Any]) -> bytes:
    """Build a zip archive in memory from (file name, content) pairs."""
    if len(args) % 2:
        raise HelperFailure(detail("bad_argument", value=len(args)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(0, len(args), 2):
            archive.writestr(as_text(args[i]), as_bytes(args[i + 1]))
    result = buffer.getvalue()
    check_length(result)
    return result


@helper("xor", 2, None)
def xor(args: list[Any]) -> bytes:
    """Byte-wise XOR of equally long inputs."""
    blobs = [as_bytes(arg) for arg in args]
    if len({len(blob) for blob in blobs}) != 1:
        raise HelperFailure(detail("bad_argument", value=[len(b) for b in blobs]))
    result = bytearray(blobs[0])
    for blob in blobs[1:]:
        for i, byte in enumerate(blob):
            result[i] ^= byte
    return bytes(result)


@helper("json_minify", 1)
def json_minify(args: list[Any]) -> str:
    """Re-serialise JSON without white space (keys sorted, as Go's map marshalling)."""
    try:
        data = json.loads(as_text(args[0]))
    except ValueError as error:
        raise _fail(error) from None
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@helper("json_prettify", 1)
def json_prettify(args: list[Any]) -> str:
    """Re-serialise JSON indented by four spaces, keeping key order."""
    try:
        data = json.loads(as_text(args[0]))
    except ValueError as error:
        raise _fail(error) from None
    return json.dumps(data, indent=4, ensure_ascii=False)


@helper("unpack", 2)
def unpack(args: list[Any]) -> Any:
    """Unpack the first value of a Python struct format (byte order + one type code)."""
    fmt = as_text(args[0])
    order = fmt[0] if fmt[:1] in ("<", ">", "!", "=", "@") else ""
    code = fmt[len(order) : len(order) + 1]
    try:
        value = struct.unpack_from(order + code, as_bytes(args[1]))[0]
    except (struct.error, ValueError) as error:
        raise _fail(error) from None
    return value.decode("latin-1") if isinstance(value, bytes) else value


@helper("to_number", 1)
def to_number(args: list[Any]) -> int | float:
    """Parse decimal text as a number."""
    text = render(args[0]).strip()
    try:
        return int(text) if text.lstrip("+-").isdigit() and len(text) < 19 else float(text)
    except ValueError:
        raise HelperFailure(detail("not_a_number", value=short(text))) from None
