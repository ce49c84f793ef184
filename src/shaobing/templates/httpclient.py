"""A small HTTP/1.1 client on sockets from the scan context, so the scope guard applies.

Every new connection is opened with ``ctx.connect`` (scope guard, rate limit); a kept-alive
connection is reused only for the same scheme, host and port it was granted for. Requests
are sent as the template wrote them (method, target and headers are not normalised beyond
adding what HTTP/1.1 requires), responses are read with a size cap, a timeout per read,
Content-Length, chunked or read-to-close bodies and gzip/deflate decoding.

A :class:`ConnectionPool` (offered by a :class:`PooledContext`) lets the consecutive
template runs of one check unit share kept-alive connections: a run's client takes an
idle connection for its endpoint before opening one and hands its idle connections back
when it closes, instead of paying a connect and a close per template.
"""

from __future__ import annotations

import io
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from shaobing.scan.checks import CheckContext

DEFAULT_MAX_SIZE = 4 * 2**20
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 200
DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpError(Exception):
    """The request could not be completed (connection, timeout, malformed response)."""


@dataclass(frozen=True)
class Endpoint:
    """Where a request goes: scheme, host (IP or name, no brackets) and port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """The endpoint of an absolute http(s) URL; raises HttpError for anything else."""
        # The endpoint depends only on the scheme and the authority: parse each origin once
        # (every request of a scan repeats a handful of them). URLs that urlsplit would
        # clean up first (tabs, line breaks, leading spaces) take the full path.
        origin = _ORIGIN.match(url)
        if origin is not None and cls is Endpoint:
            try:
                return _origin_endpoint(origin.group(0))
            except HttpError:
                pass  # raised again below, naming the whole URL
        return cls._parse(url)

    @classmethod
    def _parse(cls, url: str) -> Endpoint:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise HttpError(f"invalid URL {url[:200]}") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise HttpError(f"invalid URL {url[:200]}")
        return cls(scheme, parts.hostname, port or DEFAULT_PORTS[scheme])

    @property
    def authority(self) -> str:
        """``host[:port]`` as the Host header writes it (default port omitted)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if DEFAULT_PORTS.get(self.scheme) == self.port:
            return host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """``scheme://authority``."""
        return f"{self.scheme}://{self.authority}"


@dataclass
class HttpResponse:
    """One response as received (body decoded from chunked/gzip, capped in size)."""

    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]]
    head: str
    body: bytes
    duration: float
    truncated: bool = False
    keep_alive: bool = True
    url: str = ""
    request: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The first header named ``name`` (case-insensitive)."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def header_values(self, name: str) -> list[str]:
        """Every header named ``name`` (case-insensitive), in order."""
        wanted = name.lower()
        return [v for k, v in self.headers if k.lower() == wanted]


def _tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # A scanner talks to servers with self-signed and expired certificates on purpose.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("ALL:@SECLEVEL=0")
    except (ssl.SSLError, ValueError):  # pragma: no cover - depends on the OpenSSL build
        pass
    return context


TLS_CONTEXT = _tls_context()


# A URL's scheme and authority, when nothing urlsplit strips or removes is in them: the
# authority ends where the path, query or fragment starts (or at the end).
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#\t\r\n]*(?=[/?#]|\Z)")


@lru_cache(maxsize=4096)
def _origin_endpoint(origin: str) -> Endpoint:
    return Endpoint._parse(origin)


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.used = False

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()


class ConnectionPool:
    """Idle kept-alive connections, per endpoint, shared by the template runs of one check.

    Each connection was opened through ``ctx.connect`` for exactly the endpoint it is kept
    under, so reusing it sends nothing the scope guard did not grant. Thread-safe; at most
    ``per_endpoint`` idle connections are kept for one endpoint (more are closed).
    """

    def __init__(self, per_endpoint: int = 4) -> None:
        self.per_endpoint = per_endpoint
        self._idle: dict[Endpoint, list[_Connection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def take(self, endpoint: Endpoint) -> _Connection | None:
        """An idle connection to ``endpoint``, or None."""
        with self._lock:
            idle = self._idle.get(endpoint)
            return idle.pop() if idle else None

    def give(self, endpoint: Endpoint, connection: _Connection) -> None:
        """Keep ``connection`` for a later run (closed when the pool is full or closed)."""
        with self._lock:
            idle = self._idle.setdefault(endpoint, [])
            if not self._closed and len(idle) < self.per_endpoint:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection; later ``give`` calls close theirs at once."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


class PooledContext:
    """A check context whose HTTP template runs share one :class:`ConnectionPool`.

    Everything else (scope guard, rate limit, options, stop flag) is the wrapped
    context's: new connections still come only from its ``connect``.
    """

    def __init__(self, ctx: CheckContext, pool: ConnectionPool) -> None:
        self._ctx = ctx
        self.connection_pool = pool
        self.timeout: float = ctx.timeout
        self.options: Mapping[str, Any] = ctx.options

    def connect(
        self, address: str, port: int, *, timeout: float | None = None, udp: bool = False
    ) -> socket.socket:
        """The wrapped context's connect (scope guard and rate limit)."""
        return self._ctx.connect(address, port, timeout=timeout, udp=udp)

    def permit(self, address: str, port: int) -> None:
        """The wrapped context's permit."""
        self._ctx.permit(address, port)

    def should_stop(self) -> bool:
        """The wrapped context's stop flag."""
        return self._ctx.should_stop()


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


class HttpClient:
    """Keep-alive HTTP/1.1 client for one template run (not shared between threads)."""

    def __init__(
        self, ctx: CheckContext, *, timeout: float | None = None, max_size: int | None = None
    ) -> None:
        self.ctx = ctx
        self.timeout = timeout if timeout is not None else ctx.timeout
        self.max_size = max_size or DEFAULT_MAX_SIZE
        self._idle: dict[Endpoint, _Connection] = {}
        self.requests = 0
        pool = getattr(ctx, "connection_pool", None)
        self._pool = pool if isinstance(pool, ConnectionPool) else None

    def close(self) -> None:
        """Close every idle connection (or hand it back to the context's pool)."""
        for endpoint, connection in self._idle.items():
            if self._pool is not None:
                self._pool.give(endpoint, connection)
            else:
                connection.close()
        self._idle.clear()

    def _open(self, endpoint: Endpoint, timeout: float) -> _Connection:
        sock = self.ctx.connect(endpoint.host, endpoint.port, timeout=timeout)
        if endpoint.scheme == "https":
            try:
                sock = TLS_CONTEXT.wrap_socket(
                    sock, server_hostname=None if _is_ip(endpoint.host) else endpoint.host
                )
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise HttpError(f"TLS: {exc}") from None
        return _Connection(sock)

    def send(
        self,
        endpoint: Endpoint,
        request: bytes,
        *,
        method: str = "GET",
        timeout: float | None = None,
        max_size: int | None = None,
    ) -> HttpResponse:
        """Send one serialised request and read the response.

        A request on a reused connection that the server had already closed is retried
        once on a new connection. Raises :class:`HttpError`, and ScopeRefused when the
        endpoint is outside the scope.
        """
        wait = timeout if timeout is not None else self.timeout
        cap = max_size or self.max_size
        connection = self._idle.pop(endpoint, None)
        if connection is None and self._pool is not None:
            connection = self._pool.take(endpoint)
        for attempt in (0, 1):
            if connection is None:
                try:
                    connection = self._open(endpoint, wait)
                except OSError as exc:
                    raise HttpError(f"connect {endpoint.authority}: {exc}") from None
            reused = connection.used
            started = time.monotonic()
            try:
                # settimeout is a system call (it hands the GIL over): only when it changes.
                if connection.sock.gettimeout() != wait:
                    connection.sock.settimeout(wait)
                connection.sock.sendall(request)
                connection.used = True
                self.requests += 1
                response = _read_response(connection.reader, method, cap)
            except (OSError, HttpError) as exc:
                connection.close()
                connection = None
                if reused and attempt == 0 and not isinstance(exc, TimeoutError):
                    continue
                if isinstance(exc, TimeoutError | socket.timeout):
                    raise HttpError(f"timeout after {wait:g}s") from None
                raise HttpError(str(exc) or type(exc).__name__) from None
            response.duration = time.monotonic() - started
            if response.keep_alive and not response.truncated:
                self._idle[endpoint] = connection
            else:
                connection.close()
            return response
        raise HttpError("connection closed")  # pragma: no cover - loop always returns


def _readline(reader: io.BufferedReader) -> bytes:
    line = reader.readline(MAX_HEADER_BYTES + 1)
    if len(line) > MAX_HEADER_BYTES:
        raise HttpError("header line too long")
    return line


Head = tuple[int, str, str, list[tuple[str, str]], str]


def _head_lines(reader: io.BufferedReader) -> list[str] | None:
    """The head's lines, decoded, when it is already buffered whole, else None.

    One look at the buffer and one read replace a readline call and a loop turn per header
    line; heads that are large or arrive in pieces take the line-by-line path.
    """
    data = reader.peek(MAX_HEADER_BYTES)
    if not data:
        return None
    # The head ends at the first empty line ("\r\n" or a bare "\n") after the status line.
    crlf = data.find(b"\n\r\n")
    lf = data.find(b"\n\n")
    if crlf < 0 and lf < 0:
        return None
    if lf < 0 or 0 <= crlf < lf:
        end, size = crlf, crlf + 3
    else:
        end, size = lf, lf + 2
    if size > MAX_HEADER_BYTES:
        return None
    # Split at "\n" and strip trailing "\r"/"\n" per line, exactly as readline does.
    lines = [line.rstrip("\r\n") for line in data[:end].decode("iso-8859-1").split("\n")]
    if len(lines) > MAX_HEADERS or not lines[0]:
        return None  # the line-by-line path reports these exactly
    reader.read(size)
    return lines


def _parse_head(lines: list[str]) -> Head:
    text = lines[0]
    parts = text.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise HttpError(f"malformed status line {text[:80]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    head = "\r\n".join(lines) + "\r\n"
    return int(parts[1]), parts[2] if len(parts) > 2 else "", parts[0], headers, head


def _read_head(reader: io.BufferedReader) -> Head:
    lines = _head_lines(reader)
    if lines is not None:
        return _parse_head(lines)
    status_line = _readline(reader)
    if not status_line:
        raise HttpError("connection closed before the response")
    text = status_line.decode("iso-8859-1").rstrip("\r\n")
    parts = text.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise HttpError(f"malformed status line {text[:80]!r}")
    lines = [text]
    headers: list[tuple[str, str]] = []
    total = len(status_line)
    while True:
        line = _readline(reader)
        total += len(line)
        if total > MAX_HEADER_BYTES or len(headers) > MAX_HEADERS:
            raise HttpError("response head too large")
        if line in (b"\r\n", b"\n", b""):
            break
        decoded = line.decode("iso-8859-1").rstrip("\r\n")
        lines.append(decoded)
        name, sep, value = decoded.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    head = "\r\n".join(lines) + "\r\n"
    return int(parts[1]), parts[2] if len(parts) > 2 else "", parts[0], headers, head


def _read_chunked(reader: io.BufferedReader, cap: int) -> tuple[bytes, bool]:
    out = bytearray()
    while True:
        line = _readline(reader)
        if not line:
            raise HttpError("connection closed inside a chunked body")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise HttpError("malformed chunk size") from None
        if size == 0:
            while _readline(reader) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out), False
        if len(out) + size > cap:
            out.extend(reader.read(cap - len(out)))
            return bytes(out), True
        chunk = reader.read(size)
        if len(chunk) < size:
            raise HttpError("connection closed inside a chunk")
        out.extend(chunk)
        reader.readline(8)


def _read_response(reader: io.BufferedReader, method: str, cap: int) -> HttpResponse:
    while True:
        status, reason, version, headers, head = _read_head(reader)
        if 100 <= status < 200 and status != 101:
            continue  # interim responses (100 Continue) precede the real one
        break
    fields = {k.lower(): v for k, v in headers}
    connection = fields.get("connection", "").lower()
    keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    truncated = False
    if method == "HEAD" or status in (101, 204, 304):
        body = b""
    elif "chunked" in fields.get("transfer-encoding", "").lower():
        body, truncated = _read_chunked(reader, cap)
    elif fields.get("content-length", "").strip().isdigit():
        length = int(fields["content-length"].strip())
        body = reader.read(min(length, cap))
        truncated = length > cap
        if len(body) < min(length, cap):
            keep_alive = False
    else:
        body = reader.read(cap + 1)
        truncated = len(body) > cap
        body = body[:cap]
        keep_alive = False
    encoding = fields.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate") and body:
        body = _decompress(body, encoding, cap)
    return HttpResponse(
        status=status,
        reason=reason,
        version=version,
        headers=headers,
        head=head,
        body=body,
        duration=0.0,
        truncated=truncated,
        keep_alive=keep_alive and not truncated,
    )


def _decompress(body: bytes, encoding: str, cap: int) -> bytes:
    # wbits 32+ detects gzip or zlib headers; raw deflate needs negative wbits.
    for wbits in (16 + zlib.MAX_WBITS,) if encoding != "deflate" else (32 + zlib.MAX_WBITS, -15):
        try:
            decoder = zlib.decompressobj(wbits)
            return decoder.decompress(body, cap)
        except zlib.error:
            continue
    return body
