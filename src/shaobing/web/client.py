"""The web scanner's HTTP client: scope, budgets, cookies, redirects, text decoding.

Connections come from the scan context (``ctx.connect``: the engagement's scope guard and
the rate limit apply to every request); each worker thread keeps its own keep-alive
connections. On top of that the client enforces the web scope (origin and path prefix)
before anything is sent, a request budget and a wall-clock deadline for the whole scan, a
response size cap, and follows redirects only inside the web scope, at most
:data:`MAX_REDIRECTS` times and never in a loop.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from charset_normalizer import from_bytes

from shaobing.scan.checks import CheckContext
from shaobing.templates.httpclient import Endpoint, HttpClient, HttpError, HttpResponse
from shaobing.web.request import WebRequest, parse_cookie_header
from shaobing.web.urls import WebScope

USER_AGENT = "Mozilla/5.0 (compatible; Shaobing-WebScan/1.0)"
# Largest response body kept (organisation-defined: pages beyond 2 MiB are cut; a
# gigabyte download costs 2 MiB and is marked truncated).
DEFAULT_MAX_BODY = 2 * 2**20
# Redirect hops followed per request (browsers allow ~20; a scanner needs few).
MAX_REDIRECTS = 5
_CHARSET = re.compile(rb"""(?i)<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""")
_HEADER_CHARSET = re.compile(r"(?i)charset\s*=\s*\"?([A-Za-z0-9_\-]+)")


class BudgetExhausted(Exception):
    """The scan's request budget or time budget is used up."""


class OutOfScope(Exception):
    """The request's URL is outside the web scope (nothing was sent)."""


@dataclass
class WebResponse:
    """A response with its decoded text and the request that produced it."""

    request: WebRequest
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    duration: float
    url: str
    truncated: bool = False
    history: list[str] = field(default_factory=list)
    head: str = ""
    _text: str | None = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        """The first header named ``name`` (case-insensitive)."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def header_values(self, name: str) -> list[str]:
        """Every header named ``name`` (case-insensitive)."""
        wanted = name.lower()
        return [v for k, v in self.headers if k.lower() == wanted]

    @property
    def content_type(self) -> str:
        """Media type without parameters, lower-case."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def is_html(self) -> bool:
        """Whether the body is (or looks like) HTML."""
        kind = self.content_type
        if kind in ("text/html", "application/xhtml+xml"):
            return True
        return not kind and b"<html" in self.body[:2048].lower()

    @property
    def text(self) -> str:
        """The body decoded: header charset, then <meta charset>, then detection (GBK and
        GB18030 pages are common on Chinese government sites)."""
        if self._text is None:
            self._text = decode_body(self.body, self.header("content-type") or "")
        return self._text

    @property
    def location(self) -> str | None:
        """The absolute redirect target, if any."""
        value = self.header("location")
        if not value:
            return None
        try:
            return urljoin(self.url, value.strip())
        except ValueError:
            return None


def decode_body(body: bytes, content_type: str) -> str:
    """Bytes to text by declared charset, ``<meta>`` charset or detection."""
    if not body:
        return ""
    declared = _HEADER_CHARSET.search(content_type)
    names = [declared.group(1)] if declared else []
    meta = _CHARSET.search(body[:4096])
    if meta:
        names.append(meta.group(1).decode("ascii"))
    for name in names:
        # GB18030 is the superset: pages labelled GB2312 often use GBK characters.
        codec = "gb18030" if name.lower() in ("gb2312", "gbk") else name
        try:
            return body.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(body[:65536]).best()
    if best is not None:
        return body.decode(best.encoding, "replace")
    return body.decode("utf-8", "replace")


@dataclass
class Budget:
    """Request and time limits of one scan (None = unlimited)."""

    max_requests: int | None = None
    max_seconds: float | None = None
    started: float = field(default_factory=time.monotonic)

    def remaining_seconds(self) -> float | None:
        """Seconds left, or None without a time limit."""
        if self.max_seconds is None:
            return None
        return self.max_seconds - (time.monotonic() - self.started)


class CookieJar:
    """Cookies per host, shared by the worker threads (thread-safe)."""

    def __init__(self) -> None:
        self._cookies: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def header_for(self, url: str) -> str:
        """The Cookie header value for ``url`` (empty when none)."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            pairs = dict(self._cookies.get(host, {}))
        return "; ".join(f"{k}={v}" for k, v in pairs.items())

    def put(self, url: str, name: str, value: str) -> None:
        """Store one cookie for ``url``'s host."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            self._cookies.setdefault(host, {})[name] = value

    def update(self, url: str, set_cookies: list[str]) -> None:
        """Apply ``Set-Cookie`` header values (deletions by expiry or Max-Age=0 too)."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            jar = self._cookies.setdefault(host, {})
            for line in set_cookies:
                first, *attributes = line.split(";")
                name, sep, value = first.strip().partition("=")
                if not sep or not name:
                    continue
                if _expired(attributes):
                    jar.pop(name.strip(), None)
                else:
                    jar[name.strip()] = value.strip()

    def load(self, url: str, header: str) -> None:
        """Seed the jar from a ``Cookie`` header value given by the user."""
        for name, value in parse_cookie_header(header):
            self.put(url, name, value)

    def clear(self) -> None:
        """Forget every cookie (e.g. before logging in again)."""
        with self._lock:
            self._cookies.clear()

    def names(self, url: str) -> set[str]:
        """Names of the cookies held for ``url``'s host."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            return set(self._cookies.get(host, {}))


def _expired(attributes: list[str]) -> bool:
    for attribute in attributes:
        key, _, value = attribute.strip().partition("=")
        key = key.strip().lower()
        if key == "max-age" and value.strip().lstrip("-").isdigit():
            return int(value.strip()) <= 0
        if key == "expires":
            try:
                return parsedate_to_datetime(value.strip()).timestamp() < time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
    return False


def serialise(request: WebRequest) -> bytes:
    """The request as HTTP/1.1 bytes (Host, Content-Length and keep-alive added)."""
    parts = urlsplit(request.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    endpoint = Endpoint.from_url(request.url)
    lines = [f"{request.method} {target} HTTP/1.1"]
    names = {k.lower() for k, _ in request.headers}
    if "host" not in names:
        lines.append(f"Host: {endpoint.authority}")
    # A CR or LF in a header value would end the header (or the request) early and split
    # the scanner's own request: they go percent-encoded, as the value's bytes.
    lines += [
        f"{k}: {v.replace(chr(13), '%0d').replace(chr(10), '%0a')}" for k, v in request.headers
    ]
    if "user-agent" not in names:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in names:
        lines.append("Accept: */*")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: gzip, deflate")
    if "connection" not in names:
        lines.append("Connection: keep-alive")
    if (
        request.body or request.method in ("POST", "PUT", "PATCH")
    ) and "content-length" not in names:
        lines.append(f"Content-Length: {len(request.body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    # Header values the scanner builds may carry non-Latin text (payloads): UTF-8 on the wire.
    return head.encode("utf-8", "replace") + request.body


class WebClient:
    """Sends :class:`WebRequest` s for one web scan (shared by its worker threads)."""

    def __init__(
        self,
        ctx: CheckContext,
        scope: WebScope,
        *,
        budget: Budget | None = None,
        timeout: float | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        extra_headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.scope = scope
        self.budget = budget or Budget()
        self.timeout = timeout if timeout is not None else ctx.timeout
        self.max_body = max_body
        self.extra_headers = list(extra_headers or [])
        self.cookies = CookieJar()
        self._local = threading.local()
        self._clients: list[HttpClient] = []
        self._lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.observers: list[Callable[[WebResponse], None]] = []
        """Called with every response (the scan's passive checks)."""

    def _http(self) -> HttpClient:
        client: HttpClient | None = getattr(self._local, "client", None)
        if client is None:
            client = HttpClient(self.ctx, timeout=self.timeout, max_size=self.max_body)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        """Close every kept-alive connection of every thread."""
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def _charge(self) -> float:
        """Count one request against the budget; the timeout it may take."""
        with self._lock:
            limit = self.budget.max_requests
            if limit is not None and self.requests >= limit:
                raise BudgetExhausted("requests")
            self.requests += 1
        remaining = self.budget.remaining_seconds()
        if remaining is not None and remaining <= 0:
            raise BudgetExhausted("time")
        if self.ctx.should_stop():
            raise BudgetExhausted("stopped")
        return self.timeout if remaining is None else max(0.5, min(self.timeout, remaining))

    def prepare(self, request: WebRequest, *, use_cookies: bool = True) -> WebRequest:
        """``request`` with the user's extra headers and the session cookies added."""
        prepared = request
        names = {k.lower() for k, _ in request.headers}
        for name, value in self.extra_headers:
            if name.lower() not in names:
                prepared = prepared.with_header(name, value)
        if use_cookies and prepared.header("cookie") is None:
            jar = self.cookies.header_for(prepared.url)
            if jar:
                prepared = prepared.with_header("Cookie", jar)
        return prepared

    def send(
        self,
        request: WebRequest,
        *,
        follow: bool = False,
        use_cookies: bool = True,
        store_cookies: bool = True,
        timeout: float | None = None,
    ) -> WebResponse:
        """Send ``request`` (after the web scope check) and return the response.

        Raises :class:`OutOfScope`, :class:`BudgetExhausted`, ``HttpError`` and the scan
        context's ``ScopeRefused``.
        """
        history: list[str] = []
        current = request
        while True:
            if not self.scope.allows(current.url):
                raise OutOfScope(current.url)
            prepared = self.prepare(current, use_cookies=use_cookies)
            wait = self._charge()
            if timeout is not None:
                wait = min(wait, timeout)
            try:
                raw = self._http().send(
                    Endpoint.from_url(prepared.url),
                    serialise(prepared),
                    method=prepared.method,
                    timeout=wait,
                    max_size=self.max_body,
                )
            except HttpError:
                with self._lock:
                    self.errors += 1
                raise
            response = _wrap(prepared, raw, history)
            if store_cookies:
                self.cookies.update(response.url, response.header_values("set-cookie"))
            for observer in self.observers:
                observer(response)
            target = response.location
            if not follow or response.status not in (301, 302, 303, 307, 308) or not target:
                return response
            if target in history or target == current.url or len(history) >= MAX_REDIRECTS:
                return response
            if not self.scope.allows(target):
                return response
            history.append(current.url)
            if response.status in (307, 308):
                current = WebRequest(current.method, target, current.headers, current.body)
            else:
                kept = tuple(
                    (k, v)
                    for k, v in current.headers
                    if k.lower() not in ("content-type", "content-length", "cookie")
                )
                current = WebRequest("GET", target, kept)

    def get(self, url: str, *, follow: bool = True) -> WebResponse:
        """``GET url`` following redirects inside the scope."""
        return self.send(WebRequest("GET", url), follow=follow)


def _wrap(request: WebRequest, raw: HttpResponse, history: list[str]) -> WebResponse:
    return WebResponse(
        request=request,
        status=raw.status,
        headers=raw.headers,
        body=raw.body,
        duration=raw.duration,
        url=request.url,
        truncated=raw.truncated,
        history=list(history),
        head=raw.head,
    )


__all__ = [
    "Budget",
    "BudgetExhausted",
    "CookieJar",
    "HttpError",
    "OutOfScope",
    "WebClient",
    "WebResponse",
    "decode_body",
    "serialise",
]
