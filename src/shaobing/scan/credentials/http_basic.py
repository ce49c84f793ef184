"""HTTP Basic authentication and Tomcat manager login adapters (B3).

The first session of a run asks each candidate path once without credentials:

* 401 with a ``Basic`` challenge: that path is the one to guess on;
* 2xx: the resource needs no credentials at all (NO_AUTH; for the Tomcat manager only when
  the page really is the manager, so a catch-all web app is not reported);
* anything else on every path (404, 403 for everyone, a Digest/NTLM-only challenge): the
  login is not available here and the run stops (LoginUnavailable).

Guesses then go over HTTP/1.1 keep-alive connections (TLS when ``target.tls``; the
certificate is not verified: the check tests passwords, not the server's identity). After a
401 challenge, 401 means a wrong pair, 2xx/3xx a valid one, and 403 a valid pair without
permission for the page (Tomcat answers so for a user lacking the manager role); 429 and
503 mean "slow down" (LOCKED).
"""

from __future__ import annotations

import base64
import contextlib
import re
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials._stream import ProtocolError, Stream
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator
from shaobing.scan.credentials.runner import LoginUnavailable

_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 1024 * 1024
_KEEP = 4096  # body bytes kept for markers
_STATUS = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3})")
_BASIC = re.compile(r"(?:^|,)\s*basic\b", re.IGNORECASE)
_REALM = re.compile(r'realm="([^"]{0,80})', re.IGNORECASE)
_USER_AGENT = "Mozilla/5.0 (compatible; Shaobing security check)"
_PROBE_ATTEMPTS = 2


@dataclass(frozen=True)
class HttpResponse:
    """A parsed response: status, lower-cased headers, the start of the body."""

    status: int
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


def _tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Scanned services often have self-signed certificates; identity is not what is tested.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class HttpConnection:
    """One HTTP/1.1 connection through ``ctx.connect`` (TLS when ``target.tls``)."""

    def __init__(self, ctx: CheckContext, target: ServiceTarget) -> None:
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        if target.tls:
            name = target.hostnames[0] if target.hostnames else None
            try:
                sock = _tls_context().wrap_socket(sock, server_hostname=name)
            except (OSError, ValueError):
                sock.close()
                raise
        self.stream = Stream(sock, ctx.timeout)
        self.host = _host_header(target)

    def request(self, path: str, authorization: str | None = None) -> HttpResponse:
        """GET ``path`` and read the whole response (bounded)."""
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {self.host}",
            f"User-Agent: {_USER_AGENT}",
            "Accept: */*",
            "Connection: keep-alive",
        ]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        self.stream.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return self._response()

    def _response(self) -> HttpResponse:
        deadline = self.stream.deadline()
        while True:
            head = self.stream.read_until(b"\r\n\r\n", _HEAD_LIMIT, deadline)
            match = _STATUS.match(head)
            if match is None:
                raise ProtocolError("not an HTTP response")
            status = int(match.group(3))
            if status != 100:
                break
        headers: dict[str, str] = {}
        for raw in head.split(b"\r\n")[1:]:
            name, colon, value = raw.decode("latin-1").partition(":")
            if colon:
                key = name.strip().lower()
                headers[key] = (
                    f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
                )
        version = (int(match.group(1)), int(match.group(2)))
        connection = headers.get("connection", "").lower()
        keep_alive = "keep-alive" in connection if version < (1, 1) else "close" not in connection
        body, complete = self._body(status, headers, deadline)
        return HttpResponse(status, headers, body, keep_alive and complete)

    def _body(self, status: int, headers: dict[str, str], deadline: float) -> tuple[bytes, bool]:
        """The body's first bytes and whether the connection is positioned after it."""
        if status in (204, 304) or 100 <= status < 200:
            return b"", True
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._chunked(deadline)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise ProtocolError("bad Content-Length")
            size = int(length)
            if size > _BODY_LIMIT:
                return b"", False
            return self.stream.read_exact(size, deadline)[:_KEEP], True
        # No length: the body runs to the end of the connection.
        kept = bytearray()
        try:
            while len(kept) < _BODY_LIMIT:
                kept += self.stream.read_some(65536, deadline)
        except ProtocolError:
            pass  # closed by the server: the body is complete
        return bytes(kept[:_KEEP]), False

    def _chunked(self, deadline: float) -> tuple[bytes, bool]:
        kept = bytearray()
        total = 0
        while True:
            line = self.stream.read_until(b"\r\n", 1024, deadline).split(b";")[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise ProtocolError("bad chunk size") from None
            if size == 0:
                # Trailers end with an empty line.
                while self.stream.read_until(b"\r\n", _HEAD_LIMIT, deadline) != b"\r\n":
                    pass
                return bytes(kept[:_KEEP]), True
            total += size
            if total > _BODY_LIMIT:
                return bytes(kept[:_KEEP]), False
            kept += self.stream.read_exact(size + 2, deadline)[:size]

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self.stream.sock.close()


def _host_header(target: ServiceTarget) -> str:
    host = target.hostnames[0] if target.hostnames else target.address
    if ":" in host:
        host = f"[{host}]"
    default = 443 if target.tls else 80
    return host if target.port == default else f"{host}:{target.port}"


@dataclass(frozen=True)
class _Decision:
    """What the unauthenticated probe found: the path to guess on, or NO_AUTH."""

    path: str | None
    no_auth: str | None = None
    realm: str = ""


class HttpBasicSession(LoginSession):
    """Basic-auth guesses on one keep-alive connection."""

    def __init__(self, ctx: CheckContext, target: ServiceTarget, decision: _Decision) -> None:
        self._decision = decision
        # Nothing to guess when the page is open: no connection for that.
        self._conn = HttpConnection(ctx, target) if decision.no_auth is None else None

    def login(self, username: str | None, password: str) -> Attempt:
        """GET the protected path with the pair as Basic credentials."""
        decision = self._decision
        if decision.no_auth is not None:
            return Attempt(Outcome.NO_AUTH, detail=decision.no_auth)
        user = username or ""
        if ":" in user:
            # RFC 7617: the user-id cannot contain a colon.
            return Attempt(Outcome.FAILURE, reusable=True, detail="user name with a colon")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        assert decision.path is not None and self._conn is not None
        try:
            response = self._conn.request(decision.path, f"Basic {token}")
        except (OSError, ProtocolError) as exc:
            return Attempt(Outcome.ERROR, detail=f"{type(exc).__name__}: {exc}")
        status, reuse = response.status, response.keep_alive
        where = f"HTTP {status} {decision.path}"
        if status == 401:
            return Attempt(Outcome.FAILURE, reusable=reuse, detail=where)
        if 200 <= status < 400 or status == 403:
            return Attempt(Outcome.SUCCESS, detail=where)
        if status in (429, 503):
            return Attempt(Outcome.LOCKED, reusable=reuse, detail=where)
        return Attempt(Outcome.ERROR, detail=where)

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()


class BasicAuthenticator(Authenticator):
    """Shared probe-then-guess logic; subclasses choose paths and the NO_AUTH marker.

    ``paths`` replaces the default candidate paths (ValidationError for a bad one).
    """

    paths: tuple[str, ...] = ("/",)
    no_auth_marker: re.Pattern[bytes] | None = None

    def __init__(self, paths: Sequence[str] | None = None) -> None:
        if paths is not None:
            self.paths = tuple(paths)
        for path in self.paths:
            if not path.startswith("/") or any(ord(c) < 0x21 or ord(c) > 0x7E for c in path):
                raise ValidationError(
                    t("scan_cred.option_invalid", name="path", value=repr(path), detail="/...")
                )
        self._lock = threading.Lock()
        self._decision: _Decision | None = None
        self._unavailable: LoginUnavailable | None = None
        self._probe_errors = 0

    def _probe(self, ctx: CheckContext, target: ServiceTarget) -> _Decision:
        seen: list[str] = []
        no_auth: str | None = None
        conn: HttpConnection | None = None
        try:
            for path in self.paths:
                if conn is None:
                    conn = HttpConnection(ctx, target)
                try:
                    response = conn.request(path)
                except ProtocolError as exc:
                    raise ConnectionError(f"{path}: {exc}") from exc
                if not response.keep_alive:
                    conn.close()
                    conn = None
                status = response.status
                seen.append(f"{path} {status}")
                challenge = response.headers.get("www-authenticate", "")
                if status == 401 and _BASIC.search(challenge):
                    realm = _REALM.search(challenge)
                    return _Decision(path, realm=realm.group(1) if realm else "")
                if 200 <= status < 300 and no_auth is None and self._is_open(response):
                    no_auth = f"HTTP {status} {path} without credentials"
        finally:
            if conn is not None:
                conn.close()
        if no_auth is not None:
            return _Decision(None, no_auth=no_auth)
        raise LoginUnavailable(f"no Basic authentication challenge: {', '.join(seen)}")

    def _is_open(self, response: HttpResponse) -> bool:
        marker = self.no_auth_marker
        return marker is None or marker.search(response.body) is not None

    def open(self, ctx: CheckContext, target: ServiceTarget) -> LoginSession:
        """Probe once per run (unauthenticated), then open a keep-alive connection."""
        with self._lock:
            if self._unavailable is not None:
                raise self._unavailable
            if self._decision is None:
                if self._probe_errors >= _PROBE_ATTEMPTS:
                    raise ConnectionError("the unauthenticated probe failed repeatedly")
                try:
                    self._decision = self._probe(ctx, target)
                except LoginUnavailable as exc:
                    self._unavailable = exc
                    raise
                except OSError:
                    # Workers queue on the lock: do not let each one wait for a dead peer.
                    self._probe_errors += 1
                    raise
            decision = self._decision
        return HttpBasicSession(ctx, target, decision)


@register_authenticator
class HttpBasicAuthenticator(BasicAuthenticator):
    """HTTP Basic authentication on a path (default ``/``)."""

    protocol = "http"
    default_ports = frozenset({80, 443, 8000, 8080, 8443, 8888})
    # Where Basic-protected areas usually live (web roots, admin areas, device and
    # middleware consoles, status pages); the first one that answers 401 Basic is guessed.
    # Tomcat's /manager/ is left to weak-credential.tomcat (one finding, not two).
    paths = (
        "/",
        "/admin/",
        "/admin",
        "/manage/",
        "/console/",
        "/private/",
        "/backend/",
        "/system/",
        "/monitor/",
        "/status",
        "/server-status",
        "/nginx_status",
        "/phpmyadmin/",
        "/solr/",
        "/api/",
    )


@register_authenticator
class TomcatManagerAuthenticator(BasicAuthenticator):
    """Apache Tomcat's manager application (``/manager/html``, ``/manager/text``)."""

    protocol = "tomcat"
    default_ports = frozenset({8080, 8443, 80, 443})
    paths = ("/manager/html", "/manager/text")
    no_auth_marker = re.compile(rb"Tomcat Web Application Manager|^OK - ", re.MULTILINE)
