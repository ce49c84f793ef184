"""A small HTTP/1.1 client on sockets from the scan context, so the scope guard applies.

Every new connection is opened with ``ctx.connect`` (scope guard, rate limit); a kept-alive
connection is reused only for the same scheme, host and port it was granted for. Requests
are sent as the template wrote them (method, target and headers are not normalised beyond
adding what HTTP/1.1 requires), responses are read with a size cap, a timeout per read,
Content-Length, chunked or read-to-close bodies and gzip/deflate decoding.
"""

from __future__ import annotations

import io
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
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

    def close(self) -> None:
        """Close every idle connection."""
        for connection in self._idle.values():
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
        for attempt in (0, 1):
            if connection is None:
                try:
                    connection = self._open(endpoint, wait)
                except OSError as exc:
                    raise HttpError(f"connect {endpoint.authority}: {exc}") from None
            reused = connection.used
            started = time.monotonic()
            try:
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


def _read_head(reader: io.BufferedReader) -> tuple[int, str, str, list[tuple[str, str]], str]:
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
