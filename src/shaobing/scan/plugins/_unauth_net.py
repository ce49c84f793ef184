"""Small read-only protocol clients for the unauthorised-access checks.

HTTP/1.0 GET (optionally over TLS without certificate verification: the question is
whether the service answers, not who it is), ZooKeeper four-letter words and the
``getChildren`` request, and the rsync daemon's module listing and module greeting. Every
connection comes from the check context; every read is bounded in size and time
(:class:`~shaobing.scan.credentials._stream.Stream`). Errors surface as OSError or
ProtocolError for the caller to treat as "not accessible".
"""

from __future__ import annotations

import ssl
import struct
from dataclasses import dataclass

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials._stream import ProtocolError, Stream

_HTTP_LIMIT = 512 * 1024
_HEADER_LIMIT = 16 * 1024
_ZK_LIMIT = 256 * 1024
_RSYNC_LINES = 200


@dataclass(frozen=True)
class HttpResponse:
    """Status, lower-cased headers and the (possibly truncated) body."""

    status: int
    headers: dict[str, str]
    body: bytes


def _open(ctx: CheckContext, target: ServiceTarget, tls: bool) -> Stream:
    sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # reachability, not identity, is the question
        try:
            sock = context.wrap_socket(sock)
        except (OSError, ValueError):
            sock.close()
            raise
    return Stream(sock, ctx.timeout)


def _dechunk(body: bytes) -> bytes:
    out, pos = bytearray(), 0
    while pos < len(body):
        end = body.find(b"\r\n", pos)
        if end < 0:
            break
        try:
            size = int(body[pos:end].split(b";")[0], 16)
        except ValueError:
            raise ProtocolError("bad chunk size") from None
        if size == 0:
            break
        out += body[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2
    return bytes(out)


def parse_http(raw: bytes) -> HttpResponse:
    """Parse a raw HTTP/1.x response (headers and body); ProtocolError if it is not one."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ProtocolError("no end of HTTP headers")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError("not an HTTP response")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    return HttpResponse(int(parts[1]), headers, body)


def http_get(ctx: CheckContext, target: ServiceTarget, path: str) -> HttpResponse:
    """GET ``path`` with HTTP/1.0 (TLS when ``target.tls``); reads until close or the cap."""
    stream = _open(ctx, target, target.tls)
    try:
        host = f"[{target.address}]" if ":" in target.address else target.address
        stream.send(
            f"GET {path} HTTP/1.0\r\nHost: {host}:{target.port}\r\n"
            "User-Agent: shaobing\r\nAccept: application/json\r\nConnection: close\r\n\r\n".encode()
        )
        deadline = stream.deadline()
        raw = bytearray()
        while len(raw) < _HTTP_LIMIT:
            try:
                raw += stream.read_some(_HTTP_LIMIT - len(raw), deadline)
            except ProtocolError:
                break  # the server closed the connection: the response is complete
            if b"\r\n\r\n" not in raw and len(raw) > _HEADER_LIMIT:
                raise ProtocolError("HTTP headers too long")
        return parse_http(bytes(raw))
    finally:
        stream.close()


def zk_four_letter(ctx: CheckContext, target: ServiceTarget, word: str) -> str:
    """Send a four-letter word; the server answers and closes. Text, at most 64 KB."""
    stream = _open(ctx, target, False)
    try:
        stream.send(word.encode("ascii"))
        deadline = stream.deadline()
        raw = bytearray()
        while len(raw) < 65536:
            try:
                raw += stream.read_some(65536 - len(raw), deadline)
            except ProtocolError:
                break
        return raw.decode("utf-8", "replace")
    finally:
        stream.close()


def _zk_frame(stream: Stream) -> bytes:
    deadline = stream.deadline()
    length = struct.unpack("!i", stream.read_exact(4, deadline))[0]
    if not 0 <= length <= _ZK_LIMIT:
        raise ProtocolError(f"ZooKeeper frame of {length} bytes")
    return stream.read_exact(length, deadline)


def _zk_string(data: bytes, pos: int) -> tuple[str, int]:
    if pos + 4 > len(data):
        raise ProtocolError("ZooKeeper string truncated")
    size = struct.unpack_from("!i", data, pos)[0]
    if size < 0 or pos + 4 + size > len(data):
        raise ProtocolError("ZooKeeper string out of bounds")
    return data[pos + 4 : pos + 4 + size].decode("utf-8", "replace"), pos + 4 + size


def parse_zk_children(frame: bytes) -> tuple[int, list[str]]:
    """(error code, child names) from a getChildren reply frame."""
    if len(frame) < 16:
        raise ProtocolError("ZooKeeper reply truncated")
    _xid, _zxid, error = struct.unpack_from("!iqi", frame)
    if error != 0:
        return error, []
    if len(frame) < 20:
        raise ProtocolError("ZooKeeper children truncated")
    count = struct.unpack_from("!i", frame, 16)[0]
    if not 0 <= count <= 100_000:
        raise ProtocolError("ZooKeeper child count out of bounds")
    names, pos = [], 20
    for _ in range(count):
        name, pos = _zk_string(frame, pos)
        names.append(name)
    return 0, names


def zk_children(ctx: CheckContext, target: ServiceTarget, path: str = "/") -> tuple[int, list[str]]:
    """Open an anonymous session, list the children of ``path``, close the session.

    Returns (ZooKeeper error code, names); code -102 (NOAUTH) means an ACL protects it.
    """
    stream = _open(ctx, target, False)
    try:
        timeout_ms = int(ctx.timeout * 1000) or 1
        connect = struct.pack("!iqiqi", 0, 0, timeout_ms, 0, 16) + b"\0" * 16 + b"\0"
        stream.send(struct.pack("!i", len(connect)) + connect)
        reply = _zk_frame(stream)
        if len(reply) < 16:
            raise ProtocolError("ZooKeeper connect reply truncated")
        encoded = path.encode()
        request = struct.pack("!iii", 1, 8, len(encoded)) + encoded + b"\0"
        stream.send(struct.pack("!i", len(request)) + request)
        result = parse_zk_children(_zk_frame(stream))
        close = struct.pack("!ii", 2, -11)
        stream.send(struct.pack("!i", len(close)) + close)
        return result
    finally:
        stream.close()


def _rsync_greet(stream: Stream) -> None:
    line = stream.read_until(b"\n", 256).decode("ascii", "replace").strip()
    if not line.startswith("@RSYNCD: "):
        raise ProtocolError("not an rsync daemon")
    # Protocol 30 predates the digest negotiation that 32 requires, and every daemon from
    # 3.0 on accepts it, so answer with it whatever the server offers.
    stream.send(b"@RSYNCD: 30.0\n")


def rsync_modules(ctx: CheckContext, target: ServiceTarget) -> list[str]:
    """The module names the daemon lists to anyone (empty when listing is off)."""
    stream = _open(ctx, target, False)
    try:
        _rsync_greet(stream)
        stream.send(b"#list\n")
        modules: list[str] = []
        for _ in range(_RSYNC_LINES):
            line = stream.read_until(b"\n", 1024).decode("utf-8", "replace").rstrip("\n")
            if line.startswith("@RSYNCD: EXIT"):
                break
            if line.startswith("@ERROR"):
                raise ProtocolError(line[:100])
            # Module lines are "name<TAB>comment" (rsync pads the name); MOTD lines have no tab.
            name, tab, _ = line.partition("\t")
            if tab and name.strip() and not line.startswith("@RSYNCD:"):
                modules.append(name.strip())
        return modules
    finally:
        stream.close()


def rsync_module_open(ctx: CheckContext, target: ServiceTarget, module: str) -> bool:
    """Whether the daemon admits ``module`` without a password (``@RSYNCD: OK``)."""
    stream = _open(ctx, target, False)
    try:
        _rsync_greet(stream)
        stream.send(module.encode() + b"\n")
        for _ in range(_RSYNC_LINES):
            line = stream.read_until(b"\n", 4096).decode("utf-8", "replace")
            if line.startswith("@RSYNCD: OK"):
                return True
            if line.startswith(("@RSYNCD: AUTHREQD", "@ERROR", "@RSYNCD: EXIT")):
                return False
        return False
    finally:
        stream.close()
